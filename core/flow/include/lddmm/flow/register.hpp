// Registration: the momenta that flow a scheme's template onto given landmarks (LDDMM shape matching with
// the layer and the loss), and a display grid whose nodes ride on the nearest curve's flow.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "lddmm/flow/correspondence.hpp"
#include "lddmm/flow/flow.hpp"
#include "lddmm/flow/loss.hpp"
#include "lddmm/flow/points.hpp"
#include "lddmm/flow/scheme.hpp"

namespace lddmm {

struct FitOptions {
  int iterations = 300;
  double learning_rate = 1.0;  // Adam step in momentum units (pixels of the template frame)
};

struct FitResult {
  at::Tensor momenta;  // [B, n, 2]
  double initial_loss = 0;
  double final_loss = 0;
};

/// Momenta α(0) minimising loss(flow(template, α), target) by Adam with a cosine-decayed step.
/// template_points: [n, 2]; target: [B, n, 2]; both in the layer's frame.
FitResult fit_momenta(const DeformationLayer& layer, const CurveLoss& loss, const at::Tensor& template_points,
                      const at::Tensor& target, const FitOptions& options = {});

/// Another scheme's points placed by the source scheme's flow (method.md, "cross-scheme"): the target
/// mean face is mapped into the source frame (affine A of the correspondence), each point flows with the
/// source curve that carries it, and the result is mapped back: A⁻¹ ∘ φ ∘ A. Returns [B, m, 2] (double).
at::Tensor carry_points(const DeformationLayer& layer, const Correspondence& correspondence,
                        const at::Tensor& template_points, const at::Tensor& momenta);

/// A regular grid over the square [0, frame]², cells × cells cells; each node is assigned to the mean
/// face's nearest curve, whose flow carries it.
struct Grid {
  Points nodes;                // (cells + 1)² nodes, row after row
  std::vector<int64_t> curve;  // carrying curve per node
  int cells = 0;
};
Grid make_grid(const Scheme& scheme, int cells);

}  // namespace lddmm
