// The landmark file readers (CSV, JSON Lines, JSON) on any bytes: a LandmarkFileError or rows, never a crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "lddmm/track/landmark_io.hpp"

namespace {

void read_as(const std::string& ext, const uint8_t* data, size_t size) {
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("lddmm-fuzz-" + std::to_string(getpid()) + ext);
  std::ofstream(file, std::ios::binary)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  try {
    lddmm::read_landmarks(file);
  } catch (const lddmm::LandmarkFileError&) {
  }
  std::filesystem::remove(file);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  read_as(".csv", data, size);
  read_as(".jsonl", data, size);
  read_as(".json", data, size);
  return 0;
}
