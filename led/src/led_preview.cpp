// led_preview.cpp: the LED screen drawn as a disc, and atomic PNG files of it.
#include "framering/led/led_preview.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <numbers>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "framering/common/error.hpp"

namespace framering::led {
namespace {

std::filesystem::path temp_path(const std::filesystem::path& path) {
  std::filesystem::path tmp = path;
  tmp += fmt::format(".tmp-{}", ::getpid());
  return tmp;
}

void write_all(const std::filesystem::path& path, const unsigned char* data, std::size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int e = errno;
    throw Error(fmt::format("--preview {}: cannot create: {}", path.string(), errno_text(e)));
  }
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = n < 0 ? errno : ENOSPC;
      ::close(fd);
      ::unlink(path.c_str());
      throw Error(fmt::format("--preview {}: cannot write: {}", path.string(), errno_text(e)));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(path.c_str());
    throw Error(fmt::format("--preview {}: cannot write: {}", path.string(), errno_text(e)));
  }
}

}  // namespace

LedPreview::LedPreview(const LedGeometry& geometry, std::uint32_t size_px) : geometry_(geometry), size_px_(size_px) {
  geometry_.validate();
  if (size_px < 16 || size_px > 8192) {
    throw ConfigError(fmt::format("--preview-size-px {}: expected 16..8192 pixels", size_px));
  }
  table_.assign(std::uint64_t{size_px} * size_px, -1);
  const double c = (size_px - 1.0) / 2.0;
  const double radius = size_px / 2.0;
  const double hub = geometry_.hub_fraction;
  const double step_deg = 360.0 / geometry_.vanes;
  const double sign = geometry_.direction == VaneDirection::Cw ? 1.0 : -1.0;
  for (std::uint32_t y = 0; y < size_px; ++y) {
    for (std::uint32_t x = 0; x < size_px; ++x) {
      const double dx = x - c;
      const double dy = y - c;
      const double r = std::hypot(dx, dy) / radius;
      if (r >= 1.0 || r < hub) continue;
      // Clockwise from up, as the polar map measures it.
      const double angle_deg = std::atan2(dx, -dy) * 180.0 / std::numbers::pi;
      const double turns = sign * (angle_deg - geometry_.vane0_angle_deg) / step_deg;
      const auto n = static_cast<std::int64_t>(geometry_.vanes);
      const std::int64_t vane = ((static_cast<std::int64_t>(std::llround(turns)) % n) + n) % n;
      auto from_hub = static_cast<std::int64_t>(std::floor((r - hub) / (1.0 - hub) * geometry_.leds_per_vane));
      from_hub = std::clamp<std::int64_t>(from_hub, 0, geometry_.leds_per_vane - 1);
      const std::int64_t led = geometry_.led0 == Led0Position::Hub ? from_hub : geometry_.leds_per_vane - 1 - from_hub;
      table_[std::uint64_t{y} * size_px + x] = static_cast<std::int32_t>(vane * geometry_.leds_per_vane + led);
    }
  }
}

void LedPreview::draw(std::span<const std::uint8_t> rgb, cv::Mat& out) const {
  out.create(static_cast<int>(size_px_), static_cast<int>(size_px_), CV_8UC3);
  const bool whole = rgb.size() >= geometry_.led_count() * 3;
  for (std::uint32_t y = 0; y < size_px_; ++y) {
    auto* row = out.ptr<std::uint8_t>(static_cast<int>(y));
    for (std::uint32_t x = 0; x < size_px_; ++x) {
      const std::int32_t led = table_[std::uint64_t{y} * size_px_ + x];
      if (led < 0 || !whole) {
        row[3 * x] = row[3 * x + 1] = row[3 * x + 2] = 0;
        continue;
      }
      const std::uint8_t* c = rgb.data() + 3 * static_cast<std::uint64_t>(led);
      row[3 * x] = c[2];  // BGR
      row[3 * x + 1] = c[1];
      row[3 * x + 2] = c[0];
    }
  }
}

void LedPreview::write_png(const cv::Mat& picture, const std::filesystem::path& path) {
  std::vector<unsigned char> png;
  try {
    if (!cv::imencode(".png", picture, png)) throw Error(fmt::format("--preview {}: PNG encoding failed", path.string()));
  } catch (const cv::Exception& e) {
    throw Error(fmt::format("--preview {}: PNG encoding failed: {}", path.string(), e.what()));
  }
  const auto tmp = temp_path(path);
  write_all(tmp, png.data(), png.size());
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    throw Error(fmt::format("--preview {}: cannot rename {} into place: {}", path.string(), tmp.string(), errno_text(e)));
  }
}

void LedPreview::check_writable(const std::filesystem::path& path) {
  const auto tmp = temp_path(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int e = errno;
    throw ConfigError(fmt::format("--preview {}: cannot write a PNG there: {}", path.string(), errno_text(e)));
  }
  ::close(fd);
  ::unlink(tmp.c_str());
}

}  // namespace framering::led
