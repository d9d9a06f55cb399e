// Metrics on hand-made cases with known answers.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "lddmm/flow/metrics.hpp"

namespace lddmm {
namespace {

// By hand: {4, 1, 3, 2} sorted is 1 2 3 4; q = 0.5 lies halfway between 2 and 3; the AUC counts the pairs.
TEST(Metrics, QuantileInterpolatesAndRocAucCountsPairs) {
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 1.0), 4.0);
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 1.0 / 6), 1.5);
  EXPECT_DOUBLE_EQ(quantile({}, 0.5), 0.0);
  // lower {1, 3} against higher {2, 3}: 1<2, 1<3, 3>2 (0), 3=3 (½): 2.5 of 4 pairs.
  EXPECT_DOUBLE_EQ(roc_auc({1, 3}, {2, 3}), 0.625);
  EXPECT_DOUBLE_EQ(roc_auc({1, 2}, {5, 6}), 1.0);
  EXPECT_DOUBLE_EQ(roc_auc({}, {1}), 0.5);
}

TEST(Metrics, NmeIsTheMeanDistanceOverTheNormaliser) {
  Points truth(3, 2), pred(3, 2);
  truth << 0, 0, 10, 0, 5, 5;
  pred << 3, 4, 10, 0, 5, 6;  // errors 5, 0, 1
  const double d = normalising_distance(truth, {0, 1});
  EXPECT_DOUBLE_EQ(d, 10.0);
  EXPECT_DOUBLE_EQ(nme(pred, truth, d), 0.2);
  EXPECT_THROW(nme(pred, truth, 0.0), std::invalid_argument);
  EXPECT_THROW(nme(pred.topRows(2), truth, d), std::invalid_argument);
}

TEST(Metrics, FailureRateAndAucMatchTheErrorCurve) {
  const std::vector<double> e = {0.01, 0.02, 0.05, 0.12, 0.2};
  const NmeSummary s = summarize(e, 0.1);
  EXPECT_DOUBLE_EQ(s.mean, 0.08);
  EXPECT_DOUBLE_EQ(s.failure, 0.4);
  // AUC by hand: (0.9 + 0.8 + 0.5 + 0 + 0) / 5.
  EXPECT_NEAR(s.auc, 0.44, 1e-12);
  // And by integrating the cumulative curve numerically (trapezoids on a fine grid).
  const ErrorCurve c = cumulative_error_curve(e, 0.1, 100001);
  double area = 0;
  for (size_t k = 1; k < c.threshold.size(); ++k)
    area += 0.5 * (c.fraction[k] + c.fraction[k - 1]) * (c.threshold[k] - c.threshold[k - 1]);
  EXPECT_NEAR(area / 0.1, s.auc, 1e-4);
  EXPECT_DOUBLE_EQ(c.fraction.front(), 0.0);
  EXPECT_DOUBLE_EQ(c.fraction.back(), 0.6);
}

TEST(Metrics, ALostFaceIsAFailureNeverASuccess) {
  const NmeSummary s = summarize({0.02, std::numeric_limits<double>::quiet_NaN()}, 0.1);
  EXPECT_DOUBLE_EQ(s.failure, 0.5);
  EXPECT_DOUBLE_EQ(s.auc, 0.4);  // (0.8 + 0) / 2
  EXPECT_TRUE(std::isnan(s.mean));
}

TEST(Metrics, GroupSummariesByHand) {
  // Faces 0, 2, 4 in group 1, faces 1, 3 in group 0, group 2 empty.
  const std::vector<double> e = {0.02, 0.04, 0.06, 0.12, 0.13};
  const std::vector<NmeSummary> g = summarize_groups(e, {1, 0, 1, 0, 1}, 3, 0.1);
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(g[0].faces, 2);
  EXPECT_NEAR(g[0].mean, 0.08, 1e-15);
  EXPECT_DOUBLE_EQ(g[0].failure, 0.5);
  EXPECT_NEAR(g[0].auc, (0.6 + 0.0) / 2, 1e-12);
  EXPECT_EQ(g[1].faces, 3);
  EXPECT_NEAR(g[1].mean, 0.07, 1e-15);
  EXPECT_NEAR(g[1].failure, 1.0 / 3, 1e-15);
  EXPECT_NEAR(g[1].auc, (0.8 + 0.4 + 0.0) / 3, 1e-12);
  EXPECT_EQ(g[2].faces, 0);
  EXPECT_DOUBLE_EQ(g[2].mean, 0.0);
  EXPECT_THROW(summarize_groups(e, {0, 0}, 1), std::invalid_argument);
  EXPECT_THROW(summarize_groups(e, {0, 0, 0, 0, 3}, 3), std::invalid_argument);
  EXPECT_THROW(summarize_groups(e, {0, 0, 0, -1, 0}, 3), std::invalid_argument);
}

TEST(Metrics, BandsAreHalfOpenIntervalsBetweenEdges) {
  const std::vector<double> edges = {100, 150, 200};
  EXPECT_EQ(band(0, edges), 0);
  EXPECT_EQ(band(99.9, edges), 0);
  EXPECT_EQ(band(100, edges), 1);
  EXPECT_EQ(band(149.99, edges), 1);
  EXPECT_EQ(band(150, edges), 2);
  EXPECT_EQ(band(200, edges), 3);
  EXPECT_EQ(band(1e9, edges), 3);
  EXPECT_EQ(band(5, {}), 0);
}

TEST(Metrics, CurveErrorIsTheSymmetricNearestNeighbourDistancePerPart) {
  // Contour: truth points on a line, predictions shifted; eyes: identical; other parts absent.
  Points truth(4, 2), pred(3, 2);
  truth << 0, 0, 2, 0, 4, 0, 9, 9;
  pred << 0, 1, 4, 1, 9, 9;
  const std::vector<Part> tp = {Part::Contour, Part::Contour, Part::Contour, Part::Eyes};
  const std::vector<Part> pp = {Part::Contour, Part::Contour, Part::Eyes};
  const PartErrors r = nme_curves(pred, pp, truth, tp, 2.0);
  // pred→truth: 1, 1 (mean 1); truth→pred: 1, sqrt(5), 1 (mean (2+√5)/3); average, over d = 2.
  const double want = 0.5 * (1.0 + (2 + std::sqrt(5.0)) / 3) / 2.0;
  EXPECT_NEAR(r.part[static_cast<size_t>(Part::Contour)], want, 1e-12);
  EXPECT_DOUBLE_EQ(r.part[static_cast<size_t>(Part::Eyes)], 0.0);
  EXPECT_TRUE(std::isnan(r.part[static_cast<size_t>(Part::Nose)]));
  EXPECT_NEAR(r.overall, want / 2, 1e-12);
  const PartErrors m = mean_part_errors({r, r});
  EXPECT_NEAR(m.overall, r.overall, 1e-15);
}

TEST(Metrics, DetJTableByHand) {
  Eigen::Matrix2d a, b, c;
  a << 2, 0, 0, 1;    // det 2
  b << 1, 0, 0, 0.5;  // det 0.5
  c << -1, 0, 0, 1;   // det -1 (a fold)
  const DetJTable t = detj_table({a, b, c});
  EXPECT_NEAR(t.mean_det, 0.5, 1e-12);
  EXPECT_EQ(t.nonpositive, 1);
  EXPECT_EQ(t.count, 3);
  EXPECT_NEAR(t.det_of_mean, (2.0 / 3) * (2.5 / 3), 1e-12);
}

}  // namespace
}  // namespace lddmm
