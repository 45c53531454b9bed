// The pieces of the log streamer that need no Docker: Docker's stream framing undone across
// arbitrary piece boundaries, lines, timestamps, and the resume cursor with its file.
#include "docker/log_stream.hpp"
#include "runtime/log_cursor.hpp"
#include "runtime/log_line.hpp"
#include "support/catch_result.hpp"
#include "support/process.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

using kn::docker::LogDemuxer;
using kn::docker::LogStream;
using namespace std::chrono_literals;

namespace {

// One Docker frame: stream byte, three zeros, big-endian size, payload.
std::string frame(int stream, const std::string& payload) {
  std::string out(8, '\0');
  out[0] = static_cast<char>(stream);
  const auto n = payload.size();
  out[4] = static_cast<char>((n >> 24U) & 0xFFU);
  out[5] = static_cast<char>((n >> 16U) & 0xFFU);
  out[6] = static_cast<char>((n >> 8U) & 0xFFU);
  out[7] = static_cast<char>(n & 0xFFU);
  return out + payload;
}

using Lines = std::vector<std::pair<std::string, std::string>>;  // stream, text

// Feeds `body` in pieces of `piece` bytes.
Lines demux(bool tty, const std::string& body, std::size_t piece, std::size_t max_line = LogDemuxer::kMaxLine) {
  LogDemuxer d(tty, max_line);
  Lines out;
  for (std::size_t i = 0; i < body.size(); i += piece) {
    d.feed(std::string_view(body).substr(i, piece),
           [&](LogStream s, std::string_view line) { out.emplace_back(kn::docker::to_string(s), std::string(line)); });
  }
  return out;
}

std::chrono::system_clock::time_point at(const char* text) {
  auto t = kn::docker::parse_rfc3339(text);
  REQUIRE(t);
  return *t;
}

}  // namespace

TEST_CASE("log demuxer: frames split anywhere, even inside the 8-byte header, give the same lines", "[logs]") {
  const std::string body = frame(1, "2024-01-02T03:04:05.000000001Z one\n") +
                           frame(2, "2024-01-02T03:04:05.000000002Z oops\n") +
                           frame(1, "2024-01-02T03:04:05.000000003Z two\n");
  const Lines expected = {{"stdout", "2024-01-02T03:04:05.000000001Z one"},
                          {"stderr", "2024-01-02T03:04:05.000000002Z oops"},
                          {"stdout", "2024-01-02T03:04:05.000000003Z two"}};
  for (std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{7}, std::size_t{8}, std::size_t{9},
                            std::size_t{40}, body.size()}) {
    INFO("piece size " << piece);
    CHECK(demux(false, body, piece) == expected);
  }
}

TEST_CASE("log demuxer: each frame is a message - a line Docker split at 16 KiB comes as lines with their own times", "[logs]") {
  LogDemuxer d(false);
  Lines out;
  auto on_line = [&](LogStream s, std::string_view line) {
    out.emplace_back(kn::docker::to_string(s), std::string(line));
  };
  d.feed(frame(1, "T1 hel"), on_line);  // the first part of a split line: no "\n"
  CHECK(out.empty());
  CHECK(d.pending_bytes() == 6);
  d.feed(frame(2, "T2 err\n") + frame(1, "T3 lo\n") + frame(1, "T4 next"), on_line);
  CHECK(out == Lines{{"stderr", "T2 err"}, {"stdout", "T1 hel"}, {"stdout", "T3 lo"}});
  d.feed(frame(1, "T5 last\r\n"), on_line);
  CHECK(out[3] == std::pair<std::string, std::string>{"stdout", "T4 next"});
  CHECK(out.back() == std::pair<std::string, std::string>{"stdout", "T5 last"});
  CHECK(d.pending_bytes() == 0);
  // A message as long as the driver makes it, with its timestamp in front, is one line.
  const std::string full = "2024-01-02T03:04:05.000000001Z " + std::string(16 * 1024, 'x');
  out.clear();
  d.feed(frame(1, full) + frame(1, "2024-01-02T03:04:05.000000002Z end\n"), on_line);
  REQUIRE(out.size() == 2);
  CHECK(out[0].second == full);
}

TEST_CASE("log demuxer: with a TTY the body is raw stdout with CRLF line ends", "[logs]") {
  const std::string body = "2024-01-02T03:04:05.1Z a\r\n2024-01-02T03:04:05.2Z b\r\n";
  CHECK(demux(true, body, 5) == Lines{{"stdout", "2024-01-02T03:04:05.1Z a"}, {"stdout", "2024-01-02T03:04:05.2Z b"}});
}

TEST_CASE("log demuxer: an overlong line comes in pieces of the bound, so memory stays bounded", "[logs]") {
  const std::string body = frame(1, std::string(25, 'x') + "\n");
  const auto lines = demux(false, body, 4, 10);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].second == std::string(10, 'x'));
  CHECK(lines[1].second == std::string(10, 'x'));
  CHECK(lines[2].second == std::string(5, 'x'));
}

TEST_CASE("Docker timestamps: parsed to the nanosecond and written back the master's way", "[logs]") {
  auto line = kn::docker::split_timestamp("2018-08-10T12:34:56.123456789Z hello world");
  REQUIRE(line);
  CHECK(line->text == "hello world");
  CHECK(kn::runtime::rfc3339_nanos(line->time) == "2018-08-10T12:34:56.123456789Z");
  CHECK(kn::docker::docker_since(line->time) == "1533904496.123456789");
  // Fewer fraction digits (Docker trims trailing zeros in some versions), no fraction, empty text.
  CHECK(kn::runtime::rfc3339_nanos(at("2018-08-10T12:34:56.5Z")) == "2018-08-10T12:34:56.500000000Z");
  CHECK(kn::runtime::rfc3339_nanos(at("2018-08-10T12:34:56Z")) == "2018-08-10T12:34:56.000000000Z");
  auto empty = kn::docker::split_timestamp("2018-08-10T12:34:56.000000001Z");
  REQUIRE(empty);
  CHECK(empty->text.empty());
  CHECK_FALSE(kn::docker::split_timestamp("hello world"));
  CHECK_FALSE(kn::docker::parse_rfc3339("2018-02-30T12:34:56Z"));
  CHECK_FALSE(kn::docker::parse_rfc3339("2018-08-10T12:34:56.1234567890Z"));
  CHECK_FALSE(kn::docker::parse_rfc3339("2018-08-10T12:34:56+02:00"));
}

TEST_CASE("log cursor: resuming at `since` skips exactly the lines sent at that timestamp", "[logs]") {
  const auto t1 = at("2024-01-02T03:04:05.000000001Z");
  const auto t2 = at("2024-01-02T03:04:05.000000002Z");
  kn::runtime::LogCursor cursor;
  cursor.advance(t1);
  cursor.advance(t2);
  cursor.advance(t2);  // two lines share t2; a third at t2 was not sent yet
  CHECK(cursor.time == t2);
  CHECK(cursor.sent_at_time == 2);

  // Docker resends from t2 inclusive: t2, t2, t2, t3.
  const auto t3 = at("2024-01-02T03:04:05.000000003Z");
  kn::runtime::ResumeFilter filter(cursor);
  CHECK(filter.already_sent(t2));
  CHECK(filter.already_sent(t2));
  CHECK_FALSE(filter.already_sent(t2));
  CHECK_FALSE(filter.already_sent(t3));
  CHECK(filter.already_sent(t1));  // older than the cursor (never resent by Docker; skipped anyway)

  kn::runtime::ResumeFilter fresh{kn::runtime::LogCursor{}};
  CHECK_FALSE(fresh.already_sent(t1));
}

TEST_CASE("log cursor file: kept under state_dir/logs, read back equal, a torn one is reported", "[logs]") {
  kn::test::TempDir dir;
  const auto file = kn::runtime::cursor_path(dir.path(), "abc123");
  CHECK(file == dir / "logs" / "abc123");
  auto missing = kn::runtime::load_cursor(file);
  REQUIRE(missing);
  CHECK_FALSE(missing->time);

  kn::runtime::LogCursor cursor;
  cursor.advance(at("2024-01-02T03:04:05.123456789Z"));
  cursor.advance(at("2024-01-02T03:04:05.123456789Z"));
  REQUIRE(kn::runtime::save_cursor(file, cursor));
  auto loaded = kn::runtime::load_cursor(file);
  REQUIRE(loaded);
  CHECK(*loaded == cursor);

  std::ofstream(file) << "{\"time\": \"yesterday\"";
  auto torn = kn::runtime::load_cursor(file);
  REQUIRE_FALSE(torn);
  CHECK(torn.error().message.find(file.string()) != std::string::npos);
}
