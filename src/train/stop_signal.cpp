// Async-signal-safe stop flag.
#include "fmnist/train/stop_signal.h"

#include <csignal>

namespace fmnist {
namespace {
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int signal_number) { g_stop_signal = signal_number; }
}  // namespace

void install_stop_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGUSR1, &action, nullptr);
}

bool stop_signal_received() { return g_stop_signal != 0; }

}  // namespace fmnist
