// The display grid's one diffeomorphism (blended_flow.hpp) against closed forms, finite differences and the
// per-curve flows it blends.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <Eigen/LU>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "lddmm/flow/blended_flow.hpp"
#include "lddmm/flow/register.hpp"
#include "lddmm/flow/scheme.hpp"
#include "lddmm/flow/tensor_points.hpp"
#include "lddmm/io/scheme_files.hpp"

namespace lddmm {
namespace {

Points random_points(Eigen::Index n, double centre, double spread, unsigned seed) {
  std::srand(seed);
  return (Points::Random(n, 2) * spread).array() + centre;
}

// With one curve the partition of unity is 1: the field is Σ_j exp(−|y − x_j|² / σ²) α_j, by hand.
TEST(BlendedFlow, OneCurveGivesThatCurvesField) {
  CurveSet one;
  one.num_points = 5;
  one.curves = {{0, 1, 2, 3, 4}};
  one.sigma = {12.0};
  const Points x = random_points(5, 50, 20, 1), a = random_points(5, 0, 3, 2);
  for (const Eigen::Vector2d& y :
       {Eigen::Vector2d(50, 50), Eigen::Vector2d(31, 70), Eigen::Vector2d(90, 12)}) {
    Eigen::Vector2d want = Eigen::Vector2d::Zero();
    for (int j = 0; j < 5; ++j)
      want += std::exp(-(y - x.row(j).transpose()).squaredNorm() / 144.0) * a.row(j).transpose();
    const Eigen::Vector2d got = blended_velocity(x, a, one, 4.0, y);
    EXPECT_LT((got - want).norm(), 1e-12 * (1 + want.norm()));
  }
}

// Dv is the field's derivative: central differences of the velocity, on three curves with different σ.
TEST(BlendedFlow, JacobianMatchesFiniteDifferences) {
  CurveSet three;
  three.num_points = 12;
  three.curves = {{5}, {0, 1, 2, 3}, {4, 6, 7, 8, 9, 10, 11}};
  three.sigma = {10.0, 15.0, 25.0};
  const Points x = random_points(12, 50, 30, 3), a = random_points(12, 0, 4, 4);
  const double eps = 1e-5;
  for (const Eigen::Vector2d& y :
       {Eigen::Vector2d(50, 50), Eigen::Vector2d(30, 62), Eigen::Vector2d(75, 20)}) {
    Eigen::Matrix2d jac;
    blended_velocity(x, a, three, 6.0, y, &jac);
    for (int c = 0; c < 2; ++c) {
      Eigen::Vector2d e = Eigen::Vector2d::Zero();
      e[c] = eps;
      const Eigen::Vector2d fd =
          (blended_velocity(x, a, three, 6.0, y + e) - blended_velocity(x, a, three, 6.0, y - e)) / (2 * eps);
      EXPECT_LT((jac.col(c) - fd).norm(), 1e-6 * (1 + fd.norm())) << "column " << c;
    }
  }
}

// A face in a 256-px crop under random momenta (a few pixels each), flowed by the per-curve layer; the grid
// over the crop carried by the blended flow.
class MovingFace : public ::testing::Test {
 protected:
  void SetUp() override {
    const double scale = 256.0 / scheme_.mean_face.frame;
    curves_ = CurveSet::from_scheme(scheme_, scale);
    const DeformationLayer layer(curves_, FlowOptions{Integrator::Heun, 2, true});
    // A face that turns 8°, grows 6 %, shifts, opens its mouth 14 px and raises its brows 5 px: the
    // momenta that flow the mean face there (fitted), as the network's would.
    const Points mean = scheme_.mean_face.points * scale;
    const Eigen::RowVector2d centre = mean.colwise().mean();
    const double c = std::cos(0.14), s = std::sin(0.14);
    Eigen::Matrix2d R;
    R << c, -s, s, c;
    Points target =
        ((mean.rowwise() - centre) * (1.06 * R.transpose())).rowwise() + (centre + Eigen::RowVector2d(6, -4));
    for (int i = 17; i < 27; ++i) target(i, 1) -= 5;            // brows
    for (int i : {56, 57, 58, 65, 66, 67}) target(i, 1) += 14;  // lower lip
    for (int i : {55, 59, 64}) target(i, 1) += 8;
    for (int i = 5; i < 12; ++i) target(i, 1) += 6;  // chin follows
    const torch::Tensor tmpl = points_to_tensor(mean);
    const FitResult fit = fit_momenta(layer, CurveLoss::from_scheme(scheme_, {0.1, true}, scale), tmpl,
                                      points_to_tensor(target).unsqueeze(0));
    const FlowTrace tr = layer.trace(tmpl, fit.momenta.detach());
    point_path_ = tr.point_path.select(1, 0);
    momentum_path_ = tr.momentum_path.select(1, 0);
    end_error_ = (tensor_to_points(point_path_[-1]) - target).rowwise().norm().maxCoeff();
    grid_ = make_grid(scheme_, 32);
    nodes_ = grid_.nodes * scale;
  }
  const Scheme scheme_ = find_scheme("300w68");
  CurveSet curves_;
  torch::Tensor point_path_, momentum_path_;
  Grid grid_;
  Points nodes_;
  BlendOptions options_{6.0, 4};
  double end_error_ = 0;
};

// det J > 0 at every node, and the Jacobian carried with the nodes is the flow's: central differences of the
// flow of nodes moved by ±ε.
TEST_F(MovingFace, DeterminantIsPositiveAndIsTheFlowsOwn) {
  const BlendedPaths out = blend_flow(point_path_, momentum_path_, curves_, nodes_, options_);
  ASSERT_EQ(out.nodes.size(), 3U);
  ASSERT_EQ(out.det.size(), static_cast<size_t>(nodes_.rows()));
  EXPECT_GT(*std::min_element(out.det.begin(), out.det.end()), 0.0);
  const double eps = 1e-4;
  for (const Eigen::Index i : {Eigen::Index{300}, Eigen::Index{545}, Eigen::Index{700}}) {
    Points probe(4, 2);
    probe << nodes_.row(i).array() + Eigen::Array2d(eps, 0).transpose(),
        nodes_.row(i).array() - Eigen::Array2d(eps, 0).transpose(),
        nodes_.row(i).array() + Eigen::Array2d(0, eps).transpose(),
        nodes_.row(i).array() - Eigen::Array2d(0, eps).transpose();
    const Points end = blend_flow(point_path_, momentum_path_, curves_, probe, options_).nodes.back();
    Eigen::Matrix2d J;
    J.col(0) = (end.row(0) - end.row(1)).transpose() / (2 * eps);
    J.col(1) = (end.row(2) - end.row(3)).transpose() / (2 * eps);
    EXPECT_NEAR(J.determinant(), out.det[static_cast<size_t>(i)], 1e-5 * (1 + std::abs(J.determinant())))
        << "node " << i;
  }
}

// Neighbouring nodes stay neighbours: every grid cell keeps its orientation (both triangles of each cell have
// a positive signed area), so no two grid lines cross, and no edge is cut (the drawing joins every pair).
TEST_F(MovingFace, GridCellsKeepTheirOrientation) {
  const BlendedPaths out = blend_flow(point_path_, momentum_path_, curves_, nodes_, options_);
  const int n = grid_.cells + 1;
  const auto cross = [](const Eigen::RowVector2d& o, const Eigen::RowVector2d& p,
                        const Eigen::RowVector2d& q) {
    return (p.x() - o.x()) * (q.y() - o.y()) - (p.y() - o.y()) * (q.x() - o.x());
  };
  for (const Points& g : out.nodes) {
    int flipped = 0;
    for (int r = 0; r + 1 < n; ++r)
      for (int c = 0; c + 1 < n; ++c) {
        const Eigen::RowVector2d p00 = g.row(r * n + c), p01 = g.row(r * n + c + 1),
                                 p10 = g.row((r + 1) * n + c), p11 = g.row((r + 1) * n + c + 1);
        flipped += cross(p00, p01, p10) <= 0;
        flipped += cross(p11, p10, p01) <= 0;
      }
    EXPECT_EQ(flipped, 0);
  }
}

// The face's own points ride on their curves' flows: carried by the blended flow they land within half a
// pixel of where the per-curve flows put them (a 256-px crop; on average within a tenth).
TEST_F(MovingFace, CurvePointsLandWhereTheirCurvesFlowsPutThem) {
  const Points start = tensor_to_points(point_path_[0]);
  const Points want = tensor_to_points(point_path_[-1]);
  const Points got = blend_flow(point_path_, momentum_path_, curves_, start, options_).nodes.back();
  const Eigen::VectorXd err = (got - want).rowwise().norm();
  const double moved = (want - start).rowwise().norm().mean();
  std::printf("curve points: moved %.2f px on average; blended flow off by %.3f mean, %.3f max\n", moved,
              err.mean(), err.maxCoeff());
  EXPECT_GT(moved, 2.0);
  EXPECT_LT(end_error_, 3.0);  // the fit reached the expression
  EXPECT_LT(err.maxCoeff(), 2.0);
  EXPECT_LT(err.mean(), 0.2);
}

}  // namespace
}  // namespace lddmm

namespace lddmm {
namespace {

// The blend written out on a face's 68 points at nodes near and far from it: s_p = log Σ_j e^(−|y − x_j|²/ρ²)
// in long double (no shifts, no skipped curves), w = softmax(s), v = Σ_p w_p Σ_j e^(−|y − x_j|²/σ_p²) α_j.
TEST(BlendedFlow, IsTheSoftmaxBlendWrittenOut) {
  const Scheme scheme = find_scheme("300w68");
  const double scale = 256.0 / scheme.mean_face.frame;
  const CurveSet curves = CurveSet::from_scheme(scheme, scale);
  const Points x = scheme.mean_face.points * scale, a = random_points(68, 0, 5, 7);
  const double reach = 6;
  const Points nodes = make_grid(scheme, 16).nodes * scale;
  for (Eigen::Index i = 0; i < nodes.rows(); ++i) {
    const Eigen::Vector2d y = nodes.row(i).transpose();
    std::vector<long double> s;
    for (const auto& curve : curves.curves) {
      long double z = 0;
      for (const int64_t j : curve)
        z += std::exp(-static_cast<long double>((y - x.row(j).transpose()).squaredNorm()) / (reach * reach));
      s.push_back(std::log(z));
    }
    const long double s_max = *std::max_element(s.begin(), s.end());
    long double total = 0;
    for (const long double v : s) total += std::exp(v - s_max);
    Eigen::Vector2d want = Eigen::Vector2d::Zero();
    for (size_t p = 0; p < curves.curves.size(); ++p) {
      const auto w = static_cast<double>(std::exp(s[p] - s_max) / total);
      for (const int64_t j : curves.curves[p])
        want += w *
                std::exp(-(y - x.row(j).transpose()).squaredNorm() / (curves.sigma[p] * curves.sigma[p])) *
                a.row(j).transpose();
    }
    const Eigen::Vector2d got = blended_velocity(x, a, curves, reach, y);
    EXPECT_LT((got - want).norm(), 1e-10 * (1 + want.norm())) << "node " << i;
  }
}

}  // namespace
}  // namespace lddmm
