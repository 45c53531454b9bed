#include "core/stop_signal.hpp"

#include <atomic>
#include <csignal>

namespace kn::stop_signal {
namespace {

std::atomic<bool> g_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_stop_signal(int /*sig*/) { g_requested.store(true, std::memory_order_relaxed); }

}  // namespace

void install() {
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);
}

void uninstall() {
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGINT, SIG_DFL);
}

bool requested() noexcept { return g_requested.load(std::memory_order_relaxed); }

void set(bool value) noexcept { g_requested.store(value, std::memory_order_relaxed); }

}  // namespace kn::stop_signal
