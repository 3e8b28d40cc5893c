#pragma once
#include <memory>
#include <string>

namespace callpop::daemon {
// A serialized line, built once and queued to every session that gets it.
using SharedMessage = std::shared_ptr<const std::string>;
}  // namespace callpop::daemon
