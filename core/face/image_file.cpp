#include "lddmm/face/image_file.hpp"

#include <zlib.h>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>

namespace lddmm {
namespace {

std::uint32_t big_endian(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

std::string png_damage(const std::vector<std::uint8_t>& b) {
  size_t at = 8;
  while (at + 12 <= b.size()) {
    const std::uint32_t length = big_endian(&b[at]);
    if (length > b.size() - at - 12) return "the PNG is cut short";
    const std::uint8_t* type = &b[at + 4];
    const auto crc = static_cast<std::uint32_t>(crc32(0, type, static_cast<uInt>(length + 4)));
    if (crc != big_endian(type + 4 + length)) return "the PNG is damaged (a chunk's checksum does not match)";
    if (std::equal(type, type + 4, "IEND")) return "";
    at += 12 + length;
  }
  return "the PNG is cut short";
}

std::string jpeg_damage(const std::vector<std::uint8_t>& b) {
  // Cameras and editors may pad after the end marker: look for it near the end.
  const size_t from = b.size() > 4096 ? b.size() - 4096 : 0;
  for (size_t i = b.size() - 1; i > from; --i)
    if (b[i - 1] == 0xFF && b[i] == 0xD9) return "";
  return "the JPEG is cut short";
}

}  // namespace

std::string image_damage(const std::vector<std::uint8_t>& b) {
  static const std::uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (b.size() >= 8 && std::equal(png, png + 8, b.begin())) return png_damage(b);
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return jpeg_damage(b);
  return "";
}

cv::Mat read_image(const std::filesystem::path& file, std::string& why) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    why = "cannot open the file";
    return {};
  }
  const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  why = image_damage(bytes);
  if (!why.empty()) return {};
  cv::Mat image = bytes.empty() ? cv::Mat() : cv::imdecode(bytes, cv::IMREAD_COLOR);
  if (image.empty()) why = "cannot read the image";
  return image;
}

}  // namespace lddmm
