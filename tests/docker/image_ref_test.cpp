// Image references for pull, and the X-Registry-Auth value.
#include "docker/image_ref.hpp"
#include "docker/container_api.hpp"
#include "support/catch_result.hpp"

#include <openssl/evp.h>

#include <algorithm>

using kn::docker::parse_image_ref;
using kn::docker::registry_host_of;

TEST_CASE("image references split into repository and tag or digest, and no tag means latest") {
  struct Row {
    const char* text;
    const char* name;
    const char* tag;
    const char* digest;
  };
  const Row rows[] = {
      {"redis", "redis", "latest", ""},
      {"redis:7", "redis", "7", ""},
      {"kontena/agent:1.5.4", "kontena/agent", "1.5.4", ""},
      {"127.0.0.1:5000/kn/busybox", "127.0.0.1:5000/kn/busybox", "latest", ""},
      {"127.0.0.1:5000/kn/busybox:1", "127.0.0.1:5000/kn/busybox", "1", ""},
      {"localhost/app@sha256:abcd", "localhost/app", "", "sha256:abcd"},
      {"reg.example.com:443/app:2@sha256:abcd", "reg.example.com:443/app", "2", "sha256:abcd"},
  };
  for (const auto& row : rows) {
    INFO(row.text);
    auto ref = parse_image_ref(row.text);
    REQUIRE(ref);
    CHECK(ref->name == row.name);
    CHECK(ref->tag == row.tag);
    CHECK(ref->digest == row.digest);
    CHECK(ref->tag_or_digest() == (*row.digest != '\0' ? row.digest : row.tag));
  }
  for (const char* bad : {"", "redis 7", "a\tb"}) CHECK_FALSE(parse_image_ref(bad));
}

TEST_CASE("the registry host is the first path part when it looks like a host, else Docker Hub") {
  CHECK(registry_host_of("redis") == "index.docker.io");
  CHECK(registry_host_of("kontena/agent") == "index.docker.io");
  CHECK(registry_host_of("127.0.0.1:5000/kn/busybox") == "127.0.0.1:5000");
  CHECK(registry_host_of("registry.example.com/app") == "registry.example.com");
  CHECK(registry_host_of("localhost/app") == "localhost");
}

TEST_CASE("X-Registry-Auth is base64url JSON with the four documented keys") {
  // '?' and '>' in the password make standard base64 use '/' and '+', which base64url replaces.
  const kn::docker::RegistryAuth auth{.username = "u", .password = "p?>?>?", .email = "", .server_address = ""};
  const auto header = kn::docker::encode_registry_auth(auth, "127.0.0.1:5000/kn/busybox");
  CHECK(header.find_first_of("+/") == std::string::npos);
  std::string std64 = header;
  std::ranges::replace(std64, '-', '+');
  std::ranges::replace(std64, '_', '/');
  std::string raw(std64.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                                reinterpret_cast<const unsigned char*>(std64.data()), static_cast<int>(std64.size()));
  REQUIRE(n > 0);
  raw.resize(static_cast<std::size_t>(n));
  while (!raw.empty() && raw.back() == '\0') raw.pop_back();  // padding decodes to NULs
  const auto doc = nlohmann::json::parse(raw);
  CHECK(doc ==
        nlohmann::json{{"username", "u"}, {"password", "p?>?>?"}, {"email", ""}, {"serveraddress", "127.0.0.1:5000"}});
}
