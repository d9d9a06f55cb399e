#include "lddmm/viz/overlay.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <utility>

namespace lddmm {
namespace {

constexpr int kShift = 4;  // sub-pixel bits for OpenCV's drawing
constexpr double kScale = 1 << kShift;

cv::Point to_px(const Affine2& m, const Eigen::RowVector2d& p) {
  const Eigen::Vector2d q = m.leftCols<2>() * p.transpose() + m.col(2);
  return {cvRound(q.x() * kScale), cvRound(q.y() * kScale)};
}

void polyline(cv::Mat& img, const Affine2& m, const Points& pts, const std::vector<int>& idx, bool closed,
              const cv::Scalar& colour, int thickness) {
  std::vector<cv::Point> line;
  for (int i : idx) line.push_back(to_px(m, pts.row(i)));
  cv::polylines(img, line, closed && idx.size() > 2, colour, thickness, cv::LINE_AA, kShift);
}

}  // namespace

cv::Scalar det_colour(double det) {
  if (!(det > 0)) return {0, 0, 0};
  const double u = std::clamp(std::log2(det), -1.0, 1.0);  // −1: ×½, +1: ×2
  const double fade = 255.0 * (1.0 - std::abs(u));
  // BGR: expansion → red, compression → blue.
  return u >= 0 ? cv::Scalar(fade, fade, 255) : cv::Scalar(255, fade, fade);
}

void draw_flow(cv::Mat& img, const Scheme& scheme, const FlowDrawing& d, const Affine2& m,
               const DrawOptions& o) {
  const int n = d.grid_cells + 1;
  if (o.show_grid && d.grid_cells > 0 && d.grid.rows() == n * n &&
      static_cast<int>(d.grid_det.size()) == n * n) {
    for (int r = 0; r < n; ++r) {
      for (int c = 0; c < n; ++c) {
        for (const auto& [dr, dc] : {std::pair{0, 1}, std::pair{1, 0}}) {
          if (r + dr >= n || c + dc >= n) continue;
          const int a = r * n + c, b = (r + dr) * n + c + dc;
          // Each curve has its own diffeomorphism: the grid is continuous within a curve's region only.
          if (!d.grid_curve.empty() &&
              d.grid_curve[static_cast<size_t>(a)] != d.grid_curve[static_cast<size_t>(b)])
            continue;
          const double det = std::sqrt(
              std::max(0.0, d.grid_det[static_cast<size_t>(a)] * d.grid_det[static_cast<size_t>(b)]));
          cv::line(img, to_px(m, d.grid.row(a)), to_px(m, d.grid.row(b)), det_colour(det), 1, cv::LINE_AA,
                   kShift);
        }
      }
    }
  }
  if (o.show_trajectories && d.trajectory.size() > 1) {
    for (Eigen::Index i = 0; i < d.points.rows(); ++i) {
      for (size_t k = 1; k < d.trajectory.size(); ++k) {
        cv::line(img, to_px(m, d.trajectory[k - 1].row(i)), to_px(m, d.trajectory[k].row(i)),
                 cv::Scalar(0, 200, 255), 1, cv::LINE_AA, kShift);
      }
    }
  }
  for (const Curve& c : scheme.curves) {
    if (o.show_template)
      polyline(img, m, d.template_points, c.points, c.closed, cv::Scalar(150, 150, 150), o.thickness);
    polyline(img, m, d.points, c.points, c.closed, cv::Scalar(0, 190, 0), o.thickness + 1);
  }
  if (o.show_momenta && d.momenta.rows() == d.template_points.rows()) {
    for (Eigen::Index i = 0; i < d.momenta.rows(); ++i) {
      const Eigen::RowVector2d from = d.template_points.row(i);
      const Eigen::RowVector2d to = from + o.momentum_scale * d.momenta.row(i);
      cv::arrowedLine(img, to_px(m, from), to_px(m, to), cv::Scalar(255, 80, 0), 1, cv::LINE_AA, kShift,
                      0.25);
    }
  }
  for (Eigen::Index i = 0; i < d.points.rows(); ++i) {
    cv::circle(img, to_px(m, d.points.row(i)), static_cast<int>((2 + o.thickness / 2) * kScale),
               cv::Scalar(0, 255, 0), cv::FILLED, cv::LINE_AA, kShift);
  }
}

}  // namespace lddmm
