// One diffeomorphism for the display grid. The landmarks come from the paper's per-curve flows (one flow per
// facial curve, each with its own kernel); a grid whose nodes each follow their nearest curve tears between
// curves. The blended flow carries the plane with one smooth velocity field: the curves' own fields blended
// by a smooth partition of unity,
//     v(y, t) = Σ_p w_p(y, t) v_p(y, t),   v_p(y, t) = Σ_{j ∈ p} exp(−|y − x_j(t)|² / σ_p²) α_j(t),
//     w_p = softmax_p(s_p),   s_p(y, t) = log Σ_{j ∈ p} exp(−|y − x_j(t)|² / ρ²),
// with x_j(t), α_j(t) the per-curve flows' own paths. A smooth field's flow is a diffeomorphism: grid lines
// stay continuous and det J > 0 (the Jacobian F follows dF/dt = Dv F alongside). Near a curve's points its
// weight is close to 1, so they ride on their own curve's flow; ρ (the reach) trades that closeness against
// how sharply the field turns from one curve's to the next between them. With one curve, v is that curve's
// field.
#pragma once

#include <ATen/core/Tensor.h>

#include <Eigen/Core>

#include <vector>

#include "lddmm/flow/flow.hpp"
#include "lddmm/flow/points.hpp"

namespace lddmm {

/// The reach as a share of the crop side: on a 256-px crop 6 px, where a face's points land within 0.2 px of
/// their curves' flows on average (2 px at the mouth corners) and an 8-px grid keeps every cell's
/// orientation.
inline constexpr double kBlendReach = 6.0 / 256;

struct BlendOptions {
  double reach = 6;  // ρ, in the points' pixels (kBlendReach of the crop side)
  int substeps = 4;  // Heun steps per step of the curves' paths (doubled while a node folds, up to 64)
};

/// The blended field at y from the curves' points x ([n, 2]) and momenta a ([n, 2]) at one time: the velocity
/// and, when `jacobian` is given, its 2×2 spatial derivative Dv (rows: components of v).
Eigen::Vector2d blended_velocity(const Points& x, const Points& a, const CurveSet& curves, double reach,
                                 const Eigen::Vector2d& y, Eigen::Matrix2d* jacobian = nullptr);

struct BlendedPaths {
  std::vector<Points> nodes;  // the nodes at each time of the curves' paths (T + 1 entries)
  std::vector<double> det;    // det of the flow's Jacobian at t = 1, per node
};

/// Carries `nodes` ([m, 2]) with the blended field of one face whose per-curve flow went through
/// `point_path` and `momentum_path` ([T + 1, n, 2], as FlowTrace has them for one face: any floating dtype,
/// any device), linear in time between their steps.
BlendedPaths blend_flow(const at::Tensor& point_path, const at::Tensor& momentum_path, const CurveSet& curves,
                        const Points& nodes, const BlendOptions& options = {});

/// The same for face `b` of `layer`'s trace, the reach kBlendReach × `side`: the side of the square the
/// face's crop fills in the trace's frame (the crop's side; the mean face's frame × its scale).
BlendedPaths blend_trace(const DeformationLayer& layer, const FlowTrace& trace, int64_t b,
                         const Points& nodes, double side);

}  // namespace lddmm
