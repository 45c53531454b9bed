// An injectable clock: token expiry, backoff and deadlines read time and sleep through it,
// so tests can drive them without waiting.
#pragma once

#include <chrono>
#include <thread>

namespace kn {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  using duration = std::chrono::steady_clock::duration;
  virtual ~Clock() = default;
  virtual time_point now() = 0;
  virtual void sleep_for(duration d) = 0;
};

class SteadyClock final : public Clock {
 public:
  time_point now() override { return std::chrono::steady_clock::now(); }
  void sleep_for(duration d) override { std::this_thread::sleep_for(d); }
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
