// Docker's multiplexed output stream: what `logs`, `attach` and `exec start` send for a
// container or exec without a TTY. Each frame is an 8-byte header {stream, 0, 0, 0, size as a
// big-endian uint32} followed by `size` bytes of that stream
// (https://docs.docker.com/engine/api/v1.41/#tag/Container/operation/ContainerAttach, "Stream format").
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace kn::docker {

enum class OutputStream { stdout_stream = 1, stderr_stream = 2 };

// Called with the payload of stdout and stderr frames, piece by piece as it arrives.
using OutputSink = std::function<void(OutputStream stream, std::string_view data)>;

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
  // Bytes of an unfinished header held back.
  std::size_t pending() const { return header_.size(); }

 private:
  static constexpr std::size_t kHeader = 8;
  std::string header_;
  int stream_ = 0;
  std::uint64_t remaining_ = 0;
  bool frame_start_ = false;
};

}  // namespace kn::docker
