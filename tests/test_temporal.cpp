// The landmark smoother and the temporal metrics, against closed forms and synthetic tracks.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "lddmm/flow/temporal.hpp"

namespace lddmm {
namespace {

Points shape() {
  Points p(5, 2);
  p << 0, 0, 40, 0, 40, 50, 0, 50, 20, 25;
  return p;
}

TEST(Temporal, ConstantOffsetHasNoJitterNoLagAndItsSizeAsError) {
  Track truth, pred;
  std::vector<double> norm;
  for (int t = 0; t < 60; ++t) {
    Points g = shape();
    g.col(0).array() += 30 * std::sin(t * 0.2);
    g.col(1).array() += 10 * std::cos(t * 0.13);
    truth.push_back(g);
    Points p = g;
    p.col(0).array() += 3;
    p.col(1).array() += 4;  // |offset| = 5 px
    pred.push_back(p);
    norm.push_back(50);
  }
  const TemporalErrors e = temporal_errors(pred, truth, norm);
  EXPECT_NEAR(e.jitter, 0, 1e-12);
  EXPECT_NEAR(e.lag_frames, 0, 1e-12);
  EXPECT_NEAR(e.error, 0.1, 1e-12);
  EXPECT_EQ(e.pairs, 59);
}

TEST(Temporal, ADelayedTrackShowsItsDelayAndTheMotionDifferenceAsJitter) {
  Track truth, pred;
  std::vector<double> norm;
  auto pos = [](int t) { return 20 * std::sin(t * 0.15) + 0.5 * t; };
  for (int t = 0; t < 80; ++t) {
    Points g = shape();
    g.col(0).array() += pos(t);
    truth.push_back(g);
    Points p = shape();
    p.col(0).array() += pos(t - 3);
    pred.push_back(p);
    norm.push_back(40);
  }
  const TemporalErrors e = temporal_errors(pred, truth, norm);
  EXPECT_NEAR(e.lag_frames, 3.0, 1e-9);
  double jitter = 0;
  for (int t = 1; t < 80; ++t) jitter += std::abs((pos(t - 3) - pos(t - 4)) - (pos(t) - pos(t - 1))) / 40;
  EXPECT_NEAR(e.jitter, jitter / 79, 1e-12);
}

TEST(Temporal, MissingFramesAreSkipped) {
  Track truth(10, shape()), pred(10, shape());
  pred[4] = Points();
  const TemporalErrors e = temporal_errors(pred, truth, std::vector<double>(10, 1.0));
  EXPECT_EQ(e.pairs, 7);  // pairs (3,4) and (4,5) are gone
  EXPECT_THROW(temporal_errors(pred, truth, std::vector<double>(9, 1.0)), std::invalid_argument);
}

TEST(Smoother, RampLagsByTheFirstOrderFilterDelayOfTheAdaptiveCutoff) {
  // Steady state of an exponential filter on a ramp: the output trails by 1 / (2π f_c) seconds, with
  // f_c = min_cutoff + beta × speed (speed in face sizes per second).
  SmoothingOptions o;
  o.min_cutoff = 1.0;
  o.beta = 1.5;
  o.d_cutoff = 2.0;
  LandmarkSmoother s(o);
  const double fps = 30, scale = 100, v = 2.0;  // 2 face sizes per second
  Points out;
  double t = 0;
  for (int k = 0; k <= 600; ++k) {
    t = k / fps;
    Points p = shape();
    p.col(0).array() += v * scale * t;
    out = s.update(p, t, scale);
  }
  // Discrete EMA with α = 1/(1 + τ/dt), τ = 1/(2π f_c), trails a ramp by (1 − α)/α = τ/dt samples, so
  // by d = v·scale·τ pixels. As in the reference 1€ filter the speed is measured against the previous
  // *filtered* position, so it reads (v·scale·dt + d)/(dt·scale): solve that fixed point.
  const double dt = 1 / fps;
  double d = 0;
  for (int it = 0; it < 200; ++it) {
    const double fc = o.min_cutoff + o.beta * (v + d / (dt * scale));
    d = v * scale / (2 * M_PI * fc);
  }
  const double expected = d;
  EXPECT_NEAR(shape()(0, 0) + v * scale * t - out(0, 0), expected, 1e-6 * expected + 1e-9);
  EXPECT_NEAR(out(4, 0) - out(0, 0), 20, 1e-9);  // the shape itself is not distorted
}

TEST(Smoother, ReducesJitterOfANoisyTrackWithBoundedLag) {
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 1.0);
  const double fps = 30, scale = 100;
  Track truth, raw, smooth;
  SmoothingOptions o;  // a strong setting; the tracker's default favours lag and is tuned by `bench`
  o.min_cutoff = 1.0;
  o.beta = 1.5;
  LandmarkSmoother s(o);
  for (int k = 0; k < 300; ++k) {
    Points g = shape();
    g.col(0).array() += 60 * std::sin(k * 2 * M_PI / 90);  // a head turning back and forth every 3 s
    g.col(1).array() += 15 * std::sin(k * 2 * M_PI / 47);
    Points r = g;
    for (Eigen::Index i = 0; i < r.rows(); ++i) r.row(i) += Eigen::RowVector2d(noise(rng), noise(rng));
    truth.push_back(g);
    raw.push_back(r);
    smooth.push_back(s.update(r, k / fps, scale));
  }
  const std::vector<double> norm(truth.size(), 40.0);
  const TemporalErrors a = temporal_errors(raw, truth, norm), b = temporal_errors(smooth, truth, norm);
  EXPECT_LT(b.jitter, 0.6 * a.jitter);
  EXPECT_LE(b.lag_frames, 1.5);
  EXPECT_LE(a.lag_frames, 0.3);
}

TEST(Smoother, DisabledPassesThroughAndRestartsOnRepeatedTimes) {
  SmoothingOptions off;
  off.enabled = false;
  LandmarkSmoother s(off);
  Points p = shape();
  EXPECT_TRUE(s.update(p, 0, 1).isApprox(p));
  LandmarkSmoother on;
  on.update(p, 1.0, 50);
  Points q = p;
  q.array() += 10;
  EXPECT_TRUE(on.update(q, 1.0, 50).isApprox(q));  // same time: restart, not a division by zero
}

}  // namespace
}  // namespace lddmm
