#include "lddmm/io/progress.hpp"

#include <unistd.h>

namespace lddmm {

bool is_terminal(std::FILE* f) { return f != nullptr && isatty(fileno(f)) == 1; }

Progress::Progress(std::FILE* out, int64_t total, bool quiet)
    : Progress(out, total, quiet, is_terminal(out)) {}

Progress::Progress(std::FILE* out, int64_t total, bool quiet, bool terminal)
    : out_(out), total_(total), quiet_(quiet), terminal_(terminal) {}

void Progress::update(int64_t done, const std::string& text) {
  if (quiet_) return;
  const Clock::time_point now = Clock::now();
  const std::string count = std::to_string(done) + (total_ > 0 ? "/" + std::to_string(total_) : "");
  if (terminal_) {
    if (now - last_ < std::chrono::milliseconds(100) && done != total_) return;
    last_ = now;
    std::fprintf(out_, "\r%s %s   ", count.c_str(), text.c_str());
    std::fflush(out_);
    open_line_ = true;
    return;
  }
  if (total_ > 0) {
    const int tenths = static_cast<int>(done * 10 / total_);
    if (tenths <= reported_tenths_) return;
    reported_tenths_ = tenths;
  } else {
    if (now - last_ < std::chrono::seconds(30)) return;
    last_ = now;
  }
  std::fprintf(out_, "%s %s\n", count.c_str(), text.c_str());
  std::fflush(out_);
}

void Progress::finish() {
  if (open_line_) std::fprintf(out_, "\n");
  open_line_ = false;
}

}  // namespace lddmm
