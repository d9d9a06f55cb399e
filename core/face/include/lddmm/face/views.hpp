// The views of a face the network is shown: its upright box, and the scales of the views that are averaged.
#pragma once

#include <Eigen/Core>

#include "lddmm/flow/points.hpp"
#include "lddmm/flow/scheme.hpp"

namespace lddmm {

/// A face's square box in its own upright frame: `angle` is its eye axis's angle to the x axis (radians;
/// the scheme's normalisation pair), `side` the larger extent of its points in the frame turned by −angle,
/// `centre` that frame's box centre in image pixels. Cropping around it turned by −angle (FaceDataset::
/// sample's `angle`, the tracker's crops) shows the face upright whatever its roll.
struct UprightBox {
  Eigen::RowVector2d centre{0, 0};
  double side = 0, angle = 0;
};
UprightBox upright_box(const Points& points, const Scheme& scheme);

/// The crop scale of view k of a face (k = 0 the first) when its views are averaged (`evaluate`'s
/// alternating refinement, the tracker's new faces): views come in pairs, the crop then its mirror image,
/// and the pairs see the face's upright box (upright_box) × 1, 0.9, 1.1, 0.8, 1.2, … about its centre
/// (different crops of the face give less correlated errors than the same crop again: val.txt, 128 px, six
/// views 3.25 % against 3.28 at one scale).
double view_scale(int k);

}  // namespace lddmm
