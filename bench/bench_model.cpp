// Per-face inference latency of the aligner (backbone + head + LDDMM layer) for candidate sizes, batch 1
// (batch 2: one face with test-time mirroring), float32, eval mode, to choose the configuration that runs in
// real time on a 2-core CPU.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>
#include <cstring>

#include "bench_main.hpp"
#include "lddmm/flow/scheme.hpp"
#include "lddmm/io/scheme_files.hpp"
#include "lddmm/net/model.hpp"

namespace {

void BM_AlignerInference(benchmark::State& state) {
  lddmm::AlignerConfig c;
  c.backbone.width = static_cast<int>(state.range(0));
  c.input_size = static_cast<int>(state.range(1));
  if (state.range(2) >= 1) {  // a lighter variant: fewer modules and blocks
    c.backbone.modules = {1, 2, 1};
    c.backbone.blocks = 2;
    c.backbone.stem_blocks = 2;
    c.backbone.stem_width = 32;
  }
  // light 2..5: the light variant grown (`train --init` from a light file starts it where the file is)
  if (state.range(2) == 2) c.backbone.modules = {1, 3, 1};
  if (state.range(2) == 3) c.backbone.modules = {1, 2, 2};
  if (state.range(2) == 4) c.backbone.modules = {1, 3, 2};
  if (state.range(2) == 5) c.backbone.blocks = 3;
  // head 1: the shipped head (local and cascade terms); head ≥ 4: and the detail term with windows of that
  // side, the backbone reading the crop halved (input 256: the backbone sees 128 px)
  if (state.range(5) >= 1) {
    c.local = {32, 3, 0.0625};
    c.cascade = {32, 3, 0.03125};
  }
  if (state.range(5) >= 4) c.detail = {2, static_cast<int>(state.range(5)), 16, 1.0 / c.input_size};
  lddmm::Aligner model(c, lddmm::find_scheme("300w68"));
  model->eval();
  if (state.range(3) >= 1) model->fold_batch_norms();   // prep 1: batch norms folded
  if (state.range(3) >= 2) model->use_channels_last();  // prep 2: and channels-last, what the tracker runs
  torch::NoGradGuard no_grad;
  // batch 2 is one face with test-time mirroring (the crop and its mirror image in one batch)
  const torch::Tensor x = torch::randn({state.range(4), 3, c.input_size, c.input_size});
  for (auto _ : state) benchmark::DoNotOptimize(model->forward(x).data_ptr<float>());
  int64_t params = 0;
  for (const auto& p : model->parameters()) params += p.numel();
  state.counters["params_M"] = static_cast<double>(params) / 1e6;
}

BENCHMARK(BM_AlignerInference)
    ->ArgNames({"W", "input", "light", "prep", "batch", "head"})
    ->ArgsProduct({{8, 12, 18}, {96, 128}, {0, 1}, {0}, {1}, {0}})
    ->Args({18, 128, 1, 1, 1, 0})
    ->Args({18, 128, 1, 2, 1, 0})
    ->Args({18, 128, 2, 2, 1, 0})
    ->Args({18, 128, 3, 2, 1, 0})
    ->Args({18, 128, 4, 2, 1, 0})
    ->Args({18, 128, 5, 2, 1, 0})
    ->Args({18, 144, 1, 2, 1, 0})
    ->Args({18, 160, 1, 2, 1, 0})
    ->Args({18, 192, 1, 2, 1, 0})
    ->Args({18, 128, 1, 0, 2, 0})
    ->Args({18, 128, 1, 2, 2, 0})
    ->Args({18, 256, 0, 0, 1, 0})
    ->Args({18, 128, 1, 2, 1, 1})
    ->Args({18, 256, 1, 2, 1, 16})
    ->Args({18, 256, 1, 2, 1, 24})
    ->Args({18, 192, 1, 2, 1, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

int main(int argc, char** argv) { return run_benchmarks(argc, argv); }
