// COFW (Caltech Occluded Faces in the Wild) from its MATLAB files: COFW_train.mat / COFW_test.mat
// (grey) or the *_color.mat versions, read with matio (MAT 5 and 7.3). Each holds a cell array of images
// (IsTr / IsT), a face × 87 matrix of 29 x, 29 y and 29 occlusion flags (phisTr / phisT) and face boxes
// (bboxesTr / bboxesT, x y w h, 1-based MATLAB pixels).
#pragma once

#include <opencv2/core.hpp>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "lddmm/face/faces.hpp"
#include "lddmm/flow/points.hpp"

namespace lddmm {

struct CofwFace {
  cv::Mat image;               // BGR 8-bit (grey images are expanded)
  Points points;               // 29 × 2, 0-based pixel coordinates
  std::vector<bool> occluded;  // per point
  Box box;                     // 0-based
};

class CofwError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads all faces of a COFW .mat file. The variable names are found by their prefix ("IsTr", "phisTr",
/// "bboxesTr" or "IsT", "phisT", "bboxesT"). Throws CofwError naming the file and what is wrong.
std::vector<CofwFace> read_cofw(const std::filesystem::path& file);

}  // namespace lddmm
