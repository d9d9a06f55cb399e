// The tracking pipeline's stages, each against an independent expectation: the detector's scan plan (a
// closed form), association (a hand-built case), the confidence (a hand-built case; a clean crop against one
// moved off the face), the detection thread (the same boxes as a direct scan), the thorough scan on a
// generated wide shot (its true faces), and the tracker on that shot.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <opencv2/videoio.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "lddmm/flow/metrics.hpp"
#include "lddmm/track/associate.hpp"
#include "lddmm/track/candidates.hpp"
#include "lddmm/track/clip.hpp"
#include "lddmm/track/confidence.hpp"
#include "lddmm/track/confidence_fit.hpp"
#include "lddmm/track/detect.hpp"
#include "lddmm/track/detect_worker.hpp"
#include "lddmm/track/engine.hpp"
#include "lddmm/track/landmark_io.hpp"
#include "lddmm/track/source.hpp"
#include "lddmm/track/tracker.hpp"
#include "scratch_dir.hpp"

namespace lddmm {
namespace {

namespace fs = std::filesystem;

TEST(Detect, PlanScalesTheFrameSoTheSmallestFaceFillsTheWindow) {
  const ScanPlan p = plan_min_face({1280, 720}, 40, 0);
  EXPECT_DOUBLE_EQ(p.scale, 2.0);  // 80-px window / 40-px face
  EXPECT_DOUBLE_EQ(p.min_face, 40.0);
  // Bounded: 1280·720·s² = 1e6 pixels, and the smallest face grows to 80 / s.
  const ScanPlan b = plan_min_face({1280, 720}, 40, 1e6);
  EXPECT_NEAR(1280.0 * 720.0 * b.scale * b.scale, 1e6, 1e-3);
  EXPECT_NEAR(b.min_face, 80 / std::sqrt(1e6 / (1280.0 * 720.0)), 1e-9);
  EXPECT_FALSE(plan_min_face({1280, 720}, 0, 0).enabled());
  // The quick scan: 1920 → 320 px is 1/6, so faces of 6 × 80 px; one upsampling halves that.
  EXPECT_DOUBLE_EQ(plan_width({1920, 1080}, 320, 0).min_face, 480.0);
  EXPECT_DOUBLE_EQ(plan_width({1920, 1080}, 320, 1).min_face, 240.0);
  EXPECT_DOUBLE_EQ(plan_width({300, 200}, 320, 0).scale, 1.0);  // never enlarged to the width
}

TEST(Detect, AScanCountsAMissOnlyForAFaceItCanSee) {
  const ScanPlan p = plan_min_face({640, 480}, 48, 0);
  EXPECT_TRUE(scan_sees(p, {100, 100, 60, 60, 0}, 0.1, {640, 480}));
  EXPECT_FALSE(scan_sees(p, {100, 100, 50, 50, 0}, 0, {640, 480}));    // under 1.1 × 48 px
  EXPECT_FALSE(scan_sees(p, {100, 100, 60, 60, 0}, 0.6, {640, 480}));  // turned 34° in the image
  EXPECT_FALSE(scan_sees(p, {600, 100, 60, 60, 0}, 0, {640, 480}));    // partly outside
  EXPECT_TRUE(scan_sees(p, {100, 100, 60, 60, 0}, 2 * M_PI + 0.1, {640, 480}));
}

TEST(Associate, TheBestPairGoesFirstWhateverTheOrderOfTracks) {
  // Track 0 overlaps box 0 by 0.667 and box 1 by 0.538; track 1 overlaps box 0 by 0.818, box 1 by 0.25.
  // Taking tracks in order would give box 0 to track 0 and leave track 1 without one.
  const std::vector<Box> tracks = {{0, 0, 100, 100, 0}, {30, 0, 100, 100, 0}};
  const std::vector<Box> boxes = {{20, 0, 100, 100, 0}, {-30, 0, 100, 100, 0}};
  EXPECT_NEAR(iou(tracks[1], boxes[0]), 90.0 / 110.0, 1e-12);
  EXPECT_EQ(associate(tracks, boxes), (std::vector<int>{1, 0}));
  EXPECT_EQ(associate({tracks[1], tracks[0]}, boxes), (std::vector<int>{0, 1}));
  EXPECT_EQ(associate(tracks, {{500, 500, 50, 50, 0}}), (std::vector<int>{-1, -1}));
  EXPECT_TRUE(associate({}, boxes).empty());
}

TEST(Detect, MergedScansKeepEachFaceOnce) {
  const std::vector<Box> merged =
      merge_boxes({{0, 0, 100, 100, 0.5}, {5, 5, 100, 100, 0.9}, {300, 0, 50, 50, 0.2}});
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_DOUBLE_EQ(merged[0].score, 0.9);
  EXPECT_DOUBLE_EQ(merged[1].x, 300);
}

TEST(Candidates, AWeakBoxIsLookedAtOnScheduleUntilItsLooksAreSpentOrAFaceCoversIt) {
  CandidateBoxes c(3, 2, 2);
  const auto none = [](const Box&) { return false; };
  c.add({100, 100, 50, 50, -0.7}, 10);
  c.add({105, 100, 50, 50, -0.5}, 10);  // the same place: not added
  EXPECT_EQ(c.size(), 1u);
  EXPECT_TRUE(c.due(12, none).empty());
  ASSERT_EQ(c.due(13, none).size(), 1u);  // frames 13 and 16, then spent
  EXPECT_TRUE(c.due(15, none).empty());
  const std::vector<Box> last = c.due(16, none);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_DOUBLE_EQ(last[0].x, 100);
  EXPECT_EQ(c.size(), 0u);
  // The best two of three are kept; one a face now covers is dropped without a look.
  c.add({0, 0, 50, 50, -0.9}, 0);
  c.add({200, 0, 50, 50, -0.6}, 0);
  c.add({400, 0, 50, 50, -0.8}, 0);
  EXPECT_EQ(c.size(), 2u);
  const std::vector<Box> due = c.due(3, [](const Box& b) { return b.x == 200; });
  ASSERT_EQ(due.size(), 1u);
  EXPECT_DOUBLE_EQ(due[0].x, 400);
}

TEST(Confidence, DisagreementIsTheMeanDistanceOverTheBoxSide) {
  Points a(3, 2), b(3, 2);
  a << 0, 0, 10, 0, 0, 5;  // box 10 × 5: side 10
  b << 3, 4, 10, 0, 0, 5;  // one point 5 px off: mean 5 / 3
  EXPECT_NEAR(view_disagreement(a, b), 5.0 / 3 / 10, 1e-12);
  EXPECT_TRUE(std::isinf(view_disagreement(a, Points(2, 2))));
  EXPECT_DOUBLE_EQ(confidence_of(0.0, 0.025), 1.0);
  EXPECT_DOUBLE_EQ(confidence_of(0.025, 0.025), 0.5);
  EXPECT_DOUBLE_EQ(confidence_of(0.05, 0.025), 0.2);
  EXPECT_DOUBLE_EQ(confidence_of(std::nan(""), 0.025), 0.0);
}

TEST(Confidence, ANewFaceGoesAtOneLowCheckATrackedOneAtTwoInARow) {
  EXPECT_EQ(check_verdict(0.5, 0.2, true, false), CheckVerdict::Keep);
  EXPECT_EQ(check_verdict(0.1, 0.2, true, false), CheckVerdict::LetGo);
  EXPECT_EQ(check_verdict(0.1, 0.2, false, false), CheckVerdict::CheckAgain);
  EXPECT_EQ(check_verdict(0.1, 0.2, false, true), CheckVerdict::LetGo);
  EXPECT_EQ(check_verdict(0.3, 0.2, false, true), CheckVerdict::Keep);  // a good check clears the doubt
  EXPECT_EQ(check_verdict(0.2, 0.2, false, false), CheckVerdict::Keep);
}

// The head's doubt asks for a check; only a check lets a face go.
TEST(Confidence, TheHeadsDoubtAsksForACheckAndTheCheckDecides) {
  const double nan = std::nan("");
  bool doubted = false;
  EXPECT_EQ(judge({0.9, nan}, 0.2, false, doubted), CheckVerdict::Keep);
  EXPECT_FALSE(doubted);
  EXPECT_EQ(judge({0.1, nan}, 0.2, false, doubted), CheckVerdict::CheckAgain);  // in doubt: not yet gone
  EXPECT_TRUE(doubted);
  EXPECT_EQ(judge({0.1, nan}, 0.2, false, doubted), CheckVerdict::CheckAgain);  // the head alone never drops
  EXPECT_EQ(judge({0.1, 0.5}, 0.2, false, doubted), CheckVerdict::Keep);        // the check clears it
  EXPECT_FALSE(doubted);
  EXPECT_EQ(judge({0.1, 0.1}, 0.2, false, doubted), CheckVerdict::LetGo);  // both low: gone at once
  doubted = false;
  EXPECT_EQ(judge({nan, 0.1}, 0.2, false, doubted), CheckVerdict::CheckAgain);  // no head: as check_verdict
  EXPECT_EQ(judge({nan, 0.1}, 0.2, false, doubted), CheckVerdict::LetGo);
  doubted = false;
  EXPECT_EQ(judge({0.9, 0.1}, 0.2, true, doubted), CheckVerdict::LetGo);  // a new face at one low check
  EXPECT_DOUBLE_EQ((FaceConfidence{0.7, 0.3}.reported()), 0.7);
  EXPECT_DOUBLE_EQ((FaceConfidence{nan, 0.3}.reported()), 0.3);
}

// Errors that are exactly exp(a · x + b): the fit gives a and b back (a tiny ridge), and its estimates.
TEST(ConfidenceFit, RidgeRegressionOfTheLogErrorRecoversAKnownLinearModel) {
  ConfidenceSamples s;
  std::mt19937 rng(5);
  std::normal_distribution<double> g(0, 1);
  const std::vector<double> a = {0.3, -0.2, 0.05};
  const double b = -3;
  for (int i = 0; i < 200; ++i) {
    std::vector<double> x = {g(rng) + 2, 3 * g(rng), g(rng) - 1};
    s.error.push_back(std::exp(a[0] * x[0] + a[1] * x[1] + a[2] * x[2] + b));
    s.features.push_back(x);
    s.kind.push_back(CropKind::Near);
  }
  const ConfidenceHead h = fit_confidence_head(s, 1e-9);
  ASSERT_EQ(h.weight.size(), 3u);
  for (size_t j = 0; j < 3; ++j) EXPECT_NEAR(h.weight[j], a[j], 1e-6);
  EXPECT_NEAR(h.bias, b, 1e-6);
  const std::vector<double> est = estimate_errors(h, s);
  for (size_t i = 0; i < est.size(); ++i) EXPECT_NEAR(est[i], s.error[i], 1e-6 * s.error[i]);
  // A large penalty shrinks the weights towards 0 and the bias towards the mean log error.
  const ConfidenceHead flat = fit_confidence_head(s, 1e6);
  for (double w : flat.weight) EXPECT_LT(std::abs(w), 1e-5);
  EXPECT_THROW(fit_confidence_head(ConfidenceSamples{}, 1e-3), std::invalid_argument);
}

TEST(PlanCrops, AFaceMovingAtConstantSpeedIsLookedForWhereItWillBe) {
  FaceCrop before, now;
  before.centre = {100, 50};
  before.side = 60;
  before.angle = 0.1;
  now.centre = {110, 47};  // 10 px right, 3 up, 2 px bigger, 0.05 rad more a frame
  now.side = 62;
  now.angle = 0.15;
  const FaceCrop next = predict_crop(now, before, 1, 8), third = predict_crop(now, before, 3, 8);
  EXPECT_DOUBLE_EQ(next.centre.x(), 120);
  EXPECT_DOUBLE_EQ(next.centre.y(), 44);
  EXPECT_DOUBLE_EQ(next.side, 64);
  EXPECT_NEAR(next.angle, 0.2, 1e-12);
  EXPECT_DOUBLE_EQ(third.centre.x(), 140);
  EXPECT_DOUBLE_EQ(third.centre.y(), 38);
  EXPECT_DOUBLE_EQ(third.side, 68);
  EXPECT_NEAR(third.angle, 0.3, 1e-12);
  // Shrinking fast, the side stops at the smallest crop.
  EXPECT_DOUBLE_EQ(predict_crop(before, now, 40, 8).side, 8);
}

TEST(Metrics, SpearmanMatchesAHandComputation) {
  // Ranks (1,2,3,4,5) and (2,1,4,3,5): Σd² = 4, ρ = 1 − 6·4 / (5·24) = 0.8.
  EXPECT_NEAR(spearman({1, 2, 3, 4, 5}, {20, 10, 40, 30, 50}), 0.8, 1e-12);
  EXPECT_NEAR(spearman({1, 2, 3}, {3, 2, 1}), -1.0, 1e-12);
  // Ties take their mean rank: (1, 2.5, 2.5, 4) against (1, 2, 3, 4).
  EXPECT_NEAR(spearman({1, 2, 2, 4}, {1, 2, 3, 4}), 4.5 / std::sqrt(4.5 * 5), 1e-12);
  EXPECT_DOUBLE_EQ(spearman({1, 1, 1}, {1, 2, 3}), 0.0);
}

// A generated 1280×720 wide shot: faces of 50-90 px at known places.
class WideShot : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    WideClipOptions o;
    if (!fs::exists(o.faces_dir / "testing_with_face_landmarks.xml")) return;
    dir_ = new testing::ScratchDir;
    o.frames = 16;
    o.sizes = {60, 64, 72, 80, 90};  // face 1 enters at 1 s: not in these frames
    generate_wide_clip(o, *dir_ / "wide.avi", *dir_ / "wide.truth.csv");
    truth_ = new std::vector<LandmarkRow>(read_landmarks(*dir_ / "wide.truth.csv"));
    torch::set_num_threads(2);
  }
  static void TearDownTestSuite() {
    delete truth_;
    delete dir_;
  }
  void SetUp() override {
    if (dir_ == nullptr)
      GTEST_SKIP() << "dlib's example photos are not installed (libdlib19.1 docs): skipped";
  }
  static cv::Mat first_frame() {
    cv::VideoCapture cap((*dir_ / "wide.avi").string(), cv::CAP_FFMPEG);
    cv::Mat f;
    cap.read(f);
    return f;
  }
  /// How many of frame `k`'s true faces some box (landmark boxes) overlaps.
  static int found(const std::vector<Box>& boxes, int64_t k) {
    int n = 0;
    for (const LandmarkRow& r : *truth_)
      if (r.frame == k)
        n += std::any_of(boxes.begin(), boxes.end(), [&](const Box& b) { return iou(b, r.box) > 0.3; }) ? 1
                                                                                                        : 0;
    return n;
  }
  static int truth_faces(int64_t k) {
    return static_cast<int>(
        std::count_if(truth_->begin(), truth_->end(), [&](const LandmarkRow& r) { return r.frame == k; }));
  }
  static testing::ScratchDir* dir_;
  static std::vector<LandmarkRow>* truth_;
};
testing::ScratchDir* WideShot::dir_ = nullptr;
std::vector<LandmarkRow>* WideShot::truth_ = nullptr;

TEST_F(WideShot, TheThoroughScanFindsTheSmallFacesTheQuickScanMisses) {
  const cv::Mat frame = first_frame();
  ASSERT_EQ(frame.cols, 1280);
  ASSERT_EQ(truth_faces(0), 4);
  const FaceDetector detector;
  const BoxMap map = BoxMap::installed();
  const auto mapped = [&](std::vector<Box> boxes) {
    for (Box& b : boxes) b = map.apply(b);
    return boxes;
  };
  EXPECT_EQ(found(mapped(scan_faces(detector, frame, plan_width(frame.size(), 320, 0))), 0), 0);
  EXPECT_GE(found(mapped(scan_faces(detector, frame, plan_min_face(frame.size(), 48, 8e6))), 0), 3);
}

TEST_F(WideShot, TheDetectionThreadGivesTheBoxesOfADirectScanOnce) {
  const cv::Mat frame = first_frame();
  const ScanPlan plan = plan_min_face(frame.size(), 48, 8e6);
  const std::vector<Box> direct = scan_faces(FaceDetector(), frame, plan);
  DetectionWorker worker;
  worker.submit(7, frame, plan);
  worker.submit(7, frame, plan);  // once
  const std::vector<Box> got = worker.wait(7, frame, plan);
  ASSERT_EQ(got.size(), direct.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_DOUBLE_EQ(got[i].x, direct[i].x);
  EXPECT_FALSE(worker.poll().has_value());
  worker.submit(8, frame, plan);
  while (worker.busy()) std::this_thread::yield();
  const auto polled = worker.poll();
  ASSERT_TRUE(polled.has_value());
  EXPECT_EQ(polled->first, 8);
  EXPECT_EQ(polled->second.size(), direct.size());
}

TEST_F(WideShot, TheConfidenceRanksACleanCropAboveAShiftedOne) {
  const cv::Mat frame = first_frame();
  LddmmBackendOptions bo;
  bo.device = "cpu";
  const auto backend = make_lddmm_backend(load_model(LDDMM_MODEL_FILE), bo);
  ASSERT_TRUE(backend->estimates());
  std::vector<FaceCrop> clean, shifted;
  for (const LandmarkRow& r : *truth_)
    if (r.frame == 0) {
      clean.push_back(crop_from_points(r.points, backend->scheme()));
      shifted.push_back(clean.back());
      shifted.back().centre.x() += 1.2 * clean.back().side;  // onto the background beside the face
    }
  const std::vector<AlignedFace> on = backend->align_checked(frame, clean, false),
                                 off = backend->align_checked(frame, shifted, false);
  const double half = TrackerOptions{}.confidence_half;
  for (size_t i = 0; i < on.size(); ++i) {
    const double c_on = confidence_of(on[i].disagreement, half),
                 c_off = confidence_of(off[i].disagreement, half);
    EXPECT_GT(c_on, c_off) << "face " << i;
    EXPECT_GT(c_on, TrackerOptions{}.min_confidence) << "face " << i;
    // The shipped model's head: a face's estimated error against the background's.
    const double e_half = TrackerOptions{}.error_half;
    const double h_on = confidence_of(on[i].estimated_error, e_half),
                 h_off = confidence_of(off[i].estimated_error, e_half);
    EXPECT_GT(h_on, TrackerOptions{}.min_confidence) << "face " << i;
    EXPECT_LT(h_off, TrackerOptions{}.min_confidence) << "face " << i;
    // align_checked's landmarks are align()'s own.
    EXPECT_TRUE(on[i].points.isApprox(backend->align(frame, {clean[i]}, false)[0].points, 1e-6));
  }
}

TEST_F(WideShot, TheTrackerFollowsSmallFacesFromTheFirstFrameTheSameWayEveryRun) {
  const auto run = [&](int min_face) {
    LddmmBackendOptions bo;
    bo.device = "cpu";
    TrackerOptions to;
    to.min_face = min_face;
    to.parallel_frames = 2;
    Tracker t(make_lddmm_backend(load_model(LDDMM_MODEL_FILE), bo), BoxMap::installed(), to);
    Engine e(open_source((*dir_ / "wide.avi").string()), t);
    std::vector<FrameResult> out;
    EngineOutput o;
    while (e.next(o)) out.push_back(o.result);
    return out;
  };
  const std::vector<FrameResult> a = run(48), b = run(48), quick_only = run(0);
  ASSERT_EQ(a.size(), 16u);
  std::set<int> ids;
  for (size_t k = 0; k < a.size(); ++k) {
    std::vector<Box> boxes;
    for (const FaceResult& f : a[k].faces) {
      boxes.push_back(landmark_box(f.raw));
      ids.insert(f.id);
    }
    EXPECT_GE(found(boxes, static_cast<int64_t>(k)), 3) << "frame " << k;
    ASSERT_EQ(a[k].faces.size(), b[k].faces.size()) << "frame " << k;
    for (size_t i = 0; i < a[k].faces.size(); ++i) EXPECT_TRUE(a[k].faces[i].raw.isApprox(b[k].faces[i].raw));
  }
  EXPECT_LE(ids.size(), 5u);                                             // no churn of ids
  for (const FrameResult& r : quick_only) EXPECT_TRUE(r.faces.empty());  // the old policy's blind spot
}

TEST_F(WideShot, TheTrackLimitsDecideWhichFacesAreKept) {
  // A crop smaller than `min_side` is lost: with a limit above every face's size no face is ever reported.
  LddmmBackendOptions bo;
  bo.device = "cpu";
  TrackerOptions to;
  to.limits.min_side = 1000;
  Tracker t(make_lddmm_backend(load_model(LDDMM_MODEL_FILE), bo), BoxMap::installed(), to);
  Engine e(open_source((*dir_ / "wide.avi").string()), t);
  EngineOutput o;
  int frames = 0;
  while (e.next(o)) {
    ++frames;
    EXPECT_TRUE(o.result.faces.empty()) << "frame " << o.result.index;
  }
  EXPECT_EQ(frames, 16);
}

// A camera stand-in: the wide shot's frames at 30 per second, played forward and back for up to 20 s, flagged
// live (newest frame wins). A loaded machine's detection thread may need more than the clip's 16 frames.
class PacedClip : public FrameSource {
 public:
  explicit PacedClip(const fs::path& file) {
    const std::unique_ptr<FrameSource> src = open_source(file.string());
    Frame f;
    while (src->read(f)) frames_.push_back(f.image.clone());
  }
  bool read(Frame& f) override {
    if (frames_.empty() || next_ >= kMostFrames) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(33));
    const int64_t n = static_cast<int64_t>(frames_.size());
    const int64_t k = next_ % (2 * n - 1);
    const int64_t shown = k < n ? k : 2 * n - 2 - k;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      original_.push_back(shown);
    }
    f.image = frames_[static_cast<size_t>(shown)].clone();
    f.index = next_;
    f.time = static_cast<double>(next_++) / 30.0;
    return true;
  }
  // The clip's frame shown as frame `index`.
  int64_t original(int64_t index) const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return original_.at(static_cast<size_t>(index));
  }
  bool live() const override { return true; }
  double fps() const override { return 30; }
  int64_t frame_count() const override { return -1; }
  std::string describe() const override { return "paced clip"; }

 private:
  static constexpr int64_t kMostFrames = 600;
  std::vector<cv::Mat> frames_;
  mutable std::mutex mutex_;
  std::vector<int64_t> original_;  // read by the test while the engine's reader appends
  int64_t next_ = 0;
};

TEST_F(WideShot, ACameraGetsTheThoroughScansBoxesWhenTheyAreReady) {
  LddmmBackendOptions bo;
  bo.device = "cpu";
  Tracker t(make_lddmm_backend(load_model(LDDMM_MODEL_FILE), bo), BoxMap::installed(), TrackerOptions{});
  auto clip = std::make_unique<PacedClip>(*dir_ / "wide.avi");
  const PacedClip& shown = *clip;
  Engine e(std::move(clip), t);
  EngineOutput o;
  int most = 0;
  int results = 0;
  while (most < 3 && e.next(o)) {
    ++results;
    std::vector<Box> boxes;
    for (const FaceResult& f : o.result.faces) boxes.push_back(landmark_box(f.raw));
    most = std::max(most, found(boxes, shown.original(o.result.index)));
  }
  EXPECT_GT(results, 0);
  // The quick scan (320 px) sees none of these faces: what is found came from the detection thread.
  EXPECT_GE(most, 3);
}

}  // namespace
}  // namespace lddmm
