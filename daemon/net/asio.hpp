#pragma once
// The one way we include Asio. Boost 1.74's awaitable.hpp uses std::exchange without
// including <utility>; clang also needs the coroutine support spelled out.
#include <utility>
#if defined(__clang__)
#ifndef BOOST_ASIO_HAS_CO_AWAIT
#define BOOST_ASIO_HAS_CO_AWAIT 1
#endif
#ifndef BOOST_ASIO_HAS_STD_COROUTINE
#define BOOST_ASIO_HAS_STD_COROUTINE 1
#endif
#endif
#include <boost/asio.hpp>

namespace callpop {
namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using asio::use_awaitable;
}  // namespace callpop
