#include "runtime/log_cursor.hpp"

#include "core/atomic_file.hpp"
#include "docker/log_stream.hpp"
#include "runtime/log_line.hpp"

#include <nlohmann/json.hpp>

namespace kn::runtime {

void LogCursor::advance(std::chrono::system_clock::time_point t) {
  if (time && *time == t) {
    ++sent_at_time;
  } else {
    time = t;
    sent_at_time = 1;
  }
}

bool ResumeFilter::already_sent(std::chrono::system_clock::time_point t) {
  if (!cursor_.time || t > *cursor_.time) return false;
  if (t < *cursor_.time) return true;
  if (seen_at_time_ < cursor_.sent_at_time) {
    ++seen_at_time_;
    return true;
  }
  return false;
}

std::filesystem::path cursor_path(const std::filesystem::path& state_dir, std::string_view container_id) {
  return state_dir / "logs" / std::string(container_id);
}

Result<LogCursor> load_cursor(const std::filesystem::path& file) {
  auto text = read_file(file);
  if (!text) return text.error();
  if (!*text) return LogCursor{};
  const auto doc = nlohmann::json::parse(**text, nullptr, false);
  const auto bad = [&](const std::string& why) {
    return fail(Errc::file_io, "failed to read the log cursor " + file.string() + ": " + why +
                                   " (the container's logs are sent again from its first line)");
  };
  if (!doc.is_object() || !doc.contains("time") || !doc["time"].is_string() || !doc.contains("sent_at_time") ||
      !doc["sent_at_time"].is_number_unsigned()) {
    return bad("expected {\"time\": \"RFC 3339\", \"sent_at_time\": N}");
  }
  auto time = docker::parse_rfc3339(doc["time"].get<std::string>());
  if (!time) return bad("time '" + doc["time"].get<std::string>() + "' is not RFC 3339");
  return LogCursor{*time, doc["sent_at_time"].get<std::uint64_t>()};
}

Status save_cursor(const std::filesystem::path& file, const LogCursor& cursor) {
  if (!cursor.time) return {};
  const nlohmann::json doc{{"time", rfc3339_nanos(*cursor.time)}, {"sent_at_time", cursor.sent_at_time}};
  return write_file_atomically(file, doc.dump() + "\n", FileOwnership{.mode = 0600});
}

}  // namespace kn::runtime
