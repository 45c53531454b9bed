#include "app/grid_leave.hpp"

#include "core/logging.hpp"
#include "http/curl_transport.hpp"

#include <boost/asio/post.hpp>

#include <thread>

namespace kn::app {
namespace {

// A drain is worth a few tries while the master restarts (5xx, refused); a refusal (401, 403,
// 404, 422) is final: one error line, no retry storm.
constexpr int kDrainAttempts = 3;
constexpr std::chrono::seconds kRestTimeout{5};

std::optional<std::string> json_string(const nlohmann::json& j, std::initializer_list<const char*> keys) {
  const nlohmann::json* at = &j;
  for (const char* key : keys) {
    if (!at->is_object() || !at->contains(key)) return std::nullopt;
    at = &(*at)[key];
  }
  if (!at->is_string() || at->get<std::string>().empty()) return std::nullopt;
  return at->get<std::string>();
}

}  // namespace

GridLeave::GridLeave(GridLeaveInputs inputs, boost::asio::any_io_executor worker)
    : in_(std::move(inputs)), worker_(std::move(worker)) {}

std::optional<lifecycle::NodeRef> GridLeave::node_ref(const std::optional<nlohmann::json>& node_info) const {
  std::optional<std::string> grid = in_.grid;
  std::string node = in_.node_name;
  if (node_info) {
    if (!grid) grid = json_string(*node_info, {"grid", "name"});
    if (auto name = json_string(*node_info, {"name"})) node = *name;
  }
  if (!grid) return std::nullopt;
  return lifecycle::NodeRef{*grid, node};
}

std::string GridLeave::master_without_token() const {
  // kontena v1.5.4: server/app/services/agent/node_unplugger.rb marks the node offline at the
  // close; server/app/jobs/node_cleanup_job.rb destroys an offline node with an `ephemeral`
  // label (any value), not an initial member and without stateful containers, once it has not
  // been seen for 6 h (checked hourly); server/app/jobs/grid_scheduler_job.rb moves service
  // instances off an offline node after the strategy's grace period.
  bool ephemeral = false;
  for (const auto& l : in_.labels) ephemeral = ephemeral || l == "ephemeral" || l.starts_with("ephemeral=");
  std::string text =
      "the master marks the node offline at the close and moves its service instances after the deploy strategy's "
      "grace period (ha 2 min, daemon 10 min); ";
  text += ephemeral ? "it removes the node about 6 h after it was last seen (label ephemeral; checked hourly), unless "
                      "it is an initial member or has stateful containers"
                    : "the node stays in the grid, offline, until `kontena node rm` (no ephemeral label)";
  return text + "; set KONTENA_API_TOKEN or KONTENA_API_TOKEN_FILE to drain and remove it at once";
}

std::string GridLeave::on_notice(const lifecycle::Notice& notice, const std::optional<nlohmann::json>& node_info) {
  auto logger = log::get("lifecycle");
  const std::string text = "termination notice: " + notice.describe();
  if (!notice.drains) {
    logger->warn("{}; the node stays in service (AWS may interrupt this spot instance soon)", text);
    return text;
  }
  logger->warn("{}", text);
  notice_ = notice;
  if (!in_.token) {
    logger->info("no API token: the node is not drained; at the stop it closes the master connection with 1000 and {}",
                 master_without_token());
    return text;
  }
  if (drain_started_) return text;
  auto ref = node_ref(node_info);
  if (!ref) {
    logger->info("draining the node once the master has sent its node info (the grid name; or set KONTENA_GRID)");
    return text;
  }
  start_drain(*ref);
  return text + "; draining";
}

void GridLeave::on_node_info(const std::optional<nlohmann::json>& node_info) {
  if (!notice_ || !in_.token || drain_started_) return;
  if (auto ref = node_ref(node_info)) start_drain(*ref);
}

void GridLeave::start_drain(const lifecycle::NodeRef& ref) {
  drain_started_ = true;
  boost::asio::post(worker_, [ref, base = in_.api_base, tls = in_.tls, token = *in_.token] {
    auto logger = log::get("lifecycle");
    http::CurlTransport transport;
    lifecycle::NodeApi api(transport, base, token.value, token.origin, kRestTimeout, tls);
    for (int attempt = 1;; ++attempt) {
      auto st = api.drain(ref);
      if (st) {
        logger->info("node {} of grid {} set to drain (PUT /v1/nodes/{}/{}): the master moves its service instances "
                     "to other nodes",
                     ref.node, ref.grid, ref.grid, ref.node);
        return;
      }
      if (!st.error().is(Errc::master_unavailable) || attempt == kDrainAttempts) {
        logger->error("{}", st.error().message);
        return;
      }
      logger->warn("{}; trying again in {} s", st.error().message, attempt);
      std::this_thread::sleep_for(std::chrono::seconds(attempt));
    }
  });
}

void GridLeave::on_stop(const std::optional<nlohmann::json>& node_info, int exit_code) {
  if (!terminating()) return;
  auto logger = log::get("lifecycle");
  if (exit_code == exit_code::node_removed) return;  // the master removed it already (4040)
  if (!in_.token) {
    logger->info("leaving after {} without an API token: closed the master connection with 1000; {}",
                 notice_->describe(), master_without_token());
    return;
  }
  auto ref = node_ref(node_info);
  if (!ref) {
    logger->error("failed to remove the node from the grid: the grid name is unknown (no node info from the master); "
                  "set KONTENA_GRID");
    return;
  }
  http::CurlTransport transport;
  lifecycle::NodeApi api(transport, in_.api_base, in_.token->value, in_.token->origin, kRestTimeout, in_.tls);
  if (auto st = api.remove(*ref); !st) {
    logger->error("{}", st.error().message);
    return;
  }
  logger->info("node {} removed from grid {} (DELETE /v1/nodes/{}/{}) after {}", ref->node, ref->grid, ref->grid,
               ref->node, notice_->describe());
}

}  // namespace kn::app
