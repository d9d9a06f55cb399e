#include "lddmm/flow/mean_face.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace lddmm {
namespace {

Points normalise(const Points& s) {
  Points c = s.rowwise() - s.colwise().mean();
  const double rms = std::sqrt(c.squaredNorm() / static_cast<double>(c.rows()));
  if (!(rms > 0)) throw std::invalid_argument("procrustes_mean: a shape has all its points at one place");
  return c / rms;
}

}  // namespace

ProcrustesMean procrustes_mean(const std::vector<Points>& shapes, int max_iterations, double tolerance) {
  if (shapes.empty()) throw std::invalid_argument("procrustes_mean: no shapes");
  const Eigen::Index n = shapes.front().rows();
  for (const Points& s : shapes) {
    if (s.rows() != n)
      throw std::invalid_argument("procrustes_mean: shapes have different numbers of points");
  }
  std::vector<Points> unit;
  unit.reserve(shapes.size());
  for (const Points& s : shapes) unit.push_back(normalise(s));
  ProcrustesMean out;
  out.mean = unit.front();
  std::vector<Points> aligned(unit.size());
  for (out.iterations = 1; out.iterations <= max_iterations; ++out.iterations) {
    Points sum = Points::Zero(n, 2);
    for (size_t k = 0; k < unit.size(); ++k) {
      aligned[k] = apply_affine(fit_similarity(unit[k], out.mean), unit[k]);
      sum += aligned[k];
    }
    // Re-normalise the mean and keep its orientation tied to the previous estimate (gauge fixing).
    Points next = normalise(sum / static_cast<double>(unit.size()));
    next = apply_affine(fit_similarity(next, out.mean), next);
    next = normalise(next);
    const double change = (next - out.mean).norm();
    out.mean = next;
    if (change < tolerance) break;
  }
  double res = 0;
  for (const Points& a : aligned) res += (a - out.mean).squaredNorm();
  out.rms_residual = std::sqrt(res / static_cast<double>(aligned.size() * static_cast<size_t>(n)));
  return out;
}

Points symmetrize(const Points& shape, const std::vector<int>& mirror) {
  if (static_cast<Eigen::Index>(mirror.size()) != shape.rows())
    throw std::invalid_argument("symmetrize: the mirror permutation does not match the shape");
  Points reflected(shape.rows(), 2);
  for (Eigen::Index i = 0; i < shape.rows(); ++i) {
    reflected(i, 0) = -shape(mirror[static_cast<size_t>(i)], 0);
    reflected(i, 1) = shape(mirror[static_cast<size_t>(i)], 1);
  }
  const Points back = apply_affine(fit_similarity(reflected, shape), reflected);
  return 0.5 * (shape + back);
}

std::vector<int> mirror_from_geometry(const Points& shape) {
  const double cx = shape.col(0).mean();
  const Eigen::Index n = shape.rows();
  std::vector<int> m(static_cast<size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i) {
    const Eigen::RowVector2d r(2 * cx - shape(i, 0), shape(i, 1));
    Eigen::Index best = 0;
    (shape.rowwise() - r).rowwise().squaredNorm().minCoeff(&best);
    m[static_cast<size_t>(i)] = static_cast<int>(best);
  }
  for (Eigen::Index i = 0; i < n; ++i) {
    if (m[static_cast<size_t>(m[static_cast<size_t>(i)])] != i)
      m[static_cast<size_t>(i)] = static_cast<int>(i);
  }
  return m;
}

Points place_in_frame(const Points& shape, double frame, double crop_factor) {
  // Only scale and translation change here; compute_mean_face makes the shape upright first.
  const Eigen::RowVector2d lo = shape.colwise().minCoeff();
  const Eigen::RowVector2d hi = shape.colwise().maxCoeff();
  const double side = (hi - lo).maxCoeff();
  if (!(side > 0)) throw std::invalid_argument("place_in_frame: degenerate shape");
  const double scale = frame / crop_factor / side;
  const Eigen::RowVector2d centre = 0.5 * (lo + hi);
  Points out = (shape.rowwise() - centre) * scale;
  out.rowwise() += Eigen::RowVector2d(frame / 2, frame / 2);
  return out;
}

Points compute_mean_face(const Scheme& scheme, const std::vector<Points>& shapes, double frame,
                         ProcrustesMean* stats, const Scheme* parent) {
  if (scheme.subset_of) {
    if (parent == nullptr || parent->id != scheme.subset_of->parent)
      throw std::invalid_argument("compute_mean_face: scheme " + scheme.id + " is a subset of " +
                                  scheme.subset_of->parent + ": pass that scheme as the parent");
    const Points full = compute_mean_face(*parent, shapes, frame, stats, nullptr);
    Points sub(scheme.num_points, 2);
    for (int i = 0; i < scheme.num_points; ++i)
      sub.row(i) = full.row(scheme.subset_of->indices[static_cast<size_t>(i)]);
    return place_in_frame(sub, frame);
  }
  for (const Points& s : shapes) {
    if (s.rows() != scheme.num_points)
      throw std::invalid_argument("compute_mean_face: a shape has " + std::to_string(s.rows()) +
                                  " points, scheme " + scheme.id + " has " +
                                  std::to_string(scheme.num_points));
  }
  ProcrustesMean pm = procrustes_mean(shapes);
  Points sym = symmetrize(pm.mean, scheme.mirror);
  // Make the face upright: the axis of symmetry (mid-points of mirror pairs) should be vertical.
  const Points mirrored_mid = [&] {
    Points m(sym.rows(), 2);
    for (Eigen::Index i = 0; i < sym.rows(); ++i)
      m.row(i) = 0.5 * (sym.row(i) + sym.row(scheme.mirror[static_cast<size_t>(i)]));
    return m;
  }();
  // The pair axis (from a point to its mirror) should be horizontal: average direction of pair vectors.
  Eigen::RowVector2d dir(0, 0);
  for (Eigen::Index i = 0; i < sym.rows(); ++i) {
    const Eigen::RowVector2d v = sym.row(scheme.mirror[static_cast<size_t>(i)]) - sym.row(i);
    dir += v.x() >= 0 ? v : Eigen::RowVector2d(-v);
  }
  const double angle = std::atan2(dir.y(), dir.x());
  Eigen::Matrix2d rot;
  rot << std::cos(angle), std::sin(angle), -std::sin(angle), std::cos(angle);
  Points upright = (sym.rowwise() - mirrored_mid.colwise().mean()) * rot.transpose();
  // Image coordinates: y grows downwards, so the eyes must lie above (smaller y than) the mouth.
  const auto parts = scheme.point_parts();
  double eyes_y = 0, mouth_y = 0;
  int n_eyes = 0, n_mouth = 0;
  for (Eigen::Index i = 0; i < upright.rows(); ++i) {
    if (parts[static_cast<size_t>(i)] == Part::Eyes) eyes_y += upright(i, 1), ++n_eyes;
    if (parts[static_cast<size_t>(i)] == Part::Mouth) mouth_y += upright(i, 1), ++n_mouth;
  }
  if (n_eyes > 0 && n_mouth > 0 && eyes_y / n_eyes > mouth_y / n_mouth) upright = -upright;
  if (stats != nullptr) *stats = pm;
  return place_in_frame(upright, frame);
}

}  // namespace lddmm
