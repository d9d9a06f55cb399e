#include "version.hpp"

#include <dlib/revision.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <opencv2/core/version.hpp>

#include <filesystem>

#include "lddmm/track/tracker.hpp"

namespace lddmm::app {

std::string version_text(const std::string& program) {
  const std::string model = default_model_path();
  const bool found = std::filesystem::exists(model);
  return program + " " + LDDMM_VERSION + "\nmodel: " + model + (found ? "" : " (not found)") + "\nLibTorch " +
         TORCH_VERSION + " (CUDA GPUs seen: " + std::to_string(torch::cuda::device_count()) + ")\nOpenCV " +
         CV_VERSION + "\ndlib " + std::to_string(DLIB_MAJOR_VERSION) + "." +
         std::to_string(DLIB_MINOR_VERSION) + "." + std::to_string(DLIB_PATCH_VERSION);
}

}  // namespace lddmm::app
