// Protocol conformance of `kontena-agent run` against the project's Kontena master
// simulator and IMDS simulator, all on loopback: the agent runs as a real process, exactly
// as systemd would start it. Docker is pointed at a socket that does not exist (the Docker
// tests cover a real dockerd; here the agent must join the master without one). At the end,
// the RPC port of MasterLink itself, in this process, over a real connection.
#include "support/catch_result.hpp"
#include "support/imds_sim.hpp"
#include "support/master_sim.hpp"
#include "http/curl_transport.hpp"
#include "master/handshake.hpp"
#include "link/websocket_link.hpp"
#include "support/process.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <future>
#include <iostream>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

using namespace kn::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr auto kNode = "node-test";

// One kontena-agent process with its simulators' environment.
struct Agent {
  TempDir dir;
  std::unique_ptr<Process> process;
  std::filesystem::path err_path = dir / "agent.err";

  Agent(const ImdsSim& imds, const MasterSim& master, std::map<std::string, std::string> extra = {})
      : Agent(imds, master.env(), std::move(extra)) {}
  Agent(const ImdsSim& imds, const Env& master_env, std::map<std::string, std::string> extra = {}) {
    Env env = merge(imds.env(), master_env);
    env.set["KONTENA_NODE_NAME"] = kNode;
    env.set["DOCKER_HOST"] = "unix://" + (dir / "no-docker.sock").string();
    env.set["KONTENA_DOCKER_CONFIG"] = (dir / "daemon.json").string();
    env.set["KONTENA_DOCKER_PIDFILE"] = (dir / "docker.pid").string();
    env.set["KONTENA_STATE_DIR"] = (dir / "state").string();  // never the host's /var/lib/kontena
    env.set["KONTENA_RECONNECT_MAX_DELAY"] = "1s";
    env.set["KONTENA_LOG_LEVEL"] = "debug";
    env.unset.insert(env.unset.end(), {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "CREDENTIALS_DIRECTORY",
                                       "KONTENA_NODE_ID", "KONTENA_URI"});
    for (auto& [k, v] : extra) env.set[k] = v;
    process = std::make_unique<Process>(std::vector<std::string>{binary("kontena-agent"), "run"}, env,
                                        dir / "agent.out", err_path);
  }
  std::string log() const { return read_text(err_path); }
  // SIGTERM, then the exit code (nullopt if it did not end within `timeout`).
  std::optional<int> terminate(std::chrono::milliseconds timeout = 5s) {
    process->signal(SIGTERM);
    return process->wait_for(timeout);
  }
};

bool has_label(const json& labels, const std::string& label) {
  return std::ranges::any_of(labels, [&](const json& l) { return l.get<std::string>() == label; });
}

bool has_key(const json& labels, const std::string& key) {
  return std::ranges::any_of(labels, [&](const json& l) { return l.get<std::string>().starts_with(key + "="); });
}

// A datagram socket standing in for systemd's $NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(std::filesystem::path path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{0, 100'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() { ::close(fd_); }
  const std::filesystem::path& path() const { return path_; }
  // Receives for up to `timeout`, until a message containing `needle` arrives.
  bool wait_for(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (std::ranges::any_of(messages_, [&](const std::string& m) { return m.find(needle) != std::string::npos; })) {
        return true;
      }
      char buf[4096];
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) messages_.emplace_back(buf, static_cast<std::size_t>(n));
    }
    return std::ranges::any_of(messages_, [&](const std::string& m) { return m.find(needle) != std::string::npos; });
  }
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::vector<std::string> messages_;
};

}  // namespace

TEST_CASE("run: the node is online with az - region and ephemeral=true - with every header") {
  ImdsSim imds;
  MasterSim master;
  Agent agent(imds, master);
  const bool online = master.wait_for_status(kNode, "online", 10s);
  INFO(agent.log());
  REQUIRE(online);

  const auto node = master.node(kNode);
  CHECK(node["connected"] == true);
  CHECK(has_key(node["labels"], "az"));
  CHECK(has_key(node["labels"], "region"));
  CHECK(has_label(node["labels"], "ephemeral=true"));
  // The /nodes/update info the simulator recorded carries the same labels.
  REQUIRE(node["info"].is_object());
  CHECK(has_key(node["info"]["Labels"], "az"));
  CHECK(has_key(node["info"]["Labels"], "region"));
  CHECK(has_label(node["info"]["Labels"], "ephemeral=true"));
  CHECK(node["info"]["Name"] == kNode);
  CHECK(node["info"]["AgentVersion"] == "1.5.4");
  CHECK(node["info"].contains("PrivateIp"));
  CHECK(node["info"].contains("PublicIp"));
  CHECK(node["info"]["Drivers"].is_object());
  CHECK(node["agent_version"] == "1.5.4");

  const auto& h = node["handshake_headers"];
  INFO(h.dump());
  CHECK(std::regex_match(h["Kontena-Node-Id"].get<std::string>(), std::regex(R"([A-Z2-7]{4}(:[A-Z2-7]{4}){11})")));
  CHECK(node["node_id"] == h["Kontena-Node-Id"]);
  CHECK(h["Kontena-Node-Name"] == kNode);
  CHECK(h["Kontena-Version"] == "1.5.4");
  CHECK(h["Kontena-Grid-Token"] == "<present>");
  CHECK(std::regex_match(h["Kontena-Connected-At"].get<std::string>(),
                         std::regex(R"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{9}Z)")));
  const auto labels_header = h["Kontena-Node-Labels"].get<std::string>();
  CHECK(labels_header.find("ephemeral=true") != std::string::npos);
  CHECK(labels_header.find("az=") != std::string::npos);
  CHECK(labels_header.find(' ') == std::string::npos);

  // Without dockerd the agent says so and goes on.
  CHECK(agent.log().find("Docker engine at unix://") != std::string::npos);
  CHECK(agent.terminate() == 0);
}

TEST_CASE("run: a wrong grid token stops the agent with exit 77 and never prints the token") {
  ImdsSim imds;
  MasterSim master;
  const std::string wrong = "wrong-token-Zq8xVf3kLm";
  Agent agent(imds, master, {{"KONTENA_TOKEN", wrong}, {"KONTENA_TOKEN_FILE", ""}});
  const auto code = agent.process->wait_for(10s);
  const auto log = agent.log();
  INFO(log);
  REQUIRE(code.has_value());
  CHECK(*code == 77);
  CHECK(log.find("rejected the grid token") != std::string::npos);
  CHECK(log.find("4001") != std::string::npos);
  CHECK(log.find(wrong) == std::string::npos);
  CHECK(read_text(agent.dir / "agent.out").find(wrong) == std::string::npos);
  CHECK(master.stats()["rejections"]["4001"] == 1);
}

TEST_CASE("run: close codes 4001 - 4010 - 4040 and 4041 stop the agent with their own exit codes") {
  const auto [code, exit_code, words] = GENERATE(table<int, int, std::string>({
      {4001, 77, "rejected the grid token"},
      {4010, 79, "protocol version"},
      {4040, 80, "removed this node"},
      {4041, 81, "newer connection"},
  }));
  CAPTURE(code);
  ImdsSim imds;
  MasterSim master;
  Agent agent(imds, master);
  REQUIRE(master.wait_for_status(kNode, "online", 10s));
  const auto t0 = std::chrono::steady_clock::now();
  master.close(kNode, code, "closed by test");
  const auto exit = agent.process->wait_for(5s);
  std::cerr << "measured: close " << code << " -> exit " << exit.value_or(-1) << " after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
            << " ms\n";
  INFO(agent.log());
  REQUIRE(exit.has_value());
  CHECK(*exit == exit_code);
  CHECK(agent.log().find(words) != std::string::npos);
  CHECK(master.stats()["handshakes"] == 1);  // no reconnect
}

TEST_CASE("run: every other close code reconnects and the node comes back online") {
  // Every close code the Kontena master sends (kontena v1.5.4: server/app/services/websocket_backend.rb,
  // server/app/services/agent/node_plugger.rb) except the four above, and a server error.
  const int code = GENERATE(4000, 4002, 4003, 4004, 4005, 4006, 4020, 4030, 4031, 1011);
  CAPTURE(code);
  ImdsSim imds;
  MasterSim master;
  Agent agent(imds, master);
  REQUIRE(master.wait_for_status(kNode, "online", 10s));
  const auto t0 = std::chrono::steady_clock::now();
  master.close(kNode, code, "closed by test");
  const bool back = MasterSim::wait_until(
      [&] { return master.stats()["handshakes"].get<int>() >= 2 && master.node(kNode)["status"] == "online"; }, 10s);
  INFO(agent.log());
  CHECK(back);
  std::cerr << "measured: close " << code << " -> online again after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
            << " ms\n";
  CHECK(agent.process->running());
  CHECK(agent.terminate() == 0);
}

TEST_CASE("run: clock skew is rejected with 4020 and the agent recovers once the clocks agree") {
  ImdsSim imds;
  // TLS, and a window of 1 ms in the past: the agent takes Connected-At before it dials, so
  // the TCP connect, the TLS handshake and the upgrade already put it more than 1 ms behind
  // the master's clock, as a skewed clock would.
  MasterSim master(MasterSimOptions{.tls = true});
  master.configure({{"clock_skew_past_ms", 1}});
  Agent agent(imds, master);
  REQUIRE(MasterSim::wait_until([&] { return master.stats()["rejections"].value("4020", 0) >= 1; }, 10s));
  CHECK(agent.process->running());
  master.configure({{"clock_skew_past_ms", 6000}});
  const bool online = master.wait_for_status(kNode, "online", 10s);
  INFO(agent.log());
  CHECK(online);
  CHECK(agent.log().find("4020") != std::string::npos);
  CHECK(agent.terminate() == 0);
}

TEST_CASE("run: keepalive both ways - the agent answers the master's pings and its own get pongs") {
  ImdsSim imds;
  MasterSim master(MasterSimOptions{.args = {"--ping-interval", "200ms", "--pong-timeout", "500ms"}});
  Agent agent(imds, master, {{"KONTENA_PING_INTERVAL", "200ms"}, {"WEBSOCKET_TIMEOUT", "500ms"}});
  REQUIRE(master.wait_for_status(kNode, "online", 10s));
  // Several keepalive rounds each way: the master records a new last_seen_at per pong.
  std::set<std::string> seen;
  const bool rounds = MasterSim::wait_until([&] {
    seen.insert(master.node(kNode)["last_seen_at"].dump());
    return seen.size() >= 5;
  }, 10s);
  const auto node = master.node(kNode);
  INFO(agent.log());
  CHECK(rounds);  // the master saw pongs
  CHECK(node["status"] == "online");
  CHECK(master.stats()["handshakes"] == 1);   // neither side dropped the link
  CHECK(agent.log().find("no pong") == std::string::npos);
  CHECK(agent.terminate() == 0);
}

TEST_CASE("run: answers unknown master requests with 501 at once") {
  ImdsSim imds;
  MasterSim master;
  Agent agent(imds, master);
  REQUIRE(master.wait_for_status(kNode, "online", 10s));
  const auto t0 = std::chrono::steady_clock::now();
  const auto reply = master.request(kNode, "/etcd/health", json::array(), 5s);
  INFO(reply.dump());
  CHECK(reply["error"]["code"] == 501);
  CHECK(reply["error"]["error"] == "service not implemented");
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(agent.terminate() == 0);
}

TEST_CASE("run: sends /nodes/stats once node_info has arrived - at the stats interval") {
  ImdsSim imds;
  MasterSim master;
  Agent agent(imds, master, {{"KONTENA_STATS_INTERVAL", "300ms"}});
  REQUIRE(master.wait_for_status(kNode, "online", 10s));
  CHECK(MasterSim::wait_until([&] { return master.node(kNode)["stats_count"].get<int>() >= 3; }, 10s));
  CHECK(agent.terminate() == 0);
}

TEST_CASE("run: SIGTERM closes the connection with 1000 and exits 0 within 2 s - systemd hears about it") {
  ImdsSim imds;
  MasterSim master;
  TempDir sock_dir;
  NotifySocket notify(sock_dir / "notify.sock");
  Agent agent(imds, master, {{"NOTIFY_SOCKET", notify.path().string()}, {"WATCHDOG_USEC", "400000"}});
  REQUIRE(master.wait_for_status(kNode, "online", 10s));
  CHECK(notify.wait_for("READY=1", 5s));
  CHECK(notify.wait_for("STATUS=connected to ws://127.0.0.1:", 5s));
  CHECK(notify.wait_for("WATCHDOG=1", 5s));

  const auto t0 = std::chrono::steady_clock::now();
  const auto code = agent.terminate(5s);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  INFO(agent.log());
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(elapsed < 2s);
  CHECK(notify.wait_for("STOPPING=1", 1s));
  const bool closed = MasterSim::wait_until([&] { return master.node(kNode)["connected"] == false; }, 5s);
  CHECK(closed);
  CHECK(master.node(kNode)["close_code"] == 1000);
}

TEST_CASE("run: TLS with the master's CA connects - an unknown CA is refused with a clear error") {
  ImdsSim imds;
  MasterSim master(MasterSimOptions{.tls = true});

  SECTION("the CA that signed the master's certificate") {
    Agent agent(imds, master);  // master.env() sets SSL_CERT_FILE
    const bool online = master.wait_for_status(kNode, "online", 10s);
    INFO(agent.log());
    CHECK(online);
    CHECK(master.node(kNode)["handshake_headers"]["Kontena-Version"] == "1.5.4");
    CHECK(agent.terminate() == 0);
  }
  SECTION("another CA") {
    TempDir other;
    const auto files = make_tls_files(other.path());
    Agent agent(imds, master, {{"SSL_CERT_FILE", files.ca_cert.string()}});
    const bool refused = MasterSim::wait_until(
        [&] { return agent.log().find("TLS certificate verification failed") != std::string::npos; }, 10s);
    INFO(agent.log());
    CHECK(refused);
    CHECK(agent.log().find("SSL_CERT_FILE") != std::string::npos);
    CHECK(master.node(kNode).is_null());
    CHECK(agent.process->running());  // retries with backoff; the operator may fix the CA
    CHECK(agent.terminate() == 0);
  }
  SECTION("verification off on purpose") {
    TempDir other;
    const auto files = make_tls_files(other.path());
    Agent agent(imds, master, {{"SSL_CERT_FILE", files.ca_cert.string()}, {"KONTENA_SSL_VERIFY", "false"}});
    const bool online = master.wait_for_status(kNode, "online", 10s);
    INFO(agent.log());
    CHECK(online);
    CHECK(agent.log().find("verification is off") != std::string::npos);
    CHECK(agent.terminate() == 0);
  }
}

namespace {

// The simulator as a bare process on a fixed port, so it can be killed and started again
// where the agent expects it.
struct BareMasterSim {
  const TempDir& dir;
  std::unique_ptr<Process> process;
  int port = 0;

  BareMasterSim(const TempDir& d, int fixed_port) : dir(d) {
    std::filesystem::remove(dir / "port");
    process = std::make_unique<Process>(
        std::vector<std::string>{binary("kontena-master-sim"), "--listen", "127.0.0.1", "--port",
                                 std::to_string(fixed_port), "--port-file", (dir / "port").string(), "--grid", "test",
                                 "--grid-token-file", (dir / "grid-token").string()},
        Env{}, std::filesystem::path{}, dir / ("sim-" + std::to_string(fixed_port) + ".err"));
    const auto written = kn::test::wait_for_port_file(dir / "port", *process, 10s);
    REQUIRE(written.has_value());
    port = *written;
  }
  json node(const std::string& name) const {
    kn::http::CurlTransport transport;
    kn::http::Request req;
    req.url = "http://127.0.0.1:" + std::to_string(port) + "/v1/nodes/test/" + name;
    auto r = transport.perform(req);
    if (!r || r->status != 200) return json::object();
    auto j = json::parse(r->body, nullptr, false);
    return j.is_object() ? j : json::object();
  }
};

std::vector<double> reconnect_delays(const std::string& log) {
  std::vector<double> out;
  const std::regex re(R"(reconnecting in ([0-9.]+) s)");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator(); ++it) {
    out.push_back(std::stod((*it)[1].str()));
  }
  return out;
}

}  // namespace

TEST_CASE("run: after the master is killed and restarted the agent reconnects with capped - jittered delays") {
  ImdsSim imds;
  TempDir dir;
  std::ofstream(dir / "grid-token") << "restart-grid-token-0123456789";
  auto sim = std::make_unique<BareMasterSim>(dir, 0);
  const int port = sim->port;
  Env master_env;
  master_env.set["KONTENA_URL"] = "http://127.0.0.1:" + std::to_string(port) + "/";
  master_env.set["KONTENA_TOKEN_FILE"] = (dir / "grid-token").string();
  master_env.unset = {"KONTENA_TOKEN", "KONTENA_NODE_TOKEN", "KONTENA_NODE_TOKEN_FILE", "SSL_CERT_FILE"};
  Agent agent(imds, master_env, {{"KONTENA_RECONNECT_MAX_DELAY", "2s"}});
  REQUIRE(MasterSim::wait_until([&] { return sim->node(kNode).value("status", "") == "online"; }, 10s));

  sim->process->signal(SIGKILL);
  sim->process->wait_for(5s);
  sim.reset();
  // Down long enough for several attempts.
  CHECK(MasterSim::wait_until([&] { return reconnect_delays(agent.log()).size() >= 3; }, 15s));
  CHECK(agent.process->running());

  sim = std::make_unique<BareMasterSim>(dir, port);
  const auto restarted = std::chrono::steady_clock::now();
  const bool back = MasterSim::wait_until([&] { return sim->node(kNode).value("status", "") == "online"; }, 10s);
  std::cerr << "measured: master SIGKILLed and restarted -> online again after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - restarted).count()
            << " ms\n";
  const auto log = agent.log();
  INFO(log);
  CHECK(back);
  CHECK(agent.process->running());
  const auto delays = reconnect_delays(log);
  CHECK(delays.size() >= 2);
  CHECK(delays.size() < 40);  // no busy loop: delays average ~0.75 s
  for (double d : delays) CHECK(d <= 2.0);
  CHECK(std::ranges::any_of(delays, [&](double d) { return d != delays.front(); }));  // jittered
  CHECK(agent.terminate() == 0);
}

// ---- The RPC port of MasterLink in this process, over a real connection to the simulator.

namespace {

// A MasterLink on its own io_context thread, joined to the simulator with a fixed node id.
struct InProcessLink {
  static constexpr auto kId = "AAAA:BBBB:CCCC:DDDD:EEEE:FFFF:GGGG:HHHH:IIII:JJJJ:KKKK:LLLL";
  static constexpr auto kName = "rpc-node";

  boost::asio::io_context ioc{1};
  boost::asio::thread_pool worker{1};
  std::unique_ptr<kn::master::MasterLink> link;
  std::thread thread;
  std::mutex mutex;
  std::vector<kn::master::LinkEvent> events;
  std::optional<kn::master::action::Exit> exit;

  explicit InProcessLink(const MasterSim& master) {
    auto endpoint = kn::master::parse_master_url(master.ws_url());
    REQUIRE(endpoint.has_value());
    kn::master::LinkOptions options;
    options.endpoint = *endpoint;
    options.identity = {kId, kName, "1.5.4", {"az=a"}, kn::master::TokenKind::grid, master.grid_token()};
    kn::master::SessionConfig session;
    session.node_id = kId;
    session.url = endpoint->url;
    session.served_methods = {"/service_pods/notify_update", "/service_pods/restart"};
    kn::master::LinkHooks hooks;
    hooks.collect_node_info = [] { return json{{"Name", kName}, {"Labels", json::array({"az=a"})}}; };
    hooks.collect_stats = [] { return json::object(); };
    hooks.on_master_call = [this](const kn::master::MasterCall& call) {
      if (!call.request_id) return;
      if (call.method == "/service_pods/restart") {
        link->reply(*call.request_id, kn::fail(kn::Errc::docker_unavailable, "failed to restart the pod: no Docker"));
      } else {
        link->reply(*call.request_id, json{{"served", call.method}, {"params", call.params}});
      }
    };
    hooks.on_link_event = [this](kn::master::LinkEvent e) {
      std::lock_guard lock(mutex);
      events.push_back(e);
    };
    hooks.on_exit = [this](const kn::master::action::Exit& e) {
      std::lock_guard lock(mutex);
      exit = e;
    };
    link = std::make_unique<kn::master::MasterLink>(ioc, worker.get_executor(), std::move(options), session,
                                                    std::move(hooks));
    thread = std::thread([this] {
      auto guard = boost::asio::make_work_guard(ioc);
      ioc.run();
    });
  }
  ~InProcessLink() {
    boost::asio::post(ioc, [this] { link->stop(); });
    MasterSim::wait_until([this] { return exited(); }, 5s);
    ioc.stop();
    thread.join();
    worker.join();
    link.reset();
  }
  void start() {
    std::promise<kn::Status> started;
    boost::asio::post(ioc, [&] { started.set_value(link->start()); });
    REQUIRE(started.get_future().get().has_value());
  }
  std::size_t count(kn::master::LinkEvent e) {
    std::lock_guard lock(mutex);
    return static_cast<std::size_t>(std::ranges::count(events, e));
  }
  bool exited() {
    std::lock_guard lock(mutex);
    return exit.has_value();
  }
  // Calls from this (non-loop) thread and waits for the one answer.
  kn::Result<json> call(const std::string& method, json params) {
    auto promise = std::make_shared<std::promise<kn::Result<json>>>();
    auto future = promise->get_future();
    auto calls = std::make_shared<std::atomic<int>>(0);
    link->call(method, std::move(params), [promise, calls](kn::Result<json> r) {
      if (calls->fetch_add(1) == 0) promise->set_value(std::move(r));
    });
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    auto result = future.get();
    std::this_thread::sleep_for(50ms);  // a second answer would arrive by now
    CHECK(calls->load() == 1);
    return result;
  }
};

}  // namespace

TEST_CASE("link: calls round-trip over a real connection - error replies fail with master_rpc_error") {
  MasterSim master;
  InProcessLink l(master);
  // Before start the link is offline: the call fails at once.
  auto offline = l.call("/nodes/update", json::array());
  REQUIRE_FALSE(offline.has_value());
  CHECK(offline.error().is(kn::Errc::master_unavailable));

  l.start();
  REQUIRE(MasterSim::wait_until([&] { return l.count(kn::master::LinkEvent::master_info) == 1; }, 10s));
  REQUIRE(MasterSim::wait_until([&] { return l.count(kn::master::LinkEvent::node_info) >= 1; }, 10s));

  auto ok = l.call("/nodes/update", json::array({InProcessLink::kId, {{"Name", "rpc-node"}, {"NCPU", 3}}}));
  INFO(master.log());
  REQUIRE(ok.has_value());
  CHECK(*ok == true);
  CHECK(MasterSim::wait_until(
      [&] {
        const auto info = master.node(InProcessLink::kName)["info"];
        return info.is_object() && info.value("NCPU", 0) == 3;
      },
      5s));

  auto bad = l.call("/nodes/update", json::array({"not-this-node", json::object()}));
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().is(kn::Errc::master_rpc_error));
  // The Kontena master raises RuntimeError in the handler: {code: 500, message: "RuntimeError: Missing HostNode: ID"}.
  CHECK(bad.error().message.find("Missing HostNode: not-this-node") != std::string::npos);
  CHECK(bad.error().message.find("code 500") != std::string::npos);

  auto unknown = l.call("/no_such/method", json::array());
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().is(kn::Errc::master_rpc_error));
  CHECK(unknown.error().message.find("service not implemented (code 501)") != std::string::npos);

  // The master drops the link: lost, then a new connection and master_info again.
  master.close(InProcessLink::kName, 4031, "closed by test");
  CHECK(MasterSim::wait_until([&] { return l.count(kn::master::LinkEvent::lost) == 1; }, 5s));
  CHECK(MasterSim::wait_until([&] { return l.count(kn::master::LinkEvent::master_info) == 2; }, 10s));
}

TEST_CASE("link: a served master request reaches the app and its reply goes back - others get 501") {
  MasterSim master;
  InProcessLink l(master);
  l.start();
  REQUIRE(master.wait_for_status(InProcessLink::kName, "online", 10s));

  auto reply = master.request(InProcessLink::kName, "/service_pods/notify_update", json::array({"x"}), 5s);
  INFO(reply.dump());
  CHECK(reply["error"].is_null());
  CHECK(reply["result"] == json{{"served", "/service_pods/notify_update"}, {"params", json::array({"x"})}});

  reply = master.request(InProcessLink::kName, "/service_pods/restart", json::array({"web", "web-1"}), 5s);
  CHECK(reply["error"] == json{{"code", 500}, {"message", "failed to restart the pod: no Docker"}});
  CHECK(reply["result"].is_null());

  reply = master.request(InProcessLink::kName, "/etcd/health", json::array(), 5s);
  CHECK(reply["error"]["code"] == 501);
}

TEST_CASE("link: notify_written reports a notification written to the socket - and a dropped one as not written") {
  MasterSim master;
  InProcessLink l(master);
  // Waits for the one report of a notify_written made from this (non-loop) thread.
  auto notify = [&](const std::string& method, json params) {
    auto promise = std::make_shared<std::promise<bool>>();
    auto future = promise->get_future();
    auto calls = std::make_shared<std::atomic<int>>(0);
    l.link->notify_written(method, std::move(params), [promise, calls](bool written) {
      if (calls->fetch_add(1) == 0) promise->set_value(written);
    });
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    const bool written = future.get();
    std::this_thread::sleep_for(50ms);  // a second report would arrive by now
    CHECK(calls->load() == 1);
    return written;
  };
  // Not connected yet: dropped.
  CHECK_FALSE(notify("/containers/log_batch", json::array({json::array()})));

  l.start();
  REQUIRE(master.wait_for_status(InProcessLink::kName, "online", 10s));
  const auto before = master.stats().value("notifications", 0);
  CHECK(notify("/containers/log_batch", json::array({json::array()})));
  CHECK(MasterSim::wait_until([&] { return master.stats().value("notifications", 0) == before + 1; }, 5s));
}
