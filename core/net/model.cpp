#include "lddmm/net/model.hpp"

#include <torch/torch.h>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace lddmm {
namespace {

constexpr const char* kFormat = "lddmm-face-model";
constexpr int kVersion = 1;

// The detail term's small net for every window: 3×3 convolutions 3 → k, then two of stride 2 to 2k, ReLUs.
torch::nn::Sequential window_net(int64_t k) {
  namespace nn = torch::nn;
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(3, k, 3).padding(1)), nn::ReLU(),
                        nn::Conv2d(nn::Conv2dOptions(k, 2 * k, 3).stride(2).padding(1)), nn::ReLU(),
                        nn::Conv2d(nn::Conv2dOptions(2 * k, 2 * k, 3).stride(2).padding(1)), nn::ReLU());
}

}  // namespace

AlignerImpl::AlignerImpl(const AlignerConfig& config, const Scheme& scheme)
    : config_(config),
      scheme_(scheme),
      layer_(CurveSet::from_scheme(scheme, config.kernel_scale * config.input_size / scheme.mean_face.frame),
             config.flow) {
  backbone_ = register_module("backbone", HRNet(config.backbone));
  const int64_t c = backbone_->out_channels();
  fuse_ = register_module("fuse", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, c, 1).bias(false)));
  fuse_bn_ = register_module("fuse_bn", FoldableBatchNorm2d(c));
  fc_ = register_module("fc", torch::nn::Linear(c, 2 * scheme.num_points));
  // Start from the mean face: zero momenta (or offsets).
  torch::NoGradGuard no_grad;
  fc_->weight.zero_();
  fc_->bias.zero_();
  const double scale = config.input_size / scheme.mean_face.frame;
  template_ =
      register_buffer("template", torch::from_blob(const_cast<double*>(scheme.mean_face.points.data()),
                                                   {scheme.num_points, 2}, torch::kFloat64)
                                          .to(torch::kFloat32) *
                                      scale);
  // A g×g pattern of offsets in crop pixels, [g², 2] (x, y), row-major (grid row = y).
  const auto offsets = [&](const LocalHeadConfig& l) {
    const int64_t g = l.grid;
    const torch::Tensor offs =
        (torch::arange(g, torch::kFloat32) - (g - 1) / 2.0) * (l.spacing * config.input_size);
    return torch::stack({offs.view({1, g}).expand({g, g}).reshape({g * g}),
                         offs.view({g, 1}).expand({g, g}).reshape({g * g})},
                        1);
  };
  // Crop pixels → grid_sample's frame (align_corners false: -1 and 1 are the outer edges of the crop).
  const double to_grid = 2.0 / config.input_size;
  if (config.local.channels > 0) {
    const int64_t d = config.local.channels;
    const int64_t g = config.local.grid;
    local_reduce_ = register_module("local_reduce", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, d, 1)));
    // Zero: a new shape-indexed term starts by adding nothing (fine-tuning keeps the global head's output).
    local_weight_ = register_parameter("local_weight", torch::zeros({scheme.num_points, d * g * g, 2}));
    // Mean-face point + grid offset.
    local_grid_ = register_buffer(
        "local_grid",
        ((template_.unsqueeze(1) + offsets(config.local).unsqueeze(0)) * to_grid - 1.0).unsqueeze(0));
  }
  if (config.cascade.channels > 0) {
    const int64_t d = config.cascade.channels;
    const int64_t g = config.cascade.grid;
    cascade_reduce_ = register_module("cascade_reduce", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, d, 1)));
    cascade_weight_ = register_parameter("cascade_weight", torch::zeros({scheme.num_points, d * g * g, 2}));
    cascade_offsets_ =
        register_buffer("cascade_offsets", (offsets(config.cascade) * to_grid).view({1, 1, g * g, 2}));
  }
  // A window term's per-point maps (zero at first: a new term adds nothing) and its window offsets.
  const auto window_term = [&](const std::string& name, const DetailConfig& d, torch::nn::Sequential& net,
                               torch::Tensor& weight, torch::Tensor& window) {
    const int64_t k = d.channels;
    const int64_t p = d.patch;
    net = register_module(name + "_net", window_net(k));
    weight =
        register_parameter(name + "_weight", torch::zeros({scheme.num_points, 2 * k * (p / 4) * (p / 4), 2}));
    const LocalHeadConfig grid{1, static_cast<int>(p), d.spacing};
    window = register_buffer(name + "_offsets", (offsets(grid) * to_grid).view({1, 1, p * p, 2}));
  };
  if (config.detail.patch > 0)
    window_term("detail", config.detail, detail_net_, detail_weight_, detail_offsets_);
  if (config.refine.patch > 0)
    window_term("refine", config.refine, refine_net_, refine_weight_, refine_offsets_);
  // The fully connected layer works in units of 1/16 of the crop, so its weights stay near 1.
  output_scale_ = config.input_size / 16.0;
  set_confidence(config.confidence);
}

torch::Tensor AlignerImpl::features(const torch::Tensor& images) {
  torch::Tensor in = channels_last_ ? images.contiguous(torch::MemoryFormat::ChannelsLast) : images;
  if (config_.detail.factor > 1) in = torch::avg_pool2d(in, config_.detail.factor);
  return torch::relu(fuse_bn_(fuse_(backbone_->forward(in))));
}

namespace {

// Bilinear samples of x ([B, C, H, W]) at grid ([B, n, m, 2], grid_sample's frame, zero outside):
// [B, n, C, m].
torch::Tensor samples_at(const torch::Tensor& x, const torch::Tensor& grid) {
  namespace F = torch::nn::functional;
  return F::grid_sample(x, grid,
                        F::GridSampleFuncOptions()
                            .mode(torch::kBilinear)
                            .padding_mode(torch::kZeros)
                            .align_corners(false))
      .permute({0, 2, 1, 3});
}

// Per point i, its own linear map weight[i] ([n, k, 2]) of its features f[:, i] ([B, n, k]) → [B, n, 2].
torch::Tensor per_point_map(const torch::Tensor& f, const torch::Tensor& weight) {
  return torch::bmm(f.transpose(0, 1), weight).transpose(0, 1);
}

// The correction a window term adds ([B, n, 2]): a `patch`-pixel window of images ([B, 3, S, S]) around
// each point ([B, n, 2], crop pixels; pixel centres at integer coordinates, so pixel x spans [x - 0.5,
// x + 0.5], grid_sample's (2x + 1) / S - 1), one small net for all windows, one linear map per point.
torch::Tensor window_correction(const torch::Tensor& images, const torch::Tensor& points,
                                torch::nn::Sequential& net, const torch::Tensor& weight,
                                const torch::Tensor& offsets, int64_t patch) {
  const int64_t B = images.size(0);
  const int64_t n = points.size(1);
  const double S = static_cast<double>(images.size(3));
  const torch::Tensor grid = ((points + 0.5) * (2.0 / S) - 1.0).unsqueeze(2) + offsets;
  const torch::Tensor windows = samples_at(images, grid).reshape({B * n, images.size(1), patch, patch});
  return per_point_map(net->forward(windows).reshape({B, n, -1}), weight);
}

// Per point i, the linear map weight[i] of the reduced features sampled at grid[:, i, :] ([B, n, g², 2],
// grid_sample's frame), the samples of a point in the order [channel, grid position].
torch::Tensor sampled_term(const torch::Tensor& reduced, const torch::Tensor& grid,
                           const torch::Tensor& weight) {
  return per_point_map(samples_at(reduced, grid).flatten(2), weight);
}

}  // namespace

torch::Tensor AlignerImpl::points_from(const torch::Tensor& head) const {
  if (config_.head == Head::Coordinates) return template_.unsqueeze(0) + head;
  return layer_.forward(template_, head);
}

torch::Tensor AlignerImpl::head_output(const torch::Tensor& images, torch::Tensor* pooled) {
  const torch::Tensor features = this->features(images);
  const int64_t B = images.size(0);
  const torch::Tensor pool = features.mean({2, 3});
  if (pooled != nullptr) *pooled = pool;
  torch::Tensor out = fc_->forward(pool).view({B, scheme_.num_points, 2});
  if (local_reduce_)
    out = out + sampled_term(torch::relu(local_reduce_(features)), local_grid_.expand({B, -1, -1, -1}),
                             local_weight_);
  // The landmarks of the head so far, held fixed where a later stage samples around them.
  const auto held_points = [&](const torch::Tensor& head) {
    torch::NoGradGuard no_grad;
    return points_from(head * output_scale_);
  };
  if (cascade_reduce_) {
    // The second stage reads the features around the first stage's points (held fixed: no gradient
    // through the sampling positions, as in cascaded shape regression) and adds its correction.
    const torch::Tensor first = held_points(out);
    const torch::Tensor grid = (first * (2.0 / config_.input_size) - 1.0).unsqueeze(2) + cascade_offsets_;
    out = out + sampled_term(torch::relu(cascade_reduce_(features)), grid, cascade_weight_);
  }
  // The same at the input's own resolution: a window of the crop around each point the head gives so far
  // (held fixed); the refine term once more around the points the detail term gives.
  if (detail_net_)
    out = out + window_correction(images, held_points(out), detail_net_, detail_weight_, detail_offsets_,
                                  config_.detail.patch);
  if (refine_net_)
    out = out + window_correction(images, held_points(out), refine_net_, refine_weight_, refine_offsets_,
                                  config_.refine.patch);
  return out * output_scale_;
}

torch::Tensor AlignerImpl::estimated_error(const torch::Tensor& pooled) const {
  if (!confidence_weight_.defined()) return {};
  const torch::Tensor& w = confidence_weight_.device() == pooled.device()
                               ? confidence_weight_
                               : confidence_weight_.to(pooled.device());
  return torch::exp(torch::mv(pooled.to(torch::kFloat32), w) + config_.confidence.bias);
}

void AlignerImpl::set_confidence(const ConfidenceHead& head) {
  if (!head.empty() && static_cast<int64_t>(head.weight.size()) != backbone_->out_channels())
    throw ModelError("a confidence head needs " + std::to_string(backbone_->out_channels()) +
                     " weights, not " + std::to_string(head.weight.size()));
  config_.confidence = head;
  confidence_weight_ =
      head.empty() ? torch::Tensor() : torch::tensor(head.weight, torch::kFloat64).to(torch::kFloat32);
}

void AlignerImpl::fold_batch_norms() {
  if (folded_) return;
  if (is_training()) throw std::logic_error("fold_batch_norms: the model must be in eval mode");
  lddmm::fold_batch_norms(*this);
  folded_ = true;
}

void AlignerImpl::use_channels_last() {
  torch::NoGradGuard no_grad;
  for (auto& p : parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  channels_last_ = true;
}

torch::Tensor AlignerImpl::forward(const torch::Tensor& images) {
  if (folded_ && is_training()) throw std::logic_error("a model with folded batch norms cannot be trained");
  return points_from(head_output(images));
}

namespace {

// FNV-1a, 64 bits, over the weights' keys and bytes as stored: a file whose records were cut short or
// changed no longer matches the checksum written beside them.
class WeightChecksum {
 public:
  void add(const std::string& key, const torch::Tensor& stored) {
    bytes(key.data(), key.size());
    const torch::Tensor t = stored.to(torch::kCPU).contiguous();
    bytes(t.data_ptr(), static_cast<size_t>(t.numel()) * t.element_size());
  }
  std::string hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h_));
    return buf;
  }

 private:
  void bytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h_ = (h_ ^ p[i]) * 0x100000001b3ULL;
  }
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace

void save_model(Aligner& model, const std::filesystem::path& file, bool half) {
  if (model->folded()) throw std::logic_error("save_model: a model with folded batch norms cannot be saved");
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("version", c10::IValue(static_cast<int64_t>(kVersion)));
  archive.write("config", c10::IValue(to_json(model->config())));
  archive.write("scheme", c10::IValue(scheme_to_json(model->scheme())));
  torch::NoGradGuard no_grad;
  WeightChecksum sum;
  const auto write = [&](const std::string& key, const torch::Tensor& t, bool buffer) {
    sum.add(key, t);
    archive.write(key, t, buffer);
  };
  for (const auto& p : model->named_parameters())
    write("p/" + p.key(), p.value().to(torch::kCPU, half ? torch::kFloat16 : torch::kFloat32).contiguous(),
          false);
  for (const auto& b : model->named_buffers()) {
    const bool floating = b.value().is_floating_point();
    write(
        "b/" + b.key(),
        b.value().to(torch::kCPU, floating && half ? torch::kFloat16 : b.value().scalar_type()).contiguous(),
        true);
  }
  archive.write("checksum", c10::IValue(sum.hex()));
  try {
    archive.save_to(file.string());
  } catch (const c10::Error& e) {
    throw ModelError(file.string() + ": cannot write the model (" + e.what_without_backtrace() + ")");
  }
}

namespace {

// Every weight read, of the right shape and finite, and (files written with one) the checksum matched.
void load_weights(torch::serialize::InputArchive& archive, Aligner& model, const std::string& name) {
  torch::NoGradGuard no_grad;
  WeightChecksum sum;
  const auto load = [&](const std::string& key, torch::Tensor& dst) {
    torch::Tensor t;
    if (!archive.try_read(key, t)) throw ModelError(name + ": missing weights \"" + key + "\"");
    if (t.sizes() != dst.sizes()) throw ModelError(name + ": weights \"" + key + "\" have the wrong shape");
    sum.add(key, t);
    if (t.is_floating_point() && !torch::isfinite(t).all().item<bool>())
      throw ModelError(name + ": damaged model (weights \"" + key + "\" are not finite)");
    dst.copy_(t.to(dst.scalar_type()));
  };
  for (auto& p : model->named_parameters()) load("p/" + p.key(), p.value());
  for (auto& b : model->named_buffers()) load("b/" + b.key(), b.value());
  c10::IValue stored;
  if (archive.try_read("checksum", stored) && (!stored.isString() || stored.toStringRef() != sum.hex()))
    throw ModelError(name + ": damaged model (its weights do not match their checksum); copy the file again");
}

}  // namespace

Aligner load_model(const std::filesystem::path& file) {
  const std::string name = file.string();
  if (!std::filesystem::is_regular_file(file)) throw ModelError(name + ": no such model file");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(name);
  } catch (const c10::Error& e) {
    throw ModelError(name + ": not a readable model file (damaged or not a LibTorch archive)");
  }
  c10::IValue v;
  if (!archive.try_read("format", v) || !v.isString() || v.toStringRef() != kFormat)
    throw ModelError(name + ": not an lddmm-face model");
  if (!archive.try_read("version", v) || !v.isInt() || v.toInt() != kVersion)
    throw ModelError(name + ": unsupported model version");
  if (!archive.try_read("config", v) || !v.isString())
    throw ModelError(name + ": the model has no configuration");
  const AlignerConfig config = aligner_config_from_json(v.toStringRef(), name);
  if (!archive.try_read("scheme", v) || !v.isString()) throw ModelError(name + ": the model has no scheme");
  Scheme scheme;
  try {
    scheme = parse_scheme(v.toStringRef(), name + " (embedded scheme)");
  } catch (const SchemeError& e) {
    throw ModelError(e.what());
  }
  Aligner model(config, scheme);
  load_weights(archive, model, name);
  model->eval();
  return model;
}

torch::Tensor mirror_back(const torch::Tensor& pred_on_mirrored, const std::vector<int>& partners,
                          double side) {
  const auto n = static_cast<int64_t>(partners.size());
  if (pred_on_mirrored.dim() != 3 || pred_on_mirrored.size(1) != n)
    throw std::invalid_argument("mirror_back: points of a wrong shape or a wrong partner count");
  std::vector<int64_t> index(partners.size());
  for (size_t i = 0; i < partners.size(); ++i)
    index[i] = partners[i] >= 0 ? partners[i] : static_cast<int64_t>(i);
  const auto opts = torch::TensorOptions().device(pred_on_mirrored.device()).dtype(torch::kInt64);
  const torch::Tensor back = pred_on_mirrored.index_select(1, torch::tensor(index, opts));
  return torch::stack({(side - 1) - back.select(2, 0), back.select(2, 1)}, 2);
}

torch::Tensor merge_mirrored(const torch::Tensor& pred, const torch::Tensor& back,
                             const std::vector<int>& partners) {
  const auto n = static_cast<int64_t>(partners.size());
  if (pred.dim() != 3 || pred.size(1) != n || !pred.sizes().equals(back.sizes()))
    throw std::invalid_argument("merge_mirrored: predictions of unequal shapes or a wrong partner count");
  std::vector<double> weight(partners.size());
  for (size_t i = 0; i < partners.size(); ++i) weight[i] = partners[i] >= 0 ? 0.5 : 0.0;
  const auto opts = torch::TensorOptions().device(pred.device()).dtype(pred.scalar_type());
  const torch::Tensor w = torch::tensor(weight, opts).view({1, n, 1});
  return pred + w * (back.to(pred.scalar_type()) - pred);
}

Aligner average_models(const std::vector<Aligner>& models) {
  if (models.empty()) throw ModelError("average_models: no model");
  AlignerConfig config = models.front()->config();
  config.calibration = {};
  const auto plain = [](AlignerConfig c) {
    c.calibration = {};
    return to_json(c);
  };
  for (const Aligner& m : models)
    if (plain(m->config()) != to_json(config) || m->scheme().id != models.front()->scheme().id)
      throw ModelError("average_models: the models differ in configuration or scheme");
  Aligner out(config, models.front()->scheme());
  using Named = torch::OrderedDict<std::string, torch::Tensor>;
  std::vector<Named> params, buffers;
  for (const Aligner& m : models) {
    params.push_back(m->named_parameters());
    buffers.push_back(m->named_buffers());
  }
  torch::NoGradGuard no_grad;
  const auto average_into = [](const Named& dst, const std::vector<Named>& src) {
    for (const auto& item : dst) {
      const torch::Tensor& t = item.value();
      if (!t.is_floating_point()) {
        t.copy_(src.front()[item.key()]);
        continue;
      }
      torch::Tensor sum = torch::zeros_like(t, torch::kFloat64);
      for (const Named& s : src) sum += s[item.key()].to(torch::kFloat64);
      t.copy_(sum / static_cast<double>(src.size()));
    }
  };
  average_into(out->named_parameters(), params);
  average_into(out->named_buffers(), buffers);
  return out;
}

torch::Tensor calibrate_points(const torch::Tensor& pred, const std::array<double, 2>& offset,
                               const std::array<double, 2>& image_offset,
                               const torch::Tensor& image_to_crop) {
  const auto opts = torch::TensorOptions().device(pred.device()).dtype(pred.scalar_type());
  torch::Tensor out = pred;
  if (offset[0] != 0 || offset[1] != 0)
    out = out - torch::tensor({offset[0], offset[1]}, opts).view({1, 1, 2});
  if (image_offset[0] == 0 && image_offset[1] == 0) return out;
  if (!image_to_crop.defined() || image_to_crop.dim() != 3 || image_to_crop.size(0) != pred.size(0) ||
      image_to_crop.size(1) != 2 || image_to_crop.size(2) != 2)
    throw std::invalid_argument("calibrate_points: an image-pixel offset needs each crop's map [B, 2, 2]");
  // Each crop's offset: its map's linear part times the image offset, [B, 2] → [B, 1, 2].
  const torch::Tensor a = torch::tensor({image_offset[0], image_offset[1]}, opts).view({1, 2, 1});
  return out - torch::matmul(image_to_crop.to(opts), a).view({-1, 1, 2});
}

CalibrationFit fit_calibration(const std::vector<std::array<double, 2>>& offset,
                               const std::vector<double>& scale, bool image_term) {
  if (offset.size() != scale.size()) throw std::invalid_argument("fit_calibration: one scale an offset");
  CalibrationFit f;
  if (offset.empty()) return f;
  const auto n = static_cast<double>(offset.size());
  double s_mean = 0;
  std::array<double, 2> o_mean{0, 0};
  for (size_t i = 0; i < offset.size(); ++i) {
    s_mean += scale[i] / n;
    for (size_t a = 0; a < 2; ++a) o_mean[a] += offset[i][a] / n;
  }
  f.crop = o_mean;
  double ss = 0;
  std::array<double, 2> so{0, 0};
  for (size_t i = 0; i < offset.size(); ++i) {
    const double ds = scale[i] - s_mean;
    ss += ds * ds;
    for (size_t a = 0; a < 2; ++a) so[a] += ds * (offset[i][a] - o_mean[a]);
  }
  if (!image_term || offset.size() < 3 || !(std::sqrt(ss / n) > 0.01 * std::abs(s_mean))) return f;
  const std::array<double, 2> image{so[0] / ss, so[1] / ss};
  if (!(std::abs(image[0]) <= 16) || !(std::abs(image[1]) <= 16)) return f;
  f.image = image;
  for (size_t a = 0; a < 2; ++a) f.crop[a] = o_mean[a] - image[a] * s_mean;
  return f;
}

torch::Tensor image_to_crop_maps(const std::vector<Affine2>& maps, const std::vector<double>& scale) {
  if (!scale.empty() && scale.size() != maps.size())
    throw std::invalid_argument("image_to_crop_maps: one scale a map");
  torch::Tensor out = torch::empty({static_cast<int64_t>(maps.size()), 2, 2}, torch::kFloat32);
  auto acc = out.accessor<float, 3>();
  for (size_t i = 0; i < maps.size(); ++i) {
    Eigen::Matrix2d a = maps[i].leftCols<2>();
    if (a(0, 0) * a(1, 1) - a(0, 1) * a(1, 0) < 0)
      a.col(0) *= -1;  // a mirrored crop: the offset lies in the mirrored photo's axes
    if (!scale.empty()) a *= scale[i];
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 2; ++c) acc[static_cast<int64_t>(i)][r][c] = static_cast<float>(a(r, c));
  }
  return out;
}

}  // namespace lddmm
