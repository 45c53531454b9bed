#include "services.hpp"

#include "volumes.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <functional>
#include <random>
#include <regex>
#include <set>

namespace kn::master_sim {
namespace {

Json opt(const std::optional<std::string>& s) { return s ? Json(*s) : Json(nullptr); }

std::string object_id() {
  static std::mt19937_64 rng{std::random_device{}()};
  char out[32];
  std::snprintf(out, sizeof out, "%08x%016llx", static_cast<unsigned>(std::time(nullptr)),
                static_cast<unsigned long long>(rng()));
  return std::string(out, 24);
}

bool has_label_named(const Node& n, const std::string& name) {
  return std::any_of(n.labels.begin(), n.labels.end(), [&](const std::string& l) { return label_name(l) == name; });
}

std::string label_value(const Node& n, const std::string& name, const std::string& fallback) {
  for (const auto& l : n.labels) {
    const auto eq = l.find('=');
    if (eq != std::string::npos && l.substr(0, eq) == name) return l.substr(eq + 1);
  }
  return fallback;
}

// Ruby's Integer/Float#to_s as Scheduler::Error messages print them.
std::string ruby_number(const Json& v) {
  if (v.is_number_float()) {
    char out[32];
    std::snprintf(out, sizeof out, "%.15g", v.get<double>());
    std::string s = out;
    if (s.find_first_of(".e") == std::string::npos) s += ".0";
    return s;
  }
  return v.dump();
}

double number_or_zero(const Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return 0;
  return j[key].get<double>();
}

// Affinity#value_matches?: /regex/ or equality.
bool value_matches(const std::string& value, const std::string& pattern) {
  if (pattern.size() >= 2 && pattern.front() == '/' && pattern.back() == '/') {
    try {
      return std::regex_search(value, std::regex(pattern.substr(1, pattern.size() - 2)));
    } catch (const std::regex_error&) {
      return false;
    }
  }
  return value == pattern;
}

using Nodes = std::vector<Candidate*>;
struct Filtered {
  Nodes nodes;
  std::string error;
};

Filtered availability_filter(const Nodes& in) {
  Nodes out;
  for (Candidate* c : in) {
    if (c->node->availability == "active") out.push_back(c);
  }
  return {out, {}};
}

Filtered ephemeral_filter(const Service& s, int number, const Nodes& in) {
  if (!s.stateful) return {in, {}};
  Nodes out;
  for (Candidate* c : in) {
    auto it = s.instances.find(number);
    const bool hosts_it = it != s.instances.end() && it->second.host_node == c->node->key;
    if (!has_label_named(*c->node, "ephemeral") || hosts_it) out.push_back(c);
  }
  if (out.empty()) return {{}, "Did not find any non-ephemeral nodes for stateful service"};
  return {out, {}};
}

Filtered affinity_filter(ServiceStore& store, const Service& s, int number, Nodes nodes) {
  static const std::regex split(R"(^(.+)(==|!=)([~])?(.+))");
  for (std::string affinity : s.affinity) {
    // `affinity % [instance_number.to_s]`
    for (auto pos = affinity.find("%s"); pos != std::string::npos; pos = affinity.find("%s", pos)) {
      affinity.replace(pos, 2, std::to_string(number));
    }
    std::smatch m;
    if (!std::regex_match(affinity, m, split)) return {{}, "Invalid affinity filter: " + affinity};
    const std::string key = m[1], comparator = m[2], value = m[4];
    const bool soft = m[3].matched;
    Nodes matched;
    for (Candidate* c : nodes) {
      bool match = false;
      if (key == "node") {
        match = value_matches(c->node->name, value);
      } else if (key == "label") {
        match = std::any_of(c->node->labels.begin(), c->node->labels.end(),
                            [&](const std::string& l) { return value_matches(l, value); });
      } else if (key == "container") {
        for (const auto& [id, rec] : store.containers()) {
          if (rec.node == c->node->key && !rec.deleted_at && rec.container_type == "container" &&
              value_matches(rec.name, value)) {
            match = true;
          }
        }
      } else if (key == "service") {
        const bool with_stack = value.find('/') != std::string::npos;
        const std::string wanted = with_stack ? value : s.stack + "/" + value;
        for (auto& [svc, inst] : store.instances_on(c->node->key)) {
          if (value_matches(svc->stack + "/" + svc->name, wanted)) match = true;
        }
      } else {
        return {{}, "Unknown affinity filter: " + key};
      }
      if ((comparator == "==") == match) matched.push_back(c);
    }
    if (!matched.empty()) {
      nodes = matched;
    } else if (!soft) {
      return {{}, "Did not find any nodes for affinity filter: " + affinity};
    }
  }
  return {nodes, {}};
}

std::vector<long long> node_ports(const Json& ports) {
  std::vector<long long> out;
  for (const auto& p : ports) {
    if (p.is_object() && p.contains("node_port") && p["node_port"].is_number_integer()) {
      out.push_back(p["node_port"].get<long long>());
    }
  }
  return out;
}

Filtered port_filter(ServiceStore& store, const Service& s, int number, const Nodes& in) {
  const Json& ports = s.spec["ports"];
  if (!ports.is_array() || ports.empty()) return {in, {}};
  const auto wanted = node_ports(ports);
  Nodes out;
  for (Candidate* c : in) {
    bool clash = false;
    for (auto& [svc, inst] : store.instances_on(c->node->key)) {
      if (svc->id == s.id && inst->number == number) continue;
      for (long long p : node_ports(svc->spec["ports"])) {
        if (std::find(wanted.begin(), wanted.end(), p) != wanted.end()) clash = true;
      }
    }
    if (!clash) out.push_back(c);
  }
  if (out.empty()) {
    std::string list;
    for (long long p : wanted) list += (list.empty() ? "" : ", ") + std::to_string(p);
    return {{}, "Did not find any nodes with unused ports: [" + list + "]"};
  }
  return {out, {}};
}

Filtered cpu_filter(const Service& s, const Nodes& in) {
  const Json& cpus = s.spec["cpus"];
  if (!cpus.is_number()) return {in, {}};
  Nodes out;
  for (Candidate* c : in) {
    if (number_or_zero(c->node->attributes, "cpus") >= cpus.get<double>()) out.push_back(c);
  }
  if (out.empty()) return {{}, "Did not find any nodes with " + ruby_number(cpus) + " CPUs available"};
  return {out, {}};
}

// Scheduler::Filter::Memory. Without a memory setting the real filter uses the service's
// peak container memory of the last hour (from /containers/stat); the simulator keeps no
// container stats, so that is 0 and every node passes, as for a service never measured.
Filtered memory_filter(const Service& s, int number, const Nodes& in) {
  Json memory = s.spec["memory"].is_number() ? s.spec["memory"] : s.spec["memory_swap"];
  if (!memory.is_number() || memory.get<double>() == 0) return {in, {}};
  const double need = memory.get<double>();
  Nodes out;
  for (Candidate* c : in) {
    auto it = s.instances.find(number);
    if (it != s.instances.end() && it->second.host_node == c->node->key) {
      out.push_back(c);
      continue;
    }
    if (number_or_zero(c->node->attributes, "mem_total") < need) continue;
    const Json& stats = c->node->last_stats;
    if (stats.is_object() && stats.contains("memory") && stats["memory"].is_object()) {
      const Json& m = stats["memory"];
      const double used = number_or_zero(m, "total") - number_or_zero(m, "free") -
                          (number_or_zero(m, "cached") + number_or_zero(m, "buffers"));
      if (number_or_zero(m, "total") - used < need) continue;
    }
    out.push_back(c);
  }
  if (out.empty()) return {{}, "Did not find any nodes with sufficient free memory: " + ruby_number(memory)};
  return {out, {}};
}

bool instance_on(const Service& s, int number, NodeKey node) {
  auto it = s.instances.find(number);
  return it != s.instances.end() && it->second.host_node == node;
}

// Scheduler::Strategy::Daemon#sort_candidates: the node already running this instance,
// then the node with the fewest instances of the service, then the lowest node_number.
Candidate* daemon_pick(const Service& s, int number, const Nodes& nodes) {
  const std::size_t total = nodes.size() * static_cast<std::size_t>(s.container_count);
  auto rank = [&](const Candidate* c) {
    if (instance_on(s, number, c->node->key)) return -1;
    std::set<int> scheduled(c->scheduled.begin(), c->scheduled.end());
    for (const auto& [n, inst] : s.instances) {
      if (inst.host_node == c->node->key && static_cast<std::size_t>(n) <= total) scheduled.insert(n);
    }
    return static_cast<int>(scheduled.size());
  };
  Candidate* best = nullptr;
  for (Candidate* c : nodes) {
    if (best == nullptr || std::pair(rank(c), c->node->node_number) < std::pair(rank(best), best->node->node_number)) {
      best = c;
    }
  }
  return best;
}

// Scheduler::Strategy::HighAvailability#sort_candidates: fewest placements in the node's
// availability zone (label az), then on the node, then prefer the node already running
// this instance and the least used memory. The real one shuffles before sorting; ties
// here go to the lowest node_number, so read-outs are reproducible.
Candidate* ha_pick(const Service& s, int number, const Nodes& nodes) {
  auto key = [&](const Candidate* c) {
    const std::string zone = label_value(*c->node, "az", "default");
    std::size_t zone_count = 0;
    for (const Candidate* o : nodes) {
      if (label_value(*o->node, "az", "default") == zone) zone_count += o->scheduled.size();
    }
    double rank = 10.0 + (instance_on(s, number, c->node->key) ? -5.0 : 0.0);
    const Json& stats = c->node->last_stats;
    const double mem_total = number_or_zero(c->node->attributes, "mem_total");
    if (stats.is_object() && stats.contains("memory") && mem_total > 0) {
      rank += number_or_zero(stats["memory"], "used") / mem_total;
    }
    return std::tuple(zone_count, c->scheduled.size(), rank, c->node->node_number);
  };
  Candidate* best = nullptr;
  for (Candidate* c : nodes) {
    if (best == nullptr || key(c) < key(best)) best = c;
  }
  return best;
}

}  // namespace

std::string ContainerRecord::status() const {
  if (deleted_at) return "deleted";
  const Json state = attributes.value("state", Json::object());
  auto on = [&](const char* k) { return state.contains(k) && state[k].is_boolean() && state[k].get<bool>(); };
  if (on("paused")) return "paused";
  if (on("restarting")) return "restarting";
  if (on("dead")) return "dead";
  if (on("running")) return "running";
  if (on("oom_killed")) return "oom_killed";
  return "stopped";
}

Service* ServiceStore::find(const std::string& id) {
  auto it = services_.find(id);
  return it == services_.end() ? nullptr : it->second.get();
}

Service* ServiceStore::find(const std::string& grid, const std::string& stack, const std::string& name) {
  for (auto& [id, s] : services_) {
    if (s->grid == grid && s->stack == stack && s->name == name) return s.get();
  }
  return nullptr;
}

std::vector<Service*> ServiceStore::of_grid(const std::string& grid) {
  std::vector<Service*> out;
  for (auto& [id, s] : services_) {
    if (s->grid == grid) out.push_back(s.get());
  }
  std::sort(out.begin(), out.end(), [](const Service* a, const Service* b) { return a->updated_at < b->updated_at; });
  return out;
}

std::vector<Service*> ServiceStore::of_stack(const std::string& grid, const std::string& stack) {
  std::vector<Service*> out;
  for (Service* s : of_grid(grid)) {
    if (s->stack == stack) out.push_back(s);
  }
  return out;
}

Service* ServiceStore::add(Service service) {
  if (find(service.grid, service.stack, service.name) != nullptr) return nullptr;
  service.id = object_id();
  while (services_.count(service.id) != 0) service.id = object_id();
  auto id = service.id;
  return (services_[id] = std::make_unique<Service>(std::move(service))).get();
}

void ServiceStore::remove(const std::string& id) { services_.erase(id); }

Deploy& ServiceStore::create_deploy(const std::string& service_id, SysTime now) {
  Deploy d;
  d.id = next_deploy_++;
  d.service_id = service_id;
  d.created_at = now;
  deploys_.push_back(std::move(d));
  return deploys_.back();
}

Deploy* ServiceStore::deploy(std::uint64_t id) {
  for (auto& d : deploys_) {
    if (d.id == id) return &d;
  }
  return nullptr;
}

std::vector<const Deploy*> ServiceStore::deploys_of(const std::string& service_id) const {
  std::vector<const Deploy*> out;
  for (const auto& d : deploys_) {
    if (d.service_id == service_id) out.push_back(&d);
  }
  return out;
}

bool ServiceStore::deploying(const std::string& service_id) const {
  return std::any_of(deploys_.begin(), deploys_.end(), [&](const Deploy& d) {
    return d.service_id == service_id && (d.state == "created" || d.state == "ongoing");
  });
}

std::vector<std::pair<Service*, Instance*>> ServiceStore::instances_on(NodeKey node) {
  std::vector<std::pair<Service*, Instance*>> out;
  for (auto& [id, s] : services_) {
    for (auto& [n, inst] : s->instances) {
      if (inst.host_node == node) out.emplace_back(s.get(), &inst);
    }
  }
  return out;
}

void ServiceStore::mark_node_containers_deleted(NodeKey node, SysTime now) {
  for (auto& [id, c] : containers_) {
    if (c.node == node && c.container_type != "volume" && !c.deleted_at) c.deleted_at = now;
  }
}

std::string ServiceStore::next_deploy_rev(Service& service, SysTime now) {
  auto rev = format_ruby_time(now);
  if (!service.last_deploy_rev.empty() && rev <= service.last_deploy_rev) {
    const auto last = parse_kontena_time(service.last_deploy_rev);
    if (last) rev = format_ruby_time(*last + std::chrono::seconds(1));
  }
  service.last_deploy_rev = rev;
  return rev;
}

Placement select_node(ServiceStore& store, const Service& service, int instance_number,
                      std::vector<Candidate>& candidates) {
  if (candidates.empty()) return {nullptr, "There are no nodes available"};
  Nodes nodes;
  for (auto& c : candidates) nodes.push_back(&c);
  struct Step {
    const char* name;
    std::function<Filtered(const Nodes&)> run;
  };
  const Step steps[] = {
      {"Availability", [&](const Nodes& n) { return availability_filter(n); }},
      {"Ephemeral", [&](const Nodes& n) { return ephemeral_filter(service, instance_number, n); }},
      {"Affinity", [&](const Nodes& n) { return affinity_filter(store, service, instance_number, n); }},
      {"Port", [&](const Nodes& n) { return port_filter(store, service, instance_number, n); }},
      {"Cpu", [&](const Nodes& n) { return cpu_filter(service, n); }},
      {"Memory", [&](const Nodes& n) { return memory_filter(service, instance_number, n); }},
  };
  for (const auto& step : steps) {
    auto f = step.run(nodes);
    if (!f.error.empty()) return {nullptr, f.error};
    if (f.nodes.empty()) return {nullptr, std::string("Filter Scheduler::Filter::") + step.name + " did not return any nodes"};
    nodes = f.nodes;
  }
  Candidate* chosen = nullptr;
  if (service.stateful) {
    // HighAvailability#find_stateful_node: the node of the previous instance, if any.
    auto it = service.instances.find(instance_number);
    if (it != service.instances.end() && it->second.host_node) {
      for (Candidate* c : nodes) {
        if (c->node->key == *it->second.host_node) chosen = c;
      }
    } else {
      chosen = service.strategy == "daemon" ? daemon_pick(service, instance_number, nodes)
                                            : ha_pick(service, instance_number, nodes);
    }
  } else {
    chosen = service.strategy == "daemon" ? daemon_pick(service, instance_number, nodes)
                                          : ha_pick(service, instance_number, nodes);
  }
  if (chosen == nullptr) {
    return {nullptr, std::string("Strategy Scheduler::Strategy::") +
                         (service.strategy == "daemon" ? "Daemon" : "HighAvailability") + " did not find any node"};
  }
  chosen->scheduled.push_back(instance_number);
  return {chosen->node, {}};
}

int instance_count(ServiceStore& store, const Service& service, const std::vector<Node*>& nodes) {
  const bool daemon = service.strategy == "daemon";
  auto count = [&](std::size_t node_count) {
    return daemon ? static_cast<int>(node_count) * service.container_count : service.container_count;
  };
  std::vector<Candidate> available;
  for (Node* n : nodes) available.push_back(Candidate{n, {}});
  std::set<NodeKey> used;
  const int max_instances = count(nodes.size());
  for (int i = 1; i <= max_instances; ++i) {
    auto placed = select_node(store, service, i, available);
    if (placed.node != nullptr) used.insert(placed.node->key);
  }
  return count(used.size());
}

// The stack file's `volumes:` entries as the pod carries them (kontena v1.5.4:
// server/app/serializers/rpc/service_pod_serializer.rb build_volumes): "/path" is an anonymous
// volume {bind_mount: nil, path}, "/host:/path[:flags]" a bind mount, "name:/path[:flags]" a
// named volume (driver local; resolve_pod_volumes, volumes.hpp, maps grid volumes). Maps pass through.
static Json pod_volumes(const Json& volumes) {
  Json out = Json::array();
  for (const auto& v : volumes) {
    if (!v.is_string()) {
      out.push_back(v);
      continue;
    }
    std::vector<std::string> parts;
    std::string text = v.get<std::string>();
    for (std::size_t start = 0;;) {
      const auto colon = text.find(':', start);
      parts.push_back(text.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    const Json flags = parts.size() > 2 ? Json(parts[2]) : Json(nullptr);
    if (parts.size() == 1) {
      out.push_back({{"bind_mount", nullptr}, {"path", parts[0]}, {"flags", nullptr}});
    } else if (parts[0].starts_with("/")) {
      out.push_back({{"bind_mount", parts[0]}, {"path", parts[1]}, {"flags", flags}});
    } else {
      out.push_back({{"name", parts[0]}, {"path", parts[1]}, {"flags", flags}, {"driver", "local"},
                     {"driver_opts", Json::object()}});
    }
  }
  return out;
}

Json service_pod(ServiceStore& store, const Service& s, const Instance& inst, const Node& host) {
  const std::string n = std::to_string(inst.number);
  // ServicePodSerializer#registry_name and #image_credentials.
  Json credentials = s.image_credentials;
  if (credentials.is_null()) {
    std::string registry = "index.docker.io";
    const auto slash = s.image.find('/');
    if (slash != std::string::npos && s.image.substr(0, slash).find_first_of(".:") != std::string::npos) {
      registry = s.image.substr(0, slash);
    }
    auto& known = store.registries(s.grid);
    if (auto it = known.find(registry); it != known.end()) {
      credentials = {{"username", it->second["username"]},
                     {"password", it->second["password"]},
                     {"email", it->second.value("email", Json(nullptr))}};
    }
  }
  Json env = s.spec.value("env", Json::array());
  env.push_back("KONTENA_SERVICE_ID=" + s.id);
  env.push_back("KONTENA_SERVICE_NAME=" + s.name);
  env.push_back("KONTENA_GRID_NAME=" + s.grid);
  env.push_back("KONTENA_PLATFORM_NAME=" + s.grid);
  env.push_back("KONTENA_STACK_NAME=" + s.stack);
  env.push_back("KONTENA_NODE_NAME=" + host.name);
  env.push_back("KONTENA_SERVICE_INSTANCE_NUMBER=" + n);

  Json labels = {{"io.kontena.service.id", s.id},   {"io.kontena.service.name", s.name},
                 {"io.kontena.stack.name", s.stack}, {"io.kontena.grid.name", s.grid},
                 {"io.kontena.platform.name", s.grid}};
  const Json& hc = s.spec["health_check"];
  if (hc.is_object() && hc.contains("protocol") && !hc["protocol"].is_null()) {
    auto text = [&](const char* k) { return hc.contains(k) ? (hc[k].is_string() ? hc[k] : Json(hc[k].dump())) : Json(""); };
    if (hc["protocol"] == "http") labels["io.kontena.health_check.uri"] = hc.value("uri", Json(nullptr));
    labels["io.kontena.health_check.protocol"] = hc["protocol"];
    labels["io.kontena.health_check.interval"] = text("interval");
    labels["io.kontena.health_check.timeout"] = text("timeout");
    labels["io.kontena.health_check.initial_delay"] = text("initial_delay");
    labels["io.kontena.health_check.port"] = text("port");
  }

  // build_hooks: the hooks for this instance not yet done.
  Json hooks = Json::array();
  for (const auto& h : s.spec.value("hooks", Json::array())) {
    const Json instances = h.value("instances", Json::array({"*"}));
    const Json done = h.value("done", Json::array());
    const bool mine = std::find(instances.begin(), instances.end(), Json("*")) != instances.end() ||
                      std::find(instances.begin(), instances.end(), Json(n)) != instances.end();
    if (mine && std::find(done.begin(), done.end(), Json(n)) == done.end()) {
      hooks.push_back({{"id", h.value("id", "")}, {"type", h.value("type", "")}, {"cmd", h.value("cmd", "")},
                       {"oneshot", h.value("oneshot", false)}});
    }
  }

  Json pod = s.spec;
  pod["volumes"] = pod_volumes(s.spec.value("volumes", Json::array()));
  resolve_pod_volumes(store.volumes(), s, inst.number, pod["volumes"]);
  pod.erase("health_check");
  pod.erase("hooks");
  pod.update({
      {"id", s.id + "/" + n},
      {"desired_state", inst.desired_state},
      {"service_id", s.id},
      {"service_name", s.name_with_stack()},
      {"service_revision", s.revision},
      {"updated_at", format_ruby_time(s.updated_at)},
      {"instance_number", inst.number},
      {"image_name", s.image},
      {"image_credentials", credentials},
      {"deploy_rev", opt(inst.deploy_rev)},
      {"stateful", s.stateful},
      {"hostname", s.name + "-" + n},
      {"domainname", s.stack == kNullStack ? s.grid + ".kontena.local" : s.stack + "." + s.grid + ".kontena.local"},
      {"env", env},
      {"labels", labels},
      {"hooks", hooks},
  });
  return pod;
}

std::optional<std::string> save_container(NodeRegistry& registry, ServiceStore& store, const std::string& grid,
                                          const Json& data, SysTime now) {
  if (!data.is_object() || !data.contains("container") || !data["container"].is_object()) {
    return "NoMethodError: undefined method `[]' for nil:NilClass";
  }
  const Json& info = data["container"];
  if (!info.contains("Config") || !info["Config"].is_object() || !info.contains("Id") || !info["Id"].is_string()) {
    return "NoMethodError: undefined method `[]' for nil:NilClass";
  }
  const Json& config = info["Config"];
  const Json labels = config.contains("Labels") && config["Labels"].is_object() ? config["Labels"] : Json::object();
  const std::string id = info["Id"].get<std::string>();
  const std::string node_id = data.value("node", "");
  Node* node = registry.find_by_node_id(grid, node_id);
  auto label = [&](const char* k) -> std::optional<std::string> {
    if (labels.contains(k) && labels[k].is_string()) return labels[k].get<std::string>();
    return std::nullopt;
  };

  auto& containers = store.containers();
  auto it = containers.find(id);
  if (it == containers.end() || it->second.grid != grid) {
    ContainerRecord rec;
    rec.container_id = id;
    rec.grid = grid;
    if (node != nullptr) rec.node = node->key;
    if (auto sid = label("io.kontena.service.id")) {
      rec.name = label("io.kontena.container.name").value_or("");
      rec.container_type = label("io.kontena.container.type").value_or("container");
      rec.service_id = *sid;
    } else {
      const std::string name = info.value("Name", "");
      rec.name = name.rfind('/', 0) == 0 ? name.substr(1) : name;
    }
    it = containers.insert_or_assign(id, std::move(rec)).first;
  } else if (node != nullptr) {
    it->second.node = node->key;
  }
  ContainerRecord& rec = it->second;

  Json env = config.contains("Env") && config["Env"].is_array() ? config["Env"] : Json::array();
  if (const Service* svc = store.find(rec.service_id)) {
    // strip_secrets_from_env: the record never keeps secret values.
    for (const auto& secret : svc->spec.value("secrets", Json::array())) {
      const std::string name = secret.value("name", "");
      Json kept = Json::array();
      for (const auto& e : env) {
        if (!e.is_string() || e.get<std::string>().substr(0, e.get<std::string>().find('=')) != name) kept.push_back(e);
      }
      env = kept;
    }
  }
  Json parsed_labels = Json::object();
  for (const auto& [k, v] : labels.items()) {
    std::string key = k;
    std::replace(key.begin(), key.end(), '.', ';');
    parsed_labels[key] = v;
  }
  const Json state = info.contains("State") && info["State"].is_object() ? info["State"] : Json::object();
  auto st = [&](const char* k) { return state.contains(k) ? state[k] : Json(nullptr); };
  rec.attributes = {
      {"driver", info.value("Driver", Json(nullptr))},
      {"image", config.value("Image", Json(nullptr))},
      {"image_version", info.value("Image", Json(nullptr))},
      {"cmd", config.value("Cmd", Json(nullptr))},
      {"env", env},
      {"labels", parsed_labels},
      {"hostname", config.value("Hostname", Json(nullptr))},
      {"domainname", config.value("Domainname", Json(nullptr))},
      {"state",
       {{"error", st("Error")},
        {"exit_code", st("ExitCode")},
        {"pid", st("Pid")},
        {"oom_killed", st("OOMKilled")},
        {"paused", st("Paused")},
        {"restarting", st("Restarting")},
        {"dead", st("Dead")},
        {"running", st("Running")}}},
      {"started_at", st("StartedAt")},
      {"finished_at", st("FinishedAt")},
      {"updated_at", format_ruby_time(now)},
  };
  if (info.contains("NetworkSettings") && info["NetworkSettings"].is_object()) {
    const Json& ns = info["NetworkSettings"];
    rec.attributes["network_settings"] = {{"ip_address", ns.value("IPAddress", Json(nullptr))},
                                          {"ports", ns.value("Ports", Json(nullptr))}};
  }
  if (auto n = label("io.kontena.service.instance_number")) {
    try {
      rec.instance_number = std::stoi(*n);
    } catch (const std::exception&) {
      rec.instance_number.reset();
    }
  }
  if (!rec.deploy_rev) rec.deploy_rev = label("io.kontena.container.deploy_rev");
  if (auto r = label("io.kontena.container.service_revision")) rec.attributes["service_rev"] = *r;
  rec.deleted_at.reset();
  return std::nullopt;
}

Json container_json(const NodeRegistry& registry, const ContainerRecord& c) {
  const Node* node = nullptr;
  if (c.node) node = registry.find(*c.node);
  Json j = c.attributes;
  j.update({
      {"id", c.container_id},
      {"name", c.name},
      {"container_type", c.container_type},
      {"service_id", c.service_id.empty() ? Json(nullptr) : Json(c.service_id)},
      {"instance_number", c.instance_number ? Json(*c.instance_number) : Json(nullptr)},
      {"deploy_rev", opt(c.deploy_rev)},
      {"node", node != nullptr ? Json(node->name) : Json(nullptr)},
      {"status", c.status()},
      {"deleted_at", c.deleted_at ? Json(format_ruby_time(*c.deleted_at)) : Json(nullptr)},
      {"health_status", c.health_status.empty() ? Json(nullptr) : Json(c.health_status)},
  });
  return j;
}

Json service_json(const NodeRegistry& registry, ServiceStore& store, const Service& s) {
  auto node_name = [&](const std::optional<NodeKey>& key) -> Json {
    if (!key) return nullptr;
    const Node* n = registry.find(*key);
    return n != nullptr ? Json(n->name) : Json(nullptr);
  };
  Json instances = Json::array();
  for (const auto& [n, inst] : s.instances) {
    Json containers = Json::array();
    for (const auto& [id, c] : store.containers()) {
      // `service show` lists the service's live containers with the instance's number.
      if (c.service_id == s.id && c.container_type == "container" && !c.deleted_at && c.instance_number == n) {
        containers.push_back(container_json(registry, c));
      }
    }
    instances.push_back({{"instance_number", n},
                         {"node", node_name(inst.host_node)},
                         {"desired_state", inst.desired_state},
                         {"deploy_rev", opt(inst.deploy_rev)},
                         {"rev", opt(inst.rev)},
                         {"state", inst.state},
                         {"error", opt(inst.error)},
                         {"containers", containers}});
  }
  Json events = Json::array();
  for (const auto& e : s.events) {
    events.push_back({{"time", format_ruby_time(e.time)},
                      {"severity", e.severity},
                      {"type", e.type},
                      {"msg", e.msg},
                      {"node", e.node.empty() ? Json(nullptr) : Json(e.node)},
                      {"instance_number", e.instance_number ? Json(*e.instance_number) : Json(nullptr)}});
  }
  Json deploys = Json::array();
  for (const Deploy* d : store.deploys_of(s.id)) {
    Json di = Json::array();
    for (const auto& i : d->instances) {
      di.push_back({{"instance_number", i.instance_number},
                    {"node", i.node},
                    {"state", i.state},
                    {"error", i.error.empty() ? Json(nullptr) : Json(i.error)}});
    }
    auto t = [](const std::optional<SysTime>& x) { return x ? Json(format_ruby_time(*x)) : Json(nullptr); };
    deploys.push_back({{"id", d->id},
                       {"created_at", format_ruby_time(d->created_at)},
                       {"started_at", t(d->started_at)},
                       {"finished_at", t(d->finished_at)},
                       {"state", d->state},
                       {"reason", d->reason.empty() ? Json(nullptr) : Json(d->reason)},
                       {"deploy_rev", d->deploy_rev.empty() ? Json(nullptr) : Json(d->deploy_rev)},
                       {"instances", di}});
  }
  Json spec = s.spec;
  Json creds = nullptr;
  if (s.image_credentials.is_object()) {
    creds = {{"username", s.image_credentials.value("username", Json(nullptr))},
             {"email", s.image_credentials.value("email", Json(nullptr))},
             {"password", "<present>"}};
  }
  if (spec.contains("secrets")) {
    for (auto& sec : spec["secrets"]) {
      if (sec.is_object() && sec.contains("value") && !sec["value"].is_null()) sec["value"] = "<present>";
    }
  }
  return {{"id", s.to_path()},
          {"service_id", s.id},
          {"grid", s.grid},
          {"stack", s.stack},
          {"name", s.name},
          {"image", s.image},
          {"strategy", s.strategy},
          {"container_count", s.container_count},
          {"affinity", s.affinity},
          {"stateful", s.stateful},
          {"state", s.state},
          {"revision", s.revision},
          {"created_at", format_ruby_time(s.created_at)},
          {"updated_at", format_ruby_time(s.updated_at)},
          {"deployed_at", s.deployed_at ? Json(format_ruby_time(*s.deployed_at)) : Json(nullptr)},
          {"image_credentials", creds},
          {"spec", spec},
          {"instances", instances},
          {"events", events},
          {"deploys", deploys}};
}

}  // namespace kn::master_sim
