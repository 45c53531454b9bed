#include "support/imds_sim.hpp"

#include "http/curl_transport.hpp"

#include <chrono>
#include <csignal>
#include <stdexcept>
#include <thread>

namespace kn::test {

ImdsSim::ImdsSim(std::vector<std::string> args, bool wait_until_listening) {
  std::vector<std::string> argv{KN_PYTHON, std::string(KN_SOURCE_DIR) + "/tests/support/imds_sim.py", "--listen",
                                "127.0.0.1", "--port", "0", "--port-file", (dir_ / "port").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  process_ = std::make_unique<Process>(argv, Env{}, dir_ / "out", dir_ / "err");
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  const auto port = wait_for_port_file(dir_ / "port", *process_);
  if (!port) throw std::runtime_error("IMDS simulator did not start: " + read_text(dir_ / "err"));
  port_ = *port;
  if (!wait_until_listening) return;
  http::CurlTransport transport;
  while (std::chrono::steady_clock::now() < end) {
    http::Request req;
    req.url = endpoint() + "/_sim/config";
    if (auto r = transport.perform(req); r && r->status == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("IMDS simulator did not answer: " + read_text(dir_ / "err"));
}

ImdsSim::~ImdsSim() {
  process_->signal(SIGTERM);
  process_->wait_for(std::chrono::seconds(3));
}

nlohmann::json ImdsSim::control(const std::string& method, const std::string& path, const nlohmann::json& body) const {
  http::CurlTransport transport;
  http::Request req;
  req.method = method;
  req.url = endpoint() + "/_sim/" + path;
  req.timeout = std::chrono::seconds(5);
  if (!body.is_null()) {
    req.body = body.dump();
    req.headers.emplace_back("Content-Type", "application/json");
  }
  auto r = transport.perform(req);
  if (!r) throw std::runtime_error("IMDS simulator control " + path + ": " + r.error().message);
  if (r->status != 200) throw std::runtime_error("IMDS simulator control " + path + ": HTTP " + std::to_string(r->status) + " " + r->body);
  if (r->body.empty()) return {};
  return nlohmann::json::parse(r->body);
}

nlohmann::json ImdsSim::requests() const { return control("GET", "requests"); }
void ImdsSim::clear_requests() const { control("DELETE", "requests"); }
nlohmann::json ImdsSim::configure(const nlohmann::json& changes) const { return control("POST", "config", changes); }

Env ImdsSim::env() const {
  Env e;
  e.set["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = endpoint();
  e.set["KONTENA_CONFIG"] = "/dev/null";
  e.unset = {"AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_V1_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
             "KONTENA_NODE_LABELS", "KONTENA_TOKEN", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"};
  return e;
}

}  // namespace kn::test

