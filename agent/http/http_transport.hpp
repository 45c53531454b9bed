// The one seam for HTTP: a request in, a response or a Failure out. The real
// implementation is libcurl (CurlTransport); IMDS and Docker clients take a reference.
#pragma once

#include "core/error.hpp"

#include <chrono>
#include <functional>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kn::http {

// Ends a streaming transfer (perform_stream) from another thread at once. A stream given one
// sleeps until data arrives, its idle tick is due, or interrupt() wakes it, so a silent stream
// costs no wake-ups (the idle agent's budget: docs/architecture.md). Sticky: once interrupted,
// every later stream with it ends at once.
class StreamInterrupt {
 public:
  void interrupt();  // any thread
  bool interrupted() const { return flag_.load(); }

  // For the transport: the wake-up of the transfer under way (nullptr: none).
  void attach(std::function<void()> wake);
  void detach();

 private:
  std::mutex mutex_;
  std::function<void()> wake_;
  std::atomic<bool> flag_{false};
};

// How an https URL's certificate is checked: the master's REST calls verify as the master link
// does (settings ssl-verify and ssl-cert-file).
struct TlsOptions {
  bool verify = true;
  std::string ca_file;  // empty: libcurl's default CA bundle
};

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds timeout{5000};  // whole transfer (0: none, for endless streams)
  std::size_t max_response_bytes = 1U << 20U;
  std::string unix_socket;                   // non-empty: talk HTTP over this AF_UNIX socket
  bool allow_proxy = false;                  // IMDS and the Docker socket never go through a proxy
  TlsOptions tls;
  // perform_stream only: who can end the stream, and how often `on_chunk` hears of silence.
  // Without an interrupt the stream ticks every 100 ms (the caller's only chance to stop it).
  StreamInterrupt* interrupt = nullptr;
  std::chrono::milliseconds idle_tick{60000};
};

struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::chrono::milliseconds elapsed{0};

  std::optional<std::string> header(std::string_view lower_name) const {
    auto it = headers.find(std::string(lower_name));
    if (it == headers.end()) return std::nullopt;
    return it->second;
  }
};

// Takes a streamed body (Docker's /events, pull progress) piece by piece as it arrives; also
// called with an empty piece when the peer has been silent for an idle tick (Request), so a
// caller can notice its own stop flag. Returning false ends the transfer at once.
using ChunkHandler = std::function<bool(std::string_view chunk)>;

class Transport {
 public:
  virtual ~Transport() = default;
  // Performs one exchange. Any HTTP status is a Response; only transport failures (connect,
  // timeout, size cap) are Failures: Errc::http_connect, http_timeout, http_too_large, http_failed.
  virtual Result<Response> perform(const Request& request) = 0;

  // As perform, but a 2xx body goes to `on_chunk` instead of Response::body (any other status
  // is collected into Response::body, capped, as by perform). A transfer ended by `on_chunk`
  // returning false is a Response, not a Failure; a body cut off by the peer is a Failure.
  virtual Result<Response> perform_stream(const Request& request, const ChunkHandler& on_chunk) {
    (void)request;
    (void)on_chunk;
    return fail(Errc::http_failed, "this HTTP transport cannot stream responses");
  }

  // Performs the exchanges at the same time, each on a new connection of its own, and returns
  // their outcomes in the order of `requests`, each as perform would. This default runs them
  // one after another.
  virtual std::vector<Result<Response>> perform_all(const std::vector<Request>& requests) {
    std::vector<Result<Response>> outcomes;
    outcomes.reserve(requests.size());
    for (const auto& request : requests) outcomes.push_back(perform(request));
    return outcomes;
  }
};

}  // namespace kn::http
