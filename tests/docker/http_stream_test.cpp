// CurlTransport::perform_stream against a loopback server that sends a chunked body and
// then stays silent: pieces arrive as sent, silence is reported, and the caller can stop.
#include "http/curl_transport.hpp"
#include "support/catch_result.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace {

// Answers one connection with `response`, then holds it open until the client closes (or,
// with `hang_up`, closes it at once).
class SilentServer {
 public:
  explicit SilentServer(std::string response, bool hang_up = false)
      : response_(std::move(response)), hang_up_(hang_up) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener_, 1) == 0);
    REQUIRE(::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~SilentServer() {
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/events"; }
  bool client_closed() const { return closed_.load(); }

 private:
  void serve() {
    const int fd = ::accept(listener_, nullptr, nullptr);
    if (fd < 0) return;
    char buf[4096];
    std::string request;
    while (request.find("\r\n\r\n") == std::string::npos) {
      const auto n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      request.append(buf, static_cast<std::size_t>(n));
    }
    (void)::write(fd, response_.data(), response_.size());
    while (!hang_up_ && ::read(fd, buf, sizeof buf) > 0) {
    }  // until the client goes away
    closed_ = true;
    ::close(fd);
  }
  std::string response_;
  bool hang_up_ = false;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> closed_{false};
};

constexpr const char* kChunkedHead = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

}  // namespace

TEST_CASE("a streamed body arrives before it ends, silence is reported, and the caller stops it") {
  SilentServer server(std::string(kChunkedHead) + "6\r\n{\"a\":1\r\n" + "2\r\n}\n\r\n");
  kn::http::CurlTransport transport;
  kn::http::Request req;
  req.url = server.url();
  req.timeout = std::chrono::milliseconds(0);
  std::string got;
  int silent_calls = 0;
  auto response = transport.perform_stream(req, [&](std::string_view chunk) {
    got.append(chunk);
    if (chunk.empty()) ++silent_calls;
    return silent_calls < 3;  // stop after some silence
  });
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(got == "{\"a\":1}\n");
  CHECK(response->body.empty());
  CHECK(silent_calls == 3);
  // Stopping drops the connection, so a server that never ends its body is not left waiting.
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!server.client_closed() && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(server.client_closed());
}

TEST_CASE("while a stream is silent the caller hears of it at least every 200 ms") {
  SilentServer server(kChunkedHead);
  kn::http::CurlTransport transport;
  kn::http::Request req;
  req.url = server.url();
  req.timeout = std::chrono::milliseconds(0);
  auto last = std::chrono::steady_clock::now();
  auto longest = std::chrono::steady_clock::duration::zero();
  int calls = 0;
  auto response = transport.perform_stream(req, [&](std::string_view) {
    const auto now = std::chrono::steady_clock::now();
    longest = std::max(longest, now - last);
    last = now;
    return ++calls < 8;
  });
  REQUIRE(response);
  CHECK(calls == 8);
  CHECK(longest < std::chrono::milliseconds(200));
}

TEST_CASE("an error answer is collected into the body, not streamed") {
  const std::string body = R"({"message":"page not found"})";
  SilentServer server("HTTP/1.1 404 Not Found\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  kn::http::CurlTransport transport;
  kn::http::Request req;
  req.url = server.url();
  std::string streamed;
  auto response = transport.perform_stream(req, [&](std::string_view chunk) {
    streamed.append(chunk);
    return true;
  });
  REQUIRE(response);
  CHECK(response->status == 404);
  CHECK(response->body == body);
  CHECK(streamed.empty());
}

TEST_CASE("a stream cut off by the peer is a failure, and an exception from the handler comes through") {
  {
    SilentServer server(std::string(kChunkedHead) + "2\r\nhi\r\n", /*hang_up=*/true);
    kn::http::CurlTransport transport;
    kn::http::Request req;
    req.url = server.url();
    req.timeout = std::chrono::milliseconds(0);
    std::string got;
    auto response = transport.perform_stream(req, [&](std::string_view chunk) {
      got.append(chunk);
      return true;
    });
    REQUIRE_FALSE(response);
    CHECK(response.error().is(kn::Errc::http_failed));
    CHECK(got == "hi");
  }
  SilentServer server(std::string(kChunkedHead) + "2\r\nhi\r\n");
  kn::http::CurlTransport transport;
  kn::http::Request req;
  req.url = server.url();
  CHECK_THROWS_WITH(transport.perform_stream(req,
                                             [](std::string_view chunk) -> bool {
                                               if (!chunk.empty()) throw std::runtime_error("handler broke");
                                               return true;
                                             }),
                    "handler broke");
}
