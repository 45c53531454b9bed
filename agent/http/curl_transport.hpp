// libcurl implementation of http::Transport. One easy handle per transport so that
// keep-alive connections are reused between requests; not thread-safe (one per thread).
#pragma once

#include "http/http_transport.hpp"

#include <memory>

namespace kn::http {

class CurlTransport final : public Transport {
 public:
  CurlTransport();
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  Result<Response> perform(const Request& request) override;
  // Runs the transfer on a curl multi handle that sleeps until data comes, the idle tick is
  // due or the request's StreamInterrupt wakes it (without one: a 100 ms tick).
  Result<Response> perform_stream(const Request& request, const ChunkHandler& on_chunk) override;
  // One easy handle per request on a curl multi handle of its own: all connect and send at
  // once, none waits for another's connection (HTTP/1.1 pipelining is gone from libcurl), and
  // the connections are closed when the call returns.
  std::vector<Result<Response>> perform_all(const std::vector<Request>& requests) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kn::http
