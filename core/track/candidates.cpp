#include "lddmm/track/candidates.hpp"

#include <algorithm>

namespace lddmm {

void CandidateBoxes::add(const Box& box, int64_t frame) {
  if (looks_ <= 0 || most_ == 0) return;
  if (std::any_of(items_.begin(), items_.end(), [&](const Item& c) { return iou(c.box, box) > 0.3; })) return;
  items_.push_back({box, frame + every_, looks_});
  std::stable_sort(items_.begin(), items_.end(),
                   [](const Item& a, const Item& b) { return a.box.score > b.box.score; });
  if (items_.size() > most_) items_.resize(most_);
}

std::vector<Box> CandidateBoxes::due(int64_t frame, const std::function<bool(const Box&)>& tracked) {
  std::vector<Box> looks;
  std::vector<Item> kept;
  for (Item& c : items_) {
    if (tracked(c.box)) continue;
    if (frame >= c.next) {
      looks.push_back(c.box);
      c.next = frame + every_;
      if (--c.looks <= 0) continue;
    }
    kept.push_back(c);
  }
  items_ = std::move(kept);
  return looks;
}

}  // namespace lddmm
