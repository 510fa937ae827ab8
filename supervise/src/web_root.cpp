// web_root.cpp: the page's files (web_root.hpp).
#include "framering/supervise/web_root.hpp"

#include <array>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#ifndef FRAMERING_WEB_ROOT
#error "FRAMERING_WEB_ROOT (the source tree's web/ folder) is set by supervise/CMakeLists.txt"
#endif

namespace framering::supervise {
namespace {

// Whether `relative` is one or more plain segments ("a/b.js"), none of which can climb out or
// name a hidden file.
bool is_plain_relative(std::string_view relative) {
  if (relative.empty()) return false;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = std::min(relative.find('/', start), relative.size());
    const std::string_view segment = relative.substr(start, end - start);
    if (segment.empty() || segment.front() == '.') return false;  // "", ".", "..", ".git"
    if (segment.find_first_of(std::string_view("\\\0", 2)) != std::string_view::npos) return false;
    if (end == relative.size()) return true;
    start = end + 1;
  }
}

// Whether `path` is `root` or lies below it (both absolute and canonical).
bool is_inside(const std::filesystem::path& path, const std::filesystem::path& root) {
  auto p = path.begin();
  for (auto r = root.begin(); r != root.end(); ++r, ++p) {
    if (r->empty()) continue;  // a trailing separator
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

}  // namespace

std::string default_web_root() { return FRAMERING_WEB_ROOT; }

std::string WebRoot::content_type(const std::filesystem::path& file) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 11> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
  }};
  const std::string ext = file.extension().string();
  for (const auto& [e, type] : kTypes) {
    if (e == ext) return std::string(type);
  }
  return "application/octet-stream";
}

std::expected<WebFile, WebRefusal> WebRoot::read(std::string_view relative) const {
  const auto not_found = [&](std::string_view why) {
    return std::unexpected(WebRefusal{404, fmt::format("no page file '{}' ({})", relative, why)});
  };
  if (!is_plain_relative(relative)) return not_found("only plain names inside the page's folder are served");
  std::error_code ec;
  const std::filesystem::path root = std::filesystem::canonical(root_, ec);
  if (ec) {
    return std::unexpected(WebRefusal{
        404, fmt::format("the page's folder {} is missing ({}): set [http] web_root in the pipeline file", root_.string(),
                         ec.message())});
  }
  // Symbolic links resolved: a link inside the folder that points out of it is refused too.
  const std::filesystem::path file = std::filesystem::weakly_canonical(root / std::filesystem::path(relative), ec);
  if (ec || !is_inside(file, root)) return not_found("outside the page's folder");
  const auto status = std::filesystem::status(file, ec);
  if (ec || !std::filesystem::is_regular_file(status)) return not_found("no such file");
  const auto size = std::filesystem::file_size(file, ec);
  if (ec || size > kMaxFileBytes) {
    return std::unexpected(WebRefusal{500, fmt::format("page file '{}' cannot be served ({})", relative,
                                                       ec ? ec.message() : fmt::format("over {} bytes", kMaxFileBytes))});
  }
  std::ifstream in(file, std::ios::binary);
  WebFile out{content_type(file), std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>())};
  if (!in && !in.eof()) {
    return std::unexpected(WebRefusal{500, fmt::format("page file '{}' cannot be read", relative)});
  }
  return out;
}

}  // namespace framering::supervise
