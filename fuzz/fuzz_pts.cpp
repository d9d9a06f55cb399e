// The .pts reader on any bytes: a PtsError or points, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lddmm/io/pts_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    lddmm::parse_pts(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.pts");
  } catch (const lddmm::PtsError&) {
  }
  return 0;
}
