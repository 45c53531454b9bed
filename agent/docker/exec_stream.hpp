// A started Docker exec as a bidirectional byte stream: POST /exec/ID/start upgraded to a raw
// connection (HTTP/1.1 "Upgrade: tcp", answered 101), then the process's stdin one way and its
// output the other. Without a TTY the output is multiplexed: 8-byte frame headers {stream, 0, 0,
// 0, size (big-endian uint32)} before each payload. https://docs.docker.com/engine/api/v1.41/#tag/Exec
// (ExecStart) and https://docs.docker.com/engine/api/v1.41/#tag/Container/operation/ContainerAttach
// ("Stream format").
//
// The socket is its own (libcurl's transfers cannot be written to while they read), driven by
// Boost.Asio on the executor it is given; Beast writes the upgrade request and parses the answer.
#pragma once

#include "core/error.hpp"
#include "docker/output_frames.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kn::docker {

// The length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence (at
// most 3 bytes are held back; bytes that are no UTF-8 at all are not held). The master passes
// output chunks on as JSON text, so a character cut in two by a read would reach the user as
// two replacement characters.
std::size_t utf8_complete_prefix(std::string_view bytes);

struct ExecOutput {
  int stream = kStdout;     // kStdout (always, with a TTY) or kStderr
  std::string data;
  bool frame_start = true;  // false: continues the previous piece's Docker frame (no TTY only)
};

struct ExecStreamOptions {
  std::string socket_path;   // the engine's unix socket
  std::string api_version;   // as negotiated by EngineClient ("1.41")
  std::string exec_id;
  bool tty = false;
  std::chrono::milliseconds start_timeout{10000};  // connect, request and the 101 answer
  std::size_t read_size = 16 * 1024;               // one read; bounds each output piece (+3 bytes, UTF-8)
};

// All members run on the executor given to create() (one thread at a time: a strand or a
// one-thread io_context). Callbacks are invoked on it too.
class ExecStream : public std::enable_shared_from_this<ExecStream> {
 public:
  using OnStarted = std::function<void()>;
  // A batch of output from one read; call resume() to get the next (backpressure).
  using OnOutput = std::function<void(std::vector<ExecOutput>)>;
  // Once: the engine closed the stream (the process ended: ok), it failed, or cancel() ran
  // (Errc::stopped).
  using OnEnd = std::function<void(Status)>;

  static std::shared_ptr<ExecStream> create(boost::asio::any_io_executor executor, ExecStreamOptions options);

  void start(OnStarted on_started, OnOutput on_output, OnEnd on_end);
  void resume();
  // Queued in order; sent once the stream is up.
  void write(std::string data);
  // Closes the process's stdin (a half-close of the socket) after the queued writes.
  void close_stdin();
  void cancel();
  bool ended() const { return ended_; }

 private:
  using Socket = boost::asio::local::stream_protocol::socket;
  using Parser = boost::beast::http::response_parser<boost::beast::http::string_body>;
  ExecStream(boost::asio::any_io_executor executor, ExecStreamOptions options);

  void upgraded();
  void read();
  void deliver(std::string_view bytes);
  void pump_writes();
  void finish(Status status);

  ExecStreamOptions options_;
  Socket socket_;
  boost::asio::steady_timer deadline_;
  boost::beast::flat_buffer buffer_;
  std::unique_ptr<Parser> parser_;
  std::vector<char> read_buffer_;
  StreamDemux demux_;
  std::string carry_[3];  // per stream: the start of a UTF-8 character cut by a read
  std::deque<std::string> outbox_;
  OnStarted on_started_;
  OnOutput on_output_;
  OnEnd on_end_;
  bool up_ = false, writing_ = false, close_stdin_ = false, stdin_closed_ = false;
  bool paused_ = false, ended_ = false;
};

}  // namespace kn::docker
