#pragma once
#include <stdexcept>
#include <string>
#include <utility>

namespace callpop::storage {

// Any backend's failure. Transient ones (busy, locked, disk full, I/O) may well succeed
// when retried; the others are about the data written.
class StorageError : public std::runtime_error {
public:
    explicit StorageError(const std::string& message, bool transient = false,
                          std::string broken_unique_key = {})
        : std::runtime_error(message),
          transient_(transient),
          broken_unique_key_(std::move(broken_unique_key)) {}
    bool transient() const { return transient_; }
    // The unique key a row would have repeated, when that is what failed; empty otherwise.
    const std::string& broken_unique_key() const { return broken_unique_key_; }

private:
    bool transient_;
    std::string broken_unique_key_;
};

}  // namespace callpop::storage
