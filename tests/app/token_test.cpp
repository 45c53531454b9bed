// Where `run` finds the master token: the node token wins, files and systemd credentials
// are read, and no message ever holds the token.
#include "app/agent_options.hpp"
#include "support/catch_result.hpp"
#include "support/process.hpp"

#include <fstream>

using namespace kn;

namespace {

Result<app::MasterToken> resolve(std::map<std::string, std::string> env) {
  config::Sources sources;
  sources.env = [env](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  sources.flags["config"] = "/dev/null";
  auto settings = config::Settings::load(sources);
  REQUIRE(settings.has_value());
  auto options = app::agent_options(*settings);
  REQUIRE(options.has_value());
  return app::resolve_token(options->token, sources.env);
}

}  // namespace

TEST_CASE("token: grid token from the environment or a file - the node token wins") {
  test::TempDir dir;
  std::ofstream(dir / "grid") << "grid-from-file\n";
  std::ofstream(dir / "node") << "node-from-file\n";

  auto t = resolve({{"KONTENA_TOKEN", "grid-env"}});
  REQUIRE(t.has_value());
  CHECK(t->kind == master::TokenKind::grid);
  CHECK(t->value == "grid-env");

  t = resolve({{"KONTENA_TOKEN_FILE", (dir / "grid").string()}});
  REQUIRE(t.has_value());
  CHECK(t->value == "grid-from-file");  // trailing newline dropped

  t = resolve({{"KONTENA_TOKEN", "grid-env"}, {"KONTENA_NODE_TOKEN_FILE", (dir / "node").string()}});
  REQUIRE(t.has_value());
  CHECK(t->kind == master::TokenKind::node);
  CHECK(t->value == "node-from-file");

  t = resolve({{"KONTENA_TOKEN", "grid-env"}, {"KONTENA_NODE_TOKEN", "node-env"}});
  REQUIRE(t.has_value());
  CHECK(t->kind == master::TokenKind::node);
  CHECK(t->value == "node-env");
}

TEST_CASE("token: systemd credentials directory (LoadCredential=kontena-token)") {
  test::TempDir dir;
  std::ofstream(dir / "kontena-token") << "from-credential";
  auto t = resolve({{"CREDENTIALS_DIRECTORY", dir.path().string()}});
  REQUIRE(t.has_value());
  CHECK(t->kind == master::TokenKind::grid);
  CHECK(t->value == "from-credential");
}

TEST_CASE("token: missing - empty or unreadable is a configuration error naming the source only") {
  test::TempDir dir;
  std::ofstream(dir / "empty") << "\n";
  auto t = resolve({});
  REQUIRE_FALSE(t.has_value());
  CHECK(t.error().is(Errc::config_invalid));
  CHECK(t.error().exit_code() == 78);
  CHECK(t.error().message.find("KONTENA_TOKEN") != std::string::npos);

  t = resolve({{"KONTENA_TOKEN_FILE", (dir / "empty").string()}});
  REQUIRE_FALSE(t.has_value());
  CHECK(t.error().message.find("empty") != std::string::npos);

  t = resolve({{"KONTENA_TOKEN_FILE", (dir / "missing").string()}});
  REQUIRE_FALSE(t.has_value());
  CHECK(t.error().message.find((dir / "missing").string()) != std::string::npos);

  std::ofstream(dir / "two") << "secret-line-1\nsecret-line-2\n";
  t = resolve({{"KONTENA_TOKEN_FILE", (dir / "two").string()}});
  REQUIRE_FALSE(t.has_value());
  CHECK(t.error().message.find("secret-line") == std::string::npos);
}
