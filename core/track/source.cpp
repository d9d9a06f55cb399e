#include "lddmm/track/source.hpp"

#include "lddmm/face/image_file.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace lddmm {
namespace fs = std::filesystem;
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

class VideoSource : public FrameSource {
 public:
  explicit VideoSource(const std::string& path) : path_(path) {
    if (!fs::exists(path)) throw SourceError(path + ": no such file");
    if (fs::is_directory(path)) throw SourceError(path + ": is a folder with no images");
    if (!cap_.open(path, cv::CAP_FFMPEG))
      throw SourceError(path + ": cannot open the video (unknown format or damaged file)");
    fps_ = cap_.get(cv::CAP_PROP_FPS);
    if (!(fps_ > 0 && fps_ < 1000)) fps_ = 30;
    count_ = static_cast<int64_t>(cap_.get(cv::CAP_PROP_FRAME_COUNT));
    if (count_ <= 0) count_ = -1;
    Frame first;
    if (!cap_.read(first.image) || first.image.empty())
      throw SourceError(path + ": cannot decode any frame (damaged or not a video)");
    pending_ = first.image;
    size_ = first.image.size();
  }
  bool read(Frame& f) override {
    if (!pending_.empty()) {
      f.image = pending_;
      pending_.release();
    } else if (!cap_.read(f.image) || f.image.empty()) {
      // The container said more frames were coming: the file is cut short or damaged.
      if (count_ > 0 && next_ < count_ - std::max<int64_t>(2, count_ / 50))
        throw SourceError(path_ + ": read error at frame " + std::to_string(next_) + " of " +
                          std::to_string(count_) + " (truncated or damaged file)");
      return false;
    }
    if (f.image.channels() == 1) cv::cvtColor(f.image, f.image, cv::COLOR_GRAY2BGR);
    f.index = next_++;
    f.time = static_cast<double>(f.index) / fps_;
    return true;
  }
  bool live() const override { return false; }
  double fps() const override { return fps_; }
  int64_t frame_count() const override { return count_; }
  cv::Size frame_size() const override { return size_; }
  std::string describe() const override { return path_; }
  bool seek(int64_t index) override {
    if (index < 0 || (count_ > 0 && index >= count_)) return false;
    pending_.release();
    if (!cap_.set(cv::CAP_PROP_POS_FRAMES, static_cast<double>(index))) return false;
    next_ = index;
    return true;
  }

 private:
  std::string path_;
  cv::VideoCapture cap_;
  cv::Mat pending_;
  cv::Size size_;
  double fps_ = 30;
  int64_t count_ = -1, next_ = 0;
};

class ImageSource : public FrameSource {
 public:
  ImageSource(std::vector<fs::path> files, std::string what, double fps)
      : files_(std::move(files)), what_(std::move(what)), fps_(fps) {}
  bool read(Frame& f) override {
    // An unreadable file is skipped (and listed); one image alone is an error.
    for (; next_ < files_.size(); ++next_) {
      std::string why;
      f.image = read_image(files_[next_], why);
      if (!f.image.empty()) break;
      if (files_.size() == 1) throw SourceError(files_[next_].string() + ": " + why);
      skipped_.push_back(files_[next_].string() + ": " + why);
    }
    if (next_ >= files_.size()) return false;
    f.name = files_[next_].filename().string();
    f.index = static_cast<int64_t>(next_++);
    f.time = static_cast<double>(f.index) / fps_;
    return true;
  }
  bool live() const override { return false; }
  bool images() const override { return true; }
  double fps() const override { return fps_; }
  int64_t frame_count() const override { return static_cast<int64_t>(files_.size()); }
  std::string describe() const override { return what_; }
  std::vector<std::string> skipped() const override { return skipped_; }
  bool seek(int64_t index) override {
    if (index < 0 || index >= static_cast<int64_t>(files_.size())) return false;
    next_ = static_cast<size_t>(index);
    return true;
  }

 private:
  std::vector<fs::path> files_;
  std::vector<std::string> skipped_;
  std::string what_;
  double fps_;
  size_t next_ = 0;
};

class CameraSource : public FrameSource {
 public:
  CameraSource(const std::string& spec, bool is_index, const SourceOptions& o) : spec_(spec) {
    const bool ok = is_index ? cap_.open(std::stoi(spec), cv::CAP_ANY) : cap_.open(spec, cv::CAP_ANY);
    if (!ok || !cap_.isOpened())
      throw SourceError("camera " + spec + ": cannot open it (no camera there, or it is busy)");
    if (o.width > 0) cap_.set(cv::CAP_PROP_FRAME_WIDTH, o.width);
    if (o.height > 0) cap_.set(cv::CAP_PROP_FRAME_HEIGHT, o.height);
    fps_ = cap_.get(cv::CAP_PROP_FPS);
    if (!(fps_ > 0 && fps_ < 1000)) fps_ = 30;
    cv::Mat probe;
    if (!cap_.read(probe) || probe.empty())
      throw SourceError("camera " + spec + ": opened but delivers no frames");
    start_ = std::chrono::steady_clock::now();
    thread_ = std::thread([this] { grab(); });
  }
  ~CameraSource() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool read(Frame& f) override {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!cv_.wait_for(lock, std::chrono::seconds(5), [this] { return fresh_ || failed_; }))
      throw SourceError("camera " + spec_ + ": no frame for 5 s");
    if (!fresh_) throw SourceError("camera " + spec_ + ": stopped delivering frames");
    f = latest_;
    fresh_ = false;
    return true;
  }
  bool live() const override { return true; }
  double fps() const override { return fps_; }
  int64_t frame_count() const override { return -1; }
  int64_t dropped() const override { return dropped_; }
  std::string describe() const override { return "camera " + spec_; }

 private:
  void grab() {
    int64_t index = 0;
    int failures = 0;
    while (!stop_) {
      cv::Mat img;
      if (!cap_.read(img) || img.empty()) {
        if (++failures > 50) {
          std::lock_guard<std::mutex> lock(mutex_);
          failed_ = true;
          cv_.notify_all();
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      failures = 0;
      const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      std::lock_guard<std::mutex> lock(mutex_);
      if (fresh_) ++dropped_;  // the consumer never saw the previous one: the newest wins
      latest_ = Frame{img, index++, t, {}};
      fresh_ = true;
      cv_.notify_all();
    }
  }
  std::string spec_;
  cv::VideoCapture cap_;
  double fps_ = 30;
  std::chrono::steady_clock::time_point start_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  Frame latest_;
  bool fresh_ = false, failed_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> dropped_{0};
};

}  // namespace

bool is_video_file(const std::string& path) {
  static const std::set<std::string> ext = {".mp4", ".m4v", ".mov", ".avi", ".mkv",  ".webm", ".mpg", ".mpeg",
                                            ".wmv", ".flv", ".ts",  ".mts", ".m2ts", ".3gp",  ".ogv", ".mxf"};
  return ext.count(lower(fs::path(path).extension().string())) != 0;
}

bool is_image_file(const std::string& path) {
  const std::string ext = lower(fs::path(path).extension().string());
  for (const char* e : {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
    if (ext == e) return true;
  return false;
}

std::unique_ptr<FrameSource> open_source(const std::string& spec, const SourceOptions& o) {
  if (spec.empty()) throw SourceError("no input given");
  if (std::all_of(spec.begin(), spec.end(), [](unsigned char c) { return std::isdigit(c) != 0; }))
    return std::make_unique<CameraSource>(spec, true, o);
  if (spec.rfind("/dev/video", 0) == 0) {
    if (!fs::exists(spec)) throw SourceError("camera " + spec + ": no such device");
    return std::make_unique<CameraSource>(spec, false, o);
  }
  if (fs::is_directory(spec)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(spec))
      if (e.is_regular_file() && is_image_file(e.path().string())) files.push_back(e.path());
    if (files.empty()) throw SourceError(spec + ": no images in the folder");
    std::sort(files.begin(), files.end());
    return std::make_unique<ImageSource>(std::move(files), spec, o.image_fps);
  }
  // A pipe or a device would block the reader (OpenCV waits for a FIFO's writer): refused at once.
  if (std::error_code ec; fs::exists(spec, ec) && !fs::is_regular_file(spec, ec))
    throw SourceError(spec +
                      ": not a regular file (a pipe, socket or device); give a video, image or folder");
  if (is_image_file(spec)) {
    if (!fs::exists(spec)) throw SourceError(spec + ": no such file");
    return std::make_unique<ImageSource>(std::vector<fs::path>{spec}, spec, o.image_fps);
  }
  return std::make_unique<VideoSource>(spec);
}

}  // namespace lddmm
