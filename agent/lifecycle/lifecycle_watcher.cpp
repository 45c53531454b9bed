#include "lifecycle/lifecycle_watcher.hpp"

#include "core/logging.hpp"

#include <fmt/chrono.h>

namespace kn::lifecycle {
namespace {

std::string seconds_text(std::chrono::milliseconds d) {
  return fmt::format("{:.1f} s", static_cast<double>(d.count()) / 1000.0);
}

}  // namespace

std::string utc_now_iso8601() {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                     std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
}

LifecycleWatcher::LifecycleWatcher(imds::Client& client, Clock& clock, WatcherOptions options,
                                   std::function<void(const Notice&)> on_notice)
    : client_(client), clock_(clock), options_(options), on_notice_(std::move(on_notice)) {
  const auto now = clock_.now();
  if (options_.spot_interval.count() > 0) {
    items_.push_back({Path::spot, "meta-data/spot/instance-action", options_.spot_interval, options_.spot_interval, now});
  }
  if (options_.asg_interval.count() > 0) {
    items_.push_back({Path::autoscaling, "meta-data/autoscaling/target-lifecycle-state", options_.asg_interval,
                      options_.asg_interval, now});
    items_.push_back({Path::rebalance, "meta-data/events/recommendations/rebalance", options_.asg_interval,
                      options_.asg_interval, now});
  }
}

Clock::time_point LifecycleWatcher::next_due() const {
  auto due = Clock::time_point::max();
  for (const auto& item : items_) due = std::min(due, item.due);
  return due;
}

void LifecycleWatcher::run() {
  if (items_.empty()) return;
  while (!clock_.stopped()) {
    const auto wait = next_due() - clock_.now();
    if (wait > Clock::duration::zero()) {
      clock_.sleep_for(wait);
      continue;  // woken early by a stop, or due now
    }
    poll_due();
  }
}

void LifecycleWatcher::poll_due() {
  const auto now = clock_.now();
  for (auto& item : items_) {
    if (item.due <= now && !clock_.stopped()) poll(item);
  }
}

Result<std::optional<Notice>> LifecycleWatcher::read(const Item& item) {
  auto value = client_.get(item.imds_path, clock_.now() + options_.read_deadline);
  if (!value) return value.error();
  if (!*value) return std::optional<Notice>();  // 404: nothing pending
  switch (item.path) {
    case Path::spot: {
      auto n = parse_spot_action(**value);
      if (!n) return n.error();
      return std::optional<Notice>(std::move(*n));
    }
    case Path::rebalance: {
      auto n = parse_rebalance(**value);
      if (!n) return n.error();
      return std::optional<Notice>(std::move(*n));
    }
    case Path::autoscaling: return autoscaling_notice(**value, utc_now_iso8601());
  }
  return std::optional<Notice>();
}

void LifecycleWatcher::poll(Item& item) {
  auto logger = log::get("lifecycle");
  auto notice = read(item);
  if (!notice) {
    if (notice.error().is(Errc::stopped)) return;
    ++item.failures;
    item.interval = std::min(item.interval * 2, item.base * options_.backoff_factor_cap);
    // The first failure of a run is a warning; the rest would repeat it every poll.
    if (item.failures == 1) {
      logger->warn("{}; polling {} every {} until IMDS answers", notice.error().message, item.imds_path,
                   seconds_text(item.interval));
    } else {
      logger->debug("{} (failure {}); next poll in {}", notice.error().message, item.failures,
                    seconds_text(item.interval));
    }
    item.due = clock_.now() + item.interval;
    return;
  }
  if (item.failures > 0) logger->info("IMDS answers {} again", item.imds_path);
  item.failures = 0;
  item.interval = item.base;
  item.due = clock_.now() + item.interval;
  if (!*notice) {
    item.last.reset();
    return;
  }
  // The ASG state has no time of its own: the same state is the same notice.
  const bool same = item.last && item.last->action == (*notice)->action &&
                    (item.path == Path::autoscaling || item.last->time == (*notice)->time);
  if (same) return;
  item.last = **notice;
  on_notice_(**notice);
}

}  // namespace kn::lifecycle
