#include "lddmm/render/render.hpp"

#include <opencv2/imgproc.hpp>

namespace lddmm {

void paint_scene(cv::Mat& canvas, const Scene& scene, double line_width) {
  constexpr int kShift = 4;  // sub-pixel precision: coordinates × 16
  const auto px = [](const Eigen::RowVector2d& p) {
    return cv::Point(static_cast<int>(std::lround(p.x() * 16)), static_cast<int>(std::lround(p.y() * 16)));
  };
  const auto bgr = [](Rgb c) { return cv::Scalar(c.b, c.g, c.r); };
  for (const Scene::Line& l : scene.lines) {
    const int w = std::max(1, static_cast<int>(std::lround(l.width * line_width)));
    if (l.arrow)
      cv::arrowedLine(canvas, px(l.a), px(l.b), bgr(l.colour), w, cv::LINE_AA, kShift, 0.25);
    else
      cv::line(canvas, px(l.a), px(l.b), bgr(l.colour), w, cv::LINE_AA, kShift);
  }
  for (const Scene::Dot& d : scene.dots)
    cv::circle(canvas, px(d.p), static_cast<int>(std::lround(d.radius * line_width * 16)), bgr(d.colour),
               cv::FILLED, cv::LINE_AA, kShift);
  for (const Scene::Label& t : scene.labels)
    cv::putText(canvas, t.text, cv::Point2d(t.p.x(), t.p.y()), cv::FONT_HERSHEY_SIMPLEX,
                0.5 * t.size * line_width, bgr(t.colour), std::max(1, static_cast<int>(line_width)),
                cv::LINE_AA);
}

void draw_result(cv::Mat& canvas, const FrameResult& result, const Scheme& model, const Scheme& output,
                 const SceneOptions& options) {
  SceneOptions o = options;
  if (o.frame_width == 0) {
    o.frame_width = canvas.cols;
    o.frame_height = canvas.rows;
  }
  paint_scene(canvas, build_scene(result, model, output, o), std::max(1.0, canvas.cols / 640.0));
}

}  // namespace lddmm
