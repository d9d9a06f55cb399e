// The tracking engine: sources and their errors, landmark files, and the tracker on the generated clip
// (whose true landmark tracks are known from the synthetic camera motion).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "lddmm/face/faces.hpp"
#include "lddmm/face/head_pose.hpp"
#include "lddmm/face/image_file.hpp"
#include "lddmm/flow/correspondence.hpp"
#include "lddmm/flow/metrics.hpp"
#include "lddmm/flow/register.hpp"
#include "lddmm/flow/tensor_points.hpp"
#include "lddmm/io/pts_io.hpp"
#include "lddmm/io/scheme_files.hpp"
#include "lddmm/render/render.hpp"
#include "lddmm/render/scene.hpp"
#include "lddmm/render/teaching.hpp"
#include "lddmm/track/clip.hpp"
#include "lddmm/track/engine.hpp"
#include "lddmm/track/landmark_io.hpp"
#include "lddmm/track/source.hpp"
#include "lddmm/track/tracker.hpp"
#include "scratch_dir.hpp"
#include "tiny_model.hpp"

namespace lddmm {
namespace {

namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

void write_video(const fs::path& file, int frames) {
  cv::VideoWriter w(file.string(), cv::CAP_FFMPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 25,
                    cv::Size(96, 64));
  ASSERT_TRUE(w.isOpened());
  for (int k = 0; k < frames; ++k) {
    cv::Mat f(64, 96, CV_8UC3, cv::Scalar(20, 40, 60));
    cv::circle(f, cv::Point(10 + k, 32), 8, cv::Scalar(255, 255, 255), cv::FILLED);
    w.write(f);
  }
}

TEST(Source, VideoFilesGiveEveryFrameInOrderWithTimestamps) {
  const testing::ScratchDir dir;
  write_video(dir / "v.avi", 30);
  auto s = open_source((dir / "v.avi").string());
  EXPECT_FALSE(s->live());
  EXPECT_FALSE(s->images());
  EXPECT_DOUBLE_EQ(s->fps(), 25);
  Frame f;
  int n = 0;
  while (s->read(f)) {
    EXPECT_EQ(f.index, n);
    EXPECT_NEAR(f.time, n / 25.0, 1e-9);
    EXPECT_EQ(f.image.cols, 96);
    ++n;
  }
  EXPECT_EQ(n, 30);
}

TEST(Source, BadInputsGiveOneLineErrors) {
  const testing::ScratchDir dir;
  EXPECT_EQ(error_of([&] { open_source((dir / "absent.mp4").string()); }),
            (dir / "absent.mp4").string() + ": no such file");
  fs::create_directories(dir / "empty");
  EXPECT_EQ(error_of([&] { open_source((dir / "empty").string()); }),
            (dir / "empty").string() + ": no images in the folder");
  { std::ofstream(dir / "junk.mp4") << "this is not a video at all"; }
  EXPECT_NE(error_of([&] { open_source((dir / "junk.mp4").string()); }).find("junk.mp4: cannot"),
            std::string::npos);
  { std::ofstream(dir / "bad.png") << "not a png"; }
  auto s = open_source((dir / "bad.png").string());
  Frame f;
  EXPECT_EQ(error_of([&] { s->read(f); }), (dir / "bad.png").string() + ": cannot read the image");
  EXPECT_NE(error_of([&] { open_source("/dev/video99"); }).find("camera /dev/video99"), std::string::npos);
  ASSERT_EQ(mkfifo((dir / "fifo.mp4").c_str(), 0600), 0);
  EXPECT_EQ(error_of([&] { open_source((dir / "fifo.mp4").string()); }),
            (dir / "fifo.mp4").string() +
                ": not a regular file (a pipe, socket or device); give a video, image or folder");
}

TEST(ImageFile, ACutOrDamagedPngOrJpegIsRefusedWithItsReasonAndAWholeOneReads) {
  const testing::ScratchDir dir;
  cv::Mat picture(40, 50, CV_8UC3);
  cv::randu(picture, 0, 255);
  std::vector<std::uint8_t> png, jpg;
  ASSERT_TRUE(cv::imencode(".png", picture, png));
  ASSERT_TRUE(cv::imencode(".jpg", picture, jpg));
  const auto write = [&](const char* name, const std::vector<std::uint8_t>& bytes) {
    std::ofstream(dir / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return dir / name;
  };
  std::string why;
  const cv::Mat whole = read_image(write("whole.png", png), why);
  EXPECT_EQ(why, "");
  EXPECT_EQ(cv::norm(whole, picture, cv::NORM_INF), 0.0);  // PNG is lossless
  EXPECT_FALSE(read_image(write("whole.jpg", jpg), why).empty());
  EXPECT_EQ(why, "");
  // Cut inside the data, and one byte of the first chunk after IHDR (past 8 + 25 bytes) changed.
  EXPECT_TRUE(
      read_image(write("cut.png", {png.begin(), png.begin() + static_cast<long>(png.size() / 2)}), why)
          .empty());
  EXPECT_EQ(why, "the PNG is cut short");
  std::vector<std::uint8_t> flipped = png;
  flipped[8 + 25 + 10] ^= 0x55;
  EXPECT_TRUE(read_image(write("flipped.png", flipped), why).empty());
  EXPECT_EQ(why, "the PNG is damaged (a chunk's checksum does not match)");
  EXPECT_TRUE(
      read_image(write("cut.jpg", {jpg.begin(), jpg.begin() + static_cast<long>(jpg.size() / 2)}), why)
          .empty());
  EXPECT_EQ(why, "the JPEG is cut short");
  std::vector<std::uint8_t> padded = jpg;
  padded.resize(jpg.size() + 100, 0);  // zeros after the end marker, as some cameras write
  EXPECT_FALSE(read_image(write("padded.jpg", padded), why).empty());
  EXPECT_TRUE(read_image(dir / "absent.png", why).empty());
  EXPECT_EQ(why, "cannot open the file");
}

TEST(Source, AFolderGoesOnPastAnUnreadableImageAndListsIt) {
  const testing::ScratchDir dir;
  const cv::Mat grey(20, 30, CV_8UC3, cv::Scalar(90, 90, 90));
  cv::imwrite((dir / "a.png").string(), grey);
  { std::ofstream(dir / "b.png") << "not a png"; }
  cv::imwrite((dir / "c.png").string(), grey);
  auto s = open_source(dir.path().string());
  std::vector<std::string> names;
  std::vector<int64_t> index;
  Frame f;
  while (s->read(f)) {
    names.push_back(f.name);
    index.push_back(f.index);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a.png", "c.png"}));
  EXPECT_EQ(index, (std::vector<int64_t>{0, 2}));  // a frame's index is its file's place in the folder
  EXPECT_EQ(s->skipped(), (std::vector<std::string>{(dir / "b.png").string() + ": cannot read the image"}));
}

TEST(Source, ATruncatedVideoReportsAReadErrorAfterItsGoodFrames) {
  const testing::ScratchDir dir;
  write_video(dir / "t.avi", 60);
  fs::resize_file(dir / "t.avi", fs::file_size(dir / "t.avi") / 2);
  int good = 0;
  const std::string err = error_of([&] {
    auto s = open_source((dir / "t.avi").string());
    Frame f;
    while (s->read(f)) ++good;
  });
  EXPECT_NE(err.find("t.avi"), std::string::npos) << err;
  EXPECT_GT(good, 5);
  EXPECT_LT(good, 60);
}

TEST(Source, FoldersGiveTheirImagesSortedByName) {
  const testing::ScratchDir dir;
  for (const char* n : {"b.png", "a.jpg", "c.bmp"})
    cv::imwrite((dir / n).string(), cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3)));
  { std::ofstream(dir / "notes.txt") << "ignored"; }
  auto s = open_source(dir.path().string());
  EXPECT_TRUE(s->images());
  EXPECT_EQ(s->frame_count(), 3);
  Frame f;
  ASSERT_TRUE(s->read(f));
  EXPECT_EQ(f.index, 0);
  EXPECT_EQ(f.name, "a.jpg");
  ASSERT_TRUE(s->read(f));
  EXPECT_EQ(f.name, "b.png");
}

std::vector<LandmarkRow> sample_rows() {
  std::vector<LandmarkRow> rows;
  for (int frame = 0; frame < 3; ++frame)
    for (int face = 1; face <= 2; ++face) {
      LandmarkRow r;
      r.frame = frame;
      r.time = frame / 30.0;
      r.face = face;
      r.points = Points::Random(5, 2) * 100;
      r.box = landmark_box(r.points);
      r.box.score = 0.25 * face;
      r.confidence = 0.1 * frame + 0.05 * face;
      if (face == 1)
        r.pose = HeadPose{{10.0 * frame, -20, 600}, Eigen::Vector3d::Zero(), {0.1, -0.2 * frame, 0.05}};
      rows.push_back(r);
    }
  return rows;
}

void expect_same(const std::vector<LandmarkRow>& a, const std::vector<LandmarkRow>& b, bool with_box) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].frame, b[i].frame);
    EXPECT_EQ(a[i].face, b[i].face);
    EXPECT_TRUE(a[i].points.isApprox(b[i].points, 1e-4)) << i;
    EXPECT_LE((a[i].points - b[i].points).cwiseAbs().maxCoeff(), 5e-4);
    if (with_box) {
      EXPECT_NEAR(a[i].time, b[i].time, 5e-4);
      EXPECT_NEAR(a[i].box.w, b[i].box.w, 5e-4);
      EXPECT_NEAR(a[i].box.score, b[i].box.score, 5e-4);
      EXPECT_NEAR(a[i].confidence, b[i].confidence, 5e-4);
      ASSERT_EQ(a[i].pose.has_value(), b[i].pose.has_value()) << i;
      if (a[i].pose) {
        EXPECT_LE((a[i].pose->translation - b[i].pose->translation).cwiseAbs().maxCoeff(), 0.05);
        EXPECT_LE((a[i].pose->euler - b[i].pose->euler).cwiseAbs().maxCoeff(), 5e-5);
      }
    }
  }
}

TEST(LandmarkFiles, CsvJsonLinesJsonAndPtsRoundTrip) {
  const testing::ScratchDir dir;
  const auto rows = sample_rows();
  for (auto [fmt, target] :
       {std::pair{LandmarkFormat::Csv, dir / "l.csv"}, std::pair{LandmarkFormat::Jsonl, dir / "l.jsonl"},
        std::pair{LandmarkFormat::Json, dir / "l.json"}, std::pair{LandmarkFormat::Pts, dir / "pts"}}) {
    {
      auto w = make_landmark_writer(fmt, target, "test5", 5, "unit test");
      for (int frame = 0; frame < 4; ++frame) {  // frame 3 has no face
        for (const auto& r : rows)
          if (r.frame == frame) w->write(r);
        w->end_frame(frame, frame / 30.0);
      }
    }  // the destructor completes the file
    const auto back = fmt == LandmarkFormat::Pts ? read_landmark_pts(target) : read_landmarks(target);
    if (fmt == LandmarkFormat::Json || fmt == LandmarkFormat::Pts) {  // no pose in these
      auto no_pose = rows;
      for (auto& r : no_pose) r.pose.reset();
      expect_same(no_pose, back, fmt != LandmarkFormat::Pts);
    } else {
      expect_same(rows, back, true);
    }
  }
}

// The CSV has OpenFace's columns in OpenFace's order, frames from 1, x then y, and a row with success 0
// for a frame without a face (written out here by hand).
TEST(LandmarkFiles, CsvHasOpenFacesLayoutAndARowForEveryFrame) {
  const testing::ScratchDir dir;
  {
    auto w = make_landmark_writer(LandmarkFormat::Csv, dir / "l.csv", "test2", 2);
    LandmarkRow r;
    r.frame = 0;
    r.face = 1;
    r.confidence = 0.5;
    r.points = (Points(2, 2) << 1, 2, 3, 4).finished();
    r.box = {5, 6, 7, 8, 0.9};
    w->write(r);
    w->end_frame(0, 0);
    w->end_frame(1, 0.04);
  }
  std::ifstream in(dir / "l.csv");
  std::string header, face, none;
  std::getline(in, header);
  std::getline(in, face);
  std::getline(in, none);
  EXPECT_EQ(header,
            "frame,face_id,timestamp,confidence,success,pose_Tx,pose_Ty,pose_Tz,pose_Rx,pose_Ry,pose_Rz,"
            "x_0,x_1,y_0,y_1,box_x,box_y,box_w,box_h,detector_score");
  EXPECT_EQ(face, "1,1,0.000,0.500,1,,,,,,,1.000,3.000,2.000,4.000,5.000,6.000,7.000,8.000,0.900");
  EXPECT_EQ(none, "2,0,0.040,0,0,,,,,,,,,,,,,,,");
}

// A JSON Lines file cut inside its last line (a killed run) reads up to the last whole line.
TEST(LandmarkFiles, AJsonLinesFileCutShortKeepsItsWholeLines) {
  const testing::ScratchDir dir;
  {
    auto w = make_landmark_writer(LandmarkFormat::Jsonl, dir / "l.jsonl", "test5", 5, "unit test");
    for (int frame = 0; frame < 3; ++frame) {
      for (const auto& r : sample_rows())
        if (r.frame == frame) w->write(r);
      w->end_frame(frame, frame / 30.0);
    }
  }
  std::ifstream in(dir / "l.jsonl");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t third = text.find("\"frame\":3");
  ASSERT_NE(third, std::string::npos);
  { std::ofstream(dir / "cut.jsonl") << text.substr(0, third + 20); }
  const auto back = read_landmarks(dir / "cut.jsonl");
  ASSERT_EQ(back.size(), 4u);  // frames 1 and 2, two faces each
  EXPECT_EQ(back.back().frame, 1);
  EXPECT_EQ(text.substr(text.rfind('{')), "{\"type\":\"end\",\"complete\":true,\"frames\":3}\n");
}

// Photos: every row names its image, names with commas and quotes survive CSV, .pts files take the
// image's name, and JSON lists a photo without a face too.
TEST(LandmarkFiles, PhotoRowsKeepTheirImageNames) {
  const testing::ScratchDir dir;
  const std::vector<std::string> names = {"a, \"odd\" one.jpg", "b.png", "c.jpg"};
  auto rows = sample_rows();
  for (auto& r : rows) {
    r.image = names[static_cast<size_t>(r.frame)];
    r.pose.reset();  // JSON and .pts have none
  }
  for (auto [fmt, target] :
       {std::pair{LandmarkFormat::Csv, dir / "l.csv"}, std::pair{LandmarkFormat::Json, dir / "l.json"},
        std::pair{LandmarkFormat::Pts, dir / "pts"}}) {
    {
      auto w = make_landmark_writer(fmt, target, "test5", 5, "photos", true);
      for (int frame = 0; frame < 3; ++frame) {
        for (const auto& r : rows)
          if (r.frame == frame) w->write(r);
        w->end_frame(frame, frame / 30.0, names[static_cast<size_t>(frame)]);
      }
      w->end_frame(3, 0.1, "no face.jpg");
    }
    const auto back = fmt == LandmarkFormat::Pts ? read_landmark_pts(target) : read_landmarks(target);
    expect_same(rows, back, fmt != LandmarkFormat::Pts);
    for (size_t i = 0; i < back.size(); ++i)
      EXPECT_EQ(back[i].image,
                fmt == LandmarkFormat::Pts ? fs::path(rows[i].image).stem().string() : rows[i].image);
  }
  EXPECT_TRUE(fs::exists(dir / "pts" / "b_face_1.pts"));
  std::ifstream in(dir / "l.json");
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(json.find("\"image\":\"no face.jpg\""), std::string::npos);
}

TEST(LandmarkFiles, AnInterruptedJsonKeepsItsFramesAndCsvErrorsNameTheLine) {
  const testing::ScratchDir dir;
  {
    auto w = make_landmark_writer(LandmarkFormat::Csv, dir / "l.csv", "test5", 5);
    w->write(sample_rows()[0]);
    w->end_frame(0, 0);
  }
  { std::ofstream(dir / "l.csv", std::ios::app) << "2,1,0.1,1,1,,,,,,,1,2,3,4,5,6,7,8,9,10,0,0,1,1,oops\n"; }
  EXPECT_EQ(error_of([&] { read_landmarks(dir / "l.csv"); }),
            (dir / "l.csv").string() + ":3: not a number: \"oops\"");
  { std::ofstream(dir / "short.csv") << "frame,time,face,box_x,box_y,box_w,box_h,score,x0,y0\n1,2,3\n"; }
  EXPECT_EQ(error_of([&] { read_landmarks(dir / "short.csv"); }),
            (dir / "short.csv").string() + ":2: 3 values, the header has 10");  // the 0.1 layout is read too
  { std::ofstream(dir / "other.csv") << "a,b\n1,2\n"; }
  EXPECT_EQ(error_of([&] { read_landmarks(dir / "other.csv"); }),
            (dir / "other.csv").string() + ":1: not a landmark CSV (header frame,face_id,...)");
  EXPECT_THROW(parse_landmark_format("xml"), std::invalid_argument);
}

// The head's axes in the overlay: a face looking into the camera has its x axis to the right, y down, and
// the z axis (towards the camera) short; points that fit no pose draw nothing.
TEST(Scene, PoseAxesOfAFrontalFacePointRightAndDown) {
  const HeadPoseEstimator est(mean_face_3d(), Camera::for_frame(640, 480));
  Scene s;
  pose_axes_lines(s, est.project({{0, 0, 500}, Eigen::Vector3d::Zero(), Eigen::Vector3d::Zero()}), 640, 480);
  ASSERT_EQ(s.lines.size(), 3u);
  const Eigen::RowVector2d x = s.lines[0].b - s.lines[0].a, y = s.lines[1].b - s.lines[1].a,
                           z = s.lines[2].b - s.lines[2].a;
  EXPECT_GT(x.x(), 40);
  EXPECT_LT(std::abs(x.y()), 1);
  EXPECT_GT(y.y(), 40);
  EXPECT_LT(std::abs(y.x()), 1);
  EXPECT_LT(z.norm(), 0.5 * x.norm());
  EXPECT_EQ(s.lines[0].colour, colours::kAxisX);
  Scene none;
  pose_axes_lines(none, Points::Constant(68, 2, 100), 640, 480);
  EXPECT_TRUE(none.lines.empty());
}

TEST(Crop, FromPointsUndoesTheFaceRotation) {
  const Scheme s = find_scheme("300w68");
  const double a = 0.4;
  Affine2 m;
  m << std::cos(a), -std::sin(a), 200, std::sin(a), std::cos(a), 150;
  const Points p = apply_affine(m, s.mean_face.points);
  const FaceCrop c = crop_from_points(p, s);
  EXPECT_NEAR(c.angle, a, 0.02);  // the mean face's eye axis is horizontal up to rounding
  const Eigen::RowVector2d lo = s.mean_face.points.colwise().minCoeff(),
                           hi = s.mean_face.points.colwise().maxCoeff();
  EXPECT_NEAR(c.side, std::max(hi.x() - lo.x(), hi.y() - lo.y()), 0.5);
  const Points centre = apply_affine(m, Points((lo + hi) / 2));
  EXPECT_NEAR((c.centre - centre.row(0)).norm(), 0, 0.5);
}

// A backend whose views are known offsets from a face: the crop gives truth + d (+ d more on each call
// when `drift`), the crop's mirror image truth + m; it counts its calls and keeps the crops it saw.
class KnownViews : public AlignBackend {
 public:
  KnownViews(Scheme scheme, Points truth, bool mirrors, bool drift)
      : scheme_(std::move(scheme)), truth_(std::move(truth)), mirrors_(mirrors), drift_(drift) {}
  const Scheme& scheme() const override { return scheme_; }
  const Scheme& output_scheme() const override { return scheme_; }
  std::string describe() const override { return "known views"; }
  bool mirrors() const override { return mirrors_; }
  std::vector<AlignedFace> align(const cv::Mat&, const std::vector<FaceCrop>& crops, bool) override {
    ++direct;
    return views(crops, d * (drift_ ? static_cast<double>(direct) : 1.0));
  }
  std::vector<AlignedFace> align_mirrored(const cv::Mat&, const std::vector<FaceCrop>& crops) override {
    ++mirrored;
    return views(crops, m);
  }
  Eigen::RowVector2d d{1.5, -0.5}, m{-0.3, 0.9};
  int direct = 0, mirrored = 0;
  std::vector<FaceCrop> seen;

 private:
  std::vector<AlignedFace> views(const std::vector<FaceCrop>& crops, const Eigen::RowVector2d& offset) {
    std::vector<AlignedFace> out(crops.size());
    for (size_t i = 0; i < crops.size(); ++i) {
      seen.push_back(crops[i]);
      out[i].points = truth_.rowwise() + offset;
      out[i].output = out[i].points;
    }
    return out;
  }
  Scheme scheme_;
  Points truth_;
  bool mirrors_, drift_;
};

// More views of a new face: after the first (direct) view, the refinements see the mirror image, the
// crop, the mirror image, ... and the landmarks are the mean of all views, counted by hand: 1 + ⌊N/2⌋
// direct and ⌈N/2⌉ mirrored; each pass crops around the mean so far, the pairs of views at 1, 0.9 and
// 1.1 × that crop. A point without a mirror partner
// (300W-50's jaw point 2) has only the direct views. A backend that mirrors every pass keeps its last.
TEST(Refine, ViewsAlternateAndAverageLikeEvaluate) {
  for (const char* id : {"300w68", "300w50"}) {
    const Scheme scheme = find_scheme(id);
    const std::vector<int> partners = mirror_partners(scheme);
    Affine2 place;
    place << 2.0, 0.3, 140, -0.3, 2.0, 90;
    const Points truth = apply_affine(place, scheme.mean_face.points);
    for (int passes = 0; passes <= 5; ++passes) {
      KnownViews b(scheme, truth, false, false);
      std::vector<AlignedFace> faces(1);
      faces[0].points = truth.rowwise() + b.d;
      faces[0].output = faces[0].points;
      std::vector<FaceCrop> crops(1);
      refine_faces(b, cv::Mat(), crops, faces, passes);
      const int n_mirrored = (passes + 1) / 2, n_direct = 1 + passes / 2;
      EXPECT_EQ(b.mirrored, n_mirrored);
      EXPECT_EQ(b.direct, n_direct - 1);
      const Eigen::RowVector2d both = (n_direct * b.d + n_mirrored * b.m) / (n_direct + n_mirrored);
      int lonely = 0;
      for (Eigen::Index q = 0; q < truth.rows(); ++q) {
        const bool alone = partners[static_cast<size_t>(q)] < 0;
        lonely += alone ? 1 : 0;
        const Eigen::RowVector2d want = truth.row(q) + (alone ? b.d : both);
        EXPECT_NEAR((faces[0].points.row(q) - want).norm(), 0, 1e-12)
            << id << " passes " << passes << " point " << q;
        EXPECT_NEAR((faces[0].output.row(q) - want).norm(), 0, 1e-12);
      }
      EXPECT_EQ(lonely > 0, std::string(id) == "300w50");
      // Pass k crops around the mean of the first k views.
      ASSERT_EQ(b.seen.size(), static_cast<size_t>(passes));
      for (int k = 1; k <= passes; ++k) {
        const int nm = k / 2, nd = k - nm;
        Points mean = truth.rowwise() + (nd * b.d + nm * b.m) / k;
        for (Eigen::Index q = 0; q < truth.rows(); ++q)
          if (partners[static_cast<size_t>(q)] < 0) mean.row(q) = truth.row(q) + b.d;
        const FaceCrop want = crop_from_points(mean, scheme);
        const FaceCrop& got = b.seen[static_cast<size_t>(k - 1)];
        EXPECT_NEAR((got.centre - want.centre).norm(), 0, 1e-9);
        EXPECT_NEAR(got.side, want.side * (k < 2 ? 1.0 : k < 4 ? 0.9 : 1.1), 1e-9);  // pairs at 1, 0.9, 1.1
        EXPECT_NEAR(got.angle, want.angle, 1e-12);
      }
      if (passes > 0) {
        const FaceCrop& last = b.seen.back();
        EXPECT_NEAR((crops[0].centre - last.centre).norm(), 0, 1e-12);
      }
    }
  }
  // Every pass already two views: aligned again, the last pass gives the landmarks.
  const Scheme scheme = find_scheme("300w68");
  const Points truth = scheme.mean_face.points * 3.0;
  KnownViews b(scheme, truth, true, true);
  std::vector<AlignedFace> faces(2);
  for (auto& f : faces) f.points = f.output = truth;
  faces[1].points(0, 0) = std::nan("");  // a lost face is left alone
  std::vector<FaceCrop> crops(2);
  refine_faces(b, cv::Mat(), crops, faces, 3);
  EXPECT_EQ(b.direct, 3);
  EXPECT_EQ(b.mirrored, 0);
  ASSERT_EQ(b.seen.size(), 3u);
  EXPECT_NEAR(b.seen[2].side, crop_from_points(truth.rowwise() + 2 * b.d, scheme).side, 1e-9);  // not scaled
  EXPECT_NEAR((faces[0].points - (truth.rowwise() + 3 * b.d)).norm(), 0, 1e-12);
  EXPECT_TRUE(std::isnan(faces[1].points(0, 0)));
  faces.resize(1);
  EXPECT_THROW(refine_faces(b, cv::Mat(), crops, faces, 1), std::invalid_argument);
}

// An ensemble backend (annotate/bench -m A -m B): every call goes to each model with the same crops and the
// landmarks are their mean, so through refine_faces a new face is the truth plus the mean of the models'
// offsets, counted by hand as above. One backend is returned as it is; models of different schemes, or
// one mirroring and one not, are refused.
TEST(Refine, EnsembleAveragesItsModelsOnTheSameCrops) {
  const Scheme scheme = find_scheme("300w68");
  Affine2 place;
  place << 2.0, 0.3, 140, -0.3, 2.0, 90;
  const Points truth = apply_affine(place, scheme.mean_face.points);
  auto a = std::make_unique<KnownViews>(scheme, truth, false, false);
  auto b = std::make_unique<KnownViews>(scheme, truth, false, false);
  b->d = {-0.5, 2.5};
  b->m = {0.7, -0.1};
  KnownViews* pa = a.get();
  KnownViews* pb = b.get();
  std::vector<std::unique_ptr<AlignBackend>> members;
  members.push_back(std::move(a));
  members.push_back(std::move(b));
  std::unique_ptr<AlignBackend> e = make_ensemble_backend(std::move(members));
  EXPECT_EQ(&e->scheme(), &pa->scheme());
  EXPECT_NE(e->describe().find("ensemble of 2"), std::string::npos) << e->describe();
  std::vector<FaceCrop> crops(1);
  std::vector<AlignedFace> faces = e->align(cv::Mat(), crops, true);
  ASSERT_EQ(faces.size(), 1u);
  const Eigen::RowVector2d d = (pa->d + pb->d) / 2, m = (pa->m + pb->m) / 2;
  EXPECT_NEAR((faces[0].points - (truth.rowwise() + d)).cwiseAbs().maxCoeff(), 0, 1e-12);
  EXPECT_NEAR((faces[0].output - (truth.rowwise() + d)).cwiseAbs().maxCoeff(), 0, 1e-12);
  const int passes = 3;
  refine_faces(*e, cv::Mat(), crops, faces, passes);
  const int n_mirrored = (passes + 1) / 2, n_direct = 1 + passes / 2;
  EXPECT_EQ(pa->mirrored, n_mirrored);
  EXPECT_EQ(pb->mirrored, n_mirrored);
  EXPECT_EQ(pa->direct, n_direct);
  EXPECT_EQ(pb->direct, n_direct);
  const Eigen::RowVector2d both = (n_direct * d + n_mirrored * m) / (n_direct + n_mirrored);
  EXPECT_NEAR((faces[0].points - (truth.rowwise() + both)).cwiseAbs().maxCoeff(), 0, 1e-12);
  ASSERT_EQ(pa->seen.size(), pb->seen.size());
  for (size_t k = 0; k < pa->seen.size(); ++k) {
    EXPECT_EQ(pa->seen[k].centre, pb->seen[k].centre) << k;
    EXPECT_EQ(pa->seen[k].side, pb->seen[k].side) << k;
    EXPECT_EQ(pa->seen[k].angle, pb->seen[k].angle) << k;
  }
  // Pass 1 crops around the first (ensemble) view, truth + d, not around either model's own.
  const FaceCrop want = crop_from_points(truth.rowwise() + d, scheme);
  EXPECT_NEAR((pa->seen[1].centre - want.centre).norm(), 0, 1e-9);

  std::vector<std::unique_ptr<AlignBackend>> one;
  one.push_back(std::make_unique<KnownViews>(scheme, truth, false, false));
  const AlignBackend* alone = one.front().get();
  EXPECT_EQ(make_ensemble_backend(std::move(one)).get(), alone);
  EXPECT_THROW(make_ensemble_backend({}), std::invalid_argument);
  const Scheme s50 = find_scheme("300w50");
  std::vector<std::unique_ptr<AlignBackend>> mixed;
  mixed.push_back(std::make_unique<KnownViews>(scheme, truth, false, false));
  mixed.push_back(std::make_unique<KnownViews>(s50, s50.mean_face.points, false, false));
  EXPECT_THROW(make_ensemble_backend(std::move(mixed)), std::runtime_error);
  std::vector<std::unique_ptr<AlignBackend>> mirroring;
  mirroring.push_back(std::make_unique<KnownViews>(scheme, truth, false, false));
  mirroring.push_back(std::make_unique<KnownViews>(scheme, truth, true, false));
  EXPECT_THROW(make_ensemble_backend(std::move(mirroring)), std::runtime_error);
}

// The LDDMM backend (batch norms folded, channels-last, the crops and their mirror images in one batch)
// against the plain network run on each crop by hand: the crop, its mirror image (x → S − 1 − x and the
// scheme's left/right partners), each less its calibration offset (which travels in the model file),
// averaged and mapped back to the image; and the mirror image alone (align_mirrored).
TEST(Backend, FoldedChannelsLastAndBatchedMirroringMatchThePlainNetwork) {
  torch::manual_seed(3);
  const Scheme& scheme = find_scheme("300w68");
  Aligner model(testing::tiny_config(), scheme);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.add_(0.05 * torch::randn_like(p));
  }
  Calibration cal;
  cal.direct = {0.4, -0.3};
  cal.mirrored = {-1.1, 0.2};
  cal.direct_image = {0.7, -0.5};  // in the frame's pixels, whatever the crop's scale and rotation
  cal.mirrored_image = {-1.3, 0.6};
  model->set_calibration(cal);
  const testing::ScratchDir scratch;
  save_model(model, scratch.path() / "tiny.pt", false);
  model->eval();
  cv::Mat image(240, 320, CV_8UC3);
  cv::randu(image, cv::Scalar::all(0), cv::Scalar::all(255));
  cv::GaussianBlur(image, image, cv::Size(0, 0), 3);
  std::vector<FaceCrop> crops(2);
  crops[0].centre = {120, 110};
  crops[0].side = 90;
  crops[1].centre = {200, 130};
  crops[1].side = 120;
  crops[1].angle = 0.3;
  const int S = model->config().input_size;
  for (const int mode : {0, 1, 2}) {  // the crop, the crop and its mirror image, the mirror image alone
    const bool flip = mode == 1;
    LddmmBackendOptions bo;
    bo.device = "cpu";
    bo.flip = flip;
    const auto backend = make_lddmm_backend(load_model(scratch.path() / "tiny.pt"), bo);
    EXPECT_EQ(backend->mirrors(), flip);
    const std::vector<AlignedFace> got =
        mode == 2 ? backend->align_mirrored(image, crops) : backend->align(image, crops, false);
    ASSERT_EQ(got.size(), crops.size());
    for (size_t i = 0; i < crops.size(); ++i) {
      torch::Tensor x = torch::empty({1, 3, S, S});
      const FaceCrop& c = crops[i];
      const Affine2 m = crop_face(image, c.centre, 1.25 * c.side, c.angle, S, model->config().mean,
                                  model->config().std, x.data_ptr<float>());
      torch::NoGradGuard no_grad;
      const Points direct = tensor_to_points(model->forward(x)[0]);
      const Points mirrored = tensor_to_points(model->forward(x.flip({3}))[0]);
      Points want = direct;
      for (int k = 0; k < want.rows(); ++k) {
        const auto partner = static_cast<Eigen::Index>(scheme.mirror[static_cast<size_t>(k)]);
        const double dx = direct(k, 0) - cal.direct[0], dy = direct(k, 1) - cal.direct[1];
        const double mx = S - 1 - mirrored(partner, 0) - cal.mirrored[0],
                     my = mirrored(partner, 1) - cal.mirrored[1];
        want(k, 0) = mode == 0 ? dx : mode == 1 ? (dx + mx) / 2 : mx;
        want(k, 1) = mode == 0 ? dy : mode == 1 ? (dy + my) / 2 : my;
      }
      want = apply_affine(invert_affine(m), want);
      for (int a = 0; a < 2; ++a) {
        const auto ua = static_cast<size_t>(a);
        want.col(a).array() -= mode == 0   ? cal.direct_image[ua]
                               : mode == 1 ? 0.5 * (cal.direct_image[ua] + cal.mirrored_image[ua])
                                           : cal.mirrored_image[ua];
      }
      EXPECT_LT((got[i].points - want).cwiseAbs().maxCoeff(), 1e-3) << "crop " << i << " mode " << mode;
    }
  }
}

// A flow carries the grid as one continuous flow (no carrying curves, every det J > 0), as the paper's
// per-curve grid when asked, and no grid once switched off (the flow itself stays).
TEST(Backend, FlowsCarryTheContinuousGridUntilSwitchedOff) {
  torch::manual_seed(4);
  Aligner model(testing::tiny_config(), find_scheme("300w68"));
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.add_(0.05 * torch::randn_like(p));
  }
  const testing::ScratchDir scratch;
  save_model(model, scratch.path() / "tiny.pt", false);
  cv::Mat image(200, 200, CV_8UC3);
  cv::randu(image, cv::Scalar::all(0), cv::Scalar::all(255));
  std::vector<FaceCrop> crops(1);
  crops[0].centre = {100, 100};
  crops[0].side = 100;
  for (const bool per_curve : {false, true}) {
    LddmmBackendOptions bo;
    bo.device = "cpu";
    bo.grid_cells = 4;
    bo.per_curve_grid = per_curve;
    const auto backend = make_lddmm_backend(load_model(scratch.path() / "tiny.pt"), bo);
    const AlignedFace on = backend->align(image, crops, true).front();
    ASSERT_TRUE(on.flow.has_value());
    EXPECT_EQ(on.flow->grid.rows(), 25);
    EXPECT_EQ(on.flow->grid_curve.empty(), !per_curve);
    for (const double d : on.flow->grid_det) EXPECT_GT(d, 0);
    backend->set_grid(false);
    const AlignedFace off = backend->align(image, crops, true).front();
    ASSERT_TRUE(off.flow.has_value());
    EXPECT_EQ(off.flow->grid.rows(), 0);
    EXPECT_EQ(off.flow->trajectory.size(), on.flow->trajectory.size());
  }
}

// The generated clip and the shipped model: ids, accuracy, cross-scheme output, engine order.
class OnTheSampleClip : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ClipOptions o;
    if (!fs::exists(o.faces_dir / o.image)) return;
    dir_ = new testing::ScratchDir;
    o.frames = 45;
    generate_clip(o, *dir_ / "clip.avi", *dir_ / "truth.csv");
    truth_ = new std::vector<LandmarkRow>(read_landmarks(*dir_ / "truth.csv"));
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
  static Tracker tracker(const std::string& scheme = "", bool smooth = true, int parallel = 1) {
    LddmmBackendOptions bo;
    bo.output_scheme = scheme;
    bo.device = "cpu";
    TrackerOptions to;
    to.smoothing.enabled = smooth;
    to.parallel_frames = parallel;
    return Tracker(make_lddmm_backend(load_model(LDDMM_MODEL_FILE), bo), BoxMap::installed(), to);
  }
  static std::vector<FrameResult> run(Tracker& t) {
    Engine e(open_source((*dir_ / "clip.avi").string()), t);
    std::vector<FrameResult> out;
    EngineOutput o;
    while (e.next(o)) out.push_back(o.result);
    return out;
  }
  static testing::ScratchDir* dir_;
  static std::vector<LandmarkRow>* truth_;
};
testing::ScratchDir* OnTheSampleClip::dir_ = nullptr;
std::vector<LandmarkRow>* OnTheSampleClip::truth_ = nullptr;

class OnTheSampleClipInBatches : public OnTheSampleClip, public ::testing::WithParamInterface<int> {};

TEST_P(OnTheSampleClipInBatches, EveryFrameInOrderThreeStableIdsAndBoundedError) {
  Tracker t = tracker("", false, GetParam());
  const auto results = run(t);
  ASSERT_EQ(results.size(), 45u);
  std::map<int, int> face_of_id;  // tracker id → true face, must never change
  double err = 0;
  int count = 0;
  for (size_t k = 0; k < results.size(); ++k) {
    EXPECT_EQ(results[k].index, static_cast<int64_t>(k));
    for (const LandmarkRow& r : *truth_) {
      if (r.frame != static_cast<int64_t>(k)) continue;
      const double iod = (r.points.row(36) - r.points.row(45)).norm();
      int best = -1;
      double best_iou = 0.3;
      for (const FaceResult& f : results[k].faces) {
        const double v = iou(landmark_box(f.raw), r.box);
        if (v > best_iou) {
          best_iou = v;
          best = static_cast<int>(&f - results[k].faces.data());
        }
      }
      ASSERT_GE(best, 0) << "frame " << k << " lost true face " << r.face;
      const FaceResult& f = results[k].faces[static_cast<size_t>(best)];
      auto [it, fresh] = face_of_id.emplace(f.id, r.face);
      EXPECT_EQ(it->second, r.face) << "id " << f.id << " jumped faces at frame " << k;
      err += (f.raw - r.points).rowwise().norm().mean() / iod;
      ++count;
    }
  }
  EXPECT_EQ(face_of_id.size(), 3u);
  // The truth is dlib's annotation of the photo; ours differ by their annotation convention too.
  EXPECT_LT(err / count, 0.08);
}
INSTANTIATE_TEST_SUITE_P(Frames, OnTheSampleClipInBatches, ::testing::Values(1, 2),
                         [](const auto& p) { return "parallel" + std::to_string(p.param); });

TEST_F(OnTheSampleClip, OtherSchemesComeThroughTheFlowAndSmoothingStaysOnTheFace) {
  Tracker t = tracker("wflw98", true);
  EXPECT_EQ(t.backend().output_scheme().num_points, 98);
  Frame f;
  auto s = open_source((*dir_ / "clip.avi").string());
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(s->read(f));
    const FrameResult r = t.process(f);
    ASSERT_EQ(r.faces.size(), 3u);
    for (const FaceResult& face : r.faces) {
      EXPECT_EQ(face.points.rows(), 98);
      EXPECT_EQ(face.raw.rows(), 68);
      // Both schemes outline the same face: their boxes nearly coincide.
      EXPECT_GT(iou(landmark_box(face.points), landmark_box(face.raw)), 0.75);
    }
  }
}

TEST_F(OnTheSampleClip, DlibBackendFollowsTheSameFaces) {
  Tracker t(make_dlib_backend(BoxMap::installed()), BoxMap::installed(), TrackerOptions{});
  Frame f;
  auto s = open_source((*dir_ / "clip.avi").string());
  std::set<int> ids;
  for (int k = 0; k < 10; ++k) {
    ASSERT_TRUE(s->read(f));
    for (const FaceResult& face : t.process(f).faces) ids.insert(face.id);
  }
  EXPECT_EQ(ids.size(), 3u);
}

TEST(Engine, ErrorsArriveAfterTheFramesBeforeThem) {
  const testing::ScratchDir dir;
  write_video(dir / "t.avi", 60);
  fs::resize_file(dir / "t.avi", fs::file_size(dir / "t.avi") / 2);
  Tracker t(make_dlib_backend(BoxMap{}), BoxMap{}, TrackerOptions{});
  Engine e(open_source((dir / "t.avi").string()), t);
  EngineOutput o;
  int n = 0;
  const std::string err = error_of([&] {
    while (e.next(o)) EXPECT_EQ(o.result.index, n++);
  });
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
  EXPECT_GT(n, 5);
}

}  // namespace
}  // namespace lddmm

namespace lddmm {
namespace {

TEST(Scene, DetColoursAndPrimitiveCounts) {
  EXPECT_EQ(det_rgb(1.0), (Rgb{255, 255, 255}));
  EXPECT_EQ(det_rgb(2.0), (Rgb{255, 0, 0}));
  EXPECT_EQ(det_rgb(0.5), (Rgb{0, 0, 255}));
  const Rgb half = det_rgb(std::sqrt(2.0));  // log2 = 0.5: half faded
  EXPECT_EQ(half.r, 255);
  EXPECT_NEAR(half.g, 127.5, 0.5);
  EXPECT_EQ(half.g, half.b);
  EXPECT_EQ(det_rgb(-1.0), (Rgb{0, 0, 0}));

  const Scheme s = find_scheme("300w68");
  FrameResult r;
  FaceResult f;
  f.id = 7;
  f.confidence = 0.834;
  f.raw = f.points = s.mean_face.points;
  f.box = landmark_box(f.points);
  FaceFlow fl;
  fl.template_points = s.mean_face.points;
  fl.momenta = Points::Constant(68, 2, 1.0);
  const int cells = 3, n = cells + 1;
  fl.grid_cells = cells;
  fl.grid = Points::Zero(n * n, 2);
  fl.grid_det.assign(static_cast<size_t>(n * n), 1.0);
  fl.grid_curve.assign(static_cast<size_t>(n * n), 0);
  fl.grid_curve[0] = 1;  // node 0 belongs to another curve: its two edges are not drawn
  f.flow = fl;
  r.faces.push_back(f);
  SceneOptions o;
  o.grid = o.curves = o.momenta = o.boxes = o.landmarks = true;
  const Scene scene = build_scene(r, s, s, o);
  size_t curve_segments = 0;
  for (const Curve& c : s.curves) curve_segments += c.points.size() - 1 + (c.closed ? 1 : 0);
  const size_t grid_edges = 2 * n * (n - 1) - 2;
  EXPECT_EQ(scene.lines.size(), grid_edges + curve_segments + 68 + 4);
  EXPECT_EQ(scene.dots.size(), 68u);
  EXPECT_EQ(scene.dots.front().colour, colours::kModelPoint);
  ASSERT_EQ(scene.labels.size(), 1u);
  EXPECT_EQ(scene.labels.front().text, "#7 0.83");  // id and confidence
  // Another scheme's points are "added" points: drawn red.
  const Scene other = build_scene(r, s, find_scheme("wflw98"), o);
  EXPECT_EQ(other.dots.front().colour, colours::kAddedPoint);
}

}  // namespace
}  // namespace lddmm

namespace lddmm {
namespace {

// The grid drawn on a synthetic face (the mean face, 5× larger, under smooth momenta) is one connected set of
// pixels with the continuous flow, and in pieces with the paper's per-curve flows (the tear the issue saw).
TEST(Teaching, ContinuousGridIsOnePieceAndThePerCurveGridTears) {
  const Scheme s = find_scheme("300w68");
  const Points tmpl = (5 * s.mean_face.points).array() + 20;
  Points mom = Points::Zero(68, 2);
  for (Eigen::Index i = 0; i < 68; ++i) mom.row(i) << 8 * std::sin(0.3 * i), 6 * std::cos(0.2 * i);
  SceneOptions grid_only;
  grid_only.curves = grid_only.template_curves = grid_only.momenta = grid_only.trajectories = false;
  grid_only.landmarks = false;
  const auto pieces = [&](bool per_curve) {
    TeachingOptions o;
    o.grid_cells = 16;
    o.per_curve_grid = per_curve;
    const TeachingFlow f = teach_flow(s, tmpl, mom, Points(0, 2), o);
    for (double d : f.grid_det) EXPECT_GT(d, 0);
    cv::Mat canvas(360, 360, CV_8UC3, cv::Scalar(0, 0, 0));
    paint_scene(canvas, teaching_scene(s, f, 1.0, grid_only));
    cv::Mat gray, mask, labels;
    cv::cvtColor(canvas, gray, cv::COLOR_BGR2GRAY);
    cv::threshold(gray, mask, 0, 255, cv::THRESH_BINARY);
    EXPECT_GT(cv::countNonZero(mask), 2000);
    return cv::connectedComponents(mask, labels, 8) - 1;  // less the background
  };
  EXPECT_EQ(pieces(false), 1);
  EXPECT_GT(pieces(true), 1);
}

TEST(Teaching, FlowIsEquivariantUnderScalingAndExtraPointsRideTheirCurve) {
  const Scheme s = find_scheme("300w68");
  const Points tmpl = s.mean_face.points;
  Points mom = Points::Zero(68, 2);
  for (Eigen::Index i = 0; i < 68; ++i) mom.row(i) << 4 * std::sin(0.3 * i), 3 * std::cos(0.2 * i);
  Points extra(1, 2);
  extra.row(0) = tmpl.row(30);  // the nose tip itself
  TeachingOptions o;
  o.grid_cells = 4;
  const TeachingFlow a = teach_flow(s, tmpl, mom, extra, o);
  ASSERT_EQ(a.points.size(), static_cast<size_t>(o.steps + 1));
  EXPECT_TRUE(a.points.front().isApprox(tmpl, 1e-12));
  EXPECT_LT((a.extra.back().row(0) - a.points.back().row(30)).norm(), 1e-9);
  EXPECT_GT((a.points.back() - tmpl).norm(), 1.0);  // it did move
  // The same face twice as large and shifted, with momenta twice as large: the same flow, scaled.
  const Eigen::RowVector2d shift(40, -25);
  const Points tmpl2 = (2 * tmpl).rowwise() + shift;
  Points extra2 = (2 * extra).rowwise() + shift;
  const TeachingFlow b = teach_flow(s, tmpl2, 2 * mom, extra2, o);
  const Points expected = (2 * a.points.back()).rowwise() + shift;
  EXPECT_LT((b.points.back() - expected).cwiseAbs().maxCoeff(), 1e-6);
  EXPECT_EQ(b.grid.back().rows(), 25);
  for (double d : b.grid_det) EXPECT_GT(d, 0);
  // Halfway through, the scene shows curves between the template and the result.
  SceneOptions so;
  const Scene half = teaching_scene(s, a, 0.5, so);
  EXPECT_FALSE(half.lines.empty());
  EXPECT_EQ(half.dots.size(), 69u);  // 68 landmarks + the extra point
}

// Another scheme's points in the teaching view: at t = 0 its mean face placed like the template, at t = 1
// where the tracker's carry_points puts them (A⁻¹ ∘ φ ∘ A, computed by the layer directly here).
TEST(Teaching, AnotherSchemesPointsFlowAsTheTrackerCarriesThem) {
  const Scheme s = find_scheme("300w68"), wflw = find_scheme("wflw98");
  const Correspondence corr = correspond(s, wflw);
  Points mom = Points::Zero(68, 2);
  for (Eigen::Index i = 0; i < 68; ++i) mom.row(i) << 4 * std::sin(0.3 * i), 3 * std::cos(0.2 * i);
  TeachingOptions o;
  o.grid_cells = 0;
  const TeachingFlow f = teach_flow(s, s.mean_face.points, mom, Points(0, 2), o, &corr);
  ASSERT_EQ(f.carried.size(), static_cast<size_t>(o.steps + 1));
  ASSERT_EQ(f.carried.front().rows(), 98);
  EXPECT_LT((f.carried.front() - apply_affine(invert_affine(corr.target_to_source), corr.target_in_source))
                .cwiseAbs()
                .maxCoeff(),
            1e-9);
  const DeformationLayer layer(CurveSet::from_scheme(s), {o.integrator, o.steps, true});
  const Points want = tensor_to_points(
      carry_points(layer, corr, points_to_tensor(s.mean_face.points), points_to_tensor(mom).unsqueeze(0))[0]);
  EXPECT_LT((f.carried.back() - want).cwiseAbs().maxCoeff(), 1e-6);
  EXPECT_GT((f.carried.back() - f.carried.front()).cwiseAbs().maxCoeff(), 1.0);  // they moved
  SceneOptions so;
  EXPECT_EQ(teaching_scene(s, f, 1.0, so).dots.size(), 68u + 98u);
}

}  // namespace
}  // namespace lddmm

namespace lddmm {
namespace {

TEST(Scene, DenseSchemesKeepTheModelsOwnPointsGreen) {
  const Scheme s = find_scheme("300w68");
  const Scheme dense = dense_scheme(s, 2);
  FrameResult r;
  FaceResult f;
  f.raw = s.mean_face.points;
  f.points = dense.mean_face.points;  // the sparse points first, then new ones between them
  r.faces.push_back(f);
  SceneOptions o;
  o.boxes = false;
  const Scene scene = build_scene(r, s, dense, o);
  size_t green = 0, red = 0;
  for (const auto& d : scene.dots) (d.colour == colours::kModelPoint ? green : red) += 1;
  EXPECT_EQ(green, 68u);
  EXPECT_EQ(red, static_cast<size_t>(dense.num_points - 68));
}

// Real footage (../shared/data/video): a talking head is found and followed in every frame with one id.
TEST(RealVideo, TalkingHeadIsFollowedWithOneId) {
  const char* env = std::getenv("LDDMM_DATA");
  const fs::path video = fs::path(env ? env : LDDMM_DEFAULT_DATA) / "video" / "talking_d6.mp4";
  if (!fs::exists(video)) GTEST_SKIP() << video << " is absent: real-footage test skipped";
  torch::set_num_threads(1);
  TrackerOptions to;
  to.parallel_frames = 2;
  LddmmBackendOptions bo;
  bo.device = "cpu";
  bo.grid_cells = 0;
  Tracker t(make_lddmm_backend(load_model(LDDMM_MODEL_FILE), bo), BoxMap::installed(), to);
  Engine e(open_source(video.string()), t);
  EngineOutput o;
  std::set<int> ids;
  int frames = 0, with_face = 0;
  while (frames < 90 && e.next(o)) {
    ++frames;
    with_face += o.result.faces.size() == 1 ? 1 : 0;
    for (const FaceResult& f : o.result.faces) {
      ids.insert(f.id);
      EXPECT_GT(f.box.w, 60);  // a close-up face, not a speck
    }
  }
  EXPECT_EQ(frames, 90);
  EXPECT_EQ(with_face, 90);
  EXPECT_EQ(ids.size(), 1u);
}

// Real photos (../shared/data/300w/val.txt) as a folder of unrelated stills: every image is detected
// afresh, and aligning a newly found face a second time, in the crop its first landmarks imply, lowers
// the error against the annotations.
TEST(RealPhotos, StillsAreDetectedEachAndRefinedNewFacesAreMoreAccurate) {
  const char* env = std::getenv("LDDMM_DATA");
  const fs::path root = fs::path(env ? env : LDDMM_DEFAULT_DATA) / "300w";
  if (!fs::exists(root / "val.txt")) GTEST_SKIP() << root << "/val.txt is absent: real-photo test skipped";
  torch::set_num_threads(1);
  const auto items = read_image_list(root, root / "val.txt");
  const Scheme scheme = find_scheme("300w68");
  double sum[2] = {0, 0};
  int faces = 0;
  for (int refine = 0; refine < 2; ++refine) {
    TrackerOptions to;
    to.stills = true;
    to.refine_new = refine;
    LddmmBackendOptions bo;
    bo.device = "cpu";
    bo.grid_cells = 0;
    Tracker t(make_lddmm_backend(load_model(LDDMM_MODEL_FILE), bo), BoxMap::installed(), to);
    faces = 0;
    for (size_t i = 0; i < items.size() && i < 80; ++i) {
      Frame f;
      f.image = cv::imread(items[i].image.string(), cv::IMREAD_COLOR);
      f.index = static_cast<int64_t>(i);
      ASSERT_FALSE(f.image.empty()) << items[i].image;
      const Points truth = read_pts(items[i].pts);
      const FrameResult r = t.process(f);
      // The annotated face: the found face nearest to the annotation's centre.
      const FaceResult* best = nullptr;
      for (const FaceResult& face : r.faces) {
        EXPECT_TRUE(face.detected) << "a still must be detected, not followed from the previous image";
        const double d = (face.points.colwise().mean() - truth.colwise().mean()).norm();
        if (best == nullptr || d < (best->points.colwise().mean() - truth.colwise().mean()).norm())
          best = &face;
      }
      if (best == nullptr) continue;  // the detector missed it (both runs miss the same faces)
      sum[refine] += nme(best->points, truth, normalising_distance(truth, scheme.normalisation));
      ++faces;
    }
  }
  ASSERT_GT(faces, 70);
  const double plain = sum[0] / faces, refined = sum[1] / faces;
  EXPECT_LT(plain, 0.07);
  EXPECT_LT(refined, plain) << "plain " << plain << ", refined " << refined;
}

}  // namespace
}  // namespace lddmm

namespace lddmm {
namespace {

// A hand-built scene under a mirror of a 640-pixel-wide frame and under a scale and shift.
TEST(Scene, MappedByAMirrorAndByAScale) {
  Scene s;
  s.lines.push_back({Eigen::RowVector2d(10, 20), Eigen::RowVector2d(30, 40), colours::kCurve, 2, true});
  s.dots.push_back({Eigen::RowVector2d(0, 5), colours::kModelPoint, 3});
  s.labels.push_back({Eigen::RowVector2d(639, 7), "#1", colours::kDetected, 1});
  const Scene m = mapped_scene(s, mirror_map(640));
  EXPECT_EQ(m.lines[0].a, Eigen::RowVector2d(629, 20));
  EXPECT_EQ(m.lines[0].b, Eigen::RowVector2d(609, 40));
  EXPECT_EQ(m.lines[0].width, 2);
  EXPECT_TRUE(m.lines[0].arrow);
  EXPECT_EQ(m.dots[0].p, Eigen::RowVector2d(639, 5));
  EXPECT_EQ(m.labels[0].p, Eigen::RowVector2d(0, 7));
  EXPECT_EQ(m.labels[0].text, "#1");
  Affine2 a;
  a << 2, 0, -5, 0, 2, 1;
  EXPECT_EQ(mapped_scene(s, a).dots[0].p, Eigen::RowVector2d(-5, 11));
}

}  // namespace
}  // namespace lddmm

namespace lddmm {
namespace {

// A 2-cell grid by hand: 12 edges; an edge between two curves' regions left out; colours by det J^t.
TEST(Scene, GridLinesByHand) {
  Points nodes(9, 2);
  for (int i = 0; i < 9; ++i) nodes.row(i) << i % 3, i / 3;
  std::vector<double> det(9, 1.0);
  det[4] = 4;   // the centre node expands ×4: its edges have det 2 (red)
  det[8] = -1;  // a fold: its edges are black
  Scene s;
  grid_lines(s, nodes, 2, det, {});
  ASSERT_EQ(s.lines.size(), 12u);
  EXPECT_EQ(s.lines[0].colour, (Rgb{255, 255, 255}));  // 0-1: det 1
  EXPECT_EQ(s.lines[0].b, Eigen::RowVector2d(1, 0));
  const auto edge = [&](Eigen::RowVector2d a, Eigen::RowVector2d b) {
    for (const Scene::Line& l : s.lines)
      if (l.a == a && l.b == b) return l.colour;
    ADD_FAILURE() << "no edge";
    return Rgb{};
  };
  EXPECT_EQ(edge({1, 0}, {1, 1}), det_rgb(2));
  EXPECT_EQ(edge({2, 1}, {2, 2}), (Rgb{0, 0, 0}));
  Scene start;
  grid_lines(start, nodes, 2, det, {}, 0.0);  // t = 0: no deformation yet, but a fold is still a fold
  EXPECT_EQ(start.lines[1].colour, (Rgb{255, 255, 255}));
  std::vector<int64_t> curve(9, 0);
  curve[0] = 1;  // node 0 on another curve: its two edges go
  Scene torn;
  grid_lines(torn, nodes, 2, det, curve);
  EXPECT_EQ(torn.lines.size(), 10u);
  Scene wrong;
  grid_lines(wrong, nodes, 3, det, {});  // sizes that do not match: nothing drawn
  EXPECT_TRUE(wrong.lines.empty());
}

}  // namespace
}  // namespace lddmm
