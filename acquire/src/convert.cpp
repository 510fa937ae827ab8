#include "convert.hpp"

#include <cstdlib>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

#include "framering/common/pixel_format.hpp"

namespace framering::acquire {
namespace {

std::string depth_name(int depth) {
  switch (depth) {
    case CV_8U: return "8-bit unsigned";
    case CV_8S: return "8-bit signed";
    case CV_16U: return "16-bit unsigned";
    case CV_16S: return "16-bit signed";
    case CV_32S: return "32-bit integer";
    case CV_32F: return "32-bit float";
    case CV_64F: return "64-bit float";
    default: return "unknown depth";
  }
}

}  // namespace

std::string unconvertible_reason(const cv::Mat& frame) {
  if (frame.empty()) return "it decodes to no image";
  if (frame.depth() != CV_8U && frame.depth() != CV_16U) {
    return fmt::format("its samples are {}; expected 8- or 16-bit unsigned", depth_name(frame.depth()));
  }
  if (frame.channels() != 1 && frame.channels() != 3 && frame.channels() != 4) {
    return fmt::format("it has {} channels; expected 1 (grey), 3 (BGR) or 4 (BGRA)", frame.channels());
  }
  return {};
}

std::string ring_format_reason(PixelFormat format) {
  if (is_mono(format) || format == PixelFormat::RGB8 || format == PixelFormat::BGR8) return {};
  return fmt::format("a decoded image cannot be made into the {} ring a --pixel-format of {} asks for: a Bayer mosaic "
                     "comes from a camera (or the testpattern); files and OpenCV devices fill Mono8..Mono16, RGB8 "
                     "or BGR8 rings",
                     to_string(format), to_string(format));
}

namespace {

// Colour (or grey) into an RGB8/BGR8 slot: the channels rearranged by cv::cvtColor straight into
// the slot when the depth is already 8-bit; 16-bit images go through `scratch` and / 257.
void convert_colour(const cv::Mat& frame, cv::Mat& scratch, cv::Mat& dst, PixelFormat format) {
  const bool rgb = format == PixelFormat::RGB8;
  int code = -1;  // -1: same channel order, plain copy
  switch (frame.channels()) {
    case 1: code = rgb ? cv::COLOR_GRAY2RGB : cv::COLOR_GRAY2BGR; break;
    case 3: code = rgb ? cv::COLOR_BGR2RGB : -1; break;
    default: code = rgb ? cv::COLOR_BGRA2RGB : cv::COLOR_BGRA2BGR; break;
  }
  if (frame.depth() == CV_8U) {
    if (code < 0) {
      frame.copyTo(dst);
    } else {
      cv::cvtColor(frame, dst, code);
    }
    return;
  }
  const cv::Mat* source = &frame;
  if (code >= 0) {
    cv::cvtColor(frame, scratch, code);
    source = &scratch;
  }
  source->convertTo(dst, CV_8U, 1.0 / 257.0);
}

}  // namespace

void convert_into_slot(const cv::Mat& frame, cv::Mat& grey_scratch, std::span<std::byte> pixels, const FrameShape& shape,
                       bool scale_8bit) {
  if (samples_per_pixel(shape.pixel_format) == 3) {
    cv::Mat dst(static_cast<int>(shape.height), static_cast<int>(shape.width), CV_8UC3,
                static_cast<void*>(pixels.data()), static_cast<std::size_t>(shape.row_stride_bytes()));
    convert_colour(frame, grey_scratch, dst, shape.pixel_format);
    if (dst.data != reinterpret_cast<uchar*>(pixels.data())) {
      spdlog::critical("OpenCV reallocated the slot's Mat header: the frame did not land in the ring");
      std::abort();
    }
    return;
  }
  const int ring_depth = bytes_per_pixel(shape.pixel_format) == 1 ? CV_8U : CV_16U;
  const std::uint32_t bits = significant_bits(shape.pixel_format);
  const double max_value = static_cast<double>((1U << bits) - 1U);
  cv::Mat dst(static_cast<int>(shape.height), static_cast<int>(shape.width), CV_MAKETYPE(ring_depth, 1),
              static_cast<void*>(pixels.data()), static_cast<std::size_t>(shape.row_stride_bytes()));
  const int code = frame.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY;
  if (frame.depth() == ring_depth) {
    if (frame.channels() == 1) {
      frame.copyTo(dst);
    } else {
      cv::cvtColor(frame, dst, code);
    }
    if (ring_depth == CV_16U && bits < 16) cv::min(dst, max_value, dst);
  } else {
    const cv::Mat* source = &frame;
    if (frame.channels() != 1) {
      cv::cvtColor(frame, grey_scratch, code);
      source = &grey_scratch;
    }
    const double alpha = frame.depth() == CV_8U ? (scale_8bit ? max_value / 255.0 : 1.0) : 1.0 / 257.0;
    source->convertTo(dst, ring_depth, alpha);
  }
  if (dst.data != reinterpret_cast<uchar*>(pixels.data())) {
    spdlog::critical("OpenCV reallocated the slot's Mat header: the frame did not land in the ring");
    std::abort();
  }
}

}  // namespace framering::acquire
