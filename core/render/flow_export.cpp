#include "lddmm/render/flow_export.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "lddmm/io/safe_output.hpp"
#include "lddmm/render/render.hpp"

namespace lddmm {
namespace {

const cv::Scalar kNoImage(64, 64, 64);

void extend(Eigen::RowVector2d& lo, Eigen::RowVector2d& hi, const std::vector<Points>& path) {
  for (const Points& p : path) {
    if (p.rows() == 0 || !p.allFinite()) continue;
    lo = lo.cwiseMin(p.colwise().minCoeff());
    hi = hi.cwiseMax(p.colwise().maxCoeff());
  }
}

int even(double v) { return std::max(2, 2 * static_cast<int>(std::lround(v / 2))); }

std::string lower_extension(const std::filesystem::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e;
}

// The codecs to try for a container, best first (the second where the first is not built in).
std::vector<int> codecs_for(const std::string& ext) {
  using W = cv::VideoWriter;
  if (ext == ".mp4") return {W::fourcc('a', 'v', 'c', '1'), W::fourcc('m', 'p', '4', 'v')};
  if (ext == ".webm") return {W::fourcc('V', 'P', '9', '0'), W::fourcc('V', 'P', '8', '0')};
  if (ext == ".avi") return {W::fourcc('M', 'J', 'P', 'G')};
  return {};
}

}  // namespace

FlowView flow_view(const TeachingFlow& f, cv::Size image, const FlowExportOptions& o) {
  Eigen::RowVector2d lo = Eigen::RowVector2d::Constant(1e300), hi = -lo;
  for (const auto* path : {&f.points, &f.grid, &f.carried, &f.extra}) extend(lo, hi, *path);
  if (!(lo.x() <= hi.x())) {  // nothing to show: the whole image
    lo.setZero();
    hi << std::max(1, image.width), std::max(1, image.height);
  }
  const double side = std::max({hi.x() - lo.x(), hi.y() - lo.y(), 1.0});
  lo.array() -= o.margin * side;
  hi.array() += o.margin * side;
  FlowView v;
  v.region = cv::Rect2d(lo.x(), lo.y(), hi.x() - lo.x(), hi.y() - lo.y());
  const double shorter = std::min(v.region.width, v.region.height);
  const double longer = std::max(v.region.width, v.region.height);
  v.scale = o.side / shorter;
  if (longer * v.scale > o.max_side) v.scale = o.max_side / longer;
  v.size = cv::Size(even(v.region.width * v.scale), even(v.region.height * v.scale));
  return v;
}

cv::Mat flow_frame(const cv::Mat& background, const FlowView& v, const Scheme& scheme, const TeachingFlow& f,
                   const SceneOptions& options, double t) {
  Affine2 to_out;
  to_out << v.scale, 0, -v.region.x * v.scale, 0, v.scale, -v.region.y * v.scale;
  cv::Mat out(v.size, CV_8UC3, kNoImage);
  if (!background.empty()) {
    const cv::Mat m =
        (cv::Mat_<double>(2, 3) << to_out(0, 0), 0, to_out(0, 2), 0, to_out(1, 1), to_out(1, 2));
    cv::warpAffine(background, out, m, v.size, cv::INTER_LINEAR, cv::BORDER_CONSTANT, kNoImage);
  }
  const double width = std::max(1.0, std::min(v.size.width, v.size.height) / 360.0);
  paint_scene(out, mapped_scene(teaching_scene(scheme, f, t, options), to_out), width);
  return out;
}

void write_flow_animation(const std::filesystem::path& out, const cv::Mat& background, const Scheme& scheme,
                          const TeachingFlow& f, const SceneOptions& options, const FlowExportOptions& o) {
  const std::vector<int> codecs = codecs_for(lower_extension(out));
  if (codecs.empty())
    throw std::runtime_error(out.string() + ": unknown video format (use .mp4, .webm or .avi)");
  if (o.frames < 2) throw std::runtime_error("an animation needs at least 2 frames");
  const FlowView v = flow_view(f, background.size(), o);
  const std::filesystem::path partial = partial_path(out);
  cv::VideoWriter w;
  for (const int codec : codecs)
    if (w.open(partial.string(), cv::CAP_FFMPEG, codec, o.fps, v.size)) break;
  if (!w.isOpened()) throw std::runtime_error(out.string() + ": cannot write the video");
  for (int k = 0; k < o.frames; ++k)
    w.write(flow_frame(background, v, scheme, f, options, static_cast<double>(k) / (o.frames - 1)));
  w.release();
  commit_partial(out);
}

cv::Mat flow_strip(const cv::Mat& background, const Scheme& scheme, const TeachingFlow& f,
                   const SceneOptions& options, const FlowExportOptions& o) {
  if (o.panels < 2) throw std::runtime_error("a strip needs at least 2 panels");
  const FlowView v = flow_view(f, background.size(), o);
  const int gap = std::max(4, v.size.width / 60), band = std::max(24, v.size.height / 10);
  cv::Mat strip(v.size.height + band, o.panels * v.size.width + (o.panels - 1) * gap, CV_8UC3,
                cv::Scalar(255, 255, 255));
  const double text = band / 40.0;
  for (int k = 0; k < o.panels; ++k) {
    const double t = static_cast<double>(k) / (o.panels - 1);
    const int x = k * (v.size.width + gap);
    flow_frame(background, v, scheme, f, options, t)
        .copyTo(strip(cv::Rect(x, 0, v.size.width, v.size.height)));
    char label[32];
    std::snprintf(label, sizeof label, "t = %.2g", t);
    const int thick = std::max(1, static_cast<int>(text * 2));
    const cv::Size ts = cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, text, thick, nullptr);
    cv::putText(strip, label,
                cv::Point(x + (v.size.width - ts.width) / 2, strip.rows - (band - ts.height) / 2),
                cv::FONT_HERSHEY_SIMPLEX, text, cv::Scalar(0, 0, 0), thick, cv::LINE_AA);
  }
  return strip;
}

void export_flow(const std::filesystem::path& out, const cv::Mat& background, const Scheme& scheme,
                 const TeachingFlow& f, const SceneOptions& options, const FlowExportOptions& o) {
  const std::string ext = lower_extension(out);
  if (ext != ".png" && ext != ".jpg" && ext != ".jpeg") {
    write_flow_animation(out, background, scheme, f, options, o);
    return;
  }
  const cv::Mat strip = flow_strip(background, scheme, f, options, o);
  const std::filesystem::path partial = partial_path(out);
  if (!cv::imwrite(partial.string(), strip))
    throw std::runtime_error(out.string() + ": cannot write the image");
  commit_partial(out);
}

}  // namespace lddmm
