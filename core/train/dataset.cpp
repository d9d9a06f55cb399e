#include "lddmm/train/dataset.hpp"

#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "lddmm/io/annotations.hpp"
#include "lddmm/io/pts_io.hpp"
#include "lddmm/io/scheme_files.hpp"
#include "lddmm/net/model.hpp"
#include "lddmm/train/cofw.hpp"

namespace lddmm {
namespace {

// A WFLW annotation list: its first non-empty line holds at least 98 × 2 + 4 + 6 numbers and a path.
bool is_wflw_list(const std::filesystem::path& list) {
  std::ifstream in(list);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string w;
    int count = 0;
    while (words >> w) ++count;
    if (count > 0) return count >= 98 * 2 + 4 + 6 + 1;
  }
  return false;
}

}  // namespace

FaceDataset::FaceDataset(const std::filesystem::path& root, const std::filesystem::path& list,
                         const Scheme& annotation, const Scheme& target, int cache_side)
    : annotation_(annotation), target_(target) {
  if (target.id == annotation.id) {
    target_index_.resize(static_cast<size_t>(annotation.num_points));
    std::iota(target_index_.begin(), target_index_.end(), 0);
  } else if (target.subset_of && target.subset_of->parent == annotation.id) {
    target_index_ = target.subset_of->indices;
    (void)mirror_partners(target);  // checks the indices against the parent
  } else {
    throw std::invalid_argument("dataset: scheme " + target.id + " is neither " + annotation.id +
                                " nor a subset of it");
  }
  // The list's format decides the reader: a COFW .mat file, a HELEN annotation folder, a WFLW list (a
  // line of 98 × 2 coordinates, a box, attributes and an image path) or a 300-W image list.
  auto add = [&](std::string name, cv::Mat img, Points points, const std::string& origin) {
    if (points.rows() != annotation.num_points)
      throw std::runtime_error(origin + ": has " + std::to_string(points.rows()) + " points, expected " +
                               std::to_string(annotation.num_points) + " (scheme " + annotation.id + ")");
    if (img.empty()) throw std::runtime_error(origin + ": cannot read the image");
    const Eigen::RowVector2d lo = points.colwise().minCoeff(), hi = points.colwise().maxCoeff();
    const double box = (hi - lo).maxCoeff();
    const double f = std::min(1.0, cache_side / std::max(box, 1.0));
    if (f < 1.0) {
      cv::resize(img, img, cv::Size(), f, f, cv::INTER_AREA);
      points *= f;
    }
    records_.push_back({std::move(name), img, std::move(points), f});
  };
  const std::string ext = list.extension().string();
  if (ext == ".mat") {
    int k = 0;
    for (CofwFace& face : read_cofw(list)) {
      const std::string number = std::to_string(++k);
      add(list.filename().string() + "#" + number, face.image, face.points,
          list.string() + " face " + number);
    }
  } else if (std::filesystem::is_directory(list)) {
    for (const Annotation& a : read_helen_folder(list, root))
      add(std::filesystem::relative(a.image, root).string(), cv::imread(a.image.string(), cv::IMREAD_COLOR),
          a.points, a.image.string());
  } else if (is_wflw_list(list)) {
    for (const Annotation& a : read_wflw_list(list, root))
      add(std::filesystem::relative(a.image, root).string(), cv::imread(a.image.string(), cv::IMREAD_COLOR),
          a.points, a.image.string());
  } else {
    for (const auto& item : read_image_list(root, list)) {
      cv::Mat image = cv::imread(item.image.string(), cv::IMREAD_COLOR);
      if (image.empty()) throw std::runtime_error(item.image.string() + ": cannot read the image");
      add(std::filesystem::relative(item.image, root).string(), image, read_pts(item.pts), item.pts.string());
    }
  }
}

namespace {

// Where a training crop sits: its centre, side and angle in the record, and whether it is mirrored.
struct CropPose {
  Eigen::RowVector2d centre;
  double side = 0, angle = 0;
  bool flip = false;
};

// The landmark box's (or the given box's, or with `upright` the upright box's) crop, jittered by `aug`.
CropPose crop_pose(const FaceRecord& r, const Scheme& annotation, const AugmentOptions& aug,
                   std::mt19937& rng, const Box* box, double box_angle) {
  const Box face = box != nullptr ? *box : landmark_box(r.points);
  CropPose p{Eigen::RowVector2d(face.cx(), face.cy()), std::max(face.w, face.h) * 1.25, box_angle, false};
  if (aug.enabled && aug.upright && box == nullptr) {
    const UprightBox u = upright_box(r.points, annotation);
    p.centre = u.centre;
    p.side = u.side * 1.25;
    p.angle = u.angle;
  }
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  if (aug.enabled) {
    p.side *= 1.0 + aug.scale * u(rng);
    p.centre += Eigen::RowVector2d(u(rng), u(rng)) * aug.translation * p.side;
    p.angle += aug.rotation_deg * u(rng) * M_PI / 180.0;
    p.flip = aug.mirror && u01(rng) < 0.5;
  }
  return p;
}

// Blur, colour jitter and an occluding rectangle, each as likely as `aug` says (f: BGR float in [0, 1]).
void augment_pixels(cv::Mat& f, int S, const AugmentOptions& aug, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  if (aug.blur_probability > 0 && u01(rng) < aug.blur_probability) {
    const double sigma = 0.5 + 1.5 * u01(rng);
    cv::GaussianBlur(f, f, cv::Size(0, 0), sigma);
  }
  const double contrast = 1.0 + aug.colour * u(rng), brightness = 0.5 * aug.colour * u(rng);
  const double saturation = 1.0 + aug.colour * u(rng);
  cv::Mat grey;
  cv::cvtColor(f, grey, cv::COLOR_BGR2GRAY);
  cv::cvtColor(grey, grey, cv::COLOR_GRAY2BGR);
  cv::addWeighted(f, saturation, grey, 1.0 - saturation, 0.0, f);
  f.convertTo(f, -1, contrast, brightness);
  if (aug.occlusion_probability > 0 && u01(rng) < aug.occlusion_probability) {
    const int w = static_cast<int>(S * (0.1 + 0.3 * u01(rng))),
              h = static_cast<int>(S * (0.1 + 0.3 * u01(rng)));
    const int x = static_cast<int>((S - w) * u01(rng)), y = static_cast<int>((S - h) * u01(rng));
    f(cv::Rect(x, y, w, h)).setTo(cv::Scalar(u01(rng), u01(rng), u01(rng)));
  }
}

// BGR HWC in [0, 1] → normalised RGB CHW.
void to_chw(const cv::Mat& f, int S, const std::array<double, 3>& mean, const std::array<double, 3>& stdv,
            float* out) {
  const int plane = S * S;
  for (int yy = 0; yy < S; ++yy) {
    const cv::Vec3f* row = f.ptr<cv::Vec3f>(yy);
    for (int xx = 0; xx < S; ++xx) {
      for (int ch = 0; ch < 3; ++ch) {
        const float v = std::clamp(row[xx][2 - ch], 0.0f, 1.0f);
        out[ch * plane + yy * S + xx] =
            static_cast<float>((v - mean[static_cast<size_t>(ch)]) / stdv[static_cast<size_t>(ch)]);
      }
    }
  }
}

}  // namespace

void FaceDataset::sample(size_t i, int S, const AugmentOptions& aug, std::mt19937& rng,
                         const std::array<double, 3>& mean, const std::array<double, 3>& stdv, float* out,
                         float* pts_out, Affine2* crop_map, const Box* box, double box_angle) const {
  const FaceRecord& r = records_.at(i);
  const CropPose pose = crop_pose(r, annotation_, aug, rng, box, box_angle);
  // Source → crop: translate the centre to the origin, rotate, scale to S, move to the crop centre.
  Affine2 m = lddmm::crop_map(pose.centre, pose.side, pose.angle, S);
  const double c = m(0, 0), sn = m(0, 1);  // cos·S/side, sin·S/side
  if (pose.flip) {
    m.row(0) *= -1;
    m(0, 2) += S;
  }
  if (crop_map != nullptr) *crop_map = m;
  cv::Mat warp(2, 3, CV_64F);
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 3; ++b) warp.at<double>(a, b) = m(a, b);
  cv::Mat crop, f;
  cv::warpAffine(r.image, crop, warp, cv::Size(S, S), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                 cv::Scalar(0, 0, 0));
  crop.convertTo(f, CV_32FC3, 1.0 / 255);
  if (aug.enabled) augment_pixels(f, S, aug, rng);
  to_chw(f, S, mean, stdv, out);
  Points moved = apply_affine(m, r.points);
  if (pose.flip && aug.mirror_x_offset != 0) {
    // A label sits (δ, 0) right of its mark in the record; the unflipped crop would carry that offset as
    // (c·δ, −sn·δ), the mirrored one as (−c·δ, −sn·δ), while the mirrored photo's own labels (the same
    // convention) would sit at (c·δ, sn·δ) from the mirrored mark: move them by the difference.
    const double d = aug.mirror_x_offset * r.scale;
    moved.col(0).array() += 2 * c * d;
    moved.col(1).array() += 2 * sn * d;
  }
  for (size_t k = 0; k < target_index_.size(); ++k) {
    int src = target_index_[k];
    if (pose.flip) src = annotation_.mirror[static_cast<size_t>(src)];
    pts_out[2 * k] = static_cast<float>(moved(src, 0));
    pts_out[2 * k + 1] = static_cast<float>(moved(src, 1));
  }
}

Points FaceDataset::target_points(size_t i) const {
  const FaceRecord& r = records_.at(i);
  Points p(static_cast<Eigen::Index>(target_index_.size()), 2);
  for (size_t k = 0; k < target_index_.size(); ++k)
    p.row(static_cast<Eigen::Index>(k)) = r.points.row(target_index_[k]);
  return p;
}

BatchLoader::BatchLoader(const FaceDataset& data, int batch_size, int input_size, AugmentOptions aug,
                         std::array<double, 3> mean, std::array<double, 3> stdv, bool shuffle, uint64_t seed,
                         int workers)
    : data_(data),
      batch_size_(batch_size),
      input_size_(input_size),
      aug_(aug),
      mean_(mean),
      std_(stdv),
      shuffle_(shuffle),
      seed_(seed),
      workers_(std::max(1, workers)) {}

BatchLoader::~BatchLoader() {
  stop_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t BatchLoader::batches_per_epoch() const {
  return (data_.size() + static_cast<size_t>(batch_size_) - 1) / static_cast<size_t>(batch_size_);
}

void BatchLoader::start_epoch(int epoch) {
  stop_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  stop_ = false;
  queue_.clear();
  std::vector<size_t> order(data_.size());
  std::iota(order.begin(), order.end(), 0);
  if (shuffle_) {
    std::mt19937_64 rng(seed_ * 1000003ULL + static_cast<uint64_t>(epoch));
    std::shuffle(order.begin(), order.end(), rng);
  }
  remaining_ = batches_per_epoch();
  thread_ = std::thread(&BatchLoader::produce, this, std::move(order), epoch);
}

void BatchLoader::produce(std::vector<size_t> order, int epoch) {
  const int n = data_.target().num_points;
  const int S = input_size_;
  for (size_t start = 0; start < order.size() && !stop_; start += static_cast<size_t>(batch_size_)) {
    const size_t count = std::min(order.size() - start, static_cast<size_t>(batch_size_));
    Batch b;
    b.images = torch::empty({static_cast<int64_t>(count), 3, S, S});
    b.points = torch::empty({static_cast<int64_t>(count), n, 2});
    float* images = b.images.data_ptr<float>();
    float* points = b.points.data_ptr<float>();
    std::vector<Affine2> maps(count);
    const auto make = [&](size_t first) {
      for (size_t k = first; k < count; k += static_cast<size_t>(workers_)) {
        const size_t i = order[start + k];
        // One generator per (epoch, face): the same seed gives the same augmentation whatever the threads.
        std::mt19937 rng(
            static_cast<uint32_t>(seed_ * 7919ULL + static_cast<uint64_t>(epoch) * 104729ULL + i));
        data_.sample(i, S, aug_, rng, mean_, std_,
                     images + k * 3 * static_cast<size_t>(S) * static_cast<size_t>(S),
                     points + k * 2 * static_cast<size_t>(n), &maps[k]);
      }
    };
    std::vector<std::thread> helpers;
    for (size_t w = 1; w < std::min(count, static_cast<size_t>(workers_)); ++w) helpers.emplace_back(make, w);
    make(0);
    for (std::thread& t : helpers) t.join();
    b.indices.assign(order.begin() + static_cast<std::ptrdiff_t>(start),
                     order.begin() + static_cast<std::ptrdiff_t>(start + count));
    std::vector<double> scale(count);
    for (size_t k = 0; k < count; ++k) scale[k] = data_.record(b.indices[k]).scale;
    b.image_to_crop = image_to_crop_maps(maps, scale);
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return queue_.size() < 3 || stop_; });
    if (stop_) return;
    queue_.push_back(std::move(b));
    cv_.notify_all();
  }
}

bool BatchLoader::next(Batch& batch) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (remaining_ == 0) return false;
  cv_.wait(lock, [&] { return !queue_.empty(); });
  batch = std::move(queue_.front());
  queue_.pop_front();
  --remaining_;
  cv_.notify_all();
  return true;
}

}  // namespace lddmm
