#include "core/error.hpp"

#include <ostream>
#include <stdexcept>

namespace kn {
namespace {

// boost::system::error_category has a protected non-virtual destructor by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "kontena-node"; }

  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::ok: return "success";
      case Errc::usage: return "invalid command line";
      case Errc::config_invalid: return "invalid configuration";
      case Errc::file_io: return "file input/output error";
      case Errc::http_connect: return "could not connect";
      case Errc::http_timeout: return "timed out";
      case Errc::http_too_large: return "response too large";
      case Errc::http_failed: return "HTTP transfer failed";
      case Errc::imds_unavailable: return "instance metadata service unavailable";
      case Errc::imds_disabled: return "instance metadata service disabled";
      case Errc::imds_hop_limit: return "IMDSv2 token response lost (hop limit too low)";
      case Errc::imds_token_required: return "IMDSv2 token required but unavailable";
      case Errc::imds_bad_response: return "malformed instance metadata";
      case Errc::label_invalid: return "invalid label";
      case Errc::docker_unavailable: return "Docker engine unavailable";
      case Errc::docker_config_invalid: return "invalid Docker daemon configuration";
      case Errc::docker_reload_failed: return "Docker engine did not apply the labels";
      case Errc::master_unavailable: return "master unavailable";
      case Errc::master_rejected_token: return "master rejected the grid token";
      case Errc::master_version: return "master rejected the agent version";
      case Errc::master_node_removed: return "node removed from the master";
      case Errc::master_conflict: return "newer connection for this node";
      case Errc::template_invalid: return "template cannot be rendered safely";
      case Errc::systemd_failed: return "service manager request failed";
      case Errc::stopped: return "stopped on request";
      case Errc::rpc_decode_failed: return "malformed RPC message";
      case Errc::master_rpc_error: return "master answered an RPC error";
      case Errc::docker_not_found: return "no such Docker container or image";
      case Errc::docker_conflict: return "Docker engine conflict";
      case Errc::docker_failed: return "Docker engine request failed";
      case Errc::pod_invalid: return "invalid service pod";
      case Errc::hook_failed: return "lifecycle hook failed";
      case Errc::volume_missing: return "named volume not on the node";
      case Errc::master_api_rejected: return "master API refused the call";
    }
    return "unknown error";
  }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

int exit_code_for(Errc e) noexcept {
  switch (e) {
    case Errc::ok:
    case Errc::stopped: return exit_code::ok;  // SIGTERM is how systemd stops a service: a clean end
    case Errc::usage: return exit_code::usage;
    case Errc::config_invalid:
    case Errc::docker_config_invalid:
    case Errc::label_invalid:
    case Errc::template_invalid:
    case Errc::imds_token_required:
    case Errc::pod_invalid: return exit_code::config;
    case Errc::file_io: return exit_code::io;
    case Errc::master_rejected_token: return exit_code::token_rejected;
    case Errc::master_version: return exit_code::version;
    case Errc::master_node_removed: return exit_code::node_removed;
    case Errc::master_conflict: return exit_code::conflict;
    case Errc::http_connect:
    case Errc::http_timeout:
    case Errc::http_too_large:
    case Errc::http_failed:
    case Errc::imds_unavailable:
    case Errc::imds_disabled:
    case Errc::imds_hop_limit:
    case Errc::imds_bad_response:
    case Errc::docker_unavailable:
    case Errc::docker_reload_failed:
    case Errc::master_unavailable:
    case Errc::rpc_decode_failed:
    case Errc::master_rpc_error:
    case Errc::systemd_failed:
    case Errc::docker_not_found:
    case Errc::docker_conflict:
    case Errc::docker_failed:
    case Errc::hook_failed: return exit_code::unavailable;
    case Errc::volume_missing: return exit_code::unavailable;
    case Errc::master_api_rejected: return exit_code::config;
  }
  return exit_code::software;
}

Errc Failure::errc() const {
  // Every Failure is made from an Errc; another category here is a bug, not an I/O error.
  if (code.category() != error_category()) throw std::logic_error("Failure with a foreign error category: " + message);
  return static_cast<Errc>(code.value());
}

int Failure::exit_code() const noexcept {
  return code.category() == error_category() ? exit_code_for(static_cast<Errc>(code.value())) : exit_code::software;
}

Failure Failure::context(std::string_view prefix) && {
  message = std::string(prefix) + ": " + message;
  return std::move(*this);
}

std::ostream& operator<<(std::ostream& os, const Failure& f) {
  return os << f.message << " [" << f.code.category().name() << ":" << f.code.value() << "]";
}

void throw_exception_from_error(const Failure& f, const boost::source_location&) {
  throw std::runtime_error(f.message);
}

}  // namespace kn
