// web_root.hpp: the live view page's files, served by `run --http` from a folder of plain files
// (web/ in the source tree: index.html, liveview.js, style.css; no build step). Only regular
// files inside that folder are served: no "..", no hidden files, no symbolic link that leads out.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>

namespace framering::supervise {

/// The web/ folder of the source tree this binary was built from (set by CMake): the page's
/// files when the pipeline's [http] table names no `web_root`.
[[nodiscard]] std::string default_web_root();

/// One file of the page, read whole.
struct WebFile {
  std::string content_type;  ///< e.g. "text/javascript; charset=utf-8"
  std::string body;
};

/// Why a path is not served: an HTTP status (404, or 500 when the file cannot be read) and a
/// sentence for the error's JSON.
struct WebRefusal {
  int status = 404;
  std::string message;
};

/// A folder of page files.
class WebRoot {
 public:
  /// Files larger than this are not served (500): the page's files are a few kB.
  static constexpr std::uintmax_t kMaxFileBytes = 16U << 20U;

  /// `root` need not exist (read() then refuses everything, naming it).
  explicit WebRoot(std::filesystem::path root) : root_(std::move(root)) {}

  /// The file for a request path relative to the root: "index.html", "liveview.js",
  /// "img/logo.png". Refused (404) when any segment is empty, ".", "..", starts with "."
  /// or holds a backslash or NUL; when the path, symbolic links resolved, lies outside the
  /// root; when it is not a regular file. 500 when it cannot be read or is over kMaxFileBytes.
  [[nodiscard]] std::expected<WebFile, WebRefusal> read(std::string_view relative) const;

  /// The Content-Type for a file name by its extension (html, js, mjs, css, json, svg, png,
  /// ico, txt, map); application/octet-stream otherwise.
  [[nodiscard]] static std::string content_type(const std::filesystem::path& file);

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return root_; }

 private:
  std::filesystem::path root_;
};

}  // namespace framering::supervise
