#include "docker/output_frames.hpp"

#include <cstdint>

namespace kn::docker {

void OutputFrames::feed(std::string_view chunk, const OutputSink& sink) {
  buffer_.append(chunk);
  std::size_t pos = 0;
  constexpr std::size_t kHeader = 8;
  while (buffer_.size() - pos >= kHeader) {
    const auto* h = reinterpret_cast<const unsigned char*>(buffer_.data() + pos);
    const std::uint32_t size = (std::uint32_t{h[4]} << 24U) | (std::uint32_t{h[5]} << 16U) |
                               (std::uint32_t{h[6]} << 8U) | std::uint32_t{h[7]};
    if (buffer_.size() - pos - kHeader < size) break;
    const std::string_view payload(buffer_.data() + pos + kHeader, size);
    if (h[0] == 1 || h[0] == 2) sink(static_cast<OutputStream>(h[0]), payload);
    pos += kHeader + size;
  }
  buffer_.erase(0, pos);
}

}  // namespace kn::docker
