#pragma once
// Reading an image file: a PNG or JPEG that is cut short or damaged is refused with a reason before it is
// decoded (libpng would print its own lines to stderr; libjpeg decodes half a picture without a word).

#include <opencv2/core.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lddmm {

/// Why the bytes of an image file cannot be a whole PNG or JPEG ("" when they can, or when the format is
/// another one): a PNG's chunks are walked (lengths, CRCs, IEND), a JPEG must end with its EOI marker.
std::string image_damage(const std::vector<std::uint8_t>& bytes);

/// The file as 8-bit BGR; an empty Mat with `why` set when it cannot be read, is damaged, or is not an image.
cv::Mat read_image(const std::filesystem::path& file, std::string& why);

}  // namespace lddmm
