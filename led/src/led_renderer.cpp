// led_renderer.cpp: frame -> polar samples -> contrast -> colour map -> gamma -> brightness cap.
#include "framering/led/led_renderer.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <opencv2/core.hpp>

#include "framering/common/error.hpp"

namespace framering::led {

LedRenderer::LedRenderer(const LedGeometry& geometry, const DiscPlacement& placement, const LedColourSettings& colour)
    : geometry_(geometry), placement_(placement), colour_(colour), contrast_(colour.contrast) {
  geometry_.validate();
  if (!(colour.gamma >= 0.1 && colour.gamma <= 10.0)) {
    throw ConfigError(fmt::format("--gamma {}: expected an exponent in 0.1..10 (2.2 for sRGB-like output)", colour.gamma));
  }
  if (!(colour.brightness_cap > 0.0 && colour.brightness_cap <= 1.0)) {
    throw ConfigError(fmt::format("--brightness-cap {}: expected a fraction of full power in (0, 1]",
                                  colour.brightness_cap));
  }
  gamma_.resize(256);
  for (int i = 0; i < 256; ++i) {
    gamma_[static_cast<std::size_t>(i)] =
        static_cast<std::uint8_t>(std::lround(255.0 * std::pow(i / 255.0, colour.gamma)));
  }
  gray_.resize(geometry_.led_count());
  // The colour map of every 8-bit value, once (cv::applyColorMap on a 0..255 ramp), gamma applied:
  // per LED, colour and gamma are then one table look-up.
  cv::Mat ramp(1, 256, CV_8UC1);
  for (int i = 0; i < 256; ++i) ramp.at<std::uint8_t>(0, i) = static_cast<std::uint8_t>(i);
  cv::Mat mapped;
  colour.colormap.apply(ramp, mapped);
  palette_.resize(256 * 3);
  for (int i = 0; i < 256; ++i) {
    const auto k = static_cast<std::size_t>(i);
    if (colour.colormap.is_gray()) {
      palette_[3 * k] = palette_[3 * k + 1] = palette_[3 * k + 2] = gamma_[k];
    } else {
      const auto bgr = mapped.at<cv::Vec3b>(0, i);
      palette_[3 * k] = gamma_[bgr[2]];
      palette_[3 * k + 1] = gamma_[bgr[1]];
      palette_[3 * k + 2] = gamma_[bgr[0]];
    }
  }
}

void LedRenderer::render(const display::MonoImageView& frame, std::span<std::uint8_t> rgb) {
  const std::uint64_t n = geometry_.led_count();
  if (rgb.size() != n * 3) {
    throw ConfigError(fmt::format("LED output holds {} bytes, expected {} ({} vanes x {} LEDs x 3)", rgb.size(), n * 3,
                                  geometry_.vanes, geometry_.leds_per_vane));
  }
  if (samples_per_pixel(frame.pixel_format) == 3) {
    render_colour(frame, rgb);
    return;
  }
  const bool wide = frame.pixel_format != PixelFormat::Mono8;
  if (wide && bytes_per_pixel(frame.pixel_format) != 2) {
    throw ConfigError(fmt::format("LED output: pixel format {} is not Mono8 or a 16-bit container",
                                  to_string(frame.pixel_format)));
  }
  const std::uint64_t element = wide ? 2 : 1;
  if (frame.stride_bytes % element != 0) {
    throw ConfigError(fmt::format("LED output: row stride {} bytes is not a whole number of pixels", frame.stride_bytes));
  }
  const std::uint64_t row_pixels = frame.stride_bytes / element;
  if (!map_ || map_->width() != frame.width || map_->height() != frame.height || map_->row_pixels() != row_pixels) {
    map_.emplace(geometry_, frame.width, frame.height, row_pixels, placement_);
  }
  // 1. sample, 2. contrast on the samples: a (vanes x leds) image of the frame's own format.
  sampled_.resize(n * element);
  if (wide) {
    const std::span<const std::uint16_t> px(reinterpret_cast<const std::uint16_t*>(frame.pixels.data()),
                                            frame.pixels.size() / 2);
    map_->sample<std::uint16_t>(px, {reinterpret_cast<std::uint16_t*>(sampled_.data()), n});
  } else {
    const std::span<const std::uint8_t> px(reinterpret_cast<const std::uint8_t*>(frame.pixels.data()),
                                           frame.pixels.size());
    map_->sample<std::uint8_t>(px, {sampled_.data(), n});
  }
  const display::MonoImageView samples{std::as_bytes(std::span(sampled_)), geometry_.leds_per_vane, geometry_.vanes,
                              geometry_.leds_per_vane * element, frame.pixel_format};
  limits_ = contrast_.stretch(samples, {gray_, geometry_.leds_per_vane, geometry_.vanes, geometry_.leds_per_vane});

  // 3. colour and 4. gamma through the palette, into RGB order; the power sum on the way.
  std::uint64_t sum = 0;
  const std::uint8_t* pal = palette_.data();
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint8_t* c = pal + 3U * gray_[i];
    rgb[3 * i] = c[0];
    rgb[3 * i + 1] = c[1];
    rgb[3 * i + 2] = c[2];
    sum += std::uint64_t{c[0]} + c[1] + c[2];
  }
  apply_cap(rgb, sum);
}

void LedRenderer::apply_cap(std::span<std::uint8_t> rgb, std::uint64_t sum) {
  // 5. brightness cap on the total power.
  const double full = static_cast<double>(rgb.size()) * 255.0;
  const double power = static_cast<double>(sum) / full;
  cap_scale_ = 1.0;
  if (power > colour_.brightness_cap) {
    cap_scale_ = colour_.brightness_cap / power;
    // Fixed point, rounded down: the total never exceeds the cap.
    const auto scale = static_cast<std::uint32_t>(cap_scale_ * 65536.0);
    sum = 0;
    for (std::uint8_t& c : rgb) {
      c = static_cast<std::uint8_t>((std::uint32_t{c} * scale) >> 16);
      sum += c;
    }
  }
  power_ = static_cast<double>(sum) / full;
}

void LedRenderer::render_colour(const display::MonoImageView& frame, std::span<std::uint8_t> rgb) {
  // The frame's colours as they are: sampled per channel, no contrast stretch and no colour
  // map (a pattern drawn in RGB8 means those colours); gamma per channel, then the cap.
  if (!map_ || map_->width() != frame.width || map_->height() != frame.height ||
      map_->row_pixels() != frame.stride_bytes) {
    map_.emplace(geometry_, frame.width, frame.height, frame.stride_bytes, placement_);
  }
  const std::uint64_t n = geometry_.led_count();
  sampled_.resize(3 * n);
  map_->sample_interleaved3({reinterpret_cast<const std::uint8_t*>(frame.pixels.data()), frame.pixels.size()},
                            sampled_);
  const bool bgr = frame.pixel_format == PixelFormat::BGR8;
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint8_t* in = sampled_.data() + 3 * i;
    for (std::uint64_t c = 0; c < 3; ++c) {
      const std::uint8_t v = gamma_[in[bgr ? 2 - c : c]];
      rgb[3 * i + c] = v;
      sum += v;
    }
  }
  limits_ = {0, 255};
  apply_cap(rgb, sum);
}

}  // namespace framering::led
