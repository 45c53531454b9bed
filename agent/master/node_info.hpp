// The /nodes/update document (kontena v1.5.4: agent/lib/kontena/workers/node_info_worker.rb;
// docs/protocol.md "After the upgrade"): the whole Docker GET /info JSON with Name,
// PublicIp, PrivateIp, AgentVersion, Drivers and Labels set by the agent. Without Docker the
// same keys are filled from the host (/proc, uname, /etc/os-release), so the master still
// sees a complete node.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace kn::master {

struct NodeInfoInputs {
  std::optional<nlohmann::json> docker_info;  // GET /info; empty when Docker is unreachable
  std::string name;                           // the configured node name
  std::optional<std::string> public_ip;
  std::optional<std::string> private_ip;
  std::string agent_version;                  // what the Kontena agent reported: its VERSION
  std::vector<std::string> labels;            // "key=value"; the agent's labels win per key
};

nlohmann::json build_node_info(const NodeInfoInputs& in);

// Drivers: {Volume: [{name, version}], Network: [...]} from the legacy Plugins lists.
nlohmann::json drivers_from_info(const nlohmann::json& info);

// Host facts in Docker /info's key names: NCPU, MemTotal, KernelVersion, OperatingSystem,
// OSType, Architecture, Name (hostname).
nlohmann::json host_info();

// The first IPv4 address of an interface that is up and not loopback (getifaddrs).
std::optional<std::string> first_private_ipv4();

// A node id in Docker's engine ID format (12 groups of 4 of [A-Z2-7] joined by ':') derived
// from `seed` (e.g. /etc/machine-id): stable across restarts, distinct per host.
std::string derived_node_id(std::string_view seed);

// The seed for derived_node_id: /etc/machine-id, else the hostname.
std::string host_identity_seed();

std::string host_name();

}  // namespace kn::master
