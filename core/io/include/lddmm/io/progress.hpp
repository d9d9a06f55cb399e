#pragma once
// A progress report on stderr that suits where it goes: on a terminal one line rewritten in place (at most
// ten times a second); into a log or a pipe a plain line at every tenth of the work (or every 30 s when the
// total is unknown), so logs hold no carriage returns.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace lddmm {

class Progress {
 public:
  /// `total` <= 0: unknown. `terminal`: rewrite one line in place (default: whether `out` is a terminal).
  Progress(std::FILE* out, int64_t total, bool quiet);
  Progress(std::FILE* out, int64_t total, bool quiet, bool terminal);
  /// `done` items so far; `text` is the whole report after the count (rate, ETA, ...).
  void update(int64_t done, const std::string& text);
  /// Ends the in-place line (a newline) if one was written.
  void finish();
  bool terminal() const { return terminal_; }

 private:
  using Clock = std::chrono::steady_clock;
  std::FILE* out_;
  int64_t total_;
  bool quiet_, terminal_, open_line_ = false;
  int reported_tenths_ = 0;
  Clock::time_point last_ = Clock::now() - std::chrono::hours(1);
};

/// Whether a stdio stream is a terminal.
bool is_terminal(std::FILE* f);

}  // namespace lddmm
