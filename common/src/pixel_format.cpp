#include "framering/common/pixel_format.hpp"

#include <array>
#include <utility>

namespace framering {
namespace {

struct FormatInfo {
  PixelFormat format;
  std::string_view name;
  std::uint32_t bits;    ///< significant bits per sample
  std::string_view cfa;  ///< Bayer mosaics: the 2x2 pattern row by row; else empty
};

constexpr std::array kFormats{
    FormatInfo{PixelFormat::Mono8, "Mono8", 8, ""},           FormatInfo{PixelFormat::Mono10, "Mono10", 10, ""},
    FormatInfo{PixelFormat::Mono12, "Mono12", 12, ""},        FormatInfo{PixelFormat::Mono14, "Mono14", 14, ""},
    FormatInfo{PixelFormat::Mono16, "Mono16", 16, ""},        FormatInfo{PixelFormat::RGB8, "RGB8", 8, ""},
    FormatInfo{PixelFormat::BGR8, "BGR8", 8, ""},             FormatInfo{PixelFormat::BayerRG8, "BayerRG8", 8, "RGGB"},
    FormatInfo{PixelFormat::BayerGR8, "BayerGR8", 8, "GRBG"}, FormatInfo{PixelFormat::BayerGB8, "BayerGB8", 8, "GBRG"},
    FormatInfo{PixelFormat::BayerBG8, "BayerBG8", 8, "BGGR"}, FormatInfo{PixelFormat::BayerRG10, "BayerRG10", 10, "RGGB"},
    FormatInfo{PixelFormat::BayerGR10, "BayerGR10", 10, "GRBG"},
    FormatInfo{PixelFormat::BayerGB10, "BayerGB10", 10, "GBRG"},
    FormatInfo{PixelFormat::BayerBG10, "BayerBG10", 10, "BGGR"},
    FormatInfo{PixelFormat::BayerRG12, "BayerRG12", 12, "RGGB"},
    FormatInfo{PixelFormat::BayerGR12, "BayerGR12", 12, "GRBG"},
    FormatInfo{PixelFormat::BayerGB12, "BayerGB12", 12, "GBRG"},
    FormatInfo{PixelFormat::BayerBG12, "BayerBG12", 12, "BGGR"},
    FormatInfo{PixelFormat::BayerRG16, "BayerRG16", 16, "RGGB"},
    FormatInfo{PixelFormat::BayerGR16, "BayerGR16", 16, "GRBG"},
    FormatInfo{PixelFormat::BayerGB16, "BayerGB16", 16, "GBRG"},
    FormatInfo{PixelFormat::BayerBG16, "BayerBG16", 16, "BGGR"},
};

constexpr auto kAll = [] {
  std::array<PixelFormat, kFormats.size()> all{};
  for (std::size_t i = 0; i < kFormats.size(); ++i) all[i] = kFormats[i].format;
  return all;
}();

const FormatInfo* find(PixelFormat format) noexcept {
  for (const auto& info : kFormats) {
    if (info.format == format) return &info;
  }
  return nullptr;
}

}  // namespace

std::span<const PixelFormat> all_pixel_formats() noexcept { return kAll; }

std::string_view to_string(PixelFormat format) noexcept {
  const auto* info = find(format);
  return info != nullptr ? info->name : std::string_view{"Unknown"};
}

std::optional<PixelFormat> parse_pixel_format(std::string_view name) noexcept {
  for (const auto& info : kFormats) {
    if (info.name == name) return info.format;
  }
  return std::nullopt;
}

bool is_known_pixel_format(std::uint32_t code) noexcept {
  return find(static_cast<PixelFormat>(code)) != nullptr;
}

std::uint32_t significant_bits(PixelFormat format) noexcept {
  const auto* info = find(format);
  return info != nullptr ? info->bits : 0;
}

bool is_bayer(PixelFormat format) noexcept { return !cfa_pattern(format).empty(); }

bool is_mono(PixelFormat format) noexcept {
  return find(format) != nullptr && samples_per_pixel(format) == 1 && !is_bayer(format);
}

std::string_view cfa_pattern(PixelFormat format) noexcept {
  const auto* info = find(format);
  return info != nullptr ? info->cfa : std::string_view{};
}

std::string pixel_format_names(std::span<const PixelFormat> formats) {
  std::string names;
  for (const PixelFormat format : formats) {
    if (!names.empty()) names += ", ";
    names += to_string(format);
  }
  return names;
}

}  // namespace framering
