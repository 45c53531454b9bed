// Exec without Docker: the multiplexed stream format, UTF-8 safe chunk ends and the checks on
// the master's params.
#include "docker/exec_stream.hpp"
#include "runtime/exec_sessions.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using json = nlohmann::json;
namespace params = kn::runtime::exec_params;

namespace {

std::string frame(int stream, const std::string& payload) {
  std::string out(8, '\0');
  out[0] = static_cast<char>(stream);
  const auto n = static_cast<std::uint32_t>(payload.size());
  out[4] = static_cast<char>((n >> 24U) & 0xFFU);
  out[5] = static_cast<char>((n >> 16U) & 0xFFU);
  out[6] = static_cast<char>((n >> 8U) & 0xFFU);
  out[7] = static_cast<char>(n & 0xFFU);
  return out + payload;
}

struct Piece {
  int stream;
  std::string data;
  bool frame_start;
};

std::vector<Piece> demux_in_steps(const std::string& bytes, std::size_t step) {
  kn::docker::StreamDemux demux;
  std::vector<Piece> out;
  for (std::size_t i = 0; i < bytes.size(); i += step) {
    demux.feed(std::string_view(bytes).substr(i, step), [&](int s, std::string_view d, bool start) {
      out.push_back(Piece{s, std::string(d), start});
    });
  }
  CHECK(demux.at_boundary());
  return out;
}

}  // namespace

TEST_CASE("exec stream: frames are split into stdout and stderr however the reads cut them", "[exec]") {
  const std::string big(70000, 'x');  // a frame longer than one read
  const std::string bytes = frame(1, "out\n") + frame(2, "err\n") + frame(1, "") + frame(1, big) + frame(2, "e2");
  for (std::size_t step : {bytes.size(), std::size_t{1}, std::size_t{3}, std::size_t{8}, std::size_t{16384}}) {
    INFO("read size " << step);
    auto pieces = demux_in_steps(bytes, step);
    std::string out, err;
    int frames = 0;
    for (const auto& p : pieces) {
      (p.stream == kn::docker::kStdout ? out : err) += p.data;
      if (p.frame_start) ++frames;
    }
    CHECK(out == "out\n" + big);
    CHECK(err == "err\ne2");
    CHECK(frames == 4);  // the empty frame carries no piece
  }
}

TEST_CASE("exec stream: a chunk never ends inside a UTF-8 character", "[exec]") {
  using kn::docker::utf8_complete_prefix;
  const std::string euro = "\xE2\x82\xAC";  // 3 bytes
  const std::string smile = "\xF0\x9F\x98\x80";  // 4 bytes
  CHECK(utf8_complete_prefix("plain") == 5);
  CHECK(utf8_complete_prefix("") == 0);
  CHECK(utf8_complete_prefix("a" + euro) == 4);
  CHECK(utf8_complete_prefix("a" + euro.substr(0, 1)) == 1);
  CHECK(utf8_complete_prefix("a" + euro.substr(0, 2)) == 1);
  CHECK(utf8_complete_prefix("a" + smile.substr(0, 3)) == 1);
  CHECK(utf8_complete_prefix("a" + smile) == 5);
  // Not UTF-8 at all: nothing is held back for ever.
  CHECK(utf8_complete_prefix("a\x80\x80\x80\x80") == 5);
  CHECK(utf8_complete_prefix("a\xFF") == 2);
}

TEST_CASE("exec params: the master's shapes are accepted, others refused with the expected shape", "[exec]") {
  SECTION("run_exec [uuid, cmd, tty, stdin]") {
    auto ok = params::run_exec(json::array({"u-1", {"sh", "-c", "ls"}, true, false}));
    REQUIRE(ok.has_value());
    CHECK(ok->session == "u-1");
    CHECK(ok->cmd == std::vector<std::string>{"sh", "-c", "ls"});
    CHECK(ok->tty);
    CHECK_FALSE(ok->stdin);
    auto defaults = params::run_exec(json::array({"u-1", {"ls"}}));  // Ruby's tty = false, stdin = false
    REQUIRE(defaults.has_value());
    CHECK_FALSE(defaults->tty);
    CHECK_FALSE(params::run_exec(json::array({"u-1", "ls -l", true, true})).has_value());  // a string is no command
    CHECK_FALSE(params::run_exec(json::array({"u-1", json::array(), true, true})).has_value());
    CHECK_FALSE(params::run_exec(json::array({"u-1", {"ls", 1}})).has_value());
    CHECK_FALSE(params::run_exec(json::array({"u-1", {"ls"}, "yes"})).has_value());
    auto bad = params::run_exec(json::array({42, {"ls"}}));
    REQUIRE_FALSE(bad.has_value());
    CHECK_THAT(bad.error().message, Catch::Contains("/containers/run_exec") && Catch::Contains("[session_id"));
  }
  SECTION("tty_input [uuid, data|nil]") {
    auto data = params::tty_input(json::array({"u", "ls\n"}));
    REQUIRE(data.has_value());
    CHECK(data->data == std::optional<std::string>("ls\n"));
    auto eof = params::tty_input(json::array({"u", nullptr}));
    REQUIRE(eof.has_value());
    CHECK_FALSE(eof->data);
    CHECK_FALSE(params::tty_input(json::array({"u"})).has_value());
    CHECK_FALSE(params::tty_input(json::array({"u", 5})).has_value());
  }
  SECTION("tty_resize [uuid, {width, height}]") {
    auto size = params::tty_resize(json::array({"u", {{"width", 120}, {"height", 40}}}));
    REQUIRE(size.has_value());
    CHECK(size->width == 120);
    CHECK(size->height == 40);
    CHECK_FALSE(params::tty_resize(json::array({"u", {{"width", -1}, {"height", 40}}})).has_value());
    CHECK_FALSE(params::tty_resize(json::array({"u", {{"width", 80}}})).has_value());
    CHECK_FALSE(params::tty_resize(json::array({"u", {{"width", "80"}, {"height", 24}}})).has_value());
    CHECK_FALSE(params::tty_resize(json::array({"u", json::array({80, 24})})).has_value());
  }
  SECTION("exec [id, cmd, {}] and the container of create_exec and inspect") {
    auto exec = params::exec(json::array({"abc", {"echo", "hi"}, json::object()}));
    REQUIRE(exec.has_value());
    CHECK(exec->container == "abc");
    CHECK(exec->cmd == std::vector<std::string>{"echo", "hi"});
    CHECK(params::exec(json::array({"abc", {"true"}})).has_value());
    CHECK_FALSE(params::exec(json::array({"abc", "echo hi", json::object()})).has_value());
    CHECK_FALSE(params::exec(json::array({"abc", {"true"}, 3})).has_value());
    CHECK(params::container_id("/containers/inspect", json::array({"abc"})).value() == "abc");
    CHECK_FALSE(params::container_id("/containers/inspect", json::array({""})).has_value());
    CHECK_FALSE(params::container_id("/containers/create_exec", json::object()).has_value());
  }
}
