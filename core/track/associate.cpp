#include "lddmm/track/associate.hpp"

#include <algorithm>
#include <tuple>

namespace lddmm {

std::vector<int> associate(const std::vector<Box>& tracks, const std::vector<Box>& boxes, double min_iou) {
  std::vector<std::tuple<double, int, int>> pairs;  // (IoU, track, box)
  for (size_t t = 0; t < tracks.size(); ++t)
    for (size_t b = 0; b < boxes.size(); ++b) {
      const double v = iou(tracks[t], boxes[b]);
      if (v > min_iou) pairs.emplace_back(v, static_cast<int>(t), static_cast<int>(b));
    }
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
  std::vector<int> match(tracks.size(), -1);
  std::vector<bool> taken(boxes.size(), false);
  for (const auto& [v, t, b] : pairs) {
    if (match[static_cast<size_t>(t)] >= 0 || taken[static_cast<size_t>(b)]) continue;
    match[static_cast<size_t>(t)] = b;
    taken[static_cast<size_t>(b)] = true;
  }
  return match;
}

}  // namespace lddmm
