#include "docker/engine_client.hpp"

#include "core/logging.hpp"

#include <charconv>
#include <utility>

namespace kn::docker {
namespace {

// The newest API this client was written against (Docker 20.10 = 1.41) and the oldest it
// accepts: /info has carried "Labels" since long before 1.24, the oldest version current
// daemons can be configured to serve (DOCKER_MIN_API_VERSION).
// https://docs.docker.com/engine/api/#api-version-matrix
constexpr std::string_view kMaxApiVersion = "1.41";
constexpr std::string_view kMinApiVersion = "1.24";
// /info of a busy engine is a few KiB; the cap only guards against a runaway peer.
constexpr std::size_t kMaxBody = 8U << 20U;

struct ApiVersion {
  int major = 0;
  int minor = 0;
  auto operator<=>(const ApiVersion&) const = default;
};

std::optional<ApiVersion> parse_version(std::string_view text) {
  ApiVersion v;
  const auto dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const auto* end1 = text.data() + dot;
  if (std::from_chars(text.data(), end1, v.major).ptr != end1) return std::nullopt;
  const auto* end2 = text.data() + text.size();
  if (std::from_chars(end1 + 1, end2, v.minor).ptr != end2) return std::nullopt;
  return v;
}

Failure unreachable(const std::string& socket, const Failure& cause) {
  return fail(Errc::docker_unavailable, "failed to reach the Docker engine at unix://" + socket + ": " + cause.message +
                                            " (is dockerd running? set DOCKER_HOST or --docker-host)");
}

}  // namespace

Result<std::string> socket_path_of(std::string_view docker_host) {
  constexpr std::string_view kUnix = "unix://";
  std::string_view path = docker_host;
  if (path.starts_with(kUnix)) {
    path.remove_prefix(kUnix.size());
  } else if (path.find("://") != std::string_view::npos) {
    return fail(Errc::config_invalid, "invalid Docker host '" + std::string(docker_host) +
                                          "': only unix:// sockets are supported (the agent runs on the Docker host); "
                                          "use e.g. unix:///var/run/docker.sock");
  }
  if (path.empty() || path.front() != '/') {
    return fail(Errc::config_invalid, "invalid Docker host '" + std::string(docker_host) +
                                          "': the socket path must be absolute, e.g. unix:///var/run/docker.sock");
  }
  // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
  if (path.size() > 107) {
    return fail(Errc::config_invalid, "invalid Docker host '" + std::string(docker_host) +
                                          "': a unix socket path may be at most 107 bytes");
  }
  return std::string(path);
}

Result<EngineClient> EngineClient::connect(http::Transport& transport, std::string docker_host) {
  auto socket = socket_path_of(docker_host);
  if (!socket) return socket.error();
  EngineClient client(transport, *socket);

  // GET /_ping answers on every API version and names the newest the daemon serves.
  http::Request req;
  req.url = std::string(kApiUrlBase) + "/_ping";
  req.unix_socket = client.socket_;
  auto response = transport.perform(req);
  if (!response) return unreachable(client.socket_, response.error());
  if (response->status != 200) {
    return fail(Errc::docker_unavailable, "failed to ping the Docker engine at unix://" + client.socket_ + ": HTTP " +
                                              std::to_string(response->status) + " " + response->body);
  }
  const auto server_text = response->header("api-version").value_or("");
  const auto server = parse_version(server_text);
  if (!server) {
    return fail(Errc::docker_unavailable, "failed to negotiate the Docker API version with unix://" + client.socket_ +
                                              ": /_ping sent no usable Api-Version header ('" + server_text + "')");
  }
  if (*server < *parse_version(kMinApiVersion)) {
    return fail(Errc::docker_unavailable, "failed to negotiate the Docker API version with unix://" + client.socket_ +
                                              ": the engine serves API " + server_text + ", older than the " +
                                              std::string(kMinApiVersion) + " this agent needs; upgrade Docker");
  }
  client.api_version_ = *server < *parse_version(kMaxApiVersion) ? server_text : std::string(kMaxApiVersion);
  log::get("docker")->debug("Docker engine at unix://{} serves API {}, using {}", client.socket_, server_text,
                            client.api_version_);
  return client;
}

Result<nlohmann::json> EngineClient::get_json(std::string_view path) {
  http::Request req;
  req.url = std::string(kApiUrlBase) + "/v" + api_version_ + std::string(path);
  req.unix_socket = socket_;
  req.max_response_bytes = kMaxBody;
  auto response = transport_->perform(req);
  if (!response) return unreachable(socket_, response.error());
  if (response->status != 200) {
    return fail(Errc::docker_unavailable, "failed to GET " + std::string(path) + " from the Docker engine: HTTP " +
                                              std::to_string(response->status) + " " + response->body);
  }
  auto doc = nlohmann::json::parse(response->body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return fail(Errc::docker_unavailable,
                "failed to read " + std::string(path) + " from the Docker engine: the answer is not a JSON object");
  }
  return doc;
}

Result<nlohmann::json> EngineClient::info() { return get_json("/info"); }

Result<std::vector<std::string>> EngineClient::labels() {
  auto doc = info();
  if (!doc) return doc.error();
  return labels_of_info(*doc);
}

Result<std::vector<std::string>> labels_of_info(const nlohmann::json& info) {
  std::vector<std::string> out;
  auto it = info.find("Labels");
  if (it == info.end() || it->is_null()) return out;  // older engines send null for "none"
  if (!it->is_array()) {
    return fail(Errc::docker_unavailable, "failed to read the engine labels: /info \"Labels\" is not an array");
  }
  for (const auto& item : *it) {
    if (!item.is_string()) {
      return fail(Errc::docker_unavailable, "failed to read the engine labels: /info \"Labels\" holds a non-string");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace kn::docker
