// Correspondence between two schemes: which curve of a source scheme carries each curve of a target
// scheme, and the least-squares affine map between their mean faces, so that a target scheme's points
// can be flowed with the source scheme's diffeomorphisms (method.md, "Flexible output").
#pragma once

#include <vector>

#include "lddmm/flow/points.hpp"
#include "lddmm/flow/scheme.hpp"

namespace lddmm {

struct Correspondence {
  Affine2 target_to_source;      // least-squares affine map, target mean face → source mean face
  std::vector<int> curve_map;    // for each target curve, the source curve that carries it
  std::vector<int> point_curve;  // for each target point, the source curve that carries it
  Points target_in_source;       // the target mean face mapped into the source frame
  double rms_residual = 0;       // RMS distance (source frame px) of mapped target points to their curves
};

/// Fits the correspondence. Each target point is matched to the closest point of the source curves of
/// the same facial part; the affine map is refitted on those matches until it settles (an ICP restricted
/// to facial parts, started from the identity since both mean faces live in the same kind of crop frame).
/// A target curve goes with the source curve of its part that is closest on average.
Correspondence correspond(const Scheme& source, const Scheme& target, int iterations = 300);

/// The same correspondence between frames scaled by `source_scale` (source mean-face frame) and
/// `target_scale` (target frame), for example into a network's input pixels.
Correspondence rescale(const Correspondence& c, double source_scale, double target_scale);

}  // namespace lddmm
