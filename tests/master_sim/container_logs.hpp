// Container logs on the master's side (kontena v1.5.4):
//   /containers/log_batch [[{id, service, stack, instance, time, type, data}...]] (notification,
//   server/app/services/rpc/container_handler.rb#log_batch): each line of a container the
//   master knows from /containers/save is stored; lines of unknown containers are dropped.
//   GET /v1/services/{grid}/{stack}/{service}/container_logs?limit=N&from=ID (`kontena service
//   logs`, server/app/helpers/logs_helpers.rb#render_container_logs): without `from`, the last
//   `limit` lines in order; with it, the first `limit` lines after that id. limit defaults to
//   100 and is capped at 10000. -> 200 {logs: [{id, container_id, service_id, grid_id, name,
//   instance_number, created_at, type, data}]} (created_at as Rails renders a time:
//   "2018-08-10T12:34:56.123Z"). `follow` and `since` are not simulated.
#pragma once

#include "service_rest.hpp"
#include "sim_state.hpp"

#include <boost/beast/http/verb.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kn::master_sim {

// The handler of /containers/log_batch; `params` is the positional array.
void store_log_batch(SimState& state, const std::string& grid, const Json& params);

// nullopt when this is not the container_logs route; `target` is the request target with its query.
std::optional<RestResult> handle_container_logs_rest(SimState& state, boost::beast::http::verb method,
                                                     const std::vector<std::string>& parts, std::string_view target);

}  // namespace kn::master_sim
