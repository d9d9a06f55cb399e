#include "lddmm/flow/loss.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>

#include "lddmm/flow/scheme.hpp"

namespace lddmm {

struct CurveLoss::Impl {
  int64_t num_curves = 0;
  int64_t max_points = 0;
  int64_t max_segments = 0;
  at::Tensor point_index;  // [C, P] padded with the curve's first point
  at::Tensor point_mask;   // [C, P] 1 for real points
  at::Tensor point_count;  // [C] the divisor of each curve's summed distances
  at::Tensor seg_from;     // [C, S] padded
  at::Tensor seg_to;       // [C, S]
  at::Tensor seg_mask;     // [C, S]
  at::Tensor inv_w2;       // [C] 1/σ_W²
  std::array<int64_t, 2> norm{};
  CurveLossOptions options;
};

CurveLoss::CurveLoss(std::vector<std::vector<int64_t>> curves, std::vector<bool> closed,
                     std::vector<double> sigma_w, std::array<int64_t, 2> normalisation,
                     CurveLossOptions options) {
  if (curves.empty() || closed.size() != curves.size() || sigma_w.size() != curves.size())
    throw std::invalid_argument("CurveLoss: one closed flag and one σ_W per curve are needed");
  auto impl = std::make_shared<Impl>();
  const int64_t C = static_cast<int64_t>(curves.size());
  int64_t P = 1, S = 1;
  for (size_t c = 0; c < curves.size(); ++c) {
    if (curves[c].empty()) throw std::invalid_argument("CurveLoss: empty curve");
    const int64_t n = static_cast<int64_t>(curves[c].size());
    P = std::max(P, n);
    S = std::max(S, closed[c] && n > 2 ? n : n - 1);
  }
  std::vector<int64_t> pidx(static_cast<size_t>(C * P)), from(static_cast<size_t>(C * S)),
      to(static_cast<size_t>(C * S));
  std::vector<double> pmask(static_cast<size_t>(C * P), 0.0), smask(static_cast<size_t>(C * S), 0.0), count,
      inv;
  for (int64_t c = 0; c < C; ++c) {
    const auto& cv = curves[static_cast<size_t>(c)];
    const int64_t n = static_cast<int64_t>(cv.size());
    const int64_t ns = closed[static_cast<size_t>(c)] && n > 2 ? n : n - 1;
    for (int64_t k = 0; k < P; ++k) {
      pidx[static_cast<size_t>(c * P + k)] = k < n ? cv[static_cast<size_t>(k)] : cv.front();
      pmask[static_cast<size_t>(c * P + k)] = k < n ? 1.0 : 0.0;
    }
    for (int64_t k = 0; k < S; ++k) {
      const bool real = k < ns;
      from[static_cast<size_t>(c * S + k)] = real ? cv[static_cast<size_t>(k)] : cv.front();
      to[static_cast<size_t>(c * S + k)] = real ? cv[static_cast<size_t>((k + 1) % n)] : cv.front();
      smask[static_cast<size_t>(c * S + k)] = real ? 1.0 : 0.0;
    }
    count.push_back(static_cast<double>(n));
    const double s = sigma_w[static_cast<size_t>(c)];
    if (!(s > 0)) throw std::invalid_argument("CurveLoss: σ_W must be positive");
    inv.push_back(1.0 / (s * s));
  }
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  impl->num_curves = C;
  impl->max_points = P;
  impl->max_segments = S;
  impl->point_index = torch::tensor(pidx, i64);
  impl->point_mask = torch::tensor(pmask, f64).view({C, P});
  if (options.point_weighted) {
    // The sum of a curve's distances over the mean number of points per curve: every point weighs C / N.
    double total = 0;
    for (double n : count) total += n;
    std::fill(count.begin(), count.end(), total / static_cast<double>(C));
  }
  impl->point_count = torch::tensor(count, f64);
  impl->seg_from = torch::tensor(from, i64);
  impl->seg_to = torch::tensor(to, i64);
  impl->seg_mask = torch::tensor(smask, f64).view({C, S});
  impl->inv_w2 = torch::tensor(inv, f64);
  impl->norm = normalisation;
  impl->options = options;
  impl_ = std::move(impl);
}

CurveLoss CurveLoss::from_scheme(const Scheme& scheme, CurveLossOptions options, double scale) {
  std::vector<std::vector<int64_t>> curves;
  std::vector<bool> closed;
  for (const Curve& c : scheme.curves) {
    curves.emplace_back(c.points.begin(), c.points.end());
    closed.push_back(c.closed);
  }
  std::vector<double> sw = scheme.sigma_w();
  for (double& s : sw) s *= scale;
  return CurveLoss(std::move(curves), std::move(closed), std::move(sw),
                   {scheme.normalisation[0], scheme.normalisation[1]}, options);
}

CurveLoss::Terms CurveLoss::terms(const at::Tensor& pred, const at::Tensor& truth) const {
  const Impl& m = *impl_;
  if (pred.dim() != 3 || pred.sizes() != truth.sizes() || pred.size(2) != 2)
    throw std::invalid_argument("CurveLoss: predicted and true points must both be [B, n, 2]");
  const int64_t B = pred.size(0);
  const int64_t C = m.num_curves;
  const int64_t S = m.max_segments;
  const int64_t P = m.max_points;
  const auto dev = pred.device();
  const auto dt = pred.scalar_type();
  const at::Tensor inv = m.inv_w2.to(dev, dt).view({1, C, 1, 1});
  const at::Tensor smask = m.seg_mask.to(dev, dt).view({1, C, S, 1});
  const at::Tensor from = m.seg_from.to(dev);
  const at::Tensor to = m.seg_to.to(dev);
  // Centres and tangents of the segments; padded segments get zero tangents and so add nothing.
  const auto segments = [&](const at::Tensor& z) {
    const at::Tensor a = z.index_select(1, from).view({B, C, S, 2});
    const at::Tensor b = z.index_select(1, to).view({B, C, S, 2});
    return std::make_pair(0.5 * (a + b), (b - a) * smask);
  };
  const auto cross = [&](const at::Tensor& c1, const at::Tensor& t1, const at::Tensor& c2,
                         const at::Tensor& t2) {
    const at::Tensor d = c1.unsqueeze(-2) - c2.unsqueeze(-3);  // [B,C,S,S,2]
    const at::Tensor k = at::exp(-(d * d).sum(-1) * inv);      // [B,C,S,S]
    return (k * t1.matmul(t2.transpose(-1, -2))).sum({-1, -2});
  };
  const auto [cz, tz] = segments(pred);
  const auto [cy, ty] = segments(truth);
  Terms out;
  out.currents = cross(cz, tz, cz, tz) - 2 * cross(cz, tz, cy, ty) + cross(cy, ty, cy, ty);
  const at::Tensor pidx = m.point_index.to(dev);
  const at::Tensor pm = m.point_mask.to(dev, dt).view({1, C, P});
  const at::Tensor dist = (pred.index_select(1, pidx) - truth.index_select(1, pidx)).view({B, C, P, 2});
  // Euclidean distance with a zero-safe gradient (the norm's gradient at 0 is taken as 0).
  const at::Tensor sq = (dist * dist).sum(-1);
  const at::Tensor safe = at::where(sq > 0, sq, at::ones_like(sq));
  const at::Tensor norm = at::where(sq > 0, at::sqrt(safe), at::zeros_like(sq));
  out.landmarks = (norm * pm).sum(-1) / m.point_count.to(dev, dt).view({1, C});
  out.normaliser = (truth.select(1, m.norm[0]) - truth.select(1, m.norm[1])).norm(2, -1);
  return out;
}

at::Tensor CurveLoss::operator()(const at::Tensor& pred, const at::Tensor& truth) const {
  const Terms t = terms(pred, truth);
  const at::Tensor per_face = (impl_->options.beta * t.currents + t.landmarks).sum(-1) / t.normaliser;
  return per_face.mean();
}

}  // namespace lddmm
