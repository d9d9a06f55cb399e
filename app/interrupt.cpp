#include "interrupt.hpp"

#include <atomic>
#include <csignal>
#include <cstdint>
#include <ctime>
#include <initializer_list>

namespace lddmm::app {
namespace {

std::atomic<int> g_signal{0};
std::atomic<int64_t> g_first_ns{0};  // when the first signal came (monotonic clock)
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<int64_t>::is_always_lock_free);

int64_t now_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);  // async-signal-safe
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

// A second signal a second or more after the first ends the program at once. Closer ones are one request:
// `timeout` and a terminal send theirs to the process and to its group, so it arrives twice.
extern "C" void on_signal(int sig) {
  int none = 0;
  if (g_signal.compare_exchange_strong(none, sig)) {
    g_first_ns = now_ns();
    return;
  }
  if (now_ns() - g_first_ns.load() >= 1000000000) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

namespace {
// The handlers go in before any shared library starts (LibTorch's start-up takes about half a second):
// the executable's pre-initialisation array runs first.
void install_early(int, char**, char**) { install_interrupt_handlers(); }
[[gnu::used, gnu::section(".preinit_array")]] void (*const g_install_early)(int, char**,
                                                                            char**) = install_early;
}  // namespace

int interrupt_signal() { return g_signal.load(); }

int interrupted_status() { return 128 + g_signal.load(); }

}  // namespace lddmm::app
