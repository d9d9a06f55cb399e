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

struct HRNetConfig {
  int width = 18;                          // W: channels of the highest-resolution branch (W18, W32, ...)
  std::array<int, 3> modules = {1, 4, 3};  // HR modules in stages 2, 3, 4 (W18: 1, 4, 3)
  int blocks = 4;                          // basic blocks per branch in each module (W18: 4)
  int stem_blocks = 4;                     // bottleneck blocks of stage 1 (W18: 4)
  int stem_width = 64;                     // channels of the stem (W18: 64)
};

class HRNetImpl : public torch::nn::Module {
 public:
  explicit HRNetImpl(const HRNetConfig& config);
  /// images [B, 3, H, W] → HRNetV2 features [B, 15W, H/4, W/4].
  torch::Tensor forward(torch::Tensor images);
  int64_t out_channels() const { return out_channels_; }

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
