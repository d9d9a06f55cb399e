// Landmarks over time: a One-Euro smoother for a face's landmarks, and the temporal metrics the tracker
// is judged by (jitter of the frame-to-frame motion against the true motion, and lag).
#pragma once

#include <optional>
#include <vector>

#include "lddmm/flow/points.hpp"

namespace lddmm {

/// One-Euro filter parameters (Casiez et al., CHI 2012). Positions are measured in units of the face's
/// size (passed with each update), so one setting suits near and far faces.
struct SmoothingOptions {
  bool enabled = true;
  double min_cutoff = 1.0;  // Hz: the cutoff when the face is still (lower = steadier)
  double beta = 10.0;       // cutoff increase per (face size / s) of speed (higher = less lag when moving)
  double d_cutoff = 2.0;    // Hz: cutoff of the speed estimate
};

/// A One-Euro filter for a whole face: every point is low-passed with the same adaptive cutoff, driven by
/// the face's mean speed (the mean over the points, far less noisy than one point's speed), so the shape is
/// not distorted while the head moves and still points stay still.
class LandmarkSmoother {
 public:
  explicit LandmarkSmoother(SmoothingOptions options = {}) : options_(options) {}
  /// Filters `points` observed at time `t` (seconds, increasing); `scale` is the face size in pixels.
  Points update(const Points& points, double t, double scale);
  void reset() { state_.reset(); }
  const SmoothingOptions& options() const { return options_; }

 private:
  struct State {
    Points position, speed;
    double t = 0;
  };
  SmoothingOptions options_;
  std::optional<State> state_;
};

/// A landmark track: the points of one face in consecutive frames (an empty matrix where it is missing).
using Track = std::vector<Points>;

struct TemporalErrors {
  double jitter = 0;      // mean over frame pairs and points of |Δpredicted − Δtrue| / normaliser
  double lag_frames = 0;  // the delay τ minimising the spread of predicted(t) − true(t − τ)
  double error = 0;       // mean |predicted − true| / normaliser (accuracy, for reference)
  int pairs = 0;          // frame pairs counted for the jitter
};

/// Jitter, lag and error of `predicted` against `truth` (same length, same point count). `normaliser` per
/// frame (for example the true inter-ocular distance). The lag is searched in [0, max_lag] frames in
/// steps of 0.1 with the truth linearly interpolated in time.
TemporalErrors temporal_errors(const Track& predicted, const Track& truth,
                               const std::vector<double>& normaliser, double max_lag = 8.0);

}  // namespace lddmm
