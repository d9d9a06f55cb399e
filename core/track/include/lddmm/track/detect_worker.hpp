// The detector on a thread of its own, so that a slow scan (small faces in a large frame) never holds up
// alignment. Files: frames are handed in as they are read, ahead of the aligner, and their boxes taken in
// frame order (wait), so a run gives the same result every time. Cameras: the newest frame is scanned when
// the thread is free and its boxes are taken when they are ready (poll).
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "lddmm/track/detect.hpp"

namespace lddmm {

class DetectionWorker {
 public:
  /// `nice`: the thread's scheduling niceness (Linux), so that alignment comes first on a busy CPU.
  explicit DetectionWorker(int nice = 5);
  ~DetectionWorker();
  DetectionWorker(const DetectionWorker&) = delete;
  DetectionWorker& operator=(const DetectionWorker&) = delete;

  /// Queues a scan of frame `index` (the image is shared, not copied: it must not change). A frame already
  /// queued, running or done is left as it is.
  void submit(int64_t index, const cv::Mat& image, const ScanPlan& plan);
  /// The boxes of frame `index`, waiting for its scan (submitted first if it never was). Rethrows the
  /// scan's error. The result is handed out once.
  std::vector<Box> wait(int64_t index, const cv::Mat& image, const ScanPlan& plan);
  /// A finished scan (frame index, boxes), the oldest first, without waiting; none when nothing is done.
  std::optional<std::pair<int64_t, std::vector<Box>>> poll();
  /// Whether a scan is queued or running.
  bool busy() const;
  /// Sets the thread's niceness from its next scan on.
  void set_nice(int nice);
  /// Forgets queued and finished scans (a seek, a new video); a running one finishes unseen.
  void clear();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lddmm
