#include "docker/label_applier.hpp"

#include "core/atomic_file.hpp"
#include "core/clock.hpp"
#include "core/logging.hpp"
#include "docker/daemon_json.hpp"
#include "docker/dockerd_flags.hpp"
#include "docker/engine_client.hpp"
#include "docker/reloader.hpp"
#include "http/curl_transport.hpp"

#include <algorithm>

namespace kn::docker {
namespace {

std::string count_text(std::size_t n) { return std::to_string(n) + (n == 1 ? " label" : " labels"); }

}  // namespace

Result<ApplyReport> apply_labels(const LabelSet& labels, const ApplyOptions& options) {
  auto log = log::get("docker");
  ApplyReport report;
  report.file = under_root(options.root, options.daemon_json);
  const auto file_name = report.file.string();

  // 1. Labels dockerd would refuse never reach the file.
  for (const auto& label : labels.items()) {
    if (auto st = validate_label(label); !st) {
      return Failure(Errc::label_invalid, st.error().message + "; nothing was written to " + file_name);
    }
  }

  // 2. Merge (pure): a malformed file is reported with its position and left alone.
  auto current = read_file(report.file);
  if (!current) return current.error();
  auto merged = merge_labels(*current ? std::optional<std::string_view>(**current) : std::nullopt, labels, file_name);
  if (!merged) return merged.error();
  report.labels = merged->labels;

  // 3. --label flags make any "labels" key fatal for dockerd: refuse before writing.
  auto flags = label_flags_in_dropins(options.root);
  std::optional<pid_t> pid;
  if (options.reload) {
    if (auto found = dockerd_pid(options.pidfile)) {
      pid = *found;
      if (auto running = label_flags_of_process(*pid)) flags.insert(flags.end(), running->begin(), running->end());
    }
  }
  if (!flags.empty()) return label_flag_conflict(flags, report.file);
  // Any other key of the file that dockerd also got as a flag makes it ignore the reload.
  if (pid) {
    if (auto args = process_args(*pid)) {
      std::vector<std::string> both;
      for (const auto& key : config_keys_of_flags(*args)) {
        if (std::ranges::find(merged->keys, key) != merged->keys.end()) both.push_back(key);
      }
      if (!both.empty()) return flag_key_conflict(both, *pid, report.file);
    }
  }

  // 4. Write only when the content changes (mode and owner of an existing file are kept).
  for (const auto& r : merged->replaced) {
    log->warn("{}: replacing label {}={} with {}={} (the agent manages this key)", file_name, r.key, r.old_value, r.key,
              r.new_value);
  }
  for (const auto& r : merged->removed) {
    log->info("{}: removing label {} (the agent no longer derives it)", file_name, r);
  }
  if (merged->changed) {
    if (auto st = write_file_atomically(report.file, merged->text); !st) return st.error();
    report.file_changed = true;
    log->info("{}: labels written ({}; {} added, {} replaced, {} removed)", file_name,
              count_text(merged->labels.size()), merged->added.size(), merged->replaced.size(), merged->removed.size());
  }
  if (!options.reload) {
    report.summary = report.file_changed ? "labels written to " + file_name + " (" + count_text(merged->labels.size()) +
                                               "); dockerd reads them when it starts"
                                         : "labels already in " + file_name + " (" +
                                               count_text(merged->labels.size()) + "); nothing written";
    return report;
  }

  // 5. Compare with what the engine shows; reload only when they differ.
  http::CurlTransport transport;
  auto engine = EngineClient::connect(transport, options.docker_host);
  if (!engine) {
    auto f = engine.error();
    if (report.file_changed) f.message += "; the labels were written to " + file_name + " and apply when dockerd starts";
    return f;
  }
  report.dockerd_running = true;
  auto shown = engine->labels();
  if (!shown) return shown.error();
  if (same_labels(*shown, merged->labels)) {
    report.verified = true;
    report.summary = report.file_changed
                         ? "labels written to " + file_name + "; dockerd already shows them (" +
                               count_text(merged->labels.size()) + "), no reload needed"
                         : "labels already applied: dockerd shows all " + count_text(merged->labels.size()) + " of " +
                               file_name + "; nothing written, nothing reloaded";
    log->debug("{}", report.summary);  // the caller prints or logs the summary
    return report;
  }
  if (!pid) {
    auto found = dockerd_pid(options.pidfile);
    if (!found) return found.error();
    pid = *found;
  }
  const auto request = choose_reload(*pid);
  if (auto st = send_reload(request); !st) return st.error();
  report.reloaded = true;
  report.reload_method = request.describe();
  SteadyClock clock;
  auto verification = await_labels(*engine, merged->labels, options.verify_deadline, report.file, clock);
  if (!verification) return verification.error();
  report.verified = true;
  report.verify_wait = verification->waited;
  report.summary = "labels applied: " + count_text(merged->labels.size()) + " in " + file_name +
                   (report.file_changed ? " (file updated)" : " (file unchanged, dockerd had drifted)") + ", " +
                   request.describe() + ", GET /info shows them after " + std::to_string(verification->waited.count()) +
                   " ms";
  log->debug("{}", report.summary);  // the caller prints or logs the summary
  return report;
}

}  // namespace kn::docker
