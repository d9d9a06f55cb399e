#include "lddmm/face/views.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <Eigen/Dense>

namespace lddmm {

UprightBox upright_box(const Points& p, const Scheme& scheme) {
  const Eigen::RowVector2d eye_a = p.row(scheme.normalisation[0]), eye_b = p.row(scheme.normalisation[1]);
  Eigen::RowVector2d axis = eye_b - eye_a;
  if (axis.x() < 0) axis = -axis;  // keep the face upright whichever way the pair is listed
  UprightBox u;
  u.angle = std::atan2(axis.y(), axis.x());
  const double co = std::cos(u.angle), si = std::sin(u.angle);
  const Eigen::RowVector2d mid = p.colwise().mean();
  // Into the face's frame: q = R(−angle)(p − mid).
  Eigen::Matrix2d r;
  r << co, si, -si, co;
  const Points q = (p.rowwise() - mid) * r.transpose();
  const Eigen::RowVector2d lo = q.colwise().minCoeff(), hi = q.colwise().maxCoeff();
  u.centre = mid + ((lo + hi) / 2) * r;  // R(angle) · the frame's box centre
  u.side = std::max(hi.x() - lo.x(), hi.y() - lo.y());
  return u;
}

double view_scale(int k) {
  if (k < 0) throw std::invalid_argument("view_scale: a view's index is not negative");
  const int pair = k / 2;
  if (pair == 0) return 1.0;
  const int step = (pair + 1) / 2;  // 1, 1, 2, 2, …
  return 1.0 + (pair % 2 == 1 ? -0.1 : 0.1) * step;
}

}  // namespace lddmm
