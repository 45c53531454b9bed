// One Catch2 main shared by every test binary.
//
// Under a sanitizer (the dev preset builds everything with ASan + UBSan, the tsan preset with
// TSan) the binaries a test starts (kontena-agent, kontena-master-sim, ...) are sanitized too,
// and they usually run in the background with their stderr in a file nobody reads. So their
// sanitizer reports go to files in a directory of this run (the runtimes' `log_path`, one file
// per process: https://github.com/google/sanitizers/wiki/SanitizerCommonFlags), and a report
// found there after the test cases fails the run, with the report printed. ctest runs one test
// case per process (catch_discover_tests), so the failure names the test whose child had it.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <system_error>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
namespace {

// Appends `flags` to the variable's value, so options the caller set (ctest preset, a test
// that needs its own) stay; a later flag wins in the sanitizers' option parser.
void add_options(const char* variable, const std::string& flags) {
  const char* old = std::getenv(variable);
  std::string value = old != nullptr && *old != '\0' ? std::string(old) + ":" + flags : flags;
  ::setenv(variable, value.c_str(), 1);
}

// Every report file left by a child, printed; the number of files.
int print_child_reports(const std::filesystem::path& dir) {
  int reports = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream in(entry.path());
    std::ostringstream text;
    text << in.rdbuf();
    if (text.str().empty()) continue;
    ++reports;
    std::cerr << "==== sanitizer report of a child process (" << entry.path().filename().string() << "):\n"
              << text.str() << "\n";
  }
  return reports;
}

}  // namespace
#endif

int main(int argc, char* argv[]) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  std::string tmpl = (std::filesystem::temp_directory_path() / "kn-sanitizer-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::cerr << "failed to create the directory for child sanitizer reports in "
              << std::filesystem::temp_directory_path().string() << "\n";
    return 2;
  }
  const std::filesystem::path reports = tmpl;
  // halt_on_error: the first finding ends the child (it exits 1, or 66 under TSan) rather than
  // letting it run on in a state nobody checks.
#if defined(__SANITIZE_ADDRESS__)
  add_options("ASAN_OPTIONS", "halt_on_error=1:detect_leaks=1:log_path=" + (reports / "asan").string());
  add_options("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1:log_path=" + (reports / "ubsan").string());
#else
  add_options("TSAN_OPTIONS", "halt_on_error=1:log_path=" + (reports / "tsan").string());
#endif
#endif

  const int failed = Catch::Session().run(argc, argv);

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  const int child_reports = print_child_reports(reports);
  std::error_code ec;
  std::filesystem::remove_all(reports, ec);
  if (child_reports > 0) {
    std::cerr << "FAILED: " << child_reports << " sanitizer report(s) from child processes (above)\n";
    return failed > 0 ? failed : 1;
  }
#endif
  return failed;
}
