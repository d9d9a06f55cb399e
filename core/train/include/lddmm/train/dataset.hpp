// Training and evaluation data: annotated face images, crops around a face box with augmentation, and a
// background batch loader. Uses OpenCV for images (not part of the LibTorch-only core build).
#pragma once

#include <torch/types.h>

#include <opencv2/core.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lddmm/face/faces.hpp"
#include "lddmm/face/views.hpp"
#include "lddmm/flow/points.hpp"
#include "lddmm/flow/scheme.hpp"

namespace lddmm {

struct AugmentOptions {
  bool enabled = false;
  bool mirror = true;         // flip left/right half of the time (with the scheme's permutation)
  double rotation_deg = 20;   // uniform in ±rotation
  double scale = 0.25;        // crop side × uniform in [1 − scale, 1 + scale]
  double translation = 0.08;  // centre shift, fraction of the crop side
  double colour = 0.3;        // brightness / contrast / saturation jitter amplitude
  double blur_probability = 0.2;
  double occlusion_probability = 0.3;
  // How far right of what they mark the annotation's points sit, in the photo's pixels (a convention of the
  // annotation, such as 1-based coordinates). A mirrored crop moves them left of it; with this set, mirrored
  // labels are moved back, so both views teach the same convention. 0: labels are mirrored as they are.
  double mirror_x_offset = 0;
  // Crop around the face's upright box turned with the face (upright_box: the crops the tracker and
  // `evaluate`'s refinement give a face whose landmarks they know), the jitter on top; else around its
  // landmark box, not turned. Without a `box`; with one, the box's crop as it is.
  bool upright = false;
};

/// One annotated face, kept in memory downscaled so that its landmark box is about `cache_side` pixels.
struct FaceRecord {
  std::string name;
  cv::Mat image;       // BGR, 8-bit
  Points points;       // in `image` pixels, the annotation scheme's layout
  double scale = 1.0;  // `image` pixels per pixel of the photo as read (< 1 where it was downscaled)
};

/// Annotated faces, in the layout of `annotation` (300W-68 for ../shared/data/300w). `list` is a 300-W
/// image list (one "folder/name.jpg" a line, .pts beside each image), a WFLW annotation list (images under
/// `root`), a HELEN annotation folder (images `root`/name.jpg) or a COFW .mat file. Samples are returned in
/// the layout of `target` (the annotation scheme itself, or a subset of it such as 300W-50).
class FaceDataset {
 public:
  FaceDataset(const std::filesystem::path& root, const std::filesystem::path& list, const Scheme& annotation,
              const Scheme& target, int cache_side);
  size_t size() const { return records_.size(); }
  const FaceRecord& record(size_t i) const { return records_[i]; }

  /// The crop of face `i`: a square of side 1.25 × the landmark box around its centre (perturbed when
  /// augmenting), resized to input_size. Writes the normalised CHW image and the target-layout points in
  /// crop pixels.
  /// `crop_map` (optional) receives the map from the record's image pixels to crop pixels; `box` (optional)
  /// replaces the landmark box (for example a mapped detector box, in the record's pixels); `angle` (radians)
  /// turns the crop about the box centre by that much, so that a face rolled by `angle` comes out upright.
  void sample(size_t i, int input_size, const AugmentOptions& aug, std::mt19937& rng,
              const std::array<double, 3>& mean, const std::array<double, 3>& std, float* image_chw,
              float* points, Affine2* crop_map = nullptr, const Box* box = nullptr, double angle = 0) const;
  /// The true points of face `i` in the target layout, in the record's image pixels.
  Points target_points(size_t i) const;

  const Scheme& target() const { return target_; }
  const Scheme& annotation() const { return annotation_; }

 private:
  std::vector<FaceRecord> records_;
  Scheme annotation_;
  Scheme target_;
  std::vector<int> target_index_;  // annotation index of each target point
};

/// Produces shuffled batches on a background thread, so the trainer never waits for augmentation.
/// `workers` threads make the crops of each batch (more than one keeps a GPU fed); the batches are the
/// same whatever their number.
class BatchLoader {
 public:
  struct Batch {
    torch::Tensor images;  // [B, 3, S, S]
    torch::Tensor points;  // [B, n, 2]
    std::vector<size_t> indices;
    torch::Tensor image_to_crop;  // [B, 2, 2]: the photos' pixels → crop pixels, image_to_crop_maps
  };
  BatchLoader(const FaceDataset& data, int batch_size, int input_size, AugmentOptions aug,
              std::array<double, 3> mean, std::array<double, 3> std, bool shuffle, uint64_t seed,
              int workers = 1);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;
  /// Starts an epoch (all faces once, the last batch may be smaller).
  void start_epoch(int epoch);
  /// The next batch of the epoch, or false at its end.
  bool next(Batch& batch);
  size_t batches_per_epoch() const;

 private:
  void produce(std::vector<size_t> order, int epoch);
  const FaceDataset& data_;
  int batch_size_, input_size_;
  AugmentOptions aug_;
  std::array<double, 3> mean_, std_;
  bool shuffle_;
  uint64_t seed_;
  int workers_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  size_t remaining_ = 0;
  std::atomic<bool> stop_{false};
};

}  // namespace lddmm
