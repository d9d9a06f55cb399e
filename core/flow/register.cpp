#include "lddmm/flow/register.hpp"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace lddmm {

FitResult fit_momenta(const DeformationLayer& layer, const CurveLoss& loss, const at::Tensor& tmpl,
                      const at::Tensor& target, const FitOptions& options) {
  if (target.dim() != 3) throw std::invalid_argument("fit_momenta: target must be [B, n, 2]");
  torch::Tensor momenta = torch::zeros_like(target).set_requires_grad(true);
  torch::optim::Adam adam({momenta}, torch::optim::AdamOptions(options.learning_rate));
  FitResult out;
  for (int it = 0; it < options.iterations; ++it) {
    const double lr = options.learning_rate * 0.5 * (1 + std::cos(M_PI * it / options.iterations));
    static_cast<torch::optim::AdamOptions&>(adam.param_groups()[0].options()).lr(lr);
    adam.zero_grad();
    const torch::Tensor value = loss(layer.forward(tmpl, momenta), target);
    if (it == 0) out.initial_loss = value.item<double>();
    value.backward();
    adam.step();
  }
  {
    torch::NoGradGuard guard;
    out.final_loss = loss(layer.forward(tmpl, momenta), target).item<double>();
  }
  out.momenta = momenta.detach();
  return out;
}

at::Tensor carry_points(const DeformationLayer& layer, const Correspondence& corr, const at::Tensor& tmpl,
                        const at::Tensor& momenta) {
  const Points& t = corr.target_in_source;
  const torch::Tensor extra = torch::from_blob(const_cast<double*>(t.data()), {t.rows(), 2}, torch::kFloat64)
                                  .clone()
                                  .to(momenta.scalar_type());
  const std::vector<int64_t> owner(corr.point_curve.begin(), corr.point_curve.end());
  const torch::Tensor curves = torch::tensor(owner, torch::kInt64);
  const torch::Tensor moved =
      layer.trace(tmpl, momenta, extra, curves).extra.to(torch::kCPU, torch::kFloat64);
  const Affine2 back = invert_affine(corr.target_to_source);
  // Eigen stores the 2×3 map column by column: viewed as [3, 2] and transposed it reads [A | b].
  const torch::Tensor lin =
      torch::from_blob(const_cast<double*>(back.data()), {3, 2}, torch::kFloat64).t().clone();
  return moved.matmul(lin.narrow(1, 0, 2).t()) + lin.select(1, 2);
}

Grid make_grid(const Scheme& scheme, int cells) {
  if (cells < 1) throw std::invalid_argument("make_grid: needs at least one cell");
  const double frame = scheme.mean_face.frame;
  std::vector<Points> curves;
  for (size_t c = 0; c < scheme.curves.size(); ++c)
    curves.push_back(scheme.curve_points(static_cast<int>(c)));
  Grid g;
  g.cells = cells;
  g.nodes.resize((cells + 1) * (cells + 1), 2);
  g.curve.resize(static_cast<size_t>((cells + 1) * (cells + 1)));
  for (int r = 0; r <= cells; ++r) {
    for (int c = 0; c <= cells; ++c) {
      const int k = r * (cells + 1) + c;
      const Eigen::RowVector2d q(frame * c / cells, frame * r / cells);
      g.nodes.row(k) = q;
      double best = std::numeric_limits<double>::infinity();
      for (size_t cv = 0; cv < curves.size(); ++cv) {
        const double d = (closest_on_polyline(curves[cv], scheme.curves[cv].closed, q) - q).squaredNorm();
        if (d < best) best = d, g.curve[static_cast<size_t>(k)] = static_cast<int64_t>(cv);
      }
    }
  }
  return g;
}

}  // namespace lddmm
