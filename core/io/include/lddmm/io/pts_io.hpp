// iBUG .pts landmark files: "version: 1", "n_points: N", "{", N lines "x y", "}".
// The reader accepts CRLF line ends, a UTF-8 byte-order mark, blank lines, comments (# or //), any
// order or absence of the version line, "n_points:N" with or without spaces, and 1-based or 0-based
// coordinates alike (it does not shift them). Errors name the file and the line.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "lddmm/flow/points.hpp"

namespace lddmm {

class PtsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses the text of a .pts file; `origin` names it in error messages ("file.pts:12: ...").
Points parse_pts(std::string_view text, const std::string& origin);
/// Reads a .pts file; throws PtsError naming the file (and line) when it cannot.
Points read_pts(const std::filesystem::path& file);
/// Writes `points` in iBUG format (version 1, LF line ends, 3 decimals).
void write_pts(const std::filesystem::path& file, const Points& points);
std::string format_pts(const Points& points);

/// A list of images, one "folder/name.jpg" per line relative to `root`, with the .pts beside each image.
struct LabelledImage {
  std::filesystem::path image;
  std::filesystem::path pts;
};
std::vector<LabelledImage> read_image_list(const std::filesystem::path& root,
                                           const std::filesystem::path& list);

}  // namespace lddmm
