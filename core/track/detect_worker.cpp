#include "lddmm/track/detect_worker.hpp"

#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace lddmm {

struct DetectionWorker::Impl {
  struct Job {
    int64_t index;
    cv::Mat image;
    ScanPlan plan;
  };
  struct Done {
    std::vector<Box> boxes;
    std::exception_ptr error;
  };
  FaceDetector detector;
  mutable std::mutex mutex;
  std::condition_variable cv;
  std::deque<Job> queue;
  std::map<int64_t, Done> done;
  std::optional<int64_t> running;
  uint64_t generation = 0;  // bumped by clear(): a scan started before it is dropped
  bool stop = false;
  int nice = 0, applied_nice = 0;
  std::thread thread;

  bool known(int64_t index) const {
    if (done.count(index) > 0 || (running && *running == index)) return true;
    for (const Job& j : queue)
      if (j.index == index) return true;
    return false;
  }

  static void apply_nice(int value) {
#ifdef __linux__
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), value);
#else
    (void)value;
#endif
  }

  void loop() {
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
      cv.wait(lock, [&] { return stop || !queue.empty(); });
      if (stop) return;
      if (nice != applied_nice) {
        apply_nice(nice);
        applied_nice = nice;
      }
      Job job = std::move(queue.front());
      queue.pop_front();
      running = job.index;
      const uint64_t gen = generation;
      lock.unlock();
      Done d;
      try {
        d.boxes = scan_faces(detector, job.image, job.plan);
      } catch (...) {
        d.error = std::current_exception();
      }
      job.image.release();
      lock.lock();
      running.reset();
      if (gen == generation) done[job.index] = std::move(d);
      cv.notify_all();
    }
  }
};

DetectionWorker::DetectionWorker(int nice) : impl_(std::make_unique<Impl>()) {
  impl_->nice = nice;
  Impl* impl = impl_.get();
  impl_->thread = std::thread([impl] { impl->loop(); });
}

void DetectionWorker::set_nice(int nice) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->nice = nice;
}

DetectionWorker::~DetectionWorker() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  impl_->thread.join();
}

void DetectionWorker::submit(int64_t index, const cv::Mat& image, const ScanPlan& plan) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->known(index)) return;
  impl_->queue.push_back({index, image, plan});
  impl_->cv.notify_all();
}

std::vector<Box> DetectionWorker::wait(int64_t index, const cv::Mat& image, const ScanPlan& plan) {
  std::unique_lock<std::mutex> lock(impl_->mutex);
  if (!impl_->known(index)) {
    impl_->queue.push_back({index, image, plan});
    impl_->cv.notify_all();
  }
  impl_->cv.wait(lock, [&] { return impl_->done.count(index) > 0 || !impl_->known(index); });
  const auto it = impl_->done.find(index);
  if (it == impl_->done.end()) return {};  // cleared meanwhile
  Impl::Done d = std::move(it->second);
  impl_->done.erase(it);
  if (d.error) std::rethrow_exception(d.error);
  return d.boxes;
}

std::optional<std::pair<int64_t, std::vector<Box>>> DetectionWorker::poll() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->done.empty()) return std::nullopt;
  auto it = impl_->done.begin();
  std::pair<int64_t, std::vector<Box>> out{it->first, std::move(it->second.boxes)};
  const std::exception_ptr error = it->second.error;
  impl_->done.erase(it);
  if (error) std::rethrow_exception(error);
  return out;
}

bool DetectionWorker::busy() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->running.has_value() || !impl_->queue.empty();
}

void DetectionWorker::clear() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->queue.clear();
  impl_->done.clear();
  ++impl_->generation;
  impl_->cv.notify_all();
}

}  // namespace lddmm
