// led_expected.hpp: what `framering led` must write for ring_peer's sequence pattern, computed here
// from the documented geometry (docs/led-output.md) independently of led/:
//   LED (vane, led) sits at angle a = vane0 + 360 * vane / vanes degrees clockwise from up and
//   radius r = R * (hub + (1 - hub) * (led + 0.5) / leds) (LED 0 at the hub), i.e. at image
//   x = cx + r sin(a), y = cy - r cos(a), cx = (w - 1) / 2, cy = (h - 1) / 2, R = min(w, h) / 2,
//   clamped to the image. The pattern pixel(x, y) = sequence + x + 3y is linear, so its bilinear
//   sample there is exactly sequence + x + 3y; with --contrast fixed 0..255, --gamma 1 and
//   --brightness-cap 1 that count is the LED's R = G = B.
// The file is skyscreen's: byte vane * leds * 3 + led * 3 + {R, G, B}.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

namespace framering::test {

struct LedTestGeometry {
  std::uint32_t vanes = 36;
  std::uint32_t leds = 20;
  double hub = 0.1;
  double vane0_deg = 0.0;
  std::uint32_t width = 64;
  std::uint32_t height = 48;
};

/// The expected R (= G = B) of LED (vane, led) for the pattern of `sequence`, before rounding.
inline double expected_led_value(const LedTestGeometry& g, std::uint32_t vane, std::uint32_t led,
                                 std::uint64_t sequence) {
  const double a = (g.vane0_deg + 360.0 * vane / g.vanes) * std::numbers::pi / 180.0;
  const double radius = std::min(g.width, g.height) / 2.0;
  const double r = radius * (g.hub + (1.0 - g.hub) * (led + 0.5) / g.leds);
  const double x = std::clamp((g.width - 1) / 2.0 + r * std::sin(a), 0.0, g.width - 1.0);
  const double y = std::clamp((g.height - 1) / 2.0 - r * std::cos(a), 0.0, g.height - 1.0);
  return std::min(255.0, static_cast<double>(sequence) + x + 3.0 * y);
}

/// The first byte of `file` (vanes * leds * 3 bytes) that differs from the formula by more than
/// one count (float rounding), as text; "" when every byte matches.
inline std::string check_led_file(const LedTestGeometry& g, const std::vector<std::uint8_t>& file,
                                  std::uint64_t sequence) {
  if (file.size() != std::size_t{g.vanes} * g.leds * 3) {
    return "file holds " + std::to_string(file.size()) + " bytes, expected " + std::to_string(g.vanes * g.leds * 3);
  }
  for (std::uint32_t v = 0; v < g.vanes; ++v) {
    for (std::uint32_t l = 0; l < g.leds; ++l) {
      const double want = expected_led_value(g, v, l, sequence);
      for (std::uint32_t c = 0; c < 3; ++c) {
        const std::uint8_t got = file[std::size_t{v} * g.leds * 3 + std::size_t{l} * 3 + c];
        if (std::abs(got - want) > 1.0) {
          return "vane " + std::to_string(v) + " led " + std::to_string(l) + " channel " + std::to_string(c) +
                 ": " + std::to_string(got) + ", expected " + std::to_string(want);
        }
      }
    }
  }
  return "";
}

/// For an RGB8 ring (issue 12: sampled per channel, no contrast or colour map): channel c of the
/// pattern is (sequence + x + 3y + 85c) & 0xFF, linear except where it wraps past 255, so only
/// LEDs whose four bilinear taps lie on one side of a wrap are checked (the rest are counted in
/// `*skipped`). The first differing byte as text; "" when every checked byte matches.
inline std::string check_led_file_rgb(const LedTestGeometry& g, const std::vector<std::uint8_t>& file,
                                      std::uint64_t sequence, std::uint64_t* skipped) {
  if (file.size() != std::size_t{g.vanes} * g.leds * 3) {
    return "file holds " + std::to_string(file.size()) + " bytes, expected " + std::to_string(g.vanes * g.leds * 3);
  }
  for (std::uint32_t v = 0; v < g.vanes; ++v) {
    for (std::uint32_t l = 0; l < g.leds; ++l) {
      const double a = (g.vane0_deg + 360.0 * v / g.vanes) * std::numbers::pi / 180.0;
      const double radius = std::min(g.width, g.height) / 2.0;
      const double r = radius * (g.hub + (1.0 - g.hub) * (l + 0.5) / g.leds);
      const double x = std::clamp((g.width - 1) / 2.0 + r * std::sin(a), 0.0, g.width - 1.0);
      const double y = std::clamp((g.height - 1) / 2.0 - r * std::cos(a), 0.0, g.height - 1.0);
      for (std::uint32_t c = 0; c < 3; ++c) {
        const double base = static_cast<double>(sequence) + 85.0 * c;
        const double low = base + std::floor(x) + 3.0 * std::floor(y);
        const double high = base + std::min(std::floor(x) + 1, g.width - 1.0) + 3.0 * std::min(std::floor(y) + 1, g.height - 1.0);
        if (std::floor(low / 256.0) != std::floor(high / 256.0)) {
          ++*skipped;
          continue;
        }
        const double want = std::fmod(base + x + 3.0 * y, 256.0);
        const std::uint8_t got = file[std::size_t{v} * g.leds * 3 + std::size_t{l} * 3 + c];
        if (std::abs(got - want) > 1.0) {
          return "vane " + std::to_string(v) + " led " + std::to_string(l) + " channel " + std::to_string(c) +
                 ": " + std::to_string(got) + ", expected " + std::to_string(want);
        }
      }
    }
  }
  return "";
}

}  // namespace framering::test
