#include "daemon/web/web_assets.hpp"

#include <array>

namespace callpop::daemon {

namespace {

std::string_view content_type_of(std::string_view path) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 7> types{{
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".md", "text/markdown; charset=utf-8"},
    }};
    for (const auto& [suffix, type] : types)
        if (path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix) return type;
    return "application/octet-stream";
}

}  // namespace

std::optional<WebAsset> find_web_asset(std::string_view path) {
    if (path == "/") path = "/index.html";
    if (path == "/wallboard") path = "/wallboard.html";
    for (const auto& [name, bytes] : web_asset_files())
        if (name == path) return WebAsset{content_type_of(name), bytes};
    return std::nullopt;
}

}  // namespace callpop::daemon
