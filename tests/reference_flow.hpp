// An independent, plain double-precision Eigen implementation of the LDDMM shooting equations for one
// curve (method.md), written for clarity: full kernel matrices, one explicit function per integrator.
// The tests compare the LibTorch layer against it.
#pragma once

#include <Eigen/Dense>

#include <cmath>
#include <utility>
#include <vector>

namespace lddmm::reference {

using Mat = Eigen::MatrixXd;  // L×2

inline Mat kernel(const Mat& a, const Mat& b, double sigma) {
  Mat k(a.rows(), b.rows());
  for (Eigen::Index i = 0; i < a.rows(); ++i)
    for (Eigen::Index j = 0; j < b.rows(); ++j)
      k(i, j) = std::exp(-(a.row(i) - b.row(j)).squaredNorm() / (sigma * sigma));
  return k;
}

struct State {
  Mat x, a;                        // curve points and momenta
  Mat p;                           // extra points
  std::vector<Eigen::Matrix2d> F;  // their Jacobians
};

inline State rate(const State& s, double sigma, bool shoot) {
  State d;
  const Mat K = kernel(s.x, s.x, sigma);
  d.x = K * s.a;
  d.a = Mat::Zero(s.a.rows(), 2);
  if (shoot) {
    for (Eigen::Index i = 0; i < s.x.rows(); ++i)
      for (Eigen::Index j = 0; j < s.x.rows(); ++j)
        d.a.row(i) +=
            2.0 / (sigma * sigma) * s.a.row(i).dot(s.a.row(j)) * K(i, j) * (s.x.row(i) - s.x.row(j));
  }
  d.p = Mat::Zero(s.p.rows(), 2);
  d.F.resize(s.F.size());
  const Mat Kp = kernel(s.p, s.x, sigma);
  for (Eigen::Index e = 0; e < s.p.rows(); ++e) {
    Eigen::Matrix2d dv = Eigen::Matrix2d::Zero();
    for (Eigen::Index j = 0; j < s.x.rows(); ++j) {
      d.p.row(e) += Kp(e, j) * s.a.row(j);
      dv += -2.0 / (sigma * sigma) * Kp(e, j) * s.a.row(j).transpose() * (s.p.row(e) - s.x.row(j));
    }
    d.F[static_cast<size_t>(e)] = dv * s.F[static_cast<size_t>(e)];
  }
  return d;
}

inline State axpy(const State& s, double h, const State& d) {
  State o;
  o.x = s.x + h * d.x;
  o.a = s.a + h * d.a;
  o.p = s.p + h * d.p;
  o.F.resize(s.F.size());
  for (size_t e = 0; e < s.F.size(); ++e) o.F[e] = s.F[e] + h * d.F[e];
  return o;
}

enum class Method { Euler, Heun, RK4 };

inline State step(const State& s, double h, double sigma, bool shoot, Method m) {
  switch (m) {
    case Method::Euler:
      return axpy(s, h, rate(s, sigma, shoot));
    case Method::Heun: {
      const State k1 = rate(s, sigma, shoot);
      const State k2 = rate(axpy(s, h, k1), sigma, shoot);
      return axpy(axpy(s, h / 2, k1), h / 2, k2);
    }
    case Method::RK4: {
      const State k1 = rate(s, sigma, shoot);
      const State k2 = rate(axpy(s, h / 2, k1), sigma, shoot);
      const State k3 = rate(axpy(s, h / 2, k2), sigma, shoot);
      const State k4 = rate(axpy(s, h, k3), sigma, shoot);
      return axpy(axpy(axpy(axpy(s, h / 6, k1), h / 3, k2), h / 3, k3), h / 6, k4);
    }
  }
  return s;
}

/// Shoots from (x0, a0) with extra points p0 to t = 1 in `steps` steps.
inline State shoot(const Mat& x0, const Mat& a0, const Mat& p0, double sigma, Method m, int steps,
                   bool shoot_momenta) {
  State s{x0, a0, p0,
          std::vector<Eigen::Matrix2d>(static_cast<size_t>(p0.rows()), Eigen::Matrix2d::Identity())};
  for (int k = 0; k < steps; ++k) s = step(s, 1.0 / steps, sigma, shoot_momenta, m);
  return s;
}

/// H = ½ Σ_ij α_i·α_j k(x_i, x_j).
inline double hamiltonian(const Mat& x, const Mat& a, double sigma) {
  return 0.5 * (a * a.transpose()).cwiseProduct(kernel(x, x, sigma)).sum();
}

}  // namespace lddmm::reference
