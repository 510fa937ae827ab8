#include "framering/display/snapshot_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "framering/common/error.hpp"

namespace framering::display {
namespace {

// Writes all of `bytes` to a new file `path` and fsyncs nothing (a snapshot is for looking at,
// not for keeping through a power cut). Returns 0 or an errno value.
int write_file(const std::filesystem::path& path, const std::vector<unsigned char>& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  std::size_t done = 0;
  int error = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0 && error == 0) error = errno;
  return error;
}

}  // namespace

SnapshotWriter::SnapshotWriter(std::filesystem::path directory, std::string ring)
    : directory_(std::move(directory)), ring_(std::move(ring)) {
  if (directory_.empty()) directory_ = ".";
  std::error_code ec;
  std::filesystem::create_directories(directory_, ec);
  if (ec) {
    throw ConfigError(fmt::format("--snapshot-dir {}: cannot create it: {}", directory_.string(), ec.message()));
  }
  if (!std::filesystem::is_directory(directory_, ec)) {
    throw ConfigError(fmt::format("--snapshot-dir {}: not a directory", directory_.string()));
  }
  const std::filesystem::path probe = directory_ / fmt::format(".framering-probe-{}", ::getpid());
  const int error = write_file(probe, {});
  if (error != 0) {
    throw ConfigError(fmt::format("--snapshot-dir {}: cannot write there: {}", directory_.string(), errno_text(error)));
  }
  std::filesystem::remove(probe, ec);
}

std::string SnapshotWriter::file_name(std::string_view ring, std::uint64_t sequence) {
  return fmt::format("{}-{:020}.png", ring, sequence);
}

std::filesystem::path SnapshotWriter::write(const cv::Mat& image, std::uint64_t sequence) {
  const std::filesystem::path path = directory_ / file_name(ring_, sequence);
  try {
    if (!cv::imencode(".png", image, png_)) throw Error(fmt::format("cannot encode {} as PNG", path.string()));
  } catch (const cv::Exception& e) {
    throw Error(fmt::format("cannot encode {} as PNG: {}", path.string(), e.what()));
  }
  write_atomically(path);
  write_atomically(directory_ / kLatestName);
  return path;
}

void SnapshotWriter::write_atomically(const std::filesystem::path& path) const {
  // The temporary name starts with a dot so that globs like *.png never pick it up.
  const std::filesystem::path temp =
      path.parent_path() / fmt::format(".{}.tmp-{}", path.filename().string(), ::getpid());
  int error = write_file(temp, png_);
  if (error == 0 && ::rename(temp.c_str(), path.c_str()) != 0) error = errno;
  if (error != 0) {
    std::error_code ec;
    std::filesystem::remove(temp, ec);
    throw Error(fmt::format("cannot write snapshot {}: {}", path.string(), errno_text(error)));
  }
}

}  // namespace framering::display
