#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "daemon/net/message_queue.hpp"

using callpop::daemon::MessageQueue;
using callpop::daemon::SharedMessage;

namespace {

SharedMessage message(int number) {
    return std::make_shared<const std::string>(std::to_string(number));
}

}  // namespace

TEST_CASE("message queue: first in, first out; no memory while empty") {
    MessageQueue queue;
    CHECK(queue.empty());
    CHECK(queue.capacity() == 0);
    for (int number = 0; number < 3; ++number) queue.push_back(message(number));
    CHECK(queue.size() == 3);
    CHECK(*queue.front() == "0");
    CHECK(*queue.pop_front() == "0");
    CHECK(*queue.pop_front() == "1");
    queue.push_back(message(3));
    CHECK(queue.size() == 2);
    CHECK(*queue.pop_front() == "2");
    CHECK(*queue.pop_front() == "3");
    CHECK(queue.empty());
    CHECK(queue.capacity() == 0);  // drained: given back

    queue.push_back(message(4));
    queue.clear();
    CHECK(queue.empty());
    CHECK(queue.capacity() == 0);
}

TEST_CASE("message queue: a queue that never drains stays as big as what it holds") {
    MessageQueue queue;
    int next_in = 0;
    int next_out = 0;
    for (int round = 0; round < 10'000; ++round) {
        queue.push_back(message(next_in++));
        queue.push_back(message(next_in++));
        REQUIRE(*queue.pop_front() == std::to_string(next_out++));
        if (queue.size() > 100) {
            while (queue.size() > 10) REQUIRE(*queue.pop_front() == std::to_string(next_out++));
        }
        REQUIRE(queue.capacity() <= 512);
    }
    while (!queue.empty()) REQUIRE(*queue.pop_front() == std::to_string(next_out++));
    CHECK(next_out == next_in);
}
