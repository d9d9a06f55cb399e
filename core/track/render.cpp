#include "lddmm/render.hpp"

#include <opencv2/imgproc.hpp>

#include <string>

namespace lddmm {

void draw_result(cv::Mat& canvas, const FrameResult& result, const Scheme& model, const Scheme& output,
                 const OverlayOptions& o) {
  const bool own = output.id == model.id;
  const int thick = std::max(1, canvas.cols / 640);
  for (const FaceResult& f : result.faces) {
    if (f.flow) {
      FlowDrawing d;
      d.template_points = f.flow->template_points;
      d.points = f.raw;
      d.momenta = f.flow->momenta;
      d.trajectory = f.flow->trajectory;
      d.grid = f.flow->grid;
      d.grid_det = f.flow->grid_det;
      d.grid_curve = f.flow->grid_curve;
      d.grid_cells = f.flow->grid_cells;
      DrawOptions fo = o.flow;
      fo.thickness = thick;
      draw_flow(canvas, model, d, Affine2::Identity(), fo);
    }
    if (o.show_points) {
      const cv::Scalar colour = own ? cv::Scalar(0, 255, 0) : cv::Scalar(0, 0, 255);
      for (Eigen::Index i = 0; i < f.points.rows(); ++i)
        cv::circle(canvas, cv::Point2d(f.points(i, 0), f.points(i, 1)), 1 + thick, colour, cv::FILLED,
                   cv::LINE_AA);
    }
    if (o.show_boxes) {
      const cv::Scalar colour = f.detected ? cv::Scalar(0, 220, 255) : cv::Scalar(255, 200, 0);
      cv::rectangle(canvas, cv::Rect2d(f.box.x, f.box.y, f.box.w, f.box.h), colour, thick, cv::LINE_AA);
      cv::putText(canvas, "#" + std::to_string(f.id), cv::Point2d(f.box.x, f.box.y - 4),
                  cv::FONT_HERSHEY_SIMPLEX, 0.5 * thick, colour, thick, cv::LINE_AA);
    }
  }
}

}  // namespace lddmm
