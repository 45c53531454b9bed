// `run`'s part in leaving the grid cleanly when the instance goes away (README.md "Leaving
// cleanly"): on a termination notice from the lifecycle watcher it tells systemd and the log,
// drains the node through the master's REST API when a user (API) token is configured, and at
// the stop that follows removes it; without a token it says what the master will do instead.
//
// Every method runs on the io_context's thread; the REST calls run on the worker executor.
#pragma once

#include "app/agent_options.hpp"
#include "lifecycle/node_api.hpp"
#include "lifecycle/termination_notice.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace kn::app {

struct GridLeaveInputs {
  std::optional<ApiToken> token;   // none: the master is only told by the close
  std::string api_base;            // lifecycle::api_base_url(KONTENA_URL)
  http::TlsOptions tls;            // KONTENA_SSL_VERIFY, SSL_CERT_FILE (KONTENA_SSL_HOSTNAME: not applied)
  std::optional<std::string> grid;  // the grid setting; default: the node info's grid
  std::string node_name;           // default name; the node info's name wins
  std::vector<std::string> labels;  // to say whether the master's cleanup will remove the node
};

class GridLeave {
 public:
  GridLeave(GridLeaveInputs inputs, boost::asio::any_io_executor worker);

  // A notice from the watcher; returns the systemd STATUS= text.
  std::string on_notice(const lifecycle::Notice& notice, const std::optional<nlohmann::json>& node_info);
  // A node info arrived: a drain that waited for the grid name goes out now.
  void on_node_info(const std::optional<nlohmann::json>& node_info);
  // The loop has ended with `exit_code`: after a terminating notice, removes the node (blocking,
  // bounded by the REST timeout) or logs what the master will do without a token.
  void on_stop(const std::optional<nlohmann::json>& node_info, int exit_code);

  bool terminating() const { return notice_ && notice_->terminates; }

 private:
  std::optional<lifecycle::NodeRef> node_ref(const std::optional<nlohmann::json>& node_info) const;
  void start_drain(const lifecycle::NodeRef& ref);
  std::string master_without_token() const;

  GridLeaveInputs in_;
  boost::asio::any_io_executor worker_;
  std::optional<lifecycle::Notice> notice_;  // the latest one that drains
  bool drain_started_ = false;
};

}  // namespace kn::app
