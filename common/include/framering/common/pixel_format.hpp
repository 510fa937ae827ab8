// pixel_format.hpp: pixel formats by their GenICam PFNC name and code, so that segments and
// files describe themselves. Source: GenICam Pixel Format Naming Convention (PFNC) 2.x,
// table of 32-bit pixel format values (e.g. Mono16 = 0x01100007, RGB8 = 0x02180014,
// BayerRG8 = 0x01080009; the same values as Aravis' ARV_PIXEL_FORMAT_*).
//
// A PFNC code says, in bits 24-31, mono (0x01: one sample per pixel, Bayer mosaics included)
// or colour (0x02), and in bits 16-23 the bits one pixel occupies. A reader in another
// language tells the formats apart by the code alone:
//   samples per pixel = 3 for RGB8/BGR8, else 1;  bytes per pixel = bits 16-23 / 8;
//   bytes per sample  = bytes per pixel / samples per pixel.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace framering {

/// A pixel format, valued by its PFNC 32-bit code. All formats here are unpacked and
/// little-endian: Mono12 is 12 significant bits LSB-aligned in 16 (not packed Mono12p), and so
/// are BayerRG12 and the other 10/12-bit mosaics. RGB8 is R, G, B bytes per pixel; BGR8 is
/// B, G, R. A Bayer format is one sample per pixel, each pixel behind one colour filter of
/// the 2x2 colour filter array (CFA) its name gives, from the top-left pixel: BayerRG = R G / G B.
enum class PixelFormat : std::uint32_t {
  Mono8 = 0x01080001,
  Mono10 = 0x01100003,
  Mono12 = 0x01100005,
  Mono14 = 0x01100025,
  Mono16 = 0x01100007,
  RGB8 = 0x02180014,
  BGR8 = 0x02180015,
  BayerGR8 = 0x01080008,
  BayerRG8 = 0x01080009,
  BayerGB8 = 0x0108000A,
  BayerBG8 = 0x0108000B,
  BayerGR10 = 0x0110000C,
  BayerRG10 = 0x0110000D,
  BayerGB10 = 0x0110000E,
  BayerBG10 = 0x0110000F,
  BayerGR12 = 0x01100010,
  BayerRG12 = 0x01100011,
  BayerGB12 = 0x01100012,
  BayerBG12 = 0x01100013,
  BayerGR16 = 0x0110002E,
  BayerRG16 = 0x0110002F,
  BayerGB16 = 0x01100030,
  BayerBG16 = 0x01100031,
};

/// Every format in PixelFormat, Mono first (the order `--help` texts list them in).
[[nodiscard]] std::span<const PixelFormat> all_pixel_formats() noexcept;

/// The PFNC name ("Mono16"); "Unknown" for a code not in the enum.
[[nodiscard]] std::string_view to_string(PixelFormat format) noexcept;

/// Parses a PFNC name, exactly as PFNC spells it ("Mono16", "BayerRG8"); nullopt when unknown.
[[nodiscard]] std::optional<PixelFormat> parse_pixel_format(std::string_view name) noexcept;

/// Whether `code` is one of the PFNC codes in PixelFormat.
[[nodiscard]] bool is_known_pixel_format(std::uint32_t code) noexcept;

/// Bytes one pixel occupies in memory: 1 for Mono8 and the 8-bit mosaics, 2 for the 16-bit
/// containers, 3 for RGB8/BGR8. The PFNC code carries it, in bits 16-23 (bits per pixel).
[[nodiscard]] constexpr std::uint32_t bytes_per_pixel(PixelFormat format) noexcept {
  return ((static_cast<std::uint32_t>(format) >> 16U) & 0xFFU) / 8U;
}

/// Samples (channels) per pixel: 3 for RGB8 and BGR8, 1 for Mono and Bayer formats.
[[nodiscard]] constexpr std::uint32_t samples_per_pixel(PixelFormat format) noexcept {
  return format == PixelFormat::RGB8 || format == PixelFormat::BGR8 ? 3U : 1U;
}

/// Bytes of one sample: 1 or 2.
[[nodiscard]] constexpr std::uint32_t bytes_per_sample(PixelFormat format) noexcept {
  return bytes_per_pixel(format) / samples_per_pixel(format);
}

/// Significant bits per sample (8, 10, 12, 14 or 16): the largest value is 2^bits - 1.
[[nodiscard]] std::uint32_t significant_bits(PixelFormat format) noexcept;

/// Whether `format` is a Bayer mosaic (one sample per pixel behind a colour filter).
[[nodiscard]] bool is_bayer(PixelFormat format) noexcept;

/// Whether each pixel is one grey sample (Mono8..Mono16): what a stage that treats pixels as
/// intensities (FFT filter, contrast stretch, colour map) can take unchanged.
[[nodiscard]] bool is_mono(PixelFormat format) noexcept;

/// A Bayer format's 2x2 colour filter array, row by row from the top-left pixel: "RGGB" for
/// BayerRG*, "GRBG" for BayerGR*, "GBRG" for BayerGB*, "BGGR" for BayerBG*; empty for the
/// others. The same letters as TIFF/EP's CFAPattern (0 = R, 1 = G, 2 = B) and tifffile's.
[[nodiscard]] std::string_view cfa_pattern(PixelFormat format) noexcept;

/// "Mono8, Mono10, ..., BayerBG16": the names of `formats`, for error messages that list what
/// a stage accepts.
[[nodiscard]] std::string pixel_format_names(std::span<const PixelFormat> formats);

}  // namespace framering
