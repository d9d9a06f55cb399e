// The aligner network and its model file.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "lddmm/model.hpp"
#include "lddmm/scheme.hpp"
#include "scratch_dir.hpp"

namespace lddmm {
namespace {

AlignerConfig tiny(Head head) {
  AlignerConfig c;
  c.backbone.width = 4;
  c.backbone.modules = {1, 1, 1};
  c.backbone.blocks = 1;
  c.backbone.stem_blocks = 1;
  c.backbone.stem_width = 8;
  c.input_size = 64;
  c.head = head;
  return c;
}

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
    Aligner model(tiny(head), s);
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
  Aligner model(tiny(Head::Lddmm), s);
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
  Aligner model(tiny(Head::Lddmm), find_scheme("300w68"));
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

}  // namespace
}  // namespace lddmm
