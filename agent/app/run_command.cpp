#include "app/run_command.hpp"

#include "cli/cli.hpp"
#include "node/node_labels.hpp"
#include "core/atomic_file.hpp"
#include "core/logging.hpp"
#include "app/master_options.hpp"
#include "node/options.hpp"
#include "docker/engine_client.hpp"
#include "docker/label_applier.hpp"
#include "http/curl_transport.hpp"
#include "master/node_info.hpp"
#include "master/node_stats.hpp"
#include "link/websocket_link.hpp"
#include "systemd/notifier.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <csignal>
#include <mutex>

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

std::optional<nlohmann::json> docker_info(const std::string& docker_host) {
  http::CurlTransport transport;
  auto client = docker::EngineClient::connect(transport, docker_host);
  if (!client) return std::nullopt;
  auto info = client->info();
  if (!info) return std::nullopt;
  return std::move(*info);
}

}  // namespace

int run_command(const config::Settings& settings) {
  auto logger = log::get("agent");

  // 1. Configuration that needs no network: fail fast with exit 78.
  const auto url = settings.get("url");
  if (!url) {
    return cli::report(fail(Errc::config_invalid, "failed to start: no master URL; set KONTENA_URL (or --url, or "
                                                  "url: in /etc/kontena/agent.yml), e.g. https://master.example.com/"));
  }
  auto endpoint = master::parse_master_url(*url);
  if (!endpoint) return cli::report(endpoint.error());
  auto token = resolve_token(settings);
  if (!token) return cli::report(token.error());
  master::SessionConfig session;
  session.url = endpoint->url;
  session.ping_interval = settings.get_duration("ping-interval");
  session.pong_timeout = settings.get_duration("pong-timeout");
  session.update_interval = settings.get_duration("update-interval");
  session.stats_interval = settings.get_duration("stats-interval");
  session.backoff_cap = settings.get_duration("reconnect-max-delay");
  // Lower bounds: below them the agent would flood the master or redial in a loop.
  struct Minimum {
    const char* key;
    std::chrono::milliseconds at_least;
    const char* text;
  };
  for (const auto& [key, at_least, text] :
       {Minimum{"ping-interval", std::chrono::milliseconds(100), "100ms"},
        Minimum{"pong-timeout", std::chrono::milliseconds(100), "100ms"},
        Minimum{"update-interval", std::chrono::milliseconds(100), "100ms"},
        Minimum{"stats-interval", std::chrono::milliseconds(100), "100ms"},
        Minimum{"reconnect-max-delay", std::chrono::seconds(1), "1s"}}) {
    if (settings.get_duration(key) < at_least) {
      return cli::report(fail(Errc::config_invalid, std::string("invalid value for ") + key + " (" +
                                                        settings.setting(key).origin + "): must be at least " + text));
    }
  }

  // 2. Labels from IMDS (or the static ones when IMDS is disabled). The addresses go into
  // /nodes/update as PublicIp/PrivateIp unless the settings pin them.
  std::optional<std::string> public_ip = settings.get("public-ip");
  std::optional<std::string> private_ip = settings.get("private-ip");
  auto identity = read_node_identity(settings, {.addresses = !public_ip || !private_ip});
  if (!identity) return cli::report(identity.error());
  logger->info("node labels: {}", fmt::join(identity->labels.strings(), " "));

  // 3. Docker: labels in place, then the engine's ID and Name. A Docker that cannot be
  // reached is reported; the agent still joins the master with the derived labels.
  const auto apply = node::apply_options(settings);
  if (auto applied = docker::apply_labels(identity->labels, apply)) {
    log::get("docker")->info("docker labels: {}", applied->summary);
  } else {
    log::get("docker")->warn("{}; continuing with the derived labels", applied.error().message);
  }
  const auto info = docker_info(apply.docker_host);
  if (!info) log::get("docker")->warn("Docker engine at {} not reachable; node id and name come from the host",
                                      apply.docker_host);

  std::string node_id;
  if (auto v = settings.get("node-id"); v && !v->empty()) {
    node_id = *v;
  } else if (info && info->contains("ID") && (*info)["ID"].is_string() && !(*info)["ID"].get<std::string>().empty()) {
    node_id = (*info)["ID"].get<std::string>();
  } else {
    node_id = master::derived_node_id(master::host_identity_seed());
  }
  std::string node_name;
  if (auto v = settings.get("node-name"); v && !v->empty()) {
    node_name = *v;
  } else if (info && info->contains("Name") && (*info)["Name"].is_string() &&
             !(*info)["Name"].get<std::string>().empty()) {
    node_name = (*info)["Name"].get<std::string>();
  } else {
    node_name = master::host_name();
  }
  if (identity->placement) {
    if (!public_ip) public_ip = identity->placement->public_ipv4;
    if (!private_ip) private_ip = identity->placement->private_ipv4;
  }
  if (!private_ip) private_ip = master::first_private_ipv4();
  const std::string version = settings.get_or("protocol-version", "1.5.4");
  logger->info("node {} (id {}) joining {}", node_name, node_id, endpoint->url);

  SharedNodeState shared;
  shared.labels = identity->labels.strings();
  if (info && info->contains("DockerRootDir") && (*info)["DockerRootDir"].is_string()) {
    shared.docker_root = (*info)["DockerRootDir"].get<std::string>();
  }

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
  link_options.tls = tls_options(settings);
  session.node_id = node_id;

  master::LinkHooks hooks;
  hooks.collect_node_info = [&] {
    master::NodeInfoInputs in;
    in.docker_info = docker_info(apply.docker_host);
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

  asio::signal_set signals(ioc, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    logger->info("received {}; closing the master connection", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    notifier.stopping();
    link.stop();
  });

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
  // labels derived at start are put back every label-check-interval, on the worker. IMDS is
  // not asked again: an instance's placement does not change while it runs.
  asio::steady_timer label_timer(ioc);
  const auto label_interval = settings.get_duration("label-check-interval");
  std::function<void()> arm_label_check;
  if (label_interval.count() > 0) {
    arm_label_check = [&] {
      label_timer.expires_after(label_interval);
      label_timer.async_wait([&](const boost::system::error_code& ec) {
        if (ec) return;
        asio::post(worker, [&] {
          if (auto applied = docker::apply_labels(identity->labels, apply)) {
            if (applied->file_changed || applied->reloaded) {
              log::get("docker")->info("docker labels repaired: {}", applied->summary);
            }
          } else {
            log::get("docker")->warn("label check: {}", applied.error().message);
          }
          asio::post(ioc, [&] { arm_label_check(); });
        });
      });
    };
    arm_label_check();
  }

  if (auto st = link.start(); !st) {
    worker.stop();
    worker.join();
    return cli::report(st.error());
  }
  ioc.run();
  signals.cancel();
  watchdog.cancel();
  label_timer.cancel();
  worker.stop();  // queued collections and re-checks are dropped; a running one finishes
  worker.join();

  if (!exit) return exit_code::software;  // the loop ran dry without an exit: a bug
  return exit->code;
}

}  // namespace kn::app
