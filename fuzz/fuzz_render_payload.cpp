// `kontena-bootstrap render` with a hostile values file (input: "<values.yml>\x01<template>") (bootstrap/values_file.hpp ->
// user_data.hpp): url, token, labels and templates are the user's bytes.
// Properties (issue 14 item 5, "no extra unit directive, YAML key or shell word"):
//  - agent.env is the comment plus exactly KONTENA_URL= and KONTENA_TOKEN=, each one quoted
//    word that parses back to the value;
//  - agent.yml is a map of option-table keys only, node-labels equal to the labels;
//  - the cloud-config holds exactly `write_files` and `coreos`, one entry per payload file
//    and unit, each path and content byte for byte; the Ignition config the same.
#include "bootstrap/user_data.hpp"
#include "bootstrap/values_file.hpp"
#include "core/logging.hpp"
#include "core/settings.hpp"
#include "fuzz_check.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

using namespace kn;

namespace {

// The values file and the one template it may name (`app.service`, `app.service.d/x.conf`),
// in a scratch folder per fuzzing process, removed at exit.
struct ScratchDir {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("kn-fuzz-values-" + std::to_string(::getpid()));
  ScratchDir() { std::filesystem::create_directories(dir / "app.service.d"); }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  static void write(const std::filesystem::path& path, std::string_view text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
};

std::optional<std::string> parse_env_value(std::string_view q) {
  if (q.size() < 2 || q.front() != '"' || q.back() != '"') return std::nullopt;
  q = q.substr(1, q.size() - 2);
  std::string out;
  for (std::size_t i = 0; i < q.size(); ++i) {
    if (q[i] == '"' || q[i] == '\n' || q[i] == '\r') return std::nullopt;
    if (q[i] == '\\') {
      if (i + 1 >= q.size()) return std::nullopt;
      ++i;
    }
    out += q[i];
  }
  return out;
}

void check_env_line(std::string_view line, std::string_view key, const std::string& value) {
  fuzz::check(line.starts_with(std::string(key) + "="), "agent.env has its lines in order", line);
  const auto parsed = parse_env_value(line.substr(key.size() + 1));
  fuzz::check(parsed && *parsed == value, "an agent.env value is one quoted word that parses back", line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::quiet_logs();
  static const ScratchDir scratch;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto values_text = fuzz::next_field(input);
  ScratchDir::write(scratch.dir / "values.yml", values_text);
  ScratchDir::write(scratch.dir / "app.service", input);
  ScratchDir::write(scratch.dir / "app.service.d" / "x.conf", input);
  auto values = bootstrap::load_values_file(scratch.dir / "values.yml");
  if (!values) return 0;
  // render refuses values without `artifact`; the seeds predate it, so they stand for a baked AMI.
  if (!values->artifact) values->artifact = bootstrap::Artifact{.baked = true};
  const auto payload = bootstrap::build_payload(*values, bootstrap::Format::cloud_config);
  if (!payload) return 0;

  // agent.env: three lines, nothing else.
  const auto& env = payload->files.at(0).content;
  std::string_view rest = env;
  std::vector<std::string_view> lines;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  }
  fuzz::check(lines.size() == 3 && lines[0].starts_with('#'), "agent.env is a comment and two settings", env);
  check_env_line(lines[1], "KONTENA_URL", values->url);
  check_env_line(lines[2], "KONTENA_TOKEN", values->token);

  // agent.yml: option-table keys only.
  const YAML::Node yml = YAML::Load(payload->files.at(1).content);
  fuzz::check(yml.IsMap() || yml.IsNull(), "agent.yml is a map", payload->files.at(1).content);
  for (const auto& entry : yml) {
    const auto key = entry.first.as<std::string>();
    fuzz::check(config::find_option(key) != nullptr, "agent.yml holds only option-table keys", key);
    if (key == "node-labels") {
      fuzz::check(entry.second.as<std::string>() == fmt::format("{}", fmt::join(values->labels.strings(), " ")),
                  "agent.yml's node-labels are the labels", payload->files.at(1).content);
    }
  }

  // The cloud-config: exactly the payload.
  const std::string cloud = bootstrap::render_cloud_config(*payload);
  const YAML::Node doc = YAML::Load(cloud);
  fuzz::check(doc.IsMap() && doc.size() == 2 && doc["write_files"] && doc["coreos"],
              "the cloud-config holds exactly write_files and coreos", cloud);
  const YAML::Node files = doc["write_files"];
  fuzz::check(files.size() == payload->files.size(), "one write_files entry per payload file", cloud);
  for (std::size_t i = 0; i < files.size(); ++i) {
    fuzz::check(files[i].size() == 4, "a write_files entry has path, permissions, owner and content", cloud);
    fuzz::check(files[i]["path"].as<std::string>() == payload->files[i].path, "a file path survives YAML", cloud);
    fuzz::check(files[i]["content"].as<std::string>() == payload->files[i].content, "a file content survives YAML",
                payload->files[i].content);
  }
  const YAML::Node units = doc["coreos"]["units"];
  fuzz::check(doc["coreos"].size() == 1 && units.size() == payload->units.size(), "one coreos unit per payload unit",
              cloud);

  const auto ignition_payload = bootstrap::build_payload(*values, bootstrap::Format::ignition);
  if (!ignition_payload) return 0;
  const auto ignition = nlohmann::json::parse(bootstrap::render_ignition(*ignition_payload), nullptr, false);
  fuzz::check(ignition.is_object() && ignition.contains("storage") &&
                  ignition["storage"]["files"].size() == ignition_payload->files.size(),
              "the Ignition config has one storage file per payload file");
  return 0;
}
