// Property checks inside fuzzers: a broken property is a crash libFuzzer keeps as an input
// (and the replay ctest reports), with one line saying which property broke.
#pragma once
#include "core/logging.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace kn::fuzz {

[[noreturn]] inline void property_broken(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz property broken: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

inline void check(bool holds, const char* what, std::string_view detail = {}) {
  if (!holds) property_broken(what, detail);
}

// Logging off, once per process: the fuzzers feed the product errors by the million.
inline void quiet_logs() {
  static const bool once = (log::setup(spdlog::level::off), true);
  (void)once;
}

// Splits a fuzz input into fields at '\x01' (keeps every field arbitrary bytes otherwise).
inline std::string_view next_field(std::string_view& rest) {
  const auto cut = rest.find('\x01');
  const auto field = rest.substr(0, cut);
  rest = cut == std::string_view::npos ? std::string_view{} : rest.substr(cut + 1);
  return field;
}

}  // namespace kn::fuzz
