#include "http/curl_transport.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace kn::http {
namespace {

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("curl_global_init failed");
  });
}

struct Sink {
  std::string body;
  std::size_t cap = 0;
  bool overflow = false;
  std::map<std::string, std::string>* headers = nullptr;
  // Streaming only: where 2xx bodies go, and what happened since the last poll.
  CURL* easy = nullptr;
  const ChunkHandler* on_chunk = nullptr;
  bool delivered = false;
  bool stopped = false;
  std::exception_ptr thrown;  // from on_chunk: carried across libcurl's C frames, rethrown after
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * count;
  if (sink->on_chunk != nullptr) {
    long status = 0;  // known here: libcurl has parsed the headers before the first body byte
    curl_easy_getinfo(sink->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      sink->delivered = true;
      try {
        if ((*sink->on_chunk)(std::string_view(data, n))) return n;
      } catch (...) {
        sink->thrown = std::current_exception();
      }
      sink->stopped = true;
      return 0;  // CURLE_WRITE_ERROR ends the transfer; perform_stream reports it as a stop
    }
  }
  if (sink->body.size() + n > sink->cap) {
    sink->overflow = true;
    return 0;  // makes curl fail the transfer with CURLE_WRITE_ERROR
  }
  sink->body.append(data, n);
  return n;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    sink->headers->clear();  // a new response (after 100-continue or a redirect)
    return n;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name(line.substr(0, colon));
  std::ranges::transform(name, name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
  (*sink->headers)[name] = std::string(value);
  return n;
}

Errc classify(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return Errc::http_connect;
    case CURLE_OPERATION_TIMEDOUT: return Errc::http_timeout;
    default: return Errc::http_failed;
  }
}

}  // namespace

void StreamInterrupt::interrupt() {
  flag_ = true;
  std::lock_guard lock(mutex_);
  if (wake_) wake_();
}

void StreamInterrupt::attach(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  wake_ = std::move(wake);
}

void StreamInterrupt::detach() {
  std::lock_guard lock(mutex_);
  wake_ = nullptr;
}

struct CurlTransport::Impl {
  CURL* easy = nullptr;
};

CurlTransport::CurlTransport() : impl_(std::make_unique<Impl>()) {
  global_init_once();
  impl_->easy = curl_easy_init();
  if (impl_->easy == nullptr) throw std::runtime_error("curl_easy_init failed");
}

CurlTransport::~CurlTransport() { curl_easy_cleanup(impl_->easy); }

namespace {

struct SlistFree {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistFree>;
struct EasyFree {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
using EasyHandle = std::unique_ptr<CURL, EasyFree>;

// A curl multi handle with easy handles added to it. Removes them before cleaning up, the
// order curl_multi_cleanup(3) asks for (https://curl.se/libcurl/c/curl_multi_cleanup.html).
class MultiHandle {
 public:
  MultiHandle() : multi_(curl_multi_init()) {
    if (multi_ == nullptr) throw std::runtime_error("curl_multi_init failed");
  }
  ~MultiHandle() {
    for (CURL* easy : added_) curl_multi_remove_handle(multi_, easy);
    curl_multi_cleanup(multi_);
  }
  MultiHandle(const MultiHandle&) = delete;
  MultiHandle& operator=(const MultiHandle&) = delete;

  CURLM* get() const { return multi_; }
  void add(CURL* easy) {
    curl_multi_add_handle(multi_, easy);
    added_.push_back(easy);
  }

 private:
  CURLM* multi_;
  std::vector<CURL*> added_;
};

// Sets every option of one exchange on `easy`; the returned header list must outlive the transfer.
HeaderList configure(CURL* easy, const Request& request, Sink& sink, char* error_buffer) {
  curl_easy_reset(easy);  // keeps the connection cache, clears options
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &sink);
  if (!request.allow_proxy) {
    // libcurl honours http_proxy/HTTPS_PROXY/ALL_PROXY from the environment; IMDS and the
    // Docker socket must never be sent to a proxy (it would answer for the proxy's host).
    curl_easy_setopt(easy, CURLOPT_PROXY, "");
    curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
  }
  if (!request.unix_socket.empty()) curl_easy_setopt(easy, CURLOPT_UNIX_SOCKET_PATH, request.unix_socket.c_str());
  if (!request.tls.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, request.tls.ca_file.c_str());
  if (!request.tls.verify) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  }

  if (request.method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (!request.body.empty() || request.method == "PUT" || request.method == "POST") {
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    }
  }

  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    const std::string line = name + ": " + value;
    headers = curl_slist_append(headers, line.c_str());
  }
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  return HeaderList(headers);
}

// The outcome of a finished transfer on `easy`.
Result<Response> conclude(CURL* easy, CURLcode code, const Request& request, Sink& sink, Response response,
                          const char* error_buffer) {
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
  curl_off_t elapsed_us = 0;
  curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &elapsed_us);
  response.elapsed = std::chrono::milliseconds(elapsed_us / 1000);

  if (sink.overflow) {
    return fail(Errc::http_too_large, "response larger than " + std::to_string(request.max_response_bytes) + " bytes");
  }
  if (code != CURLE_OK && !sink.stopped) {
    std::string why = error_buffer[0] != '\0' ? std::string(error_buffer) : curl_easy_strerror(code);
    return fail(classify(code), why);
  }
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &response.status);
  response.body = std::move(sink.body);
  return response;
}

}  // namespace

Result<Response> CurlTransport::perform(const Request& request) {
  CURL* easy = impl_->easy;
  Response response;
  Sink sink{.cap = request.max_response_bytes, .headers = &response.headers};
  char error_buffer[CURL_ERROR_SIZE] = {};
  const auto headers = configure(easy, request, sink, error_buffer);
  const CURLcode code = curl_easy_perform(easy);
  return conclude(easy, code, request, sink, std::move(response), error_buffer);
}

Result<Response> CurlTransport::perform_stream(const Request& request, const ChunkHandler& on_chunk) {
  CURL* easy = impl_->easy;
  Response response;
  Sink sink{.cap = request.max_response_bytes, .headers = &response.headers, .easy = easy, .on_chunk = &on_chunk};
  char error_buffer[CURL_ERROR_SIZE] = {};
  const auto headers = configure(easy, request, sink, error_buffer);

  CURLcode code = CURLE_OK;
  {
    MultiHandle multi;  // removing the handle at the end of this scope ends a transfer still running
    multi.add(easy);
    // With an interrupt the poll sleeps a whole idle tick: curl_multi_wakeup ends it early.
    // https://curl.se/libcurl/c/curl_multi_wakeup.html
    StreamInterrupt* interrupt = request.interrupt;
    const auto tick = interrupt != nullptr ? request.idle_tick : std::chrono::milliseconds(100);
    struct Detach {
      StreamInterrupt* i;
      ~Detach() {
        if (i != nullptr) i->detach();
      }
    } detach{interrupt};
    if (interrupt != nullptr) interrupt->attach([m = multi.get()] { curl_multi_wakeup(m); });
    for (;;) {
      if (interrupt != nullptr && interrupt->interrupted()) {
        sink.stopped = true;
        break;
      }
      int running = 0;
      if (const CURLMcode mc = curl_multi_perform(multi.get(), &running); mc != CURLM_OK) {
        return fail(Errc::http_failed, curl_multi_strerror(mc));
      }
      if (running == 0) {
        int queued = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi.get(), &queued)) {
          if (msg->msg == CURLMSG_DONE) code = msg->data.result;
        }
        break;
      }
      if (sink.thrown) break;
      if (!sink.delivered && !on_chunk(std::string_view())) {
        sink.stopped = true;  // the transfer ends when the handle is removed
        break;
      }
      sink.delivered = false;
      curl_multi_poll(multi.get(), nullptr, 0, static_cast<int>(tick.count()), nullptr);
    }
  }
  if (sink.thrown) {
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
    std::rethrow_exception(sink.thrown);
  }
  return conclude(easy, code, request, sink, std::move(response), error_buffer);
}

std::vector<Result<Response>> CurlTransport::perform_all(const std::vector<Request>& requests) {
  struct Exchange {
    EasyHandle easy;
    Response response;
    Sink sink;
    std::array<char, CURL_ERROR_SIZE> error{};
    HeaderList headers;
    CURLcode code = CURLE_OK;
  };
  std::vector<Exchange> exchanges(requests.size());  // never resized: the sinks point into it
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto& ex = exchanges[i];
    ex.easy.reset(curl_easy_init());
    if (!ex.easy) throw std::runtime_error("curl_easy_init failed");
    ex.sink = Sink{.cap = requests[i].max_response_bytes, .headers = &ex.response.headers};
    ex.headers = configure(ex.easy.get(), requests[i], ex.sink, ex.error.data());
    curl_easy_setopt(ex.easy.get(), CURLOPT_PRIVATE, &ex);
  }

  std::vector<Result<Response>> outcomes;
  outcomes.reserve(requests.size());
  MultiHandle multi;
  for (auto& ex : exchanges) multi.add(ex.easy.get());
  // Each handle's own CURLOPT_TIMEOUT_MS bounds the loop.
  for (int running = 1; running > 0;) {
    if (const CURLMcode mc = curl_multi_perform(multi.get(), &running); mc != CURLM_OK) {
      const Failure failure = fail(Errc::http_failed, curl_multi_strerror(mc));
      outcomes.assign(requests.size(), failure);
      return outcomes;
    }
    if (running > 0) curl_multi_poll(multi.get(), nullptr, 0, 1000, nullptr);
  }
  int queued = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi.get(), &queued)) {
    if (msg->msg != CURLMSG_DONE) continue;
    Exchange* ex = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &ex);
    ex->code = msg->data.result;
  }
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto& ex = exchanges[i];
    outcomes.push_back(
        conclude(ex.easy.get(), ex.code, requests[i], ex.sink, std::move(ex.response), ex.error.data()));
  }
  return outcomes;
}

}  // namespace kn::http
