// Stands in for core/train/cofw.cpp in the headless CUDA build, which has no matio: COFW lists are refused.
#include "lddmm/train/cofw.hpp"

namespace lddmm {

std::vector<CofwFace> read_cofw(const std::filesystem::path& file) {
  throw CofwError(file.string() + ": this build reads no COFW .mat files (built without matio)");
}

}  // namespace lddmm
