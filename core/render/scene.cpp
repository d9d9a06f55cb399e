#include "lddmm/render/scene.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "lddmm/face/head_pose.hpp"

namespace lddmm {

Rgb det_rgb(double det) {
  if (!(det > 0)) return {0, 0, 0};
  const double u = std::clamp(std::log2(det), -1.0, 1.0);  // −1: ×½, +1: ×2
  const auto fade = static_cast<uint8_t>(std::lround(255.0 * (1.0 - std::abs(u))));
  return u >= 0 ? Rgb{255, fade, fade} : Rgb{fade, fade, 255};
}

namespace {

void curve_lines(Scene& s, const Scheme& scheme, const Points& p, Rgb colour, double width) {
  for (const Curve& c : scheme.curves) {
    const size_t n = c.points.size();
    for (size_t i = 0; i + 1 < n + (c.closed && n > 2 ? 1 : 0); ++i)
      s.lines.push_back({p.row(c.points[i]), p.row(c.points[(i + 1) % n]), colour, width, false});
  }
}

}  // namespace

void grid_lines(Scene& s, const Points& nodes, int cells, const std::vector<double>& det,
                const std::vector<int64_t>& curve, double t) {
  const int n = cells + 1;
  if (cells <= 0 || nodes.rows() != n * n || static_cast<int>(det.size()) != n * n) return;
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < n; ++c)
      for (const auto& [dr, dc] : {std::pair{0, 1}, std::pair{1, 0}}) {
        if (r + dr >= n || c + dc >= n) continue;
        const auto a = static_cast<size_t>(r * n + c), b = static_cast<size_t>((r + dr) * n + c + dc);
        if (!curve.empty() && curve[a] != curve[b]) continue;  // the per-curve grid: torn between curves
        const double both = det[a] * det[b];                   // a fold (≤ 0) stays black at every t
        const double d = both > 0 ? std::pow(std::sqrt(both), t) : 0.0;
        s.lines.push_back({nodes.row(static_cast<Eigen::Index>(a)), nodes.row(static_cast<Eigen::Index>(b)),
                           det_rgb(d), 1, false});
      }
}

Scene mapped_scene(const Scene& scene, const Affine2& a) {
  const auto map = [&a](const Eigen::RowVector2d& p) -> Eigen::RowVector2d {
    return (a.leftCols<2>() * p.transpose() + a.col(2)).transpose();
  };
  Scene s = scene;
  for (Scene::Line& l : s.lines) {
    l.a = map(l.a);
    l.b = map(l.b);
  }
  for (Scene::Dot& d : s.dots) d.p = map(d.p);
  for (Scene::Label& t : s.labels) t.p = map(t.p);
  return s;
}

Affine2 mirror_map(int width) {
  Affine2 a;
  a << -1, 0, width - 1, 0, 1, 0;
  return a;
}

void pose_axes_lines(Scene& s, const Points& points68, int frame_width, int frame_height) {
  const HeadPoseEstimator est(mean_face_3d(), Camera::for_frame(frame_width, frame_height));
  const auto pose = est.estimate(points68);
  if (!pose) return;
  // The mean face's nose tip and 60 mm along each head axis, in the camera frame's axes (y down, z away).
  const Eigen::RowVector3d nose(mean_face_3d()(30, 0), -mean_face_3d()(30, 1), -mean_face_3d()(30, 2));
  Eigen::MatrixX3d ends(4, 3);
  ends << nose, nose + Eigen::RowVector3d(60, 0, 0), nose + Eigen::RowVector3d(0, 60, 0),
      nose + Eigen::RowVector3d(0, 0, -60);  // z towards the camera, out of the face
  const Points p = est.project_points(*pose, ends);
  if (!p.allFinite()) return;
  s.lines.push_back({p.row(0), p.row(1), colours::kAxisX, 2, true});
  s.lines.push_back({p.row(0), p.row(2), colours::kAxisY, 2, true});
  s.lines.push_back({p.row(0), p.row(3), colours::kAxisZ, 2, true});
}

Scene build_scene(const FrameResult& result, const Scheme& model, const Scheme& output,
                  const SceneOptions& o) {
  Scene s;
  const bool own = output.id == model.id;
  const bool dense_of_model = output.id.rfind(model.id + "@", 0) == 0;
  for (const FaceResult& f : result.faces) {
    if (f.flow) {
      const FaceFlow& fl = *f.flow;
      if (o.grid) grid_lines(s, fl.grid, fl.grid_cells, fl.grid_det, fl.grid_curve);
      if (o.trajectories && fl.trajectory.size() > 1)
        for (Eigen::Index i = 0; i < fl.trajectory.front().rows(); ++i)
          for (size_t k = 1; k < fl.trajectory.size(); ++k)
            s.lines.push_back(
                {fl.trajectory[k - 1].row(i), fl.trajectory[k].row(i), colours::kTrajectory, 1, false});
      if (o.template_curves) curve_lines(s, model, fl.template_points, colours::kTemplate, 1);
    }
    if (o.curves && f.raw.rows() == model.num_points) curve_lines(s, model, f.raw, colours::kCurve, 2);
    if (f.flow && o.momenta && f.flow->momenta.rows() == f.flow->template_points.rows())
      for (Eigen::Index i = 0; i < f.flow->momenta.rows(); ++i) {
        const Eigen::RowVector2d from = f.flow->template_points.row(i);
        s.lines.push_back(
            {from, from + o.momentum_scale * f.flow->momenta.row(i), colours::kMomentum, 1, true});
      }
    if (o.landmarks) {
      for (Eigen::Index i = 0; i < f.points.rows(); ++i) {
        // Added points: another scheme's, or a dense scheme's points between the model's own (a dense
        // scheme lists the model's points first, at their own positions: those stay green).
        const bool added = !own && !(dense_of_model && i < model.num_points);
        s.dots.push_back({f.points.row(i), added ? colours::kAddedPoint : colours::kModelPoint, 2});
        if (o.indices)
          s.labels.push_back({f.points.row(i) + Eigen::RowVector2d(3, -3), std::to_string(i),
                              added ? colours::kAddedPoint : colours::kModelPoint, 0.6});
      }
    }
    if (o.pose_axes && o.frame_width > 0) {
      const Points& p68 = model.id == "300w68" ? f.raw : f.points;
      if (p68.rows() == 68 && (model.id == "300w68" || output.id == "300w68"))
        pose_axes_lines(s, p68, o.frame_width, o.frame_height);
    }
    if (o.boxes) {
      const Rgb c = f.detected ? colours::kDetected : colours::kFollowed;
      const Eigen::RowVector2d tl(f.box.x, f.box.y), tr(f.box.x + f.box.w, f.box.y),
          br(f.box.x + f.box.w, f.box.y + f.box.h), bl(f.box.x, f.box.y + f.box.h);
      s.lines.push_back({tl, tr, c, 1, false});
      s.lines.push_back({tr, br, c, 1, false});
      s.lines.push_back({br, bl, c, 1, false});
      s.lines.push_back({bl, tl, c, 1, false});
      char label[32];
      std::snprintf(label, sizeof label, "#%d %.2f", f.id, f.confidence);  // id and confidence
      s.labels.push_back({tl + Eigen::RowVector2d(0, -4), label, c, 1});
    }
  }
  return s;
}

}  // namespace lddmm
