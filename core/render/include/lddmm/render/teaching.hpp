// The teaching view's flow: one face's template and momenta (image pixels) flowed again with a chosen
// integrator, number of steps and kernel scale, with extra points (clicked by the user) and a grid, so
// that every intermediate time t can be shown — the paper's Figure 2, live.
#pragma once

#include <vector>

#include "lddmm/flow/correspondence.hpp"
#include "lddmm/flow/flow.hpp"
#include "lddmm/flow/points.hpp"
#include "lddmm/flow/scheme.hpp"
#include "lddmm/render/scene.hpp"

namespace lddmm {

struct TeachingOptions {
  int steps = 8;
  Integrator integrator = Integrator::RK4;
  bool shooting = true;       // geodesic shooting (false: the momenta held constant, the authors' layer)
  double kernel_scale = 1.0;  // σ_V multiplier
  int grid_cells = 16;
  bool per_curve_grid = false;  // grid nodes ride on their nearest curve's flow (the paper's; tears)
};

struct TeachingFlow {
  std::vector<Points> points;    // x(t_k), k = 0..steps
  std::vector<Points> momenta;   // α(t_k)
  std::vector<Points> extra;     // the extra points at t_k
  std::vector<Points> carried;   // another scheme's points at t_k (the live view's red points at t = 1)
  std::vector<Points> grid;      // grid nodes at t_k
  std::vector<double> grid_det;  // det of the flow's Jacobian at t = 1 per node
  std::vector<int64_t>
      grid_curve;  // the per-curve grid's carrying curve per node; empty: one continuous flow
  int grid_cells = 0;
};

/// Flows `template_points` (the model scheme's mean face placed on the face, image pixels) with
/// `momenta` (image pixels). Each extra point flows with the curve nearest to it; the grid with the blended
/// flow (blended_flow.hpp), or with its nearest curve's (`per_curve_grid`). `carry`: another
/// scheme's points flow too, each with the curve that carries it, as the tracker carries them
/// (A⁻¹ ∘ φ_t ∘ A, A the correspondence's affine map, here in the face's frame).
TeachingFlow teach_flow(const Scheme& scheme, const Points& template_points, const Points& momenta,
                        const Points& extra, const TeachingOptions& options,
                        const Correspondence* carry = nullptr);

/// The scene at time t ∈ [0, 1] (linear between integrator steps): deformed grid, curves, momenta α(t)
/// at x(t), trajectories up to t, extra points (red) with their paths.
Scene teaching_scene(const Scheme& scheme, const TeachingFlow& flow, double t, const SceneOptions& options);

}  // namespace lddmm
