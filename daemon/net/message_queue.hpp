#pragma once
// A session's messages waiting to be written, oldest first: a vector read from the front. It
// holds no memory while empty (a std::deque allocates about 600 bytes as soon as it exists,
// and ten thousand idle agent sessions each have a queue), and gives it back once drained.
#include <cstddef>
#include <utility>
#include <vector>

#include "daemon/net/shared_message.hpp"

namespace callpop::daemon {

class MessageQueue {
public:
    bool empty() const { return head_ == messages_.size(); }
    std::size_t size() const { return messages_.size() - head_; }
    const SharedMessage& front() const { return messages_[head_]; }

    void push_back(SharedMessage message) { messages_.push_back(std::move(message)); }

    SharedMessage pop_front() {
        SharedMessage message = std::move(messages_[head_++]);
        if (empty()) {
            clear();
        } else if (head_ >= compact_after && head_ * 2 >= messages_.size()) {
            // A queue that never drains does not grow: what was written is dropped.
            messages_.erase(messages_.begin(),
                            messages_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
        return message;
    }

    void clear() {
        std::vector<SharedMessage>().swap(messages_);
        head_ = 0;
    }

    // Memory held, in messages: 0 when empty.
    std::size_t capacity() const { return messages_.capacity(); }

private:
    static constexpr std::size_t compact_after = 64;
    std::vector<SharedMessage> messages_;
    std::size_t head_ = 0;  // the oldest message not yet taken
};

}  // namespace callpop::daemon
