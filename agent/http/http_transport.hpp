// The one seam for HTTP: a request in, a response or a Failure out. The real
// implementation is libcurl (CurlTransport); IMDS and Docker clients take a reference.
#pragma once

#include "core/error.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kn::http {

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds timeout{5000};  // whole transfer
  std::size_t max_response_bytes = 1U << 20U;
  std::string unix_socket;                   // non-empty: talk HTTP over this AF_UNIX socket
  bool allow_proxy = false;                  // IMDS and the Docker socket never go through a proxy
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

class Transport {
 public:
  virtual ~Transport() = default;
  // Performs one exchange. Any HTTP status is a Response; only transport failures (connect,
  // timeout, size cap) are Failures: Errc::http_connect, http_timeout, http_too_large, http_failed.
  virtual Result<Response> perform(const Request& request) = 0;
};

}  // namespace kn::http
