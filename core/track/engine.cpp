#include "lddmm/track/engine.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace lddmm {

using Clock = std::chrono::steady_clock;

struct Engine::Impl {
  std::unique_ptr<FrameSource> source;
  Tracker* tracker = nullptr;
  static constexpr size_t kReadAheadBytes = size_t{384} << 20;
  size_t capacity = 4, ahead = 4;  // frames queued always / while within kReadAheadBytes
  size_t queued_bytes = 0;
  bool live = false;

  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::pair<Frame, Clock::time_point>> in;
  std::deque<EngineOutput> out;
  std::vector<std::function<void(Tracker&)>> tasks;
  bool reader_done = false, worker_done = false;
  std::exception_ptr error;
  std::atomic<bool> stop{false};
  std::thread reader, worker;

  void read_loop() {
    try {
      while (!stop) {
        Frame f;
        if (!source->read(f)) break;
        const auto t = Clock::now();
        if (!live) tracker->prefetch(f);  // its thorough scan starts now, ahead of the aligner
        std::unique_lock<std::mutex> lock(mutex);
        if (live) {
          in.clear();  // the newest frame wins
          queued_bytes = 0;
        } else {
          // A file is read ahead up to a scan period (within a memory budget), so that a frame's thorough
          // scan is done by the time the aligner reaches it.
          cv.wait(lock, [&] {
            return in.size() < capacity || (in.size() < ahead && queued_bytes < kReadAheadBytes) || stop;
          });
          if (stop) break;
        }
        queued_bytes += f.image.total() * f.image.elemSize();
        in.emplace_back(std::move(f), t);
        cv.notify_all();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mutex);
    reader_done = true;
    cv.notify_all();
  }

  void work_loop() {
    try {
      const size_t K = live ? 1 : static_cast<size_t>(std::max(1, tracker->options().parallel_frames));
      for (;;) {
        std::vector<std::pair<Frame, Clock::time_point>> items;
        std::vector<std::function<void(Tracker&)>> todo;
        {
          std::unique_lock<std::mutex> lock(mutex);
          cv.wait(lock, [&] { return in.size() >= K || reader_done || stop || !tasks.empty(); });
          todo.swap(tasks);
          if (in.empty() && todo.empty() && (reader_done || stop)) break;
          if (in.size() >= K || reader_done || stop) {
            while (!in.empty() && items.size() < K) {
              queued_bytes -= in.front().first.image.total() * in.front().first.image.elemSize();
              items.push_back(std::move(in.front()));
              in.pop_front();
            }
            cv.notify_all();
          }
        }
        for (auto& task : todo) task(*tracker);
        if (items.empty()) continue;
        const auto start = Clock::now();
        std::vector<Frame> frames;
        for (auto& it : items) frames.push_back(it.first);
        std::vector<FrameResult> results = tracker->process_batch(frames);
        const auto done = Clock::now();
        for (size_t k = 0; k < items.size(); ++k) {
          EngineOutput o;
          o.result = std::move(results[k]);
          o.frame = std::move(items[k].first);
          // Files are read ahead, so their queueing is not latency: count from the worker taking the frame.
          const auto from = live ? items[k].second : start;
          o.latency_ms = std::chrono::duration<double, std::milli>(done - from).count();
          std::unique_lock<std::mutex> lock(mutex);
          if (live) {
            out.clear();  // the consumer only wants the newest result
          } else {
            cv.wait(lock, [&] { return out.size() < capacity || stop; });
            if (stop) break;
          }
          out.push_back(std::move(o));
          cv.notify_all();
        }
        if (stop) break;
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!error) error = std::current_exception();
      stop = true;
    }
    std::lock_guard<std::mutex> lock(mutex);
    worker_done = true;
    cv.notify_all();
  }
};

Engine::Engine(std::unique_ptr<FrameSource> source, Tracker& tracker, size_t queue)
    : impl_(std::make_unique<Impl>()) {
  impl_->source = std::move(source);
  impl_->tracker = &tracker;
  impl_->capacity =
      std::max<size_t>({1, queue, static_cast<size_t>(std::max(1, tracker.options().parallel_frames))});
  impl_->live = impl_->source->live();
  tracker.set_live(impl_->live);
  impl_->ahead = impl_->capacity + static_cast<size_t>(std::max(0, tracker.options().scan_every));
  impl_->reader = std::thread([this] { impl_->read_loop(); });
  impl_->worker = std::thread([this] { impl_->work_loop(); });
}

Engine::~Engine() {
  stop();
  if (impl_->reader.joinable()) impl_->reader.join();
  if (impl_->worker.joinable()) impl_->worker.join();
}

void Engine::stop() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->stop = true;
  impl_->cv.notify_all();
}

void Engine::post(std::function<void(Tracker&)> task) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->tasks.push_back(std::move(task));
  impl_->cv.notify_all();
}

bool Engine::finished() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->worker_done && impl_->out.empty() && !impl_->error;
}

const FrameSource& Engine::source() const { return *impl_->source; }

bool Engine::next(EngineOutput& o, int timeout_ms) {
  std::unique_lock<std::mutex> lock(impl_->mutex);
  auto ready = [&] { return !impl_->out.empty() || impl_->worker_done; };
  if (timeout_ms < 0) {
    impl_->cv.wait(lock, ready);
  } else if (!impl_->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), ready)) {
    return false;
  }
  if (!impl_->out.empty()) {
    o = std::move(impl_->out.front());
    impl_->out.pop_front();
    impl_->cv.notify_all();
    return true;
  }
  if (impl_->error) {
    std::exception_ptr e = impl_->error;
    impl_->error = nullptr;
    std::rethrow_exception(e);
  }
  return false;
}

}  // namespace lddmm
