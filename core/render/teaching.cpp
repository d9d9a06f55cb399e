#include "lddmm/render/teaching.hpp"

#include <torch/torch.h>

#include <Eigen/LU>

#include <algorithm>
#include <cmath>
#include <limits>

#include "lddmm/flow/blended_flow.hpp"
#include "lddmm/flow/register.hpp"
#include "lddmm/flow/tensor_points.hpp"

namespace lddmm {
namespace {

Points lerp(const std::vector<Points>& path, double t) {
  if (path.empty()) return {};
  const double pos = std::clamp(t, 0.0, 1.0) * static_cast<double>(path.size() - 1);
  const auto k = static_cast<size_t>(std::floor(pos));
  if (k + 1 >= path.size()) return path.back();
  const double f = pos - static_cast<double>(k);
  return (1 - f) * path[k] + f * path[k + 1];
}

// The curve of the template point nearest to each extra point, the curve that carries it.
std::vector<int64_t> nearest_curves(const Scheme& scheme, const Points& tmpl, const Points& extra) {
  std::vector<int64_t> owner;
  const auto point_curve = scheme.point_curve();
  for (Eigen::Index i = 0; i < extra.rows(); ++i) {
    Eigen::Index nearest = 0;
    (tmpl.rowwise() - extra.row(i)).rowwise().squaredNorm().minCoeff(&nearest);
    owner.push_back(point_curve[static_cast<size_t>(nearest)]);
  }
  return owner;
}

}  // namespace

TeachingFlow teach_flow(const Scheme& scheme, const Points& tmpl, const Points& momenta, const Points& extra,
                        const TeachingOptions& o, const Correspondence* carry) {
  // The face's frame: the similarity taking the scheme's mean face onto the placed template.
  const Affine2 sim = fit_similarity(scheme.mean_face.points, tmpl);
  const double scale = std::sqrt(std::abs(sim.leftCols<2>().determinant()));
  const DeformationLayer layer(CurveSet::from_scheme(scheme, scale * o.kernel_scale),
                               FlowOptions{o.integrator, std::max(1, o.steps), o.shooting});
  // Extra points: clicked points (nearest curve) and the grid (nearest curve of the mean face).
  std::vector<int64_t> owner = nearest_curves(scheme, tmpl, extra);
  Points all = extra;
  // Another scheme's points: its mean face in the source frame (A y), placed on the face, each with the
  // curve that carries it.
  const Eigen::Index m = carry != nullptr ? carry->target_in_source.rows() : 0;
  if (m > 0) {
    Points both(all.rows() + m, 2);
    both << all, apply_affine(sim, carry->target_in_source);
    all = both;
    owner.insert(owner.end(), carry->point_curve.begin(), carry->point_curve.end());
  }
  Grid grid;
  if (o.grid_cells > 0) grid = make_grid(scheme, o.grid_cells);
  if (o.grid_cells > 0 && o.per_curve_grid) {
    const Points g = apply_affine(sim, grid.nodes);
    Points both(all.rows() + g.rows(), 2);
    both << all, g;
    all = both;
    owner.insert(owner.end(), grid.curve.begin(), grid.curve.end());
  }
  const FlowTrace tr = all.rows() > 0
                           ? layer.trace(points_to_tensor(tmpl), points_to_tensor(momenta).unsqueeze(0),
                                         points_to_tensor(all), torch::tensor(owner, torch::kInt64))
                           : layer.trace(points_to_tensor(tmpl), points_to_tensor(momenta).unsqueeze(0));
  // sim ∘ A⁻¹ ∘ sim⁻¹: from the source frame back to the target scheme's, in the face's pixels.
  Affine2 back_to_target = Affine2::Zero();
  if (m > 0) {
    const auto as3 = [](const Affine2& a) {
      Eigen::Matrix3d h = Eigen::Matrix3d::Identity();
      h.topRows<2>() = a;
      return h;
    };
    back_to_target =
        (as3(sim) * as3(invert_affine(carry->target_to_source)) * as3(invert_affine(sim))).topRows<2>();
  }
  TeachingFlow f;
  const int64_t T = tr.point_path.size(0);
  for (int64_t k = 0; k < T; ++k) {
    f.points.push_back(tensor_to_points(tr.point_path[k][0]));
    f.momenta.push_back(tensor_to_points(tr.momentum_path[k][0]));
    if (all.rows() > 0) {
      const Points e = tensor_to_points(tr.extra_path[k][0]);
      f.extra.push_back(e.topRows(extra.rows()));
      if (m > 0) f.carried.push_back(apply_affine(back_to_target, e.middleRows(extra.rows(), m)));
      if (o.grid_cells > 0 && o.per_curve_grid) f.grid.push_back(e.bottomRows(e.rows() - extra.rows() - m));
    }
  }
  if (o.grid_cells > 0 && o.per_curve_grid) {
    const torch::Tensor det = tr.extra_det[0].to(torch::kFloat64).contiguous();
    f.grid_det.assign(det.data_ptr<double>() + extra.rows() + m, det.data_ptr<double>() + det.numel());
    f.grid_curve = grid.curve;
  } else if (o.grid_cells > 0) {
    BlendedPaths g = blend_trace(layer, tr, 0, apply_affine(sim, grid.nodes), scheme.mean_face.frame * scale);
    f.grid = std::move(g.nodes);
    f.grid_det = std::move(g.det);
  }
  f.grid_cells = grid.cells;
  return f;
}

Scene teaching_scene(const Scheme& scheme, const TeachingFlow& f, double t, const SceneOptions& o) {
  Scene s;
  if (f.points.empty()) return s;
  t = std::clamp(t, 0.0, 1.0);
  if (o.grid && !f.grid.empty()) grid_lines(s, lerp(f.grid, t), f.grid_cells, f.grid_det, f.grid_curve, t);
  const double pos = t * static_cast<double>(f.points.size() - 1);
  auto path_lines = [&](const std::vector<Points>& path, Rgb colour) {
    if (path.size() < 2) return;
    for (Eigen::Index i = 0; i < path.front().rows(); ++i)
      for (size_t k = 1; k < path.size() && static_cast<double>(k - 1) < pos; ++k) {
        const double end = std::min(1.0, pos - static_cast<double>(k - 1));
        const Eigen::RowVector2d a = path[k - 1].row(i), b = path[k].row(i);
        s.lines.push_back({a, a + end * (b - a), colour, 1, false});
      }
  };
  if (o.trajectories) path_lines(f.points, colours::kTrajectory);
  path_lines(f.extra, colours::kAddedPoint);
  const Points x = lerp(f.points, t), a = lerp(f.momenta, t);
  if (o.template_curves)
    for (const Curve& c : scheme.curves)
      for (size_t i = 0; i + 1 < c.points.size() + (c.closed ? 1 : 0); ++i)
        s.lines.push_back({f.points.front().row(c.points[i]),
                           f.points.front().row(c.points[(i + 1) % c.points.size()]), colours::kTemplate, 1,
                           false});
  if (o.curves)
    for (const Curve& c : scheme.curves)
      for (size_t i = 0; i + 1 < c.points.size() + (c.closed ? 1 : 0); ++i)
        s.lines.push_back(
            {x.row(c.points[i]), x.row(c.points[(i + 1) % c.points.size()]), colours::kCurve, 2, false});
  if (o.momenta)
    for (Eigen::Index i = 0; i < x.rows(); ++i)
      s.lines.push_back({x.row(i), x.row(i) + o.momentum_scale * a.row(i), colours::kMomentum, 1, true});
  if (o.landmarks)
    for (Eigen::Index i = 0; i < x.rows(); ++i) s.dots.push_back({x.row(i), colours::kModelPoint, 2});
  if (o.trajectories) path_lines(f.carried, colours::kAddedPoint);
  if (o.landmarks && !f.carried.empty()) {
    const Points e = lerp(f.carried, t);
    for (Eigen::Index i = 0; i < e.rows(); ++i) s.dots.push_back({e.row(i), colours::kAddedPoint, 2});
  }
  if (!f.extra.empty()) {
    const Points e = lerp(f.extra, t);
    for (Eigen::Index i = 0; i < e.rows(); ++i) s.dots.push_back({e.row(i), colours::kAddedPoint, 3});
  }
  return s;
}

}  // namespace lddmm
