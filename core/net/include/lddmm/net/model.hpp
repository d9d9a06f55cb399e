// The face alignment model: HRNetV2 backbone → head → landmarks. The LDDMM head is the paper's momentum
// estimator (a 1×1 fusion convolution, global average pool, one fully connected layer) whose momenta
// drive the deformation layer from the scheme's mean face; the baseline head regresses the coordinates
// directly (as offsets from the mean face) from the same features. An optional shape-indexed term adds,
// for each point, a linear map of features sampled on a small grid around that point of the mean face
// (LocalHeadConfig): the global pool keeps what the face is, the samples keep where its parts are. An
// optional cascade term samples the same way around the points the head gives without it and adds
// its correction to the same momenta: one flow of the mean face still gives every point. An optional
// detail term looks at the input's own pixels (DetailConfig): the backbone reads the crop reduced, the term
// reads small windows of the full-resolution crop around the points and corrects their momenta; an optional
// refine term does the same once more around the points the detail term gives (a second cascade stage).
// A model is saved as one
// self-describing file: configuration, scheme (with its mean face) and weights.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <array>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "lddmm/flow/flow.hpp"
#include "lddmm/flow/points.hpp"
#include "lddmm/flow/scheme.hpp"
#include "lddmm/net/network.hpp"

namespace lddmm {

enum class Head { Lddmm, Coordinates };

/// The shape-indexed term of the head: the backbone features are reduced to `channels` (1×1
/// convolution, ReLU), sampled bilinearly on a `grid`×`grid` pattern of spacing `spacing` (a fraction of
/// the crop side) centred on each mean-face point, and mapped by that point's own linear map to its
/// 2-vector, added to the global term. channels = 0: no such term (the paper's head).
/// The same pattern centred on the points the head gives without it (global + local terms) is the
/// cascade term: a second stage that sees the features where the first stage put the points.
struct LocalHeadConfig {
  int channels = 0;
  int grid = 3;
  double spacing = 1.0 / 16;
};

/// The detail term and the backbone's input reduction. The backbone reads the crop reduced `factor` times
/// (a factor×factor average), so a crop of factor× the backbone's side costs about what the smaller one
/// does and its landmarks are in the larger crop's pixels. With `patch` > 0 the head then samples a
/// `patch`×`patch` window of the full-resolution crop (spacing `spacing`, a fraction of the crop side:
/// 1/input_size is one pixel) centred on each point the rest of the head gives (held fixed, as the
/// cascade's), runs the same small convolutional net on every window (3×3 convolutions: 3 → `channels`,
/// then two of stride 2 to 2·`channels`, each with a ReLU) and maps its output by that point's own linear
/// map (zero at first) to a correction of that point's momentum: the pixels a reduced crop loses on a large
/// face (the backbone at 128 px sees a 250-px face at half its resolution). patch = 0: no such term.
struct DetailConfig {
  int factor = 1;
  int patch = 0;  // a multiple of 4
  int channels = 16;
  double spacing = 1.0 / 256;
};

/// What the network's landmarks are off from the annotation's, on average: subtracted from every
/// prediction at inference. `direct` for a prediction on the crop itself, `mirrored` for one on the
/// mirrored crop mapped back (mirror_back), each in two parts: one in input-crop pixels (what the network
/// learned off) and one in the source image's pixels (`*_image`: the annotation's own convention, such as
/// 300-W's points about one source pixel right of and below what they mark, which a crop shows at its
/// own scale: at 128 px, 0.4 crop pixels on a 250-px face, 1.0 on a 100-px one). `lddmm-face calibrate`
/// measures both on annotated faces (a fit over faces of many sizes separates them).
struct Calibration {
  std::array<double, 2> direct = {0, 0};
  std::array<double, 2> mirrored = {0, 0};
  std::array<double, 2> direct_image = {0, 0};
  std::array<double, 2> mirrored_image = {0, 0};
  bool has_image_term() const {
    return direct_image != std::array<double, 2>{0, 0} || mirrored_image != std::array<double, 2>{0, 0};
  }
  bool empty() const {
    return direct == std::array<double, 2>{0, 0} && mirrored == std::array<double, 2>{0, 0} &&
           !has_image_term();
  }
};

/// The network's estimate of its own error on a crop, from what its head reads (the global pool of the
/// fused features, [15W]): log NME ≈ weight · pool + bias, a ridge regression fitted on jittered and
/// moved-off crops of annotated faces (`lddmm-face fit-confidence`). Empty: the model has none.
struct ConfidenceHead {
  std::vector<double> weight;
  double bias = 0;
  bool empty() const { return weight.empty(); }
};

struct AlignerConfig {
  HRNetConfig backbone;
  int input_size = 128;  // square crop side, pixels
  Head head = Head::Lddmm;
  FlowOptions flow;  // integrator, steps, shooting
  /// σ_V of the flow and σ_W of the training loss: the scheme's rule (sigma_for_curve) × this. The rule reads
  /// the authors' values in a 64-px frame; their code applies them in a 256-px crop, ~0.28 × ours relative to
  /// the face.
  double kernel_scale = 1.0;
  LocalHeadConfig local;    // shape-indexed term (off by default)
  LocalHeadConfig cascade;  // second stage at the first's points (off)
  DetailConfig detail;      // reduced backbone input, full-resolution term (off)
  DetailConfig refine;      // a second detail term at the first's points (its `factor` unused; off)
  std::array<double, 3> mean = {0.485, 0.456, 0.406};  // per-channel normalisation of RGB in [0, 1]
  std::array<double, 3> std = {0.229, 0.224, 0.225};
  Calibration calibration;    // inference only; training ignores it
  ConfidenceHead confidence;  // inference only; training ignores it
};

std::string to_json(const AlignerConfig& config);
AlignerConfig aligner_config_from_json(const std::string& json, const std::string& origin);

class AlignerImpl : public torch::nn::Module {
 public:
  AlignerImpl(const AlignerConfig& config, const Scheme& scheme);

  /// images: [B, 3, S, S] normalised float → landmarks [B, n, 2] in crop pixels (S-pixel frame).
  torch::Tensor forward(const torch::Tensor& images);
  /// The backbone's fused features the head reads, [B, 15W, S/(4·factor), S/(4·factor)].
  torch::Tensor features(const torch::Tensor& images);
  /// The head's raw output: momenta (LDDMM head) or offsets from the mean face (baseline), [B, n, 2];
  /// `pooled` (optional) receives the global pool of the fused features, [B, 15W].
  torch::Tensor head_output(const torch::Tensor& images, torch::Tensor* pooled = nullptr);
  /// The confidence head's estimate of the NME (outer eye corners) of each crop's landmarks, [B], from the
  /// pool head_output gives; undefined without a confidence head.
  torch::Tensor estimated_error(const torch::Tensor& pooled) const;

  /// Landmarks from a head output: the flow of the mean face (LDDMM head) or mean face + offsets.
  torch::Tensor points_from(const torch::Tensor& head) const;

  const AlignerConfig& config() const { return config_; }
  /// Replaces the calibration (`lddmm-face calibrate`); the network is unchanged.
  void set_calibration(const Calibration& c) { config_.calibration = c; }
  /// Replaces the confidence head (`lddmm-face fit-confidence`); the network is unchanged. Throws
  /// ModelError unless it is empty or has one weight per pooled feature.
  void set_confidence(const ConfidenceHead& head);
  const Scheme& scheme() const { return scheme_; }
  const DeformationLayer& layer() const { return layer_; }
  /// The mean face in the input frame, [n, 2].
  const torch::Tensor& template_points() const { return template_; }
  /// After a smaller backbone's weights and buffers were copied in by name (`train --init` from a file whose
  /// backbone this one grows, see grows()): makes the parts it lacks start as the identity or, with a scale,
  /// as scaled copies (HRNetImpl::start_growth).
  void start_growth(const HRNetConfig& from, double scale = 0) { backbone_->start_growth(from, scale); }
  /// For inference only: folds the batch norms into their convolutions (same outputs in eval mode,
  /// about 10 % faster on a CPU). A folded model cannot be trained or saved; fold after moving it
  /// to its device.
  void fold_batch_norms();
  bool folded() const { return folded_; }
  /// Stores the convolution weights channels-last (NHWC) and runs the network on NHWC inputs: the
  /// same outputs, and on a CPU oneDNN's NHWC kernels are faster at batch 1 and 2 than the im2col
  /// path LibTorch picks for small NCHW tensors. Call after moving the model to its device.
  void use_channels_last();
  bool channels_last() const { return channels_last_; }

 private:
  AlignerConfig config_;
  Scheme scheme_;
  DeformationLayer layer_;
  HRNet backbone_{nullptr};
  torch::nn::Conv2d fuse_{nullptr};
  FoldableBatchNorm2d fuse_bn_{nullptr};
  torch::nn::Linear fc_{nullptr};
  torch::nn::Conv2d local_reduce_{nullptr};
  torch::Tensor local_weight_;  // [n, channels·grid², 2], per point
  torch::Tensor local_grid_;    // [1, n, grid², 2] sampling positions, grid_sample's [-1, 1] frame
  torch::nn::Conv2d cascade_reduce_{nullptr};
  torch::Tensor cascade_weight_;   // [n, channels·grid², 2], per point
  torch::Tensor cascade_offsets_;  // [1, 1, grid², 2] offsets around each point, grid_sample's frame
  torch::nn::Sequential detail_net_{nullptr};
  torch::Tensor detail_weight_;   // [n, 2·channels·(patch/4)², 2], per point
  torch::Tensor detail_offsets_;  // [1, 1, patch², 2] window around each point, grid_sample's frame
  torch::nn::Sequential refine_net_{nullptr};
  torch::Tensor refine_weight_;
  torch::Tensor refine_offsets_;
  torch::Tensor template_;
  torch::Tensor confidence_weight_;  // config_.confidence.weight as float32 on the CPU (undefined: no head)
  double output_scale_ = 1.0;
  bool folded_ = false;
  bool channels_last_ = false;
};
TORCH_MODULE(Aligner);

class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The points predicted on horizontally mirrored crops ([B, n, 2], crop pixels of side `side`, the crop
/// tensor flipped with flip({3}), so pixel column i shows column side − 1 − i) mapped back to the crops:
/// x → side − 1 − x (pixel centres at integer coordinates, as cv::warpAffine and the crop maps have
/// them) and point i ↔ partners[i] (mirror_partners; a point without a partner keeps its own index).
torch::Tensor mirror_back(const torch::Tensor& pred_on_mirrored, const std::vector<int>& partners,
                          double side);

/// Test-time mirroring: the average of `pred` (points on the crops) and `back` (mirror_back of the
/// points on the mirrored crops). A point without a partner keeps `pred`.
torch::Tensor merge_mirrored(const torch::Tensor& pred, const torch::Tensor& back,
                             const std::vector<int>& partners);

/// Subtracts a calibration offset from points [B, n, 2] on crops of the model's size: `offset` in
/// input-crop pixels and `image_offset` in the source image's pixels, carried to each crop by
/// `image_to_crop` ([B, 2, 2], image_to_crop_maps), which an image offset needs.
torch::Tensor calibrate_points(const torch::Tensor& pred, const std::array<double, 2>& offset,
                               const std::array<double, 2>& image_offset = {0, 0},
                               const torch::Tensor& image_to_crop = {});

/// One view's calibration fitted to faces' mean offsets from the annotation, `offset` (input-crop pixels)
/// on crops of `scale` crop pixels per image pixel: offset ≈ crop + scale·image, least squares over the
/// faces, each axis on its own. Without `image_term`, when the scales barely differ (under 1 % relative
/// spread, or fewer than 3 faces) or when the fit's image part is over 16 px on an axis (no annotation
/// convention), the image part is 0 and the crop part the mean offset.
struct CalibrationFit {
  std::array<double, 2> crop = {0, 0}, image = {0, 0};
};
CalibrationFit fit_calibration(const std::vector<std::array<double, 2>>& offset,
                               const std::vector<double>& scale, bool image_term);

/// The linear parts of crop maps (source pixels → crop pixels), times `scale` (that source's pixels per
/// pixel of the image the annotation was made on; empty: 1 each), a reflection undone (a mirrored photo
/// has its labels' convention in its own axes): [B, 2, 2] float32 for calibrate_points.
torch::Tensor image_to_crop_maps(const std::vector<Affine2>& maps, const std::vector<double>& scale = {});

/// A weight average ("soup") of models that share their configuration (calibration aside) and scheme:
/// every floating-point parameter and buffer is the mean of theirs, integer buffers are the first
/// model's. The result has no calibration (measure it anew). Mismatched models throw ModelError.
Aligner average_models(const std::vector<Aligner>& models);

/// Writes the model (weights as float16 when `half`, else float32).
void save_model(Aligner& model, const std::filesystem::path& file, bool half);
/// Reads a model written by save_model; a missing, damaged or foreign file throws ModelError.
Aligner load_model(const std::filesystem::path& file);

}  // namespace lddmm
