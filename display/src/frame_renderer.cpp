#include "framering/display/frame_renderer.hpp"

#include <cstring>
#include <utility>

#include <fmt/format.h>
#include <opencv2/core.hpp>

#include "framering/common/error.hpp"

namespace framering::display {

FrameRenderer::FrameRenderer(const ContrastSettings& contrast, Colormap colormap)
    : contrast_(contrast), colormap_(std::move(colormap)) {}

ContrastLimits FrameRenderer::render(const MonoImageView& frame, cv::Mat& out) {
  const std::size_t pixels = std::size_t{frame.width} * frame.height;
  if (gray_.size() != pixels) gray_.assign(pixels, 0U);
  const ContrastLimits limits = contrast_.stretch(frame, {gray_, frame.width, frame.height, frame.width});
  const cv::Mat gray(static_cast<int>(frame.height), static_cast<int>(frame.width), CV_8UC1, gray_.data());
  colormap_.apply(gray, out);
  return limits;
}

void FrameRenderer::copy_raw(const MonoImageView& frame, cv::Mat& out) {
  const std::size_t bpp = bytes_per_pixel(frame.pixel_format);
  const std::uint64_t row_bytes = frame.width * bpp;
  const std::uint64_t needed = frame.height == 0 ? 0 : (frame.height - 1) * frame.stride_bytes + row_bytes;
  if ((bpp != 1 && bpp != 2) || frame.stride_bytes < row_bytes || frame.pixels.size() < needed) {
    throw ConfigError(fmt::format("raw copy: a {}x{} {} frame with rows {} B apart needs {} B, got {} B", frame.width,
                                  frame.height, to_string(frame.pixel_format), frame.stride_bytes, needed,
                                  frame.pixels.size()));
  }
  out.create(static_cast<int>(frame.height), static_cast<int>(frame.width), bpp == 1 ? CV_8UC1 : CV_16UC1);
  for (std::uint32_t y = 0; y < frame.height; ++y) {
    std::memcpy(out.ptr(static_cast<int>(y)), frame.pixels.data() + std::uint64_t{y} * frame.stride_bytes,
                std::size_t{frame.width} * bpp);
  }
}

}  // namespace framering::display
