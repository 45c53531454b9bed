#include "core/stop_signal.hpp"

#include <atomic>
#include <csignal>

namespace kn::stop_signal {
namespace {

std::atomic<bool> g_requested{false};
std::atomic<bool> g_installed{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_stop_signal(int /*sig*/) { g_requested.store(true, std::memory_order_relaxed); }

// SIGHUP's default action ends the process, and `kill -HUP` is what operators send a daemon
// to make it re-read its files; the agent reads its settings at start only, so a hang-up
// must not stop a node in its start-up waits. A handler (not SIG_IGN) so that nothing the
// agent might exec inherits the ignored signal (signal(7): handlers reset across execve).
extern "C" void on_hangup(int /*sig*/) {}

}  // namespace

void install() {
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGHUP, on_hangup);
  g_installed.store(true);
}

// SIGHUP keeps its no-op handler until the event loop's signal_set replaces it, so there is
// no instant in which a hang-up ends the process.
void uninstall() {
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGINT, SIG_DFL);
  g_installed.store(false);
}

bool requested() noexcept { return g_requested.load(std::memory_order_relaxed); }

bool installed() noexcept { return g_installed.load(); }

void set(bool value) noexcept { g_requested.store(value, std::memory_order_relaxed); }

}  // namespace kn::stop_signal
