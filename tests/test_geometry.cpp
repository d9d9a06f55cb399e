// Small geometry: affine and similarity fits, polyline resampling, Procrustes means, correspondences.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "lddmm/flow/correspondence.hpp"
#include "lddmm/flow/mean_face.hpp"
#include "lddmm/flow/points.hpp"
#include "lddmm/flow/scheme.hpp"
#include "lddmm/io/scheme_files.hpp"

namespace lddmm {
namespace {

Affine2 similarity(double scale, double angle, double tx, double ty) {
  Affine2 m;
  m << scale * std::cos(angle), -scale * std::sin(angle), tx, scale * std::sin(angle),
      scale * std::cos(angle), ty;
  return m;
}

Points random_points(int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0, 10);
  Points p(n, 2);
  for (int i = 0; i < n; ++i) p(i, 0) = g(rng), p(i, 1) = g(rng);
  return p;
}

TEST(Geometry, AffineAndSimilarityFitsRecoverKnownMaps) {
  const Points p = random_points(20, 1);
  Affine2 a;
  a << 1.2, 0.3, 5, -0.4, 0.9, -7;
  EXPECT_TRUE(fit_affine(p, apply_affine(a, p)).isApprox(a, 1e-10));
  const Affine2 s = similarity(1.7, 0.4, 3, -2);
  EXPECT_TRUE(fit_similarity(p, apply_affine(s, p)).isApprox(s, 1e-10));
  const Affine2 inv = invert_affine(a);
  EXPECT_TRUE(apply_affine(inv, apply_affine(a, p)).isApprox(p, 1e-10));
}

TEST(Geometry, ResamplingSpacesPointsEvenlyByArcLength) {
  Points l(3, 2);
  l << 0, 0, 3, 0, 3, 1;  // length 4
  const Points r = resample_polyline(l, 5, false);
  Points want(5, 2);
  want << 0, 0, 1, 0, 2, 0, 3, 0, 3, 1;
  EXPECT_TRUE(r.isApprox(want, 1e-12));
  Points sq(4, 2);
  sq << 0, 0, 2, 0, 2, 2, 0, 2;  // closed perimeter 8
  const Points c = resample_polyline(sq, 8, true);
  EXPECT_TRUE(c.row(1).isApprox(Eigen::RowVector2d(1, 0)));
  EXPECT_TRUE(c.row(7).isApprox(Eigen::RowVector2d(0, 1)));
  EXPECT_TRUE(closest_on_polyline(sq, true, Eigen::RowVector2d(-1, 1)).isApprox(Eigen::RowVector2d(0, 1)));
  EXPECT_TRUE(closest_on_polyline(sq, false, Eigen::RowVector2d(-1, 1)).isApprox(Eigen::RowVector2d(0, 0)));
}

TEST(MeanFace, ProcrustesMeanOfSimilarCopiesIsTheShapeItself) {
  const Points base = random_points(15, 2);
  std::vector<Points> shapes;
  for (int k = 0; k < 12; ++k)
    shapes.push_back(apply_affine(similarity(0.5 + 0.2 * k, 0.3 * k - 1, k, -2 * k), base));
  const ProcrustesMean pm = procrustes_mean(shapes);
  EXPECT_LT(pm.rms_residual, 1e-10);
  const Points back = apply_affine(fit_similarity(pm.mean, base), pm.mean);
  EXPECT_TRUE(back.isApprox(base, 1e-9));
  // Unit size, centred.
  EXPECT_NEAR(pm.mean.colwise().mean().norm(), 0, 1e-12);
  EXPECT_NEAR(std::sqrt(pm.mean.squaredNorm() / 15), 1, 1e-12);
  EXPECT_THROW(procrustes_mean({}), std::invalid_argument);
}

TEST(MeanFace, ProcrustesMeanAveragesNoiseAway) {
  const Points base = random_points(30, 3);
  std::mt19937 rng(4);
  std::normal_distribution<double> noise(0, 0.5);
  std::vector<Points> shapes;
  for (int k = 0; k < 400; ++k) {
    Points s = base;
    for (Eigen::Index i = 0; i < s.size(); ++i) s.data()[i] += noise(rng);
    shapes.push_back(apply_affine(similarity(1 + 0.001 * k, 0.002 * k, k, 0), s));
  }
  const Points mean = procrustes_mean(shapes).mean;
  const Points back = apply_affine(fit_similarity(mean, base), mean);
  // Noise of 0.5 over 400 shapes: the mean is within a few hundredths of the true shape.
  EXPECT_LT(std::sqrt((back - base).squaredNorm() / 30), 0.06);
}

TEST(MeanFace, PlacementAndSymmetry) {
  Points p(4, 2);
  p << 0, 0, 10, 0, 2, 20, 8, 20;
  const Points f = place_in_frame(p, 256);
  const Eigen::RowVector2d lo = f.colwise().minCoeff(), hi = f.colwise().maxCoeff();
  EXPECT_NEAR((hi - lo).maxCoeff(), 256 / 1.25, 1e-9);
  EXPECT_TRUE((0.5 * (lo + hi)).isApprox(Eigen::RowVector2d(128, 128)));
  // A symmetric shape is left as it is; its mirror read off the geometry is the true one.
  const std::vector<int> mirror = {1, 0, 3, 2};
  EXPECT_TRUE(symmetrize(p, mirror).isApprox(p, 1e-12));
  EXPECT_EQ(mirror_from_geometry(p), mirror);
}

TEST(MeanFace, ShippedMeanFaceIsSymmetricAndUpright) {
  const Scheme s = find_scheme("300w68");
  const Points& m = s.mean_face.points;
  for (int i = 0; i < 68; ++i) {
    const int j = s.mirror[static_cast<size_t>(i)];
    EXPECT_NEAR(m(i, 0) + m(j, 0), 2 * 128.0, 1e-3);
    EXPECT_NEAR(m(i, 1), m(j, 1), 1e-3);
  }
  EXPECT_LT(m(36, 1), m(57, 1));  // eyes above the mouth
  EXPECT_LT(m(27, 1), m(8, 1));   // nose bridge above the chin
}

TEST(MeanFace, SubsetMeanFaceIsTheParentsPointsInTheSameFrame) {
  // The 50-point subset's mirror is partial (its jaw points have no partner): its mean face must still be
  // the 68-point mean face's points, not pulled towards the axis by symmetrization.
  const Scheme parent = find_scheme("300w68");
  const Scheme sub = find_scheme("300w50");
  Points picked(sub.num_points, 2);
  for (int i = 0; i < sub.num_points; ++i)
    picked.row(i) = parent.mean_face.points.row(sub.subset_of->indices[static_cast<size_t>(i)]);
  const Points back = apply_affine(fit_similarity(picked, sub.mean_face.points), picked);
  EXPECT_LT((back - sub.mean_face.points).cwiseAbs().maxCoeff(), 1e-3);
  // And with made-up shapes: the subset of a computed parent mean equals the computed subset mean.
  std::vector<Points> shapes;
  for (int k = 0; k < 5; ++k) {
    Points s = parent.mean_face.points;
    s.col(1) *= 1.0 + 0.02 * k;
    shapes.push_back(s);
  }
  const Points full = compute_mean_face(parent, shapes, 256, nullptr);
  const Points part = compute_mean_face(sub, shapes, 256, nullptr, &parent);
  Points full_sub(sub.num_points, 2);
  for (int i = 0; i < sub.num_points; ++i)
    full_sub.row(i) = full.row(sub.subset_of->indices[static_cast<size_t>(i)]);
  EXPECT_LT((apply_affine(fit_similarity(full_sub, part), full_sub) - part).cwiseAbs().maxCoeff(), 1e-9);
  EXPECT_THROW(compute_mean_face(sub, shapes, 256, nullptr), std::invalid_argument);
}

TEST(Correspondence, RecoversAKnownAffineMapAndTheIdentityTable) {
  const Scheme s = find_scheme("300w68");
  Scheme t = s;
  t.id = "moved";
  Affine2 a;
  a << 1.1, 0.05, -9, -0.03, 0.95, 6;
  t.mean_face.points = apply_affine(a, s.mean_face.points);
  const Correspondence c = correspond(s, t);
  EXPECT_LT((c.target_to_source - invert_affine(a)).cwiseAbs().maxCoeff(), 1e-3);
  for (size_t k = 0; k < s.curves.size(); ++k) EXPECT_EQ(c.curve_map[k], static_cast<int>(k));
  EXPECT_LT(c.rms_residual, 1e-3);
  // A dense version maps to itself through the same curves.
  const Correspondence d = correspond(s, dense_scheme(s, 4));
  EXPECT_TRUE(d.target_to_source.isApprox(Affine2::Identity(), 1e-6));
  for (size_t k = 0; k < s.curves.size(); ++k) EXPECT_EQ(d.curve_map[k], static_cast<int>(k));
}

TEST(Correspondence, WflwCurvesGoToTheMatching300WCurves) {
  const Correspondence c = correspond(find_scheme("300w68"), find_scheme("wflw98"));
  const std::vector<int> want = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 6, 7};  // pupils ride on the eyes
  EXPECT_EQ(c.curve_map, want);
}

}  // namespace
}  // namespace lddmm
