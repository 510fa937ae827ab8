// frame_step.hpp: what `framering process` does to one frame, whatever the input's format:
//
//   Mono8..Mono16  the Fourier filter (FourierFilter) on the frame;
//   RGB8, BGR8     the same filter on each colour channel on its own (three FourierFilters on
//                  Mono8 planes: the frame split into planes, filtered, merged back), so a
//                  low-pass blurs R, G and B alike and the output keeps the input's format;
//   Bayer mosaics  with --mode demosaic only: OpenCV's bilinear demosaic (cv::cvtColor,
//                  COLOR_Bayer<CFA>2RGB, the pattern read from the top-left pixel) into RGB8; 10-,
//                  12- and 16-bit mosaics are scaled to 8 bits (>> bits - 8, rounded). Filtering
//                  a mosaic is refused: neighbouring pixels sit behind different colour filters.
//
// Each step: load() (after it the input slot may be released), transform(), store() into the
// output slot. load and store allocate nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "framering/common/frame_shape.hpp"
#include "framering/process/fourier_filter.hpp"

namespace framering::process {

/// OpenCV's cv::cvtColor code that demosaics a Bayer `format` into R, G, B order
/// (COLOR_Bayer<CFA>2RGB, the CFA read from the top-left pixel as PFNC names it: OpenCV's own
/// short Bayer names count from the second row). For a format that is no mosaic: the BGGR code.
[[nodiscard]] int opencv_demosaic_code(PixelFormat format) noexcept;

/// One frame's processing (see the file comment). Move-only.
class FrameStep {
 public:
  /// The Fourier filter `spec` for `input` (grey or colour), planned with `plan`. Throws
  /// ConfigError naming the format when `input` is a Bayer mosaic (use demosaic()).
  static FrameStep filter(const FrameShape& input, const FilterSpec& spec, const PlanOptions& plan);

  /// The demosaic of a Bayer `input` into RGB8 of the same width and height. Throws ConfigError
  /// naming the format when `input` is not a Bayer mosaic, or is narrower or lower than 2 pixels.
  static FrameStep demosaic(const FrameShape& input);

  FrameStep(FrameStep&&) noexcept;
  FrameStep& operator=(FrameStep&&) noexcept;
  ~FrameStep();

  /// The output ring's frames: the input's shape (packed rows), RGB8 for a demosaic.
  [[nodiscard]] const FrameShape& output_shape() const noexcept;
  /// The input frames this step takes.
  [[nodiscard]] const FrameShape& input_shape() const noexcept;

  /// Takes one input frame (`pixels`: height rows `stride_bytes` apart). False when `pixels` is
  /// too small for the input shape.
  [[nodiscard]] bool load(std::span<const std::byte> pixels, std::uint64_t stride_bytes) noexcept;
  /// The work on the loaded frame.
  void transform() noexcept;
  /// Writes the result into `pixels` (height rows `stride_bytes` apart, output_shape()). False
  /// when `pixels` is too small.
  [[nodiscard]] bool store(std::span<std::byte> pixels, std::uint64_t stride_bytes) noexcept;

  /// The Fourier filter's planning report (the first channel's for colour); nullptr for a demosaic.
  [[nodiscard]] const PlanReport* fourier_report() const noexcept;
  /// The filter of channel 0 (the only one for grey); nullptr for a demosaic.
  [[nodiscard]] const FourierFilter* fourier_filter() const noexcept;
  /// A live change of the filter (FourierFilter::set_spec on every channel), between frames.
  /// Throws ConfigError as set_spec does, and for a demosaic (which has no filter).
  void set_spec(const FilterSpec& spec);
  /// "Fourier filter", "Fourier filter per channel (R, G, B)", "demosaic BayerRG8 -> RGB8 (OpenCV bilinear)".
  [[nodiscard]] std::string describe() const;

 private:
  struct Impl;
  explicit FrameStep(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace framering::process
