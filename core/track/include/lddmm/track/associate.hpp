// The associate stage: which detector box belongs to which tracked face.
#pragma once

#include <vector>

#include "lddmm/face/faces.hpp"

namespace lddmm {

/// Matches boxes to tracks by overlap, best pair first: the pair (track, box) with the largest IoU is
/// matched, then the largest among the rest, and so on while the IoU exceeds `min_iou`. Returns, for each
/// track, the index of its box or −1. The result does not depend on the order of tracks or boxes (ties
/// aside).
std::vector<int> associate(const std::vector<Box>& tracks, const std::vector<Box>& boxes,
                           double min_iou = 0.3);

}  // namespace lddmm
