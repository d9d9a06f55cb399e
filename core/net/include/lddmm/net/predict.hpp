// The network's landmarks on a batch of face crops: the one place that runs a model for the tracker,
// `evaluate` and the trainer's teachers (views, mirroring, calibration, points carried to another scheme).
#pragma once

#include <optional>
#include <vector>

#include <torch/types.h>

#include "lddmm/flow/correspondence.hpp"
#include "lddmm/flow/flow.hpp"
#include "lddmm/flow/scheme.hpp"
#include "lddmm/net/model.hpp"

namespace lddmm {

/// Which views of a crop the network sees: the crop, its mirror image, or both in one batch.
enum class Views { Direct, Mirrored, Both };

/// One batch's landmarks in the crops' pixels, each view calibrated (Calibration), the mirror image's
/// mapped back (x → S − 1 − x, point ↔ its mirror partner). A view that was not run is undefined.
struct ViewPoints {
  torch::Tensor direct, mirrored;                  // [B, n, 2], the model's scheme
  torch::Tensor carried_direct, carried_mirrored;  // [B, m, 2], the carried scheme (with one)
  torch::Tensor head;                              // the direct view's head output (momenta), [B, n, 2]
  torch::Tensor pooled;                            // the direct view's pooled features, [B, 15W]
  torch::Tensor error;  // the direct view's estimated NME, [B] (AlignerImpl::estimated_error; or undefined)
  std::optional<FlowTrace> trace;  // the direct view's flow, when asked for
};

/// A model ready to place landmarks on crops of its input size.
class Predictor {
 public:
  /// `carry_to`: a second scheme whose points an LDDMM model places with its flow (sparse to dense).
  explicit Predictor(Aligner model, const std::optional<Scheme>& carry_to = std::nullopt);

  /// Runs the network once on `crops` ([B, 3, S, S] normalised, on the model's device; with Both the crops
  /// and their mirror images go through as one batch of 2B). `image_to_crop` ([B, 2, 2],
  /// image_to_crop_maps) carries a calibration's image part. `trace`: the direct view's flow (LDDMM head),
  /// with `extra` points and their curves (FlowTrace::extra).
  ViewPoints run(const torch::Tensor& crops, Views views, const torch::Tensor& image_to_crop = {},
                 bool trace = false, const torch::Tensor& extra = {}, const torch::Tensor& extra_curve = {});

  /// The landmarks of both views averaged, or the one view that was run.
  torch::Tensor landmarks(const ViewPoints& v) const { return merged(v.direct, v.mirrored, partners_); }
  /// The same for the carried scheme's points.
  torch::Tensor carried(const ViewPoints& v) const {
    return merged(v.carried_direct, v.carried_mirrored, carried_partners_);
  }

  Aligner& model() { return model_; }
  const Aligner& model() const { return model_; }
  const Scheme& scheme() const { return model_->scheme(); }
  /// The points' mirror partners (mirror_partners) in the model's scheme and in the carried one.
  const std::vector<int>& partners() const { return partners_; }
  const std::vector<int>& carried_partners() const { return carried_partners_; }
  bool carries() const { return carry_.has_value(); }

 private:
  static torch::Tensor merged(const torch::Tensor& d, const torch::Tensor& m,
                              const std::vector<int>& partners);
  std::pair<torch::Tensor, torch::Tensor> calibrated(const torch::Tensor& points, int64_t B, bool direct,
                                                     bool mirrored, const std::vector<int>& partners,
                                                     const torch::Tensor& image_to_crop) const;

  Aligner model_;
  std::optional<Correspondence> carry_;
  std::vector<int> partners_, carried_partners_;
};

}  // namespace lddmm
