#include "docker/daemon_json.hpp"

#include "core/placement.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

namespace kn::docker {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kLabelsKey = "labels";
// dockerd strips a UTF-8 byte order mark before parsing (moby daemon/config/config.go), so we do too.
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

Failure invalid(std::string_view file_name, const std::string& why) {
  return fail(Errc::docker_config_invalid, "failed to read " + std::string(file_name) + ": " + why);
}

// "line L, column C" of the character at byte index `index` (0-based).
std::string position_of(std::string_view text, std::size_t index) {
  index = std::min(index, text.size());
  const auto before = text.substr(0, index);
  const auto line = 1 + std::ranges::count(before, '\n');
  const auto last_newline = before.rfind('\n');
  const auto column = last_newline == std::string_view::npos ? index + 1 : index - last_newline;
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

// The parser's reason without nlohmann's "[json.exception.parse_error.101] parse error at
// line 1, column 5: " prefix (we print the position ourselves).
std::string parse_reason(const nlohmann::json::parse_error& e) {
  std::string_view what = e.what();
  if (auto col = what.find("column "); col != std::string_view::npos) {
    if (auto colon = what.find(": ", col); colon != std::string_view::npos) return std::string(what.substr(colon + 2));
  }
  if (auto bracket = what.find("] "); bracket != std::string_view::npos) return std::string(what.substr(bracket + 2));
  return std::string(what);
}

Result<Json> parse_config(std::optional<std::string_view> current, std::string_view file_name) {
  if (!current) return Json::object();
  std::string_view text = *current;
  if (text.starts_with(kUtf8Bom)) text.remove_prefix(kUtf8Bom.size());
  // An empty file (e.g. created by a package as a placeholder) means "no settings".
  if (std::ranges::all_of(text, [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; })) {
    return Json::object();
  }
  Json doc;
  try {
    doc = Json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    const std::size_t index = e.byte > 0 ? e.byte - 1 : 0;
    return invalid(file_name, "not valid JSON at " + position_of(text, index) + ": " + parse_reason(e) +
                                  "; fix the file (dockerd cannot read it either), it was left unchanged");
  } catch (const nlohmann::json::exception& e) {
    // A number past double's range ("1e999") is out_of_range.406, not a parse_error: it ended
    // the agent (found by fuzz/fuzz_daemon_json.cpp; fuzz/regressions/daemon_json/).
    return invalid(file_name, "not valid JSON: " + std::string(e.what()).substr(std::string(e.what()).find(']') + 2) +
                                  "; fix the file, it was left unchanged");
  }
  if (!doc.is_object()) {
    return invalid(file_name, "the top level must be a JSON object ({...}), found " + std::string(doc.type_name()) +
                                  "; fix the file, it was left unchanged");
  }
  return doc;
}

Result<std::vector<std::string>> labels_of(const Json& doc, std::string_view file_name) {
  std::vector<std::string> labels;
  auto it = doc.find(kLabelsKey);
  if (it == doc.end()) return labels;
  if (!it->is_array()) {
    return invalid(file_name, "\"labels\" must be an array of \"key=value\" strings, found " +
                                  std::string(it->type_name()) + "; fix the file, it was left unchanged");
  }
  for (const auto& item : *it) {
    if (!item.is_string() || item.get_ref<const std::string&>().find('=') == std::string::npos) {
      return invalid(file_name, "\"labels\" entry " + item.dump() +
                                    " is not a \"key=value\" string (dockerd refuses it); fix the file, it was left unchanged");
    }
    labels.push_back(item.get<std::string>());
  }
  return labels;
}

std::string_view key_of(std::string_view label) { return label.substr(0, label.find('=')); }

}  // namespace

Result<std::vector<std::string>> labels_in_config(std::optional<std::string_view> current, std::string_view file_name) {
  auto doc = parse_config(current, file_name);
  if (!doc) return doc.error();
  return labels_of(*doc, file_name);
}

namespace {
bool is_derived(std::string_view key) { return std::ranges::find(label_key::derived, key) != label_key::derived.end(); }
}  // namespace

Result<MergedConfig> merge_labels(std::optional<std::string_view> current, const LabelSet& wanted,
                                  std::string_view file_name) {
  auto doc = parse_config(current, file_name);
  if (!doc) return doc.error();
  auto existing = labels_of(*doc, file_name);
  if (!existing) return existing.error();

  MergedConfig out;
  // dockerd refuses one key with two values ("conflict labels for ..."); for keys we manage
  // the merge fixes that, for other keys only the file's owner can choose.
  std::map<std::string, std::string, std::less<>> foreign;
  for (const auto& entry : *existing) {
    const auto key = key_of(entry);
    if (wanted.get(key) || is_derived(key)) continue;
    auto [it, inserted] = foreign.emplace(std::string(key), entry);
    if (!inserted && it->second != entry) {
      return invalid(file_name, "labels \"" + it->second + "\" and \"" + entry +
                                    "\" give one key two values (dockerd refuses that); keep one, the file was left unchanged");
    }
  }
  std::map<std::string, bool, std::less<>> placed;  // managed keys already written
  for (const auto& entry : *existing) {
    const auto key = key_of(entry);
    const auto value = wanted.get(key);
    if (!value) {
      if (is_derived(key)) {
        out.removed.push_back(entry);  // derived before, not now (e.g. ephemeral turned off)
      } else {
        out.labels.push_back(entry);  // not ours: kept as it is
      }
      continue;
    }
    if (placed.contains(key)) continue;  // a second entry for a managed key: dropped
    placed.emplace(std::string(key), true);
    const std::string old_value(std::string_view(entry).substr(key.size() + 1));
    if (old_value != *value) out.replaced.push_back({std::string(key), old_value, std::string(*value)});
    out.labels.push_back(std::string(key) + "=" + std::string(*value));
  }
  for (const auto& label : wanted.items()) {
    if (placed.contains(label.key)) continue;
    out.labels.push_back(label.str());
    out.added.push_back(label.str());
  }

  const bool had_key = doc->contains(kLabelsKey);
  out.changed = !current || !had_key || out.labels != *existing;
  if (!had_key && out.labels.empty() && current) out.changed = false;  // nothing to add, nothing to clear
  if (out.changed) {
    // Replacing the value in place keeps the key's position; a new key goes last.
    (*doc)[std::string(kLabelsKey)] = out.labels;
    out.text = doc->dump(2) + "\n";
  } else {
    out.text = std::string(*current);
  }
  for (const auto& item : doc->items()) out.keys.push_back(item.key());
  return out;
}

}  // namespace kn::docker
