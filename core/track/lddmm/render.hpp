// Drawing a tracker result over its frame with OpenCV (the overlay video of `annotate`): curves, points,
// momenta, trajectories, the deformed grid, boxes and ids.
#pragma once

#include <opencv2/core.hpp>

#include "lddmm/overlay.hpp"
#include "lddmm/tracker.hpp"

namespace lddmm {

struct OverlayOptions {
  DrawOptions flow;  // template, grid, momenta, trajectories (when the result carries a flow)
  bool show_points = true;
  bool show_boxes = true;
};

/// Draws every face of `result` on `canvas`. `model` is the scheme the flow is in; output points are drawn
/// green when they are the model's own points and red when they were added (another or a dense scheme).
void draw_result(cv::Mat& canvas, const FrameResult& result, const Scheme& model, const Scheme& output,
                 const OverlayOptions& options = {});

}  // namespace lddmm
