// led_geometry.hpp: the polar grid of a circular LED screen ("skyscreen": 360 radial vanes of
// 288 RGB LEDs each) and the look-up table that samples an image on it.
//
// Conventions (docs/led-output.md, "Geometry"):
//   - Angles are in degrees in the image as it is shown (x to the right, y down), measured from
//     "up" (12 o'clock, towards row 0). The screen is seen from below, looking up, so the image
//     appears on it unmirrored: the image is what a viewer under the screen sees.
//   - Vane v sits at angle vane0_angle_deg + v * 360 / vanes, turning clockwise (Cw, the
//     default) or counter-clockwise (Ccw) as seen from below.
//   - The disc is the circle inscribed in the image (centre ((w-1)/2, (h-1)/2) in pixel-centre
//     coordinates, radius min(w, h) / 2) unless centre or radius are given.
//   - The hub (no LEDs) is a fraction of the outer radius. The LEDs of a vane split the ring
//     between hub and rim into `leds_per_vane` equal steps and sit at the step centres:
//       r(i) = R * (hub + (1 - hub) * (i + 0.5) / leds_per_vane),  i = 0 at the hub (default)
//     or i = leds_per_vane - 1 - led when LED 0 is at the rim. skyscreen's docstring puts LED 0
//     at the inside, its renderers at the outer edge: we default to the hub, say so in
//     `framering led --help`, and make it an option.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "framering/common/pixel_format.hpp"

namespace framering::led {

/// Which way vane numbers increase, as seen from below the screen.
enum class VaneDirection { Cw, Ccw };

/// Where LED 0 of every vane is.
enum class Led0Position { Hub, Rim };

/// "cw"/"ccw" and "hub"/"rim": the names the command-line options take.
[[nodiscard]] std::string_view to_string(VaneDirection direction) noexcept;
[[nodiscard]] std::string_view to_string(Led0Position position) noexcept;

/// The screen's grid. Defaults are skyscreen's: 360 vanes x 288 LEDs.
struct LedGeometry {
  std::uint32_t vanes = 360;
  std::uint32_t leds_per_vane = 288;
  /// Radius of the hub (no LEDs) as a fraction of the outer radius, 0 <= hub_fraction < 1.
  double hub_fraction = 0.1;
  /// Angle of vane 0 in degrees from "up", clockwise as seen from below.
  double vane0_angle_deg = 0.0;
  VaneDirection direction = VaneDirection::Cw;
  Led0Position led0 = Led0Position::Hub;

  /// vanes * leds_per_vane.
  [[nodiscard]] std::uint64_t led_count() const noexcept { return std::uint64_t{vanes} * leds_per_vane; }

  /// Throws ConfigError naming the option (`--vanes`, `--leds-per-vane`, `--hub-fraction`) when
  /// there are no vanes or LEDs, more than 65535 of either, or the hub is not smaller than the
  /// rim (hub_fraction outside [0, 1)) or not a number.
  void validate() const;

  /// Angle of vane `vane` in radians, clockwise from up in the image.
  [[nodiscard]] double vane_angle_rad(std::uint32_t vane) const noexcept;
  /// Radius of LED `led` (its index on the vane) as a fraction of the outer radius, in (hub, 1).
  [[nodiscard]] double led_radius_fraction(std::uint32_t led) const noexcept;
};

/// Where the disc sits in the image, in pixels (pixel-centre coordinates: pixel (0, 0) covers
/// [-0.5, 0.5]^2). Unset fields take the inscribed circle.
struct DiscPlacement {
  std::optional<double> centre_x;
  std::optional<double> centre_y;
  std::optional<double> radius;  ///< > 0
};

/// One LED's bilinear sample of the image: four pixels at `offset`, `offset + step_x`,
/// `offset + step_y`, `offset + step_x + step_y` (in pixels from the start of the image, rows
/// `row_pixels` apart), weighted w00, w01, w10, w11 (sum 1), written to output index `led`.
struct PolarSample {
  std::uint32_t led = 0;     ///< output index: vane * leds_per_vane + led
  std::uint32_t offset = 0;
  std::uint32_t step_x = 0;  ///< 0 at the right edge, else 1
  std::uint32_t step_y = 0;  ///< 0 at the bottom edge, else row_pixels
  float w00 = 0, w01 = 0, w10 = 0, w11 = 0;
};

/// The look-up table from the screen's grid to image pixels, computed once per geometry and
/// image shape: per frame, each LED costs four loads and four multiply-adds (bilinear
/// interpolation, e.g. Gonzalez & Woods, Digital Image Processing, 3rd ed., section 2.4.4).
/// The table is sorted by image offset, so that a frame is read front to back (the hardware
/// prefetcher streams it; in vane-major order every LED of a vane would land on another row and
/// miss the cache); each sample names its output index, and the output is vane-major
/// (index = vane * leds_per_vane + led), skyscreen's order. Sample positions outside the image are
/// clamped to its border pixels.
class PolarMap {
 public:
  /// Throws ConfigError when the geometry is invalid (LedGeometry::validate), the image is
  /// empty or its rows are shorter than its width (`row_pixels` < width), the image holds
  /// 2^32 pixels or more, or the placement's radius is not > 0.
  PolarMap(const LedGeometry& geometry, std::uint32_t width, std::uint32_t height, std::uint64_t row_pixels,
           const DiscPlacement& placement = {});

  /// Where LED (vane, led) samples the image, in pixel-centre coordinates (before clamping).
  struct Point {
    double x = 0;
    double y = 0;
  };
  [[nodiscard]] static Point position(const LedGeometry& geometry, double centre_x, double centre_y, double radius,
                                      std::uint32_t vane, std::uint32_t led) noexcept;

  /// Samples `image` (height rows of row_pixels elements of T: std::uint16_t or std::uint8_t)
  /// at every LED into `out` (led_count() values, vane-major), rounding to the nearest count.
  /// `image` must hold at least (height - 1) * row_pixels + width elements; throws ConfigError
  /// otherwise or when `out` is not led_count() long.
  template <class T>
  void sample(std::span<const T> image, std::span<T> out) const;

  /// Samples an interleaved 3-channel 8-bit image (RGB8 or BGR8: `height` rows, row_pixels()
  /// *bytes* apart, so build the map with row_pixels = the row stride in bytes) at every LED,
  /// each channel on its own with the same bilinear weights, into `out` (led_count() * 3 bytes,
  /// vane-major, the image's channel order kept). `image` must hold at least (height - 1) *
  /// row_pixels + 3 * width bytes; throws ConfigError otherwise, or when `out` has another size.
  void sample_interleaved3(std::span<const std::uint8_t> image, std::span<std::uint8_t> out) const;

  [[nodiscard]] const LedGeometry& geometry() const noexcept { return geometry_; }
  [[nodiscard]] std::uint32_t width() const noexcept { return width_; }
  [[nodiscard]] std::uint32_t height() const noexcept { return height_; }
  [[nodiscard]] std::uint64_t row_pixels() const noexcept { return row_pixels_; }
  [[nodiscard]] double centre_x() const noexcept { return centre_x_; }
  [[nodiscard]] double centre_y() const noexcept { return centre_y_; }
  [[nodiscard]] double radius() const noexcept { return radius_; }
  [[nodiscard]] std::span<const PolarSample> samples() const noexcept { return samples_; }

 private:
  LedGeometry geometry_;
  std::uint32_t width_ = 0;
  std::uint32_t height_ = 0;
  std::uint64_t row_pixels_ = 0;
  double centre_x_ = 0;
  double centre_y_ = 0;
  double radius_ = 0;
  std::vector<PolarSample> samples_;
};

extern template void PolarMap::sample<std::uint16_t>(std::span<const std::uint16_t>, std::span<std::uint16_t>) const;
extern template void PolarMap::sample<std::uint8_t>(std::span<const std::uint8_t>, std::span<std::uint8_t>) const;

}  // namespace framering::led
