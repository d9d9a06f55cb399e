// The asynchronous engine: a reader thread pulls frames from a source, a worker thread runs the tracker,
// and the consumer takes results without ever blocking either. Files give every frame in order (bounded
// queues, back-pressure); live sources keep only the newest frame and the newest result.
#pragma once

#include <exception>
#include <functional>
#include <memory>

#include "lddmm/track/source.hpp"
#include "lddmm/track/tracker.hpp"

namespace lddmm {

struct EngineOutput {
  Frame frame;
  FrameResult result;
  double latency_ms = 0;  // live: from the frame leaving the camera to its result; files: from the worker
                          // taking the frame (files are read ahead, so queueing is not latency)
};

class Engine {
 public:
  /// Starts the threads. The tracker must outlive the engine; the engine owns the source.
  Engine(std::unique_ptr<FrameSource> source, Tracker& tracker, size_t queue = 4);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// The next output (files: the next frame in order; live: the newest). Waits up to `timeout_ms`
  /// (negative: until one is ready). Returns false when there is none yet (timeout) or the source ended
  /// (then finished() is true). An error of the source or tracker is rethrown here once every output
  /// computed before it has been taken.
  bool next(EngineOutput& out, int timeout_ms = -1);
  bool finished() const;
  /// Runs `task` on the worker thread between two frames (change tracker settings safely).
  void post(std::function<void(Tracker&)> task);
  /// Stops reading; next() then drains what is ready and reports the end.
  void stop();
  const FrameSource& source() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lddmm
