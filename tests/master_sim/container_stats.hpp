// The master's view of container health and stats (kontena v1.5.4:
// server/app/services/rpc/container_handler.rb `health` and `stat`, the REST routes
// server/app/routes/v1/services_api.rb `containers` and `container_stats`, and the read-out
// server/app/views/v1/grid_services/stats.json.jbuilder).
//
//   GET /v1/services/{grid}/{stack}/{service}/containers
//       -> 200 {containers: [CONTAINER...]} the service's live containers, with health_status
//   GET /v1/services/{grid}/{stack}/{service}/container_stats
//       -> 200 {stats: [{container_id (the container's name), cpu: {usage (usage_pct), limit,
//          num_cores}, memory: {usage, limit}, network}]} from each live container's latest
//          /containers/stat (`kontena service stats`); cpu, memory and network are null
//          before the first one
#pragma once

#include "service_rest.hpp"
#include "services.hpp"
#include "sim_state.hpp"

#include <boost/beast/http/verb.hpp>

#include <optional>
#include <string>

namespace kn::master_sim {

// /containers/stat [stat]: the latest entry is kept on the container's record (the real master
// keeps every one as a ContainerStat row; the read-outs use the latest). A stat for a container
// the grid does not know is dropped. false: `stat` is not a hash.
bool store_container_stat(SimState& state, const std::string& grid, const Json& stat);

// The routes above for `action` ("containers", "container_stats"); nullopt for any other.
std::optional<RestResult> service_container_routes(SimState& state, const Service& service,
                                                   const std::string& action, boost::beast::http::verb method);

// ContainerStat.calculate_num_cores: the CPUs in a cpuset mask such as "0-3,6".
int cpu_mask_cores(const std::string& mask);

}  // namespace kn::master_sim
