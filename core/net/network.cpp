#include "lddmm/net/network.hpp"

#include <torch/torch.h>

#include <stdexcept>
#include <vector>

namespace lddmm {
namespace {

namespace nn = torch::nn;

nn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).bias(false));
}
FoldableBatchNorm2d bn(int64_t c) { return FoldableBatchNorm2d(c); }

/// Copies the parameters and buffers of `src` into `dst`, a module of the same structure.
void copy_state(nn::Module& dst, const nn::Module& src) {
  auto p = dst.named_parameters();
  for (const auto& q : src.named_parameters()) p[q.key()].copy_(q.value());
  auto b = dst.named_buffers();
  for (const auto& q : src.named_buffers()) b[q.key()].copy_(q.value());
}

class BasicBlockImpl : public nn::Module {
 public:
  BasicBlockImpl(int64_t c) {
    c1_ = register_module("conv1", conv(c, c, 3));
    b1_ = register_module("bn1", bn(c));
    c2_ = register_module("conv2", conv(c, c, 3));
    b2_ = register_module("bn2", bn(c));
  }
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor y = torch::relu(b1_(c1_(x)));
    y = b2_(c2_(y));
    return torch::relu(y + x);
  }
  /// Multiplies the residual branch by `scale` (its last batch norm's scale and shift); with 0 the block is
  /// relu(x), the identity on the non-negative input it gets.
  void scale_residual(double scale) {
    b2_->weight.mul_(scale);
    b2_->bias.mul_(scale);
  }

 private:
  nn::Conv2d c1_{nullptr}, c2_{nullptr};
  FoldableBatchNorm2d b1_{nullptr}, b2_{nullptr};
};
TORCH_MODULE(BasicBlock);

class BottleneckImpl : public nn::Module {
 public:
  BottleneckImpl(int64_t in, int64_t planes) {
    const int64_t out = planes * 4;
    c1_ = register_module("conv1", conv(in, planes, 1));
    b1_ = register_module("bn1", bn(planes));
    c2_ = register_module("conv2", conv(planes, planes, 3));
    b2_ = register_module("bn2", bn(planes));
    c3_ = register_module("conv3", conv(planes, out, 1));
    b3_ = register_module("bn3", bn(out));
    if (in != out) down_ = register_module("downsample", nn::Sequential(conv(in, out, 1), bn(out)));
  }
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor y = torch::relu(b1_(c1_(x)));
    y = torch::relu(b2_(c2_(y)));
    y = b3_(c3_(y));
    return torch::relu(y + (down_ ? down_->forward(x) : x));
  }

 private:
  nn::Conv2d c1_{nullptr}, c2_{nullptr}, c3_{nullptr};
  FoldableBatchNorm2d b1_{nullptr}, b2_{nullptr}, b3_{nullptr};
  nn::Sequential down_{nullptr};
};
TORCH_MODULE(Bottleneck);

// One HR module: `branches` parallel branches of basic blocks, then every output branch sums all inputs
// brought to its resolution (strided 3×3 convolutions down, 1×1 convolution and upsampling up).
class HRModuleImpl : public nn::Module {
 public:
  HRModuleImpl(int branches, int64_t width, int blocks) : branches_(branches) {
    for (int b = 0; b < branches; ++b) {
      nn::Sequential seq;
      for (int k = 0; k < blocks; ++k) seq->push_back(BasicBlock(width << b));
      paths_->push_back(seq);
    }
    register_module("branches", paths_);
    for (int i = 0; i < branches; ++i) {
      nn::ModuleList row;
      for (int j = 0; j < branches; ++j) {
        nn::Sequential f;
        if (j > i) {
          f->push_back(conv(width << j, width << i, 1));
          f->push_back(bn(width << i));
        } else if (j < i) {
          for (int k = 0; k < i - j; ++k) {
            const bool last = k == i - j - 1;
            const int64_t in = width << j;
            const int64_t out = last ? (width << i) : in;
            f->push_back(conv(in, out, 3, 2));
            f->push_back(bn(out));
            if (!last) f->push_back(nn::Functional(torch::relu));
          }
        }
        row->push_back(f);  // empty for j == i (identity)
      }
      fuse_->push_back(row);
    }
    register_module("fuse", fuse_);
  }

  /// Multiplies the residual of every block from `first_block` on in each branch and, if `fusion`, the last
  /// batch norm (scale and shift) of every fusion path by `scale` (with 0 the module adds nothing across
  /// branches and those blocks pass their input through).
  void scale_new(int first_block, bool fusion, double scale) {
    for (int b = 0; b < branches_; ++b) {
      auto seq = paths_[b]->as<nn::Sequential>();
      for (size_t k = static_cast<size_t>(first_block); k < seq->size(); ++k)
        seq->ptr(k)->as<BasicBlockImpl>()->scale_residual(scale);
    }
    if (!fusion) return;
    for (int i = 0; i < branches_; ++i) {
      auto row = fuse_[i]->as<nn::ModuleList>();
      for (int j = 0; j < branches_; ++j) {
        if (j == i) continue;
        auto f = (*row)[j]->as<nn::Sequential>();  // every path ends in a batch norm
        auto norm = f->ptr(f->size() - 1)->as<FoldableBatchNorm2dImpl>();
        norm->weight.mul_(scale);
        norm->bias.mul_(scale);
      }
    }
  }
  /// Blocks `first_block` on of each branch become copies of block `first_block` − 1 of that branch.
  void copy_new_blocks(int first_block) {
    for (int b = 0; b < branches_; ++b) {
      auto seq = paths_[b]->as<nn::Sequential>();
      for (size_t k = static_cast<size_t>(first_block); k < seq->size(); ++k)
        copy_state(*seq->ptr(k), *seq->ptr(static_cast<size_t>(first_block) - 1));
    }
  }

  std::vector<torch::Tensor> forward(std::vector<torch::Tensor> xs) {
    for (int b = 0; b < branches_; ++b)
      xs[static_cast<size_t>(b)] = paths_[b]->as<nn::Sequential>()->forward(xs[static_cast<size_t>(b)]);
    std::vector<torch::Tensor> out;
    for (int i = 0; i < branches_; ++i) {
      torch::Tensor sum = xs[static_cast<size_t>(i)];
      auto row = fuse_[i]->as<nn::ModuleList>();
      for (int j = 0; j < branches_; ++j) {
        if (j == i) continue;
        torch::Tensor y = (*row)[j]->as<nn::Sequential>()->forward(xs[static_cast<size_t>(j)]);
        if (j > i) {
          y = torch::nn::functional::interpolate(y, torch::nn::functional::InterpolateFuncOptions()
                                                        .size(std::vector<int64_t>{sum.size(2), sum.size(3)})
                                                        .mode(torch::kBilinear)
                                                        .align_corners(false));
        }
        sum = sum + y;
      }
      out.push_back(torch::relu(sum));
    }
    return out;
  }

 private:
  int branches_;
  nn::ModuleList paths_;
  nn::ModuleList fuse_;
};
TORCH_MODULE(HRModule);

}  // namespace

FoldableBatchNorm2dImpl::FoldableBatchNorm2dImpl(int64_t channels) {
  // Registration order and names as in torch::nn::BatchNorm2d.
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
  running_mean = register_buffer("running_mean", torch::zeros({channels}));
  running_var = register_buffer("running_var", torch::ones({channels}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
}

torch::Tensor FoldableBatchNorm2dImpl::forward(const torch::Tensor& x) {
  if (folded_) return x;
  if (is_training()) {
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
  }
  return torch::batch_norm(x, weight, bias, running_mean, running_var, is_training(), kMomentum, kEps,
                           at::globalContext().userEnabledCuDNN());
}

int fold_batch_norms(torch::nn::Module& module) {
  int folded = 0;
  std::shared_ptr<nn::Conv2dImpl> previous;
  for (const auto& child : module.named_children()) {
    const std::shared_ptr<nn::Module> m = child.value();
    auto norm = std::dynamic_pointer_cast<FoldableBatchNorm2dImpl>(m);
    if (norm && previous && !norm->folded_) {
      torch::NoGradGuard no_grad;
      const torch::Tensor scale =
          norm->weight / torch::sqrt(norm->running_var + FoldableBatchNorm2dImpl::kEps);  // γ/√(σ²+ε)
      torch::Tensor bias =
          previous->bias.defined() ? previous->bias.detach().clone() : torch::zeros_like(norm->running_mean);
      bias = (bias - norm->running_mean) * scale + norm->bias;
      previous->weight.mul_(scale.view({-1, 1, 1, 1}));
      // A convolution made without bias keeps its undefined registered "bias"; its forward reads the member.
      if (previous->bias.defined())
        previous->bias.copy_(bias);
      else
        previous->bias = bias;
      norm->folded_ = true;
      ++folded;
    }
    previous = std::dynamic_pointer_cast<nn::Conv2dImpl>(m);
    folded += fold_batch_norms(*m);
  }
  return folded;
}

HRNetImpl::HRNetImpl(const HRNetConfig& c) : config_(c) {
  if (c.width < 1 || c.blocks < 1 || c.stem_blocks < 1 || c.stem_width < 1)
    throw std::invalid_argument("HRNet: width, blocks and stem sizes must be positive");
  stem_ = register_module(
      "stem",
      nn::Sequential(conv(3, c.stem_width, 3, 2), bn(c.stem_width), nn::Functional(torch::relu),
                     conv(c.stem_width, c.stem_width, 3, 2), bn(c.stem_width), nn::Functional(torch::relu)));
  layer1_ = nn::Sequential();
  int64_t in = c.stem_width;
  for (int k = 0; k < c.stem_blocks; ++k) {
    layer1_->push_back(Bottleneck(in, c.stem_width));
    in = c.stem_width * 4;
  }
  register_module("layer1", layer1_);
  const int64_t W = c.width;
  for (int s = 0; s < 3; ++s) {
    const int branches = s + 2;
    transitions_[static_cast<size_t>(s)] = nn::ModuleList();
    // Stage 2 takes the stem output to W (branch 0) and 2W (branch 1); later stages add one branch by a
    // strided convolution from the lowest-resolution branch.
    if (s == 0) {
      transitions_[0]->push_back(nn::Sequential(conv(in, W, 3), bn(W), nn::Functional(torch::relu)));
      transitions_[0]->push_back(
          nn::Sequential(conv(in, 2 * W, 3, 2), bn(2 * W), nn::Functional(torch::relu)));
    } else {
      const int64_t from = W << (branches - 2);
      transitions_[static_cast<size_t>(s)]->push_back(nn::Sequential(
          conv(from, W << (branches - 1), 3, 2), bn(W << (branches - 1)), nn::Functional(torch::relu)));
    }
    register_module("transition" + std::to_string(s + 1), transitions_[static_cast<size_t>(s)]);
    stages_[static_cast<size_t>(s)] = nn::ModuleList();
    for (int m = 0; m < c.modules[static_cast<size_t>(s)]; ++m) {
      stages_[static_cast<size_t>(s)]->push_back(HRModule(branches, W, c.blocks));
    }
    register_module("stage" + std::to_string(s + 2), stages_[static_cast<size_t>(s)]);
  }
  out_channels_ = 15 * W;
}

bool grows(const HRNetConfig& from, const HRNetConfig& to) {
  if (from.width != to.width || from.stem_blocks != to.stem_blocks || from.stem_width != to.stem_width)
    return false;
  for (size_t s = 0; s < 3; ++s)
    if (from.modules[s] < 1 || from.modules[s] > to.modules[s]) return false;
  return from.blocks <= to.blocks;
}

void HRNetImpl::start_growth(const HRNetConfig& from, double scale) {
  if (!grows(from, config_))
    throw std::invalid_argument(
        "HRNet: this network is not the other one grown (width, stem, modules, blocks)");
  if (!(scale >= 0)) throw std::invalid_argument("HRNet: the growth scale must be ≥ 0");
  torch::NoGradGuard no_grad;
  for (size_t s = 0; s < 3; ++s) {
    const auto last_old = static_cast<size_t>(from.modules[s] - 1);  // every stage has a module
    for (size_t m = 0; m < stages_[s]->size(); ++m) {
      auto module = stages_[s][m]->as<HRModuleImpl>();
      const bool new_module = m > last_old;
      if (scale > 0) {
        if (new_module) {
          copy_state(*module, *stages_[s][last_old]);  // already grown itself, and unscaled
        } else if (from.blocks < config_.blocks) {
          module->copy_new_blocks(from.blocks);
        }
      }
    }
    // Scaled after all copies, so that a new module copies the last old one as trained.
    for (size_t m = 0; m < stages_[s]->size(); ++m) {
      const bool new_module = m > last_old;
      stages_[s][m]->as<HRModuleImpl>()->scale_new(new_module ? 0 : from.blocks, new_module, scale);
    }
  }
}

torch::Tensor HRNetImpl::forward(torch::Tensor x) {
  x = layer1_->forward(stem_->forward(x));
  std::vector<torch::Tensor> xs;
  for (int s = 0; s < 3; ++s) {
    auto& tr = transitions_[static_cast<size_t>(s)];
    if (s == 0) {
      xs = {tr[0]->as<nn::Sequential>()->forward(x), tr[1]->as<nn::Sequential>()->forward(x)};
    } else {
      xs.push_back(tr[0]->as<nn::Sequential>()->forward(xs.back()));
    }
    for (size_t m = 0; m < stages_[static_cast<size_t>(s)]->size(); ++m) {
      xs = stages_[static_cast<size_t>(s)][m]->as<HRModuleImpl>()->forward(xs);
    }
  }
  std::vector<torch::Tensor> up = {xs[0]};
  for (size_t b = 1; b < xs.size(); ++b) {
    up.push_back(torch::nn::functional::interpolate(
        xs[b], torch::nn::functional::InterpolateFuncOptions()
                   .size(std::vector<int64_t>{xs[0].size(2), xs[0].size(3)})
                   .mode(torch::kBilinear)
                   .align_corners(false)));
  }
  return torch::cat(up, 1);
}

}  // namespace lddmm
