// snapshot_writer.hpp: PNG snapshots of a ring into a directory, named so that they sort in
// time order, plus a stable `latest.png` that a viewer or web page can poll. Every file appears
// whole: it is written under a temporary name in the same directory and renamed into place, so
// a reader never sees half a PNG.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace cv {
class Mat;
}

namespace framering::display {

/// Writes snapshots of one ring into one directory. One thread at a time per instance.
class SnapshotWriter {
 public:
  /// Creates `directory` (and its parents) when missing and proves it writable by creating and
  /// removing a probe file. Throws ConfigError naming the directory and the errno text when it
  /// cannot be created, is not a directory, or is not writable. `ring` must be a valid ring name
  /// (it becomes part of file names).
  SnapshotWriter(std::filesystem::path directory, std::string ring);

  /// "<ring>-<sequence as 20 zero-padded digits>.png": names of one ring sort in sequence
  /// order, which is time order for the life of the segment.
  [[nodiscard]] static std::string file_name(std::string_view ring, std::uint64_t sequence);

  /// The name of the stable copy of the newest snapshot.
  static constexpr std::string_view kLatestName = "latest.png";

  /// Encodes `image` as PNG (CV_8UC1 gray, CV_8UC3 BGR, or CV_16UC1 as a 16-bit PNG) and writes
  /// it as file_name(ring, sequence), then replaces latest.png with the same bytes. Returns the
  /// path written. Throws Error naming the path and the errno text when encoding or writing
  /// fails (disk full, directory removed); no partial file is left under the final names.
  std::filesystem::path write(const cv::Mat& image, std::uint64_t sequence);

  [[nodiscard]] const std::filesystem::path& directory() const noexcept { return directory_; }

 private:
  void write_atomically(const std::filesystem::path& path) const;

  std::filesystem::path directory_;
  std::string ring_;
  std::vector<unsigned char> png_;  ///< the encoded image, reused between writes
};

}  // namespace framering::display
