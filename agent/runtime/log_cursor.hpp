// Where a container's log stream was last sent up to, so that a reconnect or an agent restart
// resumes without a gap or a repeat. Docker's `since` is a time and inclusive at it, and
// several lines can share one timestamp, so the cursor is the last sent timestamp plus how
// many lines with exactly that timestamp were sent.
#pragma once

#include "core/error.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace kn::runtime {

struct LogCursor {
  std::optional<std::chrono::system_clock::time_point> time;  // unset: nothing sent yet
  std::uint64_t sent_at_time = 0;                              // lines sent with exactly `time`

  // One more line with time `t` was sent (lines come in Docker's order: `t` never goes back).
  void advance(std::chrono::system_clock::time_point t);
  bool operator==(const LogCursor&) const = default;
};

// After resuming at `cursor` (Docker `since` = cursor.time), tells the lines that were sent
// before: those older than cursor.time, and the first `sent_at_time` lines at it.
class ResumeFilter {
 public:
  explicit ResumeFilter(LogCursor cursor) : cursor_(cursor) {}
  bool already_sent(std::chrono::system_clock::time_point t);

 private:
  LogCursor cursor_;
  std::uint64_t seen_at_time_ = 0;
};

// The cursor file of a container: <state_dir>/logs/<container id>.
std::filesystem::path cursor_path(const std::filesystem::path& state_dir, std::string_view container_id);
// {"time": "<RFC 3339 ns>", "sent_at_time": N}; a missing file is an empty cursor. A file that
// cannot be parsed is Errc::file_io naming it (the caller starts over and says so).
Result<LogCursor> load_cursor(const std::filesystem::path& file);
Status save_cursor(const std::filesystem::path& file, const LogCursor& cursor);  // atomic replace

}  // namespace kn::runtime
