// The one predictor: each view's landmarks against the network's own output, calibrated and mirrored back
// by hand (x → S − 1 − x, each point taking its mirror partner's place).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "lddmm/flow/scheme.hpp"
#include "lddmm/io/scheme_files.hpp"
#include "lddmm/net/predict.hpp"
#include "tiny_model.hpp"

namespace lddmm {
namespace {

// A tiny model with random weights (a fresh head predicts the mean face for any crop) and a calibration.
Aligner random_model(Head head) {
  torch::manual_seed(3);
  Aligner model(testing::tiny_config(head), find_scheme("300w68"));
  {
    torch::NoGradGuard no_grad;
    for (torch::Tensor& p : model->parameters()) p.add_(0.05 * torch::randn_like(p));
  }
  model->eval();
  Calibration c;
  c.direct = {0.3, -0.2};
  c.mirrored = {-0.1, 0.4};
  model->set_calibration(c);
  return model;
}

// The landmarks on the mirror image, mirrored back and calibrated, written out point by point.
torch::Tensor by_hand_mirrored(Aligner& model, const torch::Tensor& crops) {
  const torch::Tensor y = model->forward(crops.flip({3}));
  const std::vector<int> partner = mirror_partners(model->scheme());
  const double S = model->config().input_size;
  const auto& off = model->config().calibration.mirrored;
  torch::Tensor out = torch::empty_like(y);
  for (int64_t b = 0; b < y.size(0); ++b)
    for (int64_t i = 0; i < y.size(1); ++i) {
      const int64_t j = partner[static_cast<size_t>(i)];
      out[b][i][0] = S - 1 - y[b][j][0].item<double>() - off[0];
      out[b][i][1] = y[b][j][1].item<double>() - off[1];
    }
  return out;
}

class PredictorViews : public ::testing::TestWithParam<Head> {};

TEST_P(PredictorViews, EachViewIsTheNetworksOutputCalibratedAndBothAreTheirMean) {
  torch::NoGradGuard no_grad;
  Aligner model = random_model(GetParam());
  Predictor predictor(model);
  const torch::Tensor crops = torch::randn({2, 3, 64, 64});
  const auto& off = model->config().calibration.direct;
  const torch::Tensor direct = model->forward(crops) - torch::tensor({off[0], off[1]}).to(torch::kFloat32);
  const torch::Tensor mirrored = by_hand_mirrored(model, crops);
  const ViewPoints d = predictor.run(crops, Views::Direct), m = predictor.run(crops, Views::Mirrored),
                   both = predictor.run(crops, Views::Both);
  EXPECT_FALSE(d.mirrored.defined());
  EXPECT_FALSE(m.direct.defined());
  EXPECT_TRUE(torch::allclose(d.direct, direct, 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(m.mirrored, mirrored, 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(both.direct, direct, 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(both.mirrored, mirrored, 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(predictor.landmarks(both), (direct + mirrored) / 2, 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(predictor.landmarks(d), direct, 1e-4, 1e-4));
  EXPECT_FALSE(predictor.carries());
}

INSTANTIATE_TEST_SUITE_P(Heads, PredictorViews, ::testing::Values(Head::Lddmm, Head::Coordinates));

TEST(Predictor, TheTraceIsTheDirectViewsFlow) {
  torch::NoGradGuard no_grad;
  Aligner model = random_model(Head::Lddmm);
  Predictor predictor(model);
  const torch::Tensor crops = torch::randn({2, 3, 64, 64});
  const ViewPoints v = predictor.run(crops, Views::Direct, {}, /*trace=*/true);
  ASSERT_TRUE(v.trace.has_value());
  // The flow's end points are the landmarks before calibration.
  const auto& off = model->config().calibration.direct;
  EXPECT_TRUE(torch::allclose(v.trace->points - torch::tensor({off[0], off[1]}).to(torch::kFloat32), v.direct,
                              1e-4, 1e-4));
  EXPECT_FALSE(predictor.run(crops, Views::Mirrored, {}, true).trace.has_value());
}

TEST(Predictor, ACoordinateModelCarriesNoOtherScheme) {
  EXPECT_THROW(Predictor(random_model(Head::Coordinates), find_scheme("wflw98")), std::runtime_error);
  EXPECT_TRUE(Predictor(random_model(Head::Lddmm), find_scheme("wflw98")).carries());
}

}  // namespace
}  // namespace lddmm
