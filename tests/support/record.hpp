// The suite's record of what it exposed: every argv a test spawned, every log a spawned
// process wrote (its stderr), and every secret a fixture handed out (grid, node and API tokens, registry
// passwords). The ctest `security_no_secrets_in_records` (tests/security/) runs after every
// other test and fails if a recorded secret appears in a recorded argv or log.
//
// Records are files under KN_RECORD_DIR (build/test-records/), one set per test process
// (<pid>.argv, <pid>.log, <pid>.secrets); KN_TEST_RECORD_DIR in the environment overrides it.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace kn::test {

std::filesystem::path record_dir();
void record_argv(const std::vector<std::string>& argv);
// Appends the content of `file` (a spawned process's stderr) under `origin`.
void record_log(std::string_view origin, const std::filesystem::path& file);
// A secret a fixture created or was given; empty and very short values are skipped (they
// would match everywhere and prove nothing).
void record_secret(std::string_view secret);

}  // namespace kn::test
