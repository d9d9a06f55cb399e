// Fitting a model's confidence head (ConfidenceHead, lddmm/net/model.hpp): crops of annotated faces placed as
// the tracker places them and worse (shifted, scaled, turned, slid half off the face, moved off it), the
// network's pooled features on each and the NME its landmarks have there; then a ridge regression of the
// log NME on those features. The head costs nothing at inference (the pool is the head's own input), so
// every aligned face gets a confidence, where the mirror-image check costs a second network pass.
#pragma once

#include <opencv2/core.hpp>

#include <random>
#include <vector>

#include "lddmm/flow/points.hpp"
#include "lddmm/net/model.hpp"
#include "lddmm/net/predict.hpp"

namespace lddmm {

/// The kinds of crop a face gives (ConfidenceSamples::kind).
enum class CropKind { Near, Loose, Sliding, Off };

struct ConfidenceSamples {
  std::vector<std::vector<double>> features;  // the direct view's pooled features, one row per crop
  std::vector<double> error;  // NME of its landmarks (outer eye corners), in [kMinError, kMaxError]
  std::vector<CropKind> kind;
  static constexpr double kMinError = 0.005, kMaxError = 0.5;
};

/// One crop of each kind of the face whose true points (the model's scheme, image pixels) are `truth`:
/// Near (centre and side within 10 % of the upright landmark crop, 6° of its angle: a tracked face), Loose
/// (25 %, 17°), Sliding (the centre 0.3–0.7 sides away: a track sliding off) and Off (1.0–1.6 sides away),
/// appended to `out` with their features and errors.
void add_confidence_samples(Predictor& predictor, const cv::Mat& bgr, const Points& truth, std::mt19937& rng,
                            ConfidenceSamples& out);

/// log error ≈ weight · features + bias by ridge regression (features standardised, penalty `ridge` × the
/// number of samples on each standardised weight).
ConfidenceHead fit_confidence_head(const ConfidenceSamples& samples, double ridge);

/// The head's estimate (exp(weight · features + bias)) for each sample.
std::vector<double> estimate_errors(const ConfidenceHead& head, const ConfidenceSamples& samples);

}  // namespace lddmm
