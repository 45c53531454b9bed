#include "docker/label_keeper.hpp"

#include "core/logging.hpp"

#include <condition_variable>
#include <mutex>

namespace kn::docker {

void keep_labels(std::stop_token stop, const LabelSet& labels, const ApplyOptions& options,
                 std::chrono::milliseconds interval, const ApplyObserver& observer) {
  auto log = log::get("docker");
  std::mutex mutex;
  std::condition_variable_any wake;
  while (!stop.stop_requested()) {
    auto result = apply_labels(labels, options);
    if (!result) {
      log->warn("engine labels check failed (next check in {} ms): {}", interval.count(), result.error().message);
    } else if (result->file_changed || result->reloaded) {
      log->info("engine labels repaired: {}", result->summary);
    } else {
      log->debug("engine labels check: {}", result->summary);
    }
    if (observer) observer(result);
    std::unique_lock lock(mutex);
    wake.wait_for(lock, stop, interval, [] { return false; });
  }
}

}  // namespace kn::docker
