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

inline constexpr int kStdout = 1;  // stream numbers of the multiplexed format
inline constexpr int kStderr = 2;

// Splits the multiplexed format into payload pieces as bytes arrive (frames may be cut anywhere).
class StreamDemux {
 public:
  // on_data(stream, piece, frame_start): `frame_start` is false for a piece that continues the
  // previous one's frame.
  template <class OnData>
  void feed(std::string_view chunk, OnData&& on_data) {
    while (!chunk.empty()) {
      if (remaining_ == 0) {
        const auto take = std::min(chunk.size(), kHeader - header_.size());
        header_.append(chunk.substr(0, take));
        chunk.remove_prefix(take);
        if (header_.size() < kHeader) return;
        stream_ = static_cast<unsigned char>(header_[0]);
        remaining_ = 0;
        for (std::size_t i = 4; i < kHeader; ++i) {
          remaining_ = (remaining_ << 8U) | static_cast<unsigned char>(header_[i]);
        }
        header_.clear();
        frame_start_ = true;
        continue;
      }
      const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), remaining_));
      on_data(stream_, chunk.substr(0, take), frame_start_);
      frame_start_ = false;
      chunk.remove_prefix(take);
      remaining_ -= take;
    }
  }
  // True between frames (nothing of a header or payload outstanding).
  bool at_boundary() const { return remaining_ == 0 && header_.empty(); }

 private:
  static constexpr std::size_t kHeader = 8;
  std::string header_;
  int stream_ = 0;
  std::uint64_t remaining_ = 0;
  bool frame_start_ = false;
};

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
