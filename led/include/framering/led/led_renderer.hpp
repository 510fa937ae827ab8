// led_renderer.hpp: one frame of a ring to the colours of a circular LED screen, in skyscreen's
// layout: vane-major, packed RGB8, byte offset vane * leds_per_vane * 3 + led * 3 + {0 R, 1 G, 2 B}.
//
// Per frame:
//   1. sample: bilinear samples of the frame at every LED through a PolarMap (computed once);
//   2. contrast: the same ContrastStretch as `framering display` (minmax, percentile, fixed),
//      its limits measured on the sampled values (what the screen shows), to 8 bits;
//   3. colour: an OpenCV colour map, or grey (R = G = B), tabulated once for the 256 values;
//   4. gamma: out = round(255 * (in / 255)^gamma) through a 256-entry table (LED PWM is linear in
//      light, the eye is not: gamma 2.2 is the sRGB-like default, IEC 61966-2-1's approximation);
//   5. brightness cap: when the frame's total power, sum(channel values) / (3 * LEDs * 255), is
//      above the cap, every channel value is scaled by cap / total so that the total is the
//      cap; frames below it are left alone (the power limiting of LED libraries such as FastLED's
//      setMaxPowerInMilliWatts, with power taken as proportional to the PWM value).
// An RGB8 or BGR8 frame is sampled per channel (the same bilinear weights) and goes to the LEDs
// as it is: no contrast stretch and no colour map (steps 2 and 3), gamma (4) per channel, the
// cap (5) on the total of all channels; a pattern drawn in colour is shown in those colours.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "framering/display/colormap.hpp"
#include "framering/display/contrast.hpp"
#include "framering/led/led_geometry.hpp"

namespace framering::led {

/// The colour steps of an LED frame (see the file comment).
struct LedColourSettings {
  display::ContrastSettings contrast;
  display::Colormap colormap;
  /// Exponent applied to the 8-bit value (normalised to 0..1), 0.1..10; 1 = none.
  double gamma = 2.2;
  /// Most of full power the screen may draw, as a fraction 0 < cap <= 1 of all channels at 255.
  double brightness_cap = 0.5;
};

/// Turns frames into LED colours. Owns its look-up tables and scratch buffers; the polar map is
/// rebuilt only when the frame's width, height or stride changes. One thread at a time.
class LedRenderer {
 public:
  /// Throws ConfigError naming the option when the geometry (LedGeometry::validate), contrast
  /// settings, gamma (`--gamma`, expected 0.1..10) or cap (`--brightness-cap`, expected (0, 1])
  /// are invalid.
  LedRenderer(const LedGeometry& geometry, const DiscPlacement& placement, const LedColourSettings& colour);

  /// Renders `frame` (Mono8, a 16-bit container, RGB8 or BGR8) into `rgb`: led_count() * 3 bytes in
  /// skyscreen's layout (see the file comment). Reads only the pixels the LEDs sample, so a
  /// caller reading a ring in place may release the frame right after. Throws ConfigError when
  /// the frame's format or buffer is unusable or `rgb` has the wrong size.
  void render(const display::MonoImageView& frame, std::span<std::uint8_t> rgb);

  /// The contrast limits the last render used ({0, 255} for a colour frame: none).
  [[nodiscard]] display::ContrastLimits last_limits() const noexcept { return limits_; }
  /// The total power of the last frame after the cap, as a fraction of full power.
  [[nodiscard]] double last_power() const noexcept { return power_; }
  /// The scale the cap applied to the last frame (1 when it was under the cap).
  [[nodiscard]] double last_cap_scale() const noexcept { return cap_scale_; }

  [[nodiscard]] const LedGeometry& geometry() const noexcept { return geometry_; }
  [[nodiscard]] const DiscPlacement& placement() const noexcept { return placement_; }
  [[nodiscard]] const LedColourSettings& colour() const noexcept { return colour_; }
  [[nodiscard]] std::uint64_t rgb_bytes() const noexcept { return geometry_.led_count() * 3; }
  /// The polar map of the last frame's shape; nullptr before the first render.
  [[nodiscard]] const PolarMap* polar_map() const noexcept { return map_ ? &*map_ : nullptr; }

 private:
  // RGB8/BGR8: sample per channel, gamma, cap (see the file comment).
  void render_colour(const display::MonoImageView& frame, std::span<std::uint8_t> rgb);
  // Step 5 on `rgb` whose channel values add up to `sum`; sets power_ and cap_scale_.
  void apply_cap(std::span<std::uint8_t> rgb, std::uint64_t sum);

  LedGeometry geometry_;
  DiscPlacement placement_;
  LedColourSettings colour_;
  display::ContrastStretch contrast_;
  std::optional<PolarMap> map_;
  std::vector<std::uint8_t> sampled_;  ///< led_count() values of the frame's element type (x3 for colour)
  std::vector<std::uint8_t> gray_;     ///< led_count() stretched 8-bit values
  std::vector<std::uint8_t> palette_;  ///< 256 x RGB: colour map then gamma of each 8-bit value
  std::vector<std::uint8_t> gamma_;    ///< 256 entries
  display::ContrastLimits limits_;
  double power_ = 0;
  double cap_scale_ = 1;
};

}  // namespace framering::led
