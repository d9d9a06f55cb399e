// Tests of the deformation layer against independent computations: closed forms, the plain Eigen
// reference of the same ODE, finite differences, conservation laws and the inverse flow.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <tuple>

#include "lddmm/flow/flow.hpp"
#include "lddmm/flow/scheme.hpp"
#include "lddmm/io/scheme_files.hpp"
#include "reference_flow.hpp"

namespace lddmm {
namespace {

namespace ref = reference;

// Three curves of 1, 4 and 7 points in a 100-px frame, each with its own σ.
CurveSet small_set() {
  CurveSet cs;
  cs.num_points = 12;
  cs.curves = {{5}, {0, 1, 2, 3}, {4, 6, 7, 8, 9, 10, 11}};
  cs.sigma = {10.0, 15.0, 25.0};
  return cs;
}

torch::Tensor random_template(int64_t n, double spread, uint64_t seed) {
  torch::manual_seed(seed);
  return 50.0 + spread * torch::randn({n, 2}, torch::kFloat64);
}

ref::Mat curve_rows(const torch::Tensor& t, const std::vector<int64_t>& idx) {
  ref::Mat m(static_cast<Eigen::Index>(idx.size()), 2);
  for (size_t k = 0; k < idx.size(); ++k) {
    m(static_cast<Eigen::Index>(k), 0) = t[idx[k]][0].item<double>();
    m(static_cast<Eigen::Index>(k), 1) = t[idx[k]][1].item<double>();
  }
  return m;
}

ref::Method to_ref(Integrator i) {
  return i == Integrator::Euler  ? ref::Method::Euler
         : i == Integrator::Heun ? ref::Method::Heun
                                 : ref::Method::RK4;
}

using Config = std::tuple<Integrator, int, bool>;  // integrator, steps, shooting

class FlowConfig : public ::testing::TestWithParam<Config> {
 protected:
  FlowOptions options() const {
    const auto [integ, steps, shooting] = GetParam();
    return {integ, steps, shooting};
  }
};

TEST_P(FlowConfig, ZeroMomentaIsTheIdentity) {
  const DeformationLayer layer(small_set(), options());
  const torch::Tensor x0 = random_template(12, 20, 1);
  const torch::Tensor zero = torch::zeros({3, 12, 2}, torch::kFloat64);
  EXPECT_TRUE(torch::equal(layer.forward(x0, zero), x0.unsqueeze(0).expand({3, 12, 2})));
  const torch::Tensor grid = torch::rand({30, 2}, torch::kFloat64) * 100;
  const torch::Tensor owner = torch::randint(0, 3, {30}, torch::kInt64);
  const FlowTrace tr = layer.trace(x0, zero, grid, owner);
  EXPECT_TRUE(torch::equal(tr.extra[0], grid));
  EXPECT_TRUE(torch::allclose(tr.extra_det, torch::ones_like(tr.extra_det), 0, 0));
}

TEST_P(FlowConfig, SinglePointMovesByItsMomentum) {
  // A one-point curve: K = 1, so dx/dt = α and dα/dt = 0 in both variants: x(1) = x(0) + α exactly.
  CurveSet cs;
  cs.num_points = 1;
  cs.curves = {{0}};
  cs.sigma = {7.0};
  const DeformationLayer layer(cs, options());
  const torch::Tensor x0 = torch::tensor({{3.0, -2.0}}, torch::kFloat64);
  const torch::Tensor a = torch::tensor({{{12.5, 40.25}}, {{-100.0, 0.5}}}, torch::kFloat64);
  const torch::Tensor x1 = layer.forward(x0, a);
  EXPECT_NEAR(x1[0][0][0].item<double>(), 15.5, 1e-12);
  EXPECT_NEAR(x1[0][0][1].item<double>(), 38.25, 1e-12);
  EXPECT_NEAR(x1[1][0][0].item<double>(), -97.0, 1e-12);
  EXPECT_NEAR(x1[1][0][1].item<double>(), -1.5, 1e-12);
}

TEST_P(FlowConfig, MatchesThePlainEigenReference) {
  const CurveSet cs = small_set();
  const DeformationLayer layer(cs, options());
  const auto [integ, steps, shooting] = GetParam();
  const torch::Tensor x0 = random_template(12, 15, 2);
  const torch::Tensor a0 = 8.0 * torch::randn({2, 12, 2}, torch::kFloat64);
  const torch::Tensor extra = 50.0 + 20.0 * torch::randn({2, 9, 2}, torch::kFloat64);
  const torch::Tensor owner = torch::tensor(std::vector<int64_t>{0, 1, 2, 0, 1, 2, 2, 2, 1}, torch::kInt64);
  const torch::Tensor x1 = layer.forward(x0, a0);
  const FlowTrace tr = layer.trace(x0, a0, extra, owner);
  for (int64_t b = 0; b < 2; ++b) {
    for (size_t c = 0; c < cs.curves.size(); ++c) {
      std::vector<int64_t> mine;
      for (int64_t e = 0; e < 9; ++e) {
        if (owner[e].item<int64_t>() == static_cast<int64_t>(c)) mine.push_back(e);
      }
      const ref::State s =
          ref::shoot(curve_rows(x0, cs.curves[c]), curve_rows(a0[b], cs.curves[c]),
                     curve_rows(extra[b], mine), cs.sigma[c], to_ref(integ), steps, shooting);
      for (size_t k = 0; k < cs.curves[c].size(); ++k) {
        const int64_t p = cs.curves[c][k];
        for (int d = 0; d < 2; ++d) {
          const double want = s.x(static_cast<Eigen::Index>(k), d);
          EXPECT_NEAR(x1[b][p][d].item<double>(), want, 1e-10 * (1 + std::abs(want)));
          EXPECT_NEAR(tr.points[b][p][d].item<double>(), want, 1e-10 * (1 + std::abs(want)));
          EXPECT_NEAR(tr.momenta[b][p][d].item<double>(), s.a(static_cast<Eigen::Index>(k), d), 1e-10);
        }
      }
      for (size_t k = 0; k < mine.size(); ++k) {
        const int64_t e = mine[k];
        for (int d = 0; d < 2; ++d) {
          EXPECT_NEAR(tr.extra[b][e][d].item<double>(), s.p(static_cast<Eigen::Index>(k), d), 1e-10);
          for (int d2 = 0; d2 < 2; ++d2)
            EXPECT_NEAR(tr.extra_jacobian[b][e][d][d2].item<double>(), s.F[k](d, d2), 1e-10);
        }
      }
    }
  }
}

TEST_P(FlowConfig, TensorOpPathMatchesTheFusedKernelWithGradients) {
  const DeformationLayer layer(small_set(), options());
  const torch::Tensor x0 = random_template(12, 15, 3).requires_grad_(true);
  const torch::Tensor a0 = (6.0 * torch::randn({3, 12, 2}, torch::kFloat64)).requires_grad_(true);
  const torch::Tensor w = torch::randn({3, 12, 2}, torch::kFloat64);
  const torch::Tensor fused = layer.forward(x0, a0);
  const auto g1 = torch::autograd::grad({(fused * w).sum()}, {x0, a0});
  const torch::Tensor ops = layer.forward_ops(x0, a0);
  const auto g2 = torch::autograd::grad({(ops * w).sum()}, {x0, a0});
  EXPECT_TRUE(torch::allclose(fused, ops, 1e-12, 1e-10));
  EXPECT_TRUE(torch::allclose(g1[0], g2[0], 1e-10, 1e-10));
  EXPECT_TRUE(torch::allclose(g1[1], g2[1], 1e-10, 1e-10));
}

TEST_P(FlowConfig, GradientsMatchFiniteDifferences) {
  const DeformationLayer layer(small_set(), options());
  const torch::Tensor x0 = random_template(12, 15, 4);
  const torch::Tensor xb = (x0.unsqueeze(0) + torch::randn({2, 12, 2}, torch::kFloat64)).requires_grad_(true);
  const torch::Tensor a0 = (6.0 * torch::randn({2, 12, 2}, torch::kFloat64)).requires_grad_(true);
  const torch::Tensor w = torch::randn({2, 12, 2}, torch::kFloat64);
  const auto grads = torch::autograd::grad({(layer.forward(xb, a0) * w).sum()}, {xb, a0});
  const double eps = 1e-6;
  torch::NoGradGuard no_grad;
  for (int which = 0; which < 2; ++which) {
    const torch::Tensor base = (which == 0 ? xb : a0).detach();
    const torch::Tensor flat_grad = grads[static_cast<size_t>(which)].reshape({-1});
    for (int64_t k = 0; k < base.numel(); ++k) {
      torch::Tensor plus = base.clone(), minus = base.clone();
      plus.view({-1})[k] += eps;
      minus.view({-1})[k] -= eps;
      const auto f = [&](const torch::Tensor& v) {
        return (which == 0 ? (layer.forward(v, a0.detach()) * w).sum()
                           : (layer.forward(xb.detach(), v) * w).sum())
            .item<double>();
      };
      const double fd = (f(plus) - f(minus)) / (2 * eps);
      EXPECT_NEAR(flat_grad[k].item<double>(), fd, 1e-6 * (1 + std::abs(fd)))
          << (which == 0 ? "template " : "momentum ") << k;
    }
  }
}

TEST_P(FlowConfig, BroadcastTemplateGradientIsTheBatchSum) {
  const DeformationLayer layer(small_set(), options());
  const torch::Tensor x0 = random_template(12, 15, 5).requires_grad_(true);
  const torch::Tensor a0 = 6.0 * torch::randn({3, 12, 2}, torch::kFloat64);
  const torch::Tensor w = torch::randn({3, 12, 2}, torch::kFloat64);
  const torch::Tensor g = torch::autograd::grad({(layer.forward(x0, a0) * w).sum()}, {x0})[0];
  torch::Tensor sum = torch::zeros_like(x0);
  for (int64_t b = 0; b < 3; ++b) {
    const torch::Tensor xb = x0.detach().clone().requires_grad_(true);
    sum +=
        torch::autograd::grad({(layer.forward(xb, a0.narrow(0, b, 1)) * w.narrow(0, b, 1)).sum()}, {xb})[0];
  }
  EXPECT_TRUE(torch::allclose(g, sum, 1e-12, 1e-12));
}

TEST_P(FlowConfig, Float32AgreesWithFloat64) {
  const DeformationLayer layer(small_set(), options());
  const torch::Tensor x0 = random_template(12, 15, 6);
  const torch::Tensor a0 = 6.0 * torch::randn({4, 12, 2}, torch::kFloat64);
  const torch::Tensor d = layer.forward(x0, a0);
  const torch::Tensor f = layer.forward(x0.to(torch::kFloat32), a0.to(torch::kFloat32));
  EXPECT_EQ(f.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(f.to(torch::kFloat64), d, 1e-5, 1e-3));
}

std::string config_name(const ::testing::TestParamInfo<Config>& param) {
  return std::string(integrator_name(std::get<0>(param.param))) + std::to_string(std::get<1>(param.param)) +
         (std::get<2>(param.param) ? "_shooting" : "_constant");
}

INSTANTIATE_TEST_SUITE_P(
    Integrators, FlowConfig,
    ::testing::Values(Config{Integrator::Euler, 2, false}, Config{Integrator::Euler, 3, true},
                      Config{Integrator::Heun, 2, true}, Config{Integrator::Heun, 1, false},
                      Config{Integrator::RK4, 3, true}, Config{Integrator::RK4, 2, false}),
    config_name);

// H(1) − H(0) must shrink like h^p for an integrator of order p.
TEST(Flow, EnergyIsConservedToTheIntegratorsOrder) {
  const CurveSet cs = small_set();
  const torch::Tensor x0 = random_template(12, 12, 7);
  const torch::Tensor a0 = 10.0 * torch::randn({1, 12, 2}, torch::kFloat64);
  const auto energy = [&](const torch::Tensor& x, const torch::Tensor& a) {
    double h = 0;
    for (size_t c = 0; c < cs.curves.size(); ++c)
      h += ref::hamiltonian(curve_rows(x, cs.curves[c]), curve_rows(a, cs.curves[c]), cs.sigma[c]);
    return h;
  };
  const double h0 = energy(x0, a0[0]);
  for (Integrator integ : {Integrator::Euler, Integrator::Heun, Integrator::RK4}) {
    std::vector<double> errors;
    for (int steps : {32, 64, 128}) {
      const FlowTrace tr = DeformationLayer(cs, {integ, steps, true}).trace(x0, a0);
      errors.push_back(std::abs(energy(tr.points[0], tr.momenta[0]) - h0));
    }
    for (size_t k = 1; k < errors.size(); ++k) {
      const double order = std::log2(errors[k - 1] / errors[k]);
      EXPECT_GT(order, integrator_order(integ) - 0.35)
          << integrator_name(integ) << " " << errors[k - 1] << " " << errors[k];
      EXPECT_LT(order, integrator_order(integ) + 0.6)
          << integrator_name(integ) << " " << errors[k - 1] << " " << errors[k];
    }
  }
}

TEST(Flow, ShootingBackWithNegatedFinalMomentaReturnsToTheStart) {
  const CurveSet cs = small_set();
  const torch::Tensor x0 = random_template(12, 15, 8);
  const torch::Tensor a0 = 10.0 * torch::randn({2, 12, 2}, torch::kFloat64);
  const DeformationLayer layer(cs, {Integrator::RK4, 40, true});
  const FlowTrace fwd = layer.trace(x0, a0);
  const FlowTrace back = layer.trace(fwd.points, -fwd.momenta);
  const double moved = (fwd.points - x0).abs().max().item<double>();
  EXPECT_GT(moved, 1.0);  // the flow really went somewhere
  EXPECT_LT((back.points - x0).abs().max().item<double>(), 1e-6 * moved);
  EXPECT_LT((back.momenta + a0).abs().max().item<double>(), 1e-6 * a0.abs().max().item<double>());
}

TEST(Flow, JacobianIsPositiveOnADenseGridForLargeMomenta) {
  const Scheme s = find_scheme("300w68");
  const CurveSet cs = CurveSet::from_scheme(s);
  const torch::Tensor x0 =
      torch::from_blob(const_cast<double*>(s.mean_face.points.data()), {s.num_points, 2}, torch::kFloat64)
          .clone();
  torch::manual_seed(9);
  // Momenta as large as each curve's kernel width: displacements of the order of the whole curve.
  torch::Tensor a0 = torch::randn({2, s.num_points, 2}, torch::kFloat64);
  for (size_t c = 0; c < cs.curves.size(); ++c)
    for (int64_t p : cs.curves[c]) a0.select(1, p).mul_(cs.sigma[c]);
  const int cells = 60;
  torch::Tensor grid = torch::empty({(cells + 1) * (cells + 1), 2}, torch::kFloat64);
  std::vector<int64_t> owner;
  for (int r = 0; r <= cells; ++r)
    for (int c = 0; c <= cells; ++c) {
      grid[r * (cells + 1) + c][0] = s.mean_face.frame * c / cells;
      grid[r * (cells + 1) + c][1] = s.mean_face.frame * r / cells;
      owner.push_back((r * 7 + c) % static_cast<int>(cs.curves.size()));
    }
  const FlowTrace tr =
      DeformationLayer(cs, {Integrator::RK4, 20, true}).trace(x0, a0, grid, torch::tensor(owner));
  EXPECT_GT(tr.extra_det.min().item<double>(), 0.0);
  EXPECT_GT(tr.point_det.min().item<double>(), 0.0);
  EXPECT_GT((tr.extra - grid).abs().max().item<double>(), 10.0);  // large deformation indeed
}

TEST(Flow, JacobianMatchesFiniteDifferencesOfTheFlowMap) {
  const CurveSet cs = small_set();
  const torch::Tensor x0 = random_template(12, 15, 10);
  const torch::Tensor a0 = 8.0 * torch::randn({1, 12, 2}, torch::kFloat64);
  const DeformationLayer layer(cs, {Integrator::RK4, 10, true});
  const torch::Tensor p = 50.0 + 10.0 * torch::randn({5, 2}, torch::kFloat64);
  const torch::Tensor owner = torch::tensor(std::vector<int64_t>{0, 1, 2, 2, 1});
  const FlowTrace tr = layer.trace(x0, a0, p, owner);
  const double eps = 1e-5;
  for (int d = 0; d < 2; ++d) {
    torch::Tensor plus = p.clone(), minus = p.clone();
    plus.select(1, d).add_(eps);
    minus.select(1, d).sub_(eps);
    const torch::Tensor col =
        (layer.trace(x0, a0, plus, owner).extra - layer.trace(x0, a0, minus, owner).extra) / (2 * eps);
    EXPECT_TRUE(torch::allclose(tr.extra_jacobian.select(3, d), col, 1e-6, 1e-7));
  }
}

TEST(Flow, TrajectoriesStartAtTheTemplateAndEndAtTheResult) {
  const DeformationLayer layer(small_set(), {Integrator::Heun, 5, true});
  const torch::Tensor x0 = random_template(12, 15, 11);
  const torch::Tensor a0 = 6.0 * torch::randn({2, 12, 2}, torch::kFloat64);
  const FlowTrace tr = layer.trace(x0, a0);
  ASSERT_EQ(tr.point_path.size(0), 6);
  EXPECT_TRUE(torch::equal(tr.point_path[0], x0.unsqueeze(0).expand({2, 12, 2})));
  EXPECT_TRUE(torch::equal(tr.momentum_path[0], a0));
  EXPECT_TRUE(torch::equal(tr.point_path[5], tr.points));
  EXPECT_TRUE(torch::allclose(tr.points, layer.forward(x0, a0), 0, 1e-12));
}

TEST(Flow, MisshapenInputsAreRejected) {
  const DeformationLayer layer(small_set());
  const torch::Tensor x0 = random_template(12, 15, 12);
  EXPECT_THROW(layer.forward(x0, torch::zeros({2, 11, 2}, torch::kFloat64)), std::invalid_argument);
  EXPECT_THROW(layer.forward(x0.narrow(0, 0, 5), torch::zeros({2, 12, 2}, torch::kFloat64)),
               std::invalid_argument);
  EXPECT_THROW(layer.forward(x0, torch::zeros({2, 12, 2}, torch::kFloat32)), std::invalid_argument);
  CurveSet bad = small_set();
  bad.curves[1].push_back(5);  // point 5 in two curves
  EXPECT_THROW(DeformationLayer{bad}, std::invalid_argument);
  CurveSet gap = small_set();
  gap.curves[0].clear();
  EXPECT_THROW(DeformationLayer{gap}, std::invalid_argument);
}

}  // namespace
}  // namespace lddmm
