#include "lddmm/track/confidence_fit.hpp"

#include <torch/torch.h>

#include <Eigen/Dense>

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

#include "lddmm/face/faces.hpp"
#include "lddmm/flow/metrics.hpp"
#include "lddmm/flow/tensor_points.hpp"
#include "lddmm/track/tracker.hpp"

namespace lddmm {
namespace {

// Where a crop of `kind` goes: the face's upright crop moved, scaled and turned by that kind's amounts.
FaceCrop jittered(FaceCrop c, CropKind kind, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(-1, 1);
  const auto shift = [&](double dx, double dy) {
    c.centre.x() += dx * c.side;
    c.centre.y() += dy * c.side;
  };
  // Moved `lo`–`hi` sides in a random direction.
  const auto away = [&](double lo, double hi) {
    const double a = M_PI * u(rng), r = lo + (hi - lo) * (u(rng) + 1) / 2;
    shift(r * std::cos(a), r * std::sin(a));
  };
  const double x = u(rng), y = u(rng), s = u(rng), t = u(rng);
  switch (kind) {
    case CropKind::Near:
      shift(0.1 * x, 0.1 * y);
      c.side *= 1 + 0.1 * s;
      c.angle += 0.1 * t;
      break;
    case CropKind::Loose:
      shift(0.25 * x, 0.25 * y);
      c.side *= 1 + 0.25 * s;
      c.angle += 0.3 * t;
      break;
    case CropKind::Sliding:
      away(0.3, 0.7);
      c.side *= 1 + 0.2 * s;
      break;
    case CropKind::Off:
      away(1.0, 1.6);
      break;
  }
  return c;
}

}  // namespace

void add_confidence_samples(Predictor& predictor, const cv::Mat& bgr, const Points& truth, std::mt19937& rng,
                            ConfidenceSamples& out) {
  const Aligner& model = predictor.model();
  const AlignerConfig& cfg = model->config();
  const Scheme& scheme = model->scheme();
  if (truth.rows() != scheme.num_points)
    throw std::invalid_argument("confidence samples: the model's points");
  const FaceCrop upright = crop_from_points(truth, scheme);
  constexpr std::array<CropKind, 4> kKinds = {CropKind::Near, CropKind::Loose, CropKind::Sliding,
                                              CropKind::Off};
  const int S = cfg.input_size;
  const auto B = static_cast<int64_t>(kKinds.size());
  torch::Tensor batch = torch::empty({B, 3, S, S}, torch::kFloat32);
  std::vector<Affine2> maps;
  for (int64_t b = 0; b < B; ++b) {
    const FaceCrop c = jittered(upright, kKinds[static_cast<size_t>(b)], rng);
    maps.push_back(
        crop_face(bgr, c.centre, 1.25 * c.side, c.angle, S, cfg.mean, cfg.std, batch[b].data_ptr<float>()));
  }
  const torch::Device device = model->parameters().front().device();
  torch::InferenceMode guard;
  const torch::Tensor to_crop =
      cfg.calibration.has_image_term() ? image_to_crop_maps(maps).to(device) : torch::Tensor();
  const ViewPoints v = predictor.run(batch.to(device), Views::Direct, to_crop);
  const torch::Tensor pts = v.direct.to(torch::kCPU, torch::kFloat64);
  const torch::Tensor pool = v.pooled.to(torch::kCPU, torch::kFloat64).contiguous();
  const double d = normalising_distance(truth, scheme.normalisation);
  for (int64_t b = 0; b < B; ++b) {
    const Points p = apply_affine(invert_affine(maps[static_cast<size_t>(b)]), tensor_to_points(pts[b]));
    const double e = p.allFinite() ? nme(p, truth, d) : ConfidenceSamples::kMaxError;
    out.error.push_back(std::clamp(e, ConfidenceSamples::kMinError, ConfidenceSamples::kMaxError));
    const double* f = pool[b].data_ptr<double>();
    out.features.emplace_back(f, f + pool.size(1));
    out.kind.push_back(kKinds[static_cast<size_t>(b)]);
  }
}

ConfidenceHead fit_confidence_head(const ConfidenceSamples& s, double ridge) {
  const auto n = static_cast<Eigen::Index>(s.features.size());
  if (n < 2) throw std::invalid_argument("fit_confidence_head: needs at least two samples");
  const auto k = static_cast<Eigen::Index>(s.features.front().size());
  Eigen::MatrixXd X(n, k);
  Eigen::VectorXd y(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    X.row(i) = Eigen::Map<const Eigen::RowVectorXd>(s.features[static_cast<size_t>(i)].data(), k);
    y(i) = std::log(s.error[static_cast<size_t>(i)]);
  }
  const Eigen::RowVectorXd mean = X.colwise().mean();
  X.rowwise() -= mean;
  const Eigen::RowVectorXd sd =
      ((X.colwise().squaredNorm() / static_cast<double>(n)).array().sqrt() + 1e-12).matrix();
  X.array().rowwise() /= sd.array();
  const double y_mean = y.mean();
  Eigen::MatrixXd A = X.transpose() * X;
  A.diagonal().array() += ridge * static_cast<double>(n);
  const Eigen::VectorXd beta = A.ldlt().solve(X.transpose() * (y.array() - y_mean).matrix());
  ConfidenceHead h;
  h.weight.resize(static_cast<size_t>(k));
  for (Eigen::Index j = 0; j < k; ++j) h.weight[static_cast<size_t>(j)] = beta(j) / sd(j);
  h.bias = y_mean - mean.dot(Eigen::Map<const Eigen::VectorXd>(h.weight.data(), k));
  return h;
}

std::vector<double> estimate_errors(const ConfidenceHead& head, const ConfidenceSamples& s) {
  std::vector<double> out;
  for (const std::vector<double>& f : s.features) {
    double z = head.bias;
    for (size_t j = 0; j < f.size() && j < head.weight.size(); ++j) z += head.weight[j] * f[j];
    out.push_back(std::exp(z));
  }
  return out;
}

}  // namespace lddmm
