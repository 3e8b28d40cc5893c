// Must not compile: storage/ may not include protocol/ (docs/architecture.md). The
// include_rule test builds this file with the storage room's links and expects the
// compiler not to find the header.
#include "protocol/records.hpp"
