#include "framering/display/frame_renderer.hpp"

#include <cstring>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "framering/common/error.hpp"

namespace framering::display {

FrameRenderer::FrameRenderer(const ContrastSettings& contrast, Colormap colormap)
    : contrast_(contrast), colormap_(std::move(colormap)) {}

namespace {

// OpenCV's demosaic code for a Bayer format, by the CFA read from the top-left pixel (OpenCV's
// own Bayer names count from the second row; its RGGB-style aliases do not).
int demosaic_code(PixelFormat format) {
  const std::string_view cfa = cfa_pattern(format);
  if (cfa == "RGGB") return cv::COLOR_BayerRGGB2BGR;
  if (cfa == "GRBG") return cv::COLOR_BayerGRBG2BGR;
  if (cfa == "GBRG") return cv::COLOR_BayerGBRG2BGR;
  return cv::COLOR_BayerBGGR2BGR;
}

}  // namespace

ContrastLimits FrameRenderer::render(const MonoImageView& frame, cv::Mat& out) {
  const PixelFormat format = frame.pixel_format;
  const bool colour = samples_per_pixel(format) == 3;
  // Colour: one stretch over every sample of the three channels together, so the same limits
  // apply to R, G and B and the colour balance is kept (a per-channel stretch would make a grey
  // scene of a tinted light grey); no colour map.
  MonoImageView samples = frame;
  if (colour) {
    samples.width = frame.width * 3;
    samples.pixel_format = PixelFormat::Mono8;
  }
  const std::size_t count = std::size_t{samples.width} * frame.height;
  if (gray_.size() != count) gray_.assign(count, 0U);
  const ContrastLimits limits = contrast_.stretch(samples, {gray_, samples.width, frame.height, samples.width});
  const int rows = static_cast<int>(frame.height);
  const int cols = static_cast<int>(frame.width);
  if (colour) {
    const cv::Mat stretched(rows, cols, CV_8UC3, gray_.data());
    if (format == PixelFormat::RGB8) {
      cv::cvtColor(stretched, out, cv::COLOR_RGB2BGR);
    } else {
      stretched.copyTo(out);
    }
    return limits;
  }
  const cv::Mat gray(rows, cols, CV_8UC1, gray_.data());
  if (is_bayer(format)) {
    // The stretched mosaic, demosaiced: OpenCV's bilinear interpolation is linear, so stretching
    // first gives what stretching the demosaiced image would, at a third of the work.
    cv::cvtColor(gray, out, demosaic_code(format));
    return limits;
  }
  colormap_.apply(gray, out);
  return limits;
}

void FrameRenderer::png_ready_raw(const cv::Mat& raw, PixelFormat format, cv::Mat& out) {
  if (format == PixelFormat::RGB8) {
    cv::cvtColor(raw, out, cv::COLOR_RGB2BGR);
  } else {
    out = raw;
  }
}

void FrameRenderer::copy_raw(const MonoImageView& frame, cv::Mat& out) {
  const std::size_t bpp = bytes_per_pixel(frame.pixel_format);
  const std::uint64_t row_bytes = frame.width * bpp;
  const std::uint64_t needed = frame.height == 0 ? 0 : (frame.height - 1) * frame.stride_bytes + row_bytes;
  if (bpp < 1 || bpp > 3 || frame.stride_bytes < row_bytes || frame.pixels.size() < needed) {
    throw ConfigError(fmt::format("raw copy: a {}x{} {} frame with rows {} B apart needs {} B, got {} B", frame.width,
                                  frame.height, to_string(frame.pixel_format), frame.stride_bytes, needed,
                                  frame.pixels.size()));
  }
  out.create(static_cast<int>(frame.height), static_cast<int>(frame.width),
             bpp == 1 ? CV_8UC1 : bpp == 2 ? CV_16UC1 : CV_8UC3);
  for (std::uint32_t y = 0; y < frame.height; ++y) {
    std::memcpy(out.ptr(static_cast<int>(y)), frame.pixels.data() + std::uint64_t{y} * frame.stride_bytes,
                std::size_t{frame.width} * bpp);
  }
}

}  // namespace framering::display
