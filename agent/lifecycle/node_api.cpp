#include "lifecycle/node_api.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <nlohmann/json.hpp>

namespace kn::lifecycle {
namespace {

std::string segment(std::string_view s) { return boost::urls::encode(s, boost::urls::unreserved_chars); }

// The master's own words ({"error": "..."} or {"error": {"field": "..."}}), one line.
std::string master_error(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const auto& e = j["error"];
    return e.is_string() ? e.get<std::string>() : e.dump();
  }
  return {};
}

}  // namespace

Result<std::string> api_base_url(std::string_view kontena_url) {
  auto url = boost::urls::parse_uri(kontena_url);
  if (!url) {
    return fail(Errc::config_invalid, "failed to derive the master's REST URL from " + std::string(kontena_url) +
                                          ": not a URL; set KONTENA_URL to e.g. https://master.example.com/");
  }
  std::string scheme(url->scheme());
  if (scheme == "ws") scheme = "http";
  if (scheme == "wss") scheme = "https";
  if (scheme != "http" && scheme != "https") {
    return fail(Errc::config_invalid, "failed to derive the master's REST URL from " + std::string(kontena_url) +
                                          ": scheme " + scheme + " is not ws, wss, http or https");
  }
  return scheme + "://" + std::string(url->encoded_authority());
}

NodeApi::NodeApi(http::Transport& transport, std::string base_url, std::string token, std::string token_origin,
                 std::chrono::milliseconds timeout, http::TlsOptions tls)
    : transport_(transport), base_url_(std::move(base_url)), token_(std::move(token)),
      token_origin_(std::move(token_origin)), timeout_(timeout), tls_(std::move(tls)) {}

Status NodeApi::drain(const NodeRef& ref) {
  return call("PUT", ref, nlohmann::json{{"availability", "drain"}}.dump(), "drain");
}

Status NodeApi::remove(const NodeRef& ref) { return call("DELETE", ref, {}, "remove"); }

Status NodeApi::call(std::string method, const NodeRef& ref, std::string body, std::string_view what) {
  http::Request req;
  req.method = std::move(method);
  req.url = base_url_ + "/v1/nodes/" + segment(ref.grid) + "/" + segment(ref.node);
  req.headers = {{"Authorization", "Bearer " + token_}, {"Accept", "application/json"}};
  if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  req.body = std::move(body);
  req.timeout = timeout_;
  req.connect_timeout = std::min(timeout_, std::chrono::milliseconds(5000));
  req.tls = tls_;
  req.allow_proxy = true;  // the master may well sit behind the site's proxy, as for the CLI
  const std::string subject = "failed to " + std::string(what) + " node " + ref.node + " of grid " + ref.grid +
                              " (" + req.method + " " + req.url + ")";
  auto res = transport_.perform(req);
  if (!res) return fail(Errc::master_unavailable, subject + ": " + res.error().message);
  const auto status = res->status;
  if (status >= 200 && status < 300) return {};
  const std::string said = master_error(res->body);
  const std::string quoted = said.empty() ? std::string() : " (\"" + said + "\")";
  switch (status) {
    case 401:
      return fail(Errc::master_api_rejected,
                  subject + ": 401 Unauthorized: the master refused the API token from " + token_origin_ +
                      "; set a user token with access to the grid (`kontena master token create --expires-in 0 "
                      "--token` prints one)");
    case 403:
      return fail(Errc::master_api_rejected, subject + ": 403 Forbidden" + quoted + ": the token's user may not " +
                                                 "change nodes of grid " + ref.grid +
                                                 "; use a token of a grid admin or master admin");
    case 404:
      if (what == "remove") return {};  // gone already: what we wanted
      return fail(Errc::master_api_rejected, subject + ": 404 Not Found" + quoted + ": the master has no node " +
                                                 ref.node + " in grid " + ref.grid +
                                                 "; check KONTENA_GRID (--grid) and the node name");
    case 422:
      return fail(Errc::master_api_rejected, subject + ": 422 Unprocessable Entity" + quoted);
    default:
      break;
  }
  return fail(status >= 500 ? Errc::master_unavailable : Errc::master_api_rejected,
              subject + ": HTTP " + std::to_string(status) + quoted);
}

}  // namespace kn::lifecycle
