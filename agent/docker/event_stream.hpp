// The Docker engine's event stream (GET /events), followed until the caller stops it or
// dockerd goes away. https://docs.docker.com/engine/api/v1.41/#tag/System/operation/SystemEvents
#pragma once

#include "core/error.hpp"
#include "http/http_transport.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <string_view>

namespace kn::docker {

// GET /events?filters={"type":["container"]} streamed; blocks until `stop` is interrupted (at
// once, with no polling while the engine is silent) or the stream breaks (dockerd stopped:
// returns Errc::docker_unavailable).
Status follow_events(std::string_view docker_host, const nlohmann::json& filters,
                     const std::function<void(const nlohmann::json& event)>& on_event,
                     http::StreamInterrupt& stop);

}  // namespace kn::docker
