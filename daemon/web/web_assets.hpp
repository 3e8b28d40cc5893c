#pragma once
// The browser console and wallboard (web/), built into the binary: the daemon serves them
// with nothing fetched from elsewhere and no files to install beside it.
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace callpop::daemon {

struct WebAsset {
    std::string_view content_type;
    std::string_view bytes;
};

// The file a path names: "/" is the console, "/wallboard" the wallboard, "/style.css" itself.
std::optional<WebAsset> find_web_asset(std::string_view path);

// Every file of web/ by its path ("/index.html"); made at build time.
const std::vector<std::pair<std::string_view, std::string_view>>& web_asset_files();

}  // namespace callpop::daemon
