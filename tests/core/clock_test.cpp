// StoppableClock: the lifecycle watcher sleeps through it for the agent's whole life, so an idle
// sleep must cost no wake-ups, and each way of ending it must end it.
#include "core/clock.hpp"
#include "core/stop_signal.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;

long voluntary_switches(pid_t tid) {
  std::ifstream status("/proc/self/task/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("voluntary_ctxt_switches:", 0) == 0) return std::stol(line.substr(line.find(':') + 1));
  }
  FAIL("no voluntary_ctxt_switches in /proc/self/task/" << tid << "/status");
  return -1;
}

}  // namespace

TEST_CASE("stoppable clock: with the event loop owning the signals a long sleep does not wake, and stop() ends it") {
  REQUIRE_FALSE(kn::stop_signal::installed());
  kn::StoppableClock clock;
  std::atomic<pid_t> tid{0};
  std::thread sleeper([&] {
    tid = gettid();
    clock.sleep_for(1h);
  });
  while (tid == 0) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(200ms);  // the sleeper is in its wait
  const long before = voluntary_switches(tid);
  std::this_thread::sleep_for(1s);
  const long after = voluntary_switches(tid);
  clock.stop();
  sleeper.join();  // a sleep that stop() did not end hangs here, and ctest's timeout fails it
  // 50 ms slices would be 20 wake-ups in that second (0.67 s CPU per 10 idle minutes, bench/).
  CHECK(after - before <= 2);
  CHECK(clock.stopped());
}

TEST_CASE("stoppable clock: in the start-up waits a stop request from a signal ends the sleep") {
  kn::stop_signal::install();
  kn::StoppableClock clock;
  std::thread sleeper([&] { clock.sleep_for(1h); });
  std::this_thread::sleep_for(100ms);
  kn::stop_signal::set(true);  // what SIGTERM does while the handler is installed
  sleeper.join();              // a sleep that does not look at the request hangs here
  CHECK(clock.stopped());
  kn::stop_signal::set(false);
  kn::stop_signal::uninstall();
  CHECK_FALSE(kn::stop_signal::installed());
}
