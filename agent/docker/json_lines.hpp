// Splits a streamed body into lines as the pieces arrive: Docker's /events sends one JSON
// object per line, and pull/push progress one per "\r\n"-terminated line.
// https://docs.docker.com/engine/api/v1.41/#tag/System/operation/SystemEvents
#pragma once

#include <string>
#include <string_view>

namespace kn::docker {

class JsonLines {
 public:
  // Calls on_line(line) for every complete, non-blank line in `chunk` (plus what was held
  // back from earlier pieces), without its "\r\n"; keeps an unfinished tail for the next piece.
  template <class OnLine>
  void feed(std::string_view chunk, OnLine&& on_line) {
    pending_.append(chunk);
    std::size_t start = 0;
    for (auto end = pending_.find('\n'); end != std::string::npos; end = pending_.find('\n', start)) {
      std::string_view line(pending_.data() + start, end - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      start = end + 1;
      if (!line.empty()) on_line(line);
    }
    pending_.erase(0, start);
  }

 private:
  std::string pending_;
};

}  // namespace kn::docker
