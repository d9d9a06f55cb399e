// Face boxes: the landmarks' box, dlib's frontal face detector, the fitted map from a detector box to
// the crop box the model was trained with, and dlib's 68-point shape predictor as a baseline.
#pragma once

#include <opencv2/core.hpp>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "lddmm/flow/points.hpp"

namespace lddmm {

struct Box {
  double x = 0, y = 0, w = 0, h = 0;  // top-left corner and size, pixels
  double score = 0;                   // detector confidence (0 for a box made from landmarks)
  double cx() const { return x + w / 2; }
  double cy() const { return y + h / 2; }
};

/// The bounding box of a set of landmarks.
Box landmark_box(const Points& points);

/// Intersection over union of two boxes.
double iou(const Box& a, const Box& b);

/// dlib's HOG frontal face detector. Not thread-safe: one per thread.
class FaceDetector {
 public:
  FaceDetector();
  ~FaceDetector();
  FaceDetector(FaceDetector&&) noexcept;
  FaceDetector& operator=(FaceDetector&&) noexcept;
  /// Faces in a BGR image, best first. `upsample` doubles the image that many times first (finds smaller
  /// faces); `threshold` is added to dlib's (below 0: more faces, and more that are not).
  std::vector<Box> detect(const cv::Mat& bgr, int upsample = 0, double threshold = 0) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Maps a detector box to the landmark box it stands for: centre and size as linear functions of the
/// detector box's size, fitted by least squares on faces where both are known.
struct BoxMap {
  double dx = 0, dy = 0, scale = 1;  // centre offset and side, in units of the detector box width
  static BoxMap fit(const std::vector<Box>& detected, const std::vector<Box>& landmarks);
  /// Reads a map written by `lddmm-face boxmap` (JSON with dx, dy, scale); throws std::runtime_error.
  static BoxMap load(const std::string& file);
  /// The installed map (resources/dlib_boxmap.json beside the schemes).
  static BoxMap installed();
  Box apply(const Box& detected) const;
  /// The detector box a landmark box would come from (the inverse of apply).
  Box invert(const Box& landmarks) const;
};

/// The image → crop map of a square crop of side `side` around `centre`, its axes turned by `angle` radians
/// (counter-clockwise in the image), resized to S × S (pixel centres at integer coordinates): the map
/// crop_face and FaceDataset::sample crop with.
Affine2 crop_map(const Eigen::RowVector2d& centre, double side, double angle, int S);

/// A square crop for the network: side `side` pixels around `centre`, its axes turned by `angle` radians
/// (counter-clockwise in the image), resized to S × S. Large faces are first reduced with area averaging
/// so that the crop resembles the training crops (which come from images whose landmark box is about
/// 1.25 S pixels). Writes normalised RGB CHW floats (S·S·3) and returns the image → crop affine map.
Affine2 crop_face(const cv::Mat& bgr, const Eigen::RowVector2d& centre, double side, double angle, int S,
                  const std::array<double, 3>& mean, const std::array<double, 3>& std, float* out);

/// dlib's 68-point shape predictor (an ensemble of regression trees).
class ShapePredictor {
 public:
  explicit ShapePredictor(
      const std::string& model_file = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat");
  ~ShapePredictor();
  Points predict(const cv::Mat& bgr, const Box& box) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lddmm
