#include "framering/process/fourier_filter.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include <fftw3.h>
#include <fmt/format.h>

#include "framering/common/clock.hpp"
#include "framering/process/pixel_kernels.hpp"

namespace framering::process {
namespace {

// Plans from wisdom only (FFTW_WISDOM_ONLY): null when the wisdom lacks this problem. That is
// how we learn whether a start planned or reused wisdom; FFTW has no other way to say.
template <class MakePlan>
fftwf_plan plan_preferring_wisdom(unsigned flags, bool& from_wisdom, MakePlan make) {
  if (fftwf_plan plan = make(flags | FFTW_WISDOM_ONLY); plan != nullptr) {
    from_wisdom = true;
    return plan;
  }
  from_wisdom = false;
  return make(flags);
}

}  // namespace

FourierFilter::FourierFilter(const FrameShape& shape, const FilterSpec& spec, const PlanOptions& options)
    : shape_(shape), spec_(spec) {
  if (shape.width == 0 || shape.height == 0 || shape.width > 65536 || shape.height > 65536) {
    throw ConfigError(fmt::format("cannot filter {}x{} frames: width and height must be 1..65536", shape.width,
                                  shape.height));
  }
  if (!is_known_pixel_format(static_cast<std::uint32_t>(shape.pixel_format))) {
    throw ConfigError(fmt::format("cannot filter pixel format 0x{:08x}: not a PFNC format framering knows",
                                  static_cast<std::uint32_t>(shape.pixel_format)));
  }
  spec_.validate();
  const std::uint32_t columns = shape.width / 2 + 1;
  real_count_ = std::size_t{shape.height} * shape.width;
  spectrum_count_ = std::size_t{shape.height} * columns;
  real_ = allocate_fftw_floats(real_count_);
  spectrum_ = allocate_fftw_floats(2 * spectrum_count_);
  if (spec_.mode != FilterMode::LogPower) {
    const std::vector<float> gains = build_mask(shape.width, shape.height, spec_);
    mask_count_ = gains.size();
    mask_ = allocate_fftw_floats(mask_count_);
    std::memcpy(mask_.get(), gains.data(), mask_count_ * sizeof(float));
  }

  set_planner_threads(options.threads);
  if (options.wisdom_path) report_.wisdom_read = import_wisdom(*options.wisdom_path);
  const unsigned flags = planner_flags(options.rigor);
  const int n0 = static_cast<int>(shape.height);
  const int n1 = static_cast<int>(shape.width);
  auto* complex = reinterpret_cast<fftwf_complex*>(spectrum_.get());
  const std::uint64_t start_ns = monotonic_ns();
  bool forward_from_wisdom = false;
  bool backward_from_wisdom = true;
  forward_ = plan_preferring_wisdom(flags, forward_from_wisdom, [&](unsigned f) {
    return fftwf_plan_dft_r2c_2d(n0, n1, real_.get(), complex, f);
  });
  if (forward_ == nullptr) {
    throw PlanError(fmt::format("FFTW could not plan a {}x{} r2c transform ({}, {} threads)", shape.width,
                                shape.height, to_string(options.rigor), options.threads));
  }
  if (spec_.mode != FilterMode::LogPower) {
    backward_ = plan_preferring_wisdom(flags, backward_from_wisdom, [&](unsigned f) {
      return fftwf_plan_dft_c2r_2d(n0, n1, complex, real_.get(), f);
    });
    if (backward_ == nullptr) {
      fftwf_destroy_plan(forward_);
      throw PlanError(fmt::format("FFTW could not plan a {}x{} c2r transform ({}, {} threads)", shape.width,
                                  shape.height, to_string(options.rigor), options.threads));
    }
  }
  report_.planning_time = std::chrono::nanoseconds{monotonic_ns() - start_ns};
  report_.wisdom_used = forward_from_wisdom && backward_from_wisdom;
  if (options.wisdom_path && !report_.wisdom_used) {
    auto saved = export_wisdom(*options.wisdom_path);
    report_.wisdom_written = saved.has_value();
    if (!saved) report_.wisdom_problem = saved.error();
  }
  // Planning (FFTW_MEASURE) scribbled on the buffers: start every frame from a clean state.
  std::memset(real_.get(), 0, real_count_ * sizeof(float));
}

FourierFilter::FourierFilter(FourierFilter&& other) noexcept
    : shape_(other.shape_),
      spec_(other.spec_),
      report_(std::move(other.report_)),
      real_count_(other.real_count_),
      spectrum_count_(other.spectrum_count_),
      mask_count_(other.mask_count_),
      real_(std::move(other.real_)),
      spectrum_(std::move(other.spectrum_)),
      mask_(std::move(other.mask_)),
      forward_(std::exchange(other.forward_, nullptr)),
      backward_(std::exchange(other.backward_, nullptr)),
      log_min_(other.log_min_),
      log_max_(other.log_max_) {}

FourierFilter::~FourierFilter() {
  if (forward_ != nullptr) fftwf_destroy_plan(forward_);
  if (backward_ != nullptr) fftwf_destroy_plan(backward_);
}

bool FourierFilter::fits(std::size_t bytes, std::uint64_t stride_bytes) const noexcept {
  const std::uint64_t row_bytes = std::uint64_t{shape_.width} * bytes_per_pixel(shape_.pixel_format);
  return stride_bytes >= row_bytes && bytes >= (std::uint64_t{shape_.height} - 1) * stride_bytes + row_bytes;
}

std::expected<void, FilterError> FourierFilter::load(std::span<const std::byte> pixels,
                                                     std::uint64_t stride_bytes) noexcept {
  if (!fits(pixels.size(), stride_bytes)) return std::unexpected(FilterError::InputTooSmall);
  pixels_to_float(pixels.data(), stride_bytes, shape_.pixel_format, shape_.width, shape_.height, real_.get());
  return {};
}

void FourierFilter::transform() noexcept {
  fftwf_execute(forward_);
  if (spec_.mode != FilterMode::LogPower) {
    multiply_by_mask(spectrum_.get(), mask_.get(), mask_count_);
    fftwf_execute(backward_);
    return;
  }
  // log(1 + |F|^2) into the first height x (width/2 + 1) floats of real_ (which holds
  // height x width >= that many); float is enough: |F|^2 <= (65535 * 2^32)^2 < 3.4e38.
  const float* spectrum = spectrum_.get();
  float* log_power = real_.get();
  float lo = INFINITY;
  float hi = -INFINITY;
  for (std::size_t i = 0; i < spectrum_count_; ++i) {
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
    float_to_pixels(real_.get(), scale, static_cast<float>(spec_.output_offset), shape_.pixel_format, shape_.width, shape_.height, pixels.data(), stride_bytes);
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
  const float* log_power = real_.get();
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
