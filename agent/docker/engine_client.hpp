// Docker Engine API client over the unix socket (libcurl CURLOPT_UNIX_SOCKET_PATH),
// honouring DOCKER_HOST. The API version is negotiated once with GET /_ping (header
// Api-Version): min(server's, ours). https://docs.docker.com/engine/api/
#pragma once

#include "core/error.hpp"
#include "http/http_transport.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace kn::docker {

// Host part of the URLs sent over the socket; the Go client uses the same placeholder.
inline constexpr std::string_view kApiUrlBase = "http://api.moby.localhost";

// The socket path of a DOCKER_HOST value: "unix:///var/run/docker.sock" or a bare absolute
// path. Errc::config_invalid for other schemes (tcp://, ssh://) and for paths longer than
// a unix socket address holds (107 bytes).
Result<std::string> socket_path_of(std::string_view docker_host);

// The "Labels" array of a GET /info document ("key=value" strings, engine order).
Result<std::vector<std::string>> labels_of_info(const nlohmann::json& info);

// Not thread-safe (it uses the caller's transport); a thread that needs the engine makes its
// own CurlTransport and EngineClient. Errors: Errc::docker_unavailable (not reachable, HTTP
// error, API older than 1.24, malformed answer).
class EngineClient {
 public:
  // docker_host: "unix:///var/run/docker.sock" (or a bare path). Errc::config_invalid for
  // schemes this client does not speak.
  static Result<EngineClient> connect(http::Transport& transport, std::string docker_host);

  // GET /info: the whole document (ID, Name, Labels, ServerVersion, NCPU, MemTotal, ...).
  Result<nlohmann::json> info();
  // GET /info "Labels".
  Result<std::vector<std::string>> labels();
  const std::string& api_version() const { return api_version_; }
  const std::string& socket_path() const { return socket_; }

 private:
  EngineClient(http::Transport& transport, std::string socket) : transport_(&transport), socket_(std::move(socket)) {}
  Result<nlohmann::json> get_json(std::string_view path);

  http::Transport* transport_;
  std::string socket_;
  std::string api_version_;
};

}  // namespace kn::docker
