// The node id survives restarts: the first start's choice is stored and read back, so a start
// with Docker down and one with Docker up present the same node to the master.
#include "node/node_id.hpp"

#include "core/atomic_file.hpp"
#include "support/catch_result.hpp"
#include "support/process.hpp"

#include <sys/stat.h>

using namespace kn;

namespace {
constexpr const char* kDockerId = "44C7:P5OM:2FNW:L3GH:SYZY:5JD5:HQTB:UW2T:SRVQ:IKKW:FQ4W:5RC7";
constexpr const char* kDerived = "ABCD:0123:ABCD:0123:ABCD:0123:ABCD:0123:ABCD:0123:ABCD:0123";
}  // namespace

TEST_CASE("node id: the first choice is kept across starts, whatever Docker answers later") {
  test::TempDir dir;
  const auto file = dir / "state" / "node-id";

  SECTION("Docker down at the first start, up at the second") {
    auto first = node::choose_node_id({.docker_id = std::nullopt, .host_derived = kDerived, .state_file = file});
    REQUIRE(first);
    CHECK(first->id == kDerived);
    auto second = node::choose_node_id({.docker_id = kDockerId, .host_derived = kDerived, .state_file = file});
    REQUIRE(second);
    CHECK(second->id == kDerived);
    CHECK(second->origin == file.string());
  }
  SECTION("Docker up at the first start: its ID is preferred, as Kontena's agent does") {
    auto first = node::choose_node_id({.docker_id = kDockerId, .host_derived = kDerived, .state_file = file});
    REQUIRE(first);
    CHECK(first->id == kDockerId);
    auto second = node::choose_node_id({.docker_id = std::nullopt, .host_derived = kDerived, .state_file = file});
    REQUIRE(second);
    CHECK(second->id == kDockerId);
    auto text = read_file(file);
    REQUIRE(text);
    CHECK(text->value_or("") == std::string(kDockerId) + "\n");
  }
}

TEST_CASE("node id: KONTENA_NODE_ID must have Kontena's shape, and wins without being stored") {
  test::TempDir dir;
  const auto file = dir / "node-id";
  auto ok = node::choose_node_id({.pinned = kDockerId, .docker_id = kDerived, .state_file = file});
  REQUIRE(ok);
  CHECK(ok->id == kDockerId);
  CHECK_FALSE(std::filesystem::exists(file));

  for (const auto* bad : {"node-1", "44c7:p5om:2fnw:l3gh:syzy:5jd5:hqtb:uw2t:srvq:ikkw:fq4w:5rc7",
                          "44C7:P5OM:2FNW:L3GH:SYZY:5JD5:HQTB:UW2T:SRVQ:IKKW:FQ4W", ""}) {
    auto r = node::choose_node_id({.pinned = std::string(bad), .state_file = file});
    REQUIRE_FALSE(r);
    CHECK(r.error().exit_code() == exit_code::config);
    CHECK(r.error().message.find("KONTENA_NODE_ID") != std::string::npos);
  }
}

TEST_CASE("node id: a broken state file is reported, never silently replaced") {
  test::TempDir dir;
  const auto file = dir / "node-id";
  REQUIRE(write_file_atomically(file, "one\ntwo\n"));
  auto r = node::choose_node_id({.docker_id = kDockerId, .state_file = file});
  REQUIRE_FALSE(r);
  CHECK(r.error().exit_code() == exit_code::config);
  CHECK(r.error().message.find(file.string()) != std::string::npos);
  auto text = read_file(file);
  REQUIRE(text);
  CHECK(text->value_or("") == "one\ntwo\n");
}

TEST_CASE("node id: a state directory that cannot be written fails with the fix") {
  test::TempDir dir;
  REQUIRE(write_file_atomically(dir / "not-a-dir", "x"));
  auto r = node::choose_node_id({.docker_id = kDockerId, .state_file = dir / "not-a-dir" / "node-id"});
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("KONTENA_STATE_DIR") != std::string::npos);
}
