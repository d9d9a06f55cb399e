// The scheme JSON reader on any bytes: a SchemeError or a valid scheme, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "lddmm/flow/scheme.hpp"
#include "lddmm/io/scheme_files.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const lddmm::Scheme s =
        lddmm::parse_scheme(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    (void)lddmm::mirror_partners(s);
    (void)lddmm::scheme_to_json(s);
  } catch (const lddmm::SchemeError&) {
  }
  return 0;
}
