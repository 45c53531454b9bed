#include "runtime/port_probe.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <fmt/format.h>

namespace kn::runtime {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

// `doc[key]` as a string when it is one, else empty (inspect documents vary between versions).
std::string string_at(const json& doc, const char* key) {
  if (!doc.is_object()) return {};
  auto it = doc.find(key);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& object_at(const json& doc, const char* key) {
  static const json empty = json::object();
  if (!doc.is_object()) return empty;
  auto it = doc.find(key);
  return it != doc.end() && it->is_object() ? *it : empty;
}

}  // namespace

std::optional<std::string> probe_address(const json& inspect) {
  if (string_at(object_at(inspect, "HostConfig"), "NetworkMode") == "host") return "127.0.0.1";
  const json& settings = object_at(inspect, "NetworkSettings");
  if (auto ip = string_at(settings, "IPAddress"); !ip.empty()) return ip;
  for (const auto& [name, network] : object_at(settings, "Networks").items()) {
    if (auto ip = string_at(network, "IPAddress"); !ip.empty()) return ip;
  }
  return std::nullopt;
}

bool tcp_port_open(const std::string& address, int port, std::chrono::milliseconds timeout,
                   const std::atomic<bool>* cancel) {
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(address, ec);
  if (ec || port <= 0 || port > 65535) return false;
  asio::io_context io(1);
  asio::ip::tcp::socket socket(io);
  bool open = false, done = false;
  socket.async_connect({ip, static_cast<unsigned short>(port)}, [&](boost::system::error_code connect_ec) {
    open = !connect_ec;
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done && !io.stopped() && std::chrono::steady_clock::now() < deadline) {
    if (cancel != nullptr && cancel->load()) break;
    io.run_for(std::min<std::chrono::steady_clock::duration>(std::chrono::milliseconds(100),
                                                             deadline - std::chrono::steady_clock::now()));
  }
  return open;
}

HttpProbe http_probe(http::Transport& transport, const std::string& address, int port, const std::string& uri,
                     std::chrono::milliseconds timeout, const std::atomic<bool>* cancel) {
  http::Request request;
  request.method = "GET";
  const bool v6 = address.find(':') != std::string::npos;
  request.url = fmt::format("http://{}{}{}:{}{}", v6 ? "[" : "", address, v6 ? "]" : "", port,
                            uri.empty() || uri.front() != '/' ? "/" + uri : uri);
  request.headers.emplace_back("User-Agent", "kontena-agent health check");
  request.connect_timeout = timeout;
  request.timeout = timeout;
  request.max_response_bytes = 64U * 1024U;  // only a redirect's or an error's body is kept
  request.allow_proxy = false;               // the container's own address, never a proxy
  // The status is all that counts: the transfer ends with the first piece of a 2xx body.
  // The transport calls back with an empty piece while the peer is silent: a chance to cancel.
  auto response = transport.perform_stream(request, [cancel](std::string_view chunk) {
    return chunk.empty() && (cancel == nullptr || !cancel->load());
  });
  HttpProbe probe;
  if (!response) {
    probe.error = response.error().message;
    return probe;
  }
  probe.status = response->status;
  probe.healthy = response->status >= 200 && response->status < 400;
  return probe;
}

}  // namespace kn::runtime
