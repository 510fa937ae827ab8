#include "framering/display/contrast.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "framering/common/error.hpp"

namespace framering::display {
namespace {

constexpr std::size_t kLevels = 65536;

// Checks the frame's format and that its buffer holds the rows it claims; returns bytes per pixel.
std::uint32_t checked_bytes_per_pixel(const MonoImageView& frame) {
  if (!is_known_pixel_format(static_cast<std::uint32_t>(frame.pixel_format))) {
    throw ConfigError(fmt::format("contrast stretch: pixel format 0x{:08x} is not a PFNC monochrome format",
                                  static_cast<std::uint32_t>(frame.pixel_format)));
  }
  const std::uint32_t bpp = bytes_per_pixel(frame.pixel_format);
  const std::uint64_t row_bytes = std::uint64_t{frame.width} * bpp;
  const std::uint64_t needed = frame.height == 0 ? 0 : (frame.height - 1) * frame.stride_bytes + row_bytes;
  if (frame.stride_bytes < row_bytes || frame.pixels.size() < needed) {
    throw ConfigError(fmt::format("contrast stretch: a {}x{} {} frame with rows {} B apart needs {} B, got {} B",
                                  frame.width, frame.height, to_string(frame.pixel_format), frame.stride_bytes,
                                  needed, frame.pixels.size()));
  }
  return bpp;
}

template <class T>
const T* row_of(const MonoImageView& frame, std::uint32_t y) {
  return reinterpret_cast<const T*>(frame.pixels.data() + std::uint64_t{y} * frame.stride_bytes);
}

template <class T>
ContrastLimits min_max(const MonoImageView& frame) {
  if (frame.width == 0 || frame.height == 0) return {};
  T lo = row_of<T>(frame, 0)[0];
  T hi = lo;
  for (std::uint32_t y = 0; y < frame.height; ++y) {
    const T* row = row_of<T>(frame, y);
    for (std::uint32_t x = 0; x < frame.width; ++x) {
      lo = std::min(lo, row[x]);
      hi = std::max(hi, row[x]);
    }
  }
  return {lo, hi};
}

template <class T>
void count(const MonoImageView& frame, std::vector<std::uint32_t>& histogram) {
  std::fill(histogram.begin(), histogram.end(), 0U);
  for (std::uint32_t y = 0; y < frame.height; ++y) {
    const T* row = row_of<T>(frame, y);
    for (std::uint32_t x = 0; x < frame.width; ++x) ++histogram[row[x]];
  }
}

// The value of nearest rank `rank` (0-based, in sorted order) from a histogram.
std::uint32_t value_at_rank(const std::vector<std::uint32_t>& histogram, std::uint64_t rank) {
  std::uint64_t seen = 0;
  for (std::size_t v = 0; v < histogram.size(); ++v) {
    seen += histogram[v];
    if (seen > rank) return static_cast<std::uint32_t>(v);
  }
  return static_cast<std::uint32_t>(histogram.size() - 1);
}

template <class T>
void map_through(const MonoImageView& frame, const std::vector<std::uint8_t>& lut, const Gray8Span& out) {
  for (std::uint32_t y = 0; y < frame.height; ++y) {
    const T* in = row_of<T>(frame, y);
    std::uint8_t* dst = out.pixels.data() + std::uint64_t{y} * out.stride_bytes;
    for (std::uint32_t x = 0; x < frame.width; ++x) dst[x] = lut[in[x]];
  }
}

}  // namespace

std::string_view to_string(ContrastMode mode) noexcept {
  switch (mode) {
    case ContrastMode::MinMax: return "minmax";
    case ContrastMode::Percentile: return "percentile";
    case ContrastMode::Fixed: return "fixed";
  }
  return "unknown";
}

std::optional<ContrastMode> parse_contrast_mode(std::string_view name) noexcept {
  for (ContrastMode mode : {ContrastMode::MinMax, ContrastMode::Percentile, ContrastMode::Fixed}) {
    if (to_string(mode) == name) return mode;
  }
  return std::nullopt;
}

ContrastMode next_contrast_mode(ContrastMode mode) noexcept {
  switch (mode) {
    case ContrastMode::MinMax: return ContrastMode::Percentile;
    case ContrastMode::Percentile: return ContrastMode::Fixed;
    case ContrastMode::Fixed: return ContrastMode::MinMax;
  }
  return ContrastMode::MinMax;
}

ContrastStretch::ContrastStretch(const ContrastSettings& settings)
    : settings_(settings), histogram_(kLevels, 0U), lut_(kLevels, 0U) {
  const double lo = settings.percentile_low;
  const double hi = settings.percentile_high;
  if (!(lo >= 0.0 && lo <= 100.0)) {
    throw ConfigError(fmt::format("--percentile-low {} is outside 0..100 (percent)", lo));
  }
  if (!(hi >= 0.0 && hi <= 100.0)) {
    throw ConfigError(fmt::format("--percentile-high {} is outside 0..100 (percent)", hi));
  }
  if (!(lo < hi)) {
    throw ConfigError(fmt::format("--percentile-low {} must be below --percentile-high {}", lo, hi));
  }
  if (settings.fixed_max) {
    if (*settings.fixed_max > kLevels - 1) {
      throw ConfigError(fmt::format("--fixed-max {} is above 65535, the largest 16-bit count", *settings.fixed_max));
    }
    if (settings.fixed_min >= *settings.fixed_max) {
      throw ConfigError(fmt::format("--fixed-min {} must be below --fixed-max {}", settings.fixed_min,
                                    *settings.fixed_max));
    }
  } else if (settings.fixed_min >= kLevels - 1) {
    throw ConfigError(fmt::format("--fixed-min {} must be below 65535", settings.fixed_min));
  }
}

ContrastLimits ContrastStretch::limits(const MonoImageView& frame) {
  const std::uint32_t bpp = checked_bytes_per_pixel(frame);
  switch (settings_.mode) {
    case ContrastMode::MinMax:
      return bpp == 1 ? min_max<std::uint8_t>(frame) : min_max<std::uint16_t>(frame);
    case ContrastMode::Percentile: {
      const std::uint64_t n = std::uint64_t{frame.width} * frame.height;
      if (n == 0) return {};
      if (bpp == 1) {
        count<std::uint8_t>(frame, histogram_);
      } else {
        count<std::uint16_t>(frame, histogram_);
      }
      const double last = static_cast<double>(n - 1);
      const auto rank_low = static_cast<std::uint64_t>(std::floor(settings_.percentile_low / 100.0 * last));
      const auto rank_high =
          std::min(n - 1, static_cast<std::uint64_t>(std::ceil(settings_.percentile_high / 100.0 * last)));
      return {value_at_rank(histogram_, rank_low), value_at_rank(histogram_, rank_high)};
    }
    case ContrastMode::Fixed: {
      const std::uint32_t full_scale = (1U << significant_bits(frame.pixel_format)) - 1U;
      const std::uint32_t high = settings_.fixed_max.value_or(full_scale);
      if (settings_.fixed_min >= high) {
        throw ConfigError(fmt::format("--fixed-min {} must be below the full scale {} of {} frames (or set --fixed-max)",
                                      settings_.fixed_min, high, to_string(frame.pixel_format)));
      }
      return {settings_.fixed_min, high};
    }
  }
  return {};
}

void ContrastStretch::build_lut(ContrastLimits limits) {
  if (lut_limits_ == limits) return;
  const std::uint32_t low = limits.low;
  const std::uint32_t high = limits.high;
  const std::uint32_t span = high > low ? high - low : 0U;
  for (std::uint32_t v = 0; v < kLevels; ++v) {
    std::uint32_t out = 0;
    if (span == 0) {
      out = v > low ? 255U : 0U;
    } else if (v >= high) {
      out = 255U;
    } else if (v > low) {
      out = ((v - low) * 255U + span / 2U) / span;  // round half up; (65535 * 255) fits in 32 bits
    }
    lut_[v] = static_cast<std::uint8_t>(out);
  }
  lut_limits_ = limits;
}

void ContrastStretch::apply(const MonoImageView& frame, ContrastLimits limits, const Gray8Span& out) {
  const std::uint32_t bpp = checked_bytes_per_pixel(frame);
  const std::uint64_t needed = out.height == 0 ? 0 : (out.height - 1) * out.stride_bytes + out.width;
  if (out.width != frame.width || out.height != frame.height || out.stride_bytes < out.width ||
      out.pixels.size() < needed) {
    throw ConfigError(fmt::format("contrast stretch: output {}x{} (rows {} B apart, {} B) does not fit a {}x{} frame",
                                  out.width, out.height, out.stride_bytes, out.pixels.size(), frame.width,
                                  frame.height));
  }
  build_lut(limits);
  if (bpp == 1) {
    map_through<std::uint8_t>(frame, lut_, out);
  } else {
    map_through<std::uint16_t>(frame, lut_, out);
  }
}

ContrastLimits ContrastStretch::stretch(const MonoImageView& frame, const Gray8Span& out) {
  const ContrastLimits used = limits(frame);
  apply(frame, used, out);
  return used;
}

}  // namespace framering::display
