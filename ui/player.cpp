#include "lddmm/ui/player.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "lddmm/net/model.hpp"

namespace lddmm::ui {

using Clock = std::chrono::steady_clock;

Player::Player(QObject* parent) : QObject(parent) {
  timer_.setInterval(4);
  connect(&timer_, &QTimer::timeout, this, &Player::poll);
}

Player::~Player() { close(); }

QString Player::deviceName() const {
  if (!tracker_) return "-";
  const std::string d = tracker_->backend().describe();
  return d.find("CUDA") != std::string::npos ? "GPU (CUDA)" : "CPU";
}

std::vector<std::string> model_files(const PlayerSettings& s) {
  if (s.accurate) return accurate_model_paths();
  return {s.model.empty() ? default_model_path() : s.model};
}

QString Player::modelName() const {
  if (settings_.accurate) return "256 + 384 px crops (accurate)";
  const std::string m = settings_.model.empty() ? default_model_path() : settings_.model;
  return QString::fromStdString(std::filesystem::path(m).filename().string());
}

const Scheme* Player::modelScheme() const { return tracker_ ? &tracker_->backend().scheme() : nullptr; }
const Scheme* Player::outputScheme() const {
  return tracker_ ? &tracker_->backend().output_scheme() : nullptr;
}

bool Player::build_tracker(QString* error) {
  try {
    LddmmBackendOptions bo;
    bo.output_scheme = settings_.scheme;
    bo.grid_cells = settings_.grid_cells;
    bo.per_curve_grid = settings_.per_curve_grid;
    bo.device = settings_.device;
    bo.flip = settings_.mirror;
    TrackerOptions to;
    to.flow = true;
    to.min_face = settings_.min_face;
    to.smoothing.enabled = settings_.smoothing;
    // One LibTorch thread per frame; files align two frames at once on 2+ cores (cameras: one, newest).
    const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    to.parallel_frames = std::min(2, cores);
    torch::set_num_threads(1);
    tracker_ =
        std::make_unique<Tracker>(make_model_backend(model_files(settings_), bo), BoxMap::installed(), to);
    tracker_->set_grid(settings_.grid);
    return true;
  } catch (const std::exception& e) {
    if (error) *error = QString::fromStdString(e.what());
    tracker_.reset();
    return false;
  }
}

bool Player::start_engine(int64_t at, QString* error) {
  engine_.reset();
  pending_.reset();
  try {
    SourceOptions so;
    so.width = settings_.camera_width;
    so.height = settings_.camera_height;
    auto source = open_source(spec_.toStdString(), so);
    live_ = source->live();
    frame_count_ = source->frame_count();
    fps_ = source->fps();
    source_name_ = QString::fromStdString(source->describe());
    if (at > 0 && !source->seek(at)) at = 0;
    tracker_->reset();
    // What was posted to the old engine and not yet run is lost with it: the settings again.
    tracker_->set_grid(settings_.grid);
    SmoothingOptions smoothing;
    smoothing.enabled = settings_.smoothing;
    tracker_->set_smoothing(smoothing);
    engine_ = std::make_unique<Engine>(std::move(source), *tracker_, 2);
  } catch (const std::exception& e) {
    if (error) *error = QString::fromStdString(e.what());
    return false;
  }
  clock_start_ = Clock::now();
  media_start_ = -1;
  timer_.start();
  return true;
}

bool Player::open(const QString& spec, QString* error) {
  close();
  if (!tracker_ && !build_tracker(error)) return false;
  spec_ = spec;
  if (!start_engine(0, error)) {
    spec_.clear();
    Q_EMIT stateChanged();
    return false;
  }
  playing_ = true;
  Q_EMIT stateChanged();
  return true;
}

void Player::close() {
  timer_.stop();
  engine_.reset();
  pending_.reset();
  current_.reset();
  history_.clear();
  playing_ = false;
}

void Player::play() {
  if (!engine_) return;
  playing_ = true;
  clock_start_ = Clock::now();
  media_start_ = -1;
  Q_EMIT stateChanged();
}

void Player::pause() {
  playing_ = false;
  Q_EMIT stateChanged();
}

void Player::take(EngineOutput&& out) {
  for (LandmarkRow& r : rows_of(out.result)) history_.push_back(std::move(r));
  current_ = Current{out.frame.image, std::move(out.result), out.latency_ms};
  Q_EMIT frameReady();
}

void Player::step() {
  pause();
  if (!engine_) return;
  if (pending_) {
    take(std::move(*pending_));
    pending_.reset();
    return;
  }
  EngineOutput out;
  try {
    if (engine_->next(out, 3000)) take(std::move(out));
  } catch (const std::exception& e) {
    Q_EMIT failed(QString::fromStdString(e.what()));
  }
}

bool Player::seek(int64_t index) {
  if (spec_.isEmpty() || live_) return false;
  QString err;
  if (!start_engine(index, &err)) {
    Q_EMIT failed(err);
    return false;
  }
  if (!playing_) step();
  return true;
}

void Player::refresh() {
  if (!playing_ && !live_ && current_) seek(current_->result.index);
}

bool Player::apply(const PlayerSettings& s, QString* error) {
  const bool rebuild = !tracker_ || s.model != settings_.model || s.scheme != settings_.scheme ||
                       s.grid_cells != settings_.grid_cells || s.per_curve_grid != settings_.per_curve_grid ||
                       s.device != settings_.device || s.mirror != settings_.mirror ||
                       s.accurate != settings_.accurate;
  const bool camera =
      live_ && (s.camera_width != settings_.camera_width || s.camera_height != settings_.camera_height);
  const bool smoothing = s.smoothing != settings_.smoothing;
  const bool grid = s.grid != settings_.grid;
  const PlayerSettings old = settings_;
  settings_ = s;
  if (rebuild) {
    const int64_t at = current_ ? current_->result.index + 1 : 0;
    engine_.reset();
    if (!build_tracker(error)) {
      settings_ = old;
      build_tracker(nullptr);
      if (!spec_.isEmpty()) start_engine(at, nullptr);
      return false;
    }
    if (!spec_.isEmpty() && !start_engine(live_ ? 0 : at, error)) return false;
    if (!spec_.isEmpty() && !playing_) step();
  } else if (camera) {
    if (!start_engine(0, error)) return false;
  } else if (engine_) {
    SmoothingOptions so;
    so.enabled = s.smoothing;
    if (smoothing) engine_->post([so](Tracker& t) { t.set_smoothing(so); });
    if (grid) engine_->post([on = s.grid](Tracker& t) { t.set_grid(on); });
  } else if (grid && tracker_) {
    tracker_->set_grid(s.grid);
  }
  Q_EMIT stateChanged();
  return true;
}

void Player::poll() {
  if (!engine_ || !playing_) return;
  try {
    if (!pending_) {
      EngineOutput out;
      if (!engine_->next(out, 0)) {
        if (engine_->finished()) {
          playing_ = false;
          timer_.stop();
          Q_EMIT stateChanged();
          Q_EMIT finished();
        }
        return;
      }
      pending_ = std::move(out);
    }
    if (!live_) {
      // Files play at their own rate: show a frame when its time has come.
      if (media_start_ < 0) {
        media_start_ = pending_->frame.time;
        clock_start_ = Clock::now();
      }
      const double due = pending_->frame.time - media_start_;
      const double now = std::chrono::duration<double>(Clock::now() - clock_start_).count();
      if (now + 0.002 < due) return;
      if (now > due + 0.5) {  // fell behind (slow machine): restart the clock instead of racing
        media_start_ = pending_->frame.time;
        clock_start_ = Clock::now();
      }
    }
    EngineOutput out = std::move(*pending_);
    pending_.reset();
    take(std::move(out));
  } catch (const std::exception& e) {
    playing_ = false;
    timer_.stop();
    Q_EMIT stateChanged();
    Q_EMIT failed(QString::fromStdString(e.what()));
  }
}

}  // namespace lddmm::ui
