// The loss against hand computations and finite differences.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "lddmm/flow/flow.hpp"
#include "lddmm/flow/loss.hpp"
#include "lddmm/flow/register.hpp"
#include "lddmm/flow/scheme.hpp"
#include "lddmm/io/scheme_files.hpp"

namespace lddmm {
namespace {

// Currents distance between two open polylines, written out term by term from method.md.
double currents_by_hand(const std::vector<std::array<double, 2>>& z,
                        const std::vector<std::array<double, 2>>& y, double sigma_w) {
  const auto segs = [](const std::vector<std::array<double, 2>>& p) {
    std::vector<std::array<double, 4>> s;  // cx, cy, tx, ty
    for (size_t i = 0; i + 1 < p.size(); ++i)
      s.push_back({(p[i][0] + p[i + 1][0]) / 2, (p[i][1] + p[i + 1][1]) / 2, p[i + 1][0] - p[i][0],
                   p[i + 1][1] - p[i][1]});
    return s;
  };
  const auto sum = [&](const std::vector<std::array<double, 4>>& a,
                       const std::vector<std::array<double, 4>>& b) {
    double total = 0;
    for (const auto& u : a)
      for (const auto& v : b) {
        const double dx = u[0] - v[0], dy = u[1] - v[1];
        total += std::exp(-(dx * dx + dy * dy) / (sigma_w * sigma_w)) * (u[2] * v[2] + u[3] * v[3]);
      }
    return total;
  };
  const auto sz = segs(z), sy = segs(y);
  return sum(sz, sz) - 2 * sum(sz, sy) + sum(sy, sy);
}

TEST(Loss, CurveTermIsZeroForIdenticalCurves) {
  const Scheme s = find_scheme("300w68");
  const CurveLoss loss = CurveLoss::from_scheme(s);
  const torch::Tensor y =
      torch::from_blob(const_cast<double*>(s.mean_face.points.data()), {1, 68, 2}, torch::kFloat64).clone() +
      torch::randn({1, 68, 2}, torch::kFloat64);
  const auto t = loss.terms(y, y);
  EXPECT_LT(t.currents.abs().max().item<double>(), 1e-9);
  EXPECT_EQ(t.landmarks.abs().max().item<double>(), 0.0);
  EXPECT_LT(loss(y, y).item<double>(), 1e-9);
}

TEST(Loss, ThreePointCurveMatchesAHandComputation) {
  // One open 3-point curve, one single-point curve for the normalising pair.
  const std::vector<std::array<double, 2>> z = {{0, 0}, {2, 1}, {4, 0}};
  const std::vector<std::array<double, 2>> y = {{0, 1}, {2, 2}, {5, 1}};
  const double sw = 3.0;
  const CurveLoss loss({{0, 1, 2}, {3}}, {false, false}, {sw, 1.0}, {0, 3}, {0.1});
  const torch::Tensor pz = torch::tensor({0., 0., 2., 1., 4., 0., 10., 0.}, torch::kFloat64).view({1, 4, 2});
  const torch::Tensor py = torch::tensor({0., 1., 2., 2., 5., 1., 8., 1.}, torch::kFloat64).view({1, 4, 2});
  const auto t = loss.terms(pz, py);
  const double dc = currents_by_hand(z, y, sw);
  EXPECT_NEAR(t.currents[0][0].item<double>(), dc, 1e-12);
  EXPECT_NEAR(t.currents[0][1].item<double>(), 0.0, 1e-15);  // no segments
  const double dl = (1.0 + 1.0 + std::sqrt(2.0)) / 3.0;
  EXPECT_NEAR(t.landmarks[0][0].item<double>(), dl, 1e-12);
  EXPECT_NEAR(t.landmarks[0][1].item<double>(), std::sqrt(5.0), 1e-12);
  EXPECT_NEAR(t.normaliser[0].item<double>(), 8.0, 1e-12);
  EXPECT_NEAR(loss(pz, py).item<double>(), (0.1 * dc + dl + std::sqrt(5.0)) / 8.0, 1e-12);
}

TEST(Loss, PointWeightingGivesEveryPointTheSameWeight) {
  // Curves of 3 and 1 points: per curve the mean distances (paper), per point the sums × C / N = × 2 / 4.
  const CurveLoss curve({{0, 1, 2}, {3}}, {false, false}, {3.0, 1.0}, {0, 3}, {0.0, false});
  const CurveLoss point({{0, 1, 2}, {3}}, {false, false}, {3.0, 1.0}, {0, 3}, {0.0, true});
  const torch::Tensor pz = torch::tensor({0., 0., 2., 1., 4., 0., 10., 0.}, torch::kFloat64).view({1, 4, 2});
  const torch::Tensor py = torch::tensor({0., 1., 2., 2., 5., 1., 8., 1.}, torch::kFloat64).view({1, 4, 2});
  const double d[4] = {1.0, 1.0, std::sqrt(2.0), std::sqrt(5.0)};
  EXPECT_NEAR(curve(pz, py).item<double>(), ((d[0] + d[1] + d[2]) / 3 + d[3]) / 8.0, 1e-12);
  EXPECT_NEAR(point(pz, py).item<double>(), (d[0] + d[1] + d[2] + d[3]) * 2.0 / 4.0 / 8.0, 1e-12);
  // With the loss at the same scale, a uniform error gives both the same value.
  const torch::Tensor shifted = py + torch::tensor({3., 4.}, torch::kFloat64);
  EXPECT_NEAR(curve(shifted, py).item<double>(), point(shifted, py).item<double>(), 1e-12);
}

TEST(Loss, ClosedCurveAddsTheClosingSegment) {
  const CurveLoss open({{0, 1, 2}}, {false}, {2.0}, {0, 1});
  const CurveLoss closed({{0, 1, 2}}, {true}, {2.0}, {0, 1});
  const torch::Tensor z = torch::tensor({0., 0., 3., 0., 0., 3.}, torch::kFloat64).view({1, 3, 2});
  const torch::Tensor y = torch::zeros({1, 3, 2}, torch::kFloat64);
  // Against a degenerate (all points equal) truth, the currents term is the squared norm of z alone.
  const auto norm2 = [](const std::vector<std::array<double, 2>>& p) {
    return currents_by_hand(p, {{0, 0}}, 2.0);
  };
  EXPECT_NEAR(open.terms(z, y).currents.item<double>(), norm2({{0, 0}, {3, 0}, {0, 3}}), 1e-12);
  EXPECT_NEAR(closed.terms(z, y).currents.item<double>(), norm2({{0, 0}, {3, 0}, {0, 3}, {0, 0}}), 1e-12);
}

TEST(Loss, GradientThroughTheLayerMatchesFiniteDifferences) {
  const Scheme s = find_scheme("300w68");
  const DeformationLayer layer(CurveSet::from_scheme(s), {Integrator::Heun, 2, true});
  const CurveLoss loss = CurveLoss::from_scheme(s);
  const torch::Tensor tmpl =
      torch::from_blob(const_cast<double*>(s.mean_face.points.data()), {68, 2}, torch::kFloat64).clone();
  torch::manual_seed(3);
  const torch::Tensor truth = tmpl.unsqueeze(0) + 5.0 * torch::randn({2, 68, 2}, torch::kFloat64);
  const torch::Tensor a0 = (3.0 * torch::randn({2, 68, 2}, torch::kFloat64)).requires_grad_(true);
  const torch::Tensor g = torch::autograd::grad({loss(layer.forward(tmpl, a0), truth)}, {a0})[0];
  torch::NoGradGuard no_grad;
  const double eps = 1e-6;
  for (int64_t k = 0; k < a0.numel(); k += 7) {
    torch::Tensor plus = a0.detach().clone(), minus = a0.detach().clone();
    plus.view({-1})[k] += eps;
    minus.view({-1})[k] -= eps;
    const double fd = (loss(layer.forward(tmpl, plus), truth).item<double>() -
                       loss(layer.forward(tmpl, minus), truth).item<double>()) /
                      (2 * eps);
    EXPECT_NEAR(g.view({-1})[k].item<double>(), fd, 1e-7 + 1e-5 * std::abs(fd)) << k;
  }
}

TEST(CarryPoints, ADenseSchemeCarriedByTheSparseFlowKeepsTheSparsePointsOnTheFlow) {
  // The dense scheme's first 68 points are the template points themselves, on their own curves: carried
  // through the correspondence (A ≈ identity) they must land where the layer puts the landmarks.
  const Scheme s = find_scheme("300w68");
  const Scheme dense = dense_scheme(s, 3);
  const DeformationLayer layer(CurveSet::from_scheme(s), {Integrator::RK4, 4, true});
  const torch::Tensor tmpl =
      torch::from_blob(const_cast<double*>(s.mean_face.points.data()), {68, 2}, torch::kFloat64).clone();
  torch::manual_seed(5);
  const torch::Tensor a0 = 4.0 * torch::randn({2, 68, 2}, torch::kFloat64);
  const torch::Tensor carried = carry_points(layer, correspond(s, dense), tmpl, a0);
  ASSERT_EQ(carried.size(1), dense.num_points);
  EXPECT_TRUE(torch::allclose(carried.narrow(1, 0, 68), layer.forward(tmpl, a0), 0, 1e-4));
  // With zero momenta the carried dense scheme is its own mean face.
  const torch::Tensor zero = carry_points(layer, correspond(s, dense), tmpl, torch::zeros_like(a0));
  const torch::Tensor dense_tmpl = torch::from_blob(const_cast<double*>(dense.mean_face.points.data()),
                                                    {dense.num_points, 2}, torch::kFloat64);
  EXPECT_TRUE(torch::allclose(zero[0], dense_tmpl, 0, 1e-4));
}

}  // namespace
}  // namespace lddmm
