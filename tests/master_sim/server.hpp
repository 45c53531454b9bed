// The listener: accepts TCP (and TLS) connections on loopback, reads HTTP requests, hands
// a WebSocket upgrade on "/" to an RPC session and everything else to the REST API, and
// runs the NodeCleanupJob checks on their own timers.
#pragma once

#include "sim_state.hpp"

#include "core/error.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>

namespace kn::master_sim {

class Server {
 public:
  Server(boost::asio::io_context& io, SimState& state, std::shared_ptr<boost::asio::ssl::context> tls);

  // Binds and listens; returns the port (useful with port 0). Refuses non-loopback addresses.
  Result<unsigned short> listen(const boost::asio::ip::address& address, unsigned short port);
  // Starts accepting and the cleanup loops.
  void start();
  // Stops accepting, closes every agent connection with 1001, and stops the io_context
  // once they are gone (at most 2 s later).
  void shutdown();

 private:
  boost::asio::io_context& io_;
  SimState& state_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer stale_timer_;
  boost::asio::steady_timer destroy_timer_;
  bool stopping_ = false;
};

}  // namespace kn::master_sim
