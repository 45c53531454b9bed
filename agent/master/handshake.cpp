#include "master/handshake.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <ctime>

namespace kn::master {

Result<MasterEndpoint> parse_master_url(std::string_view text) {
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) {
    // The message must not echo a URL that might carry credentials; the URL failed to parse,
    // so it cannot be split safely: name only the problem.
    return fail(Errc::config_invalid, "invalid master URL: not an absolute URL (set KONTENA_URL to e.g. "
                                      "https://master.example.com/)");
  }
  const boost::urls::url_view u = *parsed;
  // Name the URL only by scheme, host and port: a path or query might hold a token.
  auto bad = [&](std::string_view why) {
    return fail(Errc::config_invalid, "invalid master URL '" + std::string(u.scheme()) + "://" +
                                          std::string(u.encoded_host_and_port()) + "': " + std::string(why) +
                                          " (set KONTENA_URL to e.g. https://master.example.com/)");
  };
  if (u.has_userinfo()) {
    return fail(Errc::config_invalid, "invalid master URL: user info is not allowed in KONTENA_URL (the grid "
                                      "token goes in KONTENA_TOKEN or token-file)");
  }
  MasterEndpoint ep;
  const std::string scheme(u.scheme());
  if (scheme == "http" || scheme == "ws") {
    ep.tls = false;
  } else if (scheme == "https" || scheme == "wss") {
    ep.tls = true;
  } else {
    return bad("scheme must be http, https, ws or wss");
  }
  if (u.has_query() || u.has_fragment()) return bad("no query or fragment allowed");
  const std::string path(u.encoded_path());
  if (!path.empty() && path != "/") return bad("the master serves its WebSocket on path / only");
  std::string host(u.encoded_host());
  if (host.empty()) return bad("no host");
  if (u.host_type() == boost::urls::host_type::ipv6) {
    ep.host = std::string(u.host_ipv6_address().to_string());
    host = "[" + ep.host + "]";
  } else {
    ep.host = host;
  }
  ep.port = u.has_port() ? std::string(u.port()) : (ep.tls ? "443" : "80");
  ep.host_header = u.has_port() ? host + ":" + ep.port : host;
  ep.url = std::string(ep.tls ? "wss://" : "ws://") + ep.host_header + "/";
  return ep;
}

std::string format_connected_at(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto since_epoch = t.time_since_epoch();
  auto secs = duration_cast<seconds>(since_epoch);
  auto nanos = duration_cast<nanoseconds>(since_epoch - secs);
  if (nanos.count() < 0) {  // before 1970: keep the fraction positive
    secs -= seconds(1);
    nanos += seconds(1);
  }
  const std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char head[32];
  const auto n = std::strftime(head, sizeof head, "%Y-%m-%d %H:%M:%S", &tm);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%09lldZ", static_cast<long long>(nanos.count()));
  return std::string(head, n) + frac;
}

std::vector<std::pair<std::string, std::string>> upgrade_headers(const NodeIdentityHeaders& identity,
                                                                 std::chrono::system_clock::time_point now) {
  std::string labels;
  for (const auto& l : identity.labels) labels += (labels.empty() ? "" : ",") + l;
  std::vector<std::pair<std::string, std::string>> h;
  h.emplace_back("Kontena-Node-Id", identity.node_id);
  h.emplace_back("Kontena-Node-Name", identity.node_name);
  h.emplace_back("Kontena-Version", identity.version);
  h.emplace_back("Kontena-Node-Labels", labels);
  h.emplace_back("Kontena-Connected-At", format_connected_at(now));
  // The node token wins over the grid token, as in Kontena (websocket_client.rb connect!).
  h.emplace_back(identity.token_kind == TokenKind::node ? "Kontena-Node-Token" : "Kontena-Grid-Token",
                 identity.token);
  return h;
}

}  // namespace kn::master
