// The model configuration reader (a model file's header, the "model" of a training configuration) on any
// bytes: a ModelError or a configuration that writes back to the same one, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "lddmm/net/model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const lddmm::AlignerConfig c =
        lddmm::aligner_config_from_json(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    const std::string text = lddmm::to_json(c);
    if (lddmm::to_json(lddmm::aligner_config_from_json(text, "again")) != text) std::abort();
  } catch (const lddmm::ModelError&) {
  }
  return 0;
}
