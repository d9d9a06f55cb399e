// What an overlay shows, as plain drawing primitives in image pixels: the tracker's results turned into
// lines, dots, arrows and labels with their colours. The OpenCV overlay video and the Qt view both paint
// a Scene, so what is drawn (and its colours) is decided once, here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lddmm/flow/points.hpp"
#include "lddmm/flow/scheme.hpp"
#include "lddmm/track/tracker.hpp"

namespace lddmm {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
};

/// Colour of a Jacobian determinant: blue for compression, white for 1, red for expansion (log scale,
/// saturating at ×2 and ×½), black for det ≤ 0 (a fold: never for a diffeomorphism).
Rgb det_rgb(double det);

struct SceneOptions {
  bool landmarks = true;
  bool indices = false;  // point numbers beside the landmarks
  bool curves = true;    // the deformed curves
  bool template_curves = false;
  bool momenta = true;
  double momentum_scale = 1.0;  // arrow length = scale × |α| (image pixels)
  bool trajectories = false;
  bool grid = true;
  bool boxes = true;
  bool pose_axes = false;                 // head pose: x, y, z axes of the head drawn from the nose tip
  int frame_width = 0, frame_height = 0;  // the frame's size, for the pose's camera (0: no pose axes)
};

struct Scene {
  struct Line {
    Eigen::RowVector2d a, b;
    Rgb colour;
    double width = 1;  // in units of the base line width
    bool arrow = false;
  };
  struct Dot {
    Eigen::RowVector2d p;
    Rgb colour;
    double radius = 2;
  };
  struct Label {
    Eigen::RowVector2d p;
    std::string text;
    Rgb colour;
    double size = 1;
  };
  std::vector<Line> lines;  // in drawing order: grid, trajectories, template, curves, momenta, boxes
  std::vector<Dot> dots;
  std::vector<Label> labels;
};

namespace colours {
inline constexpr Rgb kCurve{0, 190, 0}, kTemplate{150, 150, 150}, kMomentum{0, 80, 255},
    kTrajectory{255, 200, 0}, kModelPoint{0, 255, 0}, kAddedPoint{255, 0, 0}, kDetected{255, 220, 0},
    kFollowed{0, 200, 255}, kAxisX{255, 40, 40}, kAxisY{40, 220, 40}, kAxisZ{40, 120, 255};
}

/// The grid's edges between neighbouring nodes ((cells + 1)² of them, row by row), each coloured by det J
/// (the geometric mean of its two nodes', raised to `t`: the teaching view's time); with `curve` (the
/// per-curve grid's carrying curve per node) an edge between two curves' regions is left out.
void grid_lines(Scene& s, const Points& nodes, int cells, const std::vector<double>& det,
                const std::vector<int64_t>& curve, double t = 1);

/// The scene's primitives moved by the affine `map` (for example image → output pixels, or a mirror);
/// widths and sizes are kept, labels' text still reads left to right.
Scene mapped_scene(const Scene& scene, const Affine2& map);

/// The map of a horizontal mirror of an image `width` pixels wide: x → width − 1 − x (pixel centres).
Affine2 mirror_map(int width);

/// The head's axes (60 mm: x red, y green, z blue, OpenCV's colours) from the nose tip, under the pose
/// fitted to `points68` with the camera guessed from the frame size; nothing when no pose is found.
void pose_axes_lines(Scene& s, const Points& points68, int frame_width, int frame_height);

/// The scene of one frame. `model` is the scheme the flow and raw points are in, `output` the scheme of
/// the reported points (drawn green when they are the model's own points, red when they were added by
/// the flow: another or a dense scheme, like the paper's figures).
Scene build_scene(const FrameResult& result, const Scheme& model, const Scheme& output,
                  const SceneOptions& options);

}  // namespace lddmm
