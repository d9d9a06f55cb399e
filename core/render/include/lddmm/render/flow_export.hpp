// The teaching view's flow t = 0 → 1 taken out of the app: an animation (MP4, WebM or AVI) and a strip of
// panels at t = 0, ¼, ½, ¾, 1, for slides and handouts. Each frame is the background's region around the
// flow, scaled, with the teaching scene painted on it.
#pragma once

#include <opencv2/core.hpp>

#include <filesystem>

#include "lddmm/flow/points.hpp"
#include "lddmm/flow/scheme.hpp"
#include "lddmm/render/scene.hpp"
#include "lddmm/render/teaching.hpp"

namespace lddmm {

struct FlowExportOptions {
  int frames = 61;       // the animation's frames: t = k / (frames - 1)
  double fps = 30;       // its frame rate
  int panels = 5;        // the strip's panels: t = k / (panels - 1)
  int side = 720;        // the output's shorter side, pixels (the region scaled to it) ...
  int max_side = 1920;   // ... and its longer side at most this many
  double margin = 0.15;  // around everything the flow moves (points, grid), a fraction of its size
};

/// The part of the image an export shows and its size there: output pixel = (image pixel − region's
/// corner) × scale. Width and height are even (H.264 needs them so).
struct FlowView {
  cv::Rect2d region;
  double scale = 1;
  cv::Size size;
};

/// The region around everything `flow` moves at any t (template, points, grid, carried and extra
/// points) with the margin; what lies outside `image` is drawn grey.
FlowView flow_view(const TeachingFlow& flow, cv::Size image, const FlowExportOptions& options);

/// The frame at time t: the background's region (grey where it has none) with the teaching scene.
cv::Mat flow_frame(const cv::Mat& background, const FlowView& view, const Scheme& scheme,
                   const TeachingFlow& flow, const SceneOptions& options, double t);

/// Writes the animation t = 0 → 1 as a video whose format follows the extension (.mp4 H.264, .webm VP9,
/// .avi Motion JPEG), under a `.partial` name until it is complete. Throws std::runtime_error (one line).
void write_flow_animation(const std::filesystem::path& out, const cv::Mat& background, const Scheme& scheme,
                          const TeachingFlow& flow, const SceneOptions& options,
                          const FlowExportOptions& export_options = {});

/// The panels t = 0, 1/(panels-1), …, 1 side by side, each with its time written under it.
cv::Mat flow_strip(const cv::Mat& background, const Scheme& scheme, const TeachingFlow& flow,
                   const SceneOptions& options, const FlowExportOptions& export_options = {});

/// write_flow_animation for a video, flow_strip saved as an image for .png/.jpg. Throws std::runtime_error.
void export_flow(const std::filesystem::path& out, const cv::Mat& background, const Scheme& scheme,
                 const TeachingFlow& flow, const SceneOptions& options,
                 const FlowExportOptions& export_options = {});

}  // namespace lddmm
