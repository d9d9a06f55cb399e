// Painting an overlay Scene onto a frame with OpenCV (the overlay video of `annotate`).
#pragma once

#include <opencv2/core.hpp>

#include "lddmm/render/scene.hpp"
#include "lddmm/track/tracker.hpp"

namespace lddmm {

/// Paints `scene` onto `canvas` (BGR); `line_width` is the base width in pixels.
void paint_scene(cv::Mat& canvas, const Scene& scene, double line_width = 1.0);

/// build_scene + paint_scene, the line width following the frame size.
void draw_result(cv::Mat& canvas, const FrameResult& result, const Scheme& model, const Scheme& output,
                 const SceneOptions& options = {});

}  // namespace lddmm
