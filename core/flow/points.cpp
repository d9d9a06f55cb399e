#include "lddmm/flow/points.hpp"

#include <Eigen/Dense>
#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace lddmm {

Points apply_affine(const Affine2& map, const Points& p) {
  Points out(p.rows(), 2);
  for (Eigen::Index i = 0; i < p.rows(); ++i) {
    out.row(i) = (map.leftCols<2>() * p.row(i).transpose() + map.col(2)).transpose();
  }
  return out;
}

Affine2 invert_affine(const Affine2& map) {
  const Eigen::Matrix2d a = map.leftCols<2>();
  if (std::abs(a.determinant()) < 1e-300) throw std::invalid_argument("invert_affine: the map is singular");
  const Eigen::Matrix2d inv = a.inverse();
  Affine2 out;
  out.leftCols<2>() = inv;
  out.col(2) = -inv * map.col(2);
  return out;
}

Affine2 fit_affine(const Points& from, const Points& to) {
  if (from.rows() != to.rows() || from.rows() < 3)
    throw std::invalid_argument("fit_affine: needs two point sets of the same size, at least 3 points");
  Eigen::MatrixXd design(from.rows(), 3);
  design.leftCols<2>() = from;
  design.col(2).setOnes();
  const Eigen::MatrixXd sol = design.colPivHouseholderQr().solve(Eigen::MatrixXd(to));  // 3×2
  return sol.transpose();
}

Affine2 fit_similarity(const Points& from, const Points& to) {
  if (from.rows() != to.rows() || from.rows() < 2)
    throw std::invalid_argument("fit_similarity: needs two point sets of the same size, at least 2 points");
  const Eigen::Matrix3d t = Eigen::umeyama(from.transpose(), to.transpose(), true);
  return t.topRows<2>();
}

Points resample_polyline(const Points& poly, int count, bool closed) {
  if (poly.rows() == 0 || count <= 0)
    throw std::invalid_argument("resample_polyline: empty polyline or count");
  const Eigen::Index nv = poly.rows();
  const Eigen::Index nseg = closed ? nv : nv - 1;
  std::vector<double> cum(static_cast<size_t>(nseg) + 1, 0.0);
  for (Eigen::Index s = 0; s < nseg; ++s) {
    cum[static_cast<size_t>(s) + 1] =
        cum[static_cast<size_t>(s)] + (poly.row((s + 1) % nv) - poly.row(s)).norm();
  }
  const double total = cum.back();
  Points out(count, 2);
  if (nseg == 0 || total <= 0.0) {
    for (int k = 0; k < count; ++k) out.row(k) = poly.row(0);
    return out;
  }
  for (int k = 0; k < count; ++k) {
    double target;
    if (closed) {
      target = total * k / count;
    } else {
      target = count == 1 ? 0.0 : total * k / (count - 1);
    }
    auto it = std::upper_bound(cum.begin(), cum.end(), target);
    Eigen::Index s = std::clamp<Eigen::Index>(std::distance(cum.begin(), it) - 1, 0, nseg - 1);
    const double len = cum[static_cast<size_t>(s) + 1] - cum[static_cast<size_t>(s)];
    const double u = len > 0 ? std::clamp((target - cum[static_cast<size_t>(s)]) / len, 0.0, 1.0) : 0.0;
    out.row(k) = (1.0 - u) * poly.row(s) + u * poly.row((s + 1) % nv);
  }
  return out;
}

Eigen::RowVector2d closest_on_polyline(const Points& poly, bool closed, const Eigen::RowVector2d& q) {
  const Eigen::Index nv = poly.rows();
  if (nv == 0) throw std::invalid_argument("closest_on_polyline: empty polyline");
  Eigen::RowVector2d best = poly.row(0);
  double best_d = (q - best).squaredNorm();
  const Eigen::Index nseg = closed && nv > 2 ? nv : nv - 1;
  for (Eigen::Index s = 0; s < nseg; ++s) {
    const Eigen::RowVector2d a = poly.row(s);
    const Eigen::RowVector2d b = poly.row((s + 1) % nv);
    const Eigen::RowVector2d ab = b - a;
    const double l2 = ab.squaredNorm();
    const double u = l2 > 0 ? std::clamp((q - a).dot(ab) / l2, 0.0, 1.0) : 0.0;
    const Eigen::RowVector2d c = a + u * ab;
    const double d = (q - c).squaredNorm();
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

}  // namespace lddmm
