// The master's named volumes (kontena v1.5.4: server/app/models/volume.rb, volume_instance.rb,
// server/app/mutations/volumes/{create,delete}.rb, server/app/services/volume_instance_deployer.rb,
// server/app/services/rpc/node_volume_handler.rb, server/app/serializers/rpc/volume_serializer.rb).
//
// A Volume is defined per grid (name, scope instance|stack|grid, driver, driver_opts). A
// service mounts it with a volumes entry "vol:/path[:flags]" naming it; when an instance is
// deployed to a node, the node gets a VolumeInstance named for the scope
// (`<stack.service>.<vol>-<n>`, `<stack>.<vol>`, `<vol>`) and, when that instance is new, the
// request /volumes/notify_update [[]] (2 s). The pod's entry then carries the instance name,
// the driver and its options. Agents list their instances with /node_volumes/list and confirm
// them with /node_volumes/set_state. Deleting a volume no service uses destroys its instances
// and notifies their nodes with /volumes/notify_update ["remove"].
//
// Simplified: a "name:/path" entry naming no grid volume stays a plain local named volume (the
// stack file's own `volumes:` section and `external:` are not modelled); driver versions of
// node plugins (driver_for_node) and the VolumePlugin / VolumeInstance scheduler filters are
// left out.
//
// REST (bearer API token as for /v1/grids):
//   POST   /v1/volumes/{grid}          {name, scope, driver, driver_opts?} -> 201 VOLUME; 422 {error: {field: msg}}
//   GET    /v1/volumes/{grid}          -> 200 {volumes: [VOLUME...]}
//   GET    /v1/volumes/{grid}/{name}   -> 200 VOLUME
//   DELETE /v1/volumes/{grid}/{name}   -> 200 {}; 422 when a service still uses it
// VOLUME: {id: "grid/name", name, scope, driver, driver_opts, created_at, instances: [{name, node}]}
#pragma once

#include "service_rest.hpp"
#include "sim_state.hpp"

#include <boost/asio/awaitable.hpp>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kn::master_sim {

// The service's volumes entries that name a volume (not "/host" binds or anonymous "/path").
std::vector<std::string> volume_refs(const Service& service);

// Volume#name_for_service.
std::string volume_instance_name(const Volume& volume, const Service& service, int instance_number);

// ServicePodSerializer#build_volumes for grid volumes: the entries of `pod_volumes` naming one
// get the instance name, its driver and options.
void resolve_pod_volumes(VolumeStore& store, const Service& service, int instance_number, Json& pod_volumes);

// GridServiceInstanceDeployer#ensure_volume_instance: "" or the "Class: message" that fails the
// instance deploy.
boost::asio::awaitable<std::string> ensure_volume_instances(SimState& state, std::string service_id,
                                                            int instance_number, NodeKey node);

// /node_volumes/list and /node_volumes/set_state; nullopt for other methods.
std::optional<rpc::Response> handle_volume_request(SimState& state, const std::string& grid,
                                                   const rpc::Request& request);

// The /v1/volumes routes; nullopt for other paths.
std::optional<RestResult> handle_volume_rest(SimState& state, boost::beast::http::verb method,
                                             const std::vector<std::string>& parts, const Json& body);

}  // namespace kn::master_sim
