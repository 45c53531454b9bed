// Keeps the engine labels in place while the agent runs: apply_labels at start, then again
// every check interval (setting label-check-interval, default 60 s). apply_labels is
// idempotent and costs one file read plus two Engine API requests when nothing drifted, so
// the periodic check is the same step; it rewrites or reloads only when something changed
// (someone edited daemon.json, or dockerd was restarted with another file).
#pragma once

#include "core/labels.hpp"
#include "docker/label_applier.hpp"

#include <chrono>
#include <functional>
#include <stop_token>

namespace kn::docker {

using ApplyObserver = std::function<void(const Result<ApplyReport>&)>;

// Blocks until `stop` is requested (returns within the time one apply takes). Every
// outcome goes to `observer` (may be empty) and to the "docker" log: failures are logged
// as warnings and retried at the next check, since a later check may succeed (dockerd
// restarting). Call on a thread of its own, e.g. std::jthread.
void keep_labels(std::stop_token stop, const LabelSet& labels, const ApplyOptions& options,
                 std::chrono::milliseconds interval, const ApplyObserver& observer = {});

}  // namespace kn::docker
