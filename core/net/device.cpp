#include "lddmm/net/device.hpp"

#include <torch/cuda.h>

#include <cctype>
#include <stdexcept>

namespace lddmm {

torch::Device parse_device(const std::string& spec, int gpus) {
  if (spec == "auto") return gpus > 0 ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (spec == "cpu") return torch::Device(torch::kCPU);
  const std::string digits = spec.size() > 5 ? spec.substr(5) : "";
  const bool indexed = spec.rfind("cuda:", 0) == 0 && !digits.empty() && digits.size() <= 3 &&
                       std::isdigit(static_cast<unsigned char>(digits[0])) != 0 &&
                       digits.find_first_not_of("0123456789") == std::string::npos;
  if (spec != "cuda" && !indexed)
    throw std::invalid_argument("unknown device \"" + spec + "\" (auto, cpu, cuda or cuda:N)");
  if (gpus <= 0)
    throw std::invalid_argument("device " + spec + ": LibTorch sees no CUDA GPU here (use cpu or auto)");
  const int index = indexed ? std::stoi(digits) : 0;
  if (index >= gpus)
    throw std::invalid_argument("device " + spec + ": there are " + std::to_string(gpus) +
                                " GPU(s), cuda:0 to cuda:" + std::to_string(gpus - 1));
  return torch::Device(torch::kCUDA, static_cast<torch::DeviceIndex>(index));
}

int cuda_devices() { return static_cast<int>(torch::cuda::device_count()); }

torch::Device parse_device(const std::string& spec) { return parse_device(spec, cuda_devices()); }

}  // namespace lddmm
