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
  /// Colour frames (RGB8, BGR8): one contrast stretch over all three channels' samples together
  /// (the colour balance is kept), shown in colour, no colour map. Bayer frames: the raw mosaic
  /// stretched, then demosaiced for the screen by OpenCV's bilinear cv::cvtColor (COLOR_Bayer*2BGR,
  /// the pattern read from the format's CFA), no colour map.
  ContrastLimits render(const MonoImageView& frame, cv::Mat& out);

  /// Copies `frame` unchanged into `out`: CV_16UC1 for the 16-bit containers, CV_8UC1 for
  /// Mono8 and the 8-bit Bayer mosaics, CV_8UC3 for RGB8/BGR8 (in the frame's channel order),
  /// height x width, rows packed (the ring's row padding dropped).
  static void copy_raw(const MonoImageView& frame, cv::Mat& out);

  /// `raw` (from copy_raw) as an image file stores it: RGB8 swapped to OpenCV's B, G, R order
  /// (cv::imwrite expects it), every other format shared as it is.
  static void png_ready_raw(const cv::Mat& raw, PixelFormat format, cv::Mat& out);

  [[nodiscard]] ContrastStretch& contrast() noexcept { return contrast_; }
  [[nodiscard]] const ContrastStretch& contrast() const noexcept { return contrast_; }
  [[nodiscard]] const Colormap& colormap() const noexcept { return colormap_; }

 private:
  ContrastStretch contrast_;
  Colormap colormap_;
  std::vector<std::uint8_t> gray_;  ///< width * height, the stretched frame before the colour map
};

}  // namespace framering::display
