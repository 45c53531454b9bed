#include "core/settings.hpp"

#include <boost/url/parse.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace kn::config {
namespace {

using namespace std::string_view_literals;

// The option table. Names follow the AWS SDK conventions for IMDS
// (https://docs.aws.amazon.com/sdkref/latest/guide/feature-imds-credentials.html) and the
// Kontena agent's own variables (kontena v1.5.4: agent/bin/kontena-agent; docs/protocol.md).
constexpr std::array kOptions{
    OptionSpec{.key = "config", .flag = "--config", .env = "KONTENA_CONFIG", .default_value = "/etc/kontena/agent.yml",
               .type = Type::path, .help = "YAML file with settings (keys as in this table); a missing default file is ignored"},
    OptionSpec{.key = "log-level", .flag = "--log-level", .env = "KONTENA_LOG_LEVEL", .default_value = "info",
               .type = Type::choice, .help = "log verbosity", .choices = "trace|debug|info|warn|error"},
    OptionSpec{.key = "url", .flag = "--url", .env = "KONTENA_URL", .env_alias = "KONTENA_URI",
               .type = Type::url, .help = "master URL; http(s):// is dialled as ws(s)://, path must be /",
               .scope = Scope::agent},
    OptionSpec{.key = "token", .env = "KONTENA_TOKEN", .type = Type::string,
               .help = "grid token (never a flag: argv is world-readable)", .secret = true, .scope = Scope::agent},
    OptionSpec{.key = "token-file", .flag = "--token-file", .env = "KONTENA_TOKEN_FILE", .type = Type::path,
               .help = "file holding the grid token; $CREDENTIALS_DIRECTORY/kontena-token is used when present",
               .scope = Scope::agent},
    OptionSpec{.key = "node-token", .env = "KONTENA_NODE_TOKEN", .type = Type::string,
               .help = "node token; wins over the grid token", .secret = true, .scope = Scope::agent},
    OptionSpec{.key = "node-token-file", .flag = "--node-token-file", .env = "KONTENA_NODE_TOKEN_FILE",
               .type = Type::path, .help = "file holding the node token", .scope = Scope::agent},
    OptionSpec{.key = "node-name", .flag = "--node-name", .env = "KONTENA_NODE_NAME", .type = Type::string,
               .help = "node name (default: Docker info Name)", .scope = Scope::agent},
    OptionSpec{.key = "node-id", .flag = "--node-id", .env = "KONTENA_NODE_ID", .type = Type::string,
               .help = "node id, 12 groups of 4 A-Z/0-9 joined by ':' (default: kept in state-dir; first start: Docker info ID)",
               .scope = Scope::agent},
    OptionSpec{.key = "node-labels", .flag = "--node-labels", .env = "KONTENA_NODE_LABELS", .type = Type::labels,
               .help = "extra labels, key=value separated by spaces or commas; override derived labels"},
    OptionSpec{.key = "ephemeral", .flag = "--ephemeral", .env = "KONTENA_EPHEMERAL", .default_value = "true",
               .type = Type::boolean, .help = "add the label ephemeral=true (the master removes such nodes 6 h after they go offline)"},
    OptionSpec{.key = "verify-placement", .flag = "--verify-placement", .env = "KONTENA_VERIFY_PLACEMENT",
               .default_value = "false", .type = Type::boolean,
               .help = "cross-check the identity document's zone against placement/availability-zone (one more request)"},
    OptionSpec{.key = "imds-endpoint", .flag = "--imds-endpoint", .env = "AWS_EC2_METADATA_SERVICE_ENDPOINT",
               .type = Type::url, .help = "IMDS base URL (default: by endpoint mode, http://169.254.169.254)"},
    OptionSpec{.key = "imds-endpoint-mode", .flag = "--imds-endpoint-mode",
               .env = "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", .default_value = "IPv4", .type = Type::choice,
               .help = "IPv4 (169.254.169.254) or IPv6 ([fd00:ec2::254], Nitro only)", .choices = "IPv4|IPv6"},
    OptionSpec{.key = "imds-disabled", .flag = "--imds-disabled", .env = "AWS_EC2_METADATA_DISABLED",
               .default_value = "false", .type = Type::boolean,
               .help = "never contact IMDS; only the static labels are used (test VMs off EC2)"},
    OptionSpec{.key = "imds-v1-disabled", .flag = "--imds-v1-disabled", .env = "AWS_EC2_METADATA_V1_DISABLED",
               .default_value = "false", .type = Type::boolean, .help = "never fall back to token-less IMDSv1"},
    OptionSpec{.key = "imds-deadline", .flag = "--imds-deadline", .env = "KONTENA_IMDS_DEADLINE",
               .default_value = "60s", .type = Type::duration,
               .help = "overall time to keep retrying IMDS (boot races, throttling)"},
    OptionSpec{.key = "imds-timeout", .flag = "--imds-timeout", .env = "KONTENA_IMDS_TIMEOUT", .default_value = "1s",
               .type = Type::duration, .help = "timeout of one IMDS request (the token PUT included)", .minimum = "1ms"},
    OptionSpec{.key = "docker-host", .flag = "--docker-host", .env = "DOCKER_HOST",
               .default_value = "unix:///var/run/docker.sock", .type = Type::url, .help = "Docker Engine API socket"},
    OptionSpec{.key = "docker-config", .flag = "--docker-config", .env = "KONTENA_DOCKER_CONFIG",
               .default_value = "/etc/docker/daemon.json", .type = Type::path,
               .help = "dockerd configuration file whose \"labels\" the node labels are merged into"},
    OptionSpec{.key = "docker-pidfile", .flag = "--docker-pidfile", .env = "KONTENA_DOCKER_PIDFILE",
               .default_value = "/var/run/docker.pid", .type = Type::path,
               .help = "dockerd pid file, for SIGHUP when dockerd does not run under systemd"},
    OptionSpec{.key = "docker-reload-timeout", .flag = "--docker-reload-timeout",
               .env = "KONTENA_DOCKER_RELOAD_TIMEOUT", .default_value = "10s", .type = Type::duration,
               .help = "how long to wait, after reloading dockerd, for GET /info to show the labels"},
    OptionSpec{.key = "label-check-interval", .flag = "--label-check-interval",
               .env = "KONTENA_LABEL_CHECK_INTERVAL", .default_value = "60s", .type = Type::duration,
               .help = "how often `run` checks the engine labels and repairs drift", .scope = Scope::agent},
    OptionSpec{.key = "ssl-verify", .flag = "--ssl-verify", .env = "KONTENA_SSL_VERIFY", .default_value = "true",
               .type = Type::boolean, .help = "verify the master's TLS certificate (false: warn and continue)",
               .scope = Scope::agent},
    OptionSpec{.key = "ssl-cert-file", .flag = "--ssl-cert-file", .env = "SSL_CERT_FILE", .type = Type::path,
               .help = "CA bundle for the master's certificate (default: system store)", .scope = Scope::agent},
    OptionSpec{.key = "ssl-hostname", .flag = "--ssl-hostname", .env = "KONTENA_SSL_HOSTNAME", .type = Type::string,
               .help = "host name for SNI and certificate checks (default: from the URL)", .scope = Scope::agent},
    OptionSpec{.key = "protocol-version", .flag = "--protocol-version", .env = "KONTENA_VERSION",
               .default_value = "1.5.4", .type = Type::string,
               .help = "Kontena-Version sent to the master: digits and dots (not latest); must match its major.minor",
               .scope = Scope::agent},
    OptionSpec{.key = "state-dir", .flag = "--state-dir", .env = "KONTENA_STATE_DIR", .default_value = "/var/lib/kontena",
               .type = Type::path, .help = "directory kept across restarts: the node id (file node-id) chosen at the first start",
               .scope = Scope::agent},
    // Leaving the grid on a spot interruption or an Auto Scaling scale-in (README.md "Leaving
    // cleanly"): the master's REST API needs a user token, not the grid token.
    OptionSpec{.key = "api-token", .env = "KONTENA_API_TOKEN", .type = Type::string,
               .help = "Kontena user (API) token: on a termination notice drain the node, at the stop remove it; "
                       "never a flag",
               .secret = true, .scope = Scope::agent},
    OptionSpec{.key = "api-token-file", .flag = "--api-token-file", .env = "KONTENA_API_TOKEN_FILE", .type = Type::path,
               .help = "file holding the Kontena user (API) token", .scope = Scope::agent},
    OptionSpec{.key = "grid", .flag = "--grid", .env = "KONTENA_GRID", .type = Type::string,
               .help = "grid name for the REST calls (default: from the node info the master sends)",
               .scope = Scope::agent},
    OptionSpec{.key = "spot-check-interval", .flag = "--spot-check-interval", .env = "KONTENA_SPOT_CHECK_INTERVAL",
               .default_value = "5s", .type = Type::duration,
               .help = "poll IMDS spot/instance-action this often on a Spot Instance (0: never)", .scope = Scope::agent},
    OptionSpec{.key = "asg-check-interval", .flag = "--asg-check-interval", .env = "KONTENA_ASG_CHECK_INTERVAL",
               .default_value = "30s", .type = Type::duration,
               .help = "poll IMDS autoscaling/target-lifecycle-state and the rebalance recommendation this often (0: never)",
               .scope = Scope::agent},
    // kontena-bootstrap apply (README.md "kontena-bootstrap apply").
    OptionSpec{.key = "root", .flag = "--root", .env = "KONTENA_ROOT", .default_value = "/", .type = Type::path,
               .help = "prefix for every file read and written (image builds, tests); not / skips daemon-reload "
                       "and Docker reload", .scope = Scope::bootstrap},
    OptionSpec{.key = "metadata-env", .flag = "--metadata-env", .env = "KONTENA_METADATA_ENV",
               .default_value = "/run/kontena/metadata.env", .type = Type::path,
               .help = "environment file written with the instance metadata (for EnvironmentFile=)",
               .scope = Scope::bootstrap},
    OptionSpec{.key = "metadata-compat", .flag = "--compat", .env = "KONTENA_METADATA_COMPAT",
               .default_value = "none", .type = Type::choice,
               .help = "also write afterburn (AFTERBURN_AWS_*) or Flatcar coreos-metadata (COREOS_EC2_*) names",
               .choices = "none|afterburn|coreos|all", .scope = Scope::bootstrap},
    OptionSpec{.key = "templates-dir", .flag = "--templates-dir", .env = "KONTENA_TEMPLATES_DIR",
               .default_value = "/etc/kontena/templates", .type = Type::path,
               .help = "unit templates (units and <unit>.d/*.conf drop-ins) rendered with $availability_zone etc.",
               .scope = Scope::bootstrap},
    OptionSpec{.key = "unit-dir", .flag = "--unit-dir", .env = "KONTENA_UNIT_DIR",
               .default_value = "/run/systemd/system", .type = Type::path,
               .help = "where rendered units go (runtime units: gone at reboot, rendered again at boot)",
               .scope = Scope::bootstrap},
    OptionSpec{.key = "start-units", .flag = "--start", .env = "KONTENA_START_UNITS", .type = Type::string,
               .help = "units to start after the daemon-reload (space or comma separated)", .scope = Scope::bootstrap},
    OptionSpec{.key = "restart-units", .flag = "--restart", .env = "KONTENA_RESTART_UNITS", .type = Type::string,
               .help = "units to restart after the daemon-reload (space or comma separated)",
               .scope = Scope::bootstrap},
    // Master link timers (docs/protocol.md "Timers").
    OptionSpec{.key = "public-ip", .flag = "--public-ip", .env = "KONTENA_PUBLIC_IP", .type = Type::string,
               .help = "PublicIp reported to the master (default: the instance's public IPv4 from IMDS)",
               .scope = Scope::agent},
    OptionSpec{.key = "private-ip", .flag = "--private-ip", .env = "KONTENA_PRIVATE_IP", .type = Type::string,
               .help = "PrivateIp reported to the master (default: IMDS local-ipv4, else the first non-loopback IPv4)",
               .scope = Scope::agent},
    OptionSpec{.key = "ping-interval", .flag = "--ping-interval", .env = "KONTENA_PING_INTERVAL",
               .default_value = "30s", .type = Type::duration, .help = "WebSocket ping to the master every this long",
               .scope = Scope::agent, .minimum = "100ms"},
    OptionSpec{.key = "pong-timeout", .flag = "--pong-timeout", .env = "WEBSOCKET_TIMEOUT", .default_value = "5s",
               .type = Type::duration, .help = "reconnect when a ping gets no pong within this long",
               .scope = Scope::agent, .minimum = "100ms"},
    OptionSpec{.key = "update-interval", .flag = "--update-interval", .env = "KONTENA_UPDATE_INTERVAL",
               .default_value = "60s", .type = Type::duration,
               .help = "send /nodes/update (Docker info and labels) this often", .scope = Scope::agent, .minimum = "100ms"},
    OptionSpec{.key = "stats-interval", .flag = "--stats-interval", .env = "KONTENA_STATS_INTERVAL",
               .default_value = "60s", .type = Type::duration,
               .help = "send /nodes/stats and /containers/stat this often",
               .scope = Scope::agent, .minimum = "100ms"},
    OptionSpec{.key = "reconnect-max-delay", .flag = "--reconnect-max-delay", .env = "KONTENA_RECONNECT_MAX_DELAY",
               .default_value = "90s", .type = Type::duration,
               .help = "cap of the jittered exponential reconnect backoff", .scope = Scope::agent, .minimum = "1s"},
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim(std::string_view s) {
  const auto* b = s.begin();
  const auto* e = s.end();
  while (b != e && std::isspace(static_cast<unsigned char>(*b)) != 0) ++b;
  while (e != b && std::isspace(static_cast<unsigned char>(*(e - 1))) != 0) --e;
  return {b, e};
}

// "file:LINE: setting 'key'": where a wrong value sits, for messages.
std::string where(const std::string& path, const YAML::Node& node, std::string_view key) {
  return path + ":" + std::to_string(node.Mark().line + 1) + ": setting '" + std::string(key) + "'";
}

// A setting's value: a scalar, or for a list setting a sequence of scalars (joined with
// spaces). Anything else (a mapping, a nested list) is a configuration error naming the line.
Result<std::string> scalar_to_string(const std::string& path, std::string_view key, const YAML::Node& node,
                                     bool list_allowed) {
  if (node.IsScalar()) return node.Scalar();
  if (!node.IsSequence() || !list_allowed) {
    return fail(Errc::config_invalid, "failed to read config file " + where(path, node, key) +
                                          " must be a single value (fix its type)");
  }
  std::vector<std::string> items;
  for (const auto& item : node) {
    if (!item.IsScalar()) {
      return fail(Errc::config_invalid, "failed to read config file " + where(path, item, key) +
                                            ": list items must be plain key=value strings, not a mapping or list");
    }
    items.push_back(item.Scalar());
  }
  return fmt::format("{}", fmt::join(items, " "));
}

Result<std::map<std::string, std::string, std::less<>>> read_config_file(const std::string& path, bool explicit_path) {
  std::map<std::string, std::string, std::less<>> out;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (!explicit_path) return out;
    return fail(Errc::config_invalid, "failed to read config file " + path +
                                          ": no such file (fix the --config/KONTENA_CONFIG path)");
  }
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return fail(Errc::config_invalid, "failed to parse config file " + path + ": line " +
                                          std::to_string(e.mark.line + 1) + ", column " +
                                          std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (root.IsNull()) return out;
  if (!root.IsMap()) {
    return fail(Errc::config_invalid, "failed to read config file " + path + ": expected a mapping of setting: value");
  }
  for (const auto& entry : root) {
    if (!entry.first.IsScalar()) {
      return fail(Errc::config_invalid, "failed to read config file " + path + ":" +
                                            std::to_string(entry.first.Mark().line + 1) +
                                            ": a setting name must be a plain word");
    }
    const auto& key = entry.first.Scalar();
    const OptionSpec* spec = find_option(key);
    if (spec == nullptr || key == "config") {
      return fail(Errc::config_invalid, "failed to read config file " + path + ":" +
                                            std::to_string(entry.first.Mark().line + 1) + ": unknown setting '" + key +
                                            "' (see --help for the settings)");
    }
    auto value = scalar_to_string(path, key, entry.second, spec->type == Type::labels);
    if (!value) return value.error();
    out.emplace(key, std::move(*value));
  }
  return out;
}

}  // namespace

std::span<const OptionSpec> option_table() { return kOptions; }

const OptionSpec* find_option(std::string_view key) {
  const auto it = std::ranges::find(kOptions, key, &OptionSpec::key);
  return it == kOptions.end() ? nullptr : &*it;
}

std::string_view to_string(Source s) {
  switch (s) {
    case Source::unset: return "unset";
    case Source::default_value: return "default";
    case Source::file: return "file";
    case Source::environment: return "env";
    case Source::flag: return "flag";
  }
  return "?";
}

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::optional<bool> parse_bool(std::string_view text) {
  const auto t = lower(trim(text));
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  const auto t = trim(text);
  double number = 0;
  const auto* first = t.data();
  const auto* last = t.data() + t.size();
  const auto [ptr, ec] = std::from_chars(first, last, number);
  if (ec != std::errc{} || ptr == first || number < 0) return std::nullopt;
  const std::string_view unit(ptr, static_cast<std::size_t>(last - ptr));
  double ms = 0;
  if (unit.empty() || unit == "s") {
    ms = number * 1000;
  } else if (unit == "ms") {
    ms = number;
  } else if (unit == "m" || unit == "min") {
    ms = number * 60'000;
  } else if (unit == "h") {
    ms = number * 3'600'000;
  } else {
    return std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

Result<std::string> validate(const OptionSpec& spec, std::string_view value, std::string_view origin) {
  auto bad = [&](const std::string& why) {
    return fail(Errc::config_invalid, "invalid value for " + std::string(origin) + ": " + std::string(why));
  };
  if (value.find('\n') != std::string_view::npos || value.find('\0') != std::string_view::npos) {
    return bad("value holds a newline or NUL byte");
  }
  switch (spec.type) {
    case Type::boolean: {
      const auto b = parse_bool(value);
      if (!b) return bad("'" + std::string(value) + "' is not a boolean; use true or false");
      return std::string(*b ? "true" : "false");
    }
    case Type::duration: {
      const auto d = parse_duration(value);
      if (!d) return bad("'" + std::string(value) + "' is not a duration; use e.g. 500ms, 30s or 2m");
      if (!spec.minimum.empty() && *d < parse_duration(spec.minimum).value_or(std::chrono::milliseconds{0})) {
        return bad("'" + std::string(value) + "' is too short: must be at least " + std::string(spec.minimum));
      }
      return trim(value);
    }
    case Type::choice: {
      // Choices match case-insensitively and are stored in the table's spelling, so
      // "Ipv6" and "DEBUG" mean what they say wherever the value is read.
      std::string_view rest = spec.choices;
      while (!rest.empty()) {
        const auto bar = rest.find('|');
        const auto choice = rest.substr(0, bar);
        if (lower(choice) == lower(trim(value))) return std::string(choice);
        rest = bar == std::string_view::npos ? std::string_view{} : rest.substr(bar + 1);
      }
      return bad("'" + std::string(value) + "' is not one of " + std::string(spec.choices));
    }
    case Type::url: {
      // A bare socket path is not a URL; unix:///path is (Docker's DOCKER_HOST form).
      const auto parsed = boost::urls::parse_absolute_uri(trim(value));
      if (!parsed || parsed->scheme().empty()) {
        return bad("'" + std::string(value) + "' is not a URL; use scheme://host[:port]");
      }
      return trim(value);
    }
    case Type::path:
      if (value.empty()) return bad("empty path");
      return std::string(value);
    case Type::string:
    case Type::labels:
      return std::string(value);
  }
  return std::string(value);
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  std::string current;
  for (char c : text) {
    if (c == ',' || std::isspace(static_cast<unsigned char>(c)) != 0) {
      if (!current.empty()) items.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) items.push_back(std::move(current));
  return items;
}

Result<Settings> Settings::load(const Sources& sources) {
  Settings s;
  for (const auto& spec : kOptions) {
    Setting setting{.spec = &spec};
    if (!spec.default_value.empty()) {
      setting.value = std::string(spec.default_value);
      setting.source = Source::default_value;
      setting.origin = "default";
    }
    s.values_.emplace(std::string(spec.key), std::move(setting));
  }

  // Environment first (it may name the config file), then flags for `config`.
  std::map<std::string, std::pair<std::string, std::string>, std::less<>> env_values;  // key -> (value, var)
  for (const auto& spec : kOptions) {
    for (const auto name : {spec.env, spec.env_alias}) {
      if (name.empty()) continue;
      if (auto v = sources.env(name); v && !v->empty()) {
        env_values.emplace(std::string(spec.key), std::pair{*v, std::string(name)});
        break;
      }
    }
  }

  std::string config_path = sources.default_config.value_or(std::string(kOptions[0].default_value));
  bool explicit_config = false;
  if (auto it = env_values.find("config"); it != env_values.end()) {
    config_path = it->second.first;
    explicit_config = true;
  }
  if (auto it = sources.flags.find("config"); it != sources.flags.end()) {
    config_path = it->second;
    explicit_config = true;
  }

  auto file_values = read_config_file(config_path, explicit_config);
  if (!file_values) return file_values.error();
  for (const auto& [key, value] : *file_values) {
    if (auto st = s.set(key, value, Source::file, config_path + " (" + key + ")"); !st) return st.error();
  }
  for (const auto& [key, entry] : env_values) {
    if (auto st = s.set(key, entry.first, Source::environment, entry.second); !st) return st.error();
  }
  for (const auto& [key, value] : sources.flags) {
    const auto* spec = find_option(key);
    if (spec == nullptr) return fail(Errc::usage, "unknown setting '" + key + "'");
    if (auto st = s.set(key, value, Source::flag, std::string(spec->flag)); !st) {
      return Failure(Errc::usage, st.error().message);
    }
  }
  return s;
}

Status Settings::set(std::string_view key, std::string value, Source source, std::string origin) {
  auto it = values_.find(key);
  if (it == values_.end()) return fail(Errc::config_invalid, "unknown setting '" + std::string(key) + "'");
  auto canonical = validate(*it->second.spec, value, origin);
  if (!canonical) return canonical.error();
  it->second.value = std::move(*canonical);
  it->second.source = source;
  it->second.origin = std::move(origin);
  return {};
}

const Setting& Settings::setting(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw std::logic_error("no such setting: " + std::string(key));
  return it->second;
}

std::optional<std::string> Settings::get(std::string_view key) const { return setting(key).value; }

const std::string& Settings::value(std::string_view key) const {
  const auto& v = setting(key).value;
  if (!v) throw std::logic_error("setting without a default read as if it had one: " + std::string(key));
  return *v;
}

bool Settings::get_bool(std::string_view key) const {
  const auto& v = setting(key).value;
  return v && parse_bool(*v).value_or(false);
}

std::chrono::milliseconds Settings::get_duration(std::string_view key) const {
  const auto& v = setting(key).value;
  return v ? parse_duration(*v).value_or(std::chrono::milliseconds{0}) : std::chrono::milliseconds{0};
}

std::vector<std::string> Settings::get_list(std::string_view key) const {
  const auto& v = setting(key).value;
  return v ? split_list(*v) : std::vector<std::string>{};
}

std::string Settings::describe(unsigned scope) const {
  std::ostringstream out;
  for (const auto& spec : kOptions) {
    if ((spec.scope & scope) == 0) continue;
    const auto& s = setting(spec.key);
    std::string shown = !s.value ? "(unset)" : spec.secret ? "******** (" + std::to_string(s.value->size()) + " chars)"
                                                           : *s.value;
    out << spec.key << " = " << shown << "    # " << to_string(s.source);
    if (s.source != Source::unset && s.source != Source::default_value) out << ": " << s.origin;
    out << '\n';
  }
  return out.str();
}

std::string markdown_table() {
  std::ostringstream out;
  out << "| setting (file key) | flag | environment | default | used by | meaning |\n";
  out << "|---|---|---|---|---|---|\n";
  for (const auto& spec : kOptions) {
    const std::string used_by = spec.scope == Scope::both ? "both" : spec.scope == Scope::agent ? "agent" : "bootstrap";
    auto code = [](std::string_view s) { return s.empty() ? std::string("—") : "`" + std::string(s) + "`"; };
    std::string env = code(spec.env);
    if (!spec.env_alias.empty()) env += " (or " + code(spec.env_alias) + ")";
    std::string help(spec.help);
    if (!spec.choices.empty()) help += " (" + std::string(spec.choices) + ")";
    if (!spec.minimum.empty()) help += "; at least " + std::string(spec.minimum);
    if (spec.secret) help += "; secret: masked in `--print-config`, never logged";
    std::string escaped;
    for (char c : help) escaped += c == '|' ? std::string("\\|") : std::string(1, c);
    out << "| `" << spec.key << "` | " << (spec.flag.empty() ? std::string("— (no flag)") : code(spec.flag)) << " | "
        << env << " | " << code(spec.default_value) << " | " << used_by << " | " << escaped << " |\n";
  }
  return out.str();
}

}  // namespace kn::config
