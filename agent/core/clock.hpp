// An injectable clock: token expiry, backoff and deadlines read time and sleep through it,
// so tests can drive them without waiting.
#pragma once

#include "core/stop_signal.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace kn {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;
  virtual ~Clock() = default;
  virtual time_point now() = 0;
  virtual void sleep_for(duration d) = 0;
  // True when the process was asked to stop: loops waiting through this clock give up.
  virtual bool stopped() { return false; }
};

class SteadyClock final : public Clock {
 public:
  time_point now() override { return std::chrono::steady_clock::now(); }
  // Sleeps in slices of at most 50 ms so a stop request ends the wait promptly.
  void sleep_for(duration d) override {
    const auto until = now() + d;
    while (!stopped()) {
      const auto left = until - now();
      if (left <= duration::zero()) return;
      std::this_thread::sleep_for(std::min<duration>(left, std::chrono::milliseconds(50)));
    }
  }
  bool stopped() override { return stop_signal::requested(); }
};

// A SteadyClock that another thread can stop too: a thread that outlives the start-up waits
// (the lifecycle watcher, after the event loop took SIGTERM over) ends its sleep at once.
class StoppableClock final : public Clock {
 public:
  time_point now() override { return std::chrono::steady_clock::now(); }
  // A signal can only set a flag, so while stop_signal is installed the wait looks at it every
  // 50 ms. Afterwards only stop() ends the wait, and it wakes the wait at once: the lifecycle
  // watcher's 30 s sleeps then cost one wake-up each, not 600 (docs/architecture.md, idle budget).
  void sleep_for(duration d) override {
    const auto until = now() + d;
    std::unique_lock lock(mutex_);
    while (!stop_ && !stop_signal::requested() && now() < until) {
      const auto left = until - now();
      wake_.wait_for(lock, stop_signal::installed() ? std::min<duration>(left, std::chrono::milliseconds(50)) : left);
    }
  }
  bool stopped() override {
    std::lock_guard lock(mutex_);
    return stop_ || stop_signal::requested();
  }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
};

// A clock that only moves when told to (or when someone sleeps on it).
class ManualClock final : public Clock {
 public:
  time_point now() override { return now_; }
  void sleep_for(duration d) override { now_ += d; }
  void advance(duration d) { now_ += d; }

 private:
  time_point now_{std::chrono::hours(1)};
};

}  // namespace kn
