#include "core/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <mutex>
#include <string>

namespace kn::log {
namespace {

std::mutex g_mutex;
spdlog::sink_ptr g_sink;                              // guarded by g_mutex
spdlog::level::level_enum g_level = spdlog::level::info;

spdlog::sink_ptr default_sink() {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  sink->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %n: %v");
  return sink;
}

void apply_locked() {
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& logger) {
    logger->sinks().clear();
    logger->sinks().push_back(g_sink);
    logger->set_level(g_level);
  });
}

}  // namespace

spdlog::level::level_enum parse_level(std::string_view text) {
  if (text == "trace") return spdlog::level::trace;
  if (text == "debug") return spdlog::level::debug;
  if (text == "warn") return spdlog::level::warn;
  if (text == "error") return spdlog::level::err;
  return spdlog::level::info;
}

void setup(spdlog::level::level_enum level) { set_sink(default_sink(), level); }

void set_sink(spdlog::sink_ptr sink, spdlog::level::level_enum level) {
  std::lock_guard lock(g_mutex);
  g_sink = std::move(sink);
  g_level = level;
  apply_locked();
}

std::shared_ptr<spdlog::logger> get(std::string_view subsystem) {
  std::lock_guard lock(g_mutex);
  const std::string name(subsystem);
  if (auto existing = spdlog::get(name)) return existing;
  if (!g_sink) g_sink = default_sink();
  auto logger = std::make_shared<spdlog::logger>(name, g_sink);
  logger->set_level(g_level);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace kn::log
