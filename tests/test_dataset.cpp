// Crops and augmentation keep image and landmarks together: on a synthetic image with a coloured dot at
// each of a few landmarks, the crop's pixel at every returned point has that point's colour (after
// rotation, scaling, shifting and mirroring with the scheme's permutation).
#include <gtest/gtest.h>

#include <Eigen/LU>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>

#include "lddmm/flow/metrics.hpp"
#include "lddmm/flow/scheme.hpp"
#include "lddmm/io/pts_io.hpp"
#include "lddmm/io/scheme_files.hpp"
#include "lddmm/net/model.hpp"
#include "lddmm/train/dataset.hpp"
#include "lddmm/train/trainer.hpp"
#include "scratch_dir.hpp"
#include "tiny_model.hpp"

namespace lddmm {
namespace {

class SyntheticFaces : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = std::make_unique<testing::ScratchDir>();
    dir_ = scratch_->path();
    std::filesystem::create_directories(dir_ / "set");
    const Scheme s = find_scheme("300w68");
    std::ofstream list(dir_ / "list.txt");
    for (int f = 0; f < 3; ++f) {
      // The mean face, moved and scaled, on a 300×300 grey image; marked points get unique colours.
      Points p = s.mean_face.points * (0.8 + 0.1 * f);
      p.rowwise() += Eigen::RowVector2d(30 + 10 * f, 40 - 5 * f);
      cv::Mat img(300, 300, CV_8UC3, cv::Scalar(90, 90, 90));
      for (int k : marked_) cv::circle(img, cv::Point2d(p(k, 0), p(k, 1)), 6, colour(k), cv::FILLED);
      const std::string name = "set/face" + std::to_string(f);
      cv::imwrite((dir_ / (name + ".png")).string(), img);
      write_pts(dir_ / (name + ".pts"), p);
      list << name << ".png\n";
    }
  }
  void TearDown() override { scratch_.reset(); }
  // A model with random weights saved as dir_/start.pt, the start of a fine-tune.
  Aligner save_random_start(const AlignerConfig& config) {
    Aligner start(config, find_scheme("300w68"));
    {
      torch::NoGradGuard no_grad;
      for (auto& p : start->parameters()) p.uniform_(-0.1, 0.1);
    }
    save_model(start, dir_ / "start.pt", false);
    return start;
  }
  // One epoch at learning rate 0 (the weights stay put), one thread.
  static TrainConfig frozen_run(const AlignerConfig& model) {
    TrainConfig cfg;
    cfg.model = model;
    cfg.train.epochs = 1;
    cfg.train.batch_size = 2;
    cfg.train.learning_rate = 0;
    cfg.train.weight_decay = 0;
    cfg.train.threads = 1;
    return cfg;
  }
  void fine_tune(const TrainConfig& cfg, const std::string& run, const std::string& start) {
    train(
        cfg, dir_, dir_ / "list.txt", dir_ / "list.txt", dir_ / run, false, [](const std::string&) {},
        dir_ / start);
  }
  std::unique_ptr<testing::ScratchDir> scratch_;

  static cv::Scalar colour(int k) { return cv::Scalar(20 + 3 * k, 250 - 3 * k, (k * 37) % 256); }

  std::filesystem::path dir_;
  const std::vector<int> marked_ = {0, 8, 16, 30, 36, 45, 48, 54};
};

TEST_F(SyntheticFaces, AugmentedCropsKeepPointsOnTheirPixels) {
  const Scheme s = find_scheme("300w68");
  const FaceDataset data(dir_, dir_ / "list.txt", s, s, 200);
  ASSERT_EQ(data.size(), 3u);
  AugmentOptions aug;
  aug.enabled = true;
  aug.colour = 0;
  aug.blur_probability = 0;
  aug.occlusion_probability = 0;
  const int S = 96;
  std::vector<float> img(3 * S * S), pts(2 * 68);
  int flipped = 0;
  for (int trial = 0; trial < 24; ++trial) {
    std::mt19937 rng(static_cast<uint32_t>(trial));
    Affine2 map;
    data.sample(static_cast<size_t>(trial % 3), S, aug, rng, {0, 0, 0}, {1, 1, 1}, img.data(), pts.data(),
                &map);
    const bool flip = map.leftCols<2>().determinant() < 0;
    flipped += flip ? 1 : 0;
    for (int k : marked_) {
      // Point k of the returned layout shows the dot of the original point mirror[k] when flipped.
      const int source = flip ? s.mirror[static_cast<size_t>(k)] : k;
      const int x = static_cast<int>(std::lround(pts[2 * static_cast<size_t>(k)]));
      const int y = static_cast<int>(std::lround(pts[2 * static_cast<size_t>(k) + 1]));
      if (x < 1 || y < 1 || x >= S - 1 || y >= S - 1) continue;  // pushed out of the crop by the jitter
      const cv::Scalar want = colour(source);
      // CHW RGB planes, values in [0, 1]; the dot is BGR in the image.
      for (int ch = 0; ch < 3; ++ch) {
        EXPECT_NEAR(img[static_cast<size_t>(ch * S * S + y * S + x)] * 255.0, want[2 - ch], 12.0)
            << "trial " << trial << " point " << k << " channel " << ch;
      }
    }
  }
  EXPECT_GT(flipped, 3);
  EXPECT_LT(flipped, 21);
}

TEST_F(SyntheticFaces, MirroredLabelsKeepTheAnnotationsOffset) {
  // The same photo annotated twice: on its marks, and 4 px right of them (an annotation convention, such
  // as 1-based coordinates). Both are read downscaled (cache side 120), so the offset is 4 × scale record
  // pixels. The same random crop of each shows the offset the labels carry into the crop.
  const Scheme s = find_scheme("300w68");
  const double delta = 4;
  Points p = s.mean_face.points * 0.9;
  p.rowwise() += Eigen::RowVector2d(35, 30);
  for (const auto& [name, shift] : {std::pair<std::string, double>{"on", 0.0}, {"right", delta}}) {
    std::filesystem::create_directories(dir_ / name);
    cv::imwrite((dir_ / name / "face.png").string(), cv::Mat(300, 300, CV_8UC3, cv::Scalar(90, 90, 90)));
    Points q = p;
    q.col(0).array() += shift;
    write_pts(dir_ / name / "face.pts", q);
    std::ofstream(dir_ / (name + ".txt")) << name << "/face.png\n";
  }
  const FaceDataset on(dir_, dir_ / "on.txt", s, s, 120), right(dir_, dir_ / "right.txt", s, s, 120);
  ASSERT_LT(right.record(0).scale, 1.0);
  ASSERT_NEAR(right.record(0).scale, on.record(0).scale, 1e-3);
  const double d = delta * right.record(0).scale;
  AugmentOptions aug;
  aug.enabled = true;
  aug.rotation_deg = 20;
  const int S = 64;
  std::vector<float> img(3 * S * S), a(2 * 68), b(2 * 68);
  int flipped = 0;
  for (double offset : {delta, 0.0}) {
    aug.mirror_x_offset = offset;
    for (int trial = 0; trial < 16; ++trial) {
      Affine2 map, map_b;
      std::mt19937 rng_a(static_cast<uint32_t>(trial)), rng_b(static_cast<uint32_t>(trial));
      const Box box = landmark_box(on.record(0).points);  // one crop for both
      AugmentOptions on_marks = aug;                      // labels on their marks need no correction
      on_marks.mirror_x_offset = 0;
      on.sample(0, S, on_marks, rng_a, {0, 0, 0}, {1, 1, 1}, img.data(), a.data(), &map, &box);
      right.sample(0, S, aug, rng_b, {0, 0, 0}, {1, 1, 1}, img.data(), b.data(), &map_b, &box);
      ASSERT_TRUE(map.isApprox(map_b, 1e-3));
      const Eigen::Matrix2d lin = map.leftCols<2>();
      const bool flip = lin.determinant() < 0;
      flipped += flip && offset != 0 ? 1 : 0;
      // Unmirrored, the record's (d, 0) through the crop's map. Mirrored, the labels of the mirrored photo
      // under the same convention: (d, 0) right of the mirrored mark, through the unmirrored map that takes
      // the mirrored photo to this crop (lin · diag(−1, 1)), which is −lin · (d, 0).
      const Eigen::Vector2d carried = lin * Eigen::Vector2d(d, 0);
      const Eigen::Vector2d want = flip && offset != 0 ? Eigen::Vector2d(-carried) : carried;
      for (int k = 0; k < 68; ++k) {
        const auto i = 2 * static_cast<size_t>(k);
        EXPECT_NEAR(b[i] - a[i], want.x(), 1e-3) << "trial " << trial << " point " << k;
        EXPECT_NEAR(b[i + 1] - a[i + 1], want.y(), 1e-3) << "trial " << trial << " point " << k;
      }
      // Mirrored without the correction, the labels sit left of their marks.
      if (flip && offset == 0) {
        EXPECT_LT(b[0] - a[0], -0.5 * d * std::sqrt(std::abs(lin.determinant())));
      }
      if (flip && offset != 0) {
        EXPECT_GT(b[0] - a[0], 0.5 * d * std::sqrt(std::abs(lin.determinant())));
      }
    }
  }
  EXPECT_GT(flipped, 2);
}

TEST_F(SyntheticFaces, PlainCropsFitTheLandmarkBoxAndSubsetsSelectPoints) {
  const Scheme s = find_scheme("300w68");
  const Scheme sub = find_scheme("300w50");
  const FaceDataset data(dir_, dir_ / "list.txt", s, sub, 200);
  const int S = 128;
  std::vector<float> img(3 * S * S), pts(2 * 50);
  std::mt19937 rng(0);
  data.sample(1, S, AugmentOptions{}, rng, {0, 0, 0}, {1, 1, 1}, img.data(), pts.data());
  float lo_x = 1e9, hi_x = -1e9, lo_y = 1e9, hi_y = -1e9;
  for (int k = 0; k < 50; ++k) {
    lo_x = std::min(lo_x, pts[2 * k]), hi_x = std::max(hi_x, pts[2 * k]);
    lo_y = std::min(lo_y, pts[2 * k + 1]), hi_y = std::max(hi_y, pts[2 * k + 1]);
  }
  // The 50 points keep the 68's extremes here (jaw ends, chin, brow tops): the box spans S / 1.25, centred.
  EXPECT_NEAR(std::max(hi_x - lo_x, hi_y - lo_y), S / 1.25, 0.5);
  EXPECT_NEAR(0.5 * (lo_x + hi_x), S / 2.0, 0.5);
  const Points truth = data.target_points(1);
  EXPECT_EQ(truth.rows(), 50);
  EXPECT_TRUE(truth.row(40).isApprox(data.record(1).points.row(sub.subset_of->indices[40])));
}

// Upright training crops (augment.upright): a face rolled by 0.3 rad is cropped turned with it, so with no
// jitter its outer eye corners come out level and its points span S / 1.25 of the crop about the centre in
// the face's own frame (the mean face's extents, scaled); the landmark-box crop keeps the roll. The dots
// stay on their points with the jitter on top (mirror image included).
TEST_F(SyntheticFaces, UprightCropsTurnWithTheFace) {
  const Scheme s = find_scheme("300w68");
  const double roll = 0.3;
  Eigen::Matrix2d r;
  r << std::cos(roll), -std::sin(roll), std::sin(roll), std::cos(roll);
  const Points level = s.mean_face.points * 0.9;
  const Eigen::RowVector2d mid = (level.colwise().minCoeff() + level.colwise().maxCoeff()) / 2;
  const Points p = ((level.rowwise() - mid) * r.transpose()).rowwise() + Eigen::RowVector2d(150, 150);
  cv::Mat img(300, 300, CV_8UC3, cv::Scalar(90, 90, 90));
  for (int k : marked_) cv::circle(img, cv::Point2d(p(k, 0), p(k, 1)), 6, colour(k), cv::FILLED);
  cv::imwrite((dir_ / "set/rolled.png").string(), img);
  write_pts(dir_ / "set/rolled.pts", p);
  std::ofstream(dir_ / "rolled.txt") << "set/rolled.png\n";
  const FaceDataset data(dir_, dir_ / "rolled.txt", s, s, 200);
  const int S = 96;
  std::vector<float> pixels(3 * S * S), pts(2 * 68);
  AugmentOptions aug;
  aug.enabled = true;
  aug.upright = true;
  aug.mirror = false;
  aug.rotation_deg = aug.scale = aug.translation = aug.colour = 0;
  aug.blur_probability = aug.occlusion_probability = 0;
  std::mt19937 rng(0);
  data.sample(0, S, aug, rng, {0, 0, 0}, {1, 1, 1}, pixels.data(), pts.data());
  Points crop(68, 2);
  for (int k = 0; k < 68; ++k)
    crop.row(k) << pts[2 * static_cast<size_t>(k)], pts[2 * static_cast<size_t>(k) + 1];
  const int a = s.normalisation[0], b = s.normalisation[1];
  EXPECT_NEAR(crop(a, 1), crop(b, 1), 1e-3);
  const Eigen::RowVector2d lo = crop.colwise().minCoeff(), hi = crop.colwise().maxCoeff();
  EXPECT_NEAR(std::max(hi.x() - lo.x(), hi.y() - lo.y()), S / 1.25, 1e-3);
  EXPECT_NEAR(((lo + hi) / 2 - Eigen::RowVector2d(S / 2.0, S / 2.0)).norm(), 0, 1e-3);
  // Each crop point is the level face scaled about the crop centre: distances keep their ratios.
  const Eigen::RowVector2d llo = level.colwise().minCoeff(), lhi = level.colwise().maxCoeff();
  const double f = (S / 1.25) / std::max(lhi.x() - llo.x(), lhi.y() - llo.y());
  for (int k = 0; k < 68; ++k)
    EXPECT_NEAR(
        (crop.row(k) - (Eigen::RowVector2d(S / 2.0, S / 2.0) + f * (level.row(k) - (llo + lhi) / 2))).norm(),
        0, 1e-3)
        << k;
  // Without `upright` the crop keeps the roll.
  aug.upright = false;
  data.sample(0, S, aug, rng, {0, 0, 0}, {1, 1, 1}, pixels.data(), pts.data());
  EXPECT_NEAR(std::atan2(pts[2 * static_cast<size_t>(b) + 1] - pts[2 * static_cast<size_t>(a) + 1],
                         pts[2 * static_cast<size_t>(b)] - pts[2 * static_cast<size_t>(a)]),
              roll + std::atan2(level(b, 1) - level(a, 1), level(b, 0) - level(a, 0)), 1e-3);
  // With the jitter (mirror image included) the dots stay under their points.
  aug.upright = true;
  aug.mirror = true;
  aug.rotation_deg = 15;
  aug.scale = 0.15;
  aug.translation = 0.05;
  for (int trial = 0; trial < 8; ++trial) {
    Affine2 map;
    data.sample(0, S, aug, rng, {0, 0, 0}, {1, 1, 1}, pixels.data(), pts.data(), &map);
    const bool flip = map.leftCols<2>().determinant() < 0;
    for (int k : marked_) {
      const int source = flip ? s.mirror[static_cast<size_t>(k)] : k;
      const int x = static_cast<int>(std::lround(pts[2 * static_cast<size_t>(k)]));
      const int y = static_cast<int>(std::lround(pts[2 * static_cast<size_t>(k) + 1]));
      if (x < 1 || y < 1 || x >= S - 1 || y >= S - 1) continue;
      for (int ch = 0; ch < 3; ++ch)
        EXPECT_NEAR(pixels[static_cast<size_t>(ch * S * S + y * S + x)] * 255.0, colour(source)[2 - ch], 12.0)
            << "trial " << trial << " point " << k;
    }
  }
}

TEST_F(SyntheticFaces, DownscaledRecordsKeepTheirScale) {
  const Scheme s = find_scheme("300w68");
  const FaceDataset full(dir_, dir_ / "list.txt", s, s, 100000), small(dir_, dir_ / "list.txt", s, s, 100);
  for (size_t f = 0; f < 3; ++f) {
    // The face as written in SetUp, in the photo's pixels.
    Points p = s.mean_face.points * (0.8 + 0.1 * static_cast<double>(f));
    p.rowwise() += Eigen::RowVector2d(30 + 10 * static_cast<double>(f), 40 - 5 * static_cast<double>(f));
    const double side = (p.colwise().maxCoeff() - p.colwise().minCoeff()).maxCoeff();
    ASSERT_GT(side, 100.0);
    EXPECT_DOUBLE_EQ(full.record(f).scale, 1.0);
    EXPECT_NEAR(small.record(f).scale, 100.0 / side, 1e-9);
    EXPECT_NEAR((small.record(f).points / small.record(f).scale - p).cwiseAbs().maxCoeff(), 0.0, 1e-3);
    EXPECT_NEAR(small.record(f).image.cols, 300 * small.record(f).scale, 1.0);
  }
}

TEST(FaceBoxes, BoxMapRecoversALinearDetectorToLandmarkRelation) {
  std::vector<Box> det, lm;
  for (int k = 0; k < 20; ++k) {
    const double w = 60 + 7 * k;
    const Box d{10.0 * k, 5.0 * k, w, w, 1};
    det.push_back(d);
    const double side = 0.9 * w;
    lm.push_back({d.cx() + 0.02 * w - side / 2, d.cy() + 0.1 * w - side / 2, side, side, 0});
  }
  const BoxMap m = BoxMap::fit(det, lm);
  EXPECT_NEAR(m.dx, 0.02, 1e-12);
  EXPECT_NEAR(m.dy, 0.1, 1e-12);
  EXPECT_NEAR(m.scale, 0.9, 1e-12);
  const Box a = m.apply(det[3]);
  EXPECT_NEAR(a.w, 0.9 * det[3].w, 1e-9);
  EXPECT_NEAR(a.cx(), lm[3].cx(), 1e-9);
}

TEST(FaceBoxes, LandmarkBoxAndIoU) {
  Points p(3, 2);
  p << 1, 2, 5, 3, 3, 10;
  const Box b = landmark_box(p);
  EXPECT_DOUBLE_EQ(b.x, 1);
  EXPECT_DOUBLE_EQ(b.y, 2);
  EXPECT_DOUBLE_EQ(b.w, 4);
  EXPECT_DOUBLE_EQ(b.h, 8);
  EXPECT_DOUBLE_EQ(iou(b, b), 1.0);
  EXPECT_DOUBLE_EQ(iou({0, 0, 2, 2, 0}, {1, 0, 2, 2, 0}), 2.0 / 6.0);
  EXPECT_DOUBLE_EQ(iou({0, 0, 1, 1, 0}, {5, 5, 1, 1, 0}), 0.0);
}

// The calibration is subtracted from every prediction: a fresh model predicts the synthetic faces exactly
// (see below), so with a direct offset of (0.5, −0.25) input-crop pixels its landmarks are off by exactly
// minus that, converted to each record's pixels by the crop scale (side 1.25 × the landmark box).
TEST_F(SyntheticFaces, CalibrationOffsetsMoveThePredictions) {
  const Scheme s68 = find_scheme("300w68");
  const FaceDataset data(dir_, dir_ / "list.txt", s68, s68, 200);
  AlignerConfig c = testing::tiny_config(Head::Coordinates);
  c.calibration.direct = {0.5, -0.25};
  Aligner model(c, s68);
  const EvalResult r = evaluate(model, data, nullptr, 32, false, 0);
  for (size_t i = 0; i < data.size(); ++i) {
    const Points truth = data.target_points(i);
    const Box b = landmark_box(truth);
    const double to_record = 1.25 * std::max(b.w, b.h) / c.input_size;
    const Eigen::RowVector2d mean_error = (r.predicted[i] - truth).colwise().mean();
    EXPECT_NEAR(mean_error.x(), -0.5 * to_record, 1e-3) << i;
    EXPECT_NEAR(mean_error.y(), 0.25 * to_record, 1e-3) << i;
  }
}

// The calibration's image-pixel part is an offset in the photo's own pixels, whatever the crop's scale:
// records reduced to a 120-px landmark box (a scale below 1, computed here from the .pts files) get it
// times that scale in their pixels; the direct view's and the mirrored view's parts average under
// test-time mirroring.
TEST_F(SyntheticFaces, CalibrationImagePartIsInThePhotosPixels) {
  const Scheme s68 = find_scheme("300w68");
  const FaceDataset data(dir_, dir_ / "list.txt", s68, s68, 120);
  AlignerConfig c = testing::tiny_config(Head::Coordinates);
  c.calibration.direct_image = {0.8, -0.4};
  c.calibration.mirrored = {-1, 0};  // a fresh model's mirrored view is 1 px left (see below)
  c.calibration.mirrored_image = {-0.2, 1.0};
  Aligner model(c, s68);
  const EvalResult direct = evaluate(model, data, nullptr, 32, false, 0);
  const EvalResult both = evaluate(model, data, nullptr, 32, true, 0);
  for (size_t i = 0; i < data.size(); ++i) {
    const Points photo = read_pts(dir_ / ("set/face" + std::to_string(i) + ".pts"));
    const double side = (photo.colwise().maxCoeff() - photo.colwise().minCoeff()).maxCoeff();
    const double scale = std::min(1.0, 120 / side);
    ASSERT_LT(scale, 0.8) << i;
    const Points truth = data.target_points(i);
    const Eigen::RowVector2d d = (direct.predicted[i] - truth).colwise().mean();
    EXPECT_NEAR(d.x(), -0.8 * scale, 1e-3) << i;
    EXPECT_NEAR(d.y(), 0.4 * scale, 1e-3) << i;
    const Eigen::RowVector2d b = (both.predicted[i] - truth).colwise().mean();
    EXPECT_NEAR(b.x(), -0.3 * scale, 1e-3) << i;
    EXPECT_NEAR(b.y(), -0.3 * scale, 1e-3) << i;
  }
}

// The averaged views (the alternating refinement) come in pairs at view_scale(k) × the landmark box:
// 1, 1, 0.9, 0.9, 1.1, 1.1, 0.8, 0.8, 1.2, 1.2. A fresh coordinate model predicts its mean face in whatever
// crop it sees (the synthetic faces are that mean face, so the first two views are exact, the mirrored
// one calibrated), and a crop scaled by s about the box's centre c puts each point p at c + s (p − c): the
// mean of the three views of `--refine 2` is c + (1 − 0.1 / 3)(p − c); a point without a mirror partner
// (300W-50's jaw point 2) has only the two direct views, c + (1 − 0.1 / 2)(p − c).
TEST_F(SyntheticFaces, AveragedViewsSeeCropsAtPairedScales) {
  const double want[] = {1, 1, 0.9, 0.9, 1.1, 1.1, 0.8, 0.8, 1.2, 1.2};
  for (int k = 0; k < 10; ++k) EXPECT_DOUBLE_EQ(view_scale(k), want[k]) << k;
  EXPECT_THROW(view_scale(-1), std::invalid_argument);
  const Scheme s68 = find_scheme("300w68");
  const Scheme s50 = find_scheme("300w50");
  const FaceDataset data(dir_, dir_ / "list.txt", s68, s50, 200);
  AlignerConfig c = testing::tiny_config(Head::Coordinates);
  c.calibration.mirrored = {-1, 0};
  Aligner coords(c, s50);
  const std::vector<int> partners = mirror_partners(s50);
  const EvalResult r = evaluate(coords, data, nullptr, 32, false, 2);
  ASSERT_EQ(r.predicted.size(), data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    const Points p = data.target_points(i);
    const Eigen::RowVector2d lo = p.colwise().minCoeff(), hi = p.colwise().maxCoeff(), centre = (lo + hi) / 2;
    for (Eigen::Index q = 0; q < p.rows(); ++q) {
      const double f = partners[static_cast<size_t>(q)] < 0 ? 1 - 0.1 / 2 : 1 - 0.1 / 3;
      const Eigen::RowVector2d expected = centre + f * (p.row(q) - centre);
      EXPECT_LT((r.predicted[i].row(q) - expected).norm(), 0.01) << "face " << i << " point " << q;
    }
  }
  // With one scale (the plain refinement, the last pass kept) the same model is exact.
  EXPECT_LT(evaluate(coords, data, nullptr, 32, false, 2, false).summary.mean, 1e-4);
}

// An ensemble (eval -m A -m B): each model sees the photos reduced to its own crop scale, every view is the
// mean of the models' predictions on the same crop in the photos' pixels. Two fresh coordinate models
// predict their mean face in whatever crop they see (the synthetic faces are that mean face), shifted by
// their calibration (which is taken off): 2 input-crop px at 64 px and −3 at 96 px, each 1.25 × the landmark
// box side / S record px, −δ and +δ in the photo. Alone each is off by its δ in closed form (a refinement
// crops around that, so it keeps it); together they are exact, also with a refinement pass (its mirrored view
// calibrated back by −1 px). Averaging raw record pixels of the two reductions would not be exact.
TEST_F(SyntheticFaces, EnsembleAveragesItsModelsInThePhotosPixels) {
  const Scheme s68 = find_scheme("300w68");
  const FaceDataset small(dir_, dir_ / "list.txt", s68, s68, 60),
      large(dir_, dir_ / "list.txt", s68, s68, 120);
  AlignerConfig ca = testing::tiny_config(Head::Coordinates), cb = ca;
  cb.input_size = 96;
  ca.calibration.direct = {2, 0};
  cb.calibration.direct = {-3, 0};
  ca.calibration.mirrored = cb.calibration.mirrored = {-1, 0};
  Aligner a(ca, s68), b(cb, s68);
  std::vector<EvalMember> both{{a, &small, nullptr}, {b, &large, nullptr}};
  std::vector<EvalMember> only_b{{b, &large, nullptr}};
  for (int refine : {0, 1}) {
    const EvalResult ra = evaluate(a, small, nullptr, 32, false, refine);
    const EvalResult rb = evaluate(only_b, 32, false, refine);
    const EvalResult r = evaluate(both, 32, false, refine);
    ASSERT_EQ(r.predicted.size(), small.size());
    for (size_t i = 0; i < small.size(); ++i) {
      ASSERT_NE(small.record(i).scale, large.record(i).scale);
      const auto shift = [&](const FaceDataset& d, double crop_px, int S) {
        const Points t = d.target_points(i);
        const Eigen::RowVector2d extent = t.colwise().maxCoeff() - t.colwise().minCoeff();
        return -crop_px * 1.25 * extent.maxCoeff() / S;  // record px; a calibration is taken off
      };
      // Alone: the first view's shift; a refinement's crop is centred on that view, so it keeps it.
      const double keep = 1.0;
      const Eigen::RowVector2d da = (ra.predicted[i] - small.target_points(i)).colwise().mean();
      const Eigen::RowVector2d db = (rb.predicted[i] - large.target_points(i)).colwise().mean();
      EXPECT_NEAR(da.x(), keep * shift(small, 2, 64), 0.01) << refine << " face " << i;
      EXPECT_NEAR(db.x(), keep * shift(large, -3, 96), 0.01) << refine << " face " << i;
      EXPECT_NEAR(da.y(), 0, 0.01);
      EXPECT_NEAR(db.y(), 0, 0.01);
      // Together: in the first member's records, exact.
      EXPECT_LT((r.predicted[i] - small.target_points(i)).cwiseAbs().maxCoeff(), 0.02)
          << refine << " face " << i;
    }
  }
  std::vector<EvalMember> none;
  EXPECT_THROW(evaluate(none), std::invalid_argument);
  const Scheme s50 = find_scheme("300w50");
  const FaceDataset sparse(dir_, dir_ / "list.txt", s68, s50, 60);
  Aligner c(ca, s50);
  std::vector<EvalMember> mixed{{a, &small, nullptr}, {c, &sparse, nullptr}};
  EXPECT_THROW(evaluate(mixed), std::invalid_argument);
}

// Refinement crops turn with the face (upright_box): a fresh coordinate model predicts its template in
// whatever crop it sees, and here the template is the mean face turned by θ about its box centre. The
// synthetic faces are the level mean face moved and scaled, so the first pass (the landmark box, not
// turned) gives the face turned by θ about its box centre c. The second crop is that prediction's upright
// box: turned by θ about c, the same side, so a second plain pass gives the face turned by 2θ about c,
// and the crop's mirror image (the template mirrored back is the mean face turned by −θ) gives the face
// itself: the two views averaged are (c + R(θ)(p − c) + p) / 2. Crops around the axis-aligned box of the
// first prediction would be larger and give neither.
TEST_F(SyntheticFaces, RefinementCropsTurnWithTheFace) {
  Scheme turned = find_scheme("300w68");
  const double theta = 0.2;
  Eigen::Matrix2d r;
  r << std::cos(theta), -std::sin(theta), std::sin(theta), std::cos(theta);
  {
    Points& m = turned.mean_face.points;
    const Eigen::RowVector2d mc = (m.colwise().minCoeff() + m.colwise().maxCoeff()) / 2;
    m = ((m.rowwise() - mc) * r.transpose()).rowwise() + mc;
  }
  const Scheme s68 = find_scheme("300w68");
  const FaceDataset data(dir_, dir_ / "list.txt", s68, s68, 200);
  AlignerConfig config = testing::tiny_config(Head::Coordinates);
  config.calibration.mirrored = {-1, 0};  // the mirror image maps x to S − 1 − x
  Aligner coords(config, turned);
  const EvalResult plain = evaluate(coords, data, nullptr, 32, false, 1, false);
  const EvalResult views = evaluate(coords, data, nullptr, 32, false, 1, true);
  ASSERT_EQ(plain.predicted.size(), data.size());
  const Eigen::Matrix2d r2 = r * r;
  for (size_t i = 0; i < data.size(); ++i) {
    const Points p = data.target_points(i);
    const Eigen::RowVector2d c = (p.colwise().minCoeff() + p.colwise().maxCoeff()) / 2;
    const Points twice = ((p.rowwise() - c) * r2.transpose()).rowwise() + c;
    const Points once = ((p.rowwise() - c) * r.transpose()).rowwise() + c;
    const Points mean = (once + p) / 2;
    for (Eigen::Index q = 0; q < p.rows(); ++q) {
      EXPECT_LT((plain.predicted[i].row(q) - twice.row(q)).norm(), 0.05) << "face " << i << " point " << q;
      EXPECT_LT((views.predicted[i].row(q) - mean.row(q)).norm(), 0.05) << "face " << i << " point " << q;
    }
  }
}

// Sparse to dense (issue 3): a 300W-50 model evaluated on 300W-68 faces. A fresh model has zero momenta
// (zero offsets for the coordinate head), so it predicts the mean face; the synthetic faces are the mean
// face moved and scaled and the crops come from their landmark box, so the prediction is exact. The LDDMM
// model's identity flow then carries the 18 points it does not predict exactly onto the annotation
// (A⁻¹ ∘ id ∘ A = id), while the coordinate model has only its 50 points: its NME_c on the 68 is what the
// missing points cost, computed here directly from the annotation.
TEST_F(SyntheticFaces, SparseToDenseEvaluationFlowsTheMissingPoints) {
  const Scheme s68 = find_scheme("300w68");
  const Scheme s50 = find_scheme("300w50");
  const FaceDataset data(dir_, dir_ / "list.txt", s68, s50, 200);
  AlignerConfig c = testing::tiny_config(Head::Lddmm);
  // A fresh model does not look at the image: on the mirrored crop (the tensor flipped, pixel column i
  // showing column S − 1 − i) it still predicts the mean face, which mirror_back puts 1 px left of the
  // face. The calibration of mirrored predictions corrects exactly that.
  c.calibration.mirrored = {-1, 0};
  Aligner lddmm(c, s50);
  c.head = Head::Coordinates;
  Aligner coords(c, s50);
  const EvalResult rl = evaluate(lddmm, data);
  const EvalResult rc = evaluate(coords, data, nullptr, 32, true, 1);  // mirroring and a refinement pass too
  EXPECT_LT(rl.summary.mean, 1e-4);
  EXPECT_LT(rc.summary.mean, 1e-4);
  EXPECT_LT(evaluate(coords, data, nullptr, 32, true, 0).summary.mean, 1e-4) << "flip";
  EXPECT_LT(evaluate(coords, data, nullptr, 32, false, 1).summary.mean, 1e-4) << "refine, mirrored 2nd pass";
  EXPECT_LT(evaluate(lddmm, data, nullptr, 32, true, 0).summary.mean, 1e-4) << "flip lddmm";
  {
    // Without the calibration the mirrored view is 1 px off: mirroring halves that, the alternating
    // refinement (second pass mirrored, the two averaged) too; the crop-only refinement is exact.
    AlignerConfig u = testing::tiny_config(Head::Coordinates);
    Aligner plain(u, s50);
    const double flip = evaluate(plain, data, nullptr, 32, true, 0).summary.mean;
    EXPECT_GT(flip, 1e-3);
    EXPECT_NEAR(evaluate(plain, data, nullptr, 32, false, 1).summary.mean, flip, 1e-6);
    EXPECT_LT(evaluate(plain, data, nullptr, 32, false, 1, false).summary.mean, 1e-4);
    EXPECT_LT(evaluate(plain, data, nullptr, 32, false, 0).summary.mean, 1e-4);
  }
  ASSERT_TRUE(rl.dense.has_value());
  ASSERT_TRUE(rc.dense.has_value());
  EXPECT_EQ(rl.dense->scheme, "300w68");
  ASSERT_EQ(rl.dense->nme.size(), data.size());
  EXPECT_LT(rl.dense->summary.mean, 1e-4);
  EXPECT_LT(rl.dense->mean_parts.overall, 1e-4);
  EXPECT_TRUE(rc.dense->nme.empty());  // a coordinate model has no point 1, 3, ... of the 68
  ASSERT_EQ(rc.dense->parts.size(), data.size());
  const auto parts50 = s50.point_parts(), parts68 = s68.point_parts();
  for (size_t i = 0; i < data.size(); ++i) {
    const Points& all = data.record(i).points;
    const PartErrors want = nme_curves(data.target_points(i), parts50, all, parts68,
                                       normalising_distance(all, s68.normalisation));
    EXPECT_GT(want.overall, 0.005);
    EXPECT_NEAR(rc.dense->parts[i].overall, want.overall, 1e-4);
  }
  // A 68-point model on 68-point faces has nothing to densify.
  const FaceDataset full(dir_, dir_ / "list.txt", s68, s68, 200);
  c.head = Head::Lddmm;
  Aligner m68(c, s68);
  EXPECT_FALSE(evaluate(m68, full).dense.has_value());
}

// Weight averaging against its closed form: with the weights held at w, k updates take an average a₀ to
// w + dᵏ (a₀ − w); integer buffers (batch-norm counters) follow the module; swapping twice restores both.
TEST(WeightAverage, MatchesTheClosedFormAndSwapsBack) {
  torch::nn::BatchNorm1d bn(3);
  const torch::Tensor a0 = bn->weight.detach().clone();  // ones
  WeightAverage avg(*bn, 0.9);
  const torch::Tensor w = torch::tensor({2.0F, -1.0F, 0.5F});
  {
    torch::NoGradGuard no_grad;
    bn->weight.copy_(w);
    bn->num_batches_tracked.fill_(7);
  }
  const int k = 5;
  for (int i = 0; i < k; ++i) avg.update(*bn);
  const torch::Tensor want = w + std::pow(0.9, k) * (a0 - w);
  const auto& v = avg.values();  // parameters first (weight, bias), then buffers
  ASSERT_EQ(v.size(), 5U);
  EXPECT_TRUE(torch::allclose(v[0], want, 1e-6, 1e-6)) << v[0] << want;
  EXPECT_TRUE(torch::allclose(v[1], torch::zeros(3)));
  EXPECT_EQ(v[4].item<int64_t>(), 7);
  avg.swap(*bn);
  EXPECT_TRUE(torch::allclose(bn->weight, want, 1e-6, 1e-6));
  EXPECT_TRUE(torch::equal(avg.values()[0], w));
  avg.swap(*bn);
  EXPECT_TRUE(torch::equal(bn->weight, w));
  EXPECT_TRUE(torch::allclose(avg.values()[0], want, 1e-6, 1e-6));
  EXPECT_THROW(WeightAverage(*bn, 1.0), std::invalid_argument);
}

// A short run with weight averaging, interrupted after one epoch and resumed: the logged validation NME is
// the one of ema.pt and the raw column the one of last.pt (each re-evaluated here from the files).
TEST_F(SyntheticFaces, TrainingWithWeightAveragingResumes) {
  TrainConfig cfg;
  cfg.model = testing::tiny_config(Head::Lddmm);
  cfg.train.epochs = 1;
  cfg.train.batch_size = 2;
  cfg.train.learning_rate = 1e-3;
  cfg.train.warmup_epochs = 0;
  cfg.train.ema_decay = 0.5;
  cfg.train.threads = 1;
  const auto out = dir_ / "run";
  const auto quiet = [](const std::string&) {};
  train(cfg, dir_, dir_ / "list.txt", dir_ / "list.txt", out, false, quiet);
  ASSERT_TRUE(std::filesystem::exists(out / "ema.pt"));
  cfg.train.epochs = 2;
  train(cfg, dir_, dir_ / "list.txt", dir_ / "list.txt", out, true, quiet);
  std::ifstream in(out / "log.csv");
  std::string header, line, last;
  std::getline(in, header);
  EXPECT_EQ(header, "epoch,lr,train_loss,val_nme,val_fr,val_auc,seconds,raw_val_nme");
  int rows = 0;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line, ++rows;
  }
  EXPECT_EQ(rows, 2);
  std::vector<double> f;
  std::stringstream ss(last);
  for (std::string cell; std::getline(ss, cell, ',');) f.push_back(std::stod(cell));
  ASSERT_EQ(f.size(), 8U);
  EXPECT_EQ(f[0], 2);
  const Scheme s = find_scheme("300w68");
  // The trainer caches images at the largest crop the augmentation can ask for.
  const FaceDataset val(dir_, dir_ / "list.txt", s, s,
                        static_cast<int>(cfg.model.input_size * (1 + cfg.train.augment.scale)));
  Aligner ema = load_model(out / "ema.pt");
  Aligner raw = load_model(out / "last.pt");
  EXPECT_NEAR(evaluate(ema, val).summary.mean, f[3], 1e-5);
  EXPECT_NEAR(evaluate(raw, val).summary.mean, f[7], 1e-5);
  EXPECT_NE(f[3], f[7]);
}

// Fine-tuning at another input size starts from the given model's weights (with lr 0 they stay put);
// a model of another width is refused.
TEST_F(SyntheticFaces, InitialisationAcceptsAnotherInputSizeOnly) {
  const Scheme s = find_scheme("300w68");
  // A calibrated start (a shipped model) is a valid start too; its offsets stay with it.
  AlignerConfig calibrated = testing::tiny_config(Head::Lddmm);
  calibrated.calibration.direct = {0.5, -0.25};
  Aligner start = save_random_start(calibrated);
  TrainConfig cfg = frozen_run(testing::tiny_config(Head::Lddmm));
  cfg.model.input_size = 96;
  fine_tune(cfg, "run", "start.pt");
  Aligner trained = load_model(dir_ / "run" / "last.pt");
  EXPECT_EQ(trained->config().input_size, 96);
  EXPECT_TRUE(trained->config().calibration.empty());
  const auto want = start->named_parameters();
  for (const auto& p : trained->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), want[p.key()])) << p.key();
  // The mean face is the one of the new input size, not the start's (it is a buffer, not a weight).
  const double scale = 96.0 / s.mean_face.frame;
  for (int i = 0; i < s.num_points; ++i) {
    EXPECT_NEAR(trained->template_points()[i][0].item<double>(), s.mean_face.points(i, 0) * scale, 1e-4);
    EXPECT_NEAR(trained->template_points()[i][1].item<double>(), s.mean_face.points(i, 1) * scale, 1e-4);
  }
  cfg.model.backbone.width = 6;
  EXPECT_THROW(fine_tune(cfg, "run2", "start.pt"), std::runtime_error);
}

// A model with the shape-indexed terms (local and cascade) can start from one without them: the shared
// weights are copied, the new terms start at zero, so the start's landmarks are kept exactly (lr 0 here).
TEST_F(SyntheticFaces, InitialisationAddsShapeIndexedTermsThatStartAtZero) {
  const AlignerConfig plain = testing::tiny_config(Head::Lddmm);
  Aligner start = save_random_start(plain);
  TrainConfig cfg = frozen_run(plain);
  cfg.model.local.channels = 4;
  cfg.model.cascade.channels = 3;
  fine_tune(cfg, "run", "start.pt");
  Aligner trained = load_model(dir_ / "run" / "last.pt");
  EXPECT_EQ(trained->config().local.channels, 4);
  EXPECT_EQ(trained->config().cascade.channels, 3);
  EXPECT_EQ(trained->named_parameters()["local_weight"].abs().max().item<double>(), 0.0);
  EXPECT_EQ(trained->named_parameters()["cascade_weight"].abs().max().item<double>(), 0.0);
  // Training in train mode moved the batch-norm statistics (lr 0 keeps the weights only): give the start
  // the same statistics, then both must give the same landmarks.
  const auto want = start->named_parameters();
  for (const auto& p : trained->named_parameters())
    if (want.contains(p.key())) {
      EXPECT_TRUE(torch::equal(p.value(), want[p.key()])) << p.key();
    } else {
      EXPECT_TRUE(p.key().rfind("local_", 0) == 0 || p.key().rfind("cascade_", 0) == 0) << p.key();
    }
  {
    torch::NoGradGuard no_grad;
    auto dst = start->named_buffers();
    for (const auto& b : trained->named_buffers())
      if (dst.contains(b.key())) dst[b.key()].copy_(b.value());
  }
  start->eval();
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({2, 3, plain.input_size, plain.input_size});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(trained->forward(x), start->forward(x), 1e-5, 1e-4));
  // The other way round (a model with a term as the start of one without it) is refused.
  save_model(trained, dir_ / "terms.pt", false);
  cfg.model.cascade.channels = 0;
  EXPECT_THROW(fine_tune(cfg, "run3", "terms.pt"), std::runtime_error);
  cfg.model.cascade.channels = 3;
  cfg.model.local.channels = 0;
  EXPECT_THROW(fine_tune(cfg, "run4", "terms.pt"), std::runtime_error);
}

// A model with the detail term at twice the input size starts from one without it (the backbone reading the
// crop halved), and `detail_only` trains the term alone: every other weight and every batch-norm statistic
// stays as the start has it (those layers run in inference mode), while the term's maps move off zero.
TEST_F(SyntheticFaces, DetailOnlyTrainsTheDetailTermAlone) {
  const AlignerConfig plain = testing::tiny_config(Head::Lddmm);
  Aligner start = save_random_start(plain);
  TrainConfig cfg = frozen_run(plain);
  cfg.model.input_size = 2 * plain.input_size;
  cfg.model.detail = {2, 8, 4, 2.0 / cfg.model.input_size};
  cfg.train.learning_rate = 1e-2;
  cfg.train.detail_only = true;
  fine_tune(cfg, "detail", "start.pt");
  Aligner trained = load_model(dir_ / "detail" / "last.pt");
  EXPECT_EQ(trained->config().detail.factor, 2);
  EXPECT_GT(trained->named_parameters()["detail_weight"].abs().max().item<double>(), 1e-4);
  const auto want = start->named_parameters();
  for (const auto& p : trained->named_parameters())
    if (want.contains(p.key())) {
      EXPECT_TRUE(torch::equal(p.value(), want[p.key()])) << p.key();
    } else {
      EXPECT_EQ(p.key().rfind("detail_", 0), 0U) << p.key();
    }
  const auto want_b = start->named_buffers();
  int compared = 0;
  for (const auto& b : trained->named_buffers())
    if (want_b.contains(b.key()) && b.key() != "template") {
      EXPECT_TRUE(torch::equal(b.value(), want_b[b.key()])) << b.key();
      ++compared;
    }
  EXPECT_GT(compared, 10);  // the batch norms' statistics and counters
  // Without the term the same settings train the whole network (the weights move).
  cfg.train.detail_only = false;
  cfg.model.detail.patch = 0;
  fine_tune(cfg, "whole", "start.pt");
  Aligner whole = load_model(dir_ / "whole" / "last.pt");
  EXPECT_FALSE(torch::equal(whole->named_parameters()["fc.weight"], want["fc.weight"]));
  // detail_only on a model without the term is refused.
  cfg.train.detail_only = true;
  EXPECT_THROW(fine_tune(cfg, "none", "start.pt"), std::runtime_error);
}

// `refine_only` trains the refine term alone on a start that has the detail term: every other weight (the
// detail term's included) and every batch-norm statistic stays as the start has it, the refine maps move.
TEST_F(SyntheticFaces, RefineOnlyTrainsTheRefineTermAlone) {
  AlignerConfig with_detail = testing::tiny_config(Head::Lddmm);
  with_detail.input_size = 2 * with_detail.input_size;
  with_detail.detail = {2, 8, 4, 2.0 / with_detail.input_size};
  Aligner start = save_random_start(with_detail);
  TrainConfig cfg = frozen_run(with_detail);
  cfg.model.refine = {1, 8, 3, 1.0 / with_detail.input_size};
  cfg.train.learning_rate = 1e-2;
  cfg.train.refine_only = true;
  fine_tune(cfg, "refine", "start.pt");
  Aligner trained = load_model(dir_ / "refine" / "last.pt");
  EXPECT_GT(trained->named_parameters()["refine_weight"].abs().max().item<double>(), 1e-4);
  const auto want = start->named_parameters();
  for (const auto& p : trained->named_parameters())
    if (want.contains(p.key())) {
      EXPECT_TRUE(torch::equal(p.value(), want[p.key()])) << p.key();
    } else {
      EXPECT_EQ(p.key().rfind("refine_", 0), 0U) << p.key();
    }
  const auto want_b = start->named_buffers();
  for (const auto& b : trained->named_buffers())
    if (want_b.contains(b.key()) && b.key() != "template") {
      EXPECT_TRUE(torch::equal(b.value(), want_b[b.key()])) << b.key();
    }
  // refine_only without the term, or with detail_only, is refused.
  cfg.train.detail_only = true;
  EXPECT_THROW(fine_tune(cfg, "both", "start.pt"), std::runtime_error);
  cfg.train.detail_only = false;
  cfg.model.refine.patch = 0;
  EXPECT_THROW(fine_tune(cfg, "none", "start.pt"), std::runtime_error);
}

// A deeper backbone (more modules in a stage, more blocks in a branch) can start from a smaller one: the
// shared weights are copied, every new block and module starts as the identity (the last batch norm of each
// new residual and fusion path scaled by 0), so the start's landmarks are kept exactly (lr 0 here); the
// new parts are trainable from there (their scales get a gradient).
TEST_F(SyntheticFaces, InitialisationGrowsTheBackboneFromTheStartsOutput) {
  const AlignerConfig small = testing::tiny_config(Head::Lddmm);  // modules 1, 1, 1 of 1 block
  Aligner start = save_random_start(small);
  {
    // Scales away from 1 and shifted statistics, so that a new part left at its default is not the identity.
    torch::NoGradGuard no_grad;
    torch::manual_seed(5);
    for (auto& p : start->parameters()) p.add_(0.05 * torch::randn_like(p));
    // Batch counters no run here reaches: a copied module's statistics must be the start's, not defaults.
    for (auto& b : start->named_buffers())
      if (b.key().find("num_batches_tracked") != std::string::npos) b.value().fill_(1000);
    save_model(start, dir_ / "start.pt", false);
  }
  AlignerConfig big = small;
  big.backbone.modules = {2, 1, 3};
  big.backbone.blocks = 2;
  EXPECT_TRUE(grows(small.backbone, big.backbone));
  EXPECT_FALSE(grows(big.backbone, small.backbone));
  TrainConfig cfg = frozen_run(big);
  fine_tune(cfg, "run", "start.pt");
  Aligner trained = load_model(dir_ / "run" / "last.pt");
  EXPECT_EQ(trained->config().backbone.modules, big.backbone.modules);
  const auto want = start->named_parameters();
  int zeroed = 0;
  for (const auto& p : trained->named_parameters()) {
    if (want.contains(p.key())) {
      EXPECT_TRUE(torch::equal(p.value(), want[p.key()])) << p.key();
    } else if (p.key().size() > 7 && p.key().compare(p.key().size() - 7, 7, ".weight") == 0 &&
               p.value().abs().max().item<double>() == 0.0) {
      ++zeroed;  // a new batch norm's scale (new convolutions have random weights, new shifts are 0 anyway)
    }
  }
  // New blocks: stage 2 module 0 (2 branches) and its new module 1 (2 × 2), stage 3 module 0 (3), stage 4
  // module 0 (4) and its new modules 1, 2 (2 × 4 × 2): 2 + 4 + 3 + 4 + 16 = 29 residual scales; fusion paths
  // of the new modules: 2 in stage 2, 12 + 12 in stage 4 = 26.
  EXPECT_EQ(zeroed, 29 + 26);
  {
    torch::NoGradGuard no_grad;
    auto dst = start->named_buffers();
    for (const auto& b : trained->named_buffers())
      if (dst.contains(b.key())) dst[b.key()].copy_(b.value());
  }
  start->eval();
  trained->eval();
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({2, 3, small.input_size, small.input_size});
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor a = trained->forward(x), b = start->forward(x);
    EXPECT_GT((a - trained->template_points()).abs().max().item<double>(), 0.05);  // not the mean face
    EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-4)) << (a - b).abs().max().item<double>();
  }
  // The grown parts learn: a loss on the landmarks gives their zeroed scales a gradient.
  trained->train();
  trained->forward(x).square().sum().backward();
  const auto grads = trained->named_parameters();
  const torch::Tensor g = grads["backbone.stage4.2.branches.0.1.bn2.weight"].grad();
  ASSERT_TRUE(g.defined());
  EXPECT_GT(g.abs().max().item<double>(), 0.0);
  // Grown with a scale: each new module starts as a copy of the one before it in its stage (each new block
  // of an old module, of the block before it), its residual and fusion outputs × the scale, so near the start
  // and nearer for a smaller scale (about linearly).
  double off[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    TrainConfig scaled = frozen_run(big);
    scaled.train.grow_scale = k == 0 ? 0.1 : 0.01;
    const std::string run = "scaled" + std::to_string(k);
    fine_tune(scaled, run, "start.pt");
    Aligner copy = load_model(dir_ / run / "last.pt");
    auto q = copy->named_parameters();
    const double sc = scaled.train.grow_scale;
    const auto near = [](const torch::Tensor& u, const torch::Tensor& v) {
      return torch::allclose(u, v, 1e-6, 1e-7);
    };
    // Stage 4's module 2 copies module 0 (module 1 is new too, also a copy of module 0).
    EXPECT_TRUE(near(q["backbone.stage4.2.branches.3.1.conv1.weight"],
                     want["backbone.stage4.0.branches.3.0.conv1.weight"]));
    EXPECT_TRUE(near(q["backbone.stage4.2.branches.3.1.bn2.weight"],
                     sc * want["backbone.stage4.0.branches.3.0.bn2.weight"]));
    // Branch 0 → 3 is three strided convolutions (conv, norm, relu, conv, norm, relu, conv, norm): the
    // last norm (7) scaled, the others (1, 4) copied.
    EXPECT_TRUE(
        near(q["backbone.stage4.2.fuse.3.0.7.weight"], sc * want["backbone.stage4.0.fuse.3.0.7.weight"]));
    EXPECT_TRUE(near(q["backbone.stage4.2.fuse.3.0.4.weight"], want["backbone.stage4.0.fuse.3.0.4.weight"]));
    EXPECT_TRUE(near(q["backbone.stage4.2.fuse.3.0.1.weight"], want["backbone.stage4.0.fuse.3.0.1.weight"]));
    // An old module's new block copies the block before it; the old block is unchanged.
    EXPECT_TRUE(near(q["backbone.stage3.0.branches.2.1.conv2.weight"],
                     want["backbone.stage3.0.branches.2.0.conv2.weight"]));
    EXPECT_TRUE(near(q["backbone.stage3.0.branches.2.1.bn2.bias"],
                     sc * want["backbone.stage3.0.branches.2.0.bn2.bias"]));
    // The copies' statistics are the copied module's as trained (the start's counter, plus this run's steps).
    const auto buffers = copy->named_buffers();
    EXPECT_EQ(buffers["backbone.stage4.2.branches.3.1.bn1.num_batches_tracked"].item<int64_t>(),
              buffers["backbone.stage4.0.branches.3.0.bn1.num_batches_tracked"].item<int64_t>());
    EXPECT_GT(buffers["backbone.stage4.2.branches.3.1.bn1.num_batches_tracked"].item<int64_t>(), 1000);
    EXPECT_TRUE(
        near(q["backbone.stage3.0.branches.2.0.bn2.bias"], want["backbone.stage3.0.branches.2.0.bn2.bias"]));
    {
      torch::NoGradGuard no_grad;
      auto dst = start->named_buffers();
      for (const auto& b : copy->named_buffers())
        if (dst.contains(b.key())) dst[b.key()].copy_(b.value());
      copy->eval();
      off[k] = (copy->forward(x) - start->forward(x)).abs().max().item<double>();
    }
  }
  EXPECT_GT(off[1], 0.0);
  EXPECT_GT(off[1] / off[0], 0.03) << off[0] << " " << off[1];
  EXPECT_LT(off[1] / off[0], 0.3) << off[0] << " " << off[1];
  // A smaller backbone than the start, or another width, is refused.
  save_model(trained, dir_ / "big.pt", false);
  EXPECT_THROW(fine_tune(frozen_run(small), "run2", "big.pt"), std::runtime_error);
  AlignerConfig wide = big;
  wide.backbone.width = 6;
  EXPECT_FALSE(grows(small.backbone, wide.backbone));
  EXPECT_THROW(fine_tune(frozen_run(wide), "run3", "start.pt"), std::runtime_error);
}

// Reducing crops: a horizontal ramp f = x (pixel-centre coordinate) stays that ramp, sampled at the new
// pixel centres ((j + ½)·L/size), away from the borders (closed form of any symmetric filter).
TEST(Distillation, ResizedCropsKeepALinearRamp) {
  const int L = 96, size = 48;
  const torch::Tensor x = torch::arange(L, torch::kFloat32) + 0.5;
  const torch::Tensor ramp = x.view({1, 1, 1, L}).expand({2, 3, L, L}).contiguous();
  const torch::Tensor r = resize_crops(ramp, size);
  ASSERT_EQ(r.sizes(), (std::vector<int64_t>{2, 3, size, size}));
  const auto R = r.accessor<float, 4>();
  double worst = 0;
  for (int j = 3; j < size - 3; ++j)
    worst = std::max(worst, std::abs(R[1][2][size / 2][j] - (j + 0.5) * L / size));
  EXPECT_LT(worst, 1e-4);
  EXPECT_TRUE(torch::equal(resize_crops(ramp, L), ramp));
}

// A tiny 64-px teacher with perturbed weights and a crop-pixel calibration (direct (0.3, −0.2), mirrored
// (−0.9, 0.1)), in eval mode.
Aligner calibrated_teacher(const Scheme& s, uint64_t seed) {
  AlignerConfig tc = testing::tiny_config(Head::Lddmm);
  tc.calibration.direct = {0.3, -0.2};
  tc.calibration.mirrored = {-0.9, 0.1};
  Aligner teacher(tc, s);
  torch::manual_seed(seed);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : teacher->parameters()) p.add_(0.05 * torch::randn_like(p));
  }
  teacher->eval();
  return teacher;
}

// The targets against a by-hand double computation: the teacher's points on the crops and on their
// mirror images (point i taken from its mirror partner, x → T − 1 − x), each less the teacher's
// calibration, averaged, scaled from the teacher's frame to the crops' (pixel centres: x_L + ½ =
// (x_T + ½)·L/T) and blended with the annotation.
TEST(Distillation, TargetsBlendTheAnnotationWithTheTeachersMirroredLandmarks) {
  const Scheme s = find_scheme("300w68");
  Aligner teacher = calibrated_teacher(s, 5);  // 64 px
  const std::vector<int> partners = mirror_partners(s);
  for (const int L : {64, 128}) {
    const torch::Tensor images = torch::randn({2, 3, L, L});
    const torch::Tensor points = torch::rand({2, s.num_points, 2}) * L;
    const double w = 0.3;
    const torch::Tensor got = teacher_targets(teacher, images, points, w, true).to(torch::kFloat64);
    torch::NoGradGuard no_grad;
    const torch::Tensor in = resize_crops(images, 64);
    const torch::Tensor p = teacher->forward(in).to(torch::kFloat64);
    const torch::Tensor m = teacher->forward(in.flip({3})).to(torch::kFloat64);
    const auto P = p.accessor<double, 3>(), M = m.accessor<double, 3>();
    const torch::Tensor a = points.to(torch::kFloat64);
    const auto A = a.accessor<double, 3>();
    const auto G = got.accessor<double, 3>();
    double worst = 0, moved = 0;
    for (int b = 0; b < 2; ++b) {
      for (int i = 0; i < s.num_points; ++i) {
        const int k = partners[i];
        ASSERT_GE(k, 0);
        const double tx = 0.5 * (P[b][i][0] - 0.3 + (63 - M[b][k][0]) + 0.9),
                     ty = 0.5 * (P[b][i][1] + 0.2 + M[b][k][1] - 0.1);
        const double ex = (1 - w) * A[b][i][0] + w * ((tx + 0.5) * L / 64 - 0.5),
                     ey = (1 - w) * A[b][i][1] + w * ((ty + 0.5) * L / 64 - 0.5);
        worst = std::max({worst, std::abs(G[b][i][0] - ex), std::abs(G[b][i][1] - ey)});
        moved = std::max(moved, std::abs(P[b][i][0] - (63 - M[b][k][0])));  // the mirror pass matters
      }
    }
    EXPECT_LT(worst, 1e-3) << L;
    EXPECT_GT(moved, 1e-2) << L;
  }
}

// A teacher's calibration in image pixels reaches the targets through each crop's map (here a scale, a
// rotation, and a mirrored crop, whose offset lies in the mirrored photo's axes): the targets move by
// −weight × (each view's A·a, the two views averaged), computed here by hand from the maps.
TEST(Distillation, TeachersImagePixelCalibrationGoesThroughEachCropsMap) {
  const Scheme s = find_scheme("300w68");
  Aligner teacher(testing::tiny_config(Head::Lddmm), s);  // 64 px
  torch::manual_seed(6);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : teacher->parameters()) p.add_(0.05 * torch::randn_like(p));
  }
  teacher->eval();
  Calibration cal;
  cal.direct_image = {0.6, -0.3};
  cal.mirrored_image = {-1.0, 0.4};
  const int L = 96;
  const torch::Tensor images = torch::randn({2, 3, L, L});
  const torch::Tensor points = torch::rand({2, s.num_points, 2}) * L;
  Affine2 m0, m1;
  m0 << 0.4, 0.0, 5.0, 0.0, 0.4, 7.0;  // scale 0.4
  const double c = 0.3 * std::cos(0.5), sn = 0.3 * std::sin(0.5);
  m1 << -c, -sn, 90.0, -sn, c, 3.0;  // scale 0.3, rotated, mirrored
  const torch::Tensor maps = image_to_crop_maps({m0, m1}, {1.0, 0.5});
  const double w = 0.4;
  const torch::Tensor without = teacher_targets(teacher, images, points, w, true).to(torch::kFloat64);
  teacher->set_calibration(cal);
  const torch::Tensor with = teacher_targets(teacher, images, points, w, true, maps).to(torch::kFloat64);
  EXPECT_THROW(teacher_targets(teacher, images, points, w, true), std::invalid_argument);
  const Eigen::Vector2d a = 0.5 * (Eigen::Vector2d(0.6, -0.3) + Eigen::Vector2d(-1.0, 0.4));
  // Crop 0: 0.4·a. Crop 1: record scale 0.5, the map's rotation with its reflection undone.
  Eigen::Matrix2d r1;
  r1 << c, -sn, sn, c;
  const Eigen::Vector2d want[2] = {0.4 * a, 0.5 * r1 * a};
  const torch::Tensor d = (with - without).mean(1);
  for (int b = 0; b < 2; ++b) {
    EXPECT_NEAR(d[b][0].item<double>(), -w * want[b].x(), 1e-4) << b;
    EXPECT_NEAR(d[b][1].item<double>(), -w * want[b].y(), 1e-4) << b;
  }
}

// An ensemble of two teachers of different input sizes (64 and 96 px) on 96-px crops, without mirroring:
// each one's landmarks (less its calibration) scaled from its frame to the crops', averaged, blended
// with the annotation, by hand in double. And the list of a `teacher` setting.
TEST(Distillation, AnEnsembleAveragesItsTeachersLandmarks) {
  const Scheme s = find_scheme("300w68");
  std::vector<Aligner> teachers;
  torch::manual_seed(6);
  for (const int T : {64, 96}) {
    AlignerConfig tc = testing::tiny_config(Head::Lddmm);
    tc.input_size = T;
    tc.calibration.direct = {T == 64 ? 0.4 : -0.7, 0.2};
    Aligner t(tc, s);
    {
      torch::NoGradGuard no_grad;
      for (auto& p : t->parameters()) p.add_(0.05 * torch::randn_like(p));
    }
    t->eval();
    teachers.push_back(t);
  }
  const int L = 96;
  const torch::Tensor images = torch::randn({2, 3, L, L});
  const torch::Tensor points = torch::rand({2, s.num_points, 2}) * L;
  const double w = 0.6;
  const torch::Tensor got = teacher_targets(teachers, images, points, w, false).to(torch::kFloat64);
  torch::NoGradGuard no_grad;
  const torch::Tensor p64 = teachers[0]->forward(resize_crops(images, 64)).to(torch::kFloat64);
  const torch::Tensor p96 = teachers[1]->forward(images).to(torch::kFloat64);
  const auto P = p64.accessor<double, 3>(), Q = p96.accessor<double, 3>();
  const torch::Tensor a = points.to(torch::kFloat64);
  const auto A = a.accessor<double, 3>();
  const auto G = got.accessor<double, 3>();
  double worst = 0, apart = 0;
  for (int b = 0; b < 2; ++b) {
    for (int i = 0; i < s.num_points; ++i) {
      const double cx[2] = {0.4, -0.7}, cy = 0.2;
      const double x64 = (P[b][i][0] - cx[0] + 0.5) * L / 64 - 0.5,
                   y64 = (P[b][i][1] - cy + 0.5) * L / 64 - 0.5;
      const double x96 = Q[b][i][0] - cx[1], y96 = Q[b][i][1] - cy;
      const double ex = (1 - w) * A[b][i][0] + w * 0.5 * (x64 + x96),
                   ey = (1 - w) * A[b][i][1] + w * 0.5 * (y64 + y96);
      worst = std::max({worst, std::abs(G[b][i][0] - ex), std::abs(G[b][i][1] - ey)});
      apart = std::max(apart, std::abs(x64 - x96));  // the two teachers disagree: the mean matters
    }
  }
  EXPECT_LT(worst, 1e-3);
  EXPECT_GT(apart, 1e-2);
  EXPECT_EQ(split_teachers("a.pt,,b.pt"), (std::vector<std::string>{"a.pt", "b.pt"}));
  EXPECT_TRUE(split_teachers("").empty());
  std::vector<Aligner> none;
  EXPECT_THROW(teacher_targets(none, images, points, w, false), std::invalid_argument);
}

// Views resampled from crops against OpenCV's warpAffine of the same image with the same map (the
// view's pixel q reads the crop at A·(q, 1), pixel centres at integers, zero outside), a turned and
// scaled map whose view leaves the crop at one corner.
TEST(Distillation, ResampledViewsMatchOpenCVsWarp) {
  const int L = 80, T = 56;
  cv::Mat img(L, L, CV_32FC1);
  cv::randu(img, 0.0f, 1.0f);
  const double f = 1.3, a = 0.4, co = f * std::cos(a), si = f * std::sin(a);
  cv::Mat A = (cv::Mat_<double>(2, 3) << co, -si, 30.0, si, co, -4.0);
  cv::Mat want;
  cv::warpAffine(img, want, A, cv::Size(T, T), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT,
                 cv::Scalar(0));
  const torch::Tensor images = torch::from_blob(img.ptr<float>(), {1, 1, L, L}, torch::kFloat32)
                                   .clone()
                                   .expand({2, 1, L, L})
                                   .contiguous();
  torch::Tensor maps = torch::zeros({2, 2, 3}, torch::kFloat64);
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c) maps[0][r][c] = maps[1][r][c] = A.at<double>(r, c);
  const torch::Tensor got = resample_crops(images, maps, T);
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{2, 1, T, T}));
  const auto G = got.accessor<float, 4>();
  double worst = 0;
  int inside = 0, outside = 0;
  for (int y = 0; y < T; ++y)
    for (int x = 0; x < T; ++x) {
      const double sx = co * x - si * y + 30.0, sy = si * x + co * y - 4.0;
      if (sx < 1 || sy < 1 || sx > L - 2 || sy > L - 2) {  // OpenCV and grid_sample differ at the border
        if (sx < -1 || sy < -1 || sx > L || sy > L) {
          EXPECT_EQ(G[1][0][y][x], 0.0f);
          ++outside;
        }
        continue;
      }
      worst = std::max(worst, static_cast<double>(std::abs(G[1][0][y][x] - want.at<float>(y, x))));
      ++inside;
    }
  EXPECT_LT(worst, 0.04);  // OpenCV's bilinear weights are fixed-point, 1/32
  EXPECT_GT(inside, T * T / 3);
  EXPECT_GT(outside, 10);
  EXPECT_THROW(resample_crops(images, maps.narrow(2, 0, 2), T), std::invalid_argument);
}

// A teacher refining on the crop (teacher_refine 2), by hand in double: the first pass on the crop, then
// a mirrored pass on the view of the first pass's upright box × 1.25 (the eye axis's angle, the box of the
// points turned upright), then a direct pass on the view of the two passes' mean × 1.25 × 0.9; each pass
// less the teacher's calibration, mapped back to the crop, the three averaged and blended.
TEST(Distillation, RefiningTeacherAveragesItsViewsOfTheCrop) {
  const Scheme s = find_scheme("300w68");
  Aligner teacher = calibrated_teacher(s, 7);  // 64 px
  const std::vector<int> partners = mirror_partners(s);
  const int L = 96, T = 64, B = 2;
  const torch::Tensor images = torch::randn({B, 3, L, L});
  const torch::Tensor points = torch::rand({B, s.num_points, 2}) * L;
  const double w = 0.5;
  std::vector<Aligner> teachers{teacher};
  const torch::Tensor got = teacher_targets(teachers, images, points, w, true, {}, 2).to(torch::kFloat64);
  torch::NoGradGuard no_grad;
  const int n = s.num_points;
  // Pass 0.
  const torch::Tensor p0 = teacher->forward(resize_crops(images, T)).to(torch::kFloat64);
  std::vector<Eigen::MatrixXd> sum(B, Eigen::MatrixXd(n, 2));
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < n; ++i) {
      sum[b](i, 0) = (p0[b][i][0].item<double>() - 0.3 + 0.5) * L / T - 0.5;
      sum[b](i, 1) = (p0[b][i][1].item<double>() + 0.2 + 0.5) * L / T - 0.5;
    }
  for (int k = 1; k <= 2; ++k) {
    torch::Tensor maps = torch::zeros({B, 2, 3}, torch::kFloat64);
    for (int b = 0; b < B; ++b) {
      const Eigen::MatrixXd m = sum[b] / k;
      const int e0 = s.normalisation[0], e1 = s.normalisation[1];
      double ax = m(e1, 0) - m(e0, 0), ay = m(e1, 1) - m(e0, 1);
      if (ax < 0) ax = -ax, ay = -ay;
      const double th = std::atan2(ay, ax), c = std::cos(th), sn = std::sin(th);
      const double mx = m.col(0).mean(), my = m.col(1).mean();
      double lo[2] = {1e9, 1e9}, hi[2] = {-1e9, -1e9};
      for (int i = 0; i < n; ++i) {  // turned upright about the mean: u = R(−θ)(p − mean)
        const double dx = m(i, 0) - mx, dy = m(i, 1) - my;
        const double u[2] = {c * dx + sn * dy, -sn * dx + c * dy};
        for (int a = 0; a < 2; ++a) lo[a] = std::min(lo[a], u[a]), hi[a] = std::max(hi[a], u[a]);
      }
      const double ux = (lo[0] + hi[0]) / 2, uy = (lo[1] + hi[1]) / 2;
      const double cx = mx + c * ux - sn * uy, cy = my + sn * ux + c * uy;
      const double side = std::max(hi[0] - lo[0], hi[1] - lo[1]) * 1.25 * (k == 2 ? 0.9 : 1.0);
      const double f = side / T;
      // view pixel q → crop: centre + R(θ)·(q − T/2)·f
      maps[b][0][0] = c * f, maps[b][0][1] = -sn * f, maps[b][0][2] = cx - f * (c - sn) * T / 2;
      maps[b][1][0] = sn * f, maps[b][1][1] = c * f, maps[b][1][2] = cy - f * (sn + c) * T / 2;
    }
    const torch::Tensor view = resample_crops(images, maps, T);
    const bool mirrored = k == 1;
    const torch::Tensor q = teacher->forward(mirrored ? view.flip({3}) : view).to(torch::kFloat64);
    for (int b = 0; b < B; ++b)
      for (int i = 0; i < n; ++i) {
        const int j = mirrored ? partners[i] : i;
        double x = q[b][j][0].item<double>(), y = q[b][j][1].item<double>();
        if (mirrored)
          x = T - 1 - x + 0.9, y -= 0.1;
        else
          x -= 0.3, y += 0.2;
        const auto M = maps.accessor<double, 3>();
        sum[b](i, 0) += M[b][0][0] * x + M[b][0][1] * y + M[b][0][2];
        sum[b](i, 1) += M[b][1][0] * x + M[b][1][1] * y + M[b][1][2];
      }
  }
  const torch::Tensor a = points.to(torch::kFloat64);
  const auto A = a.accessor<double, 3>();
  const auto G = got.accessor<double, 3>();
  const torch::Tensor one = teacher_targets(teachers, images, points, w, false).to(torch::kFloat64);
  double worst = 0, moved = 0;
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < n; ++i)
      for (int d = 0; d < 2; ++d) {
        const double e = (1 - w) * A[b][i][d] + w * sum[b](i, d) / 3;
        worst = std::max(worst, std::abs(G[b][i][d] - e));
        moved = std::max(moved, std::abs(G[b][i][d] - one[b][i][d].item<double>()));  // the views matter
      }
  EXPECT_LT(worst, 1e-3);
  EXPECT_GT(moved, 1e-2);
}

// A run with a teacher of another input size: crops are made at the larger size (96), the student gets
// them reduced to its 64 px; the run completes and validates as usual.
TEST_F(SyntheticFaces, TrainingWithALargerTeacherRuns) {
  AlignerConfig big = testing::tiny_config(Head::Lddmm);
  big.input_size = 96;
  save_random_start(big);
  TrainConfig cfg = frozen_run(testing::tiny_config(Head::Lddmm));
  cfg.train.teacher = (dir_ / "start.pt").string();
  cfg.train.teacher_weight = 0.5;
  train(cfg, dir_, dir_ / "list.txt", dir_ / "list.txt", dir_ / "run", false, [](const std::string&) {});
  Aligner trained = load_model(dir_ / "run" / "last.pt");
  EXPECT_EQ(trained->config().input_size, 64);
  std::ifstream csv(dir_ / "run" / "log.csv");
  std::string header, row;
  std::getline(csv, header);
  EXPECT_TRUE(static_cast<bool>(std::getline(csv, row)));
  // A blending weight outside [0, 1] is refused with a message.
  cfg.train.teacher_weight = 1.5;
  EXPECT_THROW(
      train(cfg, dir_, dir_ / "list.txt", dir_ / "list.txt", dir_ / "run2", false, [](const std::string&) {}),
      std::runtime_error);
}

// The crops of a batch may be made by several threads: each face has its own generator, so the batches are
// the same as with one thread (a slot filled from the wrong face or left empty would differ).
TEST_F(SyntheticFaces, LoaderWorkersGiveTheSameBatches) {
  const Scheme s = find_scheme("300w68");
  const FaceDataset data(dir_, dir_ / "list.txt", s, s, 200);
  AugmentOptions aug;
  aug.enabled = true;
  const auto batches = [&](int workers) {
    BatchLoader loader(data, 2, 64, aug, {0.5, 0.5, 0.5}, {0.25, 0.25, 0.25}, true, 7, workers);
    std::vector<BatchLoader::Batch> out;
    for (int epoch = 0; epoch < 2; ++epoch) {
      loader.start_epoch(epoch);
      BatchLoader::Batch b;
      while (loader.next(b)) out.push_back(b);
    }
    return out;
  };
  const auto one = batches(1), three = batches(3);
  ASSERT_EQ(one.size(), 4u);  // 3 faces in batches of 2, two epochs
  ASSERT_EQ(three.size(), one.size());
  for (size_t k = 0; k < one.size(); ++k) {
    EXPECT_EQ(one[k].indices, three[k].indices);
    EXPECT_TRUE(torch::equal(one[k].images, three[k].images)) << "batch " << k;
    EXPECT_TRUE(torch::equal(one[k].points, three[k].points)) << "batch " << k;
    EXPECT_GT(one[k].images.abs().sum().item<double>(), 0);
  }
}

// A time budget far below one epoch stops the run after its first epoch; a negative one is refused.
TEST_F(SyntheticFaces, TimeBudgetCutsTheEpochs) {
  TrainConfig cfg;
  cfg.model = testing::tiny_config(Head::Lddmm);
  cfg.train.epochs = 40;
  cfg.train.batch_size = 2;
  cfg.train.threads = 1;
  cfg.train.loader_threads = 2;
  cfg.train.time_budget_minutes = 1e-6;
  const auto out = dir_ / "budget";
  std::vector<std::string> lines;
  train(cfg, dir_, dir_ / "list.txt", dir_ / "list.txt", out, false,
        [&](const std::string& l) { lines.push_back(l); });
  std::ifstream in(out / "log.csv");
  std::string line;
  int rows = -1;  // the header
  while (std::getline(in, line)) rows += line.empty() ? 0 : 1;
  EXPECT_EQ(rows, 1);
  bool told = false;
  for (const auto& l : lines) told |= l.find("1 epochs instead of 40") != std::string::npos;
  EXPECT_TRUE(told);
  cfg.train.time_budget_minutes = -1;
  EXPECT_THROW(train(cfg, dir_, dir_ / "list.txt", dir_ / "list.txt", dir_ / "budget2", false,
                     [](const std::string&) {}),
               std::runtime_error);
}
}  // namespace
}  // namespace lddmm
