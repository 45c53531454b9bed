// The Engine API client against a real dockerd on a private socket.
#include "docker/engine_client.hpp"
#include "http/curl_transport.hpp"
#include "support/catch_result.hpp"
#include "support/dockerd.hpp"

#include <set>

using kn::docker::EngineClient;
using kn::test::Dockerd;

TEST_CASE("DOCKER_HOST values: unix:// and bare paths work and other schemes are refused") {
  CHECK(kn::docker::socket_path_of("unix:///var/run/docker.sock").value() == "/var/run/docker.sock");
  CHECK(kn::docker::socket_path_of("/run/docker.sock").value() == "/run/docker.sock");
  for (const char* bad : {"tcp://127.0.0.1:2375", "ssh://host", "unix://relative.sock", ""}) {
    auto r = kn::docker::socket_path_of(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().exit_code() == 78);
  }
  CHECK_FALSE(kn::docker::socket_path_of("unix:///" + std::string(120, 'x')));
}

TEST_CASE("a socket nobody listens on is docker_unavailable (exit 69) with the fix") {
  kn::test::TempDir dir;
  kn::http::CurlTransport transport;
  auto client = EngineClient::connect(transport, "unix://" + (dir / "none.sock").string());
  REQUIRE_FALSE(client);
  CHECK(client.error().is(kn::Errc::docker_unavailable));
  CHECK(client.error().exit_code() == 69);
  CHECK_THAT(client.error().message, Catch::Contains("none.sock") && Catch::Contains("DOCKER_HOST"));
}

TEST_CASE("against a real dockerd the API version is negotiated by /_ping and /info is read whole") {
  REQUIRE_DOCKERD();
  Dockerd dockerd;
  WARN("dockerd started in " << dockerd.start_time().count() << " ms");
  kn::http::CurlTransport transport;
  auto client = EngineClient::connect(transport, dockerd.docker_host());
  REQUIRE(client);
  // docker.io 20.10 serves 1.41, which is also the newest this client speaks.
  CHECK(client->api_version() == "1.41");
  auto info = client->info();
  REQUIRE(info);
  for (const char* key : {"ID", "Name", "Labels", "ServerVersion", "NCPU", "MemTotal", "Driver"}) {
    CHECK(info->contains(key));
  }
  CHECK((*info)["Driver"] == "vfs");
  CHECK((*info)["ID"] == dockerd.info()["ID"]);
  auto labels = client->labels();
  REQUIRE(labels);
  CHECK(labels->empty());
}

TEST_CASE("engine labels given as dockerd flags are read back") {
  REQUIRE_DOCKERD();
  Dockerd dockerd({.extra_args = {"--label", "team=x", "--label", "az=b"}});
  kn::http::CurlTransport transport;
  auto client = EngineClient::connect(transport, dockerd.docker_host());
  REQUIRE(client);
  auto labels = client->labels();
  REQUIRE(labels);
  CHECK(std::set<std::string>(labels->begin(), labels->end()) == std::set<std::string>{"team=x", "az=b"});
}
