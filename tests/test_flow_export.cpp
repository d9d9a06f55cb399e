// The flow's export: the animation's frame count and first frame (the template), the strip's panels at
// t = 0, ¼, ½, ¾, 1, the view around the flow, and a clear error for an unknown format.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "lddmm/io/scheme_files.hpp"
#include "lddmm/render/flow_export.hpp"
#include "lddmm/render/teaching.hpp"
#include "scratch_dir.hpp"

namespace lddmm {
namespace {

struct Synthetic {
  Scheme scheme = find_scheme("300w68");
  TeachingFlow flow;
  Synthetic() {
    const Points tmpl = scheme.mean_face.points.array() + 20;  // a face of about 200 px
    Points mom = Points::Zero(68, 2);
    for (Eigen::Index i = 0; i < 68; ++i) mom.row(i) << 5 * std::sin(0.3 * i), 4 * std::cos(0.2 * i);
    TeachingOptions o;
    o.grid_cells = 8;
    flow = teach_flow(scheme, tmpl, mom, Points(0, 2), o);
  }
};

SceneOptions curves_only() {
  SceneOptions o;
  o.grid = o.momenta = o.landmarks = o.template_curves = o.trajectories = false;
  o.curves = true;
  return o;
}

// Fraction of the frame's curve-green pixels within `tol` pixels of the curves through `pts` (image pixels),
// the curves drawn here with cv::polylines after mapping by the view.
double on_curves(const cv::Mat& frame, const Scheme& s, const Points& pts, const FlowView& v, double tol) {
  cv::Mat lines(frame.size(), CV_8U, cv::Scalar(255));
  for (const Curve& c : s.curves) {
    std::vector<cv::Point> poly;
    for (const int i : c.points)
      poly.emplace_back(cvRound((pts(i, 0) - v.region.x) * v.scale),
                        cvRound((pts(i, 1) - v.region.y) * v.scale));
    cv::polylines(lines, poly, c.closed, cv::Scalar(0), 1);
  }
  cv::Mat dist;
  cv::distanceTransform(lines, dist, cv::DIST_L2, 3);
  int green = 0, near = 0;
  for (int y = 0; y < frame.rows; ++y)
    for (int x = 0; x < frame.cols; ++x) {
      const cv::Vec3b p = frame.at<cv::Vec3b>(y, x);  // BGR
      if (p[1] < 120 || p[1] - std::max(p[0], p[2]) < 60) continue;
      ++green;
      if (dist.at<float>(y, x) <= tol) ++near;
    }
  EXPECT_GT(green, 500) << "no curves drawn";
  return green > 0 ? static_cast<double>(near) / green : 0;
}

TEST(FlowExport, AnimationHasItsFramesAndStartsAtTheTemplate) {
  const Synthetic syn;
  const testing::ScratchDir dir;
  FlowExportOptions o;
  o.frames = 12;
  const auto out = dir / "flow.mp4";
  write_flow_animation(out, cv::Mat(), syn.scheme, syn.flow, curves_only(), o);
  EXPECT_FALSE(std::filesystem::exists(dir / "flow.partial.mp4"));
  cv::VideoCapture cap(out.string());
  ASSERT_TRUE(cap.isOpened());
  std::vector<cv::Mat> frames;
  for (cv::Mat m; cap.read(m);) frames.push_back(m.clone());
  ASSERT_EQ(frames.size(), 12u);
  const FlowView v = flow_view(syn.flow, cv::Size(), o);
  ASSERT_EQ(frames.front().size(), v.size);
  const Points& tmpl = syn.flow.points.front();
  const Points& end = syn.flow.points.back();
  EXPECT_GT(on_curves(frames.front(), syn.scheme, tmpl, v, 3), 0.95);  // the template
  EXPECT_GT(on_curves(frames.back(), syn.scheme, end, v, 3), 0.95);    // the deformed curves
  EXPECT_LT(on_curves(frames.back(), syn.scheme, tmpl, v, 3), 0.6);    // ... which are not the template
}

TEST(FlowExport, StripPanelsAreTheQuarterTimes) {
  const Synthetic syn;
  FlowExportOptions o;
  const FlowView v = flow_view(syn.flow, cv::Size(), o);
  const cv::Mat strip = flow_strip(cv::Mat(), syn.scheme, syn.flow, curves_only(), o);
  const int gap = (strip.cols - 5 * v.size.width) / 4;
  ASSERT_EQ(strip.cols, 5 * v.size.width + 4 * gap);
  ASSERT_GT(strip.rows, v.size.height);  // the times are written under the panels
  // The teaching flow has 8 steps: t = k/4 is step 2k, exactly.
  ASSERT_EQ(syn.flow.points.size(), 9u);
  for (int k = 0; k < 5; ++k) {
    const cv::Mat panel = strip(cv::Rect(k * (v.size.width + gap), 0, v.size.width, v.size.height));
    EXPECT_GT(on_curves(panel, syn.scheme, syn.flow.points[static_cast<size_t>(2 * k)], v, 3), 0.95) << k;
    if (k == 4) {
      EXPECT_LT(on_curves(panel, syn.scheme, syn.flow.points.front(), v, 3), 0.6);
    }
  }
}

TEST(FlowExport, ViewHoldsEverythingTheFlowMovesAndIsEven) {
  const Synthetic syn;
  FlowExportOptions o;
  const FlowView v = flow_view(syn.flow, cv::Size(640, 480), o);
  EXPECT_EQ(v.size.width % 2, 0);
  EXPECT_EQ(v.size.height % 2, 0);
  EXPECT_NEAR(std::min(v.size.width, v.size.height), o.side, 2);
  for (const auto* path : {&syn.flow.points, &syn.flow.grid})
    for (const Points& p : *path)
      for (Eigen::Index i = 0; i < p.rows(); ++i) {
        const double x = (p(i, 0) - v.region.x) * v.scale, y = (p(i, 1) - v.region.y) * v.scale;
        EXPECT_TRUE(x > 0 && y > 0 && x < v.size.width && y < v.size.height) << x << ", " << y;
      }
  o.max_side = 300;
  EXPECT_LE(
      std::max(flow_view(syn.flow, cv::Size(), o).size.width, flow_view(syn.flow, cv::Size(), o).size.height),
      300);
}

TEST(FlowExport, UnknownFormatIsAClearErrorAndWritesNothing) {
  const Synthetic syn;
  const testing::ScratchDir dir;
  try {
    export_flow(dir / "flow.gif", cv::Mat(), syn.scheme, syn.flow, SceneOptions{});
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown video format"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

}  // namespace
}  // namespace lddmm
