#include "app/doctor_command.hpp"

#include "node/node_labels.hpp"
#include "app/agent_options.hpp"
#include "core/atomic_file.hpp"
#include "docker/daemon_json.hpp"
#include "docker/dockerd_flags.hpp"
#include "docker/engine_client.hpp"
#include "http/curl_transport.hpp"
#include "master/handshake.hpp"

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream_base.hpp>

#include <algorithm>
#include <iostream>

namespace kn::app {
namespace {

class Report {
 public:
  void ok(std::string_view area, const std::string& text) { line("ok  ", area, text); }
  void skip(std::string_view area, const std::string& text) { line("skip", area, text); }
  void problem(std::string_view area, const std::string& text) {
    ++problems_;
    line("FAIL", area, text);
  }
  int exit_code() const { return problems_ == 0 ? exit_code::ok : exit_code::problems; }
  int problems() const { return problems_; }

 private:
  static void line(std::string_view tag, std::string_view area, const std::string& text) {
    std::cout << tag << "  " << area << ": " << text << '\n';
  }
  int problems_ = 0;
};

std::string joined(const std::vector<std::string>& items) { return fmt::format("{}", fmt::join(items, " ")); }

// IMDS: token, placement, and the identity document against placement (the 5th request
// the boot path saves). Returns the labels when they could be derived.
std::optional<LabelSet> check_imds(const node::NodeOptions& node, Report& report) {
  const auto* label_opts = &node.labels;
  if (node.imds.disabled) {
    report.skip("imds", "disabled by " + node.imds.disabled_by + "; static labels only");
    auto labels = derive_labels(nullptr, *label_opts);
    if (labels) return *labels;
    report.problem("labels", labels.error().message);
    return std::nullopt;
  }
  const auto* options = &node.imds.client;
  http::CurlTransport transport;
  SteadyClock clock;
  imds::Client client(transport, clock, *options);
  const auto deadline = client.deadline_from_now();
  auto placement = imds::read_placement(client, {.addresses = true}, deadline);
  if (!placement) {
    report.problem("imds", placement.error().message);
    return std::nullopt;
  }
  report.ok("imds", std::string(client.used_v1() ? "IMDSv1 (no token could be had)" : "IMDSv2 token") + " from " +
                        options->endpoint);
  if (client.used_v1()) {
    report.problem("imds", "IMDSv1 only: a token-required instance would fail; see the warning above for the cause");
  }
  auto zone = client.get("meta-data/placement/availability-zone", deadline);
  if (zone && *zone && **zone != placement->availability_zone) {
    report.problem("imds", "identity document zone " + placement->availability_zone +
                               " differs from placement/availability-zone " + **zone +
                               "; the agent uses the identity document unless verify-placement is on");
    placement->availability_zone = **zone;
  }
  auto labels = derive_labels(&*placement, *label_opts);
  if (!labels) {
    report.problem("labels", labels.error().message);
    return std::nullopt;
  }
  report.ok("labels", joined(labels->strings()));
  return *labels;
}

void check_docker(const docker::ApplyOptions& docker_options, const std::optional<LabelSet>& labels, Report& report) {
  const std::string config_path = docker_options.daemon_json.string();
  auto text = read_file(config_path);
  if (!text) {
    report.problem("docker", text.error().message);
  } else if (auto in_file = docker::labels_in_config(*text ? std::optional<std::string_view>(**text) : std::nullopt,
                                                     config_path);
             !in_file) {
    report.problem("docker", in_file.error().message);
  } else {
    report.ok("docker", config_path + (*text ? " parses" : " absent (it will be created)"));
  }
  if (auto flags = docker::label_flags_in_dropins("/"); !flags.empty()) {
    report.problem("docker", docker::label_flag_conflict(flags, config_path).message);
  }

  http::CurlTransport transport;
  auto engine = docker::EngineClient::connect(transport, docker_options.docker_host);
  if (!engine) {
    report.problem("docker", engine.error().message);
    return;
  }
  auto info = engine->info();
  if (!info) {
    report.problem("docker", info.error().message);
    return;
  }
  report.ok("docker", "engine " + info->value("ServerVersion", std::string("?")) + ", API " + engine->api_version() +
                          ", at " + engine->socket_path());
  if (!labels) return;
  auto engine_labels = docker::labels_of_info(*info);
  if (!engine_labels) {
    report.problem("docker", engine_labels.error().message);
    return;
  }
  std::vector<std::string> missing;
  for (const auto& l : labels->strings()) {
    if (std::ranges::find(*engine_labels, l) == engine_labels->end()) missing.push_back(l);
  }
  if (missing.empty()) {
    report.ok("docker", "engine carries every node label");
  } else {
    report.problem("docker", "engine lacks " + joined(missing) + "; fix: kontena-agent labels --apply");
  }
}

void check_master(const AgentOptions& options, Report& report) {
  const auto& url = options.url;
  if (!url) {
    report.problem("master", "no master URL; set KONTENA_URL (e.g. https://master.example.com/)");
    return;
  }
  auto endpoint = master::parse_master_url(*url);
  if (!endpoint) {
    report.problem("master", endpoint.error().message);
    return;
  }
  if (auto token = resolve_token(options.token); !token) {
    report.problem("master", token.error().message);
  } else {
    report.ok("master", std::string(token->kind == master::TokenKind::node ? "node" : "grid") + " token from " +
                            token->origin);
  }
  // TCP, then for wss the TLS handshake with the agent's own settings: a wrong CA bundle or
  // certificate name is the usual reason a node never shows up. Bounded: a black-holed
  // address must not hang the doctor for the kernel's SYN timeout.
  const auto& tls = options.tls;
  std::optional<boost::asio::ssl::context> ctx;
  if (endpoint->tls) {
    auto made = master::make_tls_context(tls, endpoint->url);
    if (!made) {
      report.problem("master", made.error().message);
      return;
    }
    ctx.emplace(std::move(*made));
  }
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::resolver resolver(ioc);
  std::optional<master::TlsStream> stream;
  if (ctx) stream.emplace(ioc, *ctx);
  boost::beast::tcp_stream plain(ioc);
  auto& tcp = stream ? stream->next_layer() : plain;
  std::string failure = "no answer within 5 s";
  bool done = false;
  resolver.async_resolve(endpoint->host, endpoint->port, [&](boost::system::error_code rec, auto results) {
    if (rec) {
      failure = "cannot resolve " + endpoint->host + ": " + rec.message();
      return;
    }
    tcp.async_connect(results, [&](boost::system::error_code cec, const auto&) {
      if (cec) {
        failure = cec.message();
        return;
      }
      if (!stream) {
        done = true;
        return;
      }
      const auto name = master::prepare_tls_stream(*stream, tls, endpoint->host);
      stream->async_handshake(boost::asio::ssl::stream_base::client, [&, name](boost::system::error_code hec) {
        if (hec) {
          failure = master::tls_handshake_failure(*stream, tls, name, hec);
        } else {
          done = true;
        }
      });
    });
  });
  ioc.run_for(std::chrono::seconds(5));
  if (!done) {
    report.problem("master", "failed to connect to " + endpoint->url + ": " + failure);
    return;
  }
  const char* reached = !stream       ? " accepts connections"
                        : tls.verify ? " completes a TLS handshake with a verified certificate"
                                     : " completes a TLS handshake (verification off)";
  report.ok("master", endpoint->url + reached + " (the token is checked when the agent connects)");
}

}  // namespace

int doctor_command(const AgentOptions& options) {
  Report report;
  const auto labels = check_imds(options.node, report);
  check_docker(options.node.docker, labels, report);
  check_master(options, report);
  std::cout << (report.problems() == 0 ? "no problems found" : std::to_string(report.problems()) + " problem(s) found")
            << '\n';
  return report.exit_code();
}

}  // namespace kn::app
