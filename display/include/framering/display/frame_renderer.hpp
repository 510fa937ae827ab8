// frame_renderer.hpp: one frame of a ring to the image display/ shows and snapshots: contrast
// stretch to 8 bits, then the colour map. What the window shows is this image plus the overlay;
// a snapshot is this image alone (or the raw frame, with --snapshot-raw).
#pragma once

#include <cstdint>
#include <vector>

#include "framering/display/colormap.hpp"
#include "framering/display/contrast.hpp"

namespace cv {
class Mat;
}

namespace framering::display {

/// Renders frames to 8-bit images. Owns its scratch buffers (allocated on the first frame and
/// when the frame size changes). One thread at a time per instance.
class FrameRenderer {
 public:
  /// Throws ConfigError as ContrastStretch does for invalid settings.
  FrameRenderer(const ContrastSettings& contrast, Colormap colormap);

  /// Reads every pixel of `frame` once (so a caller reading a ring in place can release the
  /// frame right after) and writes `out`: height x width, CV_8UC1 for a grayscale map, CV_8UC3
  /// BGR otherwise, (re)allocated only when its type or size differs. Returns the contrast
  /// limits used. Throws ConfigError when the frame's format or buffer is unusable.
  ContrastLimits render(const MonoImageView& frame, cv::Mat& out);

  /// Copies `frame` unchanged into `out`: CV_16UC1 for the 16-bit containers, CV_8UC1 for
  /// Mono8, height x width, rows packed (the ring's row padding dropped).
  static void copy_raw(const MonoImageView& frame, cv::Mat& out);

  [[nodiscard]] ContrastStretch& contrast() noexcept { return contrast_; }
  [[nodiscard]] const ContrastStretch& contrast() const noexcept { return contrast_; }
  [[nodiscard]] const Colormap& colormap() const noexcept { return colormap_; }

 private:
  ContrastStretch contrast_;
  Colormap colormap_;
  std::vector<std::uint8_t> gray_;  ///< width * height, the stretched frame before the colour map
};

}  // namespace framering::display
