// Frame sources through OpenCV: a webcam (index or device path), a video file, one image or a folder of
// images. Live sources grab on their own thread and keep only the newest frame (stale frames are
// dropped); files give every frame in order.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace lddmm {

struct Frame {
  cv::Mat image;      // BGR, 8-bit
  int64_t index = 0;  // position in the source (for live sources: frames grabbed so far, counting drops)
  double time = 0;    // seconds since the start (video timestamps, or the capture clock for live sources)
  std::string name;   // image sources: the image's file name; empty for videos and cameras
};

/// A source that cannot be opened or read. The message is one line and names the source.
class SourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  /// The next frame; false at the end. Throws SourceError on a read error (a truncated or damaged file,
  /// a camera that stops delivering).
  virtual bool read(Frame& frame) = 0;
  /// A camera: frames arrive in real time and stale ones are dropped.
  virtual bool live() const = 0;
  /// Still images (a folder or one image): frames carry their file name.
  virtual bool images() const { return false; }
  /// Frames per second (the file's rate, the camera's, or 30 for images).
  virtual double fps() const = 0;
  /// Frame count when known (files, folders), else −1.
  virtual int64_t frame_count() const = 0;
  /// Frame size when every frame has it (videos, cameras), else empty (folders of images).
  virtual cv::Size frame_size() const { return {}; }
  /// Frames a live source dropped because a newer one arrived first.
  virtual int64_t dropped() const { return 0; }
  /// Items of a folder that could not be read and were skipped, each "file: why".
  virtual std::vector<std::string> skipped() const { return {}; }
  virtual std::string describe() const = 0;
  /// Moves to frame `index` (files and folders); false when the source cannot seek (cameras).
  virtual bool seek(int64_t index) {
    (void)index;
    return false;
  }
};

struct SourceOptions {
  int width = 0, height = 0;  // requested camera resolution (0: the camera's default)
  double image_fps = 30;      // time stamps for images and folders
};

/// Opens `spec`: digits → camera index; /dev/video* → camera device; a folder → its images (sorted by
/// name); an image file (.jpg, .jpeg, .png, .bmp, .webp, .tif, .tiff) → that image; anything else → a
/// video file. Throws SourceError (missing file, empty folder, no camera, unreadable video).
std::unique_ptr<FrameSource> open_source(const std::string& spec, const SourceOptions& options = {});

/// True when `path` has an image file extension.
bool is_image_file(const std::string& path);
/// True when `path` has a video container's extension (.mp4, .mov, .avi, .mkv, .webm, .mpg, …).
bool is_video_file(const std::string& path);

}  // namespace lddmm
