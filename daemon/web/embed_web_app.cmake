# Writes OUTPUT, a C++ file holding each of FILES (in SOURCE_DIR) as bytes, so that the daemon
# serves its web app without files beside it (docs/http.md). Run by daemon/web/CMakeLists.txt at
# build time, again whenever a file changes.
set(body "")
set(entries "")
set(index 0)
foreach(name IN LISTS FILES)
  file(READ "${SOURCE_DIR}/${name}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
  string(APPEND body "constexpr char file_${index}[] = {${bytes}'\\0'};\n")
  string(APPEND entries "    {\"/${name}\", {file_${index}, ${size}}},\n")
  math(EXPR index "${index} + 1")
endforeach()
file(WRITE "${OUTPUT}.new" "// Made by daemon/web/embed_web_app.cmake from web/: do not edit.
#include \"daemon/web/web_assets.hpp\"

namespace callpop::daemon {
namespace {
${body}}  // namespace

const std::vector<std::pair<std::string_view, std::string_view>>& web_asset_files() {
    static const std::vector<std::pair<std::string_view, std::string_view>> files = {
${entries}    };
    return files;
}

}  // namespace callpop::daemon
")
file(COPY_FILE "${OUTPUT}.new" "${OUTPUT}" ONLY_IF_DIFFERENT)
