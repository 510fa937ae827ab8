#include "framering/common/stop_signal.hpp"

#include <csignal>

namespace framering {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void framering_on_stop_signal(int signal_number) { g_stop_signal = signal_number; }

}  // namespace

void install_stop_handlers() noexcept {
  struct sigaction action{};
  action.sa_handler = framering_on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR so loops notice at once
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

bool stop_requested() noexcept { return g_stop_signal != 0; }

int stop_signal() noexcept { return g_stop_signal; }

}  // namespace framering
