// Watches IMDS for the notices that precede the end of the instance (termination_notice.hpp):
// spot/instance-action every 5 s (AWS's advice, see the spot link there), the Auto Scaling
// target lifecycle state and the rebalance recommendation every 30 s. A 404 is "nothing
// pending". A read that still fails after the client's own retries (429 throttling, 5xx,
// IMDS gone) doubles that path's interval, up to 8 times its base, so a throttled IMDS is
// not hammered; the first answer puts the base interval back.
//
// Runs on one thread with the IMDS client the agent read its labels with (same token), which
// nobody else uses meanwhile (imds::Client is not thread-safe).
#pragma once

#include "core/clock.hpp"
#include "imds/imds_client.hpp"
#include "lifecycle/termination_notice.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kn::lifecycle {

struct WatcherOptions {
  std::chrono::milliseconds spot_interval{5'000};  // 0: not polled
  std::chrono::milliseconds asg_interval{30'000};  // autoscaling and rebalance; 0: not polled
  // One read's retries inside the client (429, 5xx) end after this; then the path backs off.
  std::chrono::milliseconds read_deadline{2'000};
  int backoff_factor_cap = 8;  // a failing path waits at most this many base intervals
};

class LifecycleWatcher {
 public:
  // `on_notice` runs on the watcher's thread, once per new notice (a notice IMDS keeps
  // showing is reported once; a changed one again).
  LifecycleWatcher(imds::Client& client, Clock& clock, WatcherOptions options,
                   std::function<void(const Notice&)> on_notice);

  // Polls until clock.stopped(). Blocking.
  void run();

  // One round: polls every path that is due. For tests; run() loops over it.
  void poll_due();
  // The time the next path is due.
  Clock::time_point next_due() const;

 private:
  enum class Path { spot, autoscaling, rebalance };
  struct Item {
    Path path;
    std::string_view imds_path;
    std::chrono::milliseconds base;
    std::chrono::milliseconds interval;
    Clock::time_point due;
    std::optional<Notice> last;
    int failures = 0;
  };
  void poll(Item& item);
  Result<std::optional<Notice>> read(const Item& item);

  imds::Client& client_;
  Clock& clock_;
  WatcherOptions options_;
  std::function<void(const Notice&)> on_notice_;
  std::vector<Item> items_;
};

// The current UTC time as IMDS writes times, "2026-11-30T17:02:00Z".
std::string utc_now_iso8601();

}  // namespace kn::lifecycle
