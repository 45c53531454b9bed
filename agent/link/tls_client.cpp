#include "link/tls_client.hpp"

#include "core/logging.hpp"

#include <boost/asio/ip/address.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

namespace kn::master {

namespace ssl = boost::asio::ssl;

Result<ssl::context> make_tls_context(const TlsOptions& options, const std::string& url) {
  ssl::context ctx(ssl::context::tls_client);
  boost::system::error_code ec;
  if (!options.verify) {
    ctx.set_verify_mode(ssl::verify_none);
    log::get("master")->warn("TLS certificate verification is off (KONTENA_SSL_VERIFY=false): anyone on the path "
                             "to {} can impersonate the master and read the grid token",
                             url);
    return ctx;
  }
  ctx.set_verify_mode(ssl::verify_peer);
  if (options.ca_file) {
    ctx.load_verify_file(*options.ca_file, ec);
    if (ec) {
      return fail(Errc::config_invalid, "failed to load the CA bundle " + *options.ca_file + ": " + ec.message() +
                                            " (fix SSL_CERT_FILE or --ssl-cert-file)");
    }
  } else {
    ctx.set_default_verify_paths(ec);
    if (ec) log::get("master")->warn("failed to load the system CA store: {}", ec.message());
  }
  return ctx;
}

std::string prepare_tls_stream(TlsStream& stream, const TlsOptions& options, const std::string& host) {
  std::string name = options.hostname.value_or(host);
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(name, ec);
  if (ec) {
    // SNI (RFC 6066 forbids IP literals here). SSL_set_tlsext_host_name is a macro with a C
    // cast; this is its expansion.
    ::SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(name.c_str()));
  }
  if (options.verify) {
    // OpenSSL checks the name itself (rather than a verify callback), so a mismatch is
    // recorded as X509_V_ERR_HOSTNAME_MISMATCH / IP_ADDRESS_MISMATCH and the error says so
    // (https://www.openssl.org/docs/man3.0/man3/X509_VERIFY_PARAM_set1_host.html).
    X509_VERIFY_PARAM* param = ::SSL_get0_param(stream.native_handle());
    if (!ec) {
      ::X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
    } else {
      ::X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
    }
  }
  return name;
}

std::string tls_handshake_failure(TlsStream& stream, const TlsOptions& options, const std::string& name,
                                  const boost::system::error_code& ec) {
  const long verify = ::SSL_get_verify_result(stream.native_handle());
  if (options.verify && verify != X509_V_OK) {
    return std::string("TLS certificate verification failed: ") + ::X509_verify_cert_error_string(verify) + " for '" +
           name +
           "'; set SSL_CERT_FILE to the CA bundle that signed the master's certificate, KONTENA_SSL_HOSTNAME to the "
           "name in it, or KONTENA_SSL_VERIFY=false to skip verification";
  }
  return "TLS handshake failed: " + ec.message();
}

}  // namespace kn::master
