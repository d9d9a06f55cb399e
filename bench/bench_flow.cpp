// Speed of the deformation layer: forward + backward at batch 32 (float32, the training setting) for
// the 68-, 98- and 194-point schemes, on the fused CPU kernel and on the tensor-op formulation.
// Also the display grid's one continuous flow (blend_flow) for one face in a 256-px crop, per grid density.
// Run: build/bench/bench_flow (2 threads by default; --threads N to change).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "bench_main.hpp"
#include "lddmm/flow/blended_flow.hpp"
#include "lddmm/flow/flow.hpp"
#include "lddmm/flow/loss.hpp"
#include "lddmm/flow/register.hpp"
#include "lddmm/flow/scheme.hpp"
#include "lddmm/flow/tensor_points.hpp"
#include "lddmm/io/scheme_files.hpp"

namespace {

using lddmm::FlowOptions;
using lddmm::Integrator;

const char* kSchemes[] = {"300w68", "wflw98", "helen194"};

FlowOptions config(int64_t k) {
  switch (k) {
    case 0:
      return FlowOptions::authors();
    case 1:
      return {Integrator::Euler, 2, true};
    case 2:
      return {Integrator::Heun, 2, true};
    case 3:
      return {Integrator::RK4, 2, true};
    default:
      return {Integrator::RK4, 4, true};
  }
}

std::string config_name(int64_t k) {
  const FlowOptions o = config(k);
  return std::string(o.shooting ? "shoot-" : "const-") + lddmm::integrator_name(o.integrator) + "-" +
         std::to_string(o.steps);
}

void run(benchmark::State& state, bool fused) {
  const lddmm::Scheme s = lddmm::find_scheme(kSchemes[state.range(0)]);
  const lddmm::DeformationLayer layer(lddmm::CurveSet::from_scheme(s), config(state.range(1)));
  const torch::Tensor tmpl =
      torch::from_blob(const_cast<double*>(s.mean_face.points.data()), {s.num_points, 2}, torch::kFloat64)
          .to(torch::kFloat32);
  torch::manual_seed(0);
  const torch::Tensor momenta = (4.0 * torch::randn({32, s.num_points, 2})).requires_grad_(true);
  const torch::Tensor w = torch::randn({32, s.num_points, 2});
  for (auto _ : state) {
    const torch::Tensor out = fused ? layer.forward(tmpl, momenta) : layer.forward_ops(tmpl, momenta);
    const auto g = torch::autograd::grad({(out * w).sum()}, {momenta});
    benchmark::DoNotOptimize(g[0].data_ptr<float>());
  }
  state.SetLabel(std::string(kSchemes[state.range(0)]) + " " + config_name(state.range(1)));
}

void BM_FlowFused(benchmark::State& state) { run(state, true); }
void BM_FlowTensorOps(benchmark::State& state) { run(state, false); }

void BM_LossForwardBackward(benchmark::State& state) {
  const lddmm::Scheme s = lddmm::find_scheme(kSchemes[state.range(0)]);
  const lddmm::CurveLoss loss = lddmm::CurveLoss::from_scheme(s);
  const torch::Tensor tmpl =
      torch::from_blob(const_cast<double*>(s.mean_face.points.data()), {s.num_points, 2}, torch::kFloat64)
          .to(torch::kFloat32);
  torch::manual_seed(0);
  const torch::Tensor pred = (tmpl + 3.0 * torch::randn({32, s.num_points, 2})).requires_grad_(true);
  const torch::Tensor truth = tmpl + 3.0 * torch::randn({32, s.num_points, 2});
  for (auto _ : state) {
    const auto g = torch::autograd::grad({loss(pred, truth)}, {pred});
    benchmark::DoNotOptimize(g[0].data_ptr<float>());
  }
  state.SetLabel(kSchemes[state.range(0)]);
}

// The tracker's grid of a face: a (cells + 1)² grid over the 256-px crop blended after the layer's trace
// (Heun, 2 steps; the grid 4 Heun substeps a step), momenta of a few pixels.
void BM_BlendedGrid(benchmark::State& state) {
  const lddmm::Scheme s = lddmm::find_scheme("300w68");
  const double scale = 256.0 / s.mean_face.frame;
  const lddmm::CurveSet curves = lddmm::CurveSet::from_scheme(s, scale);
  const lddmm::DeformationLayer layer(curves, {Integrator::Heun, 2, true});
  torch::manual_seed(0);
  const torch::Tensor tmpl = lddmm::points_to_tensor(s.mean_face.points * scale);
  const lddmm::FlowTrace tr = layer.trace(tmpl, 3.0 * torch::randn({1, s.num_points, 2}, torch::kFloat64));
  const lddmm::Points nodes = lddmm::make_grid(s, static_cast<int>(state.range(0))).nodes * scale;
  for (auto _ : state) {
    const lddmm::BlendedPaths g = lddmm::blend_flow(tr.point_path.select(1, 0), tr.momentum_path.select(1, 0),
                                                    curves, nodes, {lddmm::kBlendReach * 256});
    benchmark::DoNotOptimize(g.det.data());
  }
  state.SetLabel(std::to_string(nodes.rows()) + " nodes");
}

BENCHMARK(BM_FlowFused)
    ->ArgsProduct({{0, 1, 2}, {0, 1, 2, 3, 4}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_FlowTensorOps)->ArgsProduct({{0, 1, 2}, {0, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LossForwardBackward)->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BlendedGrid)->Arg(8)->Arg(16)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) { return run_benchmarks(argc, argv); }
