#include "app/run_command.hpp"

#include "app/grid_leave.hpp"

#include "cli/cli.hpp"
#include "node/node_id.hpp"
#include "node/node_labels.hpp"
#include "core/atomic_file.hpp"
#include "core/logging.hpp"
#include "core/stop_signal.hpp"
#include "app/agent_options.hpp"
#include "node/options.hpp"
#include "docker/engine_client.hpp"
#include "docker/label_applier.hpp"
#include "docker/label_keeper.hpp"
#include "http/curl_transport.hpp"
#include "imds/imds_client.hpp"
#include "lifecycle/lifecycle_watcher.hpp"
#include "lifecycle/node_api.hpp"
#include "master/node_info.hpp"
#include "master/node_stats.hpp"
#include "link/websocket_link.hpp"
#include "runtime/log_streamer.hpp"
#include "runtime/exec_sessions.hpp"
#include "runtime/health_checker.hpp"
#include "runtime/pod_manager.hpp"
#include "runtime/stats_reporter.hpp"
#include "runtime/volume_manager.hpp"
#include "systemd/notifier.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <csignal>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>

namespace kn::app {
namespace asio = boost::asio;

namespace {

// The per-node data the worker threads share: labels change on a re-check, Docker's root
// dir becomes known with the first /info.
struct SharedNodeState {
  std::mutex mutex;
  std::vector<std::string> labels;
  std::string docker_root = "/var/lib/docker";
};

// GET /info, or why not (the cause goes into the warning: a missing socket and a refused
// connection need different fixes).
Result<nlohmann::json> docker_info(const std::string& docker_host) {
  http::CurlTransport transport;
  auto client = docker::EngineClient::connect(transport, docker_host);
  if (!client) return client.error();
  return client->info();
}

std::optional<std::string> info_string(const Result<nlohmann::json>& info, const char* key) {
  if (!info || !info->contains(key) || !(*info)[key].is_string()) return std::nullopt;
  auto v = (*info)[key].get<std::string>();
  if (v.empty()) return std::nullopt;
  return v;
}

// A stop request (SIGTERM) that ended a start-up wait: exit 0 like a stop in the loop.
bool stopped_at_start(const Failure& failure) {
  if (!failure.is(Errc::stopped) && !stop_signal::requested()) return false;
  log::get("agent")->info("stop requested during start-up; exiting");
  return true;
}

// The runtime sees the master through its own port; the link carries it.
class LinkPort final : public runtime::MasterPort {
 public:
  void attach(master::MasterLink& link) { link_ = &link; }
  void call(std::string method, nlohmann::json params, std::function<void(Result<nlohmann::json>)> done) override {
    link_->call(std::move(method), std::move(params), std::move(done));
  }
  void notify(std::string method, nlohmann::json params) override {
    link_->notify(std::move(method), std::move(params));
  }
  void notify_written(std::string method, nlohmann::json params, std::function<void(bool)> done) override {
    link_->notify_written(std::move(method), std::move(params), std::move(done));
  }
  void reply(std::uint32_t request_id, Result<nlohmann::json> result) {
    link_->reply(request_id, std::move(result));
  }

 private:
  master::MasterLink* link_ = nullptr;
};

}  // namespace

int run_command(const AgentOptions& options) {
  auto logger = log::get("agent");
  // Until the loop below owns SIGTERM/SIGINT, they end the start-up waits (IMDS retries,
  // Docker verification) through the clock those waits sleep on.
  stop_signal::install();

  // 1. Configuration that needs no network: fail fast with exit 78.
  if (!options.url) {
    return cli::report(fail(Errc::config_invalid, "failed to start: no master URL; set KONTENA_URL (or --url, or "
                                                  "url: in /etc/kontena/agent.yml), e.g. https://master.example.com/"));
  }
  auto endpoint = master::parse_master_url(*options.url);
  if (!endpoint) return cli::report(endpoint.error());
  auto token = resolve_token(options.token);
  if (!token) return cli::report(token.error());
  master::SessionConfig session = options.session;
  session.url = endpoint->url;
  auto api_token = resolve_api_token(options.leave);
  if (!api_token) return cli::report(api_token.error());
  auto api_base = lifecycle::api_base_url(*options.url);
  if (!api_base) return cli::report(api_base.error());

  // 2. Labels from IMDS (or the static ones when IMDS is disabled). The addresses go into
  // /nodes/update as PublicIp/PrivateIp unless the settings pin them.
  std::optional<std::string> public_ip = options.public_ip;
  std::optional<std::string> private_ip = options.private_ip;
  // One IMDS client for the whole run: the labels now, the lifecycle watcher later, on its
  // token. Its clock ends the waits on SIGTERM at start-up, and when the loop below ends.
  http::CurlTransport imds_transport;
  StoppableClock imds_clock;
  imds::Client imds_client(imds_transport, imds_clock, options.node.imds.client);
  auto identity = node::read_node_identity(options.node, imds_client, {.addresses = !public_ip || !private_ip});
  if (!identity) return stopped_at_start(identity.error()) ? exit_code::ok : cli::report(identity.error());
  logger->info("node labels: {}", fmt::join(identity->labels.strings(), " "));

  // 3. Docker: labels in place, then the engine's ID and Name. A Docker that cannot be
  // reached is reported; the agent still joins the master with the derived labels.
  const auto& apply = options.node.docker;
  if (auto applied = docker::apply_labels(identity->labels, apply)) {
    log::get("docker")->info("docker labels: {}", applied->summary);
  } else if (stopped_at_start(applied.error())) {
    return exit_code::ok;
  } else {
    log::get("docker")->warn("{}; continuing with the derived labels", applied.error().message);
  }
  const auto info = docker_info(apply.docker_host);
  if (!info) {
    log::get("docker")->warn("Docker engine at {} not usable ({}); node id and name come from the host",
                             apply.docker_host, info.error().message);
  }
  if (stop_signal::requested() && stopped_at_start(fail(Errc::stopped, "stop requested"))) return exit_code::ok;

  auto chosen_id = node::choose_node_id({.pinned = options.node_id,
                                         .docker_id = info_string(info, "ID"),
                                         .host_derived = master::derived_node_id(master::host_identity_seed()),
                                         .state_file = options.state_dir / "node-id"});
  if (!chosen_id) return cli::report(chosen_id.error());
  const std::string node_id = chosen_id->id;
  const std::string node_name = options.node_name ? *options.node_name
                                : info_string(info, "Name").value_or(master::host_name());
  if (identity->placement) {
    if (!public_ip) public_ip = identity->placement->public_ipv4;
    if (!private_ip) private_ip = identity->placement->private_ipv4;
  }
  if (!private_ip) private_ip = master::first_private_ipv4();
  const std::string& version = options.protocol_version;
  logger->info("node {} (id {}, {}) joining {}", node_name, node_id, chosen_id->origin, endpoint->url);

  SharedNodeState shared;
  shared.labels = identity->labels.strings();
  if (auto root = info_string(info, "DockerRootDir")) shared.docker_root = *root;

  // 4. The loop: the master link, signals, systemd, the label re-check.
  asio::io_context ioc(1);
  asio::thread_pool worker(2);  // Docker /info, /proc stats, label re-checks: never on the loop
  systemd::Notifier notifier;
  master::StatsCollector stats_collector;
  std::optional<master::action::Exit> exit;

  master::LinkOptions link_options;
  link_options.endpoint = *endpoint;
  link_options.identity = master::NodeIdentityHeaders{node_id, node_name, version, shared.labels, token->kind,
                                                      token->value};
  link_options.tls = options.tls;
  session.node_id = node_id;

  // The service pods the master schedules onto this node (docs/runtime.md).
  LinkPort port;
  runtime::PodManagerOptions pod_options;
  pod_options.state_dir = options.state_dir;
  runtime::PodManager pods(ioc.get_executor(), apply.docker_host, node_id, port, pod_options);
  // Day-two services (docs/runtime.md) are added here, before the served methods are read.
  pods.add_service(std::make_shared<runtime::LogStreamer>(pods.context()));
  pods.add_service(std::make_shared<runtime::ExecSessions>(pods.context()));
  pods.add_service(std::make_shared<runtime::HealthChecker>(pods.context()));
  pods.add_service(std::make_shared<runtime::StatsReporter>(
      pods.context(), runtime::StatsReporterOptions{.interval = options.session.stats_interval}));
  pods.add_service(std::make_shared<runtime::VolumeManager>(pods.context()));
  session.served_methods = pods.served_methods();
  // The fault tests read this line to send every served method wrongly typed params.
  logger->debug("serving master requests: {}", fmt::join(session.served_methods, " "));

  // Leaving the grid on a spot interruption or a scale-in (README.md "Leaving cleanly").
  GridLeave leave({.token = *api_token,
                   .api_base = *api_base,
                   .tls = {.verify = options.tls.verify, .ca_file = options.tls.ca_file.value_or("")},
                   .grid = options.leave.grid,
                   .node_name = node_name,
                   .labels = shared.labels},
                  worker.get_executor());
  master::MasterLink* the_link = nullptr;  // for the hooks, which run only once it exists

  master::LinkHooks hooks;
  hooks.on_master_call = [&](const master::MasterCall& call) {
    pods.on_master_call(call.request_id, call.method, call.params,
                        [&port, id = call.request_id](Result<nlohmann::json> result) {
                          if (id) port.reply(*id, std::move(result));
                        });
  };
  hooks.on_link_event = [&](master::LinkEvent event) {
    switch (event) {
      case master::LinkEvent::master_info: pods.on_master_info(); break;
      case master::LinkEvent::node_info:
        pods.on_node_info();
        leave.on_node_info(the_link->node_info());
        break;
      case master::LinkEvent::lost: pods.on_link_lost(); break;
    }
  };
  hooks.collect_node_info = [&] {
    master::NodeInfoInputs in;
    if (auto fresh = docker_info(apply.docker_host)) in.docker_info = std::move(*fresh);
    in.name = node_name;
    in.public_ip = public_ip;
    in.private_ip = private_ip;
    in.agent_version = version;
    std::lock_guard lock(shared.mutex);
    in.labels = shared.labels;
    if (in.docker_info && in.docker_info->contains("DockerRootDir") && (*in.docker_info)["DockerRootDir"].is_string()) {
      shared.docker_root = (*in.docker_info)["DockerRootDir"].get<std::string>();
    }
    return master::build_node_info(in);
  };
  hooks.collect_stats = [&] {
    std::string root;
    {
      std::lock_guard lock(shared.mutex);
      root = shared.docker_root;
    }
    std::error_code ec;
    stats_collector.set_filesystems({std::filesystem::exists(root, ec) ? std::filesystem::path(root) : "/"});
    return stats_collector.collect();
  };
  hooks.on_status = [&](const std::string& text) { notifier.status(text); };
  hooks.on_first_attempt = [&] { notifier.ready(); };
  hooks.on_exit = [&](const master::action::Exit& e) {
    exit = e;
    ioc.stop();
  };
  master::MasterLink link(ioc, worker.get_executor(), std::move(link_options), session, std::move(hooks));
  port.attach(link);
  the_link = &link;

  stop_signal::uninstall();
  asio::signal_set signals(ioc, SIGTERM, SIGINT, SIGHUP);
  if (stop_signal::requested()) {  // arrived between the start-up waits and the signal_set
    worker.stop();
    worker.join();
    return exit_code::ok;
  }
  // SIGHUP conventionally asks a daemon to re-read its configuration; the agent's settings
  // are fixed at start, so it is logged with what to do instead, and the link stays up.
  std::function<void()> await_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        logger->info("received SIGHUP; ignored: settings are read at start only (restart kontena-agent to apply "
                     "changed settings)");
        await_signal();
        return;
      }
      logger->info("received {}; closing the master connection", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      notifier.stopping();
      link.stop();
    });
  };
  await_signal();

  asio::steady_timer watchdog(ioc);
  std::function<void()> arm_watchdog;
  if (auto interval = notifier.watchdog_interval()) {
    const auto half = std::chrono::duration_cast<std::chrono::milliseconds>(*interval / 2);
    arm_watchdog = [&, half] {
      notifier.watchdog();
      watchdog.expires_after(half);
      watchdog.async_wait([&](const boost::system::error_code& ec) {
        if (!ec) arm_watchdog();
      });
    };
    arm_watchdog();
  }

  // Label drift repair (dockerd restarted with another daemon.json, an operator's edit): the
  // labels derived at start are put back every label-check-interval on a thread of their
  // own. IMDS is not asked again: an instance's placement does not change while it runs.
  std::jthread label_keeper;
  if (options.label_check_interval.count() > 0) {
    label_keeper = std::jthread([&](std::stop_token stop) {
      docker::keep_labels(stop, identity->labels, apply, options.label_check_interval);
    });
  }

  if (auto st = link.start(); !st) {
    worker.stop();
    worker.join();
    return cli::report(st.error());
  }
  pods.start();
  std::jthread lifecycle_watcher;
  if (!options.node.imds.disabled) {
    // spot/instance-action exists only on Spot Instances; an instance's life cycle is fixed at
    // launch, so an On-Demand node never asks (120 requests per 10 idle minutes saved).
    // https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html
    auto spot_interval = options.leave.spot_interval;
    if (const auto& p = identity->placement; p && !p->lifecycle.empty() && p->lifecycle != "spot") {
      if (spot_interval.count() > 0) {
        logger->debug("instance-life-cycle is {}: spot/instance-action is not polled", p->lifecycle);
      }
      spot_interval = {};
    }
    lifecycle_watcher = std::jthread([&, spot_interval] {
      lifecycle::LifecycleWatcher watcher(
          imds_client, imds_clock, {.spot_interval = spot_interval, .asg_interval = options.leave.asg_interval},
          [&](const lifecycle::Notice& notice) {
            asio::post(ioc, [&, notice] { notifier.status(leave.on_notice(notice, link.node_info())); });
          });
      watcher.run();
    });
  }
  ioc.run();
  imds_clock.stop();
  if (lifecycle_watcher.joinable()) lifecycle_watcher.join();
  // The service containers keep running: the next start adopts them, as Kontena's agent does.
  pods.stop();
  signals.cancel();
  watchdog.cancel();
  label_keeper.request_stop();
  worker.stop();  // queued collections and re-checks are dropped; a running one finishes
  worker.join();

  if (!exit) return exit_code::software;  // the loop ran dry without an exit: a bug
  // After the close 1000 of a stop: a terminating node leaves the grid (or says why not).
  leave.on_stop(link.node_info(), exit->code);
  return exit->code;
}

}  // namespace kn::app
