// MessagePack-RPC frames from the master: the codec (agent/master/msgpack_rpc.hpp) and the
// session's dispatch of one frame on a connected link (agent/master/session.hpp).
// Properties: a frame that decodes re-encodes to a frame that decodes to the same bytes again;
// a request for a method nobody serves is answered at once, with its own id, with an error.
#include "core/clock.hpp"
#include "core/logging.hpp"
#include "fuzz_check.hpp"
#include "master/msgpack_rpc.hpp"
#include "master/session.hpp"

#include <cstddef>
#include <cstdint>

using namespace kn;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::quiet_logs();

  const auto decoded = rpc::decode(data, size);
  if (decoded) {
    const auto bytes = rpc::encode(*decoded);
    const auto again = rpc::decode(bytes);
    fuzz::check(again.has_value(), "a decoded frame re-encodes to a frame that decodes",
                again ? std::string_view{} : std::string_view(again.error().message));
    fuzz::check(rpc::encode(*again) == bytes, "encode(decode(encode(m))) == encode(m)");
  }

  ManualClock clock;
  master::SessionConfig config;
  config.node_id = "fuzz-node";
  config.served_methods = {"/service_pods/notify_update"};
  master::Session session(config, clock, [] { return 0.5; });
  session.handle(master::event::Start{});
  session.handle(master::event::Connected{});
  const auto actions = session.handle(master::event::Frame{rpc::Bytes(data, data + size)});

  const auto* request = decoded ? std::get_if<rpc::Request>(&*decoded) : nullptr;
  if (request != nullptr && request->method != "/service_pods/notify_update") {
    bool answered = false;
    for (const auto& action : actions) {
      const auto* send = std::get_if<master::action::Send>(&action);
      if (send == nullptr) continue;
      const auto reply = rpc::decode(send->frame);
      const auto* response = reply ? std::get_if<rpc::Response>(&*reply) : nullptr;
      answered = answered || (response != nullptr && response->id == request->id && !response->error.is_null());
    }
    fuzz::check(answered, "an unserved request is answered with an error carrying its id", request->method);
  }
  return 0;
}
