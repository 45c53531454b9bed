// The client side of TLS to the master, shared by the link and `kontena-agent doctor`: the
// OpenSSL context (verification on by default, SSL_CERT_FILE or the system store), SNI and
// host-name checking on a stream, and the one-line diagnosis of a failed handshake.
#pragma once

#include "core/error.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/system/error_code.hpp>

#include <optional>
#include <string>

namespace kn::master {

struct TlsOptions {
  bool verify = true;                  // KONTENA_SSL_VERIFY (off: warn and connect anyway)
  std::optional<std::string> ca_file;  // SSL_CERT_FILE; default: the system store
  std::optional<std::string> hostname; // KONTENA_SSL_HOSTNAME: SNI and certificate name
};

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// Errc::config_invalid when the CA bundle cannot be loaded. `url` only appears in the warning
// logged when verification is off.
Result<boost::asio::ssl::context> make_tls_context(const TlsOptions& options, const std::string& url);

// Sets SNI (not for IP literals, RFC 6066) and, when verifying, the host-name check on
// `stream`. Returns the name the certificate must carry.
std::string prepare_tls_stream(TlsStream& stream, const TlsOptions& options, const std::string& host);

// What went wrong in a failed handshake on `stream`, with the fix when it is the certificate.
std::string tls_handshake_failure(TlsStream& stream, const TlsOptions& options, const std::string& name,
                                  const boost::system::error_code& ec);

}  // namespace kn::master
