// Mean faces: generalized Procrustes analysis of a training set, placed in crop coordinates.
#pragma once

#include <vector>

#include "lddmm/flow/points.hpp"
#include "lddmm/flow/scheme.hpp"

namespace lddmm {

struct ProcrustesMean {
  Points mean;  // centroid 0, RMS distance to the centroid 1
  int iterations = 0;
  double rms_residual = 0;  // RMS point distance of the aligned shapes to the mean (unit-size units)
};

/// Generalized Procrustes analysis: aligns every shape to the running mean with a similarity (no
/// reflection) until the mean stops changing. Throws std::invalid_argument on empty or ragged input.
ProcrustesMean procrustes_mean(const std::vector<Points>& shapes, int max_iterations = 100,
                               double tolerance = 1e-12);

/// Makes a shape left/right symmetric under `mirror`: the average of the shape and its reflected,
/// re-indexed copy (aligned back by a similarity).
Points symmetrize(const Points& shape, const std::vector<int>& mirror);

/// A mirror permutation read off a left/right symmetric, upright shape: each point goes to the point
/// nearest to its reflection about the vertical axis through the shape's centroid. Pairs that do not
/// agree both ways map to themselves, so the result is always an involution.
std::vector<int> mirror_from_geometry(const Points& shape);

/// Places a shape in a square crop frame of side `frame`: the landmarks' bounding box is centred and its
/// longer side is `frame / crop_factor` (the crop is the face box enlarged crop_factor times).
inline constexpr double kCropFactor = 1.25;
Points place_in_frame(const Points& shape, double frame, double crop_factor = kCropFactor);

/// The mean face of `scheme` from annotated shapes: Procrustes mean, symmetrized, made upright (mirror
/// pairs horizontal, eyes above the mouth), placed in `frame`. A subset scheme needs its `parent` and
/// shapes in the parent's layout: the parent's mean face is computed (its mirror is complete, a subset's
/// need not be) and the subset is taken from it and placed in the frame.
Points compute_mean_face(const Scheme& scheme, const std::vector<Points>& shapes, double frame,
                         ProcrustesMean* stats, const Scheme* parent = nullptr);

}  // namespace lddmm
