// URL mapping, Kontena upgrade headers and the Connected-At format
// (docs/protocol.md "Connection").
#include "master/handshake.hpp"
#include "master/node_info.hpp"
#include "support/catch_result.hpp"

#include <regex>

using namespace kn;
using namespace kn::master;

TEST_CASE("master URL: http -> ws - https -> wss - path /") {
  const auto [in, tls, host, port, host_header, url] =
      GENERATE(table<std::string, bool, std::string, std::string, std::string, std::string>({
          {"http://127.0.0.1:9292", false, "127.0.0.1", "9292", "127.0.0.1:9292", "ws://127.0.0.1:9292/"},
          {"http://127.0.0.1:9292/", false, "127.0.0.1", "9292", "127.0.0.1:9292", "ws://127.0.0.1:9292/"},
          {"https://master.example.com/", true, "master.example.com", "443", "master.example.com",
           "wss://master.example.com/"},
          {"ws://localhost:8080/", false, "localhost", "8080", "localhost:8080", "ws://localhost:8080/"},
          {"wss://master.example.com:8443", true, "master.example.com", "8443", "master.example.com:8443",
           "wss://master.example.com:8443/"},
          {"http://[::1]:9292/", false, "::1", "9292", "[::1]:9292", "ws://[::1]:9292/"},
          {"http://master", false, "master", "80", "master", "ws://master/"},
      }));
  CAPTURE(in);
  auto ep = parse_master_url(in);
  REQUIRE(ep.has_value());
  CHECK(ep->tls == tls);
  CHECK(ep->host == host);
  CHECK(ep->port == port);
  CHECK(ep->host_header == host_header);
  CHECK(ep->url == url);
  CHECK(ep->target == "/");
}

TEST_CASE("master URL: refused with the fix - never echoing credentials") {
  const auto [in, words] = GENERATE(table<std::string, std::string>({
      {"ftp://master/", "scheme must be"},
      {"http://master/api", "path / only"},
      {"http://master/?token=s3cr3t", "no query"},
      {"http://master/s3cr3t", "path / only"},
      {"https://user:s3cr3t@master/", "user info"},
      {"master:9292", "scheme must be"},
      {"not a url", "not an absolute URL"},
  }));
  CAPTURE(in);
  auto ep = parse_master_url(in);
  REQUIRE_FALSE(ep.has_value());
  CHECK(ep.error().is(Errc::config_invalid));
  CHECK(ep.error().message.find(words) != std::string::npos);
  CHECK(ep.error().message.find("s3cr3t") == std::string::npos);
  CHECK(ep.error().message.find("KONTENA_") != std::string::npos);
}

TEST_CASE("Connected-At: UTC - space separator - nine fraction digits - Z") {
  using namespace std::chrono;
  const sys_time<nanoseconds> t = sys_days{year{2018} / 8 / 10} + 12h + 34min + 56s + 123456789ns;
  CHECK(format_connected_at(time_point_cast<system_clock::duration>(t)) == "2018-08-10 12:34:56.123456789Z");
  const sys_time<nanoseconds> whole = sys_days{year{2026} / 1 / 2} + 3h + 4min + 5s;
  CHECK(format_connected_at(time_point_cast<system_clock::duration>(whole)) == "2026-01-02 03:04:05.000000000Z");
  const std::regex shape(R"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{9}Z)");
  CHECK(std::regex_match(format_connected_at(system_clock::now()), shape));
}

TEST_CASE("upgrade headers: the six Kontena headers - node token wins the header name") {
  NodeIdentityHeaders id{"ABCD:EFGH", "node-1", "1.5.4", {"az=a", "region=eu-central-1", "ephemeral=true"},
                         TokenKind::grid, "grid-secret"};
  auto h = upgrade_headers(id, std::chrono::system_clock::now());
  std::map<std::string, std::string> m(h.begin(), h.end());
  CHECK(h.size() == 6);
  CHECK(m["Kontena-Node-Id"] == "ABCD:EFGH");
  CHECK(m["Kontena-Node-Name"] == "node-1");
  CHECK(m["Kontena-Version"] == "1.5.4");
  CHECK(m["Kontena-Node-Labels"] == "az=a,region=eu-central-1,ephemeral=true");
  CHECK(m["Kontena-Grid-Token"] == "grid-secret");
  CHECK(m.contains("Kontena-Connected-At"));
  CHECK_FALSE(m.contains("Kontena-Node-Token"));

  id.token_kind = TokenKind::node;
  id.labels.clear();
  h = upgrade_headers(id, std::chrono::system_clock::now());
  m = {h.begin(), h.end()};
  CHECK(m["Kontena-Node-Token"] == "grid-secret");
  CHECK_FALSE(m.contains("Kontena-Grid-Token"));
  CHECK(m["Kontena-Node-Labels"].empty());
}

TEST_CASE("derived node id: Docker's engine ID shape - stable per seed - distinct across seeds") {
  const std::regex shape(R"([A-Z2-7]{4}(:[A-Z2-7]{4}){11})");
  const auto a = derived_node_id("machine-id:0123456789abcdef");
  CHECK(std::regex_match(a, shape));
  CHECK(derived_node_id("machine-id:0123456789abcdef") == a);
  CHECK(derived_node_id("machine-id:fedcba9876543210") != a);
  CHECK(std::regex_match(derived_node_id(host_identity_seed()), shape));
}
