#include "lddmm/face/faces.hpp"

#include "lddmm/flow/scheme.hpp"
#include "lddmm/io/scheme_files.hpp"

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace lddmm {

Box landmark_box(const Points& p) {
  const Eigen::RowVector2d lo = p.colwise().minCoeff(), hi = p.colwise().maxCoeff();
  return {lo.x(), lo.y(), hi.x() - lo.x(), hi.y() - lo.y(), 0};
}

double iou(const Box& a, const Box& b) {
  const double ix = std::max(0.0, std::min(a.x + a.w, b.x + b.w) - std::max(a.x, b.x));
  const double iy = std::max(0.0, std::min(a.y + a.h, b.y + b.h) - std::max(a.y, b.y));
  const double inter = ix * iy;
  const double uni = a.w * a.h + b.w * b.h - inter;
  return uni > 0 ? inter / uni : 0.0;
}

BoxMap BoxMap::fit(const std::vector<Box>& det, const std::vector<Box>& lm) {
  if (det.size() != lm.size() || det.empty())
    throw std::invalid_argument("BoxMap::fit: needs matching, non-empty box lists");
  double sx = 0, sy = 0, ss = 0, ww = 0;
  for (size_t k = 0; k < det.size(); ++k) {
    const double w = det[k].w;
    // Least squares of (lm − det centre) = dx·w, etc.: Σ w·v / Σ w².
    sx += w * (lm[k].cx() - det[k].cx());
    sy += w * (lm[k].cy() - det[k].cy());
    ss += w * std::max(lm[k].w, lm[k].h);
    ww += w * w;
  }
  return {sx / ww, sy / ww, ss / ww};
}

Box BoxMap::apply(const Box& d) const {
  const double side = scale * d.w;
  const double cx = d.cx() + dx * d.w, cy = d.cy() + dy * d.w;
  return {cx - side / 2, cy - side / 2, side, side, d.score};
}

Box BoxMap::invert(const Box& landmarks) const {
  const double w = std::max(landmarks.w, landmarks.h) / scale;
  const double cx = landmarks.cx() - dx * w, cy = landmarks.cy() - dy * w;
  return {cx - w / 2, cy - w / 2, w, w, landmarks.score};
}

BoxMap BoxMap::load(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file + ": no detector box map (run `lddmm-face boxmap`)");
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    BoxMap m{j.at("dx").get<double>(), j.at("dy").get<double>(), j.at("scale").get<double>()};
    if (!(m.scale > 0) || !std::isfinite(m.dx) || !std::isfinite(m.dy))
      throw std::runtime_error("scale must be positive");
    return m;
  } catch (const std::exception& e) {
    throw std::runtime_error(file + ": bad detector box map (" + e.what() + ")");
  }
}

BoxMap BoxMap::installed() { return load((scheme_dir().parent_path() / "dlib_boxmap.json").string()); }

Affine2 crop_map(const Eigen::RowVector2d& centre, double side, double angle, int S) {
  // Image → crop: centre to origin, rotate by −angle, scale to S, move to the crop centre.
  const double s = S / side, c = std::cos(angle) * s, sn = std::sin(angle) * s;
  Affine2 m;
  m << c, sn, S / 2.0 - (c * centre.x() + sn * centre.y()), -sn, c,
      S / 2.0 - (-sn * centre.x() + c * centre.y());
  return m;
}

Affine2 crop_face(const cv::Mat& bgr, const Eigen::RowVector2d& centre, double side, double angle, int S,
                  const std::array<double, 3>& mean, const std::array<double, 3>& stdv, float* out) {
  if (bgr.empty() || bgr.type() != CV_8UC3) throw std::invalid_argument("crop_face: needs a BGR 8-bit image");
  if (!(side > 1)) throw std::invalid_argument("crop_face: crop side must be positive");
  const Affine2 m = crop_map(centre, side, angle, S);
  // Reduce big faces first (area averaging) to about the training resolution: side ≈ 1.6 S.
  const double reduce = std::min(1.0, 1.6 * S / side);
  const cv::Mat* src = &bgr;
  cv::Mat small;
  Affine2 to_src = m;
  if (reduce < 0.8) {
    const double half = side * 0.75;  // covers the rotated square (√2/2 ≈ 0.71)
    const int x0 = std::max(0, static_cast<int>(std::floor(centre.x() - half)));
    const int y0 = std::max(0, static_cast<int>(std::floor(centre.y() - half)));
    const int x1 = std::min(bgr.cols, static_cast<int>(std::ceil(centre.x() + half)));
    const int y1 = std::min(bgr.rows, static_cast<int>(std::ceil(centre.y() + half)));
    if (x1 - x0 >= 2 && y1 - y0 >= 2) {
      const int w = std::max(1, static_cast<int>(std::lround((x1 - x0) * reduce)));
      const int h = std::max(1, static_cast<int>(std::lround((y1 - y0) * reduce)));
      cv::resize(bgr(cv::Rect(x0, y0, x1 - x0, y1 - y0)), small, cv::Size(w, h), 0, 0, cv::INTER_AREA);
      src = &small;
      // small pixel q = (p − (x0, y0)) · (w / (x1 − x0)), per axis.
      const double fx = static_cast<double>(w) / (x1 - x0), fy = static_cast<double>(h) / (y1 - y0);
      Eigen::Matrix3d from_small = Eigen::Matrix3d::Identity();
      from_small(0, 0) = 1 / fx;
      from_small(1, 1) = 1 / fy;
      from_small(0, 2) = x0;
      from_small(1, 2) = y0;
      to_src = m * from_small;
    }
  }
  cv::Mat warp(2, 3, CV_64F);
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 3; ++b) warp.at<double>(a, b) = to_src(a, b);
  cv::Mat crop;
  cv::warpAffine(*src, crop, warp, cv::Size(S, S), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                 cv::Scalar(0, 0, 0));
  const int plane = S * S;
  std::array<float, 3> scale{}, shift{};
  for (int ch = 0; ch < 3; ++ch) {
    scale[static_cast<size_t>(ch)] = static_cast<float>(1.0 / (255.0 * stdv[static_cast<size_t>(ch)]));
    shift[static_cast<size_t>(ch)] =
        static_cast<float>(-mean[static_cast<size_t>(ch)] / stdv[static_cast<size_t>(ch)]);
  }
  for (int yy = 0; yy < S; ++yy) {
    const cv::Vec3b* row = crop.ptr<cv::Vec3b>(yy);
    for (int xx = 0; xx < S; ++xx)
      for (int ch = 0; ch < 3; ++ch)
        out[ch * plane + yy * S + xx] =
            row[xx][2 - ch] * scale[static_cast<size_t>(ch)] + shift[static_cast<size_t>(ch)];
  }
  return m;
}

}  // namespace lddmm
