#pragma once
// What every libFuzzer target of tests/fuzz uses (tests/fuzz/README.md).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace callpop::fuzz {

// An invariant broke: crash so that libFuzzer keeps the input.
inline void require(bool holds) {
    if (!holds) std::abort();
}

}  // namespace callpop::fuzz
