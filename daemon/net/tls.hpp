#pragma once
// TLS through Asio and OpenSSL, one way for the whole tree: the agent port's server side,
// and the client side of switch links and the command line.
#include <boost/asio/ssl.hpp>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "config/config.hpp"
#include "daemon/net/asio.hpp"

namespace callpop {

// A certificate or key that cannot be used: `part` says which ("certificate", "key"),
// what() names the file and why.
struct TlsFileError : std::runtime_error {
    TlsFileError(std::string part, const std::string& why)
        : std::runtime_error(why), part(std::move(part)) {}
    std::string part;
};

// TLS 1.2 or later with this certificate chain and key. Throws TlsFileError.
asio::ssl::context server_tls_context(const config::TlsIdentity& identity);

// TLS 1.2 or later, the peer's certificate checked against the authorities in `ca` (a PEM
// file; empty: the system's). Throws std::runtime_error naming a `ca` that cannot be used.
asio::ssl::context client_tls_context(const std::filesystem::path& ca);

// Before a client handshake: the certificate must name `host` (a name or an address), and a
// name is sent as SNI.
void expect_peer_name(asio::ssl::stream<tcp::socket&>& stream, const std::string& host);

}  // namespace callpop
