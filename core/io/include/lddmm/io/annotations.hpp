// Readers for the landmark annotation formats of other datasets (300W .pts files are in pts_io.hpp):
// WFLW's annotation lists and HELEN's 194-point files. Errors name the file and the line.
#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "lddmm/flow/points.hpp"

namespace lddmm {

class AnnotationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Annotation {
  std::filesystem::path image;
  Points points;
  std::optional<std::array<double, 4>> box;  // x_min, y_min, x_max, y_max when the format gives one
  std::vector<int> attributes;               // WFLW: pose, expression, illumination, make-up, occlusion, blur
};

/// A WFLW list (list_98pt_rect_attr_*.txt): per line 98 × (x y), the face rectangle (4 numbers), six 0/1
/// attributes and the image path relative to `image_root`.
std::vector<Annotation> read_wflw_list(const std::filesystem::path& list,
                                       const std::filesystem::path& image_root);

/// A HELEN annotation file: the image name (no extension) on the first line, then 194 lines "x , y".
/// The image is `image_root / (name + ".jpg")`.
Annotation read_helen_file(const std::filesystem::path& file, const std::filesystem::path& image_root);
/// Every .txt file of a HELEN annotation folder, sorted by name.
std::vector<Annotation> read_helen_folder(const std::filesystem::path& folder,
                                          const std::filesystem::path& image_root);

}  // namespace lddmm
