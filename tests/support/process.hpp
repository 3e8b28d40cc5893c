#pragma once
// A program run for a test (SIPp, Kamailio, `callpop tail -f`) beside the daemon.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.hpp"

namespace callpop::test {

// A program run for the test: its own process group, output in a file, stopped by pid.
// Its standard input is /dev/null, or `input` (a FIFO the test writes to).
class Process {
  public:
    Process(std::string name, std::vector<std::string> arguments, const std::filesystem::path& dir,
            const std::filesystem::path& input = "/dev/null")
        : name_(std::move(name)), output_(dir / (name_ + ".log")) {
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::setpgid(0, 0);
            if (::chdir(dir.c_str()) != 0) ::_exit(126);
            const int out = ::open(output_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            const int in = ::open(input.c_str(), O_RDONLY);
            ::dup2(in, 0);
            ::dup2(out, 1);
            ::dup2(out, 2);
            std::vector<char*> argv;
            for (auto& argument : arguments) argv.push_back(argument.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        pid_ = pid;
        ::setpgid(pid_, pid_);  // also here: no race with a stop() right after the fork
    }
    ~Process() { stop(); }
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    bool running() {
        if (pid_ <= 0) return false;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) != pid_) return true;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        pid_ = -1;
        return false;
    }
    // Waits for the program to end by itself; fails the test if it takes too long.
    int wait(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (running()) {
            if (std::chrono::steady_clock::now() > deadline) {
                stop();
                FAIL(name_ << " still running after " << timeout.count() << " ms:\n" << output());
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return exit_code_;
    }
    // SIGTERM, then, after a grace period, SIGKILL to the whole group (Kamailio's children).
    void stop() {
        if (pid_ <= 0) return;
        const pid_t group = pid_;
        ::kill(pid_, SIGTERM);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (running() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        ::kill(-group, SIGKILL);
        if (pid_ > 0) {
            ::waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }
    // SIGKILL to the whole group at once: a crash, after which the program says nothing more.
    void kill_hard() {
        if (pid_ <= 0) return;
        ::kill(-pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    std::string output() const { return read_file(output_); }

  private:
    std::string name_;
    std::filesystem::path output_;
    pid_t pid_ = -1;
    int exit_code_ = -1;
};

}  // namespace callpop::test
