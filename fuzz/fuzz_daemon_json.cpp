// The daemon.json merge (docker/daemon_json.hpp): whatever file dockerd's owner wrote, and
// whatever labels the node wants. Input: "<labels>\x01<daemon.json>" (no \x01: no file yet).
// Properties: the merged file is a JSON object; every key other than "labels" keeps its
// value; the file then holds every wanted label; merging the result again changes nothing.
#include "core/labels.hpp"
#include "core/settings.hpp"
#include "docker/daemon_json.hpp"
#include "fuzz_check.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

using namespace kn;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  const bool has_file = rest.find('\x01') != std::string_view::npos;
  const auto labels_text = fuzz::next_field(rest);
  const std::optional<std::string_view> current = has_file ? std::optional(rest) : std::nullopt;

  auto wanted = LabelSet::parse(config::split_list(labels_text));
  if (!wanted) return 0;

  const auto merged = docker::merge_labels(current, *wanted, "daemon.json");
  if (!merged) return 0;

  // Unchanged: `text` is the file as it was (docker/daemon_json.hpp), blank ones included.
  if (!merged->changed) {
    fuzz::check(merged->text == current.value_or(""), "an unchanged merge keeps the file byte for byte");
    std::string_view body = current.value_or("");
    if (body.starts_with("\xEF\xBB\xBF")) body.remove_prefix(3);
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return 0;
  }
  const auto doc = nlohmann::json::parse(merged->text, nullptr, false);
  fuzz::check(doc.is_object(), "the merged daemon.json is a JSON object", merged->text);

  if (current) {
    // An empty (or BOM and whitespace only) file means "no settings" (docker/daemon_json.cpp).
    std::string_view text = *current;
    if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
    const bool blank = text.find_first_not_of(" \t\r\n") == std::string_view::npos;
    const auto before = blank ? nlohmann::json::object() : nlohmann::json::parse(text, nullptr, false);
    fuzz::check(blank || before.is_object(), "a file that merged was a JSON object or blank", *current);
    for (const auto& [key, value] : before.items()) {
      if (key == "labels") continue;
      fuzz::check(doc.contains(key) && doc.at(key) == value, "a foreign key keeps its value", key);
    }
  }

  const auto in_file = docker::labels_in_config(merged->text, "daemon.json");
  fuzz::check(in_file.has_value(), "the merged file's labels read back");
  for (const auto& label : wanted->strings()) {
    fuzz::check(std::ranges::find(*in_file, label) != in_file->end(), "the merged file holds every wanted label", label);
  }

  const auto twice = docker::merge_labels(merged->text, *wanted, "daemon.json");
  fuzz::check(twice.has_value() && !twice->changed && twice->text == merged->text, "merging twice changes nothing",
              merged->text);
  return 0;
}
