#include "app/agent_options.hpp"

#include "core/atomic_file.hpp"

#include <regex>

namespace kn::app {
namespace {

Result<std::string> read_token(const std::string& path, std::string_view what) {
  auto token = read_token_file(path);
  if (!token) return std::move(token).error().context("failed to read the " + std::string(what) + " file " + path);
  return token;
}

// An empty value (KONTENA_NODE_NAME= in an env file) means unset.
std::optional<std::string> non_empty(const config::Settings& settings, std::string_view key) {
  auto v = settings.get(key);
  if (v && v->empty()) return std::nullopt;
  return v;
}

}  // namespace

Result<AgentOptions> agent_options(const config::Settings& settings) {
  AgentOptions o;
  auto node = node::node_options(settings);
  if (!node) return node.error();
  o.node = std::move(*node);
  o.url = non_empty(settings, "url");
  o.token = TokenSources{.node_token = non_empty(settings, "node-token"),
                         .node_token_origin = settings.setting("node-token").origin,
                         .node_token_file = non_empty(settings, "node-token-file"),
                         .grid_token = non_empty(settings, "token"),
                         .grid_token_origin = settings.setting("token").origin,
                         .grid_token_file = non_empty(settings, "token-file")};
  o.tls = {.verify = settings.get_bool("ssl-verify"),
           .ca_file = non_empty(settings, "ssl-cert-file"),
           .hostname = non_empty(settings, "ssl-hostname")};
  o.session.ping_interval = settings.get_duration("ping-interval");
  o.session.pong_timeout = settings.get_duration("pong-timeout");
  o.session.update_interval = settings.get_duration("update-interval");
  o.session.stats_interval = settings.get_duration("stats-interval");
  o.session.backoff_cap = settings.get_duration("reconnect-max-delay");
  o.node_id = non_empty(settings, "node-id");
  o.node_name = non_empty(settings, "node-name");
  o.public_ip = non_empty(settings, "public-ip");
  o.private_ip = non_empty(settings, "private-ip");
  o.protocol_version = settings.value("protocol-version");
  // The master parses Kontena-Version with Gem::Version; one it cannot parse ("latest", the
  // image tag of Kontena's own units) is only logged there and the socket stays open and
  // silent, so the agent would wait for ever (kontena v1.5.4:
  // server/app/middlewares/websocket_backend.rb valid_agent_version?). Refuse it here.
  static const std::regex version_form("[0-9]+(\\.[0-9]+)*");
  if (!std::regex_match(o.protocol_version, version_form)) {
    return fail(Errc::config_invalid, "invalid value for protocol-version (" +
                                          settings.setting("protocol-version").origin + "): \"" + o.protocol_version +
                                          "\" is not a version; set digits and dots with the master's major.minor, "
                                          "e.g. KONTENA_VERSION=1.5.4");
  }
  o.state_dir = settings.value("state-dir");
  o.label_check_interval = settings.get_duration("label-check-interval");
  o.leave = LeaveOptions{.api_token = non_empty(settings, "api-token"),
                         .api_token_origin = settings.setting("api-token").origin,
                         .api_token_file = non_empty(settings, "api-token-file"),
                         .grid = non_empty(settings, "grid"),
                         .spot_interval = settings.get_duration("spot-check-interval"),
                         .asg_interval = settings.get_duration("asg-check-interval")};
  return o;
}

Result<std::optional<ApiToken>> resolve_api_token(const LeaveOptions& options) {
  if (options.api_token) return std::optional<ApiToken>(ApiToken{*options.api_token, options.api_token_origin});
  if (!options.api_token_file) return std::optional<ApiToken>();
  auto t = read_token(*options.api_token_file, "API token");
  if (!t) return t.error();
  return std::optional<ApiToken>(ApiToken{std::move(*t), *options.api_token_file});
}

Result<MasterToken> resolve_token(const TokenSources& sources, const config::EnvLookup& env) {
  if (sources.node_token) return MasterToken{master::TokenKind::node, *sources.node_token, sources.node_token_origin};
  if (sources.node_token_file) {
    auto t = read_token(*sources.node_token_file, "node token");
    if (!t) return t.error();
    return MasterToken{master::TokenKind::node, std::move(*t), *sources.node_token_file};
  }
  if (sources.grid_token) return MasterToken{master::TokenKind::grid, *sources.grid_token, sources.grid_token_origin};
  if (sources.grid_token_file) {
    auto t = read_token(*sources.grid_token_file, "grid token");
    if (!t) return t.error();
    return MasterToken{master::TokenKind::grid, std::move(*t), *sources.grid_token_file};
  }
  // systemd LoadCredential=kontena-token:... (systemd.exec(5) "Credentials").
  if (auto dir = env("CREDENTIALS_DIRECTORY"); dir && !dir->empty()) {
    const auto path = *dir + "/kontena-token";
    if (auto exists = read_file(path); exists && *exists) {
      auto t = read_token(path, "grid token credential");
      if (!t) return t.error();
      return MasterToken{master::TokenKind::grid, std::move(*t), path};
    }
  }
  return fail(Errc::config_invalid,
              "failed to find a token for the master: set KONTENA_TOKEN, KONTENA_TOKEN_FILE (--token-file), "
              "KONTENA_NODE_TOKEN or KONTENA_NODE_TOKEN_FILE, or give systemd LoadCredential=kontena-token:PATH");
}

}  // namespace kn::app
