// JSON as text for logs, error messages and request bodies, whatever bytes its strings hold.
// nlohmann's dump() throws type_error 316 on a string that is not valid UTF-8
// (https://json.nlohmann.me/api/basic_json/dump/), and MessagePack strings from the master
// can hold any bytes: a node_info with one bad byte once ended the agent (found by
// fuzz/fuzz_msgpack_rpc.cpp; fuzz/regressions/msgpack_rpc/). Such bytes become U+FFFD here.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace kn {

template <class Json>
std::string json_text(const Json& doc) {
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace kn
