#include "framering/process/fourier_filter.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "framering/process/pixel_kernels.hpp"

namespace framering::process {
namespace {

// Timed executions of each layout's transforms when choosing (after one warm-up each).
constexpr int kLayoutTimingRounds = 8;

const FrameShape& validated(const FrameShape& shape) {
  if (shape.width == 0 || shape.height == 0 || shape.width > 65536 || shape.height > 65536) {
    throw ConfigError(fmt::format("cannot filter {}x{} frames: width and height must be 1..65536", shape.width,
                                  shape.height));
  }
  if (!is_known_pixel_format(static_cast<std::uint32_t>(shape.pixel_format))) {
    throw ConfigError(fmt::format("cannot filter pixel format 0x{:08x}: not a PFNC format framering knows",
                                  static_cast<std::uint32_t>(shape.pixel_format)));
  }
  if (is_bayer(shape.pixel_format)) {
    throw ConfigError(fmt::format("process cannot filter {} frames: neighbouring pixels of a Bayer mosaic sit behind "
                                  "different colour filters, so its spectrum mixes the colours; demosaic it first "
                                  "(--mode demosaic into an RGB8 ring), then filter that",
                                  to_string(shape.pixel_format)));
  }
  if (!is_mono(shape.pixel_format)) {
    throw ConfigError(fmt::format("a Fourier filter takes one sample per pixel (Mono8..Mono16), not {}: a colour "
                                  "frame is filtered one channel at a time (process::FrameStep)",
                                  to_string(shape.pixel_format)));
  }
  return shape;
}

FilterSpec validated(const FilterSpec& spec) {
  spec.validate();
  return spec;
}

FftwFloats mask_of(const FrameShape& shape, const FilterSpec& spec, std::size_t& count) {
  if (spec.mode == FilterMode::LogPower) return {};
  const std::vector<float> gains = build_mask(shape.width, shape.height, spec);
  count = gains.size();
  FftwFloats mask = allocate_fftw_floats(count);
  std::memcpy(mask.get(), gains.data(), count * sizeof(float));
  return mask;
}

// The plans of options.layout, or of both layouts and then the faster (see the header); fills
// the wisdom and layout parts of `report` and saves wisdom when anything was planned.
FftPlans plans_of(const FrameShape& shape, const FilterSpec& spec, const PlanOptions& options, PlanReport& report) {
  set_planner_threads(options.threads);
  if (options.wisdom_path) report.wisdom_read = import_wisdom(*options.wisdom_path);
  const unsigned flags = planner_flags(options.rigor);
  const bool with_inverse = spec.mode != FilterMode::LogPower;
  auto plan = [&](FftLayout layout) {
    try {
      return FftPlans(shape.width, shape.height, layout, flags, with_inverse);
    } catch (const PlanError& e) {
      throw PlanError(fmt::format("{} ({}, {} threads)", e.what(), to_string(options.rigor), options.threads));
    }
  };
  std::optional<FftPlans> chosen;
  if (options.layout == FftLayout::Auto) {
    FftPlans in_place = plan(FftLayout::InPlace);
    FftPlans out_of_place = plan(FftLayout::OutOfPlace);
    report.planning_time = in_place.planning_time() + out_of_place.planning_time();
    report.wisdom_used = in_place.from_wisdom() && out_of_place.from_wisdom();
    report.layout_timing = time_layouts(in_place, out_of_place, kLayoutTimingRounds);
    chosen.emplace(std::move(report.layout_timing->faster == FftLayout::InPlace ? in_place : out_of_place));
  } else {
    chosen.emplace(plan(options.layout));
    report.planning_time = chosen->planning_time();
    report.wisdom_used = chosen->from_wisdom();
  }
  report.layout = chosen->layout();
  if (options.wisdom_path && !report.wisdom_used) {
    auto saved = export_wisdom(*options.wisdom_path);
    report.wisdom_written = saved.has_value();
    if (!saved) report.wisdom_problem = saved.error();
  }
  return std::move(*chosen);
}

}  // namespace

FourierFilter::FourierFilter(const FrameShape& shape, const FilterSpec& spec, const PlanOptions& options)
    : shape_(validated(shape)),
      spec_(validated(spec)),
      real_count_(std::size_t{shape.height} * shape.width),
      mask_(mask_of(shape_, spec_, mask_count_)),
      plans_(plans_of(shape_, spec_, options, report_)) {}

void FourierFilter::set_spec(const FilterSpec& spec) {
  spec.validate();
  if ((spec.mode == FilterMode::LogPower) != (spec_.mode == FilterMode::LogPower)) {
    throw ConfigError(fmt::format("mode {} -> {}: logpower has other FFT plans than the filters; it needs a restart",
                                  to_string(spec_.mode), to_string(spec.mode)));
  }
  std::size_t count = 0;
  FftwFloats mask = mask_of(shape_, spec, count);
  mask_ = std::move(mask);
  mask_count_ = count;
  spec_ = spec;
}

bool FourierFilter::fits(std::size_t bytes, std::uint64_t stride_bytes) const noexcept {
  const std::uint64_t row_bytes = std::uint64_t{shape_.width} * bytes_per_pixel(shape_.pixel_format);
  return stride_bytes >= row_bytes && bytes >= (std::uint64_t{shape_.height} - 1) * stride_bytes + row_bytes;
}

std::expected<void, FilterError> FourierFilter::load(std::span<const std::byte> pixels,
                                                     std::uint64_t stride_bytes) noexcept {
  if (!fits(pixels.size(), stride_bytes)) return std::unexpected(FilterError::InputTooSmall);
  pixels_to_float(pixels.data(), stride_bytes, shape_.pixel_format, shape_.width, shape_.height, plans_.real(),
                  plans_.real_row_floats());
  return {};
}

void FourierFilter::transform() noexcept {
  plans_.forward();
  if (spec_.mode != FilterMode::LogPower) {
    multiply_by_mask(plans_.spectrum(), mask_.get(), mask_count_);
    plans_.backward();
    return;
  }
  // log(1 + |F|^2) into the first height x (width/2 + 1) floats of the real buffer (which holds
  // at least that many); float is enough: |F|^2 <= (65535 * 2^32)^2 < 3.4e38. In-place the
  // spectrum is the same memory: value i is written after values 2i and 2i+1 (>= i) are read.
  const float* spectrum = plans_.spectrum();
  float* log_power = plans_.real();
  const std::size_t spectrum_count = plans_.spectrum_count();
  float lo = INFINITY;
  float hi = -INFINITY;
  for (std::size_t i = 0; i < spectrum_count; ++i) {
    const float re = spectrum[2 * i];
    const float im = spectrum[2 * i + 1];
    const float v = std::log1p(re * re + im * im);
    log_power[i] = v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  log_min_ = lo;
  log_max_ = hi;
}

std::expected<void, FilterError> FourierFilter::store(std::span<std::byte> pixels,
                                                      std::uint64_t stride_bytes) noexcept {
  if (!fits(pixels.size(), stride_bytes)) return std::unexpected(FilterError::OutputTooSmall);
  if (spec_.mode == FilterMode::LogPower) {
    store_log_power(pixels.data(), stride_bytes);
  } else {
    const float scale = 1.0F / static_cast<float>(real_count_);
    float_to_pixels(plans_.real(), plans_.real_row_floats(), scale, static_cast<float>(spec_.output_offset),
                    shape_.pixel_format, shape_.width, shape_.height, pixels.data(), stride_bytes);
  }
  return {};
}

std::expected<void, FilterError> FourierFilter::apply(std::span<const std::byte> input,
                                                      std::uint64_t input_stride_bytes, std::span<std::byte> output,
                                                      std::uint64_t output_stride_bytes) noexcept {
  if (auto loaded = load(input, input_stride_bytes); !loaded) return loaded;
  if (!fits(output.size(), output_stride_bytes)) return std::unexpected(FilterError::OutputTooSmall);
  transform();
  return store(output, output_stride_bytes);
}

void FourierFilter::store_log_power(std::byte* pixels, std::uint64_t stride_bytes) const noexcept {
  const std::uint32_t w = shape_.width;
  const std::uint32_t h = shape_.height;
  const std::uint32_t columns = w / 2 + 1;
  const auto max_value = static_cast<float>(max_pixel_value(shape_.pixel_format));
  const float range = log_max_ - log_min_;
  const float stretch = range > 0.0F ? max_value / range : 0.0F;
  const float* log_power = plans_.real();
  const bool one_byte = bytes_per_pixel(shape_.pixel_format) == 1;
  for (std::uint32_t y = 0; y < h; ++y) {
    // fftshift: output row y shows ky = y - h/2 (mod h); column x shows kx = x - w/2 (mod w).
    const std::uint32_t ky = (y + h - h / 2) % h;
    const std::uint32_t mirrored_ky = (h - ky) % h;
    std::byte* row = pixels + std::uint64_t{y} * stride_bytes;
    for (std::uint32_t x = 0; x < w; ++x) {
      const std::uint32_t kx = (x + w - w / 2) % w;
      // The half plane holds kx <= w/2; F(ky, kx) = conj(F(-ky, -kx)) gives the rest.
      const float v = kx < columns ? log_power[std::size_t{ky} * columns + kx]
                                   : log_power[std::size_t{mirrored_ky} * columns + (w - kx)];
      float scaled = (v - log_min_) * stretch;
      scaled = scaled > 0.0F ? scaled : 0.0F;
      scaled = scaled < max_value ? scaled : max_value;
      const auto value = static_cast<std::uint32_t>(scaled + 0.5F);
      if (one_byte) {
        reinterpret_cast<std::uint8_t*>(row)[x] = static_cast<std::uint8_t>(value);
      } else {
        reinterpret_cast<std::uint16_t*>(row)[x] = static_cast<std::uint16_t>(value);
      }
    }
  }
}

}  // namespace framering::process
