// The thin I/O layer of the master link: runs the actions of a master::Session on one Asio
// io_context with Boost.Beast (TCP or TLS, WebSocket upgrade with the Kontena headers,
// binary frames, ping/pong control frames, close handshake) and feeds the results back as
// events. Blocking work (Docker /info, /proc reads) runs on the `worker` executor, so it
// never delays a ping, a pong or a close.
//
// All public calls must be made on the io_context's thread.
#pragma once

#include "master/handshake.hpp"
#include "master/session.hpp"
#include "link/tls_client.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kn::master {

struct LinkOptions {
  MasterEndpoint endpoint;
  NodeIdentityHeaders identity;  // holds the token: used only for the upgrade request
  TlsOptions tls;
  milliseconds connect_timeout{10'000};    // kontena-websocket-client: lib/kontena/websocket/client.rb: TCP connect / each SSL wait 10 s
  milliseconds handshake_timeout{10'000};  // open (upgrade) 10 s
};

struct LinkHooks {
  // Run on the worker executor; may block.
  std::function<nlohmann::json()> collect_node_info;
  std::function<nlohmann::json()> collect_stats;
  // Run on the io_context thread.
  std::function<void(const std::string&)> on_status;
  std::function<void()> on_first_attempt;  // the first connection attempt has started
  std::function<void(const action::Exit&)> on_exit;
};

class MasterLink {
 public:
  MasterLink(boost::asio::io_context& ioc, boost::asio::any_io_executor worker, LinkOptions options,
             SessionConfig session, LinkHooks hooks);
  ~MasterLink();
  MasterLink(const MasterLink&) = delete;
  MasterLink& operator=(const MasterLink&) = delete;

  // Errc::config_invalid when the TLS settings cannot be used (unreadable CA file).
  Status start();
  void stop();  // close 1000, then exit; the Exit reaches hooks.on_exit within the close timeout

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kn::master
