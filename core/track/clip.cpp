#include "lddmm/track/clip.hpp"

#include <dlib/data_io/image_dataset_metadata.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <cmath>
#include <fstream>
#include <random>
#include <stdexcept>
#include <vector>

#include "lddmm/face/faces.hpp"
#include "lddmm/flow/points.hpp"
#include "lddmm/io/pts_io.hpp"
#include "lddmm/track/landmark_io.hpp"

namespace lddmm {
namespace fs = std::filesystem;
namespace {

double smoothstep(double a, double b, double t) {
  const double x = std::clamp((t - a) / (b - a), 0.0, 1.0);
  return x * x * (3 - 2 * x);
}

cv::VideoWriter open_video(const fs::path& video, double fps, cv::Size size) {
  const int fourcc = video.extension() == ".mp4" ? cv::VideoWriter::fourcc('m', 'p', '4', 'v')
                                                 : cv::VideoWriter::fourcc('M', 'J', 'P', 'G');
  cv::VideoWriter writer(video.string(), cv::CAP_FFMPEG, fourcc, fps, size);
  if (!writer.isOpened()) throw std::runtime_error(video.string() + ": cannot write the video");
  return writer;
}

cv::Mat to_cv(const Affine2& m) {
  cv::Mat warp(2, 3, CV_64F);
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 3; ++b) warp.at<double>(a, b) = m(a, b);
  return warp;
}

/// Writes the truth row of a face whose landmarks are all inside the frame; returns whether it did.
bool write_truth(LandmarkWriter& truth, int64_t frame, double time, int face, const Points& p,
                 cv::Size size) {
  const Eigen::RowVector2d lo = p.colwise().minCoeff(), hi = p.colwise().maxCoeff();
  if (lo.x() < 0 || lo.y() < 0 || hi.x() >= size.width || hi.y() >= size.height) return false;
  LandmarkRow r;
  r.frame = frame;
  r.time = time;
  r.face = face;
  r.box = landmark_box(p);
  r.box.score = 1;
  r.points = p;
  truth.write(r);
  return true;
}

/// A face to paste: a square cut around its landmarks (1.8 × their box), its landmarks in the cut's pixels,
/// and a feathered oval over the face and forehead (alpha, 0–1).
struct Sprite {
  cv::Mat image, alpha;
  Points points;
  double native = 0;  // the face's width in its photo
};

/// Whether dlib's detector finds the face of `s` upright at 100 and 140 px wide: the benchmark measures the
/// tracking policy, so its faces are ones the detector can see (profiles and blurred faces are left out).
bool detectable(const Sprite& s, const FaceDetector& detector) {
  const Box b = landmark_box(s.points);
  for (const double width : {100.0, 140.0}) {
    const double f = width / b.w;
    cv::Mat big;
    cv::resize(s.image, big, cv::Size(), f, f, f < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    const Box want{b.x * f, b.y * f, b.w * f, b.h * f, 0};
    const std::vector<Box> found = detector.detect(big, 0);
    if (std::none_of(found.begin(), found.end(), [&](const Box& d) { return iou(d, want) > 0.3; }))
      return false;
  }
  return true;
}

Sprite cut_sprite(const cv::Mat& photo, const Points& p) {
  const Box b = landmark_box(p);
  const double side = 1.8 * std::max(b.w, b.h);
  const int n = std::max(8, static_cast<int>(std::lround(side)));
  Affine2 m;  // photo → cut
  m << 1, 0, n / 2.0 - b.cx(), 0, 1, n / 2.0 - b.cy();
  Sprite s;
  s.native = b.w;
  cv::warpAffine(photo, s.image, to_cv(m), cv::Size(n, n), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  s.points = apply_affine(m, p);
  s.alpha = cv::Mat::zeros(n, n, CV_32F);
  const cv::Point2f centre(static_cast<float>(n / 2.0), static_cast<float>(n / 2.0 - 0.08 * b.h));
  cv::ellipse(
      s.alpha,
      cv::RotatedRect(centre, cv::Size2f(static_cast<float>(1.15 * b.w), static_cast<float>(1.45 * b.h)), 0),
      cv::Scalar(1.0), cv::FILLED);
  const double sigma = 0.06 * b.w;
  cv::GaussianBlur(s.alpha, s.alpha, cv::Size(), sigma);
  return s;
}

/// Faces to paste: val.txt's (every one in list order) and dlib's annotated photos', interleaved.
std::vector<Sprite> load_sprites(const WideClipOptions& o) {
  std::vector<Sprite> dlib_faces, val_faces;
  for (const char* xml : {"training_with_face_landmarks.xml", "testing_with_face_landmarks.xml"}) {
    if (!fs::exists(o.faces_dir / xml)) continue;
    for (const auto& [file, points] : dlib_annotated_faces(o.faces_dir / xml)) {
      const cv::Mat photo = cv::imread((o.faces_dir / fs::path(file).filename()).string(), cv::IMREAD_COLOR);
      if (!photo.empty()) dlib_faces.push_back(cut_sprite(photo, points));
    }
  }
  if (!o.data_dir.empty()) {
    std::ifstream list(o.data_dir / "val.txt");
    std::string line;
    while (std::getline(list, line) && val_faces.size() < 64) {
      if (line.empty()) continue;
      const fs::path image = o.data_dir / line;
      const cv::Mat photo = cv::imread(image.string(), cv::IMREAD_COLOR);
      if (!photo.empty())
        val_faces.push_back(cut_sprite(photo, read_pts(fs::path(image).replace_extension(".pts"))));
    }
  }
  std::vector<Sprite> all;
  const FaceDetector detector;
  for (size_t i = 0; i < std::max(dlib_faces.size(), val_faces.size()); ++i) {
    if (i < val_faces.size() && detectable(val_faces[i], detector)) all.push_back(val_faces[i]);
    if (i < dlib_faces.size() && detectable(dlib_faces[i], detector)) all.push_back(dlib_faces[i]);
  }
  if (all.empty())
    throw std::runtime_error(o.faces_dir.string() + ": no annotated faces (install libdlib-dev's examples)");
  return all;
}

/// The `n`-th face (cyclically) of those that `size` enlarges at most twice (sharp enough), else the largest.
const Sprite& pick_sprite(const std::vector<Sprite>& sprites, double size, size_t n) {
  std::vector<const Sprite*> sharp;
  for (const Sprite& s : sprites)
    if (s.native >= size / 2) sharp.push_back(&s);
  if (sharp.empty())
    return *std::max_element(sprites.begin(), sprites.end(),
                             [](const Sprite& a, const Sprite& b) { return a.native < b.native; });
  return *sharp[n % sharp.size()];
}

/// Pastes `s` through `m` (sprite → frame), blending with its alpha, only over the region it covers.
void paste(cv::Mat& frame, const Sprite& s, const Affine2& m) {
  const Points corners = apply_affine(
      m, (Points(4, 2) << 0, 0, s.image.cols, 0, 0, s.image.rows, s.image.cols, s.image.rows).finished());
  const Eigen::RowVector2d lo = corners.colwise().minCoeff(), hi = corners.colwise().maxCoeff();
  const cv::Rect roi =
      cv::Rect(cv::Point(static_cast<int>(std::floor(lo.x())), static_cast<int>(std::floor(lo.y()))),
               cv::Point(static_cast<int>(std::ceil(hi.x())) + 1, static_cast<int>(std::ceil(hi.y())) + 1)) &
      cv::Rect(0, 0, frame.cols, frame.rows);
  if (roi.empty()) return;
  Affine2 local = m;
  local(0, 2) -= roi.x;
  local(1, 2) -= roi.y;
  cv::Mat face, alpha;
  cv::warpAffine(s.image, face, to_cv(local), roi.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  cv::warpAffine(s.alpha, alpha, to_cv(local), roi.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                 cv::Scalar(0));
  cv::Mat dst = frame(roi), a3, blended;
  cv::cvtColor(alpha, a3, cv::COLOR_GRAY2BGR);
  cv::Mat f32, d32;
  face.convertTo(f32, CV_32FC3);
  dst.convertTo(d32, CV_32FC3);
  blended = d32 + a3.mul(f32 - d32);
  blended.convertTo(dst, CV_8UC3);
}

/// Where face j is at time t (centre, width, roll): a drift around its place, the events of
/// generate_wide_clip's comment, and the camera's pan.
struct Pose {
  Eigen::RowVector2d centre;
  double roll = 0;
};

Pose pose_at(int j, double t, const Eigen::RowVector2d& home, double size, double phase, cv::Size frame) {
  Pose p;
  p.centre = home + 0.15 * size *
                        Eigen::RowVector2d(std::sin(2 * M_PI * t / 4.0 + phase),
                                           std::cos(2 * M_PI * t / 5.0 + phase));
  if (j == 0) p.centre.x() -= (home.x() + size) * (1 - smoothstep(1.0, 2.5, t));  // enters from the left
  if (j == 1)
    p.centre.x() += (frame.width - home.x() + size) * smoothstep(3.0, 5.0, t);  // leaves to the right
  if (j == 2) p.roll = 60 * M_PI / 180 * (smoothstep(1.5, 2.5, t) - smoothstep(3.5, 4.5, t));
  p.centre.x() += 40 * std::sin(2 * M_PI * t / 6.0);  // the camera pans
  return p;
}

/// Places for the faces, apart from each other (their cuts do not overlap), from the seed.
std::vector<Eigen::RowVector2d> place_faces(const std::vector<double>& sizes, cv::Size frame, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<Eigen::RowVector2d> homes;
  for (size_t j = 0; j < sizes.size(); ++j) {
    const double r = 1.1 * sizes[j];
    Eigen::RowVector2d best(frame.width / 2.0, frame.height / 2.0);
    double best_gap = -1e9;
    for (int attempt = 0; attempt < 400; ++attempt) {
      const double x =
          r + 60 +
          std::uniform_real_distribution<double>(0, 1)(rng) * std::max(1.0, frame.width - 2 * r - 120);
      const double y =
          r + std::uniform_real_distribution<double>(0, 1)(rng) * std::max(1.0, frame.height - 2 * r);
      double gap = 1e9;
      for (size_t i = 0; i < homes.size(); ++i)
        gap = std::min(gap, (homes[i] - Eigen::RowVector2d(x, y)).norm() - 1.1 * (sizes[i] + sizes[j]));
      if (gap > best_gap) {
        best_gap = gap;
        best = {x, y};
      }
      if (gap > 0) break;
    }
    homes.push_back(best);
  }
  return homes;
}
}  // namespace

std::vector<std::pair<std::string, Points>> dlib_annotated_faces(const fs::path& xml) {
  dlib::image_dataset_metadata::dataset data;
  try {
    dlib::image_dataset_metadata::load_image_dataset_metadata(data, xml.string());
  } catch (const std::exception& e) {
    throw std::runtime_error(xml.string() + ": cannot read the annotations (" + e.what() + ")");
  }
  std::vector<std::pair<std::string, Points>> faces;
  for (const auto& img : data.images)
    for (const auto& box : img.boxes) {
      if (box.parts.size() != 68) continue;
      Points p(68, 2);
      for (int i = 0; i < 68; ++i) {
        char name[4];
        std::snprintf(name, sizeof name, "%02d", i);
        const auto it = box.parts.find(name);
        if (it == box.parts.end()) throw std::runtime_error(xml.string() + ": a face lacks part " + name);
        p(i, 0) = static_cast<double>(it->second.x());
        p(i, 1) = static_cast<double>(it->second.y());
      }
      faces.emplace_back(img.filename, p);
    }
  return faces;
}

ClipInfo generate_clip(const ClipOptions& o, const fs::path& video, const fs::path& truth_csv) {
  const fs::path xml = o.faces_dir / o.annotations, photo_file = o.faces_dir / o.image;
  if (!fs::exists(xml) || !fs::exists(photo_file))
    throw std::runtime_error(photo_file.string() +
                             " or its annotations are missing (install libdlib-dev's examples: "
                             "apt install libdlib-dev)");
  std::vector<Points> faces;
  for (const auto& [file, points] : dlib_annotated_faces(xml))
    if (fs::path(file).filename() == o.image) faces.push_back(points);
  if (faces.empty()) throw std::runtime_error(xml.string() + ": no 68-point faces for " + o.image);
  const cv::Mat photo = cv::imread(photo_file.string(), cv::IMREAD_COLOR);
  if (photo.empty()) throw std::runtime_error(photo_file.string() + ": cannot read the image");

  // Look at the middle of the annotated faces.
  Eigen::RowVector2d look(0, 0);
  for (const Points& p : faces) look += p.colwise().mean();
  look /= static_cast<double>(faces.size());

  cv::VideoWriter writer = open_video(video, o.fps, cv::Size(o.width, o.height));
  auto truth = make_landmark_writer(LandmarkFormat::Csv, truth_csv, "300w68", 68, photo_file.string());

  ClipInfo info;
  info.faces = static_cast<int>(faces.size());
  for (int k = 0; k < o.frames; ++k) {
    const double t = k / o.fps;
    // Camera: zoom, roll and pan, with a fast whip pan (6.0–6.4 s) and its return (8.0–8.5 s).
    const double zoom = 1.55 + 0.22 * std::sin(2 * M_PI * t / 6.0);
    const double roll = (10.0 * std::sin(2 * M_PI * t / 4.5)) * M_PI / 180.0;
    const double whip = 55.0 * (smoothstep(6.0, 6.4, t) - smoothstep(8.0, 8.5, t));
    const Eigen::RowVector2d centre = look + Eigen::RowVector2d(28 * std::sin(2 * M_PI * t / 5.0) + whip,
                                                                14 * std::sin(2 * M_PI * t / 3.3 + 1));
    const double c = std::cos(roll) * zoom, s = std::sin(roll) * zoom;
    Affine2 m;  // photo → frame: rotate and scale about `centre`, put it at the frame's centre
    m << c, -s, o.width / 2.0 - (c * centre.x() - s * centre.y()), s, c,
        o.height / 2.0 - (s * centre.x() + c * centre.y());
    const cv::Mat warp = to_cv(m);
    cv::Mat frame;
    cv::warpAffine(photo, frame, warp, cv::Size(o.width, o.height), cv::INTER_LINEAR, cv::BORDER_REFLECT101);
    const double gain = 1.0 + 0.2 * std::sin(2 * M_PI * t / 3.7), bias = 12.0 * std::sin(2 * M_PI * t / 5.3);
    frame.convertTo(frame, -1, gain, bias);
    writer.write(frame);
    for (size_t f = 0; f < faces.size(); ++f)
      info.truth_rows += write_truth(*truth, k, t, static_cast<int>(f) + 1, apply_affine(m, faces[f]),
                                     cv::Size(o.width, o.height))
                             ? 1
                             : 0;
    truth->end_frame(k, t);
    ++info.frames;
  }
  truth->finish();
  writer.release();
  return info;
}

ClipInfo generate_wide_clip(const WideClipOptions& o, const fs::path& video, const fs::path& truth_csv) {
  if (o.sizes.empty()) throw std::runtime_error("generate_wide_clip: no face sizes");
  const std::vector<Sprite> sprites = load_sprites(o);
  const cv::Size size(o.width, o.height);
  cv::Mat background = cv::imread((o.faces_dir / "dogs.jpg").string(), cv::IMREAD_COLOR);
  if (background.empty()) background = cv::Mat(64, 64, CV_8UC3, cv::Scalar(90, 110, 120));
  // A background wider than the frame by the pan, softened so that it is scenery, not faces.
  cv::resize(background, background, cv::Size(o.width + 160, o.height), 0, 0, cv::INTER_LINEAR);
  cv::GaussianBlur(background, background, cv::Size(), 3.0);
  const std::vector<Eigen::RowVector2d> homes = place_faces(o.sizes, size, o.seed);
  cv::VideoWriter writer = open_video(video, o.fps, size);
  auto truth = make_landmark_writer(LandmarkFormat::Csv, truth_csv, "300w68", 68, "generated wide shot");
  ClipInfo info;
  info.faces = static_cast<int>(o.sizes.size());
  for (int k = 0; k < o.frames; ++k) {
    const double t = k / o.fps;
    const int pan = static_cast<int>(std::lround(80 + 40 * std::sin(2 * M_PI * t / 6.0)));
    cv::Mat frame = background(cv::Rect(160 - pan, 0, o.width, o.height)).clone();
    for (size_t j = 0; j < o.sizes.size(); ++j) {
      const Sprite& s = pick_sprite(sprites, o.sizes[j], j + o.seed);
      const Box b = landmark_box(s.points);
      const Pose p =
          pose_at(static_cast<int>(j), t, homes[j], o.sizes[j], 1.7 * static_cast<double>(j), size);
      const double scale = o.sizes[j] / b.w, c = std::cos(p.roll) * scale, sn = std::sin(p.roll) * scale;
      Affine2 m;  // sprite → frame: scale and turn about the landmark box centre, put it at the pose's centre
      m << c, -sn, p.centre.x() - (c * b.cx() - sn * b.cy()), sn, c,
          p.centre.y() - (sn * b.cx() + c * b.cy());
      paste(frame, s, m);
      info.truth_rows +=
          write_truth(*truth, k, t, static_cast<int>(j) + 1, apply_affine(m, s.points), size) ? 1 : 0;
    }
    writer.write(frame);
    truth->end_frame(k, t);
    ++info.frames;
  }
  truth->finish();
  writer.release();
  return info;
}

}  // namespace lddmm
