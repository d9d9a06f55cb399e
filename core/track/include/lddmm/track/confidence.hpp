// The confidence stage: how sure the network is of a face's landmarks, from the network itself. The crop
// and its mirror image are two views of one face: on a face the two sets of landmarks agree (the network
// learnt both), on hair, background or a face mostly out of its crop they do not. Their disagreement,
// over the face's size, ranks faces by error and tells a face from what is not one (bench_confidence). A
// model's confidence head (lddmm/net/model.hpp) estimates the same from one pass, on every frame.
#pragma once

#include <cmath>
#include <limits>

#include "lddmm/flow/points.hpp"

namespace lddmm {

/// Mean distance between corresponding landmarks of two views of a face, over the side of the first's box
/// (the larger of its width and height). Infinite when either is not finite or the box is empty.
double view_disagreement(const Points& view, const Points& other_view);

/// The confidence of a disagreement `d`: 1 / (1 + (d / d_half)²), 1 for views that agree, ½ at `d_half`.
double confidence_of(double disagreement, double d_half);

/// What a check does to a face: a new face (`is_new`) under `min_confidence` is let go at once; a tracked
/// one at its second check in a row under it (`doubted`: it was under at the last check), else it is
/// checked again on the next frame (one low check is often a fast face its crop has not caught up with).
enum class CheckVerdict { Keep, CheckAgain, LetGo };
CheckVerdict check_verdict(double confidence, double min_confidence, bool is_new, bool doubted);

/// A face's confidence on one frame, each NaN where there is none: `estimated` from the model's confidence
/// head (confidence_of its estimated NME, every frame, free), `checked` from a mirror check (a second pass).
/// Both rank faces by their error and tell a face from a crop that slid off it (bench_confidence); the
/// head's doubt asks for a check (the face is `doubted`) and the check decides (check_verdict), so that the
/// free estimate alone never drops a face.
struct FaceConfidence {
  double estimated = std::numeric_limits<double>::quiet_NaN();
  double checked = std::numeric_limits<double>::quiet_NaN();
  /// The one to report: the head's, else the check's (NaN: neither ran).
  double reported() const { return std::isnan(estimated) ? checked : estimated; }
};

/// What one frame's confidence does to a face (`doubted`: in, whether it is in doubt; out, whether it is to
/// be checked on the next frame): an estimate under `min_confidence` puts it in doubt; a check decides as
/// check_verdict does, with that doubt counted. Without a check the face is kept.
CheckVerdict judge(const FaceConfidence& c, double min_confidence, bool is_new, bool& doubted);

}  // namespace lddmm
