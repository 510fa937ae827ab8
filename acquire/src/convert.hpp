// convert.hpp (private to acquire/): converts a decoded OpenCV image into a ring slot, in place,
// for the sources that decode with OpenCV (files, opencv).
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include <opencv2/core.hpp>

#include "framering/common/frame_shape.hpp"

namespace framering::acquire {

/// Why `frame` cannot be converted into a mono ring (empty when it can): an empty image, a
/// depth other than 8- or 16-bit unsigned, or a channel count other than 1, 3 (BGR) or 4 (BGRA).
[[nodiscard]] std::string unconvertible_reason(const cv::Mat& frame);

/// Why a decoded image cannot fill a ring of `format` (empty when it can): a Bayer mosaic is a
/// camera's raw output, never made from a decoded image. Mono8..Mono16, RGB8 and BGR8 can.
[[nodiscard]] std::string ring_format_reason(PixelFormat format);

/// Converts `frame` (width x height of `shape`, 8/16-bit unsigned, 1, 3 or 4 channels) into
/// `pixels`: `shape.height` rows `shape.row_stride_bytes()` apart of `shape.pixel_format` (a PFNC
/// mono format, RGB8 or BGR8), through a cv::Mat header over the slot, so cvtColor / convertTo / copyTo land in
/// place. Colour becomes grey with cv::cvtColor (ITU-R BT.601 luma weights); only colour into a
/// 16-bit ring goes through `grey_scratch` first. 8-bit into a 16-bit ring: x (2^bits - 1)/255
/// when `scale_8bit` (Mono16: x257, so 255 -> 65535), else values as they are; 16-bit into
/// Mono8: / 257; 16-bit into Mono10/12/14: clamped to the format's largest value.
/// Throws cv::Exception on a shape mismatch; aborts if OpenCV reallocated the slot's header
/// (the frame would not have landed in the ring).
/// Into RGB8/BGR8 the image keeps its colour (OpenCV's BGR(A) order rearranged by cv::cvtColor,
/// alpha dropped; grey repeated in the three channels; 16-bit samples / 257, through
/// `grey_scratch` when the channels change too).
void convert_into_slot(const cv::Mat& frame, cv::Mat& grey_scratch, std::span<std::byte> pixels, const FrameShape& shape,
                       bool scale_8bit);

}  // namespace framering::acquire
