// The two calls of the Kontena master's REST API a leaving node makes, with a user (API) token
// as `Authorization: Bearer` (kontena v1.5.4: server/app/routes/v1/nodes_api.rb):
// - PUT /v1/nodes/GRID/NODE {"availability":"drain"}: the master moves the node's service
//   instances elsewhere (kontena v1.5.4: server/app/mutations/host_nodes/update.rb);
// - DELETE /v1/nodes/GRID/NODE: the node leaves the grid at once instead of about 6 h after it
//   went offline (kontena v1.5.4: server/app/mutations/host_nodes/remove.rb,
//   server/app/jobs/node_cleanup_job.rb).
// The token is sent in the header only: never in the URL, a log line or a message.
#pragma once

#include "core/error.hpp"
#include "http/http_transport.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace kn::lifecycle {

// The REST base of the master the agent dials: KONTENA_URL with ws:// -> http://,
// wss:// -> https://, the path dropped ("https://master.example.com"). Errc::config_invalid
// for another scheme.
Result<std::string> api_base_url(std::string_view kontena_url);

struct NodeRef {
  std::string grid;
  std::string node;  // the name the master knows the node by (or its node id: it contains ':')
};

class NodeApi {
 public:
  // `token_origin` names where the token came from in messages ("KONTENA_API_TOKEN").
  // `tls`: how an https master's certificate is checked (as the master link checks it).
  NodeApi(http::Transport& transport, std::string base_url, std::string token, std::string token_origin,
          std::chrono::milliseconds timeout = std::chrono::seconds(10), http::TlsOptions tls = {});

  // Errc::master_api_rejected for 401, 403, 404 and 422 (retrying cannot help; the message
  // names the fix), Errc::master_unavailable for a transport failure or 5xx.
  Status drain(const NodeRef& ref);
  // As drain; a 404 (already removed) is success.
  Status remove(const NodeRef& ref);

 private:
  Status call(std::string method, const NodeRef& ref, std::string body, std::string_view what);

  http::Transport& transport_;
  std::string base_url_;
  std::string token_;  // secret
  std::string token_origin_;
  std::chrono::milliseconds timeout_;
  http::TlsOptions tls_;
};

}  // namespace kn::lifecycle
