// How well the tracker's confidence (the disagreement of a crop's two views, lddmm/confidence.hpp; and the
// model's confidence head, when it has one) ranks faces by their error and tells faces from what is not one.
// Faces: a 300-W list (val.txt), each cropped as a detector would (its landmark box shifted and scaled by up
// to 10 %, seeded); not faces: the same crops moved 1.0-1.5 face widths away. Prints Spearman's rho of
// disagreement against NME, the ROC AUC of faces against not-faces, and the disagreement's quantiles, for
// choosing the confidence's half point.
//   bench_confidence MODEL DATA_DIR [LIST]   (LIST relative to DATA_DIR, default val.txt)
#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>

#include "lddmm/flow/metrics.hpp"
#include "lddmm/io/pts_io.hpp"
#include "lddmm/net/model.hpp"
#include "lddmm/track/confidence.hpp"
#include "lddmm/track/tracker.hpp"

namespace {
using namespace lddmm;

// The two views' disagreement; `estimated`: the model's confidence head's estimated NME (NaN: none).
double disagreement(AlignBackend& backend, const cv::Mat& image, const FaceCrop& crop, Points* points,
                    double& estimated) {
  const std::vector<AlignedFace> a = backend.align(image, {crop}, false);
  const std::vector<AlignedFace> m = backend.align_mirrored(image, {crop});
  if (points != nullptr) *points = a[0].points;
  estimated = a[0].estimated_error;
  return view_disagreement(a[0].points, m[0].points);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_confidence MODEL DATA_DIR [LIST]\n");
    return 2;
  }
  torch::set_num_threads(2);
  LddmmBackendOptions bo;
  bo.device = "cpu";
  const auto backend = make_lddmm_backend(load_model(argv[1]), bo);
  const Scheme& scheme = backend->scheme();
  const std::string dir = argv[2];
  std::ifstream list(dir + "/" + (argc > 3 ? argv[3] : "val.txt"));
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<double> face_d, error, other_d, face_e, other_e;
  double e = 0;
  std::string line;
  while (std::getline(list, line)) {
    if (line.empty()) continue;
    const cv::Mat image = cv::imread(dir + "/" + line, cv::IMREAD_COLOR);
    const Points truth = read_pts(dir + "/" + line.substr(0, line.rfind('.')) + ".pts");
    FaceCrop c = crop_from_points(truth, scheme);
    c.centre += 0.1 * c.side * Eigen::RowVector2d(u(rng), u(rng));
    c.side *= 1 + 0.1 * u(rng);
    Points p;
    face_d.push_back(disagreement(*backend, image, c, &p, e));
    face_e.push_back(e);
    error.push_back(nme(p, truth, normalising_distance(truth, scheme.normalisation)));
    const double angle = M_PI * u(rng), away = (1.25 + 0.25 * u(rng)) * c.side;
    c.centre += away * Eigen::RowVector2d(std::cos(angle), std::sin(angle));
    other_d.push_back(disagreement(*backend, image, c, nullptr, e));
    other_e.push_back(e);
  }
  std::printf(
      "faces %zu: Spearman rho (disagreement, NME) %.3f; ROC AUC faces vs crops moved off them %.3f\n",
      face_d.size(), spearman(face_d, error), roc_auc(face_d, other_d));
  for (double q : {0.5, 0.9, 0.99})
    std::printf("  quantile %.2f: disagreement on faces %.4f, off faces %.4f\n", q, quantile(face_d, q),
                quantile(other_d, q));
  for (double q : {0.01, 0.05, 0.1})
    std::printf("  quantile %.2f off faces: %.4f\n", q, quantile(other_d, q));
  if (backend->estimates()) {
    std::printf(
        "confidence head: Spearman rho (estimated NME, NME) %.3f; ROC AUC faces vs crops moved off them "
        "%.3f\n",
        spearman(face_e, error), roc_auc(face_e, other_e));
    for (double q : {0.5, 0.9, 0.99})
      std::printf("  quantile %.2f: estimated NME on faces %.4f, off faces %.4f\n", q, quantile(face_e, q),
                  quantile(other_e, q));
    std::printf("  quantile 0.01 off faces: %.4f\n", quantile(other_e, 0.01));
  }
  return 0;
}
