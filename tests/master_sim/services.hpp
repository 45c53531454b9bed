// The service side of the simulated master: stacks, services, their instances
// (GridServiceInstance), the containers agents report (Container), deploys and the event log,
// with the scheduler's filters and strategies (kontena v1.5.4:
// server/app/services/grid_service_scheduler.rb, server/app/services/scheduler/*) and the
// ServicePod serializer (kontena v1.5.4: server/app/serializers/rpc/service_pod_serializer.rb).
// Pure state and rules, no I/O: deployer.hpp drives deploys over the agents' connections,
// service_rpc.hpp answers the agents, service_rest.hpp is the REST surface.
#pragma once

#include "node_registry.hpp"
#include "volume_store.hpp"

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kn::master_sim {

// The stack name of services created outside a stack (Stack::NULL_STACK).
inline constexpr const char* kNullStack = "null";

struct Instance {  // GridServiceInstance
  int number = 0;
  std::optional<NodeKey> host_node;
  std::string desired_state = "initialized";  // running | stopped (set by the master)
  std::optional<std::string> deploy_rev;
  std::optional<std::string> rev;  // set_state from the agent
  std::string state = "initialized";
  std::optional<std::string> error;
};

struct EventEntry {  // EventLog
  SysTime time{};
  int severity = 1;  // 0 debug, 1 info, 2 warn, 3 error (EventLog::INFO = 1)
  std::string type;  // service:deploy, scheduler, or the agent's type
  std::string msg;
  std::string node;  // node name, when an agent reported it
  std::optional<int> instance_number;
};

struct InstanceDeploy {  // GridServiceInstanceDeploy
  int instance_number = 0;
  std::string node;           // node name
  std::string state = "created";  // created | ongoing | success | error
  std::string error;          // "Class: message"
};

struct Deploy {  // GridServiceDeploy
  std::uint64_t id = 0;
  std::string service_id;
  SysTime created_at{};
  std::optional<SysTime> started_at, finished_at;
  std::string state = "created";  // created | ongoing | success | error
  std::string reason;
  std::string deploy_rev;
  std::vector<InstanceDeploy> instances;
};

struct Service {  // GridService
  std::string id;  // ObjectId-like, 24 hex digits
  std::string grid, stack, name;
  std::string image;
  std::string strategy = "ha";  // ha | daemon
  int container_count = 1;      // `instances`
  std::vector<std::string> affinity;
  bool stateful = false;
  // The remaining ServicePod fields with the GridService defaults (user, cmd, entrypoint,
  // memory, memory_swap, shm_size, cpu_shares, cpus, privileged, cap_add, cap_drop, devices,
  // ports, volumes, volumes_from, net, log_driver, log_opts, pid, wait_for_port, stop_signal,
  // stop_grace_period, read_only, exposed, env, secrets, hooks, networks, health_check).
  Json spec = Json::object();
  Json image_credentials = nullptr;  // {username, password, email}; never logged or shown
  Json definition = Json::object();   // the REST body it was defined (and updated) with
  std::string state = "initialized";  // running | stopped
  int revision = 1;
  SysTime created_at{}, updated_at{};
  std::optional<SysTime> deployed_at;
  std::string last_deploy_rev;
  std::map<int, Instance> instances;
  std::vector<EventEntry> events;

  std::string to_path() const { return grid + "/" + stack + "/" + name; }
  // "stack.service", or the bare name in the null stack (GridService#name_with_stack).
  std::string name_with_stack() const { return stack == kNullStack ? name : stack + "." + name; }
};

struct ContainerRecord {  // Container, as Rpc::ContainerInfoMapper stores it
  std::string container_id;
  std::string grid;
  std::optional<NodeKey> node;
  std::string name;
  std::string container_type = "container";
  std::string service_id;  // io.kontena.service.id
  std::optional<int> instance_number;
  std::optional<std::string> deploy_rev;
  Json attributes = Json::object();  // image, cmd, env, labels (";" for "."), state, hostname, ...
  std::optional<SysTime> deleted_at;
  std::string health_status;
  Json stats = nullptr;  // the latest /containers/stat entry (container_stats.cpp)

  // Container#status: deleted | paused | restarting | dead | running | oom_killed | stopped
  std::string status() const;
};

// The scheduler's view of one candidate node during a deploy (Scheduler::Node).
struct Candidate {
  Node* node = nullptr;
  std::vector<int> scheduled;  // instance numbers placed on it in this pass
};

class ServiceStore {
 public:
  Service* find(const std::string& id);
  Service* find(const std::string& grid, const std::string& stack, const std::string& name);
  std::vector<Service*> of_grid(const std::string& grid);
  std::vector<Service*> of_stack(const std::string& grid, const std::string& stack);
  // Adds a service with a fresh id; fails with a message when the name is taken.
  Service* add(Service service);
  void remove(const std::string& id);

  Deploy& create_deploy(const std::string& service_id, SysTime now);
  Deploy* deploy(std::uint64_t id);
  std::deque<Deploy>& deploys() { return deploys_; }
  std::vector<const Deploy*> deploys_of(const std::string& service_id) const;
  // A deploy of the service is created or ongoing.
  bool deploying(const std::string& service_id) const;

  // The instances placed on `node`, every service of its grid.
  std::vector<std::pair<Service*, Instance*>> instances_on(NodeKey node);

  std::map<std::string, ContainerRecord>& containers() { return containers_; }
  VolumeStore& volumes() { return volumes_; }  // volumes.hpp

  // The grid's external registries by name ("host" or "host:port"), each {name, url,
  // username, password, email} (Registry; `kontena registry add`).
  std::map<std::string, Json>& registries(const std::string& grid) { return registries_[grid]; }
  // NodeUnplugger#update_node_containers: the node's non-volume containers are marked deleted.
  void mark_node_containers_deleted(NodeKey node, SysTime now);

  // deploy_rev for a deploy starting at `now`: Time#to_s of the UTC time. The real master
  // uses whole seconds, so two deploys of one service in the same second would share a rev
  // (its deploys of a service run one after another and each waits for the agents, so it
  // rarely happens); the simulator moves such a rev one second on, keeping revs distinct,
  // increasing, and in the master's format.
  std::string next_deploy_rev(Service& service, SysTime now);

 private:
  std::map<std::string, std::unique_ptr<Service>> services_;
  std::deque<Deploy> deploys_;  // a deque: references stay valid while deploys are added
  std::map<std::string, ContainerRecord> containers_;
  VolumeStore volumes_;
  std::map<std::string, std::map<std::string, Json>> registries_;
  std::uint64_t next_deploy_ = 1;
};

// ---- scheduler (GridServiceScheduler, GridServiceDeployer#instance_count) -------------

struct Placement {
  Node* node = nullptr;  // nullptr: `error` says why (Scheduler::Error's text)
  std::string error;
};
// Picks the node for `instance_number` among `candidates` (filters, then the strategy), and
// records the placement on the chosen candidate.
Placement select_node(ServiceStore& store, const Service& service, int instance_number,
                      std::vector<Candidate>& candidates);
// GridServiceDeployer#instance_count: daemon = matching nodes x instances, ha = instances.
int instance_count(ServiceStore& store, const Service& service, const std::vector<Node*>& nodes);

// ---- ServicePodSerializer ----------------------------------------------------------

// image_credentials: the service's own when it has some, else those of the grid registry named
// by the image's first path part when it contains "." or ":" (else index.docker.io).
Json service_pod(ServiceStore& store, const Service& service, const Instance& instance, const Node& host);

// ---- ContainerInfoMapper -------------------------------------------------------------

// /containers/save: upserts the record from `docker inspect` JSON (secret names removed from
// Env, labels with "." turned into ";", deleted_at cleared). Returns an error text for a
// malformed container (what the Ruby handler would raise).
std::optional<std::string> save_container(NodeRegistry& registry, ServiceStore& store, const std::string& grid,
                                          const Json& data, SysTime now);

// The read-out of one service in the shape of `kontena service show`.
Json service_json(const NodeRegistry& registry, ServiceStore& store, const Service& service);
Json container_json(const NodeRegistry& registry, const ContainerRecord& container);

}  // namespace kn::master_sim
