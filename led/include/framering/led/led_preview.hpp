// led_preview.hpp: a picture of the LED screen as a viewer under it sees it, for people who want
// to know what the screen shows without standing under it: a square image, black outside the
// disc and in the hub, each screen pixel painted with the colour of the LED whose cell (its vane's
// angular sector, its radial step) contains it. The geometry is the same LedGeometry the polar
// map uses, so an image sampled onto the screen and drawn back looks like the image.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "framering/led/led_geometry.hpp"

namespace cv {
class Mat;
}

namespace framering::led {

/// Draws LED frames as a disc. The pixel-to-LED table is computed once. One thread at a time.
class LedPreview {
 public:
  /// `size_px`: the side of the square picture, 16..8192 (throws ConfigError naming
  /// `--preview-size-px` otherwise, or as LedGeometry::validate).
  LedPreview(const LedGeometry& geometry, std::uint32_t size_px);

  /// Draws `rgb` (led_count() * 3 bytes, skyscreen's layout) into `out`: CV_8UC3 BGR (OpenCV's
  /// order, for cv::imwrite), size_px x size_px, (re)allocated when needed.
  void draw(std::span<const std::uint8_t> rgb, cv::Mat& out) const;

  /// The LED (vane * leds_per_vane + led) shown at picture pixel (x, y), or -1 for black.
  [[nodiscard]] std::int32_t led_at(std::uint32_t x, std::uint32_t y) const noexcept {
    return table_[std::uint64_t{y} * size_px_ + x];
  }

  /// Encodes `picture` as PNG and puts it at `path` atomically (a temporary file in the same
  /// directory, then rename), so a viewer never reads half a file. Throws Error naming the path
  /// and the errno text when it cannot.
  static void write_png(const cv::Mat& picture, const std::filesystem::path& path);

  /// Checks that a PNG can be written next to `path` (creates and removes a probe file); throws
  /// ConfigError naming `--preview` and the errno text when not.
  static void check_writable(const std::filesystem::path& path);

  [[nodiscard]] std::uint32_t size_px() const noexcept { return size_px_; }

 private:
  LedGeometry geometry_;
  std::uint32_t size_px_ = 0;
  std::vector<std::int32_t> table_;  ///< size_px^2 entries, row-major
};

}  // namespace framering::led
