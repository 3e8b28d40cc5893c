#pragma once
#include <stdexcept>
#include <string>

namespace callpop::storage {

// Any backend's failure. Transient ones (busy, locked, disk full, I/O) may well succeed
// when retried; the others are about the data written.
class StorageError : public std::runtime_error {
public:
    explicit StorageError(const std::string& message, bool transient = false)
        : std::runtime_error(message), transient_(transient) {}
    bool transient() const { return transient_; }

private:
    bool transient_;
};

}  // namespace callpop::storage
