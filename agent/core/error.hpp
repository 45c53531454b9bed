// The project's error vocabulary: one error category, a Failure value that carries the
// error code plus a human sentence, and the mapping from errors to process exit codes.
//
// Expected failures travel as values (`Result<T>`); exceptions are reserved for broken
// invariants and for main().
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <iosfwd>
#include <string>
#include <system_error>
#include <utility>

namespace kn {

enum class Errc {
  ok = 0,
  usage,                  // bad command line
  config_invalid,         // bad setting in env or config file
  file_io,                // reading or writing a local file failed
  http_connect,           // could not connect (refused, unreachable, resolve)
  http_timeout,           // connect or total timeout
  http_too_large,         // response larger than the cap
  http_failed,            // any other transport failure
  imds_unavailable,       // IMDS did not answer usefully before the deadline
  imds_disabled,          // IMDS answered 403 (HttpEndpoint=disabled) or was disabled by config
  imds_hop_limit,         // token PUT lost on the way back: hop limit too low
  imds_token_required,    // IMDSv2 needed but no token can be had (v1 disabled or unsupported)
  imds_bad_response,      // malformed or missing data from IMDS
  label_invalid,          // a label breaks Docker's or Kontena's rules
  docker_unavailable,     // Docker engine API not reachable
  docker_config_invalid,  // daemon.json malformed or conflicting with dockerd flags
  docker_reload_failed,   // dockerd refused or did not apply the new labels
  master_unavailable,     // master not reachable (retryable)
  master_rejected_token,  // close 4001
  master_version,         // close 4010
  master_node_removed,    // close 4040
  master_conflict,        // close 4041
  template_invalid,       // unit template or values file cannot be rendered safely
  systemd_failed,         // the service manager (D-Bus) refused or is unreachable
  stopped,                // a wait ended early because the process was asked to stop (SIGTERM)
  rpc_decode_failed,      // a MessagePack-RPC frame from the master cannot be decoded
  master_rpc_error,       // the master answered an RPC request with an error
  docker_not_found,       // the engine has no such container or image (HTTP 404)
  docker_conflict,        // the engine refused a name or state conflict (HTTP 409)
  docker_failed,          // any other engine error; the message carries Docker's "message"
  pod_invalid,            // a service pod from the master has a key of the wrong type
  hook_failed,            // lifecycle hooks: a pre_start hook exited non-zero (or its oneshot was not marked)
  volume_missing,         // volumes: a pod's named volume did not appear on the node in time
  master_api_rejected,    // the master's REST API refused a call (401, 403, 404, 422): retrying cannot help
};

}  // namespace kn

template <>
struct boost::system::is_error_code_enum<kn::Errc> : std::true_type {};

namespace kn {

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

// Process exit codes (sysexits.h where one fits); README.md "Exit codes" lists them for users.
namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int problems = 1;         // doctor found problems
inline constexpr int usage = 64;           // EX_USAGE
inline constexpr int unavailable = 69;     // EX_UNAVAILABLE: retryable, systemd may restart
inline constexpr int software = 70;        // EX_SOFTWARE: a bug (uncaught exception)
inline constexpr int io = 74;              // EX_IOERR
inline constexpr int token_rejected = 77;  // EX_NOPERM: master rejected the token (4001)
inline constexpr int config = 78;          // EX_CONFIG
inline constexpr int version = 79;         // master refused our protocol version (4010)
inline constexpr int node_removed = 80;    // master removed this node (4040)
inline constexpr int conflict = 81;        // a newer connection for this node exists (4041)
}  // namespace exit_code

int exit_code_for(Errc e) noexcept;

// An expected failure: a machine-readable code plus one line for a human, already in the
// "failed to <verb> <object>: <cause>" form. Never holds a secret.
struct Failure {
  boost::system::error_code code;
  std::string message;

  Failure() = default;
  Failure(Errc e, std::string msg) : code(make_error_code(e)), message(std::move(msg)) {}

  bool is(Errc e) const noexcept { return code == make_error_code(e); }
  Errc errc() const;  // std::logic_error for a default-constructed Failure (a bug)
  int exit_code() const noexcept;
  // Prefixes more context: "failed to X: " + message.
  Failure context(std::string_view prefix) &&;
};

// boost::system::result<T, Failure>::value() throws through this (ADL).
[[noreturn]] void throw_exception_from_error(const Failure& f, const boost::source_location& loc);

// Test and diagnostic output: "message [kontena-node:N]".
std::ostream& operator<<(std::ostream& os, const Failure& f);

template <class T>
using Result = boost::system::result<T, Failure>;
using Status = boost::system::result<void, Failure>;

inline Failure fail(Errc e, std::string msg) { return Failure(e, std::move(msg)); }

}  // namespace kn
