#include "daemon/net/tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdexcept>

namespace callpop {

namespace {

// OpenSSL's reason for the last failure ("no such file", "key values mismatch").
std::string openssl_reason(const boost::system::error_code& error) {
    const unsigned long queued = ERR_get_error();
    ERR_clear_error();
    if (queued != 0) {
        const char* reason = ERR_reason_error_string(queued);
        if (reason != nullptr) return reason;
    }
    return error.message();
}

asio::ssl::context modern_context(asio::ssl::context::method method) {
    asio::ssl::context context(method);
    context.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1 | asio::ssl::context::no_compression);
    // An idle connection gives its read and write buffers back: thousands of agent terminals
    // sit idle between calls.
    SSL_CTX_set_mode(context.native_handle(), SSL_MODE_RELEASE_BUFFERS);
    return context;
}

}  // namespace

asio::ssl::context server_tls_context(const config::TlsIdentity& identity) {
    auto context = modern_context(asio::ssl::context::tls_server);
    // Renegotiation lets a client make the server do handshakes at will.
    SSL_CTX_set_options(context.native_handle(), SSL_OP_NO_RENEGOTIATION);
    // A client that closes without close_notify has still ended its input: its last
    // requests are answered, as on a plain connection that half-closes.
    SSL_CTX_set_options(context.native_handle(), SSL_OP_IGNORE_UNEXPECTED_EOF);
    // No TLS session resumption: a reconnecting agent presents its resume ticket inside a
    // full handshake (cheap with an EC key), and a server-side session cache would cost
    // memory for every agent that ever connected.
    SSL_CTX_set_session_cache_mode(context.native_handle(), SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(context.native_handle(), 0);
    // Sessions write with SSL_write straight from their queued messages (daemon/net/
    // line_session.cpp): a message may go out in parts, and a retry may come from a moved
    // buffer.
    SSL_CTX_set_mode(context.native_handle(),
                     SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    boost::system::error_code error;
    context.use_certificate_chain_file(identity.certificate.string(), error);
    if (error)
        throw TlsFileError("certificate",
                           identity.certificate.string() + ": " + openssl_reason(error));
    context.use_private_key_file(identity.key.string(), asio::ssl::context::pem, error);
    if (error) throw TlsFileError("key", identity.key.string() + ": " + openssl_reason(error));
    if (SSL_CTX_check_private_key(context.native_handle()) != 1)
        throw TlsFileError("key", identity.key.string() + " is not the key of " +
                                      identity.certificate.string());
    return context;
}

asio::ssl::context client_tls_context(const std::filesystem::path& ca) {
    auto context = modern_context(asio::ssl::context::tls_client);
    boost::system::error_code error;
    if (ca.empty())
        context.set_default_verify_paths(error);
    else
        context.load_verify_file(ca.string(), error);
    if (error)
        throw std::runtime_error((ca.empty() ? std::string("the system's certificate authorities")
                                             : ca.string()) +
                                 ": " + openssl_reason(error));
    context.set_verify_mode(asio::ssl::verify_peer);
    return context;
}

void expect_peer_name(asio::ssl::stream<tcp::socket&>& stream, const std::string& host) {
    stream.set_verify_callback(asio::ssl::host_name_verification(host));
    boost::system::error_code error;
    asio::ip::make_address(host, error);
    // SNI carries names only.
    if (error) SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
}

}  // namespace callpop
