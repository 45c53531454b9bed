// The instance metadata kontena-bootstrap injects: one table gives each item its template
// variable ($availability_zone), its environment name (KONTENA_AWS_AVAILABILITY_ZONE) and its
// optional compatibility names (afterburn's AFTERBURN_AWS_*, Flatcar coreos-metadata's
// COREOS_EC2_*). README.md "kontena-bootstrap apply"; names of the
// compatibility sets: afterburn docs/usage/attributes.md and docs/usage/legacy-attributes.md.
#pragma once

#include "core/error.hpp"
#include "core/labels.hpp"
#include "core/placement.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kn::bootstrap {

enum class Compat { none, afterburn, coreos, all };
// "none|afterburn|coreos|all", any case.
std::optional<Compat> parse_compat(std::string_view text);

struct MetadataItem {
  std::string_view variable;  // template variable without '$': "availability_zone"
  std::string_view env;       // "KONTENA_AWS_AVAILABILITY_ZONE"
  std::string value;          // empty when IMDS has no such item (no public IPv4) or is disabled
};

class InstanceMetadata {
 public:
  // `placement` is null when IMDS is disabled by configuration: placement items are empty and
  // only KONTENA_LABELS carries data. Refuses (Errc::template_invalid, naming the item) a
  // value holding a newline, carriage return or NUL.
  static Result<InstanceMetadata> collect(const Placement* placement, const LabelSet& labels);

  const std::vector<MetadataItem>& items() const { return items_; }
  const MetadataItem* find_variable(std::string_view variable) const;
  // "$region, $az, ..." for messages.
  std::string variable_list() const;

  // Environment assignments in table order: the KONTENA_* names always (empty values
  // included, so `set -u` shells and ${VAR} see them), compatibility names only when set, as
  // afterburn does.
  std::vector<std::pair<std::string, std::string>> environment(Compat compat) const;

 private:
  std::vector<MetadataItem> items_;
};

// metadata.env text: a header comment, then NAME="value" lines (quote_env_file_value).
std::string format_env_file(const std::vector<std::pair<std::string, std::string>>& environment);

// {"NAME": "value", ...} in the same order.
nlohmann::ordered_json format_json(const std::vector<std::pair<std::string, std::string>>& environment);

}  // namespace kn::bootstrap
