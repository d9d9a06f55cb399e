// SIGINT, SIGTERM and SIGHUP end a run cleanly: the first sets a flag the loops check (the frame in flight
// is finished, files are closed), a second one (a second or more later) ends the program at once.
#pragma once

namespace lddmm::app {

/// Installs the handlers (main's first step).
void install_interrupt_handlers();
/// The signal that asked the run to stop, 0 while none did.
int interrupt_signal();
/// The exit status of a run stopped by interrupt_signal(): 128 + the signal (130, 143, 129).
int interrupted_status();

}  // namespace lddmm::app
