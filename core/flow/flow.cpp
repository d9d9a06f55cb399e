#include "lddmm/flow/flow.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

#include "lddmm/flow/scheme.hpp"

namespace lddmm {

const char* integrator_name(Integrator integrator) {
  switch (integrator) {
    case Integrator::Euler:
      return "euler";
    case Integrator::Heun:
      return "heun";
    case Integrator::RK4:
      return "rk4";
  }
  return "?";
}

std::optional<Integrator> parse_integrator(const std::string& name) {
  for (Integrator i : {Integrator::Euler, Integrator::Heun, Integrator::RK4}) {
    if (name == integrator_name(i)) return i;
  }
  return std::nullopt;
}

int integrator_order(Integrator integrator) {
  switch (integrator) {
    case Integrator::Euler:
      return 1;
    case Integrator::Heun:
      return 2;
    case Integrator::RK4:
      return 4;
  }
  return 0;
}

CurveSet CurveSet::from_scheme(const Scheme& scheme, double scale) {
  CurveSet set;
  set.num_points = scheme.num_points;
  for (const Curve& c : scheme.curves) set.curves.emplace_back(c.points.begin(), c.points.end());
  set.sigma = scheme.sigma_v();
  for (double& s : set.sigma) s *= scale;
  return set;
}

namespace {

// Explicit Runge–Kutta tableau: stage s input = y + h Σ_{r<s} a[s][r] k_r; y' = y + h Σ b_s k_s.
struct Tableau {
  int stages = 1;
  std::array<std::array<double, 4>, 4> a{};
  std::array<double, 4> b{};
};

Tableau tableau(Integrator integrator) {
  Tableau t;
  switch (integrator) {
    case Integrator::Euler:
      t.stages = 1;
      t.b = {1, 0, 0, 0};
      break;
    case Integrator::Heun:
      t.stages = 2;
      t.a[1][0] = 1;
      t.b = {0.5, 0.5, 0, 0};
      break;
    case Integrator::RK4:
      t.stages = 4;
      t.a[1][0] = 0.5;
      t.a[2][1] = 0.5;
      t.a[3][2] = 1;
      t.b = {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6};
      break;
  }
  return t;
}

// ---------------------------------------------------------------------------------------------------
// The Hamiltonian vector field of one curve, state y = [x (L×2), α (L×2)] interleaved (x0 y0 x1 y1 ...).
//   ẋ_i = Σ_j K_ij α_j,   α̇_i = 2/σ² Σ_j (α_i·α_j) K_ij (x_i − x_j),   K_ij = exp(−|x_i − x_j|²/σ²).
// K is symmetric, so each pair is visited once. K is written out for the adjoint.
template <typename T>
void field(int L, const T* y, T inv, bool shoot, T* K, T* k) {
  const T* x = y;
  const T* a = y + 2 * L;
  T* fx = k;
  T* fa = k + 2 * L;
  for (int i = 0; i < 2 * L; ++i) {
    fx[i] = a[i];
    fa[i] = 0;
  }
  for (int i = 0; i < L; ++i) {
    K[i * L + i] = 1;
    const T xi = x[2 * i], yi = x[2 * i + 1], ai = a[2 * i], bi = a[2 * i + 1];
    T fxi = 0, fyi = 0, fai = 0, fbi = 0;
    for (int j = i + 1; j < L; ++j) {
      const T dx = xi - x[2 * j], dy = yi - x[2 * j + 1];
      const T kij = std::exp(-(dx * dx + dy * dy) * inv);
      K[i * L + j] = kij;
      K[j * L + i] = kij;
      const T aj = a[2 * j], bj = a[2 * j + 1];
      fxi += kij * aj;
      fyi += kij * bj;
      fx[2 * j] += kij * ai;
      fx[2 * j + 1] += kij * bi;
      if (shoot) {
        const T g = 2 * inv * kij * (ai * aj + bi * bj);
        fai += g * dx;
        fbi += g * dy;
        fa[2 * j] -= g * dx;
        fa[2 * j + 1] -= g * dy;
      }
    }
    fx[2 * i] += fxi;
    fx[2 * i + 1] += fyi;
    fa[2 * i] += fai;
    fa[2 * i + 1] += fbi;
  }
}

// Vector–Jacobian product of field(): given the cotangent kb = [u, w] of k = f(y), adds (∂f/∂y)ᵀ kb to yb.
//   ∂/∂α_k = Σ_j K_kj u_j + 2/σ² Σ_j K_kj α_j (w_k − w_j)·d_kj
//   ∂/∂x_k = −2/σ² Σ_j K_kj [ d_kj (u_k·α_j + u_j·α_k + 2/σ² P_kj (w_k − w_j)·d_kj) − P_kj (w_k − w_j) ]
// with d_kj = x_k − x_j and P_kj = α_k·α_j (w terms only when shooting).
template <typename T>
void field_vjp(int L, const T* y, const T* K, T inv, bool shoot, const T* kb, T* yb) {
  const T* x = y;
  const T* a = y + 2 * L;
  const T* u = kb;
  const T* w = kb + 2 * L;
  T* gx = yb;
  T* ga = yb + 2 * L;
  for (int i = 0; i < 2 * L; ++i) ga[i] += u[i];
  for (int i = 0; i < L; ++i) {
    const T xi = x[2 * i], yi = x[2 * i + 1], ai = a[2 * i], bi = a[2 * i + 1];
    const T ui = u[2 * i], vi = u[2 * i + 1];
    const T wi0 = shoot ? w[2 * i] : T(0), wi1 = shoot ? w[2 * i + 1] : T(0);
    T gxi = 0, gyi = 0, gai = 0, gbi = 0;
    for (int j = i + 1; j < L; ++j) {
      const T kij = K[i * L + j];
      const T dx = xi - x[2 * j], dy = yi - x[2 * j + 1];
      const T aj = a[2 * j], bj = a[2 * j + 1];
      const T uj = u[2 * j], vj = u[2 * j + 1];
      gai += kij * uj;
      gbi += kij * vj;
      ga[2 * j] += kij * ui;
      ga[2 * j + 1] += kij * vi;
      T q = ui * aj + vi * bj + uj * ai + vj * bi;
      T vx, vy;
      if (shoot) {
        const T p = ai * aj + bi * bj;
        const T dw0 = wi0 - w[2 * j], dw1 = wi1 - w[2 * j + 1];
        const T dwd = dw0 * dx + dw1 * dy;
        const T g = 2 * inv * kij * dwd;
        gai += g * aj;
        gbi += g * bj;
        ga[2 * j] += g * ai;
        ga[2 * j + 1] += g * bi;
        q += 2 * inv * p * dwd;
        vx = -2 * inv * kij * (dx * q - p * dw0);
        vy = -2 * inv * kij * (dy * q - p * dw1);
      } else {
        vx = -2 * inv * kij * dx * q;
        vy = -2 * inv * kij * dy * q;
      }
      gxi += vx;
      gyi += vy;
      gx[2 * j] -= vx;
      gx[2 * j + 1] -= vy;
    }
    gx[2 * i] += gxi;
    gx[2 * i + 1] += gyi;
    ga[2 * i] += gai;
    ga[2 * i + 1] += gbi;
  }
}

// Velocity and Jacobian rate of extra points in the field of the curve state y:
//   ṗ = Σ_j k(p, x_j) α_j,   Ḟ = Dv(p) F,   Dv(p) = −2/σ² Σ_j k(p, x_j) α_j (p − x_j)ᵀ.
// q = [p (2), F (4, row-major)] per point; kq likewise.
template <typename T>
void extra_field(int L, const T* y, T inv, int m, const T* q, T* kq, bool jacobian) {
  const T* x = y;
  const T* a = y + 2 * L;
  for (int e = 0; e < m; ++e) {
    const T* qe = q + 6 * e;
    T* ke = kq + 6 * e;
    const T px = qe[0], py = qe[1];
    T vx = 0, vy = 0, d00 = 0, d01 = 0, d10 = 0, d11 = 0;
    for (int j = 0; j < L; ++j) {
      const T dx = px - x[2 * j], dy = py - x[2 * j + 1];
      const T k = std::exp(-(dx * dx + dy * dy) * inv);
      const T ka = k * a[2 * j], kb = k * a[2 * j + 1];
      vx += ka;
      vy += kb;
      d00 += ka * dx;
      d01 += ka * dy;
      d10 += kb * dx;
      d11 += kb * dy;
    }
    ke[0] = vx;
    ke[1] = vy;
    if (jacobian) {
      const T c = -2 * inv;
      d00 *= c, d01 *= c, d10 *= c, d11 *= c;
      ke[2] = d00 * qe[2] + d01 * qe[4];
      ke[3] = d00 * qe[3] + d01 * qe[5];
      ke[4] = d10 * qe[2] + d11 * qe[4];
      ke[5] = d10 * qe[3] + d11 * qe[5];
    } else {
      ke[2] = ke[3] = ke[4] = ke[5] = 0;
    }
  }
}

// Everything one (face, curve) task reads and writes; pointers may be null when not wanted.
template <typename T>
struct TaskIo {
  const T* tmpl = nullptr;  // [n, 2] of this face
  const T* mom = nullptr;   // [n, 2] of this face
  T* out_x = nullptr;       // [n, 2]
  T* out_a = nullptr;       // [n, 2]
  T* path_x = nullptr;      // [T+1][stride_path] with this face's [n, 2] at offset 0 of each step
  T* path_a = nullptr;
  int64_t path_stride = 0;  // elements between steps
  T* saved = nullptr;       // stage states and kernels for the adjoint
  // extra points
  int m = 0;
  const int64_t* extra_ids = nullptr;  // indices of this curve's extra points
  const T* extra_in = nullptr;         // [m_total, 2] of this face
  T* extra_out = nullptr;              // [m_total, 2]
  T* extra_jac = nullptr;              // [m_total, 4]
  T* extra_path = nullptr;             // like path_x, [m_total, 2] per step
  int64_t extra_path_stride = 0;
  bool jacobian = false;
};

template <typename T>
struct Scratch {
  std::vector<T> y, ytmp, k, kmat, q, qtmp, kq;
};

template <typename T>
void integrate_task(const Tableau& tab, int steps, bool shoot, T inv, const int64_t* idx, int L,
                    const TaskIo<T>& io, Scratch<T>& s) {
  const int S = tab.stages;
  const int n4 = 4 * L;
  s.y.resize(static_cast<size_t>(n4));
  s.ytmp.resize(static_cast<size_t>(n4));
  s.k.resize(static_cast<size_t>(S * n4));
  s.kmat.resize(static_cast<size_t>(L * L));
  for (int i = 0; i < L; ++i) {
    const int64_t p = idx[i];
    s.y[static_cast<size_t>(2 * i)] = io.tmpl[2 * p];
    s.y[static_cast<size_t>(2 * i + 1)] = io.tmpl[2 * p + 1];
    s.y[static_cast<size_t>(2 * L + 2 * i)] = io.mom[2 * p];
    s.y[static_cast<size_t>(2 * L + 2 * i + 1)] = io.mom[2 * p + 1];
  }
  const int m = io.m;
  if (m > 0) {
    s.q.resize(static_cast<size_t>(6 * m));
    s.qtmp.resize(static_cast<size_t>(6 * m));
    s.kq.resize(static_cast<size_t>(S * 6 * m));
    for (int e = 0; e < m; ++e) {
      const int64_t id = io.extra_ids[e];
      T* q = s.q.data() + 6 * e;
      q[0] = io.extra_in[2 * id];
      q[1] = io.extra_in[2 * id + 1];
      q[2] = 1, q[3] = 0, q[4] = 0, q[5] = 1;
    }
  }
  const auto write_path = [&](int step) {
    if (io.path_x != nullptr) {
      for (int i = 0; i < L; ++i) {
        const int64_t p = idx[i];
        io.path_x[step * io.path_stride + 2 * p] = s.y[static_cast<size_t>(2 * i)];
        io.path_x[step * io.path_stride + 2 * p + 1] = s.y[static_cast<size_t>(2 * i + 1)];
        io.path_a[step * io.path_stride + 2 * p] = s.y[static_cast<size_t>(2 * L + 2 * i)];
        io.path_a[step * io.path_stride + 2 * p + 1] = s.y[static_cast<size_t>(2 * L + 2 * i + 1)];
      }
    }
    if (io.extra_path != nullptr) {
      for (int e = 0; e < m; ++e) {
        const int64_t id = io.extra_ids[e];
        io.extra_path[step * io.extra_path_stride + 2 * id] = s.q[static_cast<size_t>(6 * e)];
        io.extra_path[step * io.extra_path_stride + 2 * id + 1] = s.q[static_cast<size_t>(6 * e + 1)];
      }
    }
  };
  write_path(0);
  const T h = T(1) / static_cast<T>(steps);
  const int64_t slot = n4 + L * L;
  for (int n = 0; n < steps; ++n) {
    for (int st = 0; st < S; ++st) {
      T* yin = s.ytmp.data();
      for (int i = 0; i < n4; ++i) {
        T v = s.y[static_cast<size_t>(i)];
        for (int r = 0; r < st; ++r)
          v += h * static_cast<T>(tab.a[st][r]) * s.k[static_cast<size_t>(r * n4 + i)];
        yin[i] = v;
      }
      T* kmat = s.kmat.data();
      if (io.saved != nullptr) {
        T* sv = io.saved + (n * S + st) * slot;
        std::copy(yin, yin + n4, sv);
        kmat = sv + n4;
      }
      field(L, yin, inv, shoot, kmat, s.k.data() + st * n4);
      if (m > 0) {
        for (int i = 0; i < 6 * m; ++i) {
          T v = s.q[static_cast<size_t>(i)];
          for (int r = 0; r < st; ++r)
            v += h * static_cast<T>(tab.a[st][r]) * s.kq[static_cast<size_t>(r * 6 * m + i)];
          s.qtmp[static_cast<size_t>(i)] = v;
        }
        extra_field(L, yin, inv, m, s.qtmp.data(), s.kq.data() + st * 6 * m, io.jacobian);
      }
    }
    for (int st = 0; st < S; ++st) {
      const T hb = h * static_cast<T>(tab.b[st]);
      if (hb == 0) continue;
      for (int i = 0; i < n4; ++i) s.y[static_cast<size_t>(i)] += hb * s.k[static_cast<size_t>(st * n4 + i)];
      for (int i = 0; i < 6 * m; ++i)
        s.q[static_cast<size_t>(i)] += hb * s.kq[static_cast<size_t>(st * 6 * m + i)];
    }
    write_path(n + 1);
  }
  for (int i = 0; i < L; ++i) {
    const int64_t p = idx[i];
    if (io.out_x != nullptr) {
      io.out_x[2 * p] = s.y[static_cast<size_t>(2 * i)];
      io.out_x[2 * p + 1] = s.y[static_cast<size_t>(2 * i + 1)];
    }
    if (io.out_a != nullptr) {
      io.out_a[2 * p] = s.y[static_cast<size_t>(2 * L + 2 * i)];
      io.out_a[2 * p + 1] = s.y[static_cast<size_t>(2 * L + 2 * i + 1)];
    }
  }
  for (int e = 0; e < m; ++e) {
    const int64_t id = io.extra_ids[e];
    const T* q = s.q.data() + 6 * e;
    io.extra_out[2 * id] = q[0];
    io.extra_out[2 * id + 1] = q[1];
    if (io.extra_jac != nullptr) std::copy(q + 2, q + 6, io.extra_jac + 4 * id);
  }
}

// Discrete adjoint of integrate_task for one (face, curve): from the cotangent of x(1) to those of x(0),
// α(0).
template <typename T>
void adjoint_task(const Tableau& tab, int steps, bool shoot, T inv, const int64_t* idx, int L, const T* saved,
                  const T* grad_out, T* grad_tmpl, T* grad_mom, std::vector<T>& yb, std::vector<T>& Yb,
                  std::vector<T>& kb) {
  const int S = tab.stages;
  const int n4 = 4 * L;
  const int64_t slot = n4 + L * L;
  yb.assign(static_cast<size_t>(n4), T(0));
  Yb.resize(static_cast<size_t>(S * n4));
  kb.resize(static_cast<size_t>(n4));
  for (int i = 0; i < L; ++i) {
    yb[static_cast<size_t>(2 * i)] = grad_out[2 * idx[i]];
    yb[static_cast<size_t>(2 * i + 1)] = grad_out[2 * idx[i] + 1];
  }
  const T h = T(1) / static_cast<T>(steps);
  for (int n = steps - 1; n >= 0; --n) {
    for (int st = S - 1; st >= 0; --st) {
      const T hb = h * static_cast<T>(tab.b[st]);
      for (int i = 0; i < n4; ++i) {
        T v = hb * yb[static_cast<size_t>(i)];
        for (int qs = st + 1; qs < S; ++qs)
          v += h * static_cast<T>(tab.a[qs][st]) * Yb[static_cast<size_t>(qs * n4 + i)];
        kb[static_cast<size_t>(i)] = v;
      }
      T* out = Yb.data() + st * n4;
      std::fill(out, out + n4, T(0));
      const T* sv = saved + (n * S + st) * slot;
      field_vjp(L, sv, sv + n4, inv, shoot, kb.data(), out);
    }
    for (int st = 0; st < S; ++st) {
      for (int i = 0; i < n4; ++i) yb[static_cast<size_t>(i)] += Yb[static_cast<size_t>(st * n4 + i)];
    }
  }
  for (int i = 0; i < L; ++i) {
    const int64_t p = idx[i];
    if (grad_tmpl != nullptr) {
      grad_tmpl[2 * p] = yb[static_cast<size_t>(2 * i)];
      grad_tmpl[2 * p + 1] = yb[static_cast<size_t>(2 * i + 1)];
    }
    if (grad_mom != nullptr) {
      grad_mom[2 * p] = yb[static_cast<size_t>(2 * L + 2 * i)];
      grad_mom[2 * p + 1] = yb[static_cast<size_t>(2 * L + 2 * i + 1)];
    }
  }
}

// Curve layout as tensors, so that the autograd node owns what its backward needs.
struct Layout {
  at::Tensor flat;     // int64 [n] point indices, curve after curve
  at::Tensor offsets;  // int64 [C + 1]
  at::Tensor inv_s2;   // double [C] 1/σ²
  int max_len = 0;
};

int64_t saved_slot_elems(const Tableau& tab, int steps, int L) {
  return static_cast<int64_t>(steps) * tab.stages * (4 * L + L * L);
}

// Runs integrate_task over all (face, curve) pairs in parallel.
template <typename T>
void run_forward(const Layout& lay, const FlowOptions& opt, const at::Tensor& tmpl, bool tmpl_batched,
                 const at::Tensor& mom, at::Tensor* out_x, at::Tensor* out_a, at::Tensor* path_x,
                 at::Tensor* path_a, at::Tensor* saved, const at::Tensor* extra, bool extra_batched,
                 const std::vector<std::vector<int64_t>>* extra_by_curve, at::Tensor* extra_out,
                 at::Tensor* extra_jac, at::Tensor* extra_path) {
  const Tableau tab = tableau(opt.integrator);
  const int64_t B = mom.size(0);
  const int64_t n = mom.size(1);
  const int64_t C = lay.offsets.numel() - 1;
  const int64_t* flat = lay.flat.data_ptr<int64_t>();
  const int64_t* off = lay.offsets.data_ptr<int64_t>();
  const double* inv = lay.inv_s2.data_ptr<double>();
  const int64_t slot = saved != nullptr ? saved->size(1) : 0;
  const int64_t m_total = extra != nullptr ? extra->size(-2) : 0;
  at::parallel_for(0, B * C, 1, [&](int64_t begin, int64_t end) {
    Scratch<T> scratch;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t b = task / C;
      const int64_t c = task % C;
      TaskIo<T> io;
      io.tmpl = tmpl.data_ptr<T>() + (tmpl_batched ? b * n * 2 : 0);
      io.mom = mom.data_ptr<T>() + b * n * 2;
      io.out_x = out_x != nullptr ? out_x->data_ptr<T>() + b * n * 2 : nullptr;
      io.out_a = out_a != nullptr ? out_a->data_ptr<T>() + b * n * 2 : nullptr;
      if (path_x != nullptr) {
        io.path_x = path_x->data_ptr<T>() + b * n * 2;
        io.path_a = path_a->data_ptr<T>() + b * n * 2;
        io.path_stride = B * n * 2;
      }
      io.saved = saved != nullptr ? saved->data_ptr<T>() + task * slot : nullptr;
      if (extra_by_curve != nullptr) {
        const auto& ids = (*extra_by_curve)[static_cast<size_t>(c)];
        io.m = static_cast<int>(ids.size());
        io.extra_ids = ids.data();
        io.extra_in = extra->data_ptr<T>() + (extra_batched ? b * m_total * 2 : 0);
        io.extra_out = extra_out->data_ptr<T>() + b * m_total * 2;
        io.extra_jac = extra_jac->data_ptr<T>() + b * m_total * 4;
        io.jacobian = true;
        if (extra_path != nullptr) {
          io.extra_path = extra_path->data_ptr<T>() + b * m_total * 2;
          io.extra_path_stride = B * m_total * 2;
        }
      }
      integrate_task<T>(tab, opt.steps, opt.shooting, static_cast<T>(inv[c]), flat + off[c],
                        static_cast<int>(off[c + 1] - off[c]), io, scratch);
    }
  });
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct FusedFlow : public torch::autograd::Function<FusedFlow> {
  static constexpr size_t kForwardInputs = 10;  // backward returns one gradient slot per forward argument

  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& tmpl, const at::Tensor& mom,
                            const at::Tensor& flat, const at::Tensor& offsets, const at::Tensor& inv_s2,
                            int64_t max_len, int64_t integrator, int64_t steps, bool shooting,
                            bool need_grad) {
    const FlowOptions opt{static_cast<Integrator>(integrator), static_cast<int>(steps), shooting};
    const Layout lay{flat, offsets, inv_s2, static_cast<int>(max_len)};
    const bool batched = tmpl.dim() == 3;
    at::Tensor out = at::empty_like(mom);
    at::Tensor saved;
    if (need_grad) {
      const int64_t C = offsets.numel() - 1;
      saved = at::empty({mom.size(0) * C, saved_slot_elems(tableau(opt.integrator), opt.steps, lay.max_len)},
                        mom.options().requires_grad(false));
    }
    AT_DISPATCH_FLOATING_TYPES(mom.scalar_type(), "lddmm_flow_forward", [&] {
      run_forward<scalar_t>(lay, opt, tmpl, batched, mom, &out, nullptr, nullptr, nullptr,
                            need_grad ? &saved : nullptr, nullptr, false, nullptr, nullptr, nullptr, nullptr);
    });
    ctx->save_for_backward({saved, flat, offsets, inv_s2});
    ctx->saved_data["integrator"] = integrator;
    ctx->saved_data["steps"] = steps;
    ctx->saved_data["shooting"] = shooting;
    ctx->saved_data["batched"] = batched;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto vars = ctx->get_saved_variables();
    const at::Tensor& saved = vars[0];
    const at::Tensor& flat = vars[1];
    const at::Tensor& offsets = vars[2];
    const at::Tensor& inv_s2 = vars[3];
    const Tableau tab = tableau(static_cast<Integrator>(ctx->saved_data["integrator"].toInt()));
    const int steps = static_cast<int>(ctx->saved_data["steps"].toInt());
    const bool shoot = ctx->saved_data["shooting"].toBool();
    const bool batched = ctx->saved_data["batched"].toBool();
    if (!grads[0].defined() || !saved.defined()) return variable_list(kForwardInputs);
    const at::Tensor g = grads[0].contiguous();
    const int64_t B = g.size(0);
    const int64_t n = g.size(1);
    const int64_t C = offsets.numel() - 1;
    at::Tensor grad_tmpl = at::empty({B, n, 2}, g.options());
    at::Tensor grad_mom = at::empty({B, n, 2}, g.options());
    const int64_t* fl = flat.data_ptr<int64_t>();
    const int64_t* off = offsets.data_ptr<int64_t>();
    const double* inv = inv_s2.data_ptr<double>();
    const int64_t slot = saved.size(1);
    AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "lddmm_flow_backward", [&] {
      at::parallel_for(0, B * C, 1, [&](int64_t begin, int64_t end) {
        std::vector<scalar_t> yb, Yb, kb;
        for (int64_t task = begin; task < end; ++task) {
          const int64_t b = task / C;
          const int64_t c = task % C;
          adjoint_task<scalar_t>(tab, steps, shoot, static_cast<scalar_t>(inv[c]), fl + off[c],
                                 static_cast<int>(off[c + 1] - off[c]),
                                 saved.data_ptr<scalar_t>() + task * slot, g.data_ptr<scalar_t>() + b * n * 2,
                                 grad_tmpl.data_ptr<scalar_t>() + b * n * 2,
                                 grad_mom.data_ptr<scalar_t>() + b * n * 2, yb, Yb, kb);
        }
      });
    });
    if (!batched) grad_tmpl = grad_tmpl.sum(0);
    variable_list out(kForwardInputs);
    out[0] = grad_tmpl;
    out[1] = grad_mom;
    return out;
  }
};

}  // namespace

struct DeformationLayer::Impl {
  CurveSet curves;
  FlowOptions options;
  Layout layout;
  at::Tensor pad_index;     // int64 [C, Lmax]: point index, padding repeats the curve's first point
  at::Tensor pad_mask;      // double [C, Lmax]: 1 for real points
  at::Tensor pad_position;  // int64 [n]: position of each point in the flattened [C·Lmax]
};

DeformationLayer::DeformationLayer(CurveSet curves, FlowOptions options) {
  if (options.steps < 1) throw std::invalid_argument("DeformationLayer: steps must be ≥ 1");
  if (curves.curves.empty()) throw std::invalid_argument("DeformationLayer: no curves");
  if (curves.sigma.size() != curves.curves.size())
    throw std::invalid_argument("DeformationLayer: one σ per curve is needed");
  auto impl = std::make_shared<Impl>();
  const int64_t C = static_cast<int64_t>(curves.curves.size());
  std::vector<int64_t> flat, offsets{0};
  std::vector<int> owner(static_cast<size_t>(curves.num_points), -1);
  int max_len = 0;
  for (int64_t c = 0; c < C; ++c) {
    const auto& cv = curves.curves[static_cast<size_t>(c)];
    if (cv.empty()) throw std::invalid_argument("DeformationLayer: curve " + std::to_string(c) + " is empty");
    const double s = curves.sigma[static_cast<size_t>(c)];
    if (!(s > 0) || !std::isfinite(s))
      throw std::invalid_argument("DeformationLayer: σ must be positive and finite");
    for (int64_t p : cv) {
      if (p < 0 || p >= curves.num_points)
        throw std::invalid_argument("DeformationLayer: point index " + std::to_string(p) + " out of range");
      if (owner[static_cast<size_t>(p)] >= 0)
        throw std::invalid_argument("DeformationLayer: point " + std::to_string(p) + " is in two curves");
      owner[static_cast<size_t>(p)] = static_cast<int>(c);
      flat.push_back(p);
    }
    offsets.push_back(static_cast<int64_t>(flat.size()));
    max_len = std::max(max_len, static_cast<int>(cv.size()));
  }
  for (int64_t p = 0; p < curves.num_points; ++p) {
    if (owner[static_cast<size_t>(p)] < 0)
      throw std::invalid_argument("DeformationLayer: point " + std::to_string(p) + " is in no curve");
  }
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  impl->layout.flat = torch::tensor(flat, i64);
  impl->layout.offsets = torch::tensor(offsets, i64);
  std::vector<double> inv;
  for (double s : curves.sigma) inv.push_back(1.0 / (s * s));
  impl->layout.inv_s2 = torch::tensor(inv, torch::TensorOptions().dtype(torch::kFloat64));
  impl->layout.max_len = max_len;
  std::vector<int64_t> pad_index(static_cast<size_t>(C * max_len));
  std::vector<double> pad_mask(static_cast<size_t>(C * max_len), 0.0);
  std::vector<int64_t> pad_position(static_cast<size_t>(curves.num_points));
  for (int64_t c = 0; c < C; ++c) {
    const auto& cv = curves.curves[static_cast<size_t>(c)];
    for (int64_t k = 0; k < max_len; ++k) {
      const size_t at = static_cast<size_t>(c * max_len + k);
      if (k < static_cast<int64_t>(cv.size())) {
        pad_index[at] = cv[static_cast<size_t>(k)];
        pad_mask[at] = 1.0;
        pad_position[static_cast<size_t>(cv[static_cast<size_t>(k)])] = static_cast<int64_t>(at);
      } else {
        pad_index[at] = cv.front();
      }
    }
  }
  impl->pad_index = torch::tensor(pad_index, i64);
  impl->pad_mask = torch::tensor(pad_mask, torch::TensorOptions().dtype(torch::kFloat64)).view({C, max_len});
  impl->pad_position = torch::tensor(pad_position, i64);
  impl->curves = std::move(curves);
  impl->options = options;
  impl_ = std::move(impl);
}

const CurveSet& DeformationLayer::curves() const { return impl_->curves; }
const FlowOptions& DeformationLayer::options() const { return impl_->options; }

namespace {

void check_inputs(const CurveSet& cs, const at::Tensor& tmpl, const at::Tensor& mom) {
  if (!tmpl.defined() || !mom.defined())
    throw std::invalid_argument("DeformationLayer: undefined input tensor");
  if (mom.dim() != 3 || mom.size(2) != 2 || mom.size(1) != cs.num_points)
    throw std::invalid_argument("DeformationLayer: momenta must be [B, " + std::to_string(cs.num_points) +
                                ", 2], got " + std::to_string(mom.dim()) + "-d " + c10::str(mom.sizes()));
  const bool ok =
      (tmpl.dim() == 2 && tmpl.size(0) == cs.num_points && tmpl.size(1) == 2) ||
      (tmpl.dim() == 3 && tmpl.size(0) == mom.size(0) && tmpl.size(1) == cs.num_points && tmpl.size(2) == 2);
  if (!ok)
    throw std::invalid_argument(
        "DeformationLayer: template must be [n, 2] or [B, n, 2] matching the momenta, got " +
        c10::str(tmpl.sizes()));
  if (!at::isFloatingType(mom.scalar_type()) || tmpl.scalar_type() != mom.scalar_type())
    throw std::invalid_argument("DeformationLayer: template and momenta must share a floating dtype");
  if (tmpl.device() != mom.device())
    throw std::invalid_argument("DeformationLayer: template and momenta on different devices");
}

}  // namespace

at::Tensor DeformationLayer::forward(const at::Tensor& tmpl, const at::Tensor& mom) const {
  check_inputs(impl_->curves, tmpl, mom);
  if (!mom.device().is_cpu()) return forward_ops(tmpl, mom);
  const auto& lay = impl_->layout;
  const auto& opt = impl_->options;
  // The adjoint's stage buffer is only kept when a gradient can be asked for.
  const bool need_grad = at::GradMode::is_enabled() && (tmpl.requires_grad() || mom.requires_grad());
  return FusedFlow::apply(tmpl.contiguous(), mom.contiguous(), lay.flat, lay.offsets, lay.inv_s2,
                          static_cast<int64_t>(lay.max_len), static_cast<int64_t>(opt.integrator),
                          static_cast<int64_t>(opt.steps), opt.shooting, need_grad);
}

at::Tensor DeformationLayer::forward_ops(const at::Tensor& tmpl_in, const at::Tensor& mom) const {
  check_inputs(impl_->curves, tmpl_in, mom);
  const auto& impl = *impl_;
  const int64_t B = mom.size(0);
  const int64_t C = static_cast<int64_t>(impl.curves.curves.size());
  const int64_t L = impl.layout.max_len;
  const auto dev = mom.device();
  const auto dtype = mom.scalar_type();
  const at::Tensor tmpl = tmpl_in.dim() == 2 ? tmpl_in.unsqueeze(0).expand({B, -1, -1}) : tmpl_in;
  const at::Tensor index = impl.pad_index.to(dev);
  const at::Tensor mask = impl.pad_mask.to(dev, dtype).view({1, C, L, 1});
  const at::Tensor inv = impl.layout.inv_s2.to(dev, dtype).view({1, C, 1, 1});
  at::Tensor x = tmpl.index_select(1, index).view({B, C, L, 2});
  // Padding points carry zero momenta: they add nothing to the field of the real points.
  at::Tensor a = mom.index_select(1, index).view({B, C, L, 2}) * mask;
  const bool shoot = impl.options.shooting;
  const auto f = [&](const at::Tensor& xs, const at::Tensor& as) {
    const at::Tensor D = xs.unsqueeze(-2) - xs.unsqueeze(-3);  // [B,C,L,L,2] x_i − x_j
    const at::Tensor K = at::exp(-(D * D).sum(-1) * inv);      // [B,C,L,L]
    const at::Tensor fx = K.matmul(as);
    if (!shoot) return std::make_pair(fx, at::zeros_like(as));
    const at::Tensor PK = as.matmul(as.transpose(-1, -2)) * K;  // (α_i·α_j) K_ij
    const at::Tensor fa = 2 * inv * (PK.unsqueeze(-1) * D).sum(-2);
    return std::make_pair(fx, fa);
  };
  const Tableau tab = tableau(impl.options.integrator);
  const double h = 1.0 / impl.options.steps;
  for (int n = 0; n < impl.options.steps; ++n) {
    std::vector<at::Tensor> kx, ka;
    for (int st = 0; st < tab.stages; ++st) {
      at::Tensor xs = x, as = a;
      for (int r = 0; r < st; ++r) {
        if (tab.a[st][r] == 0) continue;
        xs = xs + (h * tab.a[st][r]) * kx[static_cast<size_t>(r)];
        as = as + (h * tab.a[st][r]) * ka[static_cast<size_t>(r)];
      }
      auto [fx, fa] = f(xs, as);
      kx.push_back(fx);
      ka.push_back(fa);
    }
    for (int st = 0; st < tab.stages; ++st) {
      x = x + (h * tab.b[st]) * kx[static_cast<size_t>(st)];
      if (shoot) a = a + (h * tab.b[st]) * ka[static_cast<size_t>(st)];
    }
  }
  return x.reshape({B, C * L, 2}).index_select(1, impl.pad_position.to(dev));
}

FlowTrace DeformationLayer::trace(const at::Tensor& tmpl_in, const at::Tensor& mom_in,
                                  const at::Tensor& extra_in, const at::Tensor& extra_curve_in) const {
  check_inputs(impl_->curves, tmpl_in, mom_in);
  at::NoGradGuard no_grad;
  const auto dev = mom_in.device();
  const at::Tensor tmpl = tmpl_in.detach().to(at::kCPU).contiguous();
  const at::Tensor mom = mom_in.detach().to(at::kCPU).contiguous();
  const int64_t B = mom.size(0);
  const int64_t n = mom.size(1);
  const int64_t C = static_cast<int64_t>(impl_->curves.curves.size());
  const int T = impl_->options.steps;
  // Landmarks' Jacobians: the landmarks ride along as extra points of their own curve.
  at::Tensor extra = tmpl;
  std::vector<int64_t> extra_curve(static_cast<size_t>(n));
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t p : impl_->curves.curves[static_cast<size_t>(c)]) extra_curve[static_cast<size_t>(p)] = c;
  }
  int64_t m_user = 0;
  if (extra_in.defined() && extra_in.numel() > 0) {
    if (!(extra_in.dim() == 2 || extra_in.dim() == 3) || extra_in.size(-1) != 2 ||
        (extra_in.dim() == 3 && extra_in.size(0) != B))
      throw std::invalid_argument("DeformationLayer::trace: extra points must be [m, 2] or [B, m, 2]");
    m_user = extra_in.size(-2);
    if (!extra_curve_in.defined() || extra_curve_in.numel() != m_user)
      throw std::invalid_argument("DeformationLayer::trace: extra_curve must give one curve per extra point");
    const at::Tensor ec = extra_curve_in.to(at::kCPU, at::kLong).contiguous();
    for (int64_t e = 0; e < m_user; ++e) {
      const int64_t c = ec.data_ptr<int64_t>()[e];
      if (c < 0 || c >= C)
        throw std::invalid_argument("DeformationLayer::trace: extra_curve entry out of range");
      extra_curve.push_back(c);
    }
    at::Tensor user = extra_in.detach().to(at::kCPU, mom.scalar_type());
    if (tmpl.dim() == 3 || user.dim() == 3) {
      const at::Tensor t3 = tmpl.dim() == 3 ? tmpl : tmpl.unsqueeze(0).expand({B, -1, -1});
      const at::Tensor u3 = user.dim() == 3 ? user : user.unsqueeze(0).expand({B, -1, -1});
      extra = at::cat({t3, u3}, 1).contiguous();
    } else {
      extra = at::cat({tmpl, user}, 0).contiguous();
    }
  }
  const bool extra_batched = extra.dim() == 3;
  const int64_t m_total = n + m_user;
  std::vector<std::vector<int64_t>> by_curve(static_cast<size_t>(C));
  for (int64_t e = 0; e < m_total; ++e)
    by_curve[static_cast<size_t>(extra_curve[static_cast<size_t>(e)])].push_back(e);

  const auto opts = mom.options();
  FlowTrace tr;
  tr.points = at::empty({B, n, 2}, opts);
  tr.momenta = at::empty({B, n, 2}, opts);
  tr.point_path = at::empty({T + 1, B, n, 2}, opts);
  tr.momentum_path = at::empty({T + 1, B, n, 2}, opts);
  at::Tensor e_out = at::empty({B, m_total, 2}, opts);
  at::Tensor e_jac = at::empty({B, m_total, 2, 2}, opts);
  at::Tensor e_path = at::empty({T + 1, B, m_total, 2}, opts);
  AT_DISPATCH_FLOATING_TYPES(mom.scalar_type(), "lddmm_flow_trace", [&] {
    run_forward<scalar_t>(impl_->layout, impl_->options, tmpl, tmpl.dim() == 3, mom, &tr.points, &tr.momenta,
                          &tr.point_path, &tr.momentum_path, nullptr, &extra, extra_batched, &by_curve,
                          &e_out, &e_jac, &e_path);
  });
  tr.point_jacobian = e_jac.narrow(1, 0, n);
  tr.point_det = at::linalg_det(tr.point_jacobian);
  if (m_user > 0) {
    tr.extra = e_out.narrow(1, n, m_user);
    tr.extra_jacobian = e_jac.narrow(1, n, m_user);
    tr.extra_det = at::linalg_det(tr.extra_jacobian);
    tr.extra_path = e_path.narrow(2, n, m_user);
  }
  if (!dev.is_cpu()) {
    for (at::Tensor* t : {&tr.points, &tr.momenta, &tr.point_path, &tr.momentum_path, &tr.point_jacobian,
                          &tr.point_det, &tr.extra, &tr.extra_path, &tr.extra_jacobian, &tr.extra_det}) {
      if (t->defined()) *t = t->to(dev);
    }
  }
  return tr;
}

}  // namespace lddmm
