// The LDDMM deformation layer: one diffeomorphic flow per facial curve, driven by momenta on the curve's
// template points, with a Gaussian kernel of width σ_V per curve (method.md, "Deformation layer").
//
// forward() is differentiable. On CPU tensors it runs a fused kernel (per face and curve, with the
// discrete adjoint of the chosen Runge–Kutta integrator as its backward), on other devices a batched
// tensor-op formulation that LibTorch differentiates itself. trace() flows extra points (dense scheme
// points, grid nodes) with the curve they belong to, and returns their Jacobians, determinants and the
// trajectories; it is not differentiable.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lddmm {

struct Scheme;

enum class Integrator { Euler, Heun, RK4 };
const char* integrator_name(Integrator integrator);
std::optional<Integrator> parse_integrator(const std::string& name);
/// Order of accuracy: 1, 2, 4.
int integrator_order(Integrator integrator);

struct FlowOptions {
  Integrator integrator = Integrator::Heun;
  int steps = 2;
  /// true: geodesic shooting, momenta evolve by the Hamiltonian equations. false: the authors' variant,
  /// momenta constant in time.
  bool shooting = true;
  /// The authors' reference layer: constant momenta, 2 Euler steps (n_T = 3 time points).
  static FlowOptions authors() { return {Integrator::Euler, 2, false}; }
};

/// The curves a layer flows: point indices per curve (each point in exactly one curve) and σ_V per curve.
struct CurveSet {
  int64_t num_points = 0;
  std::vector<std::vector<int64_t>> curves;
  std::vector<double> sigma;
  /// From a scheme, σ_V by the scheme's rule scaled by `scale` (σ in the scheme's mean-face frame pixels;
  /// scale it when the coordinates live in another frame size).
  static CurveSet from_scheme(const Scheme& scheme, double scale = 1.0);
};

/// What trace() returns. B faces, n points, m extra points, T = steps.
struct FlowTrace {
  at::Tensor points;          // [B, n, 2] x(1)
  at::Tensor momenta;         // [B, n, 2] α(1)
  at::Tensor point_path;      // [T+1, B, n, 2] x at every step
  at::Tensor momentum_path;   // [T+1, B, n, 2] α at every step
  at::Tensor point_jacobian;  // [B, n, 2, 2] Jacobian of the flow at each landmark
  at::Tensor point_det;       // [B, n]
  at::Tensor extra;           // [B, m, 2] extra points at t = 1 (undefined when none were given)
  at::Tensor extra_path;      // [T+1, B, m, 2]
  at::Tensor extra_jacobian;  // [B, m, 2, 2]
  at::Tensor extra_det;       // [B, m]
};

class DeformationLayer {
 public:
  DeformationLayer(CurveSet curves, FlowOptions options = {});

  /// Deforms the template with the momenta. template_points: [n, 2] or [B, n, 2]; momenta: [B, n, 2]
  /// (same floating dtype and device). Returns x(1), [B, n, 2]; differentiable in both inputs.
  at::Tensor forward(const at::Tensor& template_points, const at::Tensor& momenta) const;

  /// The same flow written with batched tensor operations (any device; LibTorch's autograd). forward()
  /// uses it for non-CPU tensors; tests compare the two.
  at::Tensor forward_ops(const at::Tensor& template_points, const at::Tensor& momenta) const;

  /// Full flow, no gradient. extra: [m, 2] or [B, m, 2] points flowed with the curve given by
  /// extra_curve ([m], int64); both may be undefined. Non-CPU inputs are computed on the CPU and the
  /// results returned on the input's device.
  FlowTrace trace(const at::Tensor& template_points, const at::Tensor& momenta, const at::Tensor& extra = {},
                  const at::Tensor& extra_curve = {}) const;

  const CurveSet& curves() const;
  const FlowOptions& options() const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace lddmm
