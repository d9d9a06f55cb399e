#include "lddmm/flow/correspondence.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace lddmm {

Correspondence correspond(const Scheme& source, const Scheme& target, int iterations) {
  if (source.mean_face.points.rows() != source.num_points ||
      target.mean_face.points.rows() != target.num_points)
    throw SchemeError("correspond: both schemes need a mean face (" + source.id + ", " + target.id + ")");
  // Bring the target into the source frame size first (frames may differ).
  const double ratio = source.mean_face.frame / target.mean_face.frame;
  Affine2 map = Affine2::Zero();
  map(0, 0) = map(1, 1) = ratio;
  const auto target_parts = target.point_parts();
  std::vector<Points> source_curves;
  for (size_t c = 0; c < source.curves.size(); ++c)
    source_curves.push_back(source.curve_points(static_cast<int>(c)));

  // For a target point at q with part `part`, the closest source curve of that part (any part if none).
  const auto closest = [&](const Eigen::RowVector2d& q, Part part, Eigen::RowVector2d& at) {
    int best = -1;
    double best_d = std::numeric_limits<double>::infinity();
    for (int pass = 0; pass < 2 && best < 0; ++pass) {
      for (size_t c = 0; c < source.curves.size(); ++c) {
        if (pass == 0 && source.curves[c].part != part) continue;
        const Eigen::RowVector2d p = closest_on_polyline(source_curves[c], source.curves[c].closed, q);
        const double d = (p - q).squaredNorm();
        if (d < best_d) best_d = d, best = static_cast<int>(c), at = p;
      }
    }
    return best;
  };

  Correspondence out;
  Points matched(target.num_points, 2);
  for (int it = 0; it < iterations; ++it) {
    const Points mapped = apply_affine(map, target.mean_face.points);
    for (int i = 0; i < target.num_points; ++i) {
      Eigen::RowVector2d at = Eigen::RowVector2d::Zero();
      closest(mapped.row(i), target_parts[static_cast<size_t>(i)], at);
      matched.row(i) = at;
    }
    const Affine2 next = fit_affine(target.mean_face.points, matched);
    const double change = (next - map).norm();
    map = next;
    if (change < 1e-12) break;
  }
  out.target_to_source = map;
  out.target_in_source = apply_affine(map, target.mean_face.points);
  out.point_curve.assign(static_cast<size_t>(target.num_points), -1);
  out.curve_map.assign(target.curves.size(), -1);
  double res = 0;
  for (size_t tc = 0; tc < target.curves.size(); ++tc) {
    const Curve& curve = target.curves[tc];
    // The source curve of the same part with the smallest mean distance to this whole curve.
    int best = -1;
    double best_mean = std::numeric_limits<double>::infinity();
    for (int pass = 0; pass < 2 && best < 0; ++pass) {
      for (size_t sc = 0; sc < source.curves.size(); ++sc) {
        if (pass == 0 && source.curves[sc].part != curve.part) continue;
        double sum = 0;
        for (int p : curve.points) {
          const Eigen::RowVector2d q = out.target_in_source.row(p);
          sum += (closest_on_polyline(source_curves[sc], source.curves[sc].closed, q) - q).norm();
        }
        const double mean = sum / static_cast<double>(curve.points.size());
        if (mean < best_mean) best_mean = mean, best = static_cast<int>(sc);
      }
    }
    out.curve_map[tc] = best;
    for (int p : curve.points) {
      out.point_curve[static_cast<size_t>(p)] = best;
      const Eigen::RowVector2d q = out.target_in_source.row(p);
      res += (closest_on_polyline(source_curves[static_cast<size_t>(best)],
                                  source.curves[static_cast<size_t>(best)].closed, q) -
              q)
                 .squaredNorm();
    }
  }
  out.rms_residual = std::sqrt(res / target.num_points);
  return out;
}

Correspondence rescale(const Correspondence& c, double source_scale, double target_scale) {
  // x = L y + b (target → source) becomes s x = (s / t) L (t y) + s b.
  Correspondence r = c;
  r.target_in_source = c.target_in_source * source_scale;
  r.target_to_source.leftCols<2>() = c.target_to_source.leftCols<2>() * (source_scale / target_scale);
  r.target_to_source.col(2) = c.target_to_source.col(2) * source_scale;
  return r;
}

}  // namespace lddmm
