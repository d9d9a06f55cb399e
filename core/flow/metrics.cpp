#include "lddmm/flow/metrics.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace lddmm {

double normalising_distance(const Points& truth, const std::array<int, 2>& pair) {
  if (pair[0] < 0 || pair[1] < 0 || pair[0] >= truth.rows() || pair[1] >= truth.rows())
    throw std::invalid_argument("normalising_distance: pair out of range");
  return (truth.row(pair[0]) - truth.row(pair[1])).norm();
}

double nme(const Points& predicted, const Points& truth, double d) {
  if (predicted.rows() != truth.rows() || truth.rows() == 0)
    throw std::invalid_argument("nme: predicted and true shapes differ in size");
  if (!(d > 0)) throw std::invalid_argument("nme: the normalising distance must be positive");
  return (predicted - truth).rowwise().norm().mean() / d;
}

ErrorCurve cumulative_error_curve(const std::vector<double>& errors, double limit, int samples) {
  if (samples < 2) throw std::invalid_argument("cumulative_error_curve: needs at least 2 samples");
  std::vector<double> sorted = errors;
  std::sort(sorted.begin(), sorted.end());
  ErrorCurve c;
  for (int k = 0; k < samples; ++k) {
    const double t = limit * k / (samples - 1);
    const auto below = std::upper_bound(sorted.begin(), sorted.end(), t) - sorted.begin();
    c.threshold.push_back(t);
    c.fraction.push_back(sorted.empty() ? 0.0
                                        : static_cast<double>(below) / static_cast<double>(sorted.size()));
  }
  return c;
}

NmeSummary summarize(const std::vector<double>& errors, double limit) {
  NmeSummary s;
  s.faces = static_cast<int>(errors.size());
  if (errors.empty()) return s;
  for (double e : errors) {
    s.mean += e;
    if (!(e <= limit)) s.failure += 1;  // a NaN (a lost face) fails
    s.auc += std::max(0.0, 1.0 - e / limit);
  }
  const double n = static_cast<double>(errors.size());
  s.mean /= n;
  s.failure /= n;
  s.auc /= n;
  return s;
}

std::vector<NmeSummary> summarize_groups(const std::vector<double>& errors, const std::vector<int>& group,
                                         int groups, double limit) {
  if (group.size() != errors.size())
    throw std::invalid_argument("summarize_groups: one group per face is needed");
  if (groups < 0) throw std::invalid_argument("summarize_groups: negative number of groups");
  std::vector<std::vector<double>> members(static_cast<size_t>(groups));
  for (size_t i = 0; i < errors.size(); ++i) {
    if (group[i] < 0 || group[i] >= groups)
      throw std::invalid_argument("summarize_groups: group " + std::to_string(group[i]) + " out of range");
    members[static_cast<size_t>(group[i])].push_back(errors[i]);
  }
  std::vector<NmeSummary> out;
  out.reserve(members.size());
  for (const auto& m : members) out.push_back(summarize(m, limit));
  return out;
}

int band(double value, const std::vector<double>& edges) {
  return static_cast<int>(std::upper_bound(edges.begin(), edges.end(), value) - edges.begin());
}

namespace {

// Mean over rows of `from` of the distance to the nearest row of `to`.
double mean_nearest(const Points& from, const Points& to) {
  double sum = 0;
  for (Eigen::Index i = 0; i < from.rows(); ++i)
    sum += std::sqrt((to.rowwise() - from.row(i)).rowwise().squaredNorm().minCoeff());
  return sum / static_cast<double>(from.rows());
}

Points select(const Points& p, const std::vector<Part>& parts, Part which) {
  std::vector<Eigen::Index> rows;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == which) rows.push_back(static_cast<Eigen::Index>(i));
  }
  Points out(static_cast<Eigen::Index>(rows.size()), 2);
  for (size_t k = 0; k < rows.size(); ++k) out.row(static_cast<Eigen::Index>(k)) = p.row(rows[k]);
  return out;
}

}  // namespace

PartErrors nme_curves(const Points& predicted, const std::vector<Part>& predicted_parts, const Points& truth,
                      const std::vector<Part>& truth_parts, double d) {
  if (static_cast<Eigen::Index>(predicted_parts.size()) != predicted.rows() ||
      static_cast<Eigen::Index>(truth_parts.size()) != truth.rows())
    throw std::invalid_argument("nme_curves: part labels do not match the shapes");
  if (!(d > 0)) throw std::invalid_argument("nme_curves: the normalising distance must be positive");
  PartErrors out;
  double sum = 0;
  int used = 0;
  for (int p = 0; p < kNumParts; ++p) {
    const Points a = select(predicted, predicted_parts, static_cast<Part>(p));
    const Points b = select(truth, truth_parts, static_cast<Part>(p));
    if (a.rows() == 0 || b.rows() == 0) {
      out.part[static_cast<size_t>(p)] = std::numeric_limits<double>::quiet_NaN();
      continue;
    }
    const double e = 0.5 * (mean_nearest(a, b) + mean_nearest(b, a)) / d;
    out.part[static_cast<size_t>(p)] = e;
    sum += e;
    ++used;
  }
  out.overall = used > 0 ? sum / used : std::numeric_limits<double>::quiet_NaN();
  return out;
}

PartErrors mean_part_errors(const std::vector<PartErrors>& faces) {
  PartErrors out;
  std::array<int, kNumParts> counts{};
  int n_overall = 0;
  for (const PartErrors& f : faces) {
    for (size_t p = 0; p < kNumParts; ++p) {
      if (!std::isnan(f.part[p])) out.part[p] += f.part[p], ++counts[p];
    }
    if (!std::isnan(f.overall)) out.overall += f.overall, ++n_overall;
  }
  for (size_t p = 0; p < kNumParts; ++p) {
    out.part[p] = counts[p] > 0 ? out.part[p] / counts[p] : std::numeric_limits<double>::quiet_NaN();
  }
  out.overall = n_overall > 0 ? out.overall / n_overall : std::numeric_limits<double>::quiet_NaN();
  return out;
}

DetJTable detj_table(const std::vector<Eigen::Matrix2d>& jacobians) {
  DetJTable t;
  t.count = static_cast<long>(jacobians.size());
  if (jacobians.empty()) return t;
  Eigen::Matrix2d mean = Eigen::Matrix2d::Zero();
  for (const Eigen::Matrix2d& j : jacobians) {
    const double det = j.determinant();
    t.mean_det += det;
    if (det <= 0) ++t.nonpositive;
    mean += j;
  }
  t.mean_det /= static_cast<double>(jacobians.size());
  t.det_of_mean = (mean / static_cast<double>(jacobians.size())).determinant();
  return t;
}

namespace {
std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  for (size_t i = 0; i < v.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    for (size_t k = i; k <= j; ++k) r[order[k]] = 0.5 * static_cast<double>(i + j);
    i = j + 1;
  }
  return r;
}
}  // namespace

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(v.size() - 1);
  const auto i = static_cast<size_t>(pos);
  const double f = pos - static_cast<double>(i);
  return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

double roc_auc(const std::vector<double>& lower, const std::vector<double>& higher) {
  if (lower.empty() || higher.empty()) return 0.5;
  double wins = 0;
  for (double a : lower)
    for (double b : higher) wins += a < b ? 1 : a == b ? 0.5 : 0;
  return wins / (static_cast<double>(lower.size()) * static_cast<double>(higher.size()));
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("spearman: samples of different lengths");
  if (a.size() < 2) return 0;
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  const auto n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ma += ra[i] / n;
    mb += rb[i] / n;
  }
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0;
}

}  // namespace lddmm
