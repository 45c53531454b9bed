// A service pod's lifecycle hooks on the Docker Engine API (kontena v1.5.4:
// agent/lib/kontena/service_pods/lifecycle_hook_manager.rb):
//  - pre_start: a throw-away container made from the pod's create body (same image, env,
//    volumes...) with Entrypoint ["/bin/sh", "-c"] and Cmd [cmd], named "<name>-<random>" and
//    labelled io.kontena.container.type=service_hook; started, waited for, its output read and
//    removed. A non-zero exit fails the step (Errc::hook_failed): the container is not started.
//  - post_start, pre_stop: `/bin/sh -c cmd` as a Docker exec in the service container. A
//    failure is logged and sent as an error pod event; it never stops the start or the stop.
// A oneshot hook is marked done on the master (/node_service_pods/mark_oneshot_hook) before it
// runs, and runs only when that request succeeded. Every output line goes to the master's log
// stream (/containers/log_batch) under the service container's id; a pre_start hook's lines
// under the old container's id when there is one, else under the hook container's.
// Runs on the pod's worker, never on the loop (the calls block).
#pragma once

#include "core/error.hpp"
#include "docker/container_api.hpp"
#include "runtime/executor.hpp"
#include "runtime/reconciler.hpp"
#include "runtime/service_pod.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <string>

namespace kn::runtime {

// How long one hook may run: the master gives a deploy 300 s in all.
inline constexpr std::chrono::seconds kHookLimit{300};

// The step's pre_start hooks, one after another; `body` is the pod's create body (as the
// executor made it, volumes_from resolved). The first failure ends the step.
Status run_pre_start_hooks(docker::ContainerApi& api, const ServicePod& pod, const nlohmann::json& body,
                           const Step& step, PodReconciler& reconciler, const ReportSink& sink);

// The step's post_start or pre_stop hooks in `container_id`; `labels` are the container's (or
// the pod's) io.kontena.* labels, which name the instance in reports. Failures are reported.
void run_exec_hooks(docker::ContainerApi& api, const std::map<std::string, std::string>& labels,
                    const std::string& container_id, const Step& step, PodReconciler& reconciler,
                    const ReportSink& sink);

}  // namespace kn::runtime
