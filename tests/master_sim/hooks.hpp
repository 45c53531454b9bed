// Service lifecycle hooks as the master stores them (kontena v1.5.4: server/app/models/grid_service_hook.rb,
// server/app/mutations/grid_services/common.rb): {id, name, type, cmd, instances, oneshot, done}.
// `instances` are instance numbers as strings or "*"; `done` lists the instance numbers (as
// strings) that ran a oneshot, pushed by /node_service_pods/mark_oneshot_hook.
#pragma once

#include "node_registry.hpp"

#include <string>
#include <variant>

namespace kn::master_sim {

// A service definition's `hooks`: the kontena.yml / API shape {pre_start: [{name, cmd,
// instances, oneshot}], post_start: [...], pre_stop: [...]}, or a list of {type, name, cmd,
// instances, oneshot}. `instances` may be a number, "*", "1,2" or a list (default "*").
// Returns the stored hooks, or what is wrong (" must ...", to follow the field's name).
std::variant<Json, std::string> parse_service_hooks(const Json& definition);

// An update keeps the id and `done` of each hook whose name and type stay, so a oneshot that
// ran is not run again because the service was edited.
void keep_hook_progress(Json& next, const Json& current);

}  // namespace kn::master_sim
