// Checks a screenshot the app made under Xvfb: the overlay's curves (their exact colour) lie on the faces
// of the generated clip, whose true landmarks are known. Arguments: shot.png truth.csv frame.
#include <opencv2/imgcodecs.hpp>

#include <cstdio>
#include <cstdlib>

#include "lddmm/render/scene.hpp"
#include "lddmm/track/landmark_io.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: shot_check shot.png truth.csv frame\n");
    return 2;
  }
  const cv::Mat img = cv::imread(argv[1], cv::IMREAD_COLOR);
  if (img.empty()) {
    std::fprintf(stderr, "shot_check: cannot read %s\n", argv[1]);
    return 1;
  }
  const long frame = std::atol(argv[3]);
  std::vector<cv::Rect> faces;
  for (const auto& r : lddmm::read_landmarks(argv[2]))
    if (r.frame == frame) {
      const double m = 0.15 * r.box.w;
      faces.emplace_back(static_cast<int>(r.box.x - m), static_cast<int>(r.box.y - m),
                         static_cast<int>(r.box.w + 2 * m), static_cast<int>(r.box.h + 2 * m));
    }
  const lddmm::Rgb c = lddmm::colours::kCurve;
  long inside = 0, outside = 0;
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x) {
      const cv::Vec3b p = img.at<cv::Vec3b>(y, x);
      if (std::abs(p[2] - c.r) > 30 || std::abs(p[1] - c.g) > 30 || std::abs(p[0] - c.b) > 30) continue;
      bool in = false;
      for (const cv::Rect& f : faces) in = in || f.contains({x, y});
      (in ? inside : outside) += 1;
    }
  std::printf("shot_check: %zu true faces on frame %ld; curve-coloured pixels: %ld on faces, %ld elsewhere\n",
              faces.size(), frame, inside, outside);
  const bool ok = !faces.empty() && inside > 300 * static_cast<long>(faces.size()) && outside * 10 < inside;
  return ok ? 0 : 1;
}
