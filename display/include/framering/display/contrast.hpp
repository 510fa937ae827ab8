// contrast.hpp: contrast stretch of 16-bit (and Mono8) frames to 8 bits, for display/ (the
// window and its snapshots) and led/ (the LED screen samples the same 8-bit image).
//
// A stretch has two steps, kept apart so that a caller can measure on one frame and apply to
// another, or show the limits it used:
//   limits(): the input range [low, high] to map onto [0, 255], by mode:
//     MinMax      the frame's smallest and largest pixel;
//     Percentile  the frame's percentile_low and percentile_high percentiles (nearest rank,
//                 from a 65536-bin histogram of every pixel), so hot pixels and dead columns
//                 do not set the range;
//     Fixed       [fixed_min, fixed_max] whatever the frame holds.
//   apply():  out = clamp(round((v - low) * 255 / (high - low)), 0, 255), through a 65536-entry
//             look-up table. When high == low (a flat frame), v <= low maps to 0, v > low to 255.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "framering/common/pixel_format.hpp"

namespace framering::display {

/// How the input range of a stretch is chosen (see the file comment).
enum class ContrastMode {
  MinMax,
  Percentile,
  Fixed,
};

/// "minmax", "percentile" or "fixed": the names `--contrast` takes.
[[nodiscard]] std::string_view to_string(ContrastMode mode) noexcept;

/// Parses a name as to_string() spells it; nullopt when unknown.
[[nodiscard]] std::optional<ContrastMode> parse_contrast_mode(std::string_view name) noexcept;

/// The mode after `mode` in the order MinMax, Percentile, Fixed, MinMax... (the window's `c` key).
[[nodiscard]] ContrastMode next_contrast_mode(ContrastMode mode) noexcept;

/// What a ContrastStretch does; the fields mirror the `display` options.
struct ContrastSettings {
  ContrastMode mode = ContrastMode::Percentile;
  /// Percentile: the lower and upper percentiles, in percent, 0 <= low < high <= 100.
  double percentile_low = 0.1;
  double percentile_high = 99.9;
  /// Fixed: the input counts that map to 0 and to 255, fixed_min < fixed_max <= 65535.
  std::uint32_t fixed_min = 0;
  /// nullopt: the full scale of the frame's format (2^significant_bits - 1: 65535 for Mono16,
  /// 4095 for Mono12, 255 for Mono8).
  std::optional<std::uint32_t> fixed_max;
};

/// A read-only monochrome frame: height rows of width pixels, rows stride_bytes apart,
/// little-endian. 16-bit containers (Mono10/12/14/16) hold one std::uint16_t per pixel,
/// Mono8 one std::uint8_t. The caller keeps the pixels alive for the call.
struct MonoImageView {
  std::span<const std::byte> pixels;  ///< at least height * stride_bytes bytes (the last row may be short of padding)
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::uint64_t stride_bytes = 0;
  PixelFormat pixel_format = PixelFormat::Mono16;
};

/// An 8-bit output image: height rows of width bytes, rows stride_bytes apart.
struct Gray8Span {
  std::span<std::uint8_t> pixels;  ///< at least (height - 1) * stride_bytes + width bytes
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::uint64_t stride_bytes = 0;
};

/// The input range a stretch maps onto [0, 255], in counts of the input format; low <= high.
struct ContrastLimits {
  std::uint32_t low = 0;
  std::uint32_t high = 0;
  friend bool operator==(const ContrastLimits&, const ContrastLimits&) = default;
};

/// Contrast stretch to 8 bits (see the file comment). Holds a 65536-bin histogram and a
/// 65536-entry look-up table, allocated once: limits() and apply() allocate nothing. One
/// thread at a time per instance.
class ContrastStretch {
 public:
  /// Throws ConfigError naming the option (`--percentile-low`, `--fixed-max`, ...) when the
  /// percentiles are outside 0..100 or not low < high, or fixed_min >= fixed_max, or
  /// fixed_max > 65535.
  explicit ContrastStretch(const ContrastSettings& settings);

  /// The input range for `frame` under the current mode. Throws ConfigError when the frame's
  /// format is not Mono8 or a 16-bit container, or fixed_max is unset and the frame's full
  /// scale is not above fixed_min.
  [[nodiscard]] ContrastLimits limits(const MonoImageView& frame);

  /// Maps every pixel of `frame` through [limits.low, limits.high] → [0, 255] into `out`,
  /// which must be frame.width x frame.height (throws ConfigError otherwise).
  void apply(const MonoImageView& frame, ContrastLimits limits, const Gray8Span& out);

  /// limits() then apply(); returns the limits used.
  ContrastLimits stretch(const MonoImageView& frame, const Gray8Span& out);

  [[nodiscard]] const ContrastSettings& settings() const noexcept { return settings_; }
  /// Changes the mode; the other settings stay (they were validated at construction).
  void set_mode(ContrastMode mode) noexcept { settings_.mode = mode; }

 private:
  void build_lut(ContrastLimits limits);

  ContrastSettings settings_;
  std::vector<std::uint32_t> histogram_;  ///< 65536 bins, Percentile only
  std::vector<std::uint8_t> lut_;         ///< 65536 entries: the table for lut_limits_
  std::optional<ContrastLimits> lut_limits_;
};

}  // namespace framering::display
