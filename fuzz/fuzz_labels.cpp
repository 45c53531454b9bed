// Node labels as users write them (KONTENA_NODE_LABELS, values-file `labels:`): the list split
// (core/settings.hpp split_list) and the label rules (core/labels.hpp).
// Properties: an accepted label validates, prints as key=value and parses back to itself; its
// value holds nothing the master's comma-joined list or a shell word could split on; a parsed
// set never holds one key twice.
#include "core/labels.hpp"
#include "core/settings.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

using namespace kn;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  if (auto label = parse_label(text)) {
    fuzz::check(validate_label(*label).has_value(), "a parsed label validates", text);
    const auto again = parse_label(label->str());
    fuzz::check(again.has_value() && *again == *label, "parse_label(l.str()) == l", text);
    for (const char c : label->value) {
      fuzz::check(c != ',' && c != ' ' && c != '\t' && c != '\n' && c != '"' && c != '\'' && c != '\\',
                  "a label value holds no separator, quote or backslash", text);
    }
  }

  const auto items = config::split_list(text);
  if (auto set = LabelSet::parse(items)) {
    std::set<std::string> keys;
    for (const auto& label : set->items()) {
      fuzz::check(keys.insert(label.key).second, "a label set holds each key once", label.key);
      fuzz::check(set->get(label.key) == std::optional<std::string_view>(label.value), "get(key) returns its value",
                  label.key);
    }
    const auto strings = set->strings();
    const auto reparsed = LabelSet::parse(strings);
    fuzz::check(reparsed.has_value() && reparsed->items() == set->items(), "a set's strings parse back to the set", text);
  }
  return 0;
}
