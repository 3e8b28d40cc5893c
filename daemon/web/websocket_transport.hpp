#pragma once
// An agent session over a browser's WebSocket (docs/http.md): one JSON message per text frame,
// the same messages as the agent port's lines.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <memory>
#include <string>

#include "daemon/net/session_transport.hpp"

namespace callpop::daemon {

using UpgradeRequest = boost::beast::http::request<boost::beast::http::string_body>;

// `upgrade` is the request that asked for the WebSocket; open() answers it.
std::unique_ptr<SessionTransport> websocket_transport(boost::beast::tcp_stream stream,
                                                      UpgradeRequest upgrade, std::string peer);
std::unique_ptr<SessionTransport> websocket_transport(
    boost::beast::ssl_stream<boost::beast::tcp_stream> stream, UpgradeRequest upgrade,
    std::string peer);

}  // namespace callpop::daemon
