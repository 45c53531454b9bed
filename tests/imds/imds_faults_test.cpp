// IMDS faults of docs/fault-matrix.md that imds_client_test.cpp does not already cover: a
// connect that never completes, a body that trickles in, a 401 that never ends, a malformed
// or cut identity document, and a metadata service that issues no tokens. Each case prints
// what it measured (WARN), which the matrix quotes.
#include "http/curl_transport.hpp"
#include "imds/imds_client.hpp"
#include "imds/placement_reader.hpp"
#include "support/catch_result.hpp"
#include "support/imds_sim.hpp"
#include "support/process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

using namespace std::chrono_literals;
using kn::Errc;
using kn::test::ImdsSim;
using kn::test::ms_since;

namespace {

struct Reader {
  explicit Reader(kn::imds::Options o) : client(transport, clock, std::move(o)) {}
  kn::http::CurlTransport transport;
  kn::SteadyClock clock;
  kn::imds::Client client;
  kn::Result<kn::Placement> placement() { return kn::imds::read_placement(client, {}, client.deadline_from_now()); }
};

kn::imds::Options quick(std::string endpoint) {
  kn::imds::Options o;
  o.endpoint = std::move(endpoint);
  o.request_timeout = 300ms;
  o.deadline = 1500ms;
  return o;
}

// A loopback listener whose accept queue is full: the kernel drops further SYNs, so a connect
// to it neither succeeds nor is refused, as with a link-local address nobody answers at boot.
class SilentListener {
 public:
  SilentListener() {
    listener_ = make_socket();
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(listener_, 0) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("failed to set up the silent listener");
    }
    port_ = ntohs(addr.sin_port);
    filler_ = make_socket();  // a backlog of 0 holds one connection: this one fills it
    if (::connect(filler_, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      throw std::runtime_error("failed to fill the silent listener's queue");
    }
  }
  ~SilentListener() {
    ::close(filler_);
    ::close(listener_);
  }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  static int make_socket() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("failed to create a socket");
    return fd;
  }
  int listener_ = -1;
  int filler_ = -1;
  int port_ = 0;
};

}  // namespace

TEST_CASE("imds faults: a connect that never completes times out per attempt and fails within the deadline",
          "[imds][faults]") {
  SilentListener silent;
  Reader r(quick(silent.endpoint()));
  const auto start = std::chrono::steady_clock::now();
  auto p = r.placement();
  const auto elapsed = ms_since(start);
  WARN("connect timeout: failed after " << elapsed << " ms (deadline 1500 ms, request timeout 300 ms)");
  REQUIRE_FALSE(p);
  CHECK(p.error().is(Errc::imds_unavailable));
  CHECK(p.error().exit_code() == 69);
  CHECK_THAT(p.error().message, Catch::Contains(silent.endpoint()) && Catch::Contains("attempts"));
  CHECK(elapsed >= 1400);
  CHECK(elapsed < 1500 + 1000);  // the last attempt is cut at the deadline, not left to its own timeout
}

TEST_CASE("imds faults: a body that trickles in past the request timeout is cut and retried within the deadline",
          "[imds][faults]") {
  ImdsSim sim;
  sim.configure({{"trickle_ms", 200}});  // 5 bytes a second: a token takes over 10 s
  Reader r(quick(sim.endpoint()));
  const auto start = std::chrono::steady_clock::now();
  auto p = r.placement();
  const auto elapsed = ms_since(start);
  const auto attempts = sim.requests().size();
  WARN("trickle at 5 B/s: failed after " << elapsed << " ms, " << attempts << " requests");
  REQUIRE_FALSE(p);
  CHECK(p.error().is(Errc::imds_unavailable));
  CHECK_THAT(p.error().message, Catch::Contains("within 1.5 s"));
  CHECK(attempts >= 2);  // each stalled attempt was cut at the request timeout and tried again
  CHECK(elapsed < 1500 + 1000);
}

TEST_CASE("imds faults: a slow but steady body within the request timeout is read whole", "[imds][faults]") {
  ImdsSim sim;
  sim.configure({{"trickle_ms", 1}});
  auto o = quick(sim.endpoint());
  o.request_timeout = 5s;
  o.deadline = 20s;
  Reader r(o);
  const auto start = std::chrono::steady_clock::now();
  auto p = r.placement();
  WARN("trickle at about 1 kB/s: placement read in " << ms_since(start) << " ms");
  REQUIRE(p);
  CHECK(p->region == "us-east-1");
  CHECK(p->availability_zone_id == "use1-az4");
}

TEST_CASE("imds faults: a 401 that never ends is retried with backoff, not in a hot loop, and fails naming it",
          "[imds][faults]") {
  ImdsSim sim({"--mode", "required", "--transient-401", "100000"});
  auto o = quick(sim.endpoint());
  o.deadline = 2s;
  Reader r(o);
  const auto start = std::chrono::steady_clock::now();
  auto p = r.placement();
  const auto elapsed = ms_since(start);
  const auto requests = sim.requests();
  const auto puts = std::count_if(requests.begin(), requests.end(), [](const auto& q) { return q["method"] == "PUT"; });
  WARN("401 loop: failed after " << elapsed << " ms, " << requests.size() << " requests (" << puts << " token PUTs)");
  REQUIRE_FALSE(p);
  CHECK(p.error().is(Errc::imds_unavailable));
  CHECK_THAT(p.error().message, Catch::Contains("401"));
  CHECK(puts >= 2);                 // a fresh token was tried
  CHECK(requests.size() <= 40);     // backoff (100 ms doubling to 1 s), not thousands of requests
}

TEST_CASE("imds faults: a malformed or cut identity document is refused at once naming the document",
          "[imds][faults]") {
  const std::string doc = GENERATE(as<std::string>{},
                                   "{\n  \"region\" : \"us-east-1\",\n  \"availabilityZone\" : \"us-ea",  // cut
                                   "<html><body>gateway error</body></html>",                        // not JSON
                                   "[\"us-east-1\"]");                                               // not an object
  ImdsSim sim;
  sim.configure({{"identity_document", doc}});
  Reader r(quick(sim.endpoint()));
  auto p = r.placement();
  INFO(doc);
  REQUIRE_FALSE(p);
  CHECK(p.error().is(Errc::imds_bad_response));
  CHECK_THAT(p.error().message, Catch::Contains("failed to parse the instance identity document"));
  CHECK(sim.requests().size() == 4);  // token and the three reads; a bad document is not asked again
}

TEST_CASE("imds faults: a metadata service without IMDSv2 (token path 404) is read with IMDSv1", "[imds][faults]") {
  ImdsSim sim({"--mode", "v1-only"});
  Reader r(quick(sim.endpoint()));
  auto p = r.placement();
  REQUIRE(p);
  CHECK(p->availability_zone == "us-east-1a");
  CHECK(r.client.used_v1());
  const auto requests = sim.requests();
  REQUIRE_FALSE(requests.empty());
  CHECK(requests[0]["method"] == "PUT");
  CHECK(requests[0]["status"] == 404);
  CHECK(std::none_of(requests.begin() + 1, requests.end(), [](const auto& q) { return q["token"].template get<bool>(); }));
}

TEST_CASE("imds faults: without IMDSv2 and with IMDSv1 disabled the error names the setting", "[imds][faults]") {
  ImdsSim sim({"--mode", "v1-only"});
  auto o = quick(sim.endpoint());
  o.v1_fallback = false;
  Reader r(o);
  auto p = r.placement();
  REQUIRE_FALSE(p);
  CHECK_THAT(p.error().message, Catch::Contains("AWS_EC2_METADATA_V1_DISABLED"));
  CHECK(sim.requests().size() == 1);  // nothing asked without a token
}

TEST_CASE("imds faults: a burst of 429s (throttling) is ridden out with backoff and the read succeeds",
          "[imds][faults]") {
  ImdsSim sim({"--fail-429", "8", "--retry-after", "0"});
  auto o = quick(sim.endpoint());
  o.deadline = 20s;
  Reader r(o);
  const auto start = std::chrono::steady_clock::now();
  auto p = r.placement();
  const auto elapsed = ms_since(start);
  const auto requests = sim.requests();
  const auto throttled = std::count_if(requests.begin(), requests.end(), [](const auto& q) { return q["status"] == 429; });
  WARN("429 burst: " << throttled << " throttled answers, placement read after " << elapsed << " ms, "
                     << requests.size() << " requests");
  REQUIRE(p);
  CHECK(throttled == 8);
  CHECK(p->availability_zone == "us-east-1a");
}

TEST_CASE("imds faults: a connection dropped in the middle of a body is retried and the read succeeds",
          "[imds][faults]") {
  ImdsSim sim;
  sim.configure({{"cut_bodies", 3}});  // the token and two of the three reads arrive cut
  Reader r(quick(sim.endpoint()));
  const auto start = std::chrono::steady_clock::now();
  auto p = r.placement();
  const auto elapsed = ms_since(start);
  WARN("bodies cut half-way: placement read after " << elapsed << " ms, " << sim.requests().size() << " requests");
  REQUIRE(p);
  CHECK(p->availability_zone_id == "use1-az4");
  CHECK(sim.requests().size() >= 7);  // 4 requests plus the 3 that were cut, asked again
}
