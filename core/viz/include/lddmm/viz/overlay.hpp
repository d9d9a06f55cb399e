// Drawing a flow over an image with OpenCV: template and deformed curves, landmarks, momenta arrows,
// trajectories and the deformed grid coloured by det J. Used by the command line (and the overlay video).
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <vector>

#include "lddmm/core/points.hpp"
#include "lddmm/core/scheme.hpp"

namespace lddmm {

struct FlowDrawing {
  Points template_points;          // x(0)
  Points points;                   // x(1)
  Points momenta;                  // α(0), drawn at x(0)
  std::vector<Points> trajectory;  // x(t_k) for k = 0..T (may be empty)
  Points grid;                     // deformed grid nodes, (cells + 1)² (may be empty)
  std::vector<double> grid_det;    // det J per node
  std::vector<int64_t>
      grid_curve;  // carrying curve per node: edges between two curves' regions are not drawn
  int grid_cells = 0;
};

struct DrawOptions {
  bool show_template = true;
  bool show_grid = true;
  bool show_momenta = true;
  bool show_trajectories = true;
  double momentum_scale = 1.0;  // arrow length = scale × |α|
  int thickness = 1;
};

/// Colour of a Jacobian determinant: blue for compression, white for 1, red for expansion (log scale,
/// saturating at ×2), black for det ≤ 0 (a fold: never for a diffeomorphism).
cv::Scalar det_colour(double det);

/// Draws onto `canvas`; `to_canvas` maps the drawing's coordinates to canvas pixels.
void draw_flow(cv::Mat& canvas, const Scheme& scheme, const FlowDrawing& drawing, const Affine2& to_canvas,
               const DrawOptions& options = {});

}  // namespace lddmm
