// The app's playback: a tracker and an engine over the open source, paced at the video's rate (files) or
// newest-frame-wins (cameras), with pause, step, seek and settings that rebuild the tracker in place.
// Everything heavy runs on the engine's threads; this object lives on the GUI thread and polls.
#pragma once

#include <QObject>
#include <QString>
#include <QTimer>

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "lddmm/track/engine.hpp"
#include "lddmm/track/landmark_io.hpp"
#include "lddmm/track/tracker.hpp"

namespace lddmm::ui {

struct PlayerSettings {
  std::string model;   // empty: the shipped model
  std::string scheme;  // empty: the model's
  int grid_cells = 16;
  bool grid = true;             // flows carry the display grid (off while it is hidden: a few ms a face)
  bool per_curve_grid = false;  // the paper's per-curve flows for the grid instead of one continuous flow
  bool smoothing = true;
  std::string device = "auto";  // auto, cpu, cuda, cuda:N
  bool mirror = false;          // test-time mirroring: each face averaged with its mirrored crop
  bool accurate = false;  // the two shipped models as an ensemble (accurate_model_paths; ignores `model`)
  int min_face = TrackerOptions{}.min_face;  // smallest face found, pixels
  int camera_width = 0, camera_height = 0;   // the resolution asked of a camera (0: its default)
};

/// The model files the settings ask for: the two shipped ones (accurate), `model`, or the shipped model.
std::vector<std::string> model_files(const PlayerSettings& s);

class Player : public QObject {
  Q_OBJECT
 public:
  explicit Player(QObject* parent = nullptr);
  ~Player() override;

  /// Opens a video, image, folder or camera ("0", "/dev/video0"). On failure returns false and sets
  /// `error` (one line); the previous source is closed either way.
  bool open(const QString& spec, QString* error);
  void close();
  bool isOpen() const { return engine_ != nullptr || current_.has_value(); }

  void play();
  void pause();
  bool playing() const { return playing_; }
  /// Shows the next frame (pauses first).
  void step();
  /// Jumps to frame `index` (files); the tracker starts afresh there.
  bool seek(int64_t index);
  /// Paused on a file: tracks the shown frame again (so that a just-enabled grid appears on it).
  void refresh();

  /// Applies new settings (rebuilds the tracker and reopens at the current frame when needed).
  bool apply(const PlayerSettings& settings, QString* error);
  const PlayerSettings& settings() const { return settings_; }

  struct Current {
    cv::Mat image;
    FrameResult result;
    double latency_ms = 0;
  };
  const std::optional<Current>& current() const { return current_; }
  /// Every landmark row shown since the source was opened (for export).
  const std::vector<LandmarkRow>& history() const { return history_; }

  bool live() const { return live_; }
  int64_t frameCount() const { return frame_count_; }
  double fps() const { return fps_; }
  QString sourceName() const { return source_name_; }
  QString deviceName() const;
  QString modelName() const;
  const Scheme* modelScheme() const;
  const Scheme* outputScheme() const;

 Q_SIGNALS:
  void frameReady();
  void stateChanged();
  void failed(const QString& message);
  void finished();

 private:
  void poll();
  bool build_tracker(QString* error);
  bool start_engine(int64_t at, QString* error);
  void take(EngineOutput&& out);

  PlayerSettings settings_;
  std::unique_ptr<Tracker> tracker_;
  std::unique_ptr<Engine> engine_;
  std::optional<EngineOutput> pending_;
  std::optional<Current> current_;
  std::vector<LandmarkRow> history_;
  QString spec_, source_name_;
  bool playing_ = false, live_ = false;
  int64_t frame_count_ = -1;
  double fps_ = 30;
  std::chrono::steady_clock::time_point clock_start_;
  double media_start_ = 0;
  QTimer timer_;
};

}  // namespace lddmm::ui
