#include "lddmm/clip.hpp"

#include <dlib/data_io/image_dataset_metadata.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "lddmm/faces.hpp"
#include "lddmm/landmark_io.hpp"
#include "lddmm/points.hpp"

namespace lddmm {
namespace fs = std::filesystem;
namespace {

double smoothstep(double a, double b, double t) {
  const double x = std::clamp((t - a) / (b - a), 0.0, 1.0);
  return x * x * (3 - 2 * x);
}

}  // namespace

ClipInfo generate_clip(const ClipOptions& o, const fs::path& video, const fs::path& truth_csv) {
  const fs::path xml = o.faces_dir / o.annotations, photo_file = o.faces_dir / o.image;
  if (!fs::exists(xml) || !fs::exists(photo_file))
    throw std::runtime_error(photo_file.string() +
                             " or its annotations are missing (install libdlib-dev's examples: "
                             "apt install libdlib-dev)");
  dlib::image_dataset_metadata::dataset data;
  try {
    dlib::image_dataset_metadata::load_image_dataset_metadata(data, xml.string());
  } catch (const std::exception& e) {
    throw std::runtime_error(xml.string() + ": cannot read the annotations (" + e.what() + ")");
  }
  std::vector<Points> faces;
  for (const auto& img : data.images) {
    if (fs::path(img.filename).filename() != o.image) continue;
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
      faces.push_back(p);
    }
  }
  if (faces.empty()) throw std::runtime_error(xml.string() + ": no 68-point faces for " + o.image);
  const cv::Mat photo = cv::imread(photo_file.string(), cv::IMREAD_COLOR);
  if (photo.empty()) throw std::runtime_error(photo_file.string() + ": cannot read the image");

  // Look at the middle of the annotated faces.
  Eigen::RowVector2d look(0, 0);
  for (const Points& p : faces) look += p.colwise().mean();
  look /= static_cast<double>(faces.size());

  const std::string ext = video.extension().string();
  const int fourcc = ext == ".mp4" ? cv::VideoWriter::fourcc('m', 'p', '4', 'v')
                                   : cv::VideoWriter::fourcc('M', 'J', 'P', 'G');
  cv::VideoWriter writer(video.string(), cv::CAP_FFMPEG, fourcc, o.fps, cv::Size(o.width, o.height));
  if (!writer.isOpened()) throw std::runtime_error(video.string() + ": cannot write the video");
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
    cv::Mat warp(2, 3, CV_64F);
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 3; ++b) warp.at<double>(a, b) = m(a, b);
    cv::Mat frame;
    cv::warpAffine(photo, frame, warp, cv::Size(o.width, o.height), cv::INTER_LINEAR, cv::BORDER_REFLECT101);
    const double gain = 1.0 + 0.2 * std::sin(2 * M_PI * t / 3.7), bias = 12.0 * std::sin(2 * M_PI * t / 5.3);
    frame.convertTo(frame, -1, gain, bias);
    writer.write(frame);
    for (size_t f = 0; f < faces.size(); ++f) {
      const Points p = apply_affine(m, faces[f]);
      const Eigen::RowVector2d lo = p.colwise().minCoeff(), hi = p.colwise().maxCoeff();
      if (lo.x() < 0 || lo.y() < 0 || hi.x() >= o.width || hi.y() >= o.height) continue;
      LandmarkRow r;
      r.frame = k;
      r.time = t;
      r.face = static_cast<int>(f) + 1;
      r.box = landmark_box(p);
      r.box.score = 1;
      r.points = p;
      truth->write(r);
      ++info.truth_rows;
    }
    truth->end_frame(k, t);
    ++info.frames;
  }
  truth->finish();
  writer.release();
  return info;
}

}  // namespace lddmm
