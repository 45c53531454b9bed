// Docker Engine API client over the unix socket (libcurl CURLOPT_UNIX_SOCKET_PATH),
// honouring DOCKER_HOST. The API version is negotiated once with GET /_ping (header
// Api-Version): min(server's, ours). https://docs.docker.com/engine/api/
#pragma once

#include "core/error.hpp"
#include "http/http_transport.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace kn::docker {

class EngineClient {
 public:
  // docker_host: "unix:///var/run/docker.sock" (or a bare path). Errc::config_invalid for
  // schemes this client does not speak.
  static Result<EngineClient> connect(http::Transport& transport, std::string docker_host);

  // GET /info: the whole document (ID, Name, Labels, ServerVersion, NCPU, MemTotal, ...).
  Result<nlohmann::json> info();
  const std::string& api_version() const { return api_version_; }

 private:
  EngineClient(http::Transport& transport, std::string socket) : transport_(&transport), socket_(std::move(socket)) {}
  Result<nlohmann::json> get_json(std::string_view path);

  http::Transport* transport_;
  std::string socket_;
  std::string api_version_;
};

}  // namespace kn::docker
