// How fast callpop turns an Asterisk AMI byte stream into call events: the recorded calls of
// tests/fixtures/ami, each copy with its own Linkedids, fed in 64 KiB reads through the
// decoder and the call mapper. No network, no daemon: this is the AMI link's own cost, to set
// against what Asterisk itself can send (about 5,300 events/s on this machine, the fixtures'
// README). bench/README.md has the figures.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "protocol/ami_calls.hpp"
#include "protocol/ami_frame.hpp"

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "cannot read %s\n", path.c_str());
        std::exit(2);
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// The recording's ids all start with this epoch prefix; each copy gets its own.
constexpr std::string_view recorded_prefix = "1795385";

std::string copy_with_prefix(const std::string& stream, const std::string& prefix) {
    std::string copy;
    copy.reserve(stream.size());
    std::size_t from = 0;
    for (std::size_t at = stream.find(recorded_prefix); at != std::string::npos;
         at = stream.find(recorded_prefix, from)) {
        copy.append(stream, from, at - from).append(prefix);
        from = at + recorded_prefix.size();
    }
    copy.append(stream, from);
    return copy;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string dir = argc > 1 ? argv[1] : "tests/fixtures/ami";
    const int copies = argc > 2 ? std::atoi(argv[2]) : 2000;
    std::string calls;  // the five recorded calls after their banners
    for (const char* name : {"queue", "direct", "abandon", "noanswer", "busy"}) {
        const std::string recording = read_file(dir + "/" + name + ".ami");
        calls += recording.substr(recording.find("\r\n") + 2);
    }
    std::string stream = "Asterisk Call Manager/11.0.0\r\n";
    for (int copy = 0; copy < copies; ++copy)
        stream += copy_with_prefix(calls, std::to_string(1000000 + copy));

    callpop::protocol::AmiDecoder decoder;
    callpop::protocol::AmiCallMapper mapper({{"PJSIP/{ext}", "Local/{ext}@phones"}, {"from-trunk"}});
    std::size_t messages = 0;
    std::size_t call_events = 0;
    const auto start = std::chrono::steady_clock::now();
    constexpr std::size_t read_size = 65536;
    for (std::size_t at = 0; at < stream.size(); at += read_size) {
        decoder.feed(std::string_view(stream).substr(at, read_size));
        while (auto item = decoder.next()) {
            if (const auto* message = std::get_if<callpop::protocol::AmiMessage>(&*item)) {
                ++messages;
                call_events += mapper.on_event(*message).size();
            }
        }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("calls %d, AMI messages %zu, call events %zu, live calls left %zu\n", copies * 5,
                messages, call_events, mapper.live_calls());
    std::printf("%.1f MB in %.3f s: %.0f AMI messages/s, %.1f MB/s, %.0f calls/s\n",
                static_cast<double>(stream.size()) / 1e6, seconds,
                static_cast<double>(messages) / seconds,
                static_cast<double>(stream.size()) / 1e6 / seconds, copies * 5 / seconds);
    return mapper.live_calls() == 0 ? 0 : 1;
}
