// MessagePack-RPC as the Kontena agent and master speak it: one MessagePack array per
// binary WebSocket frame (docs/protocol.md "Frames").
//   request      [0, msgid, method, params]
//   response     [1, msgid, error|nil, result]
//   notification [2, method, params]
// Anything else is not a message and is ignored by both sides.
#pragma once

#include "core/error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace kn::rpc {

using Value = nlohmann::json;  // also the MessagePack value model (nlohmann::json::to_msgpack)
using Bytes = std::vector<std::uint8_t>;

struct Request {
  std::uint32_t id = 0;
  std::string method;  // "/handler/method"
  Value params = Value::array();
};

struct Response {
  std::uint32_t id = 0;
  Value error;   // null on success; {code, message} or {code, error} on failure
  Value result;
};

struct Notification {
  std::string method;
  Value params = Value::array();
};

using Message = std::variant<Request, Response, Notification>;

Bytes encode(const Message& message);

// Decodes one frame. Malformed MessagePack, or a shape that is none of the three layouts,
// is a Failure that callers log and drop, as the Kontena master does ("Cannot unpack message").
Result<Message> decode(const Bytes& frame);
Result<Message> decode(const std::uint8_t* data, std::size_t size);

// The reply both Kontena sides give to an unknown method, so the caller never waits for its
// timeout (300 s on the master): {code: 501, error: "service not implemented"}.
Response not_implemented(std::uint32_t id);

}  // namespace kn::rpc
