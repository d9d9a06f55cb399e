// The aligner network and its model file.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "lddmm/flow/scheme.hpp"
#include "lddmm/io/scheme_files.hpp"
#include "lddmm/net/model.hpp"
#include "scratch_dir.hpp"
#include "tiny_model.hpp"

namespace lddmm {
namespace {

std::string error_of(const std::filesystem::path& file) {
  try {
    load_model(file);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Model, HRNetKeepsAQuarterOfTheResolutionWith15WChannels) {
  HRNetConfig c;
  c.width = 6;
  c.modules = {1, 1, 1};
  c.blocks = 1;
  c.stem_blocks = 1;
  c.stem_width = 16;
  HRNet net(c);
  const torch::Tensor f = net->forward(torch::randn({2, 3, 64, 96}));
  EXPECT_EQ(f.sizes(), (std::vector<int64_t>{2, 90, 16, 24}));
}

TEST(Model, AFreshModelPredictsTheMeanFace) {
  // The head starts at zero: zero momenta (or offsets) give the template, the mean face in the input frame.
  const Scheme s = find_scheme("300w68");
  for (Head head : {Head::Lddmm, Head::Coordinates}) {
    Aligner model(testing::tiny_config(head), s);
    model->eval();
    const torch::Tensor out = model->forward(torch::randn({3, 3, 64, 64}));
    ASSERT_EQ(out.sizes(), (std::vector<int64_t>{3, 68, 2}));
    const torch::Tensor want =
        torch::from_blob(const_cast<double*>(s.mean_face.points.data()), {68, 2}, torch::kFloat64)
            .to(torch::kFloat32) *
        (64.0 / s.mean_face.frame);
    EXPECT_TRUE(torch::allclose(out[1], want, 1e-5, 1e-4));
  }
}

TEST(Model, SavedModelsLoadWithTheSameOutputs) {
  const Scheme s = find_scheme("300w50");
  Aligner model(testing::tiny_config(Head::Lddmm), s);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.add_(0.01 * torch::randn_like(p));
  }
  model->eval();
  const torch::Tensor x = torch::randn({2, 3, 64, 64});
  const torch::Tensor want = model->forward(x);
  const testing::ScratchDir scratch;
  const auto& dir = scratch.path();
  save_model(model, dir / "lddmm_test_f32.pt", false);
  save_model(model, dir / "lddmm_test_f16.pt", true);
  Aligner a = load_model(dir / "lddmm_test_f32.pt");
  Aligner b = load_model(dir / "lddmm_test_f16.pt");
  EXPECT_EQ(a->scheme().id, "300w50");
  EXPECT_EQ(a->config().input_size, 64);
  EXPECT_TRUE(torch::allclose(a->forward(x), want, 1e-5, 1e-4));
  EXPECT_TRUE(torch::allclose(b->forward(x), want, 1e-2, 0.2));  // float16 weights
  EXPECT_LT(std::filesystem::file_size(dir / "lddmm_test_f16.pt"),
            std::filesystem::file_size(dir / "lddmm_test_f32.pt"));
}

// A model header whose sizes are floats (undefined when converted to int) or would build a huge network.
TEST(Model, ConfigurationSizesAreWholeAndBounded) {
  const std::string good = to_json(testing::tiny_config(Head::Lddmm));
  EXPECT_NO_THROW(aligner_config_from_json(good, "m.pt"));
  const auto error_with = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    try {
      aligner_config_from_json(text, "m.pt");
    } catch (const ModelError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_with("\"width\":4", "\"width\":4.4e99")
                .find("m.pt: bad model configuration (expected a whole "
                      "number from 1 to 256, got 4.4e+99)"),
            std::string::npos);
  EXPECT_NE(error_with("\"width\":4", "\"width\":100000").find("from 1 to 256"), std::string::npos);
  EXPECT_NE(error_with("\"steps\":2", "\"steps\":1000000").find("from 1 to 100"), std::string::npos);
}

// A weight changed inside the file (the archive still valid) and a non-finite weight are refused.
TEST(Model, DamagedWeightsAreRefused) {
  torch::manual_seed(5);
  Aligner model(testing::tiny_config(Head::Lddmm), find_scheme("300w68"));
  torch::Tensor w = model->parameters().back();
  {
    torch::NoGradGuard no_grad;
    w.copy_(torch::randn_like(w));
  }
  const testing::ScratchDir scratch;
  const auto file = scratch.path() / "m.pt";
  save_model(model, file, false);
  EXPECT_NO_THROW(load_model(file));
  // Find the weight's float32 bytes in the file and change one value.
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const torch::Tensor c = w.contiguous();
  const std::string needle(static_cast<const char*>(c.data_ptr()), static_cast<size_t>(c.numel()) * 4);
  const size_t at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos);
  bytes[at + 1] = static_cast<char>(bytes[at + 1] ^ 0x40);
  std::ofstream(file, std::ios::binary) << bytes;
  EXPECT_NE(error_of(file).find("do not match their checksum"), std::string::npos) << error_of(file);
  {
    torch::NoGradGuard no_grad;
    w[0] = std::numeric_limits<float>::quiet_NaN();
  }
  save_model(model, file, false);
  EXPECT_NE(error_of(file).find("are not finite"), std::string::npos) << error_of(file);
}

// Folding the batch norms into the convolutions (inference) against the unfolded network: batch norms
// with random statistics and affine parameters, so that every fold changes its convolution.
TEST(Model, FoldedBatchNormsGiveTheSameOutputs) {
  torch::manual_seed(3);  // random weights, statistics and inputs, the same every run
  for (Head head : {Head::Lddmm, Head::Coordinates}) {
    Aligner model(testing::tiny_config(head), find_scheme("300w68"));
    int norms = 0;
    {
      torch::NoGradGuard no_grad;
      for (auto& p : model->parameters()) p.add_(0.05 * torch::randn_like(p));
      for (const auto& m : model->modules()) {
        if (auto bn = std::dynamic_pointer_cast<FoldableBatchNorm2dImpl>(m)) {
          bn->running_mean.copy_(0.2 * torch::randn_like(bn->running_mean));
          bn->running_var.copy_(0.5 + torch::rand_like(bn->running_var));
          ++norms;
        }
      }
    }
    ASSERT_GT(norms, 20);
    const torch::Tensor x = torch::randn({2, 3, 64, 64});
    EXPECT_THROW(model->fold_batch_norms(), std::logic_error);  // training mode
    model->eval();
    const torch::Tensor want_head = model->head_output(x);
    const torch::Tensor want = model->forward(x);
    EXPECT_EQ(fold_batch_norms(*model), norms);  // the free function: every norm follows a convolution
    EXPECT_EQ(fold_batch_norms(*model), 0);
    model->fold_batch_norms();  // the model's flag; nothing left to fold
    EXPECT_TRUE(model->folded());
    for (const auto& m : model->modules()) {
      if (auto bn = std::dynamic_pointer_cast<FoldableBatchNorm2dImpl>(m)) {
        EXPECT_TRUE(bn->folded());
      }
    }
    EXPECT_GT((want_head.abs()).max().item<double>(), 1e-3);
    EXPECT_TRUE(torch::allclose(model->head_output(x), want_head, 1e-4, 1e-5));
    EXPECT_TRUE(torch::allclose(model->forward(x), want, 1e-4, 1e-4));
    const testing::ScratchDir scratch;
    EXPECT_THROW(save_model(model, scratch.path() / "folded.pt", false), std::logic_error);
    model->train();
    EXPECT_THROW(model->forward(x), std::logic_error);
  }
}

// Channels-last weights and inputs (what the tracker runs on a CPU) against the default layout, folded or
// not, at batch 1 and 2; a channels-last model still saves standard files.
TEST(Model, ChannelsLastGivesTheSameOutputs) {
  torch::manual_seed(4);  // random weights and inputs, the same every run
  for (const auto& [head, local] : {std::pair{Head::Lddmm, 0}, std::pair{Head::Coordinates, 0},
                                    std::pair{Head::Lddmm, 3}, std::pair{Head::Coordinates, 3}}) {
    AlignerConfig config = testing::tiny_config(head);
    config.local.channels = local;
    config.cascade.channels = local;  // with the shape-indexed terms: the cascade's sampling too
    Aligner model(config, find_scheme("300w68"));
    {
      torch::NoGradGuard no_grad;
      for (auto& p : model->parameters()) p.add_(0.05 * torch::randn_like(p));
    }
    model->eval();
    const torch::Tensor x1 = torch::randn({1, 3, 64, 64}), x2 = torch::randn({2, 3, 64, 64});
    const torch::Tensor want1 = model->forward(x1), want2 = model->forward(x2);
    EXPECT_GT(want2.abs().max().item<double>(), 1e-3);
    model->use_channels_last();
    EXPECT_TRUE(model->channels_last());
    int converted = 0;
    for (const auto& p : model->parameters()) {
      if (p.dim() != 4) continue;
      EXPECT_TRUE(p.is_contiguous(torch::MemoryFormat::ChannelsLast));
      converted += p.size(1) > 1 && p.size(2) * p.size(3) > 1 ? 1 : 0;  // a layout that really differs
    }
    EXPECT_GT(converted, 10);
    EXPECT_TRUE(torch::allclose(model->forward(x1), want1, 1e-4, 1e-4));
    EXPECT_TRUE(torch::allclose(model->forward(x2), want2, 1e-4, 1e-4));
    const testing::ScratchDir scratch;
    save_model(model, scratch.path() / "channels_last.pt", false);
    Aligner loaded = load_model(scratch.path() / "channels_last.pt");
    loaded->eval();
    EXPECT_FALSE(loaded->channels_last());
    EXPECT_TRUE(torch::allclose(loaded->forward(x2), want2, 1e-4, 1e-4));
    model->fold_batch_norms();  // folding keeps the outputs in channels-last too
    EXPECT_TRUE(torch::allclose(model->forward(x2), want2, 1e-4, 1e-4));
  }
}

// A shape-indexed term by hand, in double precision: the reduced features relu(w·f + b) sampled bilinearly
// (zero outside, pixel centres at i + ½ in feature pixels) on a g×g grid of spacing `step` (crop pixels,
// crop side S) centred on `centres` [B, n, 2], then each point's own linear map `weight` [n, d·g², 2]
// (index [channel, grid row, grid column]), in units of S/16 → [B, n, 2].
torch::Tensor sampled_term_by_hand(const torch::Tensor& features, const torch::Tensor& w,
                                   const torch::Tensor& b, const torch::Tensor& weight,
                                   const torch::Tensor& centres, int g, double step, double S) {
  const torch::Tensor f = features.to(torch::kFloat64);
  const torch::Tensor wr = w.to(torch::kFloat64).flatten(1), br = b.to(torch::kFloat64);
  const torch::Tensor wp = weight.to(torch::kFloat64), c = centres.to(torch::kFloat64);
  const auto F = f.accessor<double, 4>();
  const auto Wr = wr.accessor<double, 2>();
  const auto Br = br.accessor<double, 1>();
  const auto Wp = wp.accessor<double, 3>();
  const auto P = c.accessor<double, 3>();
  const int64_t B = f.size(0), C = f.size(1), H = f.size(2), Wd = f.size(3), D = wr.size(0), n = c.size(1);
  const double fx = Wd / S, fy = H / S;
  const auto reduced = [&](int64_t bi, int64_t d, int64_t yi, int64_t xi) {
    if (yi < 0 || yi >= H || xi < 0 || xi >= Wd) return 0.0;
    double v = Br[d];
    for (int64_t k = 0; k < C; ++k) v += Wr[d][k] * F[bi][k][yi][xi];
    return std::max(v, 0.0);
  };
  torch::Tensor out = torch::zeros({B, n, 2}, torch::kFloat64);
  auto O = out.accessor<double, 3>();
  for (int64_t bi = 0; bi < B; ++bi) {
    for (int64_t i = 0; i < n; ++i) {
      for (int gy = 0; gy < g; ++gy) {
        for (int gx = 0; gx < g; ++gx) {
          const double px = P[bi][i][0] + (gx - (g - 1) / 2.0) * step;
          const double py = P[bi][i][1] + (gy - (g - 1) / 2.0) * step;
          const double u = px * fx - 0.5, v = py * fy - 0.5;
          const auto x0 = static_cast<int64_t>(std::floor(u)), y0 = static_cast<int64_t>(std::floor(v));
          const double ax = u - static_cast<double>(x0), ay = v - static_cast<double>(y0);
          for (int64_t d = 0; d < D; ++d) {
            const double sample =
                (1 - ay) * ((1 - ax) * reduced(bi, d, y0, x0) + ax * reduced(bi, d, y0, x0 + 1)) +
                ay * ((1 - ax) * reduced(bi, d, y0 + 1, x0) + ax * reduced(bi, d, y0 + 1, x0 + 1));
            const int64_t k = (d * g + gy) * g + gx;
            for (int o = 0; o < 2; ++o) O[bi][i][o] += sample * Wp[i][k][o] * S / 16;
          }
        }
      }
    }
  }
  return out;
}

// The shape-indexed term against the computation by hand, sampled around each mean-face point.
TEST(Model, LocalTermIsAPerPointLinearMapOfBilinearSamples) {
  const Scheme s = find_scheme("300w68");
  AlignerConfig config = testing::tiny_config(Head::Lddmm);
  config.local = {3, 3, 0.1};
  torch::manual_seed(11);  // before the model: its initial weights come from the same generator
  Aligner model(config, s);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.add_(0.05 * torch::randn_like(p));
  }
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({2, 3, 64, 64});
  const torch::Tensor with = model->head_output(x);
  auto params = model->named_parameters();
  const torch::Tensor weight = params["local_weight"].clone();
  params["local_weight"].zero_();
  const torch::Tensor local = (with - model->head_output(x)).to(torch::kFloat64);
  EXPECT_GT(local.abs().max().item<double>(), 1e-3);  // the term is not negligible here

  const double S = 64;
  const torch::Tensor mean =
      torch::from_blob(const_cast<double*>(s.mean_face.points.data()), {1, s.num_points, 2}, torch::kFloat64)
          .clone() *
      (S / s.mean_face.frame);
  const torch::Tensor want =
      sampled_term_by_hand(model->features(x), params["local_reduce.weight"], params["local_reduce.bias"],
                           weight, mean.expand({2, -1, -1}), 3, 0.1 * S, S);
  EXPECT_LT((want - local).abs().max().item<double>(), 1e-4);
}

// The cascade term the same way, sampled around the points the model gives without it (here with a
// local term too, which the first stage includes): the first stage's landmarks come from the model with
// the cascade's weights zeroed, the rest (reduction, bilinear samples, per-point maps) by hand.
TEST(Model, CascadeTermSamplesAroundTheFirstStagePoints) {
  const Scheme s = find_scheme("300w68");
  AlignerConfig config = testing::tiny_config(Head::Lddmm);
  config.local = {2, 3, 0.1};
  config.cascade = {3, 2, 0.05};
  torch::manual_seed(12);  // before the model: its initial weights come from the same generator
  Aligner model(config, s);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.add_(0.05 * torch::randn_like(p));
    model->named_parameters()["fc.bias"].add_(
        0.5 * torch::randn({2 * s.num_points}));  // a first stage far from the mean face
  }
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({2, 3, 64, 64});
  const torch::Tensor with = model->head_output(x);
  auto params = model->named_parameters();
  const torch::Tensor weight = params["cascade_weight"].clone();
  params["cascade_weight"].zero_();
  const torch::Tensor first_head = model->head_output(x);
  const torch::Tensor cascade = (with - first_head).to(torch::kFloat64);
  EXPECT_GT(cascade.abs().max().item<double>(), 1e-3);
  const torch::Tensor first = model->points_from(first_head).to(torch::kFloat64);
  // The first stage moved the points away from the mean face (else this test could not tell them apart).
  const torch::Tensor mean = model->template_points().to(torch::kFloat64).unsqueeze(0);
  EXPECT_GT((first - mean).norm(2, 2).mean().item<double>(), 1.0);

  const double S = 64;
  const torch::Tensor want =
      sampled_term_by_hand(model->features(x), params["cascade_reduce.weight"], params["cascade_reduce.bias"],
                           weight, first, 2, 0.05 * S, S);
  EXPECT_LT((want - cascade).abs().max().item<double>(), 1e-4);
  // forward() flows the mean face with the summed momenta.
  EXPECT_TRUE(torch::allclose(model->forward(x), model->points_from(first_head), 1e-5, 1e-5));
}

// The backbone reading the crop reduced: a model at twice the input size with factor 2, the same weights,
// on a crop whose pixels are each repeated 2×2 (its 2×2 average is the small crop exactly) gives the small
// model's landmarks × 2, a closed form: the mean face, the momenta (in units of the crop) and the kernels all
// scale with the input, the shape-indexed and cascade samples sit in the crop's relative frame.
TEST(Model, ReducedBackboneInputScalesTheSmallerModelsLandmarks) {
  const Scheme s = find_scheme("300w68");
  AlignerConfig small = testing::tiny_config(Head::Lddmm);
  small.local = {2, 3, 0.1};
  small.cascade = {3, 2, 0.05};
  AlignerConfig large = small;
  large.input_size = 2 * small.input_size;
  large.detail.factor = 2;
  torch::manual_seed(21);
  Aligner a(small, s), b(large, s);
  torch::NoGradGuard no_grad;
  for (auto& p : a->parameters()) p.add_(0.05 * torch::randn_like(p));
  a->named_parameters()["fc.bias"].add_(0.5 * torch::randn({2 * s.num_points}));
  auto bp = b->named_parameters();
  for (const auto& p : a->named_parameters()) bp[p.key()].copy_(p.value());
  auto bb = b->named_buffers();
  for (const auto& t : a->named_buffers())
    if (t.key() != "template" && t.key() != "local_grid" && t.key() != "cascade_offsets")
      bb[t.key()].copy_(t.value());
  a->eval();
  b->eval();
  const torch::Tensor x = torch::randn({2, 3, small.input_size, small.input_size});
  const torch::Tensor big = x.repeat_interleave(2, 2).repeat_interleave(2, 3);
  const torch::Tensor want = 2 * a->forward(x);
  // the landmarks are off the mean face (else the cascade's sampling would not be tested)
  EXPECT_GT((want - b->template_points().unsqueeze(0)).norm(2, 2).mean().item<double>(), 1.0);
  EXPECT_LT((b->forward(big) - want).abs().max().item<double>(), 1e-3);
}

// The detail term by hand: windows of the full-resolution crop sampled bilinearly (pixel centres at
// integer coordinates, zero outside) in double precision around the points the model gives without it,
// the windows through the term's net, then each point's own linear map (units of S/16).
// What a window term adds, computed by hand: `p`×`p` windows (`step` crop pixels apart) of x ([B, 3, S, S])
// around `points` ([B, n, 2]), bilinear with zeros outside, through the named child net (LibTorch's
// convolutions), mapped by `weight` ([n, k, 2]) and scaled to crop pixels (S / 16): [B, n, 2] float64.
torch::Tensor window_term_by_hand(Aligner& model, const std::string& net_name, const torch::Tensor& x,
                                  const torch::Tensor& points, const torch::Tensor& weight, int64_t p,
                                  double step) {
  const int64_t B = x.size(0), n = points.size(1), S = x.size(3);
  const torch::Tensor img = x.to(torch::kFloat64);
  const torch::Tensor pts = points.to(torch::kFloat64);
  const auto I = img.accessor<double, 4>();
  const auto P = pts.accessor<double, 3>();
  const auto pixel = [&](int64_t b, int64_t c, int64_t yi, int64_t xi) {
    return yi < 0 || yi >= S || xi < 0 || xi >= S ? 0.0 : I[b][c][yi][xi];
  };
  torch::Tensor windows = torch::zeros({B * n, 3, p, p}, torch::kFloat64);
  auto Wn = windows.accessor<double, 4>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t gy = 0; gy < p; ++gy)
        for (int64_t gx = 0; gx < p; ++gx) {
          const double u = P[b][i][0] + (static_cast<double>(gx) - (p - 1) / 2.0) * step;
          const double v = P[b][i][1] + (static_cast<double>(gy) - (p - 1) / 2.0) * step;
          const auto x0 = static_cast<int64_t>(std::floor(u)), y0 = static_cast<int64_t>(std::floor(v));
          const double ax = u - static_cast<double>(x0), ay = v - static_cast<double>(y0);
          for (int64_t c = 0; c < 3; ++c)
            Wn[b * n + i][c][gy][gx] =
                (1 - ay) * ((1 - ax) * pixel(b, c, y0, x0) + ax * pixel(b, c, y0, x0 + 1)) +
                ay * ((1 - ax) * pixel(b, c, y0 + 1, x0) + ax * pixel(b, c, y0 + 1, x0 + 1));
        }
  torch::nn::Module* net = nullptr;
  for (const auto& m : model->named_children())
    if (m.key() == net_name) net = m.value().get();
  if (net == nullptr) throw std::logic_error("no child " + net_name);
  const torch::Tensor f = net->as<torch::nn::Sequential>()
                              ->forward(windows.to(torch::kFloat32))
                              .to(torch::kFloat64)
                              .reshape({B, n, -1});
  return torch::einsum("bnk,nko->bno", {f, weight.to(torch::kFloat64)}) * (static_cast<double>(S) / 16.0);
}

// A model with random weights (the per-point maps too) in eval mode.
Aligner random_model(const AlignerConfig& config, const Scheme& s, uint64_t seed) {
  torch::manual_seed(seed);
  Aligner model(config, s);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.add_(0.05 * torch::randn_like(p));
  model->named_parameters()["fc.bias"].add_(0.5 * torch::randn({2 * s.num_points}));
  model->eval();
  return model;
}

TEST(Model, DetailTermReadsWindowsOfTheFullResolutionCrop) {
  const Scheme s = find_scheme("300w68");
  AlignerConfig config = testing::tiny_config(Head::Lddmm);
  config.local = {2, 3, 0.1};
  config.detail = {2, 8, 2, 1.5 / 64};
  Aligner model = random_model(config, s, 22);
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({2, 3, 64, 64});
  const torch::Tensor with = model->head_output(x);
  auto params = model->named_parameters();
  const torch::Tensor weight = params["detail_weight"].clone();
  params["detail_weight"].zero_();
  const torch::Tensor first_head = model->head_output(x);
  const torch::Tensor detail = (with - first_head).to(torch::kFloat64);
  EXPECT_GT(detail.abs().max().item<double>(), 1e-3);
  const torch::Tensor want =
      window_term_by_hand(model, "detail_net", x, model->points_from(first_head), weight, 8, 1.5);
  EXPECT_LT((want - detail).abs().max().item<double>(), 1e-4);
}

// The refine term is the same once more: windows around the points the detail term gives (its own net and
// maps, its own window), added to the same momenta.
TEST(Model, RefineTermReadsWindowsAroundTheDetailTermsPoints) {
  const Scheme s = find_scheme("300w68");
  AlignerConfig config = testing::tiny_config(Head::Lddmm);
  config.detail = {2, 8, 2, 1.5 / 64};
  config.refine = {1, 4, 3, 1.0 / 64};
  Aligner model = random_model(config, s, 23);
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({2, 3, 64, 64});
  const torch::Tensor with = model->head_output(x);
  auto params = model->named_parameters();
  const torch::Tensor weight = params["refine_weight"].clone();
  params["refine_weight"].zero_();
  const torch::Tensor detail_head = model->head_output(x);  // global + detail terms
  const torch::Tensor refine = (with - detail_head).to(torch::kFloat64);
  EXPECT_GT(refine.abs().max().item<double>(), 1e-3);
  const torch::Tensor want =
      window_term_by_hand(model, "refine_net", x, model->points_from(detail_head), weight, 4, 1.0);
  EXPECT_LT((want - refine).abs().max().item<double>(), 1e-4);
  // With the detail maps zeroed it reads around the head's own points instead.
  params["detail_weight"].zero_();
  const torch::Tensor plain_head = model->head_output(x);
  params["refine_weight"].copy_(weight);
  const torch::Tensor plain_refine = (model->head_output(x) - plain_head).to(torch::kFloat64);
  const torch::Tensor at_head =
      window_term_by_hand(model, "refine_net", x, model->points_from(plain_head), weight, 4, 1.0);
  EXPECT_LT((at_head - plain_refine).abs().max().item<double>(), 1e-4);
  EXPECT_GT((at_head - want).abs().max().item<double>(), 1e-3);
}

// kernel_scale multiplies every curve's σ_V: the authors' layer (one Euler step, momenta held) moves point i
// by Σ_j exp(−|x_i − x_j|² / σ²) α_j over its curve, σ = 0.65 × the curve's diameter × the crop's scale × k.
TEST(Model, KernelScaleNarrowsEveryCurvesKernel) {
  const Scheme s = find_scheme("300w68");
  AlignerConfig config = testing::tiny_config(Head::Lddmm);
  config.flow = {Integrator::Euler, 1, false};
  config.kernel_scale = 0.25;
  Aligner model(config, s);
  torch::manual_seed(5);
  const torch::Tensor momenta = torch::randn({1, s.num_points, 2}, torch::kFloat64);
  const torch::Tensor out = model->points_from(momenta.to(torch::kFloat32)).to(torch::kFloat64);
  const double scale = config.input_size / s.mean_face.frame;
  const auto a = momenta.accessor<double, 3>();
  double worst = 0;
  for (const Curve& c : s.curves) {
    double diameter = 0;
    for (int i : c.points)
      for (int j : c.points)
        diameter = std::max(diameter, (s.mean_face.points.row(i) - s.mean_face.points.row(j)).norm());
    const double sigma =
        (c.points.size() < 2 ? kSingleSigma * s.mean_face.frame : 0.65 * diameter) * scale * 0.25;
    for (int i : c.points) {
      double move[2] = {0, 0};
      for (int j : c.points) {
        const double d2 =
            (s.mean_face.points.row(i) - s.mean_face.points.row(j)).squaredNorm() * scale * scale;
        for (int k = 0; k < 2; ++k) move[k] += std::exp(-d2 / (sigma * sigma)) * a[0][j][k];
      }
      for (int k = 0; k < 2; ++k)
        worst = std::max(
            worst, std::abs(out[0][i][k].item<double>() - (s.mean_face.points(i, k) * scale + move[k])));
    }
  }
  EXPECT_LT(worst, 1e-4);
}

TEST(Model, DetailSettingsRoundTripAndAreChecked) {
  AlignerConfig cfg = testing::tiny_config(Head::Lddmm);
  cfg.input_size = 96;
  cfg.detail = {3, 12, 5, 0.02};
  const AlignerConfig back = aligner_config_from_json(to_json(cfg), "test");
  EXPECT_EQ(back.detail.factor, 3);
  EXPECT_EQ(back.detail.patch, 12);
  EXPECT_EQ(back.detail.channels, 5);
  EXPECT_DOUBLE_EQ(back.detail.spacing, 0.02);
  // a file without the term reads as factor 1, no window
  const AlignerConfig plain = aligner_config_from_json(to_json(testing::tiny_config()), "test");
  EXPECT_EQ(plain.detail.factor, 1);
  EXPECT_EQ(plain.detail.patch, 0);
  const auto bad = [&](int size, DetailConfig d) {
    AlignerConfig c = testing::tiny_config();
    c.input_size = size;
    c.detail = d;
    return [c] { aligner_config_from_json(to_json(c), "test"); };
  };
  EXPECT_THROW(bad(48, {2, 0, 16, 0.01})(), ModelError);  // 48 / 2 not a multiple of 16
  EXPECT_THROW(bad(64, {2, 6, 16, 0.01})(), ModelError);  // window not a multiple of 4
  EXPECT_THROW(bad(64, {5, 0, 16, 0.01})(), ModelError);  // factor over 4
  EXPECT_THROW(bad(64, {2, 8, 0, 0.01})(), ModelError);   // no channels
  EXPECT_THROW(bad(64, {2, 8, 16, -0.1})(), ModelError);  // negative spacing
  // the refine term and the kernel scale travel too, and are checked
  AlignerConfig more = back;
  more.refine = {1, 16, 6, 0.03};
  more.kernel_scale = 0.25;
  const AlignerConfig more_back = aligner_config_from_json(to_json(more), "test");
  EXPECT_EQ(more_back.refine.patch, 16);
  EXPECT_EQ(more_back.refine.channels, 6);
  EXPECT_DOUBLE_EQ(more_back.refine.spacing, 0.03);
  EXPECT_DOUBLE_EQ(more_back.kernel_scale, 0.25);
  EXPECT_DOUBLE_EQ(plain.kernel_scale, 1.0);  // a file that does not say: the rule as it is
  EXPECT_EQ(to_json(cfg).find("kernel_scale"), std::string::npos);
  AlignerConfig no_detail = testing::tiny_config();
  no_detail.refine = {1, 8, 4, 0.02};
  EXPECT_THROW(aligner_config_from_json(to_json(no_detail), "test"), ModelError);  // refine needs detail
  more.kernel_scale = 0;
  EXPECT_THROW(aligner_config_from_json(to_json(more), "test"), ModelError);
  // and a saved model with the term loads with the same outputs
  Aligner m(back, find_scheme("300w68"));
  {
    torch::NoGradGuard no_grad;
    for (auto& p : m->parameters()) p.add_(0.05 * torch::randn_like(p));
  }
  m->eval();
  const testing::ScratchDir scratch;
  save_model(m, scratch.path() / "detail.pt", false);
  Aligner loaded = load_model(scratch.path() / "detail.pt");
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({1, 3, 96, 96});
  EXPECT_TRUE(torch::allclose(loaded->forward(x), m->forward(x), 1e-5, 1e-5));
}

TEST(Model, DamagedOrForeignFilesGiveClearErrors) {
  const testing::ScratchDir scratch;
  const auto& dir = scratch.path();
  EXPECT_EQ(error_of(dir / "lddmm_no_such_model.pt"),
            (dir / "lddmm_no_such_model.pt").string() + ": no such model file");
  { std::ofstream(dir / "lddmm_garbage.pt") << "this is not a model"; }
  EXPECT_EQ(error_of(dir / "lddmm_garbage.pt"),
            (dir / "lddmm_garbage.pt").string() +
                ": not a readable model file (damaged or not a LibTorch archive)");
  // A truncated real model.
  Aligner model(testing::tiny_config(Head::Lddmm), find_scheme("300w68"));
  save_model(model, dir / "lddmm_trunc.pt", true);
  const auto size = std::filesystem::file_size(dir / "lddmm_trunc.pt");
  std::filesystem::resize_file(dir / "lddmm_trunc.pt", size / 2);
  EXPECT_NE(error_of(dir / "lddmm_trunc.pt").find("not a readable model file"), std::string::npos);
  // A LibTorch archive that is not ours.
  torch::serialize::OutputArchive other;
  other.write("weights", torch::ones({3}));
  other.save_to((dir / "lddmm_other.pt").string());
  EXPECT_EQ(error_of(dir / "lddmm_other.pt"),
            (dir / "lddmm_other.pt").string() + ": not an lddmm-face model");
}

// Mirror partners of a subset: 300W-50 keeps jaw points 2, 4, 6 but not their mirrors 14, 12, 10. Checked
// on the symmetric mean face: a point's partner sits where the point lands in the mirror image, and a
// point without one has no point of the subset there.
TEST(Mirroring, SubsetPartnersFollowTheMeanFaceGeometry) {
  EXPECT_EQ(mirror_partners(find_scheme("300w68")), find_scheme("300w68").mirror);
  const Scheme s = find_scheme("300w50");
  const auto partners = mirror_partners(s);
  ASSERT_EQ(partners.size(), 50u);
  const Points& m = s.mean_face.points;
  int without = 0;
  for (int k = 0; k < 50; ++k) {
    const Eigen::RowVector2d image(s.mean_face.frame - m(k, 0), m(k, 1));
    double nearest = 1e9;
    for (int j = 0; j < 50; ++j) nearest = std::min(nearest, (m.row(j) - image).norm());
    if (partners[static_cast<size_t>(k)] < 0) {
      ++without;
      EXPECT_GT(nearest, 1.0) << "point " << k << " has a mirror image in the subset";
    } else {
      EXPECT_LT((m.row(partners[static_cast<size_t>(k)]) - image).norm(), 1e-3) << "point " << k;
      EXPECT_EQ(partners[static_cast<size_t>(partners[static_cast<size_t>(k)])], k) << "not an involution";
    }
  }
  EXPECT_EQ(without, 6);
}

// The crop tensor is mirrored with flip({3}): a pixel at column c moves to column side − 1 − c, so a
// point found there must come back to c (pixel centres at integer coordinates). The mapping
// x → side − x, used until the fifteenth session, put every mirrored prediction one pixel right.
TEST(Mirroring, MirrorBackUndoesTheTensorFlip) {
  const Scheme s = find_scheme("300w68");
  const auto partners = mirror_partners(s);
  const int side = 32;
  for (const int c : {0, 5, 17, 31}) {
    torch::Tensor image = torch::zeros({1, 1, side, side});
    image[0][0][9][c] = 1;
    const torch::Tensor flipped = image.flip({3});
    const int64_t column = flipped[0][0][9].argmax().item<int64_t>();
    // Point 30 (nose tip) is its own partner; put it where the hot pixel is in the mirrored crop.
    torch::Tensor pts = torch::zeros({1, 68, 2}, torch::kFloat64);
    pts[0][30][0] = static_cast<double>(column);
    pts[0][30][1] = 9.0;
    const torch::Tensor back = mirror_back(pts, partners, side);
    EXPECT_DOUBLE_EQ(back[0][30][0].item<double>(), c);
    EXPECT_DOUBLE_EQ(back[0][30][1].item<double>(), 9.0);
  }
}

TEST(Calibration, OffsetsAreSubtractedAndTravelWithTheModelFile) {
  const torch::Tensor pts = torch::ones({2, 3, 2}, torch::kFloat64);
  const torch::Tensor c = calibrate_points(pts, {0.25, -0.5});
  EXPECT_DOUBLE_EQ(c[1][2][0].item<double>(), 0.75);
  EXPECT_DOUBLE_EQ(c[1][2][1].item<double>(), 1.5);
  AlignerConfig cfg;
  cfg.calibration.direct = {-0.45, 0.03};
  cfg.calibration.mirrored = {-0.2, 0.01};
  const AlignerConfig back = aligner_config_from_json(to_json(cfg), "test");
  EXPECT_EQ(back.calibration.direct, cfg.calibration.direct);
  EXPECT_EQ(back.calibration.mirrored, cfg.calibration.mirrored);
  // Without a calibration the configuration text is what older files hold.
  EXPECT_EQ(to_json(AlignerConfig{}).find("calibration"), std::string::npos);
  std::string bad = to_json(cfg);
  bad.replace(bad.find("-0.45"), 5, "99.00");
  EXPECT_THROW(aligner_config_from_json(bad, "test"), ModelError);
}

// The confidence head: exp(w · pool + b), the pool being the fused features' mean (computed here from
// features()); it travels in the configuration, and a head of the wrong size or with a non-finite weight
// is refused.
TEST(Confidence, TheHeadIsALinearMapOfThePooledFeaturesAndTravelsWithTheFile) {
  torch::manual_seed(3);
  Aligner m(testing::tiny_config(), find_scheme("300w68"));
  m->eval();
  EXPECT_FALSE(m->estimated_error(torch::ones({1, 60})).defined());  // no head
  const int64_t C = 15 * 4;
  ConfidenceHead h;
  for (int64_t j = 0; j < C; ++j) h.weight.push_back(0.01 * static_cast<double>(j % 7) - 0.02);
  h.bias = -3;
  m->set_confidence(h);
  const torch::Tensor images = torch::randn({2, 3, 64, 64});
  torch::Tensor pooled;
  m->head_output(images, &pooled);
  const torch::Tensor by_hand = m->features(images).mean({2, 3});
  ASSERT_TRUE(torch::allclose(pooled, by_hand, 1e-5, 1e-6));
  const torch::Tensor est = m->estimated_error(pooled);
  for (int64_t b = 0; b < 2; ++b) {
    double z = h.bias;
    for (int64_t j = 0; j < C; ++j) z += h.weight[static_cast<size_t>(j)] * by_hand[b][j].item<double>();
    EXPECT_NEAR(est[b].item<double>(), std::exp(z), 1e-5 * std::exp(z));
  }
  const AlignerConfig back = aligner_config_from_json(to_json(m->config()), "test");
  EXPECT_EQ(back.confidence.weight, h.weight);
  EXPECT_EQ(back.confidence.bias, h.bias);
  EXPECT_EQ(to_json(testing::tiny_config()).find("confidence"), std::string::npos);
  ConfidenceHead wrong = h;
  wrong.weight.pop_back();
  EXPECT_THROW(m->set_confidence(wrong), ModelError);
  AlignerConfig bad = m->config();
  bad.confidence.weight.pop_back();
  EXPECT_THROW(aligner_config_from_json(to_json(bad), "test"), ModelError);
  bad.confidence = h;
  bad.confidence.bias = std::numeric_limits<double>::infinity();
  EXPECT_THROW(aligner_config_from_json(to_json(bad), "test"), ModelError);
}

// The image-pixel part: each crop's map (linear part, a reflection undone) times the offset, subtracted;
// it travels in the file beside the crop-pixel part, files without it read as 0, and it needs the maps.
TEST(Calibration, ImagePartGoesThroughEachCropsMapAndTravelsWithTheFile) {
  const torch::Tensor pts = torch::zeros({2, 3, 2}, torch::kFloat64);
  Affine2 plain, mirrored;
  plain << 0.5, 0.0, 10.0, 0.0, 0.5, 20.0;
  mirrored << 0.0, -2.0, 30.0, -2.0, 0.0, 0.0;  // a quarter turn then a flip of x (det −4)
  const torch::Tensor maps = image_to_crop_maps({plain, mirrored}, {1.0, 0.25});
  const torch::Tensor c = calibrate_points(pts, {0.1, 0.2}, {1.0, -2.0}, maps);
  // Crop 0: 0.5·(1, −2) = (0.5, −1). Crop 1: the map's linear part [[0, −2], [−2, 0]] with its first
  // column negated, [[0, −2], [2, 0]], times 0.25: (1, −2) → (1, 0.5).
  EXPECT_NEAR(c[0][1][0].item<double>(), -0.1 - 0.5, 1e-6);
  EXPECT_NEAR(c[0][1][1].item<double>(), -0.2 + 1.0, 1e-6);
  EXPECT_NEAR(c[1][2][0].item<double>(), -0.1 - 1.0, 1e-6);
  EXPECT_NEAR(c[1][2][1].item<double>(), -0.2 - 0.5, 1e-6);
  EXPECT_THROW(calibrate_points(pts, {0, 0}, {1.0, 0}), std::invalid_argument);
  EXPECT_TRUE(calibrate_points(pts, {0, 0}, {0, 0}).equal(pts));
  AlignerConfig cfg;
  cfg.calibration.direct = {-0.45, 0.03};
  cfg.calibration.direct_image = {1.25, 0.5};
  cfg.calibration.mirrored_image = {-2.5, 0.75};
  const AlignerConfig back = aligner_config_from_json(to_json(cfg), "test");
  EXPECT_EQ(back.calibration.direct_image, cfg.calibration.direct_image);
  EXPECT_EQ(back.calibration.mirrored_image, cfg.calibration.mirrored_image);
  AlignerConfig old;
  old.calibration.direct = {0.5, 0};
  EXPECT_EQ(to_json(old).find("_image"), std::string::npos);
  EXPECT_FALSE(aligner_config_from_json(to_json(old), "test").calibration.has_image_term());
  std::string bad = to_json(cfg);
  bad.replace(bad.find("1.25"), 4, "99.0");
  EXPECT_THROW(aligner_config_from_json(bad, "test"), ModelError);
}

// The fit of offset = crop + scale·image over faces of several scales recovers both parts (noise-free
// synthetic offsets); one scale for all, or the crop-only fit, gives the mean.
TEST(Calibration, FitSeparatesTheCropAndImageParts) {
  std::vector<std::array<double, 2>> off;
  std::vector<double> scale;
  for (int i = 0; i < 7; ++i) {
    const double s = 0.3 + 0.15 * i;
    scale.push_back(s);
    off.push_back({0.2 + 1.5 * s, -0.1 - 0.8 * s});
  }
  const CalibrationFit f = fit_calibration(off, scale, true);
  EXPECT_NEAR(f.crop[0], 0.2, 1e-9);
  EXPECT_NEAR(f.crop[1], -0.1, 1e-9);
  EXPECT_NEAR(f.image[0], 1.5, 1e-9);
  EXPECT_NEAR(f.image[1], -0.8, 1e-9);
  double mean_x = 0;
  for (const auto& o : off) mean_x += o[0] / 7;
  const CalibrationFit crop_only = fit_calibration(off, scale, false);
  EXPECT_NEAR(crop_only.crop[0], mean_x, 1e-9);
  EXPECT_EQ(crop_only.image, (std::array<double, 2>{0, 0}));
  const CalibrationFit same = fit_calibration(off, std::vector<double>(7, 0.5), true);
  EXPECT_NEAR(same.crop[0], mean_x, 1e-9);
  EXPECT_EQ(same.image, (std::array<double, 2>{0, 0}));
  EXPECT_THROW(fit_calibration(off, {0.5}, true), std::invalid_argument);
}

// Input sizes: any multiple of 16 from 32 (144 px gives branches of 36, 18, 9 and 5, the last rounded up the
// same way on every path to it); other sizes are refused when the configuration is read.
TEST(Model, InputSizesAreMultiplesOf16) {
  AlignerConfig cfg = testing::tiny_config(Head::Lddmm);
  for (const int size : {48, 80, 144}) {
    cfg.input_size = size;
    const AlignerConfig back = aligner_config_from_json(to_json(cfg), "test");
    EXPECT_EQ(back.input_size, size);
    Aligner m(back, find_scheme("300w68"));
    m->eval();
    torch::NoGradGuard no_grad;
    const torch::Tensor y = m->forward(torch::randn({1, 3, size, size}));
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 68, 2})) << size;
    EXPECT_TRUE(torch::isfinite(y).all().item<bool>()) << size;
  }
  for (const int size : {0, 16, 40, 136}) {
    cfg.input_size = size;
    EXPECT_THROW(aligner_config_from_json(to_json(cfg), "test"), ModelError) << size;
  }
}

// A weight average of two models: each floating-point weight and buffer the mean of theirs (by hand in
// double), the batch count the first model's, no calibration; models of another shape are refused.
TEST(Soup, AveragesWeightsAndBuffers) {
  const Scheme s = find_scheme("300w68");
  AlignerConfig cfg = testing::tiny_config(Head::Lddmm);
  cfg.calibration.direct = {0.5, 0.25};
  Aligner a(cfg, s), b(cfg, s);
  torch::manual_seed(7);
  {
    torch::NoGradGuard no_grad;
    for (Aligner* m : {&a, &b}) {
      for (auto& p : (*m)->parameters()) p.copy_(torch::rand_like(p) * 2 - 1);
      for (auto& t : (*m)->buffers())
        if (t.is_floating_point()) t.add_(torch::rand_like(t));
    }
  }
  const Aligner soup = average_models({a, b});
  EXPECT_TRUE(soup->config().calibration.empty());
  const auto pa = a->named_parameters(), pb = b->named_parameters();
  double worst = 0;
  int64_t count = 0;
  for (const auto& p : soup->named_parameters()) {
    const torch::Tensor want = (pa[p.key()].to(torch::kFloat64) + pb[p.key()].to(torch::kFloat64)) / 2;
    worst = std::max(worst, (p.value().to(torch::kFloat64) - want).abs().max().item<double>());
    count += p.value().numel();
  }
  EXPECT_GT(count, 0);
  EXPECT_LT(worst, 1e-6);
  const auto ba = a->named_buffers(), bb = b->named_buffers();
  for (const auto& t : soup->named_buffers()) {
    if (t.value().is_floating_point()) {
      const torch::Tensor want = (ba[t.key()].to(torch::kFloat64) + bb[t.key()].to(torch::kFloat64)) / 2;
      // float32 storage: relative precision (the template's buffer holds pixel coordinates)
      const double scale = 1 + want.abs().max().item<double>();
      EXPECT_LT((t.value().to(torch::kFloat64) - want).abs().max().item<double>(), 1e-6 * scale) << t.key();
    } else {
      EXPECT_TRUE(torch::equal(t.value(), ba[t.key()])) << t.key();
    }
  }
  AlignerConfig other = testing::tiny_config(Head::Lddmm);
  other.input_size = 96;
  EXPECT_THROW(average_models({a, Aligner(other, s)}), ModelError);
  EXPECT_THROW(average_models({}), ModelError);
}

TEST(Mirroring, MergeAveragesPartneredPointsAndKeepsTheOthers) {
  const Scheme s = find_scheme("300w50");
  const auto partners = mirror_partners(s);
  const double side = 64;
  torch::manual_seed(0);
  const torch::Tensor pred = torch::rand({2, 50, 2}, torch::kFloat64) * side;
  // The same landmarks seen in the mirrored crop: point j of the mirror image is partner-of-j's mirror.
  torch::Tensor seen = torch::empty_like(pred);
  for (int j = 0; j < 50; ++j) {
    const int src = partners[static_cast<size_t>(j)] >= 0 ? partners[static_cast<size_t>(j)] : j;
    seen.select(1, j).select(1, 0).copy_(side - 1 - pred.select(1, src).select(1, 0));
    seen.select(1, j).select(1, 1).copy_(pred.select(1, src).select(1, 1));
  }
  EXPECT_TRUE(
      torch::allclose(merge_mirrored(pred, mirror_back(seen, partners, side), partners), pred, 0, 1e-12));
  // A shifted mirrored prediction moves partnered points by half the shift, the others not at all.
  const torch::Tensor shifted = seen + 2.0;
  const torch::Tensor merged = merge_mirrored(pred, mirror_back(shifted, partners, side), partners);
  for (int k = 0; k < 50; ++k) {
    const bool has = partners[static_cast<size_t>(k)] >= 0;
    EXPECT_NEAR(merged[0][k][0].item<double>() - pred[0][k][0].item<double>(), has ? -1.0 : 0.0, 1e-9);
    EXPECT_NEAR(merged[0][k][1].item<double>() - pred[0][k][1].item<double>(), has ? 1.0 : 0.0, 1e-9);
  }
}

}  // namespace
}  // namespace lddmm
