// The log sink of a binary started by systemd: structured journal entries when stderr is
// connected to the journal, stderr otherwise.
#pragma once

#include <spdlog/common.h>

#include <string_view>

namespace kn::systemd {

// `identifier` is the journal's SYSLOG_IDENTIFIER. Safe to call more than once.
void setup_logging(std::string_view identifier, spdlog::level::level_enum level);

}  // namespace kn::systemd
