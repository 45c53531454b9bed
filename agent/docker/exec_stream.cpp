#include "docker/exec_stream.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/url.hpp>
#include <nlohmann/json.hpp>

#include <utility>

namespace kn::docker {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

constexpr std::size_t kMaxErrorBody = 64 * 1024;

std::size_t utf8_length(unsigned char lead) {
  if (lead >= 0xF0 && lead < 0xF8) return 4;
  if (lead >= 0xE0) return lead < 0xF0 ? 3 : 1;
  if (lead >= 0xC0) return 2;
  return 1;
}

}  // namespace

std::size_t utf8_complete_prefix(std::string_view bytes) {
  const std::size_t size = bytes.size();
  for (std::size_t back = 1; back <= 3 && back <= size; ++back) {
    const auto c = static_cast<unsigned char>(bytes[size - back]);
    if ((c & 0xC0U) == 0x80U) continue;  // a continuation byte: look further back
    if ((c & 0xC0U) != 0xC0U) return size;  // ASCII: complete
    return utf8_length(c) > back ? size - back : size;
  }
  return size;
}

std::shared_ptr<ExecStream> ExecStream::create(asio::any_io_executor executor, ExecStreamOptions options) {
  return std::shared_ptr<ExecStream>(new ExecStream(std::move(executor), std::move(options)));
}

ExecStream::ExecStream(asio::any_io_executor executor, ExecStreamOptions options)
    : options_(std::move(options)), socket_(executor), deadline_(executor), read_buffer_(options_.read_size) {}

void ExecStream::start(OnStarted on_started, OnOutput on_output, OnEnd on_end) {
  on_started_ = std::move(on_started);
  on_output_ = std::move(on_output);
  on_end_ = std::move(on_end);
  const std::string where = "unix://" + options_.socket_path;

  deadline_.expires_after(options_.start_timeout);
  deadline_.async_wait([self = shared_from_this(), where](boost::system::error_code ec) {
    if (ec || self->up_ || self->ended_) return;
    self->finish(fail(Errc::http_timeout, "failed to start exec " + self->options_.exec_id + " at " + where +
                                              ": no answer within " +
                                              std::to_string(self->options_.start_timeout.count()) + " ms"));
  });

  boost::system::error_code ec;
  socket_.connect(asio::local::stream_protocol::endpoint(options_.socket_path), ec);
  if (ec) {
    finish(fail(Errc::docker_unavailable, "failed to start exec " + options_.exec_id + ": cannot connect to " + where +
                                              ": " + ec.message() + " (is dockerd running?)"));
    return;
  }

  // The upgrade makes the engine answer 101 and hand over the connection as it stands.
  // https://docs.docker.com/engine/api/v1.41/#tag/Exec/operation/ExecStart
  boost::urls::url target;
  target.set_path("/v" + options_.api_version + "/exec");
  target.segments().push_back(options_.exec_id);
  target.segments().push_back("start");
  auto request = std::make_shared<http::request<http::string_body>>(http::verb::post, target.buffer(), 11);
  request->set(http::field::host, "api.moby.localhost");
  request->set(http::field::content_type, "application/json");
  request->set(http::field::connection, "Upgrade");
  request->set(http::field::upgrade, "tcp");
  request->body() = options_.tty ? R"({"Detach":false,"Tty":true})" : R"({"Detach":false,"Tty":false})";
  request->prepare_payload();

  http::async_write(socket_, *request, [self = shared_from_this(), request, where](boost::system::error_code wec,
                                                                                  std::size_t) {
    if (self->ended_) return;
    if (wec) {
      self->finish(fail(Errc::docker_unavailable,
                        "failed to start exec " + self->options_.exec_id + " at " + where + ": " + wec.message()));
      return;
    }
    self->parser_ = std::make_unique<Parser>();
    self->parser_->body_limit(kMaxErrorBody);
    http::async_read_header(
        self->socket_, self->buffer_, *self->parser_, [self, where](boost::system::error_code rec, std::size_t) {
          if (self->ended_) return;
          if (rec) {
            self->finish(fail(Errc::docker_unavailable, "failed to start exec " + self->options_.exec_id + " at " +
                                                            where + ": " + rec.message()));
            return;
          }
          const unsigned status = self->parser_->get().result_int();
          if (status == 101 || status == 200) {
            self->upgraded();
            return;
          }
          // An error answer ({"message": ...}): 404 no such exec, 409 container not running.
          http::async_read(self->socket_, self->buffer_, *self->parser_,
                           [self, status](boost::system::error_code, std::size_t) {
                             if (self->ended_) return;
                             const auto doc = nlohmann::json::parse(self->parser_->get().body(), nullptr, false);
                             const std::string message = doc.is_object() && doc.contains("message") &&
                                                                 doc["message"].is_string()
                                                             ? doc["message"].get<std::string>()
                                                             : "no message";
                             const Errc code = status == 404   ? Errc::docker_not_found
                                               : status == 409 ? Errc::docker_conflict
                                                               : Errc::docker_failed;
                             self->finish(fail(code, "failed to start exec " + self->options_.exec_id + ": " +
                                                         message + " (HTTP " + std::to_string(status) + ")"));
                           });
        });
  });
}

void ExecStream::upgraded() {
  up_ = true;
  deadline_.cancel();
  if (on_started_) on_started_();
  pump_writes();
  // Bytes the header parser read past the header are the first output.
  std::string early(static_cast<const char*>(buffer_.data().data()), buffer_.size());
  buffer_.consume(buffer_.size());
  parser_.reset();
  if (!early.empty() && !ended_) {
    deliver(early);
    return;
  }
  read();
}

void ExecStream::read() {
  if (ended_) return;
  socket_.async_read_some(asio::buffer(read_buffer_), [self = shared_from_this()](boost::system::error_code ec,
                                                                                   std::size_t n) {
    if (self->ended_) return;
    if (n > 0) {
      self->deliver(std::string_view(self->read_buffer_.data(), n));
      if (!ec) return;
    }
    if (ec == asio::error::eof || ec == asio::error::connection_reset) {
      // The engine closes the stream when the process has ended: flush what was held back.
      std::vector<ExecOutput> rest;
      for (int s : {kStdout, kStderr}) {
        if (!self->carry_[s].empty()) rest.push_back(ExecOutput{s, std::exchange(self->carry_[s], {}), false});
      }
      if (!rest.empty() && self->on_output_) self->on_output_(std::move(rest));
      self->finish({});
      return;
    }
    if (ec) {
      self->finish(fail(Errc::docker_unavailable,
                        "failed to read the output of exec " + self->options_.exec_id + ": " + ec.message()));
    }
  });
}

void ExecStream::deliver(std::string_view bytes) {
  std::vector<ExecOutput> out;
  auto add = [&](int stream, std::string_view piece, bool frame_start) {
    if (stream != kStdout && stream != kStderr) return;  // stdin echo is not output
    std::string data = std::exchange(carry_[stream], {});
    data.append(piece);
    const auto keep = utf8_complete_prefix(data);
    carry_[stream] = data.substr(keep);
    data.resize(keep);
    if (!data.empty() || frame_start) out.push_back(ExecOutput{stream, std::move(data), frame_start});
  };
  if (options_.tty) {
    add(kStdout, bytes, true);
  } else {
    demux_.feed(bytes, add);
  }
  if (out.empty() || !on_output_) {
    read();
    return;
  }
  paused_ = true;
  on_output_(std::move(out));
}

void ExecStream::resume() {
  if (!paused_ || ended_) return;
  paused_ = false;
  read();
}

void ExecStream::write(std::string data) {
  if (ended_ || close_stdin_ || data.empty()) return;
  outbox_.push_back(std::move(data));
  pump_writes();
}

void ExecStream::close_stdin() {
  close_stdin_ = true;
  pump_writes();
}

void ExecStream::pump_writes() {
  if (!up_ || writing_ || ended_) return;
  if (outbox_.empty()) {
    if (close_stdin_ && !stdin_closed_) {
      stdin_closed_ = true;
      boost::system::error_code ec;
      socket_.shutdown(Socket::shutdown_send, ec);  // the engine closes the process's stdin
    }
    return;
  }
  writing_ = true;
  asio::async_write(socket_, asio::buffer(outbox_.front()), [self = shared_from_this()](boost::system::error_code ec,
                                                                                        std::size_t) {
    self->writing_ = false;
    if (self->ended_) return;
    self->outbox_.pop_front();
    if (ec) {
      // The process closed its stdin or ended; the read side tells how it ended.
      self->outbox_.clear();
      self->close_stdin_ = self->stdin_closed_ = true;
      return;
    }
    self->pump_writes();
  });
}

void ExecStream::cancel() {
  if (ended_) return;
  finish(fail(Errc::stopped, "exec " + options_.exec_id + " was cancelled"));
}

void ExecStream::finish(Status status) {
  if (ended_) return;
  ended_ = true;
  deadline_.cancel();
  boost::system::error_code ec;
  socket_.close(ec);
  outbox_.clear();
  if (auto done = std::move(on_end_)) done(std::move(status));
  on_started_ = nullptr;
  on_output_ = nullptr;
}

}  // namespace kn::docker
