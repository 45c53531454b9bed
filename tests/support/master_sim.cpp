#include "support/master_sim.hpp"

#include "support/record.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

namespace kn::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

std::string random_token(std::size_t bytes) {
  static const char* hex = "0123456789abcdef";
  std::random_device rd;
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    const auto b = rd() & 0xFFU;
    out += hex[b >> 4U];
    out += hex[b & 0xFU];
  }
  return out;
}


// The simulator is a test peer, not the product: the tsan preset runs the release build's
// (KN_MASTER_SIM in CMakePresets.json) instead of building a TSan one, its heaviest files.
std::string master_sim_binary() {
  const char* chosen = std::getenv("KN_MASTER_SIM");
  if (chosen == nullptr || *chosen == '\0') return binary("kontena-master-sim");
  if (!std::filesystem::exists(chosen))
    throw std::runtime_error(std::string("failed to find the master simulator KN_MASTER_SIM=") + chosen +
                             ": build it first (cmake --build --preset release --target kontena-master-sim)");
  return chosen;
}

void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(argv, Env{}, std::chrono::seconds(30));
  if (r.exit_code != 0) throw std::runtime_error("openssl " + args.front() + " failed: " + r.err);
}

template <class Stream>
RestReply exchange(Stream& stream, http::request<http::string_body>& req) {
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  RestReply reply;
  reply.status = static_cast<int>(res.result_int());
  reply.raw = res.body();
  reply.body = reply.raw.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(reply.raw, nullptr, false);
  if (reply.body.is_discarded()) reply.body = nullptr;
  reply.header_kontena_version = std::string(res["X-Kontena-Version"]);
  return reply;
}

}  // namespace

TlsFiles make_tls_files(const std::filesystem::path& dir, const std::vector<std::string>& subject_alt_names) {
  TlsFiles f{dir / "ca.crt", dir / "server.crt", dir / "server.key"};
  const auto ca_key = dir / "ca.key";
  const auto csr = dir / "server.csr";
  const auto ext = dir / "server.ext";
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
           ca_key.string(), "-out", f.ca_cert.string(), "-days", "2", "-subj", "/CN=kontena-node test CA", "-addext",
           "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
  openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f.key.string(),
           "-out", csr.string(), "-subj", "/CN=127.0.0.1"});
  std::string sans;
  for (const auto& s : subject_alt_names) sans += (sans.empty() ? "" : ",") + s;
  {
    std::ofstream out(ext);
    out << "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
    if (!sans.empty()) out << "subjectAltName=" << sans << "\n";
  }
  openssl({"x509", "-req", "-in", csr.string(), "-CA", f.ca_cert.string(), "-CAkey", ca_key.string(), "-set_serial",
           std::to_string(std::random_device{}() & 0x7FFFFFFFU), "-out", f.cert.string(), "-days", "2", "-extfile",
           ext.string()});
  return f;
}

MasterSim::MasterSim(MasterSimOptions options) : options_(std::move(options)) {
  if (options_.grid_token.empty()) options_.grid_token = random_token(32);
  record_secret(options_.grid_token);
  record_secret(options_.api_token);
  write_private_file(grid_token_file(), options_.grid_token + "\n");
  std::vector<std::string> argv{master_sim_binary(),
                                "--listen", "127.0.0.1", "--port", "0",
                                "--port-file", (dir_ / "port").string(),
                                "--grid", options_.grid,
                                "--grid-token-file", grid_token_file().string(),
                                "--master-version", options_.master_version};
  if (!options_.api_token.empty()) {
    write_private_file(dir_ / "api-token", options_.api_token + "\n");
    argv.insert(argv.end(), {"--api-token-file", (dir_ / "api-token").string()});
  }
  if (options_.tls) {
    tls_ = make_tls_files(dir_.path());
    argv.insert(argv.end(), {"--tls-cert", tls_.cert.string(), "--tls-key", tls_.key.string()});
  }
  argv.insert(argv.end(), options_.args.begin(), options_.args.end());
  process_ = std::make_unique<Process>(argv, Env{}, dir_ / "out", dir_ / "err");
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  const auto port = wait_for_port_file(dir_ / "port", *process_);
  if (!port) throw std::runtime_error("master simulator did not start: " + read_text(dir_ / "err"));
  port_ = *port;
  while (std::chrono::steady_clock::now() < end) {
    try {
      if (rest("GET", "/v1/ping", nullptr, false).status == 200) return;
    } catch (const std::exception&) {
      // not answering yet
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("master simulator did not answer: " + read_text(dir_ / "err"));
}

MasterSim::~MasterSim() {
  if (!process_ || !process_->running()) return;
  process_->signal(SIGTERM);
  process_->wait_for(std::chrono::seconds(5));
}

int MasterSim::stop() {
  process_->signal(SIGTERM);
  return process_->wait_for(std::chrono::seconds(5)).value_or(-1);
}

std::string MasterSim::url() const {
  return std::string(options_.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + "/";
}

std::string MasterSim::ws_url() const {
  return std::string(options_.tls ? "wss" : "ws") + "://127.0.0.1:" + std::to_string(port_) + "/";
}

std::string MasterSim::log() const { return read_text(dir_ / "err"); }

Env MasterSim::env() const {
  Env e;
  e.set["KONTENA_URL"] = url();
  e.set["KONTENA_TOKEN_FILE"] = grid_token_file().string();
  if (options_.tls) e.set["SSL_CERT_FILE"] = tls_.ca_cert.string();
  e.unset = {"KONTENA_URI", "KONTENA_TOKEN", "KONTENA_NODE_TOKEN", "KONTENA_NODE_TOKEN_FILE", "http_proxy",
             "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
  if (!options_.tls) e.unset.push_back("SSL_CERT_FILE");
  return e;
}

RestReply MasterSim::rest(const std::string& method, const std::string& target, const nlohmann::json& body,
                          bool authorize) const {
  const auto verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) throw std::invalid_argument("unknown HTTP method " + method);
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port_));
  req.set(http::field::accept, "application/json");
  if (authorize && !options_.api_token.empty()) req.set(http::field::authorization, "Bearer " + options_.api_token);
  if (!body.is_null()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body.dump();
  }
  req.keep_alive(false);
  req.prepare_payload();

  asio::io_context io;
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_));
  if (!options_.tls) {
    tcp::socket socket(io);
    socket.connect(endpoint);
    auto reply = exchange(socket, req);
    beast::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    return reply;
  }
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(tls_.ca_cert.string());
  ctx.set_verify_mode(asio::ssl::verify_peer);
  beast::ssl_stream<tcp::socket> stream(io, ctx);
  stream.set_verify_callback(asio::ssl::host_name_verification("127.0.0.1"));
  stream.next_layer().connect(endpoint);
  stream.handshake(asio::ssl::stream_base::client);
  auto reply = exchange(stream, req);
  beast::error_code ignored;
  stream.shutdown(ignored);
  return reply;
}

nlohmann::json MasterSim::checked(const std::string& method, const std::string& target,
                                  const nlohmann::json& body) const {
  auto r = rest(method, target, body, true);
  if (r.status < 200 || r.status > 299) {
    throw std::runtime_error("master simulator " + method + " " + target + ": HTTP " + std::to_string(r.status) +
                             " " + r.raw);
  }
  return r.body;
}

nlohmann::json MasterSim::nodes() const { return checked("GET", "/v1/grids/" + grid() + "/nodes", nullptr)["nodes"]; }

nlohmann::json MasterSim::node(const std::string& name_or_id) const {
  auto r = rest("GET", "/v1/nodes/" + grid() + "/" + name_or_id, nullptr, true);
  if (r.status == 404) return nullptr;
  if (r.status != 200) throw std::runtime_error("master simulator GET node " + name_or_id + ": HTTP " + r.raw);
  return r.body;
}

nlohmann::json MasterSim::create_node(const std::string& name, const std::string& token,
                                      const std::vector<std::string>& labels) const {
  nlohmann::json body{{"name", name}};
  if (!token.empty()) body["token"] = token;
  if (!labels.empty()) body["labels"] = labels;
  auto node = checked("POST", "/v1/grids/" + grid() + "/nodes", body);
  if (node.contains("token") && node["token"].is_string()) record_secret(node["token"].get<std::string>());
  return node;
}

nlohmann::json MasterSim::update_node(const std::string& name_or_id, const nlohmann::json& changes) const {
  return checked("PUT", "/v1/nodes/" + grid() + "/" + name_or_id, changes);
}

void MasterSim::remove_node(const std::string& name_or_id) const {
  checked("DELETE", "/v1/nodes/" + grid() + "/" + name_or_id, nullptr);
}

nlohmann::json MasterSim::close(const std::string& node, int code, const std::string& reason) const {
  return checked("POST", "/v1/_sim/close", {{"node", node}, {"code", code}, {"reason", reason}});
}

nlohmann::json MasterSim::stats() const { return checked("GET", "/v1/_sim/stats", nullptr); }

nlohmann::json MasterSim::node_api_calls() const { return checked("GET", "/v1/_sim/node_api_calls", nullptr); }

void MasterSim::node_api_fault(int status, int times) const {
  checked("POST", "/v1/_sim/node_api_fault", nlohmann::json{{"status", status}, {"times", times}});
}

nlohmann::json MasterSim::configure(const nlohmann::json& changes) const {
  return checked("POST", "/v1/_sim/config", changes);
}

nlohmann::json MasterSim::request(const std::string& node, const std::string& method, const nlohmann::json& params,
                                  std::chrono::milliseconds timeout) const {
  return checked("POST", "/v1/_sim/request",
                 {{"node", node}, {"method", method}, {"params", params}, {"timeout_ms", timeout.count()}});
}

nlohmann::json MasterSim::create_stack(const nlohmann::json& stack) const {
  return checked("POST", "/v1/grids/" + grid() + "/stacks", stack);
}

nlohmann::json MasterSim::service(const std::string& stack, const std::string& name) const {
  auto r = rest("GET", "/v1/services/" + grid() + "/" + stack + "/" + name, nullptr, true);
  if (r.status == 404) return nullptr;
  if (r.status != 200) throw std::runtime_error("master simulator GET service " + stack + "/" + name + ": HTTP " + r.raw);
  return r.body;
}

nlohmann::json MasterSim::create_volume(const std::string& name, const std::string& scope, const std::string& driver,
                                        const nlohmann::json& driver_opts) const {
  return checked("POST", "/v1/volumes/" + grid(),
                 {{"name", name}, {"scope", scope}, {"driver", driver}, {"driver_opts", driver_opts}});
}

nlohmann::json MasterSim::volume(const std::string& name) const {
  auto r = rest("GET", "/v1/volumes/" + grid() + "/" + name, nullptr, true);
  if (r.status == 404) return nullptr;
  if (r.status != 200) throw std::runtime_error("master simulator GET volume " + name + ": HTTP " + r.raw);
  return r.body;
}

void MasterSim::remove_volume(const std::string& name) const {
  checked("DELETE", "/v1/volumes/" + grid() + "/" + name, nullptr);
}

void MasterSim::remove_stack(const std::string& stack) const {
  checked("DELETE", "/v1/stacks/" + grid() + "/" + stack, nullptr);
}

std::string MasterSim::exec_start(const std::string& container, const std::vector<std::string>& cmd, bool tty,
                                  bool stdin) const {
  nlohmann::json body{{"container", container}, {"grid", grid()}, {"tty", tty}, {"stdin", stdin}};
  if (!cmd.empty()) body["cmd"] = cmd;
  return checked("POST", "/v1/_sim/exec", body).at("id").get<std::string>();
}

void MasterSim::exec_input(const std::string& session, const nlohmann::json& data) const {
  checked("POST", "/v1/_sim/exec/" + session + "/input", {{"stdin", data}});
}

void MasterSim::exec_resize(const std::string& session, int width, int height) const {
  checked("POST", "/v1/_sim/exec/" + session + "/resize", {{"width", width}, {"height", height}});
}

void MasterSim::exec_terminate(const std::string& session) const {
  checked("POST", "/v1/_sim/exec/" + session + "/terminate", nlohmann::json::object());
}

nlohmann::json MasterSim::exec_session(const std::string& session) const {
  return checked("GET", "/v1/_sim/exec/" + session, nullptr);
}

nlohmann::json MasterSim::containers() const { return checked("GET", "/v1/_sim/containers", nullptr)["containers"]; }

nlohmann::json MasterSim::service_logs(const std::string& stack, const std::string& name, int limit,
                                       const std::string& from) const {
  std::string target = "/v1/services/" + grid() + "/" + stack + "/" + name + "/container_logs?limit=" +
                       std::to_string(limit);
  if (!from.empty()) target += "&from=" + from;
  return checked("GET", target, nullptr)["logs"];
}

nlohmann::json MasterSim::all_service_logs(const std::string& stack, const std::string& name) const {
  nlohmann::json all = nlohmann::json::array();
  // The first page must start at the oldest line: from the smallest id there is.
  std::string from = "0";
  for (;;) {
    auto page = service_logs(stack, name, 10000, from);
    if (page.empty()) return all;
    for (auto& line : page) all.push_back(line);
    from = all.back().value("id", std::string());
  }
}

nlohmann::json MasterSim::service_containers(const std::string& stack, const std::string& name) const {
  auto r = rest("GET", "/v1/services/" + grid() + "/" + stack + "/" + name + "/containers", nullptr, true);
  if (r.status == 404) return nlohmann::json::array();
  if (r.status != 200) throw std::runtime_error("master simulator GET containers of " + stack + "/" + name + ": HTTP " + r.raw);
  return r.body["containers"];
}

nlohmann::json MasterSim::service_stats(const std::string& stack, const std::string& name) const {
  return checked("GET", "/v1/services/" + grid() + "/" + stack + "/" + name + "/container_stats", nullptr)["stats"];
}

bool MasterSim::wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  return test::wait_until(condition, timeout);
}

bool MasterSim::wait_for_status(const std::string& name_or_id, const std::string& status,
                                std::chrono::milliseconds timeout) const {
  return wait_until(
      [&] {
        auto n = node(name_or_id);
        return !n.is_null() && n.value("status", "") == status;
      },
      timeout);
}

}  // namespace kn::test
