// A container's output as Docker streams it: GET /containers/ID/logs?follow=1&timestamps=1,
// demultiplexed and split into lines.
// https://docs.docker.com/engine/api/v1.41/#tag/Container/operation/ContainerLogs
#pragma once

#include "core/error.hpp"
#include "docker/output_frames.hpp"
#include "http/http_transport.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace kn::docker {

enum class LogStream { stdout_stream, stderr_stream };
const char* to_string(LogStream stream);  // "stdout" | "stderr"

// Undoes Docker's stream framing and cuts the output into lines. Without a TTY every frame
// starts with an 8-byte header: the stream (1 stdout, 2 stderr), three zero bytes and the
// payload size as a big-endian uint32; with a TTY the body is the raw output, all stdout.
// https://docs.docker.com/engine/api/v1.41/#tag/Container/operation/ContainerAttach
// A frame header or a line may arrive split across any number of pieces. Without a TTY each
// frame is one log message: a message the log driver split (lines over 16 KiB) comes as several
// lines, each with its own timestamp. A line longer than `max_line` bytes is passed on in
// pieces of that size, so memory stays bounded.
class LogDemuxer {
 public:
  using OnLine = std::function<void(LogStream stream, std::string_view line)>;
  // dockerd's log drivers split messages at 16 KiB; the logs API puts "TIMESTAMP " in front.
  static constexpr std::size_t kMaxLine = 16 * 1024 + 64;

  explicit LogDemuxer(bool tty, std::size_t max_line = kMaxLine) : tty_(tty), max_line_(max_line) {}
  // Calls on_line for each complete line, without its "\n" (or "\r\n").
  void feed(std::string_view bytes, const OnLine& on_line);
  // Bytes held back (an unfinished header or line): what the bound above is about.
  std::size_t pending_bytes() const { return demux_.pending() + out_.size() + err_.size(); }

 private:
  void take(LogStream stream, std::string_view payload, const OnLine& on_line);

  bool tty_;
  std::size_t max_line_;
  StreamDemux demux_;
  std::string out_, err_;  // unfinished lines per stream
};

// A line as Docker writes it with timestamps=1: "2018-08-10T12:34:56.123456789Z text"
// (RFC 3339 with up to nine fraction digits, UTC). nullopt when the prefix is not such a time.
struct TimedLine {
  std::chrono::system_clock::time_point time;
  std::string_view text;
};
std::optional<TimedLine> split_timestamp(std::string_view line);
// Parses "2018-08-10T12:34:56[.fraction]Z" alone.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

// Docker's `since` for logs: "SECONDS.NANOSECONDS" since the epoch (inclusive at that instant).
std::string docker_since(std::chrono::system_clock::time_point t);

// A silent log stream wakes its reader this often (the reader saves its cursor then).
inline constexpr std::chrono::milliseconds kIdleTick{1000};

// Follows the container's stdout and stderr from `since` (nullopt: from its first line),
// handing the body to `on_chunk` as it arrives (and an empty piece after kIdleTick of
// silence). `on_chunk` may block: while it does nothing more is read from Docker, which keeps
// the output in its log file. Returns when the container stops (the stream ends: success),
// when `on_chunk` returns false or `stop` is interrupted (success), or on failure:
// Errc::docker_not_found (no such container), docker_conflict (being removed), docker_unavailable,
// docker_failed.

Status follow_logs(std::string_view docker_host, std::string_view container_id,
                   std::optional<std::chrono::system_clock::time_point> since,
                   const std::function<bool(std::string_view chunk)>& on_chunk, http::StreamInterrupt& stop);

}  // namespace kn::docker
