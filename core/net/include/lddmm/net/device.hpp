#pragma once
// Where the network runs, from the user's words: "auto" (a GPU when LibTorch sees one, else the CPU), "cpu",
// "cuda" or "cuda:N".

#include <torch/types.h>

#include <string>

namespace lddmm {

/// The device `spec` names; throws std::invalid_argument with a one-line reason for an unknown word, a
/// CUDA device when LibTorch sees none, or an index past the last GPU. `gpus` is how many LibTorch sees.
torch::Device parse_device(const std::string& spec, int gpus);
/// How many CUDA GPUs LibTorch sees on this machine.
int cuda_devices();

/// parse_device with the GPUs of this machine.
torch::Device parse_device(const std::string& spec);

}  // namespace lddmm
