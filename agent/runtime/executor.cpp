#include "runtime/executor.hpp"

#include "core/logging.hpp"
#include "docker/image_ref.hpp"
#include "runtime/container_spec.hpp"
#include "runtime/lifecycle_hooks.hpp"
#include "runtime/port_probe.hpp"

#include <fmt/format.h>

#include <thread>

namespace kn::runtime {
namespace {

// A registry that does not answer gives up well before the master's 300 s deploy wait.
constexpr std::chrono::seconds kPullLimit{120};
// kontena v1.5.4: agent/lib/kontena/service_pods/creator.rb waits this long for the pod's named
// volumes before it gives up on the create.
constexpr std::chrono::seconds kVolumeWait{30};
constexpr std::chrono::milliseconds kVolumePoll{500};
// Each round either converges or changes the container; a few rounds cover pull -> recreate.
constexpr int kMaxRounds = 4;

Result<std::string> image_id_of(docker::ContainerApi& api, const std::string& ref) {
  auto doc = api.inspect_image(ref);
  if (!doc) return doc.error();
  if (!doc->contains("Id") || !(*doc)["Id"].is_string()) {
    return fail(Errc::docker_failed, fmt::format("failed to inspect image {}: no Id in the answer", ref));
  }
  return (*doc)["Id"].get<std::string>();
}

// A stack file's `volumes_from: [data-%s]` names a service, not a container: Kontena tries
// the name as given, then `<stack>-name` and `<stack>.name` (the container of service `data`
// in stack `app` is `app.data-1`) and uses the first that exists
// (kontena v1.5.4: agent/lib/kontena/service_pods/creator.rb). An optional :ro/:rw stays.
void resolve_volumes_from(docker::ContainerApi& api, const ServicePod& pod, nlohmann::json& body) {
  auto& from = body["HostConfig"]["VolumesFrom"];
  if (!from.is_array()) return;
  const auto stack_it = pod.labels.find("io.kontena.stack.name");
  if (stack_it == pod.labels.end() || stack_it->second.empty()) return;
  for (auto& entry : from) {
    const std::string text = entry.get<std::string>();
    const auto colon = text.rfind(':');
    const bool has_mode = colon != std::string::npos && (text.substr(colon) == ":ro" || text.substr(colon) == ":rw");
    const std::string name = has_mode ? text.substr(0, colon) : text;
    const std::string mode = has_mode ? text.substr(colon) : std::string();
    for (const auto& candidate : {name, stack_it->second + "-" + name, stack_it->second + "." + name}) {
      if (api.inspect(candidate)) {
        entry = candidate + mode;
        break;
      }
    }
  }
}

// The labels that name the instance in hook reports: the pod's, or the container's when the
// pod has left the list.
std::map<std::string, std::string> instance_labels(const std::optional<ServicePod>& desired,
                                                   const std::optional<ObservedContainer>& observed) {
  if (desired) return container_labels(*desired);
  return observed ? observed->labels : std::map<std::string, std::string>{};
}

// One wait_for_port probe of the pod's running container: true when the port accepts a
// connection. The address is read again each time (it is the container's own, see port_probe.hpp).
bool port_open(docker::ContainerApi& api, const ObservedContainer& container, int port, const ApplyOptions& options) {
  auto doc = api.inspect(container.id);
  if (!doc) return false;
  const auto address = probe_address(*doc);
  return address && tcp_port_open(*address, port, std::chrono::seconds(1), options.stopping);
}

Result<std::optional<ObservedContainer>> find_typed_container(docker::ContainerApi& api, const PodKey& key,
                                                              std::string_view type) {
  auto list = api.list({std::string(label::service_id) + "=" + key.service_id,
                        std::string(label::instance_number) + "=" + std::to_string(key.instance_number),
                        std::string(label::container_type) + "=" + std::string(type)});
  if (!list) return list.error();
  if (list->empty()) return std::optional<ObservedContainer>();
  auto doc = api.inspect(list->front().id);
  if (!doc) {
    if (doc.error().is(Errc::docker_not_found)) return std::optional<ObservedContainer>();  // removed meanwhile
    return doc.error();
  }
  auto c = observe_container(*doc);
  if (!c) return c.error();
  return std::optional<ObservedContainer>(std::move(*c));
}

}  // namespace

Result<std::optional<ObservedContainer>> find_pod_container(docker::ContainerApi& api, const PodKey& key) {
  return find_typed_container(api, key, "container");
}

Result<std::optional<ObservedContainer>> find_data_container(docker::ContainerApi& api, const PodKey& key) {
  return find_typed_container(api, key, "volume");
}

Status wait_for_volumes(docker::ContainerApi& api, const ServicePod& pod, std::chrono::milliseconds limit,
                        std::chrono::milliseconds poll) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (const auto& v : pod.volumes) {
    if (!v.name || v.bind_mount) continue;
    for (;;) {
      auto found = api.inspect_volume(*v.name);
      if (found) break;
      if (!found.error().is(Errc::docker_not_found)) return found.error();
      if (std::chrono::steady_clock::now() >= deadline) {
        return fail(Errc::volume_missing,
                    fmt::format("failed to create container {}: the volume {} is not on this node after {} s; the "
                                "node creates it when the master lists it in /node_volumes/list (check `kontena volume "
                                "ls` and the agent log)",
                                container_name(pod), *v.name,
                                std::chrono::duration_cast<std::chrono::seconds>(limit).count()));
      }
      std::this_thread::sleep_for(poll);
    }
  }
  return {};
}

Result<std::string> pull_image(docker::ContainerApi& api, const ServicePod& pod, const ReportSink& sink) {
  const auto ref = image_reference(pod.image_name);
  std::optional<docker::RegistryAuth> auth;
  if (pod.image_credentials) {
    auth = docker::RegistryAuth{pod.image_credentials->username, pod.image_credentials->password,
                                pod.image_credentials->email, {}};
  }
  auto pulled = api.pull(ref, auth, kPullLimit, sink.stopping);
  if (!pulled && pulled.error().is(Errc::stopped)) return pulled.error();
  if (pulled) return image_id_of(api, ref);
  // The registry may be unreachable while the image is here already (kontena v1.5.4:
  // agent/lib/kontena/workers/image_pull_worker.rb does the same after its retries).
  auto local = image_id_of(api, ref);
  if (!local) return pulled.error();
  log::get("runtime")->warn("using the local image {} for {}: {}", ref, pod.key(), pulled.error().message);
  if (sink.event) {
    sink.event(PodEvent{pod.service_id, pod.instance_number, severity::warn, "service:pull_image",
                        fmt::format("using the local image {}: {}", ref, pulled.error().message)});
  }
  return local;
}

ApplyOutcome apply_pod(docker::ContainerApi& api, PodReconciler& reconciler, const PodKey& key,
                       const std::optional<ServicePod>& desired, const ReportSink& sink,
                       const ApplyOptions& options) {
  ApplyOutcome outcome;
  auto emit = [&](const Plan& plan) {
    if (sink.event) {
      for (const auto& e : plan.events) sink.event(e);
    }
    if (plan.set_state) {
      reconciler.sending(*plan.set_state);
      if (sink.set_state) sink.set_state(*plan.set_state);
    }
  };
  if (desired) reconciler.track_hooks(*desired);
  for (int round = 0; round < kMaxRounds; ++round) {
    auto observed = find_pod_container(api, key);
    if (!observed) {
      outcome.failure = observed.error();
      return outcome;
    }
    // Only stateful and terminated pods have a data container to care about.
    std::optional<ObservedContainer> data;
    if (!desired || desired->desired_state == DesiredState::terminated || desired->stateful) {
      auto found = find_data_container(api, key);
      if (!found) {
        outcome.failure = found.error();
        return outcome;
      }
      data = std::move(*found);
    }
    auto plan = reconciler.plan(desired, *observed, data);
    const bool waits = plan.steps.empty() && plan.set_state && plan.set_state->state == "running" && desired &&
                       desired->wait_for_port && desired->desired_state == DesiredState::running &&
                       options.port_wait != nullptr && *observed;
    if (!waits) {
      if (options.port_wait != nullptr) options.port_wait->reset();
    } else {
      const auto& c = **observed;
      auto& wait = *options.port_wait;
      if (!wait || wait->container_id != c.id || wait->started_at != c.started_at) {
        wait = PortWait{c.id, c.started_at, std::chrono::steady_clock::now() + options.wait_for_port_limit};
      }
      const int port = *desired->wait_for_port;
      if (port_open(api, c, port, options)) {
        wait.reset();
      } else if (std::chrono::steady_clock::now() < wait->deadline) {
        outcome.retry_in = std::chrono::seconds(1);  // the set_state waits; the worker is free meanwhile
        return outcome;
      } else {
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(options.wait_for_port_limit);
        const auto text = fmt::format("Timeout::Error: port {} of {} did not open within {} s (wait_for_port)", port,
                                      c.name, seconds.count());
        log::get("runtime")->warn("pod {}: {}", key.str(), text);
        plan.set_state->error = text;
        wait.reset();
      }
    }
    emit(plan);
    outcome.wake_at = plan.wake_at;
    outcome.gone = plan.gone;
    if (plan.steps.empty()) {
      outcome.converged = true;
      return outcome;
    }
    // The create body is checked before anything runs: a pod that cannot be created must not
    // cost the old container (a recreate removes it first). pre_start hook containers are
    // made from it too.
    std::optional<nlohmann::json> body;
    for (const auto& step : plan.steps) {
      if ((step.kind != StepKind::create && step.kind != StepKind::pre_start) || body) continue;
      auto made = create_body(*desired);
      if (!made) {
        log::get("runtime")->warn("pod {}: {}", key.str(), made.error().message);
        emit(reconciler.failed(desired, *observed, step, made.error()));
        outcome.failure = made.error();
        return outcome;
      }
      body = std::move(*made);
      resolve_volumes_from(api, *desired, *body);
      if (auto ready = wait_for_volumes(api, *desired, kVolumeWait, kVolumePoll); !ready) {
        log::get("runtime")->warn("pod {}: {}", key.str(), ready.error().message);
        emit(reconciler.failed(desired, *observed, step, ready.error()));
        outcome.failure = ready.error();
        return outcome;
      }
    }
    std::string created;
    for (const auto& step : plan.steps) {
      log::get("runtime")->info("pod {}: {} {}", key.str(), to_string(step.kind),
                                step.container_id.empty() ? (desired ? container_name(*desired) : std::string())
                                                          : step.container_id);
      Status status;
      switch (step.kind) {
        case StepKind::pull: {
          auto id = pull_image(api, *desired, sink);
          if (id) reconciler.pulled(*desired, *id);
          else status = id.error();
          break;
        }
        case StepKind::create: {
          auto id = api.create(container_name(*desired), *body);
          if (id) created = *id;
          else status = id.error();
          break;
        }
        case StepKind::start:
          status = api.start(step.container_id.empty() ? created : step.container_id);
          if (status) reconciler.started();
          break;
        case StepKind::stop: status = api.stop(step.container_id, step.grace); break;
        case StepKind::restart:
          status = api.restart(step.container_id, step.grace);
          if (status) reconciler.started();
          break;
        case StepKind::remove: status = api.remove(step.container_id, step.remove_volumes, false); break;
        case StepKind::pre_start: status = run_pre_start_hooks(api, *desired, *body, step, reconciler, sink); break;
        case StepKind::post_start:
        case StepKind::pre_stop: {
          const auto& id = step.container_id.empty() ? created : step.container_id;
          run_exec_hooks(api, instance_labels(desired, *observed), id, step, reconciler, sink);
          break;
        }
        case StepKind::create_data: {
          auto id = api.create(data_container_name(*desired), data_container_body(*desired));
          if (!id) status = id.error();
          break;
        }
        case StepKind::remove_data: status = api.remove(step.container_id, true, false); break;
      }
      if (!status) {
        log::get("runtime")->warn("pod {}: {} failed: {}", key.str(), to_string(step.kind), status.error().message);
        auto now = find_pod_container(api, key);
        emit(reconciler.failed(desired, now ? *now : std::nullopt, step, status.error()));
        outcome.failure = status.error();
        return outcome;
      }
    }
  }
  return outcome;
}

}  // namespace kn::runtime
