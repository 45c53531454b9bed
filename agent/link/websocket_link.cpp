#include "link/websocket_link.hpp"

#include "core/logging.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <deque>
#include <exception>
#include <map>
#include <random>

namespace kn::master {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace ssl = boost::asio::ssl;
using asio::awaitable;
using asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::string rfc3339_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t tt = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return {buf, n};
}

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  virtual void start() = 0;
  // `written` (may be empty) runs once: true after the frame's write, false if it never happens.
  virtual void send(rpc::Bytes frame, std::function<void(bool)> written) = 0;
  virtual void ping() = 0;
  virtual void close(std::uint16_t code, std::string reason) = 0;
  virtual void abort() = 0;
};

}  // namespace

class MasterLink::Impl {
 public:
  Impl(asio::io_context& ioc, asio::any_io_executor worker, LinkOptions options, SessionConfig session,
       LinkHooks hooks)
      : ioc_(ioc),
        worker_(std::move(worker)),
        options_(std::move(options)),
        hooks_(std::move(hooks)),
        rng_(std::random_device{}()),
        session_(std::move(session), clock_, [this] { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }) {
    timers_.reserve(kTimerCount);
    for (std::size_t i = 0; i < kTimerCount; ++i) timers_.emplace_back(ioc_);
  }

  Status configure_tls();
  void feed(const Event& ev);
  void report(unsigned gen, Event ev) {
    if (gen != gen_) return;  // a connection that was replaced or aborted
    feed(ev);
  }

  asio::io_context& ioc_;
  asio::any_io_executor worker_;
  LinkOptions options_;
  LinkHooks hooks_;
  SteadyClock clock_;
  std::mt19937_64 rng_;
  Session session_;
  std::optional<ssl::context> tls_;  // only for wss: an OpenSSL context costs memory
  std::vector<asio::steady_timer> timers_;
  std::array<unsigned, kTimerCount> timer_seq_{};
  std::shared_ptr<ConnectionBase> conn_;
  unsigned gen_ = 0;
  bool first_attempt_done_ = false;
  bool collecting_info_ = false;
  bool collecting_stats_ = false;
  std::uint64_t next_call_tag_ = 0;
  std::map<std::uint64_t, std::function<void(Result<rpc::Value>)>> calls_;  // by event::Call tag
  std::function<void(bool)> written_for_next_send_;  // notify_written: for the Send its Notify makes

 private:
  void execute(Action& a);
  void connect();
};

namespace {

template <class Ws>
class Connection final : public ConnectionBase, public std::enable_shared_from_this<Connection<Ws>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Ws, websocket::stream<beast::tcp_stream>>;

  template <class... Args>
  Connection(MasterLink::Impl& link, unsigned gen, Args&&... args)
      : link_(link), gen_(gen), ws_(std::forward<Args>(args)...) {}

  void start() override { asio::co_spawn(ws_.get_executor(), run(this->shared_from_this()), on_exit()); }

  ~Connection() override { drop_queue(); }

  void send(rpc::Bytes frame, std::function<void(bool)> written) override {
    enqueue(Out{Out::frame, std::move(frame), 0, {}, std::move(written)});
  }
  void ping() override { enqueue(Out{Out::ping, {}, 0, {}, {}}); }
  void close(std::uint16_t code, std::string reason) override {
    enqueue(Out{Out::close, {}, code, std::move(reason), {}});
  }
  void abort() override {
    aborted_ = true;
    drop_queue();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).close();
  }

 private:
  struct Out {
    enum Kind { frame, ping, close } kind;
    rpc::Bytes data;
    std::uint16_t code;
    std::string reason;
    std::function<void(bool)> written;  // frames only: MasterLink::notify_written
  };

  // Frames that will never be written tell their senders so.
  void drop_queue() {
    auto dropped = std::move(queue_);
    queue_.clear();
    for (auto& out : dropped) {
      if (out.written) out.written(false);
    }
  }

  void report(Event ev) {
    if (!aborted_) link_.report(gen_, std::move(ev));
  }

  // A coroutine that ends in an exception (a broken invariant, or bad_alloc) must not leave
  // the session waiting for a connection that is gone: report it as a lost link.
  auto on_exit() {
    return [self = this->shared_from_this()](const std::exception_ptr& e) {
      if (!e) return;
      std::string what = "unknown exception";
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        what = x.what();
      } catch (...) {
      }
      log::get("master")->error("internal error on the master connection: {}", what);
      if (self->open_) {
        self->open_ = false;
        self->report(event::Closed{0, "internal error: " + what});
      } else {
        self->report(event::ConnectFailed{self->connect_failure("internal error: " + what)});
      }
      self->abort();
    };
  }

  void enqueue(Out out) {
    if (aborted_ || !open_) {
      if (out.written) out.written(false);
      return;
    }
    queue_.push_back(std::move(out));
    if (!writing_) {
      writing_ = true;
      asio::co_spawn(ws_.get_executor(), write_loop(this->shared_from_this()), on_exit());
    }
  }

  Failure connect_failure(std::string what) const {
    return fail(Errc::master_unavailable,
                "failed to connect to the master at " + link_.options_.endpoint.url + ": " + std::move(what));
  }

  awaitable<void> write_loop(std::shared_ptr<Connection> self) {
    while (!queue_.empty() && !aborted_) {
      Out out = std::move(queue_.front());
      queue_.pop_front();
      beast::error_code ec;
      switch (out.kind) {
        case Out::frame:
          std::tie(ec, std::ignore) = co_await ws_.async_write(asio::buffer(out.data), kTuple);
          if (out.written) out.written(!ec);
          break;
        case Out::ping: {
          // kontena v1.5.4: agent/lib/kontena/websocket_client.rb: the ping payload is the current UTC time.
          const auto now = rfc3339_now();
          std::tie(ec) = co_await ws_.async_ping(websocket::ping_data(now.data(), now.size()), kTuple);
          break;
        }
        case Out::close: {
          websocket::close_reason reason;
          reason.code = out.code;
          reason.reason = beast::string_view(out.reason).substr(0, reason.reason.max_size());
          std::tie(ec) = co_await ws_.async_close(reason, kTuple);
          break;
        }
      }
      if (ec) {
        // The read loop sees the same failure and reports the close.
        log::get("master")->debug("write failed: {}", ec.message());
        drop_queue();
        break;
      }
    }
    writing_ = false;
    (void)self;
  }

  awaitable<void> run(std::shared_ptr<Connection> self) {
    const auto& opts = link_.options_;
    const auto& ep = opts.endpoint;
    auto& lowest = beast::get_lowest_layer(ws_);
    // Kontena-Connected-At is the time of this attempt, taken before dialling as the Kontena
    // agent does (kontena v1.5.4: agent/lib/kontena/websocket_client.rb connect!): the master's window for the past is
    // WEBSOCKET_TIMEOUT + KONTENA_CLOCK_SKEW precisely to allow for the dial and handshakes.
    auto headers = upgrade_headers(opts.identity, std::chrono::system_clock::now());
    tcp::resolver resolver(ws_.get_executor());
    auto [rec, results] = co_await resolver.async_resolve(ep.host, ep.port, kTuple);
    if (aborted_) co_return;
    if (rec) {
      report(event::ConnectFailed{connect_failure("cannot resolve " + ep.host + ": " + rec.message())});
      co_return;
    }
    lowest.expires_after(opts.connect_timeout);
    auto [cec, endpoint] = co_await lowest.async_connect(results, kTuple);
    if (aborted_) co_return;
    if (cec) {
      const auto why = cec == beast::error::timeout ? std::string("connect timed out") : cec.message();
      report(event::ConnectFailed{connect_failure(why)});
      co_return;
    }
    (void)endpoint;
    if constexpr (kTls) {
      auto& stream = ws_.next_layer();
      const std::string name = prepare_tls_stream(stream, opts.tls, ep.host);
      lowest.expires_after(opts.connect_timeout);
      auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kTuple);
      if (aborted_) co_return;
      if (hec) {
        report(event::ConnectFailed{connect_failure(tls_handshake_failure(stream, opts.tls, name, hec))});
        co_return;
      }
    }
    lowest.expires_never();  // the WebSocket stream has its own timeouts from here on
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(opts.handshake_timeout);
    timeouts.idle_timeout = websocket::stream_base::none();  // the session runs the keepalive
    timeouts.keep_alive_pings = false;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator([headers = std::move(headers)](websocket::request_type& req) {
      req.set(beast::http::field::user_agent, "kontena-agent/" KN_VERSION);
      for (const auto& [name, value] : headers) req.set(name, value);
    }));
    ws_.binary(true);
    ws_.read_message_max(16U << 20U);
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong) report(event::Pong{});
    });
    websocket::response_type response;
    auto [wec] = co_await ws_.async_handshake(response, ep.host_header, ep.target, kTuple);
    if (aborted_) co_return;
    if (wec) {
      std::string why;
      if (wec == websocket::error::upgrade_declined) {
        why = "the master answered HTTP " + std::to_string(response.result_int()) +
              " instead of upgrading (is KONTENA_URL the master's address?)";
      } else if (wec == beast::error::timeout) {
        why = "no WebSocket upgrade within the handshake timeout";
      } else {
        why = "WebSocket upgrade failed: " + wec.message();
      }
      report(event::ConnectFailed{connect_failure(why)});
      co_return;
    }
    open_ = true;
    report(event::Connected{});
    beast::flat_buffer buffer;
    for (;;) {
      auto [ec, n] = co_await ws_.async_read(buffer, kTuple);
      if (aborted_) co_return;
      if (ec) {
        open_ = false;
        const auto& reason = ws_.reason();
        if (ec == websocket::error::closed) {
          report(event::Closed{static_cast<int>(reason.code), std::string(reason.reason.data(), reason.reason.size())});
        } else {
          log::get("master")->debug("read failed: {}", ec.message());
          report(event::Closed{0, ec.message()});
        }
        co_return;
      }
      if (ws_.got_binary()) {
        const auto data = buffer.cdata();
        const auto* p = static_cast<const std::uint8_t*>(data.data());
        report(event::Frame{rpc::Bytes(p, p + data.size())});
      } else {
        log::get("master")->warn("dropped a text frame from the master (the protocol uses binary frames)");
      }
      buffer.consume(n);
    }
    (void)self;
  }

  MasterLink::Impl& link_;
  unsigned gen_;
  Ws ws_;
  bool aborted_ = false;
  bool open_ = false;
  bool writing_ = false;
  std::deque<Out> queue_;
};

using PlainWs = websocket::stream<beast::tcp_stream>;
using TlsWs = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace

Status MasterLink::Impl::configure_tls() {
  if (!options_.endpoint.tls) return {};
  auto ctx = make_tls_context(options_.tls, options_.endpoint.url);
  if (!ctx) return ctx.error();
  tls_.emplace(std::move(*ctx));
  return {};
}

void MasterLink::Impl::connect() {
  ++gen_;
  if (conn_) conn_->abort();
  if (options_.endpoint.tls) {
    auto c = std::make_shared<Connection<TlsWs>>(*this, gen_, ioc_, *tls_);
    conn_ = c;
  } else {
    auto c = std::make_shared<Connection<PlainWs>>(*this, gen_, ioc_);
    conn_ = c;
  }
  conn_->start();
  if (!first_attempt_done_) {
    first_attempt_done_ = true;
    if (hooks_.on_first_attempt) hooks_.on_first_attempt();
  }
}

void MasterLink::Impl::feed(const Event& ev) {
  auto actions = session_.handle(ev);
  for (auto& a : actions) execute(a);
}

void MasterLink::Impl::execute(Action& a) {
  std::visit(
      [this](auto& act) {
        using T = std::decay_t<decltype(act)>;
        if constexpr (std::is_same_v<T, action::Connect>) {
          connect();
        } else if constexpr (std::is_same_v<T, action::Send>) {
          // The Send of a notify_written carries its callback (set only while that Notify is fed).
          auto written = std::exchange(written_for_next_send_, {});
          if (conn_) {
            conn_->send(std::move(act.frame), std::move(written));
          } else if (written) {
            written(false);
          }
        } else if constexpr (std::is_same_v<T, action::Ping>) {
          if (conn_) conn_->ping();
        } else if constexpr (std::is_same_v<T, action::Close>) {
          if (conn_) conn_->close(act.code, act.reason);
        } else if constexpr (std::is_same_v<T, action::Abort>) {
          ++gen_;
          if (conn_) conn_->abort();
          conn_.reset();
        } else if constexpr (std::is_same_v<T, action::StartTimer>) {
          const auto i = static_cast<std::size_t>(act.timer);
          const auto seq = ++timer_seq_[i];
          timers_[i].expires_after(act.after);
          timers_[i].async_wait([this, i, seq, id = act.timer](const boost::system::error_code& ec) {
            if (ec || seq != timer_seq_[i]) return;
            feed(event::TimerFired{id});
          });
        } else if constexpr (std::is_same_v<T, action::CancelTimer>) {
          const auto i = static_cast<std::size_t>(act.timer);
          ++timer_seq_[i];
          timers_[i].cancel();
        } else if constexpr (std::is_same_v<T, action::CollectNodeInfo>) {
          if (collecting_info_ || !hooks_.collect_node_info) return;
          collecting_info_ = true;
          asio::post(worker_, [this] {
            auto info = hooks_.collect_node_info();
            asio::post(ioc_, [this, info = std::move(info)] {
              collecting_info_ = false;
              feed(event::NodeInfoCollected{info});
            });
          });
        } else if constexpr (std::is_same_v<T, action::CollectStats>) {
          if (collecting_stats_ || !hooks_.collect_stats) return;
          collecting_stats_ = true;
          asio::post(worker_, [this] {
            auto stats = hooks_.collect_stats();
            asio::post(ioc_, [this, stats = std::move(stats)] {
              collecting_stats_ = false;
              feed(event::StatsCollected{stats});
            });
          });
        } else if constexpr (std::is_same_v<T, action::SetStatus>) {
          if (hooks_.on_status) hooks_.on_status(act.text);
        } else if constexpr (std::is_same_v<T, action::Deliver>) {
          if (hooks_.on_master_call) {
            hooks_.on_master_call(act.call);
          } else if (act.call.request_id) {
            // served_methods without a handler: still answer, the master would wait 300 s.
            feed(event::Reply{*act.call.request_id,
                              fail(Errc::config_invalid, "no handler for " + act.call.method + " in this agent")});
          }
        } else if constexpr (std::is_same_v<T, action::CallDone>) {
          auto it = calls_.find(act.tag);
          if (it == calls_.end()) return;
          auto done = std::move(it->second);
          calls_.erase(it);  // before running it: `done` may call again
          if (done) done(std::move(act.result));
        } else if constexpr (std::is_same_v<T, action::Announce>) {
          if (hooks_.on_link_event) hooks_.on_link_event(act.event);
        } else if constexpr (std::is_same_v<T, action::Exit>) {
          ++gen_;
          if (conn_) conn_->abort();
          conn_.reset();
          for (auto& t : timers_) t.cancel();
          if (hooks_.on_exit) hooks_.on_exit(act);
        }
      },
      a);
}

MasterLink::MasterLink(asio::io_context& ioc, asio::any_io_executor worker, LinkOptions options,
                       SessionConfig session, LinkHooks hooks)
    : impl_(std::make_unique<Impl>(ioc, std::move(worker), std::move(options), std::move(session),
                                   std::move(hooks))) {}

MasterLink::~MasterLink() {
  if (impl_ && impl_->conn_) impl_->conn_->abort();
}

Status MasterLink::start() {
  if (auto st = impl_->configure_tls(); !st) return st;
  impl_->feed(event::Start{});
  return {};
}

void MasterLink::stop() { impl_->feed(event::Stop{}); }

const std::optional<rpc::Value>& MasterLink::node_info() const { return impl_->session_.node(); }

void MasterLink::call(std::string method, rpc::Value params, std::function<void(Result<rpc::Value>)> done) {
  asio::post(impl_->ioc_, [impl = impl_.get(), method = std::move(method), params = std::move(params),
                           done = std::move(done)]() mutable {
    const auto tag = ++impl->next_call_tag_;
    impl->calls_.emplace(tag, std::move(done));
    impl->feed(event::Call{tag, std::move(method), std::move(params)});
  });
}

void MasterLink::notify(std::string method, rpc::Value params) {
  asio::post(impl_->ioc_, [impl = impl_.get(), method = std::move(method), params = std::move(params)]() mutable {
    impl->feed(event::Notify{std::move(method), std::move(params)});
  });
}

void MasterLink::notify_written(std::string method, rpc::Value params, std::function<void(bool written)> done) {
  asio::post(impl_->ioc_, [impl = impl_.get(), method = std::move(method), params = std::move(params),
                           done = std::move(done)]() mutable {
    impl->written_for_next_send_ = std::move(done);
    impl->feed(event::Notify{std::move(method), std::move(params)});
    // Still here: the session dropped it (not connected), or there was no connection.
    if (auto dropped = std::exchange(impl->written_for_next_send_, {})) dropped(false);
  });
}

void MasterLink::reply(std::uint32_t request_id, Result<rpc::Value> result) {
  asio::post(impl_->ioc_, [impl = impl_.get(), request_id, result = std::move(result)]() mutable {
    impl->feed(event::Reply{request_id, std::move(result)});
  });
}

}  // namespace kn::master
