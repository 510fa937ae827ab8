// fuzz_support.hpp: what the fuzz targets share: a fresh temporary folder per input, the
// container format of an input that stands for several files, and a quiet log.
//
// Temporary folders go under std::filesystem::temp_directory_path() ($TMPDIR): fuzz/run.sh
// points it at a folder of its own in /dev/shm, so files cost no disk and a crashed run's
// leftovers go with that folder.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

namespace framering::fuzz {

/// A new empty folder, removed with everything in it when this goes out of scope.
class TempFolder {
 public:
  TempFolder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "framering-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("fuzz: mkdtemp failed under $TMPDIR");
    path_ = pattern;
  }
  ~TempFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// Writes `bytes` to `path` (created or replaced).
inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Separates the files packed into one input (fuzz_record_recording's corpus): a line no JSON,
/// CSV or TIFF of ours contains, long enough that mutations seldom make one by chance.
inline constexpr std::string_view kFileSeparator = "\n~~~framering-fuzz-next-file~~~\n";

/// The files packed into `bytes`, in order (one, the whole input, when there is no separator).
[[nodiscard]] inline std::vector<std::string_view> split_files(std::string_view bytes) {
  std::vector<std::string_view> files;
  for (;;) {
    const std::size_t at = bytes.find(kFileSeparator);
    files.push_back(bytes.substr(0, at));
    if (at == std::string_view::npos) return files;
    bytes.remove_prefix(at + kFileSeparator.size());
  }
}

/// `files` packed as split_files reads them (make_corpus writes seeds with it).
[[nodiscard]] inline std::string join_files(const std::vector<std::string>& files) {
  std::string out;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (i > 0) out += kFileSeparator;
    out += files[i];
  }
  return out;
}

/// The input as text.
[[nodiscard]] inline std::string_view as_text(const std::uint8_t* data, std::size_t size) noexcept {
  return {reinterpret_cast<const char*>(data), size};
}

/// Turns spdlog off: the code under test logs warnings for every damaged input, which would
/// bury libFuzzer's own output and slow it down.
inline void quiet_logs() { spdlog::set_level(spdlog::level::off); }

}  // namespace framering::fuzz
