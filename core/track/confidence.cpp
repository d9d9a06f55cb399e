#include "lddmm/track/confidence.hpp"

#include <cmath>
#include <limits>

namespace lddmm {

double view_disagreement(const Points& a, const Points& b) {
  if (a.rows() == 0 || a.rows() != b.rows() || !a.allFinite() || !b.allFinite())
    return std::numeric_limits<double>::infinity();
  const Eigen::RowVector2d extent = a.colwise().maxCoeff() - a.colwise().minCoeff();
  const double side = extent.maxCoeff();
  if (!(side > 0)) return std::numeric_limits<double>::infinity();
  return (a - b).rowwise().norm().mean() / side;
}

double confidence_of(double d, double d_half) {
  if (!(d >= 0) || !std::isfinite(d)) return 0;
  const double r = d / d_half;
  return 1 / (1 + r * r);
}

CheckVerdict check_verdict(double confidence, double min_confidence, bool is_new, bool doubted) {
  if (!(confidence < min_confidence)) return CheckVerdict::Keep;
  return is_new || doubted ? CheckVerdict::LetGo : CheckVerdict::CheckAgain;
}

CheckVerdict judge(const FaceConfidence& c, double min_confidence, bool is_new, bool& doubted) {
  doubted = doubted || c.estimated < min_confidence;
  if (std::isnan(c.checked)) return doubted ? CheckVerdict::CheckAgain : CheckVerdict::Keep;
  const CheckVerdict v = check_verdict(c.checked, min_confidence, is_new, doubted);
  doubted = v == CheckVerdict::CheckAgain;
  return v;
}

}  // namespace lddmm
