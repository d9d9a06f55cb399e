// dlib's parts of faces.hpp: the HOG frontal face detector and the 68-point shape predictor. Kept apart so
// that a build without dlib (the headless CUDA trainer, tools/cuda) can use the rest of the data code.
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "lddmm/face/faces.hpp"

namespace lddmm {

struct FaceDetector::Impl {
  dlib::frontal_face_detector detector = dlib::get_frontal_face_detector();
};

FaceDetector::FaceDetector() : impl_(std::make_unique<Impl>()) {}
FaceDetector::~FaceDetector() = default;
FaceDetector::FaceDetector(FaceDetector&&) noexcept = default;
FaceDetector& FaceDetector::operator=(FaceDetector&&) noexcept = default;

std::vector<Box> FaceDetector::detect(const cv::Mat& bgr, int upsample, double threshold) const {
  if (bgr.empty() || bgr.type() != CV_8UC3)
    throw std::invalid_argument("FaceDetector: needs an 8-bit BGR image");
  dlib::cv_image<dlib::bgr_pixel> view(bgr);
  dlib::array2d<unsigned char> grey;
  dlib::assign_image(grey, view);
  for (int k = 0; k < upsample; ++k) dlib::pyramid_up(grey);
  std::vector<dlib::rect_detection> dets;
  impl_->detector(grey, dets, threshold);
  const double f = 1.0 / (1 << upsample);
  std::vector<Box> out;
  for (const auto& d : dets) {
    out.push_back({d.rect.left() * f, d.rect.top() * f, static_cast<double>(d.rect.width()) * f,
                   static_cast<double>(d.rect.height()) * f, d.detection_confidence});
  }
  std::sort(out.begin(), out.end(), [](const Box& a, const Box& b) { return a.score > b.score; });
  return out;
}

struct ShapePredictor::Impl {
  dlib::shape_predictor predictor;
};

ShapePredictor::ShapePredictor(const std::string& file) : impl_(std::make_unique<Impl>()) {
  if (!std::filesystem::is_regular_file(file))
    throw std::runtime_error(file + ": dlib's shape predictor model is missing (install libdlib-data)");
  try {
    dlib::deserialize(file) >> impl_->predictor;
  } catch (const std::exception& e) {
    throw std::runtime_error(file + ": cannot read dlib's shape predictor (" + e.what() + ")");
  }
}
ShapePredictor::~ShapePredictor() = default;

Points ShapePredictor::predict(const cv::Mat& bgr, const Box& b) const {
  dlib::cv_image<dlib::bgr_pixel> view(bgr);
  const dlib::rectangle r(static_cast<long>(std::lround(b.x)), static_cast<long>(std::lround(b.y)),
                          static_cast<long>(std::lround(b.x + b.w)) - 1,
                          static_cast<long>(std::lround(b.y + b.h)) - 1);
  const dlib::full_object_detection shape = impl_->predictor(view, r);
  Points p(static_cast<Eigen::Index>(shape.num_parts()), 2);
  for (unsigned long k = 0; k < shape.num_parts(); ++k) {
    p(static_cast<Eigen::Index>(k), 0) = static_cast<double>(shape.part(k).x());
    p(static_cast<Eigen::Index>(k), 1) = static_cast<double>(shape.part(k).y());
  }
  return p;
}

}  // namespace lddmm
