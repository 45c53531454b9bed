// One agent WebSocket connection: the 101 with the master's headers, the handshake
// verdict (handshake.hpp), then MessagePack-RPC in binary frames (master_info, node_info,
// /nodes/update, /nodes/stats, 501 for the rest) and the master keepalive (ping every
// ping_interval, 4030 without a pong, 4040/4041/4031 from the pong check).
// docs/protocol.md sections 2-4.
#pragma once

#include "sim_state.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace kn::master_sim {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

// Takes over `stream` after `upgrade` (a WebSocket upgrade on "/") was read from it.
// Instantiated for boost::beast::tcp_stream and boost::beast::ssl_stream<tcp_stream>.
template <class Stream>
boost::asio::awaitable<void> run_websocket_session(SimState& state, Stream stream, HttpRequest upgrade);

}  // namespace kn::master_sim
