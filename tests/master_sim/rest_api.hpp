// The master's REST API as far as agents and operators of nodes use it
// (docs/protocol.md section 5: /, /v1/ping, grid nodes, node GET/PUT/DELETE,
// node token), plus the test-only control routes under /v1/_sim/ (close, config, stats,
// request, raw: one unchecked frame for fault tests). JSON in and out; /v1/nodes and /v1/grids need the bearer API token when the
// simulator has one. Every response carries X-Kontena-Version.
#pragma once

#include "rpc_session.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace kn::master_sim {

using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

boost::asio::awaitable<HttpResponse> handle_rest(SimState& state, const HttpRequest& request);

}  // namespace kn::master_sim
