#include "runtime/reconciler.hpp"

#include "runtime/container_spec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <ctime>

namespace kn::runtime {
namespace {

using nlohmann::json;

std::optional<std::int64_t> label_int(const std::map<std::string, std::string>& labels, const char* key) {
  auto it = labels.find(key);
  if (it == labels.end()) return std::nullopt;
  std::int64_t v = 0;
  const auto& s = it->second;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::string> label_of(const std::map<std::string, std::string>& labels, const char* key) {
  auto it = labels.find(key);
  if (it == labels.end()) return std::nullopt;
  return it->second;
}

constexpr const char* kLoadBalancerName = "io.kontena.load_balancer.name";

}  // namespace

std::string_view to_string(StepKind k) noexcept {
  switch (k) {
    case StepKind::pull: return "pull";
    case StepKind::create: return "create";
    case StepKind::start: return "start";
    case StepKind::stop: return "stop";
    case StepKind::restart: return "restart";
    case StepKind::remove: return "remove";
    case StepKind::pre_start: return "pre_start hooks";
    case StepKind::post_start: return "post_start hooks";
    case StepKind::pre_stop: return "pre_stop hooks";
    case StepKind::create_data: return "create_data";
    case StepKind::remove_data: return "remove_data";
  }
  return "?";
}

std::optional<WallTime> parse_docker_time(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  auto num = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    int v = 0;
    auto [ptr, ec] = std::from_chars(text.data() + pos, text.data() + pos + len, v);
    if (ec != std::errc() || ptr != text.data() + pos + len) return std::nullopt;
    return v;
  };
  const auto year = num(0, 4), month = num(5, 2), day = num(8, 2), hour = num(11, 2), minute = num(14, 2),
             second = num(17, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  // Docker's zero time is year 1, outside what the clock's nanoseconds can hold; nothing the
  // node compares happened before 1970.
  if (*year < 1970 || *year > 2200) return std::nullopt;
  std::size_t pos = 19;
  std::int64_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 9) {
        nanos = nanos * 10 + (text[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    for (; digits < 9; ++digits) nanos *= 10;
  }
  std::int64_t offset = 0;
  if (pos < text.size() && text[pos] == 'Z') {
    ++pos;
  } else if (pos + 6 == text.size() && (text[pos] == '+' || text[pos] == '-') && text[pos + 3] == ':') {
    const auto oh = num(pos + 1, 2), om = num(pos + 4, 2);
    if (!oh || !om) return std::nullopt;
    offset = (text[pos] == '-' ? -1 : 1) * (*oh * 3600 + *om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = *month - 1;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  const std::time_t t = ::timegm(&tm);
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::seconds(t - offset) +
                                                                  std::chrono::nanoseconds(nanos)));
}

Result<ObservedContainer> observe_container(const json& inspect) {
  if (!inspect.is_object() || !inspect.contains("Id") || !inspect["Id"].is_string() || !inspect.contains("State") ||
      !inspect["State"].is_object()) {
    return fail(Errc::docker_failed, "failed to read a container's inspect document: no Id or State");
  }
  ObservedContainer c;
  c.id = inspect["Id"].get<std::string>();
  c.name = inspect.value("Name", "");
  if (c.name.starts_with('/')) c.name.erase(0, 1);
  const auto& state = inspect["State"];
  c.running = state.value("Running", false);
  c.state_error = state.value("Error", "");
  // Docker writes the zero time "0001-01-01T00:00:00Z" for a container never started.
  if (auto started = parse_docker_time(state.value("StartedAt", "")); started && *started > WallTime{}) {
    c.started_at = started;
  }
  c.image_id = inspect.value("Image", "");
  if (inspect.contains("Config") && inspect["Config"].is_object()) {
    const auto& labels = inspect["Config"]["Labels"];
    if (labels.is_object()) {
      for (const auto& [k, v] : labels.items()) {
        if (v.is_string()) c.labels[k] = v.get<std::string>();
      }
    }
  }
  return c;
}

json SetState::to_json() const {
  return json{{"service_id", service_id},
              {"instance_number", instance_number},
              {"rev", rev ? json(*rev) : json(nullptr)},
              {"state", state},
              {"error", error ? json(*error) : json(nullptr)}};
}

json PodEvent::to_json() const {
  return json{{"service_id", service_id},
              {"instance_number", instance_number},
              {"severity", severity},
              {"type", type},
              {"data", data}};
}

std::string error_text(const Failure& f) {
  // The master shows "Class: message"; the Ruby agent's classes are those of docker-api.
  const char* cls = "Docker::Error::DockerError";
  switch (f.errc()) {
    case Errc::docker_not_found: cls = "Docker::Error::NotFoundError"; break;
    case Errc::docker_conflict: cls = "Docker::Error::ConflictError"; break;
    case Errc::docker_failed: cls = "Docker::Error::ServerError"; break;
    case Errc::docker_unavailable:
    case Errc::http_timeout: cls = "Docker::Error::TimeoutError"; break;
    case Errc::pod_invalid: cls = "Kontena::Models::ServicePod::ConfigError"; break;
    case Errc::hook_failed: cls = "RuntimeError"; break;  // the Ruby agent raises a plain string
    // The Ruby agent's wait_until! raises Timeout::Error (kontena v1.5.4:
    // agent/lib/kontena/helpers/wait_helper.rb).
    case Errc::volume_missing: cls = "Timeout::Error"; break;
    default: break;
  }
  return fmt::format("{}: {}", cls, f.message);
}

bool PodReconciler::pulled_for(const ServicePod& pod) const {
  return pulled_ && pulled_->deploy_rev == pod.deploy_rev && pulled_->image == image_reference(pod.image_name);
}

void PodReconciler::pulled(const ServicePod& pod, std::string image_id) {
  pulled_ = Pulled{pod.deploy_rev, image_reference(pod.image_name), std::move(image_id)};
}

bool PodReconciler::outdated(const ServicePod& pod, const ObservedContainer& c, bool& needs_pull) const {
  needs_pull = false;
  if (label_int(c.labels, label::service_revision).value_or(0) < pod.service_revision) return true;
  if (label_of(c.labels, kLoadBalancerName) != label_of(pod.labels, kLoadBalancerName)) return true;
  if (!c.running && !c.state_error.empty()) return true;
  if (label_of(c.labels, label::deploy_rev) != pod.deploy_rev) {
    // A new deploy_rev re-pulls; only a changed image replaces the container.
    if (!pulled_for(pod)) {
      needs_pull = true;
      return false;
    }
    return pulled_->image_id != c.image_id;
  }
  return false;
}

std::optional<SetState> PodReconciler::report(const std::optional<ServicePod>& desired,
                                              const std::optional<ObservedContainer>& observed,
                                              std::optional<std::string> error) const {
  if (!desired || desired->desired_state == DesiredState::terminated) return std::nullopt;
  SetState s{desired->service_id, desired->instance_number, desired->deploy_rev, "missing", std::move(error)};
  if (observed) {
    const bool backing_off = restart_not_before_ && clock_->now() < *restart_not_before_;
    s.state = observed->running ? "running" : (desired->desired_state == DesiredState::running && backing_off)
                                                  ? "restarting"
                                                  : "stopped";
  }
  const auto& last = pending_ ? pending_ : acked_;
  if (last) {
    if (s == *last) return std::nullopt;
    // Never report an older rev than one already sent (the master compares strings).
    if (last->rev && (!s.rev || *s.rev < *last->rev)) return std::nullopt;
  }
  return s;
}

void PodReconciler::add_hooks(std::vector<Step>& steps, StepKind kind, const std::vector<HookSpec>& hooks,
                              std::string container_id) const {
  const std::string_view type = kind == StepKind::pre_start    ? "pre_start"
                                : kind == StepKind::post_start ? "post_start"
                                                               : "pre_stop";
  Step step{kind, std::move(container_id)};
  for (const auto& h : hooks) {
    if (h.type == type && !(h.oneshot && oneshots_marked_.contains(h.id))) step.hooks.push_back(h);
  }
  if (!step.hooks.empty()) steps.push_back(std::move(step));
}

void PodReconciler::sent(const SetState& s, bool ok) {
  if (ok) acked_ = s;
  if (pending_ == s) pending_.reset();
}

Plan PodReconciler::plan(const std::optional<ServicePod>& desired, const std::optional<ObservedContainer>& observed,
                         const std::optional<ObservedContainer>& data_container) const {
  Plan plan;
  if (!desired || desired->desired_state == DesiredState::terminated) {
    // The data volumes go last, after the container that used them (kontena v1.5.4:
    // agent/lib/kontena/service_pods/terminator.rb).
    if (!observed) {
      if (data_container) plan.steps.push_back({StepKind::remove_data, data_container->id, {}, true});
      plan.gone = !data_container;
      return plan;
    }
    const auto grace = std::chrono::seconds(label_int(observed->labels, label::stop_grace_period).value_or(10));
    if (observed->running) add_hooks(plan.steps, StepKind::pre_stop, hooks_, observed->id);
    if (observed->running) plan.steps.push_back({StepKind::stop, observed->id, grace});
    plan.steps.push_back({StepKind::remove, observed->id, grace, true});
    if (data_container) plan.steps.push_back({StepKind::remove_data, data_container->id, {}, true});
    const auto n = label_int(observed->labels, label::instance_number).value_or(0);
    plan.events.push_back({label_of(observed->labels, label::service_id).value_or(""), static_cast<int>(n),
                           severity::info, "service:remove_instance",
                           fmt::format("removing service instance {}", observed->name)});
    return plan;
  }

  const auto& pod = *desired;
  const auto grace = std::chrono::seconds(pod.stop_grace_period);
  const auto name = container_name(pod);
  auto event = [&](int sev, std::string type, std::string data) {
    plan.events.push_back({pod.service_id, pod.instance_number, sev, std::move(type), std::move(data)});
  };
  const auto converged = [&] {
    plan.set_state = report(desired, observed, std::nullopt);
    return plan;
  };

  switch (pod.desired_state) {
    case DesiredState::initialized:
    case DesiredState::terminated: return converged();
    case DesiredState::stopped:
      if (observed && observed->running) {
        add_hooks(plan.steps, StepKind::pre_stop, pod.hooks, observed->id);
        plan.steps.push_back({StepKind::stop, observed->id, grace});
        event(severity::info, "service:stop_instance", fmt::format("stopping service instance {}", name));
        return plan;
      }
      return converged();
    case DesiredState::running: break;
  }

  // A stateful pod's data container comes before its container, which mounts its volumes.
  const bool needs_data = pod.stateful && !data_container;
  if (!observed) {
    if (!pulled_for(pod)) plan.steps.push_back({StepKind::pull});
    if (needs_data) plan.steps.push_back({StepKind::create_data});
    add_hooks(plan.steps, StepKind::pre_start, pod.hooks, {});
    plan.steps.push_back({StepKind::create});
    plan.steps.push_back({StepKind::start});
    add_hooks(plan.steps, StepKind::post_start, pod.hooks, {});
    event(severity::info, "service:create_instance", fmt::format("creating service instance {}", name));
    return plan;
  }
  const auto& c = *observed;
  bool needs_pull = false;
  if (outdated(pod, c, needs_pull)) {
    if (!pulled_for(pod)) plan.steps.push_back({StepKind::pull});
    if (needs_data) plan.steps.push_back({StepKind::create_data});
    if (c.running) add_hooks(plan.steps, StepKind::pre_stop, pod.hooks, c.id);
    if (c.running) plan.steps.push_back({StepKind::stop, c.id, grace});
    plan.steps.push_back({StepKind::remove, c.id, grace, true});
    add_hooks(plan.steps, StepKind::pre_start, pod.hooks, c.id);
    plan.steps.push_back({StepKind::create});
    plan.steps.push_back({StepKind::start});
    add_hooks(plan.steps, StepKind::post_start, pod.hooks, {});
    event(severity::info, "service:create_instance", fmt::format("re-creating service instance {}", name));
    return plan;
  }
  if (needs_pull) {
    plan.steps.push_back({StepKind::pull});
    return plan;
  }
  if (!c.running) {
    if (restart_not_before_ && clock_->now() < *restart_not_before_) {
      plan.wake_at = restart_not_before_;
      return converged();
    }
    add_hooks(plan.steps, StepKind::pre_start, pod.hooks, c.id);
    plan.steps.push_back({StepKind::start, c.id, grace});
    add_hooks(plan.steps, StepKind::post_start, pod.hooks, c.id);
    event(severity::info, "service:start_instance", fmt::format("starting service instance {}", name));
    return plan;
  }
  if (restart_for_ && *restart_for_ == c.id) {
    plan.steps.push_back({StepKind::restart, c.id, grace});
    event(severity::info, "service:restart_instance", fmt::format("restarting service instance {}", name));
    return plan;
  }
  return converged();
}

Plan PodReconciler::failed(const std::optional<ServicePod>& desired, const std::optional<ObservedContainer>& observed,
                           const Step& step, const Failure& failure) const {
  Plan plan;
  const auto text = error_text(failure);
  std::string type = "service:create_instance";
  switch (step.kind) {
    case StepKind::pull: type = "service:pull_image"; break;
    case StepKind::create: break;
    case StepKind::start: type = "service:start_instance"; break;
    case StepKind::stop: type = "service:stop_instance"; break;
    case StepKind::restart: type = "service:restart_instance"; break;
    case StepKind::remove: type = "service:remove_instance"; break;
    // Hook failures are the instance's creation failing, as Kontena reports them
    // (kontena v1.5.4: agent/lib/kontena/service_pods/lifecycle_hook_manager.rb).
    case StepKind::pre_start:
    case StepKind::post_start:
    case StepKind::pre_stop: break;
    case StepKind::create_data: break;
    case StepKind::remove_data: type = "service:remove_instance"; break;
  }
  if (desired) {
    plan.events.push_back({desired->service_id, desired->instance_number, severity::error, type, text});
    plan.set_state = report(desired, observed, text);
  } else if (observed) {
    plan.events.push_back({label_of(observed->labels, label::service_id).value_or(""),
                           static_cast<int>(label_int(observed->labels, label::instance_number).value_or(0)),
                           severity::error, type, text});
  }
  return plan;
}

std::optional<PodEvent> PodReconciler::died(const std::optional<ServicePod>& desired, const ObservedContainer& current,
                                            std::string_view container_id, WallTime at,
                                            std::optional<long> exit_code) {
  if (!desired || desired->desired_state != DesiredState::running) return std::nullopt;
  if (container_id != current.id) return std::nullopt;
  // Events from before the container's current start are stale (a restart we made, a replay).
  if (current.started_at && at <= *current.started_at) return std::nullopt;
  if (current.started_at && at - *current.started_at >= kStableUptime) crash_restarts_ = 0;
  ++crash_restarts_;
  const long n = std::min(crash_restarts_, 6);  // 6 squared is past the cap already
  const auto delay = std::min<std::chrono::seconds>(std::chrono::seconds(n * n), kMaxBackoff);
  restart_not_before_ = clock_->now() + delay;
  return PodEvent{desired->service_id, desired->instance_number, severity::warn, "service:instance_crash",
                  fmt::format("service instance {} exited{}, restarting in {} s", container_name(*desired),
                              exit_code ? fmt::format(" with code {}", *exit_code) : std::string(), delay.count())};
}

}  // namespace kn::runtime
