#include "lddmm/net/predict.hpp"

#include <stdexcept>

#include <torch/torch.h>

#include "lddmm/flow/register.hpp"
#include "lddmm/io/scheme_files.hpp"

namespace lddmm {

Predictor::Predictor(Aligner model, const std::optional<Scheme>& carry_to)
    : model_(std::move(model)), partners_(mirror_partners(model_->scheme())) {
  const Scheme& s = model_->scheme();
  if (!carry_to || carry_to->id == s.id) return;
  if (model_->config().head != Head::Lddmm)
    throw std::runtime_error("a coordinate-regression model predicts only its own scheme (" + s.id + ")");
  // Both mean faces in the network's input frame (the model's template is there).
  const double S = model_->config().input_size;
  carry_ = rescale(correspond(s, *carry_to), S / s.mean_face.frame, S / carry_to->mean_face.frame);
  carried_partners_ = mirror_partners(*carry_to);
}

std::pair<torch::Tensor, torch::Tensor> Predictor::calibrated(const torch::Tensor& points, int64_t B,
                                                              bool direct, bool mirrored,
                                                              const std::vector<int>& partners,
                                                              const torch::Tensor& image_to_crop) const {
  const Calibration& cal = model_->config().calibration;
  const double S = model_->config().input_size;
  torch::Tensor d, m;
  if (direct) d = calibrate_points(points.narrow(0, 0, B), cal.direct, cal.direct_image, image_to_crop);
  if (mirrored)
    m = calibrate_points(mirror_back(points.narrow(0, direct ? B : 0, B), partners, S), cal.mirrored,
                         cal.mirrored_image, image_to_crop);
  return {d, m};
}

ViewPoints Predictor::run(const torch::Tensor& crops, Views views, const torch::Tensor& image_to_crop,
                          bool trace, const torch::Tensor& extra, const torch::Tensor& extra_curve) {
  const int64_t B = crops.size(0);
  const bool direct = views != Views::Mirrored;
  const bool mirrored = views != Views::Direct;
  const torch::Tensor input = views == Views::Both ? torch::cat({crops, crops.flip({3})})
                              : mirrored           ? crops.flip({3})
                                                   : crops;
  torch::Tensor pooled;
  const torch::Tensor heads = model_->head_output(input, &pooled);
  const torch::Tensor tmpl = model_->template_points();
  const bool lddmm = model_->config().head == Head::Lddmm;
  ViewPoints v;
  if (direct) {
    v.head = heads.narrow(0, 0, B);
    v.pooled = pooled.narrow(0, 0, B);
    v.error = model_->estimated_error(v.pooled);
  }
  if (trace && lddmm && direct)
    v.trace =
        model_->layer().trace(tmpl, v.head, extra.defined() ? extra.to(tmpl.device()) : extra, extra_curve);
  // The flow of every head at once, unless the trace already flowed the only view.
  const torch::Tensor points = v.trace && !mirrored ? v.trace->points : model_->points_from(heads);
  std::tie(v.direct, v.mirrored) = calibrated(points, B, direct, mirrored, partners_, image_to_crop);
  if (carry_)
    std::tie(v.carried_direct, v.carried_mirrored) =
        calibrated(carry_points(model_->layer(), *carry_, tmpl, heads), B, direct, mirrored,
                   carried_partners_, image_to_crop);
  return v;
}

torch::Tensor Predictor::merged(const torch::Tensor& d, const torch::Tensor& m,
                                const std::vector<int>& partners) {
  if (!m.defined()) return d;
  return d.defined() ? merge_mirrored(d, m, partners) : m;
}

}  // namespace lddmm
