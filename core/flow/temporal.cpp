#include "lddmm/flow/temporal.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace lddmm {
namespace {

double smoothing_factor(double cutoff, double dt) {
  const double tau = 1.0 / (2.0 * M_PI * cutoff);
  return 1.0 / (1.0 + tau / dt);
}

}  // namespace

Points LandmarkSmoother::update(const Points& points, double t, double scale) {
  if (!options_.enabled) return points;
  if (!state_ || state_->position.rows() != points.rows() || !(t > state_->t)) {
    // First observation, a new shape, or time not moving forward (a repeated frame): restart.
    state_ = State{points, Points::Zero(points.rows(), 2), t};
    return points;
  }
  const double dt = t - state_->t;
  const double s = std::max(scale, 1e-6);
  const Points raw_speed = (points - state_->position) / (dt * s);
  const double ad = smoothing_factor(options_.d_cutoff, dt);
  state_->speed = ad * raw_speed + (1.0 - ad) * state_->speed;
  const double speed = state_->speed.rowwise().norm().mean();
  const double a = smoothing_factor(options_.min_cutoff + options_.beta * speed, dt);
  state_->position = a * points + (1.0 - a) * state_->position;
  state_->t = t;
  return state_->position;
}

TemporalErrors temporal_errors(const Track& predicted, const Track& truth,
                               const std::vector<double>& normaliser, double max_lag) {
  if (predicted.size() != truth.size() || truth.size() != normaliser.size())
    throw std::invalid_argument("temporal_errors: tracks and normalisers differ in length");
  const size_t T = truth.size();
  auto present = [&](size_t t) {
    return predicted[t].rows() > 0 && truth[t].rows() > 0 && normaliser[t] > 0;
  };
  for (size_t t = 0; t < T; ++t)
    if (present(t) && predicted[t].rows() != truth[t].rows())
      throw std::invalid_argument("temporal_errors: point counts differ");
  TemporalErrors out;
  double jitter = 0, error = 0;
  int frames = 0;
  for (size_t t = 0; t < T; ++t) {
    if (!present(t)) continue;
    error += (predicted[t] - truth[t]).rowwise().norm().mean() / normaliser[t];
    ++frames;
    if (t == 0 || !present(t - 1)) continue;
    const Points d = (predicted[t] - predicted[t - 1]) - (truth[t] - truth[t - 1]);
    jitter += d.rowwise().norm().mean() / normaliser[t];
    ++out.pairs;
  }
  out.error = frames > 0 ? error / frames : 0;
  out.jitter = out.pairs > 0 ? jitter / out.pairs : 0;

  // Lag: the predicted track is compared with the truth delayed by τ; a constant offset per point
  // (annotation convention) is removed, so only the time-varying part of the residual counts.
  double best = std::numeric_limits<double>::infinity();
  for (int step = 0; step <= static_cast<int>(std::lround(max_lag * 10)); ++step) {
    const double tau = step / 10.0;
    const int whole = static_cast<int>(std::floor(tau));
    const double frac = tau - whole;
    Points sum;
    std::vector<Points> residuals;
    std::vector<double> norms;
    for (size_t t = static_cast<size_t>(whole) + 1; t < T; ++t) {
      const size_t a = t - static_cast<size_t>(whole), b = a - 1;  // truth(t − τ) between b and a
      if (!present(t) || !present(a) || !present(b)) continue;
      const Points g = (1.0 - frac) * truth[a] + frac * truth[b];
      residuals.push_back((predicted[t] - g) / normaliser[t]);
      if (sum.size() == 0) sum = Points::Zero(g.rows(), 2);
      sum += residuals.back();
    }
    if (residuals.size() < 2) break;
    const Points mean = sum / static_cast<double>(residuals.size());
    double spread = 0;
    for (const Points& r : residuals) spread += (r - mean).rowwise().squaredNorm().mean();
    spread /= static_cast<double>(residuals.size());
    if (spread < best - 1e-15) {
      best = spread;
      out.lag_frames = tau;
    }
  }
  return out;
}

}  // namespace lddmm
