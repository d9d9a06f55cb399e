#include "lddmm/flow/blended_flow.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <Eigen/LU>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "lddmm/flow/tensor_points.hpp"

namespace lddmm {
namespace {

// One curve's share of the blend at a point: its log-weight s_p and ∇s_p, its field v_p and Dv_p.
struct CurvePart {
  double s = 0;
  Eigen::Vector2d grad_s = Eigen::Vector2d::Zero();
  Eigen::Vector2d v = Eigen::Vector2d::Zero();
  Eigen::Matrix2d dv = Eigen::Matrix2d::Zero();
};

// −min_j |y − x_j|² / ρ² over a curve's points: its log-weight's largest term.
double nearest_term(const Points& x, const std::vector<int64_t>& curve, double inv_reach2,
                    const Eigen::Vector2d& y) {
  double u_max = -std::numeric_limits<double>::infinity();
  for (const int64_t j : curve)
    u_max = std::max(u_max, -(y - x.row(j).transpose()).squaredNorm() * inv_reach2);
  return u_max;
}

CurvePart curve_part(const Points& x, const Points& a, const std::vector<int64_t>& curve, double sigma,
                     double inv_reach2, double u_max, const Eigen::Vector2d& y) {
  CurvePart part;
  const double inv_sigma2 = 1.0 / (sigma * sigma);
  double z = 0;
  for (const int64_t j : curve) {
    const Eigen::Vector2d d = y - x.row(j).transpose();
    const double d2 = d.squaredNorm();
    const double q = -d2 * inv_reach2 - u_max;  // log-sum-exp: the nearest point's term is 1
    if (q > -40) {                              // below, e^q is lost against that 1
      const double r = std::exp(q);
      z += r;
      part.grad_s -= 2 * inv_reach2 * r * d;
    }
    const double e = std::exp(-d2 * inv_sigma2);
    const Eigen::Vector2d ea = e * a.row(j).transpose();
    part.v += ea;
    part.dv -= 2 * inv_sigma2 * ea * d.transpose();
  }
  part.s = u_max + std::log(z);
  part.grad_s /= z;
  return part;
}

std::vector<Points> path_of(const at::Tensor& path) {
  const at::Tensor p = path.to(torch::kCPU, torch::kFloat64).contiguous();
  std::vector<Points> out;
  for (int64_t k = 0; k < p.size(0); ++k) out.push_back(tensor_to_points(p[k]));
  return out;
}

}  // namespace

Eigen::Vector2d blended_velocity(const Points& x, const Points& a, const CurveSet& curves, double reach,
                                 const Eigen::Vector2d& y, Eigen::Matrix2d* jacobian) {
  const double inv_reach2 = 1.0 / (reach * reach);
  const size_t n = curves.curves.size();
  // A curve's log-weight lies in [u, u + log of its points' count], u its nearest point's term. A curve whose
  // weight is under e^-40 of the nearest curve's even with every point counted adds less than a double
  // resolves to the blend, its Jacobian included: its field is not computed (most curves, at most nodes).
  std::vector<double> u(n, -std::numeric_limits<double>::infinity());
  double u_best = -std::numeric_limits<double>::infinity();
  for (size_t p = 0; p < n; ++p)
    if (!curves.curves[p].empty())
      u_best = std::max(u_best, u[p] = nearest_term(x, curves.curves[p], inv_reach2, y));
  std::vector<CurvePart> parts;
  parts.reserve(n);
  double s_max = -std::numeric_limits<double>::infinity();
  for (size_t p = 0; p < n; ++p) {
    const auto count = static_cast<double>(curves.curves[p].size());
    if (count == 0 || u[p] + std::log(count) < u_best - 40) continue;
    parts.push_back(curve_part(x, a, curves.curves[p], curves.sigma[p], inv_reach2, u[p], y));
    s_max = std::max(s_max, parts.back().s);
  }
  // The partition of unity w_p = softmax(s_p), its mean log-weight gradient, the blend.
  double total = 0;
  std::vector<double> w(parts.size());
  for (size_t p = 0; p < parts.size(); ++p) total += w[p] = std::exp(parts[p].s - s_max);
  Eigen::Vector2d v = Eigen::Vector2d::Zero(), grad_bar = Eigen::Vector2d::Zero();
  for (size_t p = 0; p < parts.size(); ++p) {
    w[p] /= total;
    v += w[p] * parts[p].v;
    grad_bar += w[p] * parts[p].grad_s;
  }
  if (jacobian != nullptr) {
    // D(Σ w_p v_p) = Σ w_p (Dv_p + v_p (∇s_p − Σ_q w_q ∇s_q)ᵀ)
    jacobian->setZero();
    for (size_t p = 0; p < parts.size(); ++p)
      *jacobian += w[p] * (parts[p].dv + parts[p].v * (parts[p].grad_s - grad_bar).transpose());
  }
  return v;
}

namespace {

BlendedPaths integrate(const std::vector<Points>& X, const std::vector<Points>& A, const CurveSet& curves,
                       const Points& nodes, const BlendOptions& options) {
  const int T = static_cast<int>(X.size()) - 1;
  const int sub = options.substeps;
  const double h = 1.0 / (T * sub);
  const Eigen::Index m = nodes.rows();
  // The curves' states at every substep's ends, linear in time between the paths' steps.
  std::vector<Points> xs, as;
  for (int k = 0; k < T; ++k)
    for (int s = 0; s <= sub; ++s) {
      const double f = static_cast<double>(s) / sub;
      xs.push_back((1 - f) * X[k] + f * X[k + 1]);
      as.push_back((1 - f) * A[k] + f * A[k + 1]);
    }
  BlendedPaths out;
  out.nodes.assign(static_cast<size_t>(T + 1), nodes);
  std::vector<Eigen::Matrix2d> F(static_cast<size_t>(m), Eigen::Matrix2d::Identity());
  at::parallel_for(0, m, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {  // Heun on (y, F), node by node
      Eigen::Vector2d y = nodes.row(i).transpose();
      Eigen::Matrix2d& Fi = F[static_cast<size_t>(i)];
      for (int k = 0; k < T; ++k) {
        for (int s = 0; s < sub; ++s) {
          const auto at0 = static_cast<size_t>(k * (sub + 1) + s);
          Eigen::Matrix2d d0, d1;
          const Eigen::Vector2d v0 = blended_velocity(xs[at0], as[at0], curves, options.reach, y, &d0);
          const Eigen::Vector2d v1 =
              blended_velocity(xs[at0 + 1], as[at0 + 1], curves, options.reach, y + h * v0, &d1);
          Fi += 0.5 * h * (d0 * Fi + d1 * (Fi + h * d0 * Fi));
          y += 0.5 * h * (v0 + v1);
        }
        out.nodes[static_cast<size_t>(k + 1)].row(i) = y.transpose();
      }
    }
  });
  out.det.reserve(static_cast<size_t>(m));
  for (const Eigen::Matrix2d& Fi : F) out.det.push_back(Fi.determinant());
  return out;
}

}  // namespace

BlendedPaths blend_flow(const at::Tensor& point_path, const at::Tensor& momentum_path, const CurveSet& curves,
                        const Points& nodes, const BlendOptions& options) {
  if (point_path.dim() != 3 || point_path.sizes() != momentum_path.sizes() || point_path.size(0) < 2)
    throw std::invalid_argument("blend_flow: paths must both be [T + 1, n, 2] with T >= 1");
  if (!(options.reach > 0) || options.substeps < 1)
    throw std::invalid_argument("blend_flow: the reach must be positive and substeps at least 1");
  const std::vector<Points> X = path_of(point_path), A = path_of(momentum_path);
  // The true flow never folds; a step too long for the field's steepest turn can. Halve the steps until no
  // node folds (a face's field rarely needs it; large random momenta do), up to 64 substeps.
  BlendOptions o = options;
  BlendedPaths out = integrate(X, A, curves, nodes, o);
  while (o.substeps < 64 && std::any_of(out.det.begin(), out.det.end(), [](double d) { return !(d > 0); })) {
    o.substeps *= 2;
    out = integrate(X, A, curves, nodes, o);
  }
  return out;
}

BlendedPaths blend_trace(const DeformationLayer& layer, const FlowTrace& trace, int64_t b,
                         const Points& nodes, double side) {
  return blend_flow(trace.point_path.select(1, b), trace.momentum_path.select(1, b), layer.curves(), nodes,
                    {kBlendReach * side});
}

}  // namespace lddmm
