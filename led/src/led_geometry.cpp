// led_geometry.cpp: the screen's polar grid and its bilinear look-up table.
#include "framering/led/led_geometry.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "framering/common/error.hpp"

namespace framering::led {

std::string_view to_string(VaneDirection direction) noexcept {
  return direction == VaneDirection::Cw ? "cw" : "ccw";
}

std::string_view to_string(Led0Position position) noexcept {
  return position == Led0Position::Hub ? "hub" : "rim";
}

void LedGeometry::validate() const {
  if (vanes == 0 || vanes > 65535) {
    throw ConfigError(fmt::format("--vanes {}: expected 1..65535 vanes (skyscreen has 360)", vanes));
  }
  if (leds_per_vane == 0 || leds_per_vane > 65535) {
    throw ConfigError(
        fmt::format("--leds-per-vane {}: expected 1..65535 LEDs per vane (skyscreen has 288)", leds_per_vane));
  }
  if (!(hub_fraction >= 0.0 && hub_fraction < 1.0)) {
    throw ConfigError(fmt::format(
        "--hub-fraction {}: the hub must be smaller than the rim: expected a fraction of the outer radius in [0, 1)",
        hub_fraction));
  }
  if (!std::isfinite(vane0_angle_deg)) {
    throw ConfigError(fmt::format("--vane0-angle-deg {}: expected a finite angle in degrees", vane0_angle_deg));
  }
}

double LedGeometry::vane_angle_rad(std::uint32_t vane) const noexcept {
  const double sign = direction == VaneDirection::Cw ? 1.0 : -1.0;
  const double deg = vane0_angle_deg + sign * 360.0 * static_cast<double>(vane) / static_cast<double>(vanes);
  return deg * std::numbers::pi / 180.0;
}

double LedGeometry::led_radius_fraction(std::uint32_t led) const noexcept {
  const std::uint32_t from_hub = led0 == Led0Position::Hub ? led : leds_per_vane - 1 - led;
  return hub_fraction + (1.0 - hub_fraction) * (static_cast<double>(from_hub) + 0.5) / leds_per_vane;
}

PolarMap::Point PolarMap::position(const LedGeometry& geometry, double centre_x, double centre_y, double radius,
                                   std::uint32_t vane, std::uint32_t led) noexcept {
  const double a = geometry.vane_angle_rad(vane);
  const double r = radius * geometry.led_radius_fraction(led);
  // Clockwise from up in image coordinates (y grows downwards).
  return {centre_x + r * std::sin(a), centre_y - r * std::cos(a)};
}

PolarMap::PolarMap(const LedGeometry& geometry, std::uint32_t width, std::uint32_t height, std::uint64_t row_pixels,
                   const DiscPlacement& placement)
    : geometry_(geometry), width_(width), height_(height), row_pixels_(row_pixels) {
  geometry_.validate();
  if (width == 0 || height == 0) {
    throw ConfigError(fmt::format("LED map: the image is {}x{}: expected at least 1x1 pixels", width, height));
  }
  if (row_pixels < width) {
    throw ConfigError(fmt::format("LED map: rows of {} pixels are shorter than the width {}", row_pixels, width));
  }
  if (row_pixels * height >= (std::uint64_t{1} << 32)) {
    throw ConfigError(fmt::format("LED map: a {}x{} image (rows of {} pixels) is too large: expected < 2^32 pixels",
                                  width, height, row_pixels));
  }
  centre_x_ = placement.centre_x.value_or((width - 1.0) / 2.0);
  centre_y_ = placement.centre_y.value_or((height - 1.0) / 2.0);
  radius_ = placement.radius.value_or(std::min(width, height) / 2.0);
  if (!(radius_ > 0.0) || !std::isfinite(radius_)) {
    throw ConfigError(fmt::format("--disc-radius-px {}: expected a radius > 0 pixels", radius_));
  }
  if (!std::isfinite(centre_x_) || !std::isfinite(centre_y_)) {
    throw ConfigError("--disc-centre-x/--disc-centre-y: expected finite pixel coordinates");
  }
  samples_.resize(geometry_.led_count());
  const double max_x = width - 1.0;
  const double max_y = height - 1.0;
  for (std::uint32_t v = 0; v < geometry_.vanes; ++v) {
    for (std::uint32_t l = 0; l < geometry_.leds_per_vane; ++l) {
      const Point p = position(geometry_, centre_x_, centre_y_, radius_, v, l);
      const double x = std::clamp(p.x, 0.0, max_x);
      const double y = std::clamp(p.y, 0.0, max_y);
      const auto x0 = static_cast<std::uint32_t>(std::floor(x));
      const auto y0 = static_cast<std::uint32_t>(std::floor(y));
      const auto fx = static_cast<float>(x - x0);
      const auto fy = static_cast<float>(y - y0);
      PolarSample& s = samples_[std::uint64_t{v} * geometry_.leds_per_vane + l];
      s.led = v * geometry_.leds_per_vane + l;
      s.offset = static_cast<std::uint32_t>(std::uint64_t{y0} * row_pixels + x0);
      s.step_x = x0 + 1 < width ? 1U : 0U;
      s.step_y = y0 + 1 < height ? static_cast<std::uint32_t>(row_pixels) : 0U;
      s.w00 = (1.0F - fx) * (1.0F - fy);
      s.w01 = fx * (1.0F - fy);
      s.w10 = (1.0F - fx) * fy;
      s.w11 = fx * fy;
    }
  }
  std::ranges::stable_sort(samples_, {}, &PolarSample::offset);
}

template <class T>
void PolarMap::sample(std::span<const T> image, std::span<T> out) const {
  const std::uint64_t needed = (std::uint64_t{height_} - 1) * row_pixels_ + width_;
  if (image.size() < needed) {
    throw ConfigError(fmt::format("LED map: the image holds {} pixels, expected at least {} ({}x{}, rows of {})",
                                  image.size(), needed, width_, height_, row_pixels_));
  }
  if (out.size() != samples_.size()) {
    throw ConfigError(fmt::format("LED map: the output holds {} values, expected {}", out.size(), samples_.size()));
  }
  const T* px = image.data();
  const PolarSample* s = samples_.data();
  T* o = out.data();
  const std::size_t n = samples_.size();
  for (std::size_t i = 0; i < n; ++i) {
    const PolarSample& p = s[i];
    const T* a = px + p.offset;
    const float v = p.w00 * static_cast<float>(a[0]) + p.w01 * static_cast<float>(a[p.step_x]) +
                    p.w10 * static_cast<float>(a[p.step_y]) + p.w11 * static_cast<float>(a[p.step_y + p.step_x]);
    o[p.led] = static_cast<T>(v + 0.5F);  // v >= 0 and <= the largest tap: rounds to the nearest count
  }
}

void PolarMap::sample_interleaved3(std::span<const std::uint8_t> image, std::span<std::uint8_t> out) const {
  const std::uint64_t needed = (std::uint64_t{height_} - 1) * row_pixels_ + 3ULL * width_;
  if (row_pixels_ < 3ULL * width_ || image.size() < needed) {
    throw ConfigError(fmt::format("LED map: the 3-channel image holds {} bytes in rows of {}, expected at least {} "
                                  "({}x{}, 3 bytes per pixel)",
                                  image.size(), row_pixels_, needed, width_, height_));
  }
  if (out.size() != 3 * samples_.size()) {
    throw ConfigError(fmt::format("LED map: the output holds {} values, expected {}", out.size(), 3 * samples_.size()));
  }
  const std::uint8_t* px = image.data();
  std::uint8_t* o = out.data();
  for (const PolarSample& p : samples_) {
    // The map counts a pixel as one element of a row of row_pixels: here that is its first byte
    // plus two more for each pixel before it in the row.
    const std::uint64_t x = p.offset % row_pixels_;
    const std::uint8_t* a = px + p.offset + 2 * x;
    const std::uint64_t sx = 3ULL * p.step_x;
    for (std::uint32_t c = 0; c < 3; ++c) {
      const float v = p.w00 * static_cast<float>(a[c]) + p.w01 * static_cast<float>(a[c + sx]) +
                      p.w10 * static_cast<float>(a[c + p.step_y]) + p.w11 * static_cast<float>(a[c + p.step_y + sx]);
      o[3ULL * p.led + c] = static_cast<std::uint8_t>(v + 0.5F);
    }
  }
}

template void PolarMap::sample<std::uint16_t>(std::span<const std::uint16_t>, std::span<std::uint16_t>) const;
template void PolarMap::sample<std::uint8_t>(std::span<const std::uint8_t>, std::span<std::uint8_t>) const;

}  // namespace framering::led
