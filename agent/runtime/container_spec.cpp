#include "runtime/container_spec.hpp"

#include "docker/image_ref.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace kn::runtime {
namespace {

using nlohmann::json;

// Linux refuses exec when one argv/envp string exceeds MAX_ARG_STRLEN (32 pages, 131072
// bytes including the terminating NUL): https://man7.org/linux/man-pages/man2/execve.2.html
constexpr std::size_t kMaxEnvString = 131072;

std::string with_instance(std::string_view text, int n) {
  std::string out;
  const auto number = std::to_string(n);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 1 < text.size() && text[i + 1] == 's') {
      out += number;
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

// "host[:container[:permissions]]" -> Docker's device mapping.
json device_of(const std::string& spec) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const auto colon = spec.find(':', start);
    parts.push_back(spec.substr(start, colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  const std::string& host = parts[0];
  return json{{"PathOnHost", host},
              {"PathInContainer", parts.size() > 1 && !parts[1].empty() ? parts[1] : host},
              {"CgroupPermissions", parts.size() > 2 && !parts[2].empty() ? parts[2] : "rwm"}};
}

}  // namespace

std::string container_name(const ServicePod& pod) { return fmt::format("{}-{}", pod.service_name, pod.instance_number); }

std::string data_container_name(const ServicePod& pod) { return container_name(pod) + "-volumes"; }

json data_container_body(const ServicePod& pod) {
  auto labels = pod.labels;
  labels[label::service_id] = pod.service_id;
  labels.try_emplace(label::service_name, pod.service_name);
  labels[label::instance_number] = std::to_string(pod.instance_number);
  labels[label::container_type] = "volume";
  labels[label::container_name] = data_container_name(pod);
  json volumes = json::object();
  for (const auto& v : pod.volumes) {
    if (!v.bind_mount && !v.name) volumes[v.path] = json::object();
  }
  json body{{"Image", image_reference(pod.image_name)},
            {"Labels", labels},
            {"HostConfig", {{"NetworkMode", "none"}}}};
  if (!volumes.empty()) body["Volumes"] = volumes;
  // dockerd refuses to create a container without a command, and images built FROM scratch
  // have none; the container never runs, so the program need not exist in the image.
  body["Entrypoint"] = json::array({"/bin/true"});
  return body;
}

std::map<std::string, std::string> container_labels(const ServicePod& pod) {
  auto labels = pod.labels;
  const auto name = container_name(pod);
  // The master sends these two in the pod's labels; they are what the node finds containers
  // by, so they are always there.
  labels[label::service_id] = pod.service_id;
  labels.try_emplace(label::service_name, pod.service_name);
  labels[label::instance_number] = std::to_string(pod.instance_number);
  labels[label::container_type] = "container";
  labels[label::container_name] = name;
  labels[label::container_pod] = name;
  if (pod.deploy_rev) labels[label::deploy_rev] = *pod.deploy_rev;
  labels[label::service_revision] = std::to_string(pod.service_revision);
  labels[label::stop_grace_period] = std::to_string(pod.stop_grace_period);
  if (pod.exposed) labels[label::exposed] = "1";
  return labels;
}

std::vector<std::string> container_env(const ServicePod& pod) {
  std::vector<std::string> env = pod.env;
  // Secrets of one name become one variable, values joined by newlines, in first-seen order
  // (kontena v1.5.4: agent/lib/kontena/models/service_pod.rb, build_secrets).
  std::vector<std::pair<std::string, std::string>> secrets;
  for (const auto& s : pod.secrets) {
    if (s.type != "env") continue;
    auto it = std::find_if(secrets.begin(), secrets.end(), [&](const auto& e) { return e.first == s.name; });
    if (it == secrets.end()) {
      secrets.emplace_back(s.name, s.value.value_or(""));
    } else {
      it->second += "\n" + s.value.value_or("");
    }
  }
  for (const auto& [name, value] : secrets) env.push_back(name + "=" + value);
  return env;
}

std::string image_reference(std::string_view image_name) {
  auto ref = docker::parse_image_ref(image_name);
  if (!ref) return std::string(image_name);  // dockerd names the problem when it sees it
  return ref->digest.empty() ? ref->name + ":" + ref->tag : ref->name + "@" + ref->digest;
}

Result<json> create_body(const ServicePod& pod) {
  const bool bridge = pod.net == "bridge";
  const bool host = pod.net == "host";

  json body = json::object();
  body["Image"] = image_reference(pod.image_name);
  auto env = container_env(pod);
  for (const auto& e : env) {
    if (e.size() + 1 > kMaxEnvString) {
      const auto name = e.substr(0, e.find('='));
      return fail(Errc::pod_invalid, fmt::format("failed to create container {}: environment variable {} is {} bytes, "
                                                 "more than the 128 KiB a process accepts; shorten the value or the "
                                                 "secret",
                                                 container_name(pod), name, e.size()));
    }
  }
  body["Env"] = env;
  body["Labels"] = container_labels(pod);
  if (pod.cmd) body["Cmd"] = *pod.cmd;
  // The pod's entrypoint is one string; Docker reads a string Entrypoint as a one-element
  // list (https://docs.docker.com/engine/api/v1.41/#operation/ContainerCreate), and so does
  // this: no shell splitting.
  if (pod.entrypoint) body["Entrypoint"] = json::array({*pod.entrypoint});
  if (pod.user) body["User"] = *pod.user;
  if (pod.stop_signal) body["StopSignal"] = *pod.stop_signal;
  // Docker refuses a hostname with the host's or another container's network stack.
  if (bridge) {
    if (pod.hostname) body["Hostname"] = *pod.hostname;
    if (pod.domainname) body["Domainname"] = *pod.domainname;
  }

  json hc = json::object();
  hc["NetworkMode"] = pod.net;
  if (bridge && !pod.ports.empty()) {
    json exposed = json::object();
    json bindings = json::object();
    for (const auto& p : pod.ports) {
      const auto key = fmt::format("{}/{}", p.container_port, p.protocol);
      exposed[key] = json::object();
      bindings[key].push_back(json{{"HostIp", p.ip}, {"HostPort", std::to_string(p.node_port)}});
    }
    body["ExposedPorts"] = exposed;
    hc["PortBindings"] = bindings;
  }
  if (pod.cpu_shares) hc["CpuShares"] = *pod.cpu_shares;
  if (pod.cpus) {
    constexpr std::int64_t period = 100000;
    hc["CpuPeriod"] = period;
    hc["CpuQuota"] = static_cast<std::int64_t>(std::llround(static_cast<double>(period) * *pod.cpus));
  }
  if (pod.memory) hc["Memory"] = *pod.memory;
  if (pod.memory_swap) hc["MemorySwap"] = *pod.memory_swap;
  if (pod.shm_size) hc["ShmSize"] = *pod.shm_size;
  if (pod.privileged) hc["Privileged"] = true;
  if (!pod.cap_add.empty()) hc["CapAdd"] = pod.cap_add;
  if (!pod.cap_drop.empty()) hc["CapDrop"] = pod.cap_drop;
  if (!pod.devices.empty()) {
    json devices = json::array();
    for (const auto& d : pod.devices) devices.push_back(device_of(d));
    hc["Devices"] = devices;
  }
  if (pod.pid) hc["PidMode"] = *pod.pid;
  if (pod.read_only) hc["ReadonlyRootfs"] = true;
  // Search the service's domain and its parent (the stack's, then the grid's names).
  if (pod.domainname && !pod.domainname->empty() && (bridge || host)) {
    json search = json::array({*pod.domainname});
    if (const auto dot = pod.domainname->find('.'); dot != std::string::npos && dot + 1 < pod.domainname->size()) {
      search.push_back(pod.domainname->substr(dot + 1));
    }
    hc["DnsSearch"] = search;
  }
  if (pod.log_driver) hc["LogConfig"] = json{{"Type", *pod.log_driver}, {"Config", pod.log_opts}};

  json binds = json::array();
  json volumes = json::object();
  for (const auto& v : pod.volumes) {
    const auto& source = v.bind_mount ? v.bind_mount : v.name;
    if (source) {
      auto bind = *source + ":" + v.path;
      if (v.flags && !v.flags->empty()) bind += ":" + *v.flags;
      binds.push_back(bind);
    } else if (!pod.stateful) {
      volumes[v.path] = json::object();
    }
  }
  if (!binds.empty()) hc["Binds"] = binds;
  if (!volumes.empty()) body["Volumes"] = volumes;
  // A stateful pod's anonymous volumes live in its data container, which outlives the service
  // container (kontena v1.5.4: agent/lib/kontena/service_pods/creator.rb).
  json from = json::array();
  if (pod.stateful) from.push_back(data_container_name(pod));
  for (const auto& v : pod.volumes_from) from.push_back(with_instance(v, pod.instance_number));
  if (!from.empty()) hc["VolumesFrom"] = from;
  body["HostConfig"] = hc;
  return body;
}

}  // namespace kn::runtime
