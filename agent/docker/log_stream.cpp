#include "docker/log_stream.hpp"

#include "docker/engine_client.hpp"
#include "http/curl_transport.hpp"

#include <boost/url/url.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <charconv>

namespace kn::docker {
namespace {

// Digits of text[pos, pos + n) as a number; nullopt unless they all are digits.
std::optional<int> digits(std::string_view text, std::size_t pos, std::size_t n) {
  if (pos + n > text.size()) return std::nullopt;
  int value = 0;
  const char* first = text.data() + pos;
  auto [end, ec] = std::from_chars(first, first + n, value);
  if (ec != std::errc() || end != first + n) return std::nullopt;
  return value;
}

}  // namespace

const char* to_string(LogStream stream) { return stream == LogStream::stderr_stream ? "stderr" : "stdout"; }

void LogDemuxer::feed(std::string_view bytes, const OnLine& on_line) {
  if (tty_) {
    take(LogStream::stdout_stream, bytes, on_line);
    return;
  }
  // Stream 0 is stdin (only seen on attach); anything but stderr is shown as stdout. Each frame
  // is one log message with its own timestamp: a message without its "\n" is the first part of a
  // line the log driver split (at 16 KiB), and the next part comes as a frame of its own, so a
  // new frame ends what the last one left open.
  demux_.feed(bytes, [&](int stream, std::string_view piece, bool frame_start) {
    const auto s = stream == kStderr ? LogStream::stderr_stream : LogStream::stdout_stream;
    auto& open = s == LogStream::stderr_stream ? err_ : out_;
    if (frame_start && !open.empty()) {
      on_line(s, open);
      open.clear();
    }
    take(s, piece, on_line);
  });
}

void LogDemuxer::take(LogStream stream, std::string_view payload, const OnLine& on_line) {
  std::string& pending = stream == LogStream::stderr_stream ? err_ : out_;
  while (!payload.empty()) {
    const auto nl = payload.find('\n');
    const auto piece = payload.substr(0, nl);
    if (pending.size() + piece.size() > max_line_) {
      // Pass an overlong line on in pieces instead of holding it.
      const auto room = max_line_ - pending.size();
      pending.append(piece.substr(0, room));
      on_line(stream, pending);
      pending.clear();
      payload.remove_prefix(room);
      continue;
    }
    if (nl == std::string_view::npos) {
      pending.append(piece);
      return;
    }
    std::string_view line = piece;
    if (!pending.empty()) {
      pending.append(piece);
      line = pending;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    on_line(stream, line);
    pending.clear();
    payload.remove_prefix(nl + 1);
  }
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':' || t.back() != 'Z') {
    return std::nullopt;
  }
  const auto y = digits(t, 0, 4), mo = digits(t, 5, 2), d = digits(t, 8, 2), h = digits(t, 11, 2),
             mi = digits(t, 14, 2), s = digits(t, 17, 2);
  if (!y || !mo || !d || !h || !mi || !s || *h > 23 || *mi > 59 || *s > 60) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(*y), std::chrono::month(static_cast<unsigned>(*mo)),
                                        std::chrono::day(static_cast<unsigned>(*d))};
  if (!ymd.ok()) return std::nullopt;
  std::int64_t nanos = 0;
  const auto frac = t.substr(19, t.size() - 20);
  if (!frac.empty()) {
    if (frac[0] != '.' || frac.size() < 2 || frac.size() > 10) return std::nullopt;
    for (std::size_t i = 1; i < 10; ++i) {
      char c = i < frac.size() ? frac[i] : '0';
      if (c < '0' || c > '9') return std::nullopt;
      nanos = nanos * 10 + (c - '0');
    }
  }
  const auto since_epoch = std::chrono::sys_days(ymd).time_since_epoch() + std::chrono::hours(*h) +
                           std::chrono::minutes(*mi) + std::chrono::seconds(*s) + std::chrono::nanoseconds(nanos);
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch));
}

std::optional<TimedLine> split_timestamp(std::string_view line) {
  const auto space = line.find(' ');
  auto time = parse_rfc3339(line.substr(0, space));
  if (!time) return std::nullopt;
  return TimedLine{*time, space == std::string_view::npos ? std::string_view() : line.substr(space + 1)};
}

std::string docker_since(std::chrono::system_clock::time_point t) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return fmt::format("{}.{:09d}", ns / 1'000'000'000, ns % 1'000'000'000);
}

Status follow_logs(std::string_view docker_host, std::string_view container_id,
                   std::optional<std::chrono::system_clock::time_point> since,
                   const std::function<bool(std::string_view chunk)>& on_chunk, http::StreamInterrupt& stop) {
  http::CurlTransport transport;
  auto engine = EngineClient::connect(transport, std::string(docker_host));
  if (!engine) return engine.error();
  const std::string what = "the logs of container " + std::string(container_id.substr(0, 12)) + " at unix://" +
                           engine->socket_path();

  boost::urls::url url(kApiUrlBase);
  url.set_path("/v" + engine->api_version() + "/containers/" + std::string(container_id) + "/logs");
  auto params = url.params();
  params.append({"follow", "1"});
  params.append({"stdout", "1"});
  params.append({"stderr", "1"});
  params.append({"timestamps", "1"});
  params.append({"since", since ? docker_since(*since) : std::string("0")});
  http::Request request;
  request.url = std::string(url.buffer());
  request.unix_socket = engine->socket_path();
  request.timeout = std::chrono::milliseconds(0);  // followed until the container stops
  request.interrupt = &stop;
  request.idle_tick = kIdleTick;

  auto response = transport.perform_stream(request, [&](std::string_view chunk) {
    if (stop.interrupted()) return false;
    return on_chunk(chunk) && !stop.interrupted();
  });
  if (stop.interrupted()) return {};
  if (!response) {
    return fail(Errc::docker_unavailable,
                "failed to follow " + what + ": " + response.error().message + " (did dockerd stop?)");
  }
  if (response->status == 404) {
    return fail(Errc::docker_not_found, "failed to follow " + what + ": no such container");
  }
  const auto conflict = response->status == 409;  // being removed, or already dead and marked for removal
  if (response->status < 200 || response->status >= 300) {
    auto doc = nlohmann::json::parse(response->body, nullptr, false);
    const std::string message = doc.is_object() ? doc.value("message", response->body) : response->body;
    return fail(conflict ? Errc::docker_conflict : Errc::docker_failed,
                "failed to follow " + what + ": " + message + " (HTTP " + std::to_string(response->status) + ")");
  }
  return {};  // the stream ended: the container stopped
}

}  // namespace kn::docker
