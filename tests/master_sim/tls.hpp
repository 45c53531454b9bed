// TLS for wss:// and https://: a server context from a PEM certificate chain and key.
#pragma once

#include "core/error.hpp"

#include <boost/asio/ssl/context.hpp>

#include <filesystem>
#include <memory>

namespace kn::master_sim {

// TLS 1.2 or newer. A missing or mismatched file is Errc::config_invalid naming the file.
Result<std::shared_ptr<boost::asio::ssl::context>> make_server_tls(const std::filesystem::path& cert_chain,
                                                                   const std::filesystem::path& key);

}  // namespace kn::master_sim
