// The training loss of LDDMM-Face (method.md, "Loss"): per curve, a currents term between the deformed
// and the true curve in the RKHS of a Gaussian kernel of width σ_W, plus the mean point distance;
// summed over curves, divided by the face's normalising distance, averaged over faces. Optionally every
// point weighs the same in the landmark term (CurveLossOptions::point_weighted).
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

namespace lddmm {

struct Scheme;

struct CurveLossOptions {
  double beta = 0.1;  // weight of the currents term
  /// false (the paper): D_l,p is the mean distance over curve p's points, so every curve weighs the same
  /// and a point of a short curve weighs more than a jaw point. true: every point weighs the same (D_l,p =
  /// the sum of curve p's distances × C / N, N points in all), which is what NME averages; same scale.
  bool point_weighted = false;
};

class CurveLoss {
 public:
  /// curves: point indices per curve; closed[c] adds the segment last→first; sigma_w per curve;
  /// normalisation: the point pair whose true distance normalises each face.
  CurveLoss(std::vector<std::vector<int64_t>> curves, std::vector<bool> closed, std::vector<double> sigma_w,
            std::array<int64_t, 2> normalisation, CurveLossOptions options = {});
  /// From a scheme: its curves, σ_W (scaled by `scale` like CurveSet::from_scheme), its normalisation pair.
  static CurveLoss from_scheme(const Scheme& scheme, CurveLossOptions options = {}, double scale = 1.0);

  /// Mean loss over the batch; predicted and truth are [B, n, 2]. Differentiable in `predicted`.
  at::Tensor operator()(const at::Tensor& predicted, const at::Tensor& truth) const;

  /// Per-face terms, each [B, C] before normalisation: currents distance D_c and mean distance D_l.
  struct Terms {
    at::Tensor currents;
    at::Tensor landmarks;
    at::Tensor normaliser;  // [B]
  };
  Terms terms(const at::Tensor& predicted, const at::Tensor& truth) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace lddmm
