// pixel_format.hpp: pixel formats by their GenICam PFNC name and code, so that segments and
// files describe themselves. Source: GenICam Pixel Format Naming Convention (PFNC) 2.x,
// table of 32-bit pixel format values (e.g. Mono16 = 0x01100007).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace framering {

/// A pixel format, valued by its PFNC 32-bit code. All formats here are unpacked and
/// little-endian: Mono12 is 12 significant bits LSB-aligned in 16 (not packed Mono12p).
enum class PixelFormat : std::uint32_t {
  Mono8 = 0x01080001,
  Mono10 = 0x01100003,
  Mono12 = 0x01100005,
  Mono14 = 0x01100025,
  Mono16 = 0x01100007,
};

/// The PFNC name ("Mono16"); "Unknown" for a code not in the enum.
[[nodiscard]] std::string_view to_string(PixelFormat format) noexcept;

/// Parses a PFNC name, exactly as PFNC spells it ("Mono16"); nullopt when unknown.
[[nodiscard]] std::optional<PixelFormat> parse_pixel_format(std::string_view name) noexcept;

/// Whether `code` is one of the PFNC codes in PixelFormat.
[[nodiscard]] bool is_known_pixel_format(std::uint32_t code) noexcept;

/// Bytes one pixel occupies in memory: 1 for Mono8, 2 for the 16-bit containers
/// (Mono10/12/14/16). The PFNC code carries it too, in bits 16-23 (bits per pixel).
[[nodiscard]] constexpr std::uint32_t bytes_per_pixel(PixelFormat format) noexcept {
  return ((static_cast<std::uint32_t>(format) >> 16U) & 0xFFU) / 8U;
}

/// Significant bits per pixel (8, 10, 12, 14 or 16): the largest value is 2^bits - 1.
[[nodiscard]] std::uint32_t significant_bits(PixelFormat format) noexcept;

}  // namespace framering
