#include "master/msgpack_rpc.hpp"

namespace kn::rpc {
namespace {

Failure malformed(std::string why) { return fail(Errc::rpc_decode_failed, "failed to decode RPC frame: " + why); }

}  // namespace

Bytes encode(const Message& message) {
  Value array = std::visit(
      [](const auto& m) -> Value {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Request>) {
          return Value::array({0, m.id, m.method, m.params});
        } else if constexpr (std::is_same_v<T, Response>) {
          return Value::array({1, m.id, m.error, m.result});
        } else {
          return Value::array({2, m.method, m.params});
        }
      },
      message);
  return Value::to_msgpack(array);
}

Result<Message> decode(const std::uint8_t* data, std::size_t size) {
  Value v = Value::from_msgpack(data, data + size, true, false);
  if (v.is_discarded()) return malformed("not MessagePack");
  if (!v.is_array() || v.empty() || !v[0].is_number_integer()) return malformed("not an RPC array");
  const auto type = v[0].get<std::int64_t>();
  auto id_of = [](const Value& x) -> std::optional<std::uint32_t> {
    if (!x.is_number_integer()) return std::nullopt;
    const auto n = x.get<std::int64_t>();
    if (n < 0 || n > 0xFFFFFFFFLL) return std::nullopt;
    return static_cast<std::uint32_t>(n);
  };
  if (type == 0 && v.size() == 4 && v[2].is_string()) {
    auto id = id_of(v[1]);
    if (!id) return malformed("bad request id");
    return Message{Request{*id, v[2].get<std::string>(), v[3].is_array() ? v[3] : Value::array({v[3]})}};
  }
  if (type == 1 && v.size() == 4) {
    auto id = id_of(v[1]);
    if (!id) return malformed("bad response id");
    return Message{Response{*id, v[2], v[3]}};
  }
  if (type == 2 && v.size() == 3 && v[1].is_string()) {
    return Message{Notification{v[1].get<std::string>(), v[2].is_array() ? v[2] : Value::array({v[2]})}};
  }
  return malformed("unknown message layout");
}

Result<Message> decode(const Bytes& frame) { return decode(frame.data(), frame.size()); }

Response not_implemented(std::uint32_t id) {
  return Response{id, Value{{"code", 501}, {"error", "service not implemented"}}, nullptr};
}

}  // namespace kn::rpc
