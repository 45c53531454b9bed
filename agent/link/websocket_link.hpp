// The thin I/O layer of the master link: runs the actions of a master::Session on one Asio
// io_context with Boost.Beast (TCP or TLS, WebSocket upgrade with the Kontena headers,
// binary frames, ping/pong control frames, close handshake) and feeds the results back as
// events. Blocking work (Docker /info, /proc reads) runs on the `worker` executor, so it
// never delays a ping, a pong or a close.
//
// Public calls must be made on the io_context's thread, except call(), notify(), notify_written() and reply(),
// which any thread may use (they post to the io_context). The MasterLink must outlive the
// io_context's run.
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
  // A master request or notification whose method is in SessionConfig::served_methods;
  // answer each request (request_id set) with MasterLink::reply.
  std::function<void(const MasterCall&)> on_master_call;
  std::function<void(LinkEvent)> on_link_event;
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
  // Calls the master. `done` runs on the io_context thread exactly once (provided the
  // io_context keeps running; calls pending at the exit end before on_exit runs): with the result, or
  // a Failure: Errc::master_rpc_error (the master answered an error), Errc::http_timeout (no
  // reply within SessionConfig::request_timeout), Errc::master_unavailable (not connected, or
  // the connection ended first, or the link stopped). `params` is the positional array.
  void call(std::string method, rpc::Value params, std::function<void(Result<rpc::Value>)> done);
  // A notification; dropped (debug log) when not connected.
  void notify(std::string method, rpc::Value params);
  // A notification whose `done` runs exactly once on the io_context thread: true once its frame
  // was written to the socket, false when it was dropped (not connected, or the connection
  // ended before the write). Any thread may call it.
  void notify_written(std::string method, rpc::Value params, std::function<void(bool written)> done);
  // Answers a request delivered through LinkHooks::on_master_call; a Failure goes back as
  // {code: 500, message}. Dropped when that connection has ended.
  void reply(std::uint32_t request_id, Result<rpc::Value> result);
  // The node object of the last /agent/node_info (name, grid, ...); nullopt before the first.
  // On the io_context's thread.
  const std::optional<rpc::Value>& node_info() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kn::master
