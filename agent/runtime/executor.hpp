// Carries one pod's plan out on the Docker Engine API: observe the pod's container, ask the
// reconciler, run its steps, and again until nothing is left (or a step fails), handing the
// reports to the caller. Runs on the pod's own serial worker; never on the master link's thread.
#pragma once

#include "docker/container_api.hpp"
#include "runtime/log_line.hpp"
#include "runtime/reconciler.hpp"
#include "runtime/service_pod.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kn::runtime {

// Which pod: the container is found by these labels, also when the pod is gone.
struct PodKey {
  std::string service_id;
  int instance_number = 0;
  std::string str() const { return service_id + "/" + std::to_string(instance_number); }
  auto operator<=>(const PodKey&) const = default;
};

// Where the reports go (the pod manager forwards them to the master).
struct ReportSink {
  std::function<void(const SetState&)> set_state;  // the reconciler already counts it as in flight
  std::function<void(const PodEvent&)> event;
  // ---- lifecycle hooks ----
  std::string node_id;  // the first parameter of the node's requests
  // A request to the master; blocks the worker until the answer (or a Failure: offline, error
  // reply, no answer within a bounded time, the agent stopping). Never call it on the loop.
  std::function<Result<nlohmann::json>(const std::string& method, const nlohmann::json& params)> call_master;
  // One /containers/log_batch notification of at most kMaxLogBatch lines.
  std::function<void(const std::vector<LogLine>&)> log_batch;
  // True once the agent is stopping: a pull in progress gives up instead of holding the stop.
  std::function<bool()> stopping;
};

struct ApplyOutcome {
  std::optional<Clock::time_point> wake_at;  // crash backoff: apply again then
  std::optional<std::chrono::milliseconds> retry_in;  // wait_for_port: the port is closed, apply again then
  bool gone = false;                         // terminated and removed
  bool converged = false;                    // nothing left to do
  std::optional<Failure> failure;            // a step (or observing) failed: retried on the next trigger
};

// The pod's container: `all=1` filtered on the service id, instance number and
// io.kontena.container.type=container; the first match wins. nullopt: there is none.
Result<std::optional<ObservedContainer>> find_pod_container(docker::ContainerApi& api, const PodKey& key);

// A stateful pod's data container: the same labels with io.kontena.container.type=volume.
Result<std::optional<ObservedContainer>> find_data_container(docker::ContainerApi& api, const PodKey& key);

// Polls GET /volumes/NAME for each of the pod's named volumes (the node's volume manager makes
// them) until all exist; Errc::volume_missing naming the first absent one after `limit`.
Status wait_for_volumes(docker::ContainerApi& api, const ServicePod& pod, std::chrono::milliseconds limit,
                        std::chrono::milliseconds poll);

// Pulls `image_name` (tag "latest" when it has none) with the pod's credentials; when the pull
// fails and the image is present locally, the local one is used (a warning event says so).
// Returns the image id the name now points to.
Result<std::string> pull_image(docker::ContainerApi& api, const ServicePod& pod, const ReportSink& sink);

// wait_for_port (kontena v1.5.4: agent/lib/kontena/workers/service_pod_worker.rb): before a
// running pod's set_state goes out, its port is TCP-probed on the container's own address
// every second, up to this long. Past it the set_state carries a Timeout::Error.
inline constexpr std::chrono::seconds kWaitForPortLimit{300};

// A wait_for_port under way for one run of the pod's container. The worker keeps it between
// applies: each apply probes once and, while the port is closed, asks to be applied again a
// second later (ApplyOutcome::retry_in) instead of holding the worker's thread.
struct PortWait {
  std::string container_id;
  std::optional<WallTime> started_at;
  std::chrono::steady_clock::time_point deadline;
};

struct ApplyOptions {
  std::chrono::milliseconds wait_for_port_limit = kWaitForPortLimit;
  std::optional<PortWait>* port_wait = nullptr;  // the worker's; null: no wait_for_port
  const std::atomic<bool>* stopping = nullptr;    // set: the agent stops, a probe ends at once
};

// Up to a few observe -> plan -> steps rounds for one pod.
ApplyOutcome apply_pod(docker::ContainerApi& api, PodReconciler& reconciler, const PodKey& key,
                       const std::optional<ServicePod>& desired, const ReportSink& sink,
                       const ApplyOptions& options = {});

}  // namespace kn::runtime
