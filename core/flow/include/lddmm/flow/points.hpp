// Small dense geometry types shared by core/: a shape is an n×2 row-major matrix of (x, y).
#pragma once

#include <Eigen/Core>

namespace lddmm {

/// n points in the plane, one (x, y) per row; row-major so that it maps directly onto a [n, 2] tensor.
using Points = Eigen::Matrix<double, Eigen::Dynamic, 2, Eigen::RowMajor>;

/// A 2-D affine map y = A x + b stored as [A | b].
using Affine2 = Eigen::Matrix<double, 2, 3>;

/// Applies an affine map to every row of `p`.
Points apply_affine(const Affine2& map, const Points& p);

/// The inverse of an invertible affine map.
Affine2 invert_affine(const Affine2& map);

/// Least-squares affine map taking `from` onto `to` (same number of rows, at least 3, not collinear).
Affine2 fit_affine(const Points& from, const Points& to);

/// Least-squares similarity (rotation, uniform scale, translation; no reflection) taking `from` onto `to`.
Affine2 fit_similarity(const Points& from, const Points& to);

/// Uniform arc-length resampling of the polyline `poly` (closed: the segment last→first is included)
/// at `count` points. Open polylines keep both end points; closed ones start at the first vertex.
Points resample_polyline(const Points& poly, int count, bool closed);

/// Closest point to `q` on the polyline `poly` (closed adds the segment last→first).
Eigen::RowVector2d closest_on_polyline(const Points& poly, bool closed, const Eigen::RowVector2d& q);

}  // namespace lddmm
