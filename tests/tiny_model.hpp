// A very small aligner configuration: fast to build and run in tests.
#pragma once

#include "lddmm/net/model.hpp"

namespace lddmm::testing {

inline AlignerConfig tiny_config(Head head = Head::Lddmm) {
  AlignerConfig c;
  c.backbone.width = 4;
  c.backbone.modules = {1, 1, 1};
  c.backbone.blocks = 1;
  c.backbone.stem_blocks = 1;
  c.backbone.stem_width = 8;
  c.input_size = 64;
  c.head = head;
  return c;
}

}  // namespace lddmm::testing
