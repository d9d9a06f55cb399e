// --device words: each maps to the device it names, or to a one-line reason.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "lddmm/net/device.hpp"

namespace {

std::string reason(const std::string& spec, int gpus) {
  try {
    lddmm::parse_device(spec, gpus);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(Device, EachWordNamesItsDevice) {
  EXPECT_EQ(lddmm::parse_device("auto", 0), torch::Device(torch::kCPU));
  EXPECT_EQ(lddmm::parse_device("auto", 2), torch::Device(torch::kCUDA, 0));
  EXPECT_EQ(lddmm::parse_device("cpu", 2), torch::Device(torch::kCPU));
  EXPECT_EQ(lddmm::parse_device("cuda", 1), torch::Device(torch::kCUDA, 0));
  EXPECT_EQ(lddmm::parse_device("cuda:1", 2), torch::Device(torch::kCUDA, 1));
}

TEST(Device, WrongWordsAndAbsentGpusAreRefused) {
  EXPECT_EQ(reason("gpu", 1), "unknown device \"gpu\" (auto, cpu, cuda or cuda:N)");
  EXPECT_EQ(reason("cuda:", 1), "unknown device \"cuda:\" (auto, cpu, cuda or cuda:N)");
  EXPECT_EQ(reason("cuda:-1", 1), "unknown device \"cuda:-1\" (auto, cpu, cuda or cuda:N)");
  EXPECT_EQ(reason("cuda:99999", 1), "unknown device \"cuda:99999\" (auto, cpu, cuda or cuda:N)");
  EXPECT_EQ(reason("CPU", 0), "unknown device \"CPU\" (auto, cpu, cuda or cuda:N)");
  EXPECT_EQ(reason("cuda", 0), "device cuda: LibTorch sees no CUDA GPU here (use cpu or auto)");
  EXPECT_EQ(reason("cuda:2", 2), "device cuda:2: there are 2 GPU(s), cuda:0 to cuda:1");
}

}  // namespace
