#include "lddmm/track/detect.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace lddmm {

ScanPlan plan_min_face(cv::Size size, double min_face, double max_pixels) {
  if (!(min_face > 0) || size.area() <= 0) return {0, 0, 0};
  double scale = kDetectorWindow / min_face;
  const double pixels = static_cast<double>(size.area()) * scale * scale;
  if (max_pixels > 0 && pixels > max_pixels) scale *= std::sqrt(max_pixels / pixels);
  return {scale, kDetectorWindow / scale, 0};
}

ScanPlan plan_width(cv::Size size, int width, int upsample) {
  if (size.area() <= 0) return {0, 0, 0};
  double scale = width > 0 && size.width > width ? static_cast<double>(width) / size.width : 1.0;
  scale *= std::ldexp(1.0, std::max(0, upsample));
  return {scale, kDetectorWindow / scale, 0};
}

std::vector<Box> scan_faces(const FaceDetector& detector, const cv::Mat& bgr, const ScanPlan& plan) {
  if (!plan.enabled() || bgr.empty()) return {};
  cv::Mat scanned = bgr;
  const double f = plan.scale;
  if (std::abs(f - 1.0) > 1e-6) {
    const cv::Size to(std::max(1, static_cast<int>(std::lround(bgr.cols * f))),
                      std::max(1, static_cast<int>(std::lround(bgr.rows * f))));
    cv::resize(bgr, scanned, to, 0, 0, f < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  }
  // The window cannot fit: nothing to find (dlib would scan nothing anyway).
  if (scanned.cols < kDetectorWindow / 2 || scanned.rows < kDetectorWindow / 2) return {};
  const double fx = static_cast<double>(scanned.cols) / bgr.cols,
               fy = static_cast<double>(scanned.rows) / bgr.rows;
  std::vector<Box> boxes = detector.detect(scanned, 0, plan.threshold);
  for (Box& b : boxes) {
    b.x /= fx;
    b.w /= fx;
    b.y /= fy;
    b.h /= fy;
  }
  return boxes;
}

std::vector<Box> scan_region(const FaceDetector& detector, const cv::Mat& bgr, const Box& region,
                             double face_width, double threshold) {
  const cv::Rect r = cv::Rect(static_cast<int>(std::floor(region.x)), static_cast<int>(std::floor(region.y)),
                              static_cast<int>(std::ceil(region.w)), static_cast<int>(std::ceil(region.h))) &
                     cv::Rect(0, 0, bgr.cols, bgr.rows);
  if (r.width < 8 || r.height < 8 || !(face_width > 0)) return {};
  // At least the 80-px window, at most four times the region's pixels.
  const double scale = std::clamp(100 / face_width, 0.05, 2.0);
  std::vector<Box> boxes = scan_faces(detector, bgr(r), {scale, kDetectorWindow / scale, threshold});
  for (Box& b : boxes) {
    b.x += r.x;
    b.y += r.y;
  }
  return boxes;
}

bool scan_sees(const ScanPlan& plan, const Box& box, double angle, cv::Size size) {
  constexpr double kUpright = 20 * M_PI / 180;
  return plan.enabled() && box.w >= 1.1 * plan.min_face &&
         std::abs(std::remainder(angle, 2 * M_PI)) <= kUpright && box.x >= 0 && box.y >= 0 &&
         box.x + box.w <= size.width && box.y + box.h <= size.height;
}

std::vector<Box> merge_boxes(std::vector<Box> boxes, double overlap) {
  std::stable_sort(boxes.begin(), boxes.end(), [](const Box& a, const Box& b) { return a.score > b.score; });
  std::vector<Box> kept;
  for (const Box& b : boxes) {
    const bool seen =
        std::any_of(kept.begin(), kept.end(), [&](const Box& k) { return iou(k, b) > overlap; });
    if (!seen) kept.push_back(b);
  }
  return kept;
}

}  // namespace lddmm
