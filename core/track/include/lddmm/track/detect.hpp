// The detect stage: at what scale the face detector scans a frame, from the smallest face wanted, and the
// scan itself. dlib's HOG detector slides an 80-px window over an image pyramid, so it finds a face about
// 80 px wide or more in the image it scans: to find faces of `min_face` px the frame is scaled by
// 80 / min_face first (up for small faces, down for large ones), within a bound on the pixels scanned.
#pragma once

#include <opencv2/core.hpp>

#include <vector>

#include "lddmm/face/faces.hpp"

namespace lddmm {

/// The width (pixels of the scanned image) of the smallest face dlib's frontal detector finds.
constexpr double kDetectorWindow = 80;

/// One scan of a frame.
struct ScanPlan {
  double scale = 1;      // frame → scanned image
  double min_face = 0;   // the smallest face width it finds, frame pixels (kDetectorWindow / scale)
  double threshold = 0;  // added to the detector's threshold (FaceDetector::detect)
  bool enabled() const { return scale > 0 && min_face > 0; }
};

/// The scan that finds faces of at least `min_face` pixels in a frame of `size`. When that would scan more
/// than `max_pixels`, the scale is lowered to fit and `min_face` of the plan says what it finds instead.
/// `min_face` ≤ 0 gives a disabled plan.
ScanPlan plan_min_face(cv::Size size, double min_face, double max_pixels);

/// The scan of the frame scaled to `width` pixels wide (0 or wider than the frame: full size), then
/// doubled `upsample` times (the tracker's quick scan).
ScanPlan plan_width(cv::Size size, int width, int upsample);

/// Runs `plan` on a BGR frame: face boxes in the frame's pixels, best first. Empty for a disabled plan.
std::vector<Box> scan_faces(const FaceDetector& detector, const cv::Mat& bgr, const ScanPlan& plan);

/// A scan of one region of a frame (a face just lost, looked for again where it was going), scaled so that a
/// face `face_width` pixels wide comes out about 100 px: face boxes in the frame's pixels, best first. Cheap
/// (the region's pixels only); empty when the region misses the frame.
std::vector<Box> scan_region(const FaceDetector& detector, const cv::Mat& bgr, const Box& region,
                             double face_width, double threshold = 0);

/// Whether `plan` should find a face whose detector box is `box`, turned by `angle` radians in the image, in
/// a frame of `size`: wide enough (10 % margin), upright enough for a frontal detector (20°), inside the
/// frame. A tracked face that a scan does not find counts as a miss only then.
bool scan_sees(const ScanPlan& plan, const Box& box, double angle, cv::Size size);

/// Boxes of several scans of one frame, a face found by more than one kept once (the best-scored box of
/// any group overlapping by IoU > `overlap`), best first.
std::vector<Box> merge_boxes(std::vector<Box> boxes, double overlap = 0.4);

}  // namespace lddmm
