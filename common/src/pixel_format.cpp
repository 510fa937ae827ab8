#include "framering/common/pixel_format.hpp"

#include <array>
#include <utility>

namespace framering {
namespace {

struct FormatInfo {
  PixelFormat format;
  std::string_view name;
  std::uint32_t bits;
};

constexpr std::array kFormats{
    FormatInfo{PixelFormat::Mono8, "Mono8", 8},     FormatInfo{PixelFormat::Mono10, "Mono10", 10},
    FormatInfo{PixelFormat::Mono12, "Mono12", 12},  FormatInfo{PixelFormat::Mono14, "Mono14", 14},
    FormatInfo{PixelFormat::Mono16, "Mono16", 16},
};

const FormatInfo* find(PixelFormat format) noexcept {
  for (const auto& info : kFormats) {
    if (info.format == format) return &info;
  }
  return nullptr;
}

}  // namespace

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

}  // namespace framering
