#pragma once
#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

#include "daemon/net/asio.hpp"

namespace callpop::daemon {

// Starts a coroutine whose exception, if any, is logged instead of lost. `keep_alive` is
// held until the coroutine ends (a session's shared_ptr, say).
template <typename KeepAlive = std::nullptr_t>
void spawn_logged(asio::any_io_executor executor, awaitable<void> coroutine, const char* what,
                  KeepAlive keep_alive = nullptr) {
    asio::co_spawn(executor, std::move(coroutine),
                   [what, keep_alive = std::move(keep_alive)](const std::exception_ptr& failure) {
                       if (!failure) return;
                       try {
                           std::rethrow_exception(failure);
                       } catch (const std::exception& error) {
                           spdlog::error("{} stopped: {}", what, error.what());
                       }
                   });
}

}  // namespace callpop::daemon
