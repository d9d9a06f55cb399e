// Checks on the real 300-W data in ../shared/data (or $LDDMM_DATA). Skipped, with a message, when the
// data folder is absent: the core tests never need it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>

#include "lddmm/flow/flow.hpp"
#include "lddmm/flow/loss.hpp"
#include "lddmm/flow/metrics.hpp"
#include "lddmm/flow/register.hpp"
#include "lddmm/flow/scheme.hpp"
#include "lddmm/io/pts_io.hpp"
#include "lddmm/io/scheme_files.hpp"

#ifndef LDDMM_DEFAULT_DATA
#define LDDMM_DEFAULT_DATA ""
#endif

namespace lddmm {
namespace {

std::filesystem::path data_root() {
  const char* env = std::getenv("LDDMM_DATA");
  return std::filesystem::path(env != nullptr && *env != '\0' ? env : LDDMM_DEFAULT_DATA) / "300w";
}

class RealData : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::is_regular_file(data_root() / "val.txt"))
      GTEST_SKIP() << "300-W data not found at " << data_root()
                   << " (set LDDMM_DATA): skipping the real-data checks";
  }
  std::vector<Points> val_faces() const {
    std::vector<Points> faces;
    for (const auto& item : read_image_list(data_root(), data_root() / "val.txt"))
      faces.push_back(read_pts(item.pts));
    return faces;
  }
};

TEST_F(RealData, ValidationFacesParseWith68Points) {
  const auto faces = val_faces();
  EXPECT_EQ(faces.size(), 201u);
  for (const Points& f : faces) EXPECT_EQ(f.rows(), 68);
}

TEST_F(RealData, MeanFaceFitsHeldOutFacesAfterASimilarity) {
  // The mean face was computed from train.txt; on val.txt, after the best similarity only, it should be
  // within a typical shape variation (NME under 12 %).
  const Scheme s = find_scheme("300w68");
  std::vector<double> errors;
  for (const Points& f : val_faces()) {
    const Points aligned = apply_affine(fit_similarity(s.mean_face.points, f), s.mean_face.points);
    errors.push_back(nme(aligned, f, normalising_distance(f, s.normalisation)));
  }
  const NmeSummary sum = summarize(errors);
  EXPECT_LT(sum.mean, 0.12);
  EXPECT_GT(sum.mean, 0.01);  // real faces do differ from the mean
}

TEST_F(RealData, MomentaFitToRealFacesWithSmallError) {
  // LDDMM registration of the template onto held-out faces: the flow can represent real shapes.
  const Scheme s = find_scheme("300w68");
  const DeformationLayer layer(CurveSet::from_scheme(s), {Integrator::Heun, 2, true});
  const CurveLoss loss = CurveLoss::from_scheme(s);
  const torch::Tensor tmpl =
      torch::from_blob(const_cast<double*>(s.mean_face.points.data()), {68, 2}, torch::kFloat64).clone();
  const auto faces = val_faces();
  std::vector<torch::Tensor> targets;
  for (size_t k = 0; k < faces.size(); k += 20) {
    const Points t = apply_affine(fit_similarity(faces[k], s.mean_face.points), faces[k]);
    targets.push_back(torch::from_blob(const_cast<double*>(t.data()), {68, 2}, torch::kFloat64).clone());
  }
  const torch::Tensor target = torch::stack(targets);
  const FitResult fit = fit_momenta(layer, loss, tmpl, target, {300, 1.0});
  EXPECT_LT(fit.final_loss, 0.1 * fit.initial_loss);
  const torch::Tensor pred = layer.forward(tmpl, fit.momenta).detach();
  for (int64_t b = 0; b < target.size(0); ++b) {
    const double d = (target[b][36] - target[b][45]).norm().item<double>();
    const double e = (pred[b] - target[b]).norm(2, -1).mean().item<double>() / d;
    EXPECT_LT(e, 0.03) << "face " << b;
  }
}

}  // namespace
}  // namespace lddmm
