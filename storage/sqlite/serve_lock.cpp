#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "storage/sqlite/sqlite_store.hpp"

namespace callpop::storage {

namespace {

// The kernel drops an flock when its descriptor closes, which a process's end does even
// after kill -9: no stale lock to clean up after a crash, unlike a pid file alone.
class SqliteServeLock final : public ServeLock {
public:
    explicit SqliteServeLock(int fd) : fd_(fd) {}
    ~SqliteServeLock() override { ::close(fd_); }
    SqliteServeLock(const SqliteServeLock&) = delete;
    SqliteServeLock& operator=(const SqliteServeLock&) = delete;

private:
    int fd_;
};

std::string read_holder(int fd) {
    char text[32] = {};
    const ssize_t size = ::pread(fd, text, sizeof text - 1, 0);
    std::string pid(text, size > 0 ? static_cast<std::size_t>(size) : 0);
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return pid.empty() ? "unknown" : pid;
}

}  // namespace

std::unique_ptr<ServeLock> lock_sqlite_store_for_serving(const std::filesystem::path& path) {
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    const std::string lock_path = path.string() + "-serve.lock";
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        throw StorageError("cannot open " + lock_path + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        const std::string holder = read_holder(fd);
        ::close(fd);
        if (error == EWOULDBLOCK)
            throw StorageError(path.string() + " is served by another callpop serve (pid " +
                               holder + "); one daemon per store: stop that one first");
        throw StorageError("cannot lock " + lock_path + ": " + std::strerror(error));
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        const int error = errno;
        ::close(fd);
        throw StorageError("cannot write " + lock_path + ": " + std::strerror(error));
    }
    return std::make_unique<SqliteServeLock>(fd);
}

}  // namespace callpop::storage
