// pixel_kernels.hpp: the per-pixel steps around FFTW's transforms (pixels -> float, mask
// multiply, float -> pixels). FourierFilter and `framering bench process`'s bare loop run
// the same code, so the benchmark's ratio measures the rings, not two implementations.
//
// Each dispatches on the pixel format once per frame (never per pixel), allocates nothing and
// checks no sizes: callers (FourierFilter) check them once.
#pragma once

#include <cstddef>
#include <cstdint>

#include "framering/common/pixel_format.hpp"

namespace framering::process {

/// The largest value a pixel of `format` holds: 2^significant_bits - 1 (255 Mono8, 4095
/// Mono12, 65535 Mono16).
[[nodiscard]] std::uint32_t max_pixel_value(PixelFormat format) noexcept;

/// Converts a width x height frame of `format` pixels (rows `stride_bytes` apart, 1 byte per
/// pixel for Mono8, 2 little-endian bytes for the others) to width x height floats,
/// row-major, rows `out_row_floats` (>= width) floats apart: width for FFTW's out-of-place
/// layout, 2 * (width/2 + 1) for its in-place one (fft_plans.hpp). Values are converted
/// exactly (no scaling); the padding floats at the end of each row are left alone.
void pixels_to_float(const std::byte* pixels, std::uint64_t stride_bytes, PixelFormat format, std::uint32_t width,
                     std::uint32_t height, float* out, std::size_t out_row_floats) noexcept;

/// Multiplies `count` complex values (interleaved re, im floats: fftwf_complex) by the real
/// gains `mask[0..count)`.
void multiply_by_mask(float* spectrum, const float* mask, std::size_t count) noexcept;

/// Writes width x height floats (row-major, rows `in_row_floats` >= width floats apart; the
/// floats past width in each row are not read) as in * scale + offset in `format` pixels, rows
/// `stride_bytes` apart: rounded to nearest (halves up), clamped to [0, max_pixel_value] (NaN
/// becomes 0). Row padding bytes are left alone.
void float_to_pixels(const float* in, std::size_t in_row_floats, float scale, float offset, PixelFormat format,
                     std::uint32_t width, std::uint32_t height, std::byte* pixels, std::uint64_t stride_bytes) noexcept;

}  // namespace framering::process
