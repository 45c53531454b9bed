// The node's decisions for one service pod, without I/O (the kubelet's "compute pod actions"
// step: https://github.com/kubernetes/kubernetes/blob/master/pkg/kubelet/kuberuntime/kuberuntime_manager.go).
// Given what the master wants (the pod, or nothing: terminated), what Docker has (the pod's
// container) and what the node remembers (pulls, restart requests, crashes, the last report),
// it returns the ordered Docker steps and the reports to the master. The executor runs the
// steps, observes again and asks again until no step is left; then the plan carries the
// set_state. Rules: kontena v1.5.4: agent/lib/kontena/workers/service_pod_worker.rb,
// agent/lib/kontena/service_pods/creator.rb.
#pragma once

#include "core/clock.hpp"
#include "core/error.hpp"
#include "runtime/service_pod.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kn::runtime {

using WallTime = std::chrono::system_clock::time_point;

// What the node needs of a container's GET /containers/{id}/json.
struct ObservedContainer {
  std::string id;
  std::string name;
  bool running = false;
  std::optional<WallTime> started_at;  // State.StartedAt (nil before the first start)
  std::map<std::string, std::string> labels;
  std::string state_error;  // State.Error
  std::string image_id;     // Image: the sha256 id it was created from
};

// Errc::docker_failed when the document lacks Id or State.
Result<ObservedContainer> observe_container(const nlohmann::json& inspect);
// RFC 3339 with optional fraction, as Docker writes times ("2018-08-10T12:34:56.123456789Z").
std::optional<WallTime> parse_docker_time(std::string_view text);

// The hook steps run the pod's lifecycle hooks of that type (runtime/lifecycle_hooks.hpp) and
// are planned only when there are some: pre_start before a container is created or started,
// post_start after it started, pre_stop before a running container is stopped (desired
// stopped, terminated or re-created); a `service restart` runs none (kontena v1.5.4:
// agent/lib/kontena/service_pods/creator.rb, starter.rb, stopper.rb, terminator.rb, restarter.rb).
// create_data / remove_data: a stateful pod's data container (container_spec.hpp).
enum class StepKind { pull, create, start, stop, restart, remove, pre_start, post_start, pre_stop, create_data,
                      remove_data };
std::string_view to_string(StepKind k) noexcept;

struct Step {
  StepKind kind;
  std::string container_id;        // start, stop, restart, remove, pre_stop: the existing container;
                                   // pre_start: the old one (if any); post_start: empty for the created one
  std::chrono::seconds grace{10};  // stop, restart
  bool remove_volumes = true;      // remove: v=1, the pod's anonymous volumes go with it
  std::vector<HookSpec> hooks;     // hook steps: the hooks to run, in the pod's order
  bool operator==(const Step&) const = default;
};

// /node_service_pods/set_state [node_id, {service_id, instance_number, rev, state, error}].
struct SetState {
  std::string service_id;
  int instance_number = 0;
  std::optional<std::string> rev;  // the pod's deploy_rev, byte for byte
  std::string state;               // running | restarting | stopped | missing
  std::optional<std::string> error;
  bool operator==(const SetState&) const = default;
  nlohmann::json to_json() const;
};

// /node_service_pods/event [node_id, {service_id, instance_number, severity, type, data}].
namespace severity {
inline constexpr int debug = 0, info = 1, warn = 2, error = 3;
}
struct PodEvent {
  std::string service_id;
  int instance_number = 0;
  int severity = severity::info;
  std::string type;  // "service:create_instance", "service:instance_crash", ...
  std::string data;
  nlohmann::json to_json() const;
};

struct Plan {
  std::vector<Step> steps;
  std::vector<PodEvent> events;        // sent before the steps run
  std::optional<SetState> set_state;   // only when nothing is left to do
  std::optional<Clock::time_point> wake_at;  // crash backoff: reconcile again at this time
  bool gone = false;                   // terminated and no container left: the worker may go
};

// "Docker::Error::NotFoundError: <message>": the "Class: msg" form the master shows.
std::string error_text(const Failure& f);

class PodReconciler {
 public:
  static constexpr std::chrono::seconds kMaxBackoff{30};
  static constexpr std::chrono::seconds kStableUptime{10};

  explicit PodReconciler(Clock& clock) : clock_(&clock) {}

  // The next steps. `desired` nullopt: the pod left the list (terminated). `data_container`: the pod's
  // data container (io.kontena.container.type=volume), made for stateful pods before their
  // container and removed after it when the pod is terminated; kept across stop and recreate.
  Plan plan(const std::optional<ServicePod>& desired, const std::optional<ObservedContainer>& observed,
            const std::optional<ObservedContainer>& data_container = std::nullopt) const;
  // A step failed: the error event and the set_state (state as observed, error set).
  Plan failed(const std::optional<ServicePod>& desired, const std::optional<ObservedContainer>& observed,
              const Step& step, const Failure& failure) const;

  // The pull for the pod's deploy_rev ran; `image_id` is what the name now points to.
  void pulled(const ServicePod& pod, std::string image_id);
  // A container event "die" (any exit code). Returns the crash event when it counts: the
  // current container, newer than its start, while the pod should run.
  std::optional<PodEvent> died(const std::optional<ServicePod>& desired, const ObservedContainer& current,
                               std::string_view container_id, WallTime at, std::optional<long> exit_code);
  // `kontena service restart`: restart this container (ignored once it is replaced).
  void request_restart(std::string container_id) { restart_for_ = std::move(container_id); }
  // The container was started or restarted: a pending restart request and the backoff
  // deadline are spent.
  void started() {
    restart_for_.reset();
    restart_not_before_.reset();
  }

  // The pod's hooks, kept for the pre_stop of a pod that left the list (its container is
  // stopped after the pod is gone). Called with each desired pod before planning.
  void track_hooks(const ServicePod& pod) { hooks_ = pod.hooks; }
  // A oneshot hook was marked done on the master: it is not planned again, even while the
  // pod still lists it (the master drops it from the next list).
  void oneshot_marked(const std::string& hook_id) { oneshots_marked_.insert(hook_id); }

  // set_state bookkeeping: a report goes out (or is in flight) and is then acknowledged or failed.
  void sending(const SetState& s) { pending_ = s; }
  void sent(const SetState& s, bool ok);

  int crash_restarts() const { return crash_restarts_; }

 private:
  std::optional<SetState> report(const std::optional<ServicePod>& desired,
                                 const std::optional<ObservedContainer>& observed,
                                 std::optional<std::string> error) const;
  bool outdated(const ServicePod& pod, const ObservedContainer& c, bool& needs_pull) const;
  bool pulled_for(const ServicePod& pod) const;
  // Appends a hook step when the pod has hooks of that type still to run.
  void add_hooks(std::vector<Step>& steps, StepKind kind, const std::vector<HookSpec>& hooks,
                 std::string container_id) const;

  Clock* clock_;
  struct Pulled {
    std::optional<std::string> deploy_rev;
    std::string image;
    std::string image_id;
  };
  std::optional<Pulled> pulled_;
  std::optional<std::string> restart_for_;
  int crash_restarts_ = 0;
  std::optional<Clock::time_point> restart_not_before_;
  std::optional<SetState> acked_, pending_;
  std::vector<HookSpec> hooks_;
  std::set<std::string> oneshots_marked_;
};

}  // namespace kn::runtime
