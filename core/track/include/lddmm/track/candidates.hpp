// Weak boxes looked at again: the detector finds a face entering the frame, or a small one, on one frame and
// not on the next. A thorough scan's box a little under the detector's threshold, on no tracked face, becomes
// a candidate whose region is scanned again a few frames later.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "lddmm/face/faces.hpp"

namespace lddmm {

class CandidateBoxes {
 public:
  /// Each candidate's region is due every `every` frames after it was found, `looks` times; at most `most`
  /// candidates are kept (the best-scored).
  CandidateBoxes(int every, int looks, size_t most = 4) : every_(every), looks_(looks), most_(most) {}
  /// A weak box found on `frame`; one overlapping a known candidate (IoU > 0.3) is not added twice.
  void add(const Box& box, int64_t frame);
  /// The candidates to look at again on `frame`. Those `tracked` says a face now covers are dropped first,
  /// and each after its last look.
  std::vector<Box> due(int64_t frame, const std::function<bool(const Box&)>& tracked);
  void clear() { items_.clear(); }
  size_t size() const { return items_.size(); }

 private:
  struct Item {
    Box box;
    int64_t next;
    int looks;
  };
  int every_, looks_;
  size_t most_;
  std::vector<Item> items_;
};

}  // namespace lddmm
