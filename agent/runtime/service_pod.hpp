// The service pod: what the master wants one instance of a service on this node to be.
// Keys, types and defaults follow the master's serializer and the agent's model
// (kontena v1.5.4: server/app/serializers/rpc/service_pod_serializer.rb,
// agent/lib/kontena/models/service_pod.rb). The MessagePack-RPC layer hands it over as JSON.
#pragma once

#include "core/error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kn::runtime {

// `terminated` is never sent by the master: the node infers it when a pod leaves the list.
enum class DesiredState { initialized, running, stopped, terminated };
std::string_view to_string(DesiredState s) noexcept;

struct ImageCredentials {  // never logged
  std::string username, password, email;
  bool operator==(const ImageCredentials&) const = default;
};

struct PortSpec {
  std::string ip = "0.0.0.0";
  std::string protocol = "tcp";
  int node_port = 0;
  int container_port = 0;
  bool operator==(const PortSpec&) const = default;
};

// Named ({name, path, flags, driver, driver_opts}), bind ({bind_mount, path, flags}) or
// anonymous (only {path}: bind_mount and name both nil).
struct VolumeSpec {
  std::optional<std::string> name;
  std::optional<std::string> bind_mount;
  std::string path;
  std::optional<std::string> flags;
  std::optional<std::string> driver;
  nlohmann::json driver_opts = nlohmann::json::object();
  bool operator==(const VolumeSpec&) const = default;
};

struct SecretSpec {
  std::string name;
  std::string type = "env";
  std::optional<std::string> value;  // nil: the secret does not exist (yet)
  bool operator==(const SecretSpec&) const = default;
};

struct HookSpec {
  std::string id, type, cmd;
  bool oneshot = false;
  bool operator==(const HookSpec&) const = default;
};

struct NetworkSpec {  // carried, ignored (no overlay)
  std::string name, subnet;
  bool multicast = false, internal = false;
  bool operator==(const NetworkSpec&) const = default;
};

struct ServicePod {
  std::string id;  // "<service_id>/<n>"
  DesiredState desired_state = DesiredState::initialized;
  std::string service_id, service_name;
  std::int64_t service_revision = 1;
  std::optional<std::string> updated_at;
  int instance_number = 0;
  std::optional<std::string> deploy_rev;  // opaque: echoed byte for byte
  std::string image_name;                 // verbatim, possibly without a tag
  std::optional<ImageCredentials> image_credentials;
  bool stateful = false, privileged = false, read_only = false;
  std::optional<std::string> user;
  std::optional<std::vector<std::string>> cmd;
  std::optional<std::string> entrypoint;  // one string
  std::optional<std::int64_t> memory, memory_swap, shm_size, cpu_shares;
  std::optional<double> cpus;
  std::vector<std::string> cap_add, cap_drop, devices;
  std::optional<std::string> pid;
  std::vector<PortSpec> ports;
  std::vector<VolumeSpec> volumes;
  std::vector<std::string> volumes_from;
  std::string net = "bridge";
  std::optional<std::string> hostname, domainname;
  bool exposed = false;
  std::optional<std::string> log_driver;
  std::map<std::string, std::string> log_opts;
  std::optional<std::string> stop_signal;
  std::optional<int> wait_for_port;
  int stop_grace_period = 10;
  std::vector<std::string> env;
  std::vector<SecretSpec> secrets;
  std::map<std::string, std::string> labels;
  std::vector<HookSpec> hooks;
  std::vector<NetworkSpec> networks;

  // "<service_id>/<n>", the key the node's workers and reports use.
  std::string key() const;
  bool operator==(const ServicePod&) const = default;
};

// Decodes one pod. Missing keys and nil take the defaults above; a key of the wrong type is
// Errc::pod_invalid naming the pod and the key. Unknown keys are ignored (newer masters).
Result<ServicePod> decode_service_pod(const nlohmann::json& doc);

// The answer of /node_service_pods/list: {"service_pods": [pod...]}. One malformed pod does not
// hide the others: it is listed in `invalid`, with its key when that much could be read (so
// its container is not mistaken for an orphan). A reply of the wrong shape is a failure.
struct InvalidPod {
  std::optional<std::string> key;
  Failure failure;
};
struct PodList {
  std::vector<ServicePod> pods;
  std::vector<InvalidPod> invalid;
};
Result<PodList> decode_service_pod_list(const nlohmann::json& doc);

}  // namespace kn::runtime
