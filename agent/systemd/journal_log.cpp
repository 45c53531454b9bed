#include "systemd/journal_log.hpp"

#include "core/logging.hpp"

#include <spdlog/sinks/systemd_sink.h>

#include <cstdlib>
#include <memory>
#include <string>

namespace kn::systemd {

void setup_logging(std::string_view identifier, spdlog::level::level_enum level) {
  // systemd sets JOURNAL_STREAM when stdout/stderr is connected to the journal; then
  // structured journal entries (priority, identifier) beat parsing a text prefix.
  // https://www.freedesktop.org/software/systemd/man/systemd.exec.html#%24JOURNAL_STREAM
  if (std::getenv("JOURNAL_STREAM") == nullptr) {
    log::setup(level);
    return;
  }
  auto sink = std::make_shared<spdlog::sinks::systemd_sink_mt>(std::string(identifier), false);
  sink->set_pattern("%n: %v");
  log::set_sink(std::move(sink), level);
}

}  // namespace kn::systemd
