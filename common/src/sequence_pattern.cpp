#include "framering/common/sequence_pattern.hpp"

#include <cstring>

namespace framering {
namespace {

std::uint32_t mask_of(PixelFormat format) noexcept {
  const std::uint32_t bits = significant_bits(format);
  return bits >= 32 ? 0xFFFFFFFFU : (1U << bits) - 1U;
}

// Channel c of a colour pixel is offset by c * 85 (about a third of 256), so that R, G and B
// differ on screen and a swapped pair is caught.
constexpr std::uint32_t kChannelStep = 85;

}  // namespace

void fill_sequence_pattern(std::span<std::byte> frame, const FrameShape& shape, std::uint64_t sequence) noexcept {
  const std::uint32_t mask = mask_of(shape.pixel_format);
  const auto base = static_cast<std::uint32_t>(sequence);
  const std::uint64_t stride_bytes = shape.row_stride_bytes();
  const std::uint32_t samples = samples_per_pixel(shape.pixel_format);
  if (bytes_per_sample(shape.pixel_format) == 1) {
    for (std::uint32_t y = 0; y < shape.height; ++y) {
      auto* row = reinterpret_cast<std::uint8_t*>(frame.data() + std::uint64_t{y} * stride_bytes);
      const std::uint32_t start = base + 3U * y;
      for (std::uint32_t x = 0; x < shape.width; ++x) {
        for (std::uint32_t c = 0; c < samples; ++c) {
          row[std::size_t{x} * samples + c] = static_cast<std::uint8_t>((start + x + kChannelStep * c) & mask);
        }
      }
    }
    return;
  }
  for (std::uint32_t y = 0; y < shape.height; ++y) {
    auto* row = reinterpret_cast<std::uint16_t*>(frame.data() + std::uint64_t{y} * stride_bytes);
    const std::uint32_t start = base + 3U * y;
    for (std::uint32_t x = 0; x < shape.width; ++x) row[x] = static_cast<std::uint16_t>((start + x) & mask);
  }
}

std::optional<PatternMismatch> check_sequence_pattern(std::span<const std::byte> frame, const FrameShape& shape,
                                                  std::uint64_t sequence) noexcept {
  const std::uint32_t mask = mask_of(shape.pixel_format);
  const auto base = static_cast<std::uint32_t>(sequence);
  const std::uint64_t stride_bytes = shape.row_stride_bytes();
  const std::uint32_t sample_bytes = bytes_per_sample(shape.pixel_format);
  const std::uint32_t samples = samples_per_pixel(shape.pixel_format);
  for (std::uint32_t y = 0; y < shape.height; ++y) {
    const std::byte* row = frame.data() + std::uint64_t{y} * stride_bytes;
    const std::uint32_t start = base + 3U * y;
    for (std::uint32_t x = 0; x < shape.width; ++x) {
      for (std::uint32_t c = 0; c < samples; ++c) {
        const std::uint32_t expected = (start + x + kChannelStep * c) & mask;
        const std::size_t at = std::size_t{x} * samples + c;
        std::uint32_t actual = 0;
        if (sample_bytes == 1) {
          actual = static_cast<std::uint8_t>(row[at]);
        } else {
          std::uint16_t v = 0;
          std::memcpy(&v, row + 2ULL * at, 2);
          actual = v;
        }
        if (actual != expected) return PatternMismatch{x, y, c, expected, actual};
      }
    }
  }
  return std::nullopt;
}

}  // namespace framering
