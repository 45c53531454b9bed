// The service-pod spec decoder (runtime/service_pod.hpp): what the master sends in
// /service_pods/list and notify_update. Input: JSON text, or MessagePack when it is not JSON.
// Properties: each list entry ends as exactly one pod or one invalid entry; decoding is
// deterministic; no failure message repeats a registry password the spec carried.
#include "fuzz_check.hpp"
#include "runtime/service_pod.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

using namespace kn;
using nlohmann::json;

namespace {

void collect_passwords(const json& doc, std::vector<std::string>& out) {
  if (doc.is_object()) {
    for (const auto& [key, value] : doc.items()) {
      if (key == "password" && value.is_string() && value.get<std::string>().size() >= 8) {
        out.push_back(value.get<std::string>());
      }
      collect_passwords(value, out);
    }
  } else if (doc.is_array()) {
    for (const auto& value : doc) collect_passwords(value, out);
  }
}

void check_quiet(const Failure& failure, const std::vector<std::string>& passwords) {
  for (const auto& p : passwords) {
    fuzz::check(failure.message.find(p) == std::string::npos, "a pod decode failure never shows a registry password",
                failure.message);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  json doc = json::parse(data, data + size, nullptr, false);
  if (doc.is_discarded()) doc = json::from_msgpack(data, data + size, true, false);
  if (doc.is_discarded()) return 0;

  std::vector<std::string> passwords;
  collect_passwords(doc, passwords);

  const auto one = runtime::decode_service_pod(doc);
  if (!one) check_quiet(one.error(), passwords);
  const auto again = runtime::decode_service_pod(doc);
  fuzz::check(one.has_value() == again.has_value() && (!one || *one == *again), "decoding is deterministic");

  const auto list = runtime::decode_service_pod_list(doc);
  if (!list) return 0;
  fuzz::check(list->pods.size() + list->invalid.size() == doc.at("service_pods").size(),
              "each list entry is one pod or one invalid entry");
  for (const auto& bad : list->invalid) check_quiet(bad.failure, passwords);
  return 0;
}
