#include "framering/common/frame_shape.hpp"

#include <fmt/format.h>

#include "framering/common/error.hpp"

namespace framering {

std::uint64_t FrameShape::row_stride_bytes() const noexcept {
  return stride_bytes != 0 ? stride_bytes : packed_row_bytes();
}

std::uint64_t FrameShape::packed_row_bytes() const noexcept {
  return std::uint64_t{width} * bytes_per_pixel(pixel_format);
}

std::uint64_t FrameShape::frame_bytes() const noexcept {
  return row_stride_bytes() * height;
}

std::uint64_t FrameShape::packed_frame_bytes() const noexcept {
  return packed_row_bytes() * height;
}

void FrameShape::validate(std::string_view subject) const {
  if (width == 0 || width > 65536) {
    throw ConfigError(fmt::format("{}: width {} is out of range (expected 1..65536)", subject, width));
  }
  if (height == 0 || height > 65536) {
    throw ConfigError(fmt::format("{}: height {} is out of range (expected 1..65536)", subject, height));
  }
  if (!is_known_pixel_format(static_cast<std::uint32_t>(pixel_format))) {
    throw ConfigError(fmt::format("{}: pixel format 0x{:08x} is not a supported PFNC format "
                                  "(expected Mono8, Mono10, Mono12, Mono14 or Mono16)",
                                  subject, static_cast<std::uint32_t>(pixel_format)));
  }
  if (stride_bytes != 0 && stride_bytes < packed_row_bytes()) {
    throw ConfigError(fmt::format("{}: stride {} B is below width x bytes per pixel = {} B", subject,
                                  stride_bytes, packed_row_bytes()));
  }
}

std::string FrameShape::to_string() const {
  return fmt::format("{}x{} {} stride {} B", width, height, framering::to_string(pixel_format),
                     row_stride_bytes());
}

}  // namespace framering
