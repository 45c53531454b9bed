// Docker's multiplexed output stream: what `logs`, `attach` and `exec start` send for a
// container or exec without a TTY. Each frame is an 8-byte header {stream, 0, 0, 0, size as a
// big-endian uint32} followed by `size` bytes of that stream
// (https://docs.docker.com/engine/api/v1.41/#tag/Container/operation/ContainerAttach, "Stream format").
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace kn::docker {

enum class OutputStream { stdout_stream = 1, stderr_stream = 2 };

// Called with each frame's payload as it is complete (stdin frames, which Docker never sends
// here, are dropped).
using OutputSink = std::function<void(OutputStream stream, std::string_view data)>;

class OutputFrames {
 public:
  // Feeds the next piece of the stream; frames split across pieces are kept until complete.
  void feed(std::string_view chunk, const OutputSink& sink);
  // Bytes of an incomplete frame held back (non-zero at the end: the stream was cut).
  std::size_t pending() const { return buffer_.size(); }

 private:
  std::string buffer_;
};

}  // namespace kn::docker
