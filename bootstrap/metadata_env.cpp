#include "bootstrap/metadata_env.hpp"

#include "bootstrap/unit_escape.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <cctype>

namespace kn::bootstrap {
namespace {

struct ItemSpec {
  std::string_view variable;
  std::string_view env;
  std::string_view afterburn;  // empty: afterburn has no such attribute
  std::string_view coreos;
};

// The table. Order is the order of metadata.env and of `metadata --format json`.
constexpr std::array kItems{
    ItemSpec{"region", "KONTENA_AWS_REGION", "AFTERBURN_AWS_REGION", "COREOS_EC2_REGION"},
    ItemSpec{"az", "KONTENA_AWS_AZ", "", ""},
    ItemSpec{"availability_zone", "KONTENA_AWS_AVAILABILITY_ZONE", "AFTERBURN_AWS_AVAILABILITY_ZONE",
             "COREOS_EC2_AVAILABILITY_ZONE"},
    ItemSpec{"availability_zone_id", "KONTENA_AWS_AVAILABILITY_ZONE_ID", "AFTERBURN_AWS_AVAILABILITY_ZONE_ID",
             "COREOS_EC2_AVAILABILITY_ZONE_ID"},
    ItemSpec{"instance_id", "KONTENA_AWS_INSTANCE_ID", "AFTERBURN_AWS_INSTANCE_ID", "COREOS_EC2_INSTANCE_ID"},
    ItemSpec{"instance_type", "KONTENA_AWS_INSTANCE_TYPE", "AFTERBURN_AWS_INSTANCE_TYPE", "COREOS_EC2_INSTANCE_TYPE"},
    ItemSpec{"lifecycle", "KONTENA_AWS_LIFECYCLE", "", ""},
    ItemSpec{"private_ipv4", "KONTENA_AWS_IPV4_LOCAL", "AFTERBURN_AWS_IPV4_LOCAL", "COREOS_EC2_IPV4_LOCAL"},
    ItemSpec{"public_ipv4", "KONTENA_AWS_IPV4_PUBLIC", "AFTERBURN_AWS_IPV4_PUBLIC", "COREOS_EC2_IPV4_PUBLIC"},
    // Not KONTENA_NODE_LABELS (the name one might expect): that is the agent's extra-labels setting, and
    // kontena-agent.service loads this file, so the boot-time set would pin the agent's labels
    // until the next boot even after agent.yml changes.
    ItemSpec{"node_labels", "KONTENA_LABELS", "", ""},
};

}  // namespace

std::optional<Compat> parse_compat(std::string_view text) {
  std::string t(text);
  std::ranges::transform(t, t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (t == "none") return Compat::none;
  if (t == "afterburn") return Compat::afterburn;
  if (t == "coreos") return Compat::coreos;
  if (t == "all") return Compat::all;
  return std::nullopt;
}

Result<InstanceMetadata> InstanceMetadata::collect(const Placement* placement, const LabelSet& labels) {
  std::string az;
  if (placement != nullptr) {
    auto zone = zone_within_region(*placement);
    if (!zone) return zone.error();
    az = std::move(*zone);
  }
  const std::string joined = fmt::format("{}", fmt::join(labels.strings(), " "));

  auto value_of = [&](std::string_view variable) -> std::string {
    if (variable == "node_labels") return joined;
    if (placement == nullptr) return {};
    const Placement& p = *placement;
    if (variable == "region") return p.region;
    if (variable == "az") return az;
    if (variable == "availability_zone") return p.availability_zone;
    if (variable == "availability_zone_id") return p.availability_zone_id;
    if (variable == "instance_id") return p.instance_id;
    if (variable == "instance_type") return p.instance_type;
    if (variable == "lifecycle") return p.lifecycle;
    if (variable == "private_ipv4") return p.private_ipv4.value_or("");
    if (variable == "public_ipv4") return p.public_ipv4.value_or("");
    return {};
  };

  InstanceMetadata md;
  for (const auto& spec : kItems) {
    MetadataItem item{spec.variable, spec.env, value_of(spec.variable)};
    if (auto st = check_representable(std::string(spec.env) + " ($" + std::string(spec.variable) + ")", item.value);
        !st) {
      return std::move(st).error().context("failed to collect instance metadata");
    }
    md.items_.push_back(std::move(item));
  }
  return md;
}

const MetadataItem* InstanceMetadata::find_variable(std::string_view variable) const {
  const auto it = std::ranges::find(items_, variable, &MetadataItem::variable);
  return it == items_.end() ? nullptr : &*it;
}

std::string InstanceMetadata::variable_list() const {
  std::string out;
  for (const auto& item : items_) out += (out.empty() ? "$" : ", $") + std::string(item.variable);
  return out;
}

std::vector<std::pair<std::string, std::string>> InstanceMetadata::environment(Compat compat) const {
  std::vector<std::pair<std::string, std::string>> env;
  for (const auto& item : items_) env.emplace_back(item.env, item.value);
  const bool afterburn = compat == Compat::afterburn || compat == Compat::all;
  const bool coreos = compat == Compat::coreos || compat == Compat::all;
  for (const auto& spec : kItems) {
    const auto* item = find_variable(spec.variable);
    if (item == nullptr || item->value.empty()) continue;
    if (afterburn && !spec.afterburn.empty()) env.emplace_back(spec.afterburn, item->value);
  }
  for (const auto& spec : kItems) {
    const auto* item = find_variable(spec.variable);
    if (item == nullptr || item->value.empty()) continue;
    if (coreos && !spec.coreos.empty()) env.emplace_back(spec.coreos, item->value);
  }
  return env;
}

std::string format_env_file(const std::vector<std::pair<std::string, std::string>>& environment) {
  std::string out =
      "# Written by kontena-bootstrap apply from the EC2 instance metadata; rewritten at every boot.\n"
      "# For EnvironmentFile= in units; also valid POSIX shell.\n";
  for (const auto& [name, value] : environment) out += name + "=" + quote_env_file_value(value) + "\n";
  return out;
}

nlohmann::ordered_json format_json(const std::vector<std::pair<std::string, std::string>>& environment) {
  nlohmann::ordered_json obj = nlohmann::ordered_json::object();
  for (const auto& [name, value] : environment) obj[name] = value;
  return obj;
}

}  // namespace kn::bootstrap
