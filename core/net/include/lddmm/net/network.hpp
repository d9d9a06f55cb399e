// HRNetV2 backbone (Wang et al., "Deep High-Resolution Representation Learning"), LibTorch C++:
// a stem to 1/4 resolution, stage 1 of bottleneck blocks, then stages 2–4 with 2, 3 and 4 parallel
// branches (widths W, 2W, 4W, 8W) that exchange information by repeated multi-scale fusion. The HRNetV2
// representation concatenates all branches upsampled to the highest resolution (15W channels).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>

#include <array>
#include <string>

namespace lddmm {

/// A 2-d batch norm (the same computation, parameter and buffer names as torch::nn::BatchNorm2d, so model
/// files are unchanged; momentum 0.1, ε 1e-5) that can be folded into the convolution before it for
/// inference; once folded it passes its input through. (LibTorch's BatchNorm2dImpl cannot be derived
/// from: its library does not export the base's virtual members.)
class FoldableBatchNorm2dImpl : public torch::nn::Module {
 public:
  explicit FoldableBatchNorm2dImpl(int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);
  bool folded() const { return folded_; }
  static constexpr double kEps = 1e-5;
  static constexpr double kMomentum = 0.1;
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  friend int fold_batch_norms(torch::nn::Module& module);
  bool folded_ = false;
};
TORCH_MODULE(FoldableBatchNorm2d);

/// Folds every foldable batch norm that directly follows a convolution among its parent's children
/// (registration order) into that convolution, using the running statistics (inference only):
/// w' = w·γ/√(σ²+ε), b' = (b − μ)·γ/√(σ²+ε) + β. Returns how many were folded; folding again folds none.
int fold_batch_norms(torch::nn::Module& module);

struct HRNetConfig {
  int width = 18;                          // W: channels of the highest-resolution branch (W18, W32, ...)
  std::array<int, 3> modules = {1, 4, 3};  // HR modules in stages 2, 3, 4 (W18: 1, 4, 3)
  int blocks = 4;                          // basic blocks per branch in each module (W18: 4)
  int stem_blocks = 4;                     // bottleneck blocks of stage 1 (W18: 4)
  int stem_width = 64;                     // channels of the stem (W18: 64)
};

/// Whether `to` is `from` grown: the same width and stem, at least as many modules (from one) in every stage
/// and blocks in every branch. Every parameter of a `from` network then has the same name and shape in a `to`
/// network (modules are appended to their stage, blocks to their branch).
bool grows(const HRNetConfig& from, const HRNetConfig& to);

class HRNetImpl : public torch::nn::Module {
 public:
  explicit HRNetImpl(const HRNetConfig& config);
  /// images [B, 3, H, W] → HRNetV2 features [B, 15W, H/4, W/4].
  torch::Tensor forward(torch::Tensor images);
  int64_t out_channels() const { return out_channels_; }
  /// Growth, after a `from` network's parameters and buffers were copied in by name. With `scale` 0,
  /// function-preserving: zeroes the scale of the last batch norm of every residual block and every fusion
  /// path that `from` lacks, so that such a block passes its (non-negative) input through and such a module
  /// adds nothing to each branch: this network computes what `from` computes. With `scale` > 0, each new
  /// block is first a copy of the block before it in its branch and each new module a copy of the module
  /// before it in its stage, then those last batch norms' scales and shifts are multiplied by `scale`:
  /// trained features, a little of them added (near `from`'s output for a small scale).
  /// Throws std::invalid_argument unless grows(from, config()).
  void start_growth(const HRNetConfig& from, double scale = 0);
  const HRNetConfig& config() const { return config_; }

 private:
  HRNetConfig config_;
  torch::nn::Sequential stem_{nullptr};
  torch::nn::Sequential layer1_{nullptr};
  std::array<torch::nn::ModuleList, 3> transitions_;  // before stages 2, 3, 4: one entry per new branch
  std::array<torch::nn::ModuleList, 3> stages_;       // HR modules
  int64_t out_channels_ = 0;
};
TORCH_MODULE(HRNet);

}  // namespace lddmm
