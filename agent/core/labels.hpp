// Docker engine labels as the node carries them: "key=value" strings with Docker's rules
// (https://docs.docker.com/config/labels-custom-metadata/) plus the ones the Kontena master
// needs: it receives them comma-joined (Kontena-Node-Labels) and KONTENA_NODE_LABELS is
// whitespace-separated, so neither keys nor values may hold commas or whitespace.
#pragma once

#include "core/error.hpp"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kn {

struct Label {
  std::string key;
  std::string value;
  std::string str() const { return key + "=" + value; }
  bool operator==(const Label&) const = default;
};

// Checks one label against the rules above; the message names the label and the fix.
Status validate_label(const Label& label);

// Parses and validates "key=value".
Result<Label> parse_label(std::string_view item);

// An insertion-ordered set of labels in which one key has exactly one value.
class LabelSet {
 public:
  // Parses items; the same key twice with different values is an error (dockerd refuses that
  // too, "conflict labels for ..."); exact duplicates collapse.
  static Result<LabelSet> parse(std::span<const std::string> items);

  // Adds a validated label; a different value for a present key is an error.
  Status add(Label label);
  // Sets a label, replacing any value; returns the replaced value.
  std::optional<std::string> assign(Label label);

  std::optional<std::string_view> get(std::string_view key) const;
  const std::vector<Label>& items() const { return items_; }
  std::vector<std::string> strings() const;
  bool empty() const { return items_.empty(); }

 private:
  std::vector<Label> items_;
};

}  // namespace kn
