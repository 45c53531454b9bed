#include "runtime/service_pod.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace kn::runtime {
namespace {

using nlohmann::json;

// Reads the keys of one object; the first wrong type is kept and reported with the pod's name.
class Reader {
 public:
  Reader(const json& doc, std::string pod, std::string prefix = {})
      : doc_(doc), pod_(std::move(pod)), prefix_(std::move(prefix)) {}

  const std::optional<Failure>& failure() const { return failure_; }

  // nil and absent keys are "not given".
  const json* get(const char* key) const {
    if (!doc_.is_object()) return nullptr;
    auto it = doc_.find(key);
    if (it == doc_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  void wrong(const std::string& key, const char* expected, const json& got) {
    if (failure_) return;
    failure_ = fail(Errc::pod_invalid, fmt::format("failed to decode service pod {}: key '{}{}' must be {}, got {}", pod_,
                                                   prefix_, key, expected, got.type_name()));
  }

  void string(const char* key, std::string& out) {
    if (const auto* v = get(key)) {
      if (v->is_string()) out = v->get<std::string>();
      else wrong(key, "a string", *v);
    }
  }
  void string(const char* key, std::optional<std::string>& out) {
    if (const auto* v = get(key)) {
      if (v->is_string()) out = v->get<std::string>();
      else wrong(key, "a string", *v);
    }
  }
  void boolean(const char* key, bool& out) {
    if (const auto* v = get(key)) {
      if (v->is_boolean()) out = v->get<bool>();
      else wrong(key, "true or false", *v);
    }
  }
  // Integers; a float with no fractional part is accepted (JSON encoders differ there).
  template <class Int>
  void integer(const char* key, Int& out) {
    if (const auto* v = get(key)) {
      if (auto n = as_integer(*v); n && *n >= std::numeric_limits<Int>::min() && *n <= std::numeric_limits<Int>::max()) {
        out = static_cast<Int>(*n);
      } else {
        wrong(key, "an integer", *v);
      }
    }
  }
  template <class Int>
  void integer(const char* key, std::optional<Int>& out) {
    if (get(key) == nullptr) return;
    Int n{};
    integer(key, n);
    if (!failure_) out = n;
  }
  void number(const char* key, std::optional<double>& out) {
    if (const auto* v = get(key)) {
      if (v->is_number()) out = v->get<double>();
      else wrong(key, "a number", *v);
    }
  }
  void strings(const char* key, std::vector<std::string>& out) {
    const auto* v = get(key);
    if (v == nullptr) return;
    if (!v->is_array()) return wrong(key, "an array of strings", *v);
    for (const auto& e : *v) {
      if (!e.is_string()) return wrong(key, "an array of strings", e);
      out.push_back(e.get<std::string>());
    }
  }
  void strings(const char* key, std::optional<std::vector<std::string>>& out) {
    if (get(key) == nullptr) return;
    std::vector<std::string> list;
    strings(key, list);
    if (!failure_) out = std::move(list);
  }
  // Docker labels and log options are strings; numbers and booleans are written as JSON.
  void string_map(const char* key, std::map<std::string, std::string>& out) {
    const auto* v = get(key);
    if (v == nullptr) return;
    if (!v->is_object()) return wrong(key, "a map", *v);
    for (const auto& [k, e] : v->items()) {
      if (e.is_string()) out[k] = e.get<std::string>();
      else if (e.is_number() || e.is_boolean()) out[k] = e.dump();
      else if (!e.is_null()) return wrong(std::string(key) + "." + k, "a string", e);
    }
  }
  // An array of objects, each read by `item` with a Reader of its own.
  template <class T, class F>
  void objects(const char* key, std::vector<T>& out, F item) {
    const auto* v = get(key);
    if (v == nullptr) return;
    if (!v->is_array()) return wrong(key, "an array", *v);
    for (std::size_t i = 0; i < v->size(); ++i) {
      const auto& e = (*v)[i];
      const auto name = fmt::format("{}[{}]", key, i);
      if (!e.is_object()) return wrong(name, "a map", e);
      Reader inner(e, pod_, prefix_ + name + ".");
      T t{};
      item(inner, t);
      if (inner.failure_) {
        failure_ = inner.failure_;
        return;
      }
      out.push_back(std::move(t));
    }
  }
 private:
  static std::optional<long long> as_integer(const json& v) {
    if (v.is_number_integer()) {
      if (v.is_number_unsigned() && v.get<unsigned long long>() > static_cast<unsigned long long>(std::numeric_limits<long long>::max())) {
        return std::nullopt;
      }
      return v.get<long long>();
    }
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.0e18) return static_cast<long long>(d);
    }
    return std::nullopt;
  }

  const json& doc_;
  std::string pod_;
  std::string prefix_;  // nested keys are reported as "ports[0].node_port"
  std::optional<Failure> failure_;
};

std::string pod_name(const json& doc) {
  if (doc.is_object()) {
    if (auto it = doc.find("id"); it != doc.end() && it->is_string()) return "'" + it->get<std::string>() + "'";
    auto name = doc.find("service_name");
    auto n = doc.find("instance_number");
    if (name != doc.end() && name->is_string() && n != doc.end() && n->is_number_integer()) {
      return fmt::format("'{}-{}'", name->get<std::string>(), n->get<long long>());
    }
  }
  return "(without id)";
}

Result<DesiredState> desired_state_of(const std::string& s, const std::string& pod) {
  if (s == "running") return DesiredState::running;
  if (s == "stopped") return DesiredState::stopped;
  if (s == "initialized") return DesiredState::initialized;
  if (s == "terminated") return DesiredState::terminated;
  return fail(Errc::pod_invalid, fmt::format("failed to decode service pod {}: key 'desired_state' must be running, "
                                             "stopped or initialized, got '{}'",
                                             pod, s));
}

}  // namespace

std::string_view to_string(DesiredState s) noexcept {
  switch (s) {
    case DesiredState::initialized: return "initialized";
    case DesiredState::running: return "running";
    case DesiredState::stopped: return "stopped";
    case DesiredState::terminated: return "terminated";
  }
  return "unknown";
}

std::string ServicePod::key() const { return fmt::format("{}/{}", service_id, instance_number); }

Result<ServicePod> decode_service_pod(const json& doc) {
  const auto name = pod_name(doc);
  if (!doc.is_object()) {
    return fail(Errc::pod_invalid, fmt::format("failed to decode service pod: expected a map, got {}", doc.type_name()));
  }
  ServicePod p;
  Reader r(doc, name);
  r.string("id", p.id);
  std::string desired;
  r.string("desired_state", desired);
  r.string("service_id", p.service_id);
  r.string("service_name", p.service_name);
  r.integer("service_revision", p.service_revision);
  r.string("updated_at", p.updated_at);
  r.integer("instance_number", p.instance_number);
  r.string("deploy_rev", p.deploy_rev);
  r.string("image_name", p.image_name);
  if (const auto* c = r.get("image_credentials")) {
    if (!c->is_object()) {
      r.wrong("image_credentials", "a map", *c);
    } else {
      Reader cr(*c, name, "image_credentials.");
      ImageCredentials creds;
      cr.string("username", creds.username);
      cr.string("password", creds.password);
      cr.string("email", creds.email);
      if (cr.failure()) return *cr.failure();
      p.image_credentials = std::move(creds);
    }
  }
  r.boolean("stateful", p.stateful);
  r.boolean("privileged", p.privileged);
  r.boolean("read_only", p.read_only);
  r.string("user", p.user);
  r.strings("cmd", p.cmd);
  r.string("entrypoint", p.entrypoint);
  r.integer("memory", p.memory);
  r.integer("memory_swap", p.memory_swap);
  r.integer("shm_size", p.shm_size);
  r.integer("cpu_shares", p.cpu_shares);
  r.number("cpus", p.cpus);
  r.strings("cap_add", p.cap_add);
  r.strings("cap_drop", p.cap_drop);
  r.strings("devices", p.devices);
  r.string("pid", p.pid);
  r.objects("ports", p.ports, [](Reader& e, PortSpec& port) {
    e.string("ip", port.ip);
    e.string("protocol", port.protocol);
    e.integer("node_port", port.node_port);
    e.integer("container_port", port.container_port);
  });
  r.objects("volumes", p.volumes, [](Reader& e, VolumeSpec& v) {
    e.string("name", v.name);
    e.string("bind_mount", v.bind_mount);
    e.string("path", v.path);
    e.string("flags", v.flags);
    e.string("driver", v.driver);
    if (const auto* o = e.get("driver_opts")) {
      if (o->is_object()) v.driver_opts = *o;
      else e.wrong("driver_opts", "a map", *o);
    }
  });
  r.strings("volumes_from", p.volumes_from);
  r.string("net", p.net);
  r.string("hostname", p.hostname);
  r.string("domainname", p.domainname);
  r.boolean("exposed", p.exposed);
  r.string("log_driver", p.log_driver);
  r.string_map("log_opts", p.log_opts);
  r.string("stop_signal", p.stop_signal);
  r.integer("wait_for_port", p.wait_for_port);
  r.integer("stop_grace_period", p.stop_grace_period);
  r.strings("env", p.env);
  r.objects("secrets", p.secrets, [](Reader& e, SecretSpec& s) {
    e.string("name", s.name);
    e.string("type", s.type);
    e.string("value", s.value);
  });
  r.string_map("labels", p.labels);
  r.objects("hooks", p.hooks, [](Reader& e, HookSpec& h) {
    e.string("id", h.id);
    e.string("type", h.type);
    e.string("cmd", h.cmd);
    e.boolean("oneshot", h.oneshot);
  });
  r.objects("networks", p.networks, [](Reader& e, NetworkSpec& n) {
    e.string("name", n.name);
    e.string("subnet", n.subnet);
    e.boolean("multicast", n.multicast);
    e.boolean("internal", n.internal);
  });
  if (r.failure()) return *r.failure();

  if (!desired.empty()) {
    auto state = desired_state_of(desired, name);
    if (!state) return state.error();
    p.desired_state = *state;
  }
  if (p.service_id.empty()) {
    return fail(Errc::pod_invalid, fmt::format("failed to decode service pod {}: key 'service_id' is missing", name));
  }
  if (p.service_name.empty()) {
    return fail(Errc::pod_invalid, fmt::format("failed to decode service pod {}: key 'service_name' is missing", name));
  }
  if (p.instance_number < 1) {
    return fail(Errc::pod_invalid,
                fmt::format("failed to decode service pod {}: key 'instance_number' must be 1 or more", name));
  }
  if (p.image_name.empty()) {
    return fail(Errc::pod_invalid, fmt::format("failed to decode service pod {}: key 'image_name' is missing", name));
  }
  if (p.net != "bridge" && p.net != "host" && !p.net.starts_with("container:")) {
    return fail(Errc::pod_invalid,
                fmt::format("failed to decode service pod {}: key 'net' must be bridge, host or container:NAME, got '{}'",
                            name, p.net));
  }
  if (p.id.empty()) p.id = p.key();
  return p;
}

Result<PodList> decode_service_pod_list(const json& doc) {
  if (!doc.is_object() || !doc.contains("service_pods") || !doc["service_pods"].is_array()) {
    return fail(Errc::pod_invalid, fmt::format("failed to decode the service pod list: expected a map with an array "
                                               "'service_pods', got {}",
                                               doc.type_name()));
  }
  PodList out;
  for (const auto& e : doc["service_pods"]) {
    auto pod = decode_service_pod(e);
    if (pod) {
      out.pods.push_back(std::move(*pod));
      continue;
    }
    InvalidPod bad{std::nullopt, pod.error()};
    if (e.is_object() && e.contains("service_id") && e["service_id"].is_string() && e.contains("instance_number") &&
        e["instance_number"].is_number_integer()) {
      bad.key = fmt::format("{}/{}", e["service_id"].get<std::string>(), e["instance_number"].get<long long>());
    }
    out.invalid.push_back(std::move(bad));
  }
  return out;
}

}  // namespace kn::runtime
