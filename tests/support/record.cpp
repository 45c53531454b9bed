#include "support/record.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

namespace kn::test {
namespace {

std::mutex mutex;

void append(std::string_view suffix, std::string_view text) {
  const std::lock_guard lock(mutex);
  std::error_code ec;
  const auto dir = record_dir();
  std::filesystem::create_directories(dir, ec);
  std::ofstream out(dir / (std::to_string(::getpid()) + std::string(suffix)), std::ios::app | std::ios::binary);
  out << text;
}

}  // namespace

std::filesystem::path record_dir() {
  if (const char* dir = std::getenv("KN_TEST_RECORD_DIR"); dir != nullptr && *dir != '\0') return dir;
  return KN_RECORD_DIR;
}

void record_argv(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& arg : argv) line += (line.empty() ? "" : " ") + arg;
  append(".argv", line + "\n");
}

void record_log(std::string_view origin, const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return;
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().empty()) return;
  append(".log", "== " + std::string(origin) + " (" + file.string() + ")\n" + text.str() + "\n");
}

void record_secret(std::string_view secret) {
  if (secret.size() < 6) return;
  append(".secrets", std::string(secret) + "\n");
}

}  // namespace kn::test
