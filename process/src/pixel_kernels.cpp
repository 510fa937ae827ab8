#include "framering/process/pixel_kernels.hpp"

#include <cstring>

namespace framering::process {
namespace {

// Loops written so that GCC vectorises them (simple counted loops, no aliasing: __restrict).

template <class Pixel>
void row_to_float(const Pixel* __restrict in, float* __restrict out, std::uint32_t width) noexcept {
  for (std::uint32_t x = 0; x < width; ++x) out[x] = static_cast<float>(in[x]);
}

template <class Pixel>
void row_to_pixels(const float* __restrict in, float scale, float offset, float max_value, Pixel* __restrict out,
                   std::uint32_t width) noexcept {
  for (std::uint32_t x = 0; x < width; ++x) {
    float v = in[x] * scale + offset;
    v = v > 0.0F ? v : 0.0F;  // also NaN -> 0
    v = v < max_value ? v : max_value;
    out[x] = static_cast<Pixel>(static_cast<std::int32_t>(v + 0.5F));
  }
}

template <class Pixel>
void to_float(const std::byte* pixels, std::uint64_t stride_bytes, std::uint32_t width, std::uint32_t height,
              float* out, std::size_t out_row_floats) noexcept {
  for (std::uint32_t y = 0; y < height; ++y) {
    // Slots and fftwf_malloc buffers are aligned for Pixel; the cast is the ring's contract.
    const auto* row = reinterpret_cast<const Pixel*>(pixels + std::uint64_t{y} * stride_bytes);
    row_to_float(row, out + std::size_t{y} * out_row_floats, width);
  }
}

template <class Pixel>
void to_pixels(const float* in, std::size_t in_row_floats, float scale, float offset, float max_value,
               std::uint32_t width, std::uint32_t height, std::byte* pixels, std::uint64_t stride_bytes) noexcept {
  for (std::uint32_t y = 0; y < height; ++y) {
    auto* row = reinterpret_cast<Pixel*>(pixels + std::uint64_t{y} * stride_bytes);
    row_to_pixels(in + std::size_t{y} * in_row_floats, scale, offset, max_value, row, width);
  }
}

}  // namespace

std::uint32_t max_pixel_value(PixelFormat format) noexcept {
  const std::uint32_t bits = significant_bits(format);
  return bits >= 32 ? 0xFFFF'FFFFU : (1U << bits) - 1U;
}

void pixels_to_float(const std::byte* pixels, std::uint64_t stride_bytes, PixelFormat format, std::uint32_t width,
                     std::uint32_t height, float* out, std::size_t out_row_floats) noexcept {
  if (bytes_per_pixel(format) == 1) {
    to_float<std::uint8_t>(pixels, stride_bytes, width, height, out, out_row_floats);
  } else {
    to_float<std::uint16_t>(pixels, stride_bytes, width, height, out, out_row_floats);
  }
}

void multiply_by_mask(float* __restrict spectrum, const float* __restrict mask, std::size_t count) noexcept {
  for (std::size_t i = 0; i < count; ++i) {
    spectrum[2 * i] *= mask[i];
    spectrum[2 * i + 1] *= mask[i];
  }
}

void float_to_pixels(const float* in, std::size_t in_row_floats, float scale, float offset, PixelFormat format,
                     std::uint32_t width, std::uint32_t height, std::byte* pixels, std::uint64_t stride_bytes) noexcept {
  const auto max_value = static_cast<float>(max_pixel_value(format));
  if (bytes_per_pixel(format) == 1) {
    to_pixels<std::uint8_t>(in, in_row_floats, scale, offset, max_value, width, height, pixels, stride_bytes);
  } else {
    to_pixels<std::uint16_t>(in, in_row_floats, scale, offset, max_value, width, height, pixels, stride_bytes);
  }
}

}  // namespace framering::process
