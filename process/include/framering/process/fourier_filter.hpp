// fourier_filter.hpp: one frame through the Fourier plane: pixels -> float, FFTW r2c, multiply
// by a real mask, c2r, scale by 1/(width*height), float -> pixels (rounded and clamped); or,
// in LogPower mode, log(1 + |F|^2) of the r2c result with the zero frequency centred.
//
// FFTW's transforms are unnormalised: c2r(r2c(x)) = width*height * x, hence the scale.
// Source: FFTW 3.3 manual, "Multi-Dimensional DFTs of Real Data" (the height x (width/2 + 1)
// half-plane layout, and the 2*(width/2 + 1) padded rows of in-place transforms) and "What
// FFTW Really Computes" (no normalisation).
//
//   load(pixels) ──► real[h x w] ──r2c──► spectrum[h x (w/2+1)] ──× mask──► ──c2r──► real ──► store(pixels)
//
// real and spectrum are two buffers (out-of-place) or one with padded rows (in-place), whichever
// ran faster when the plans were made (fft_plans.hpp), unless PlanOptions::layout forces one.
// Plans are made once, in the constructor, for this instance's own fftwf_malloc buffers; the
// frame path (load, transform, store) allocates nothing and plans nothing.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <span>
#include <string>

#include "framering/common/frame_shape.hpp"
#include "framering/process/fft_plans.hpp"
#include "framering/process/fftw_planner.hpp"
#include "framering/process/filter_mask.hpp"

namespace framering::process {

/// How the plans are made.
struct PlanOptions {
  PlannerRigor rigor = PlannerRigor::Measure;
  int threads = 1;  ///< FFTW threads per transform (fftwf_plan_with_nthreads)
  /// Wisdom file read before planning and rewritten after it when anything had to be planned;
  /// nullopt: no wisdom file.
  std::optional<std::filesystem::path> wisdom_path;
  /// Auto plans both layouts and keeps the one whose transforms ran faster (time_layouts);
  /// InPlace or OutOfPlace plans only that one.
  FftLayout layout = FftLayout::Auto;
};

/// What planning did, for the start-up log.
struct PlanReport {
  bool wisdom_read = false;  ///< the wisdom file existed and was imported
  bool wisdom_used = false;  ///< every plan came from wisdom (nothing was measured)
  bool wisdom_written = false;
  std::chrono::nanoseconds planning_time{0};  ///< every plan made, wisdom import and export excluded
  std::string wisdom_problem;  ///< why the wisdom file could not be written; empty when fine
  FftLayout layout = FftLayout::OutOfPlace;  ///< the layout the filter runs: never Auto
  /// PlanOptions::layout Auto: what the measurement found (the planning of both layouts is in
  /// planning_time, the timing is not); nullopt when the layout was forced.
  std::optional<LayoutTiming> layout_timing;
};

/// Frame-path outcomes of FourierFilter.
enum class FilterError {
  InputTooSmall,   ///< fewer than (height-1)*stride + width pixels' bytes, or stride < a row
  OutputTooSmall,  ///< the same, for the output
};

/// A filter in the Fourier plane for one frame shape, with its plans and buffers. Move-only.
/// One thread at a time per instance (it owns FFTW's scratch arrays); plans execute on up to
/// PlanOptions::threads threads of FFTW's own.
class FourierFilter {
 public:
  /// Builds the mask and makes both plans (LogPower: the r2c plan only) for frames of
  /// `shape`'s width, height and pixel format (its stride_bytes is not used: load() and store()
  /// take each frame's own), reading and updating the wisdom file; with FftLayout::Auto for
  /// both layouts, then times a few executions of each (about 0.2 s at 2 MP) and keeps the
  /// faster. Throws ConfigError for an invalid shape, spec or thread count, PlanError when FFTW
  /// cannot plan. An unwritable wisdom file is not an error: see PlanReport::wisdom_problem.
  FourierFilter(const FrameShape& shape, const FilterSpec& spec, const PlanOptions& options);
  FourierFilter(FourierFilter&& other) noexcept = default;
  FourierFilter& operator=(FourierFilter&&) = delete;
  FourierFilter(const FourierFilter&) = delete;
  FourierFilter& operator=(const FourierFilter&) = delete;
  ~FourierFilter() = default;

  /// Converts one input frame into the real buffer: `pixels` holds height rows of width
  /// pixels in the shape's format, rows `stride_bytes` apart. After it returns the frame's
  /// memory is no longer needed (a ring slot may be released). Allocates nothing.
  [[nodiscard]] std::expected<void, FilterError> load(std::span<const std::byte> pixels,
                                                      std::uint64_t stride_bytes) noexcept;

  /// The transforms on the loaded frame: r2c, mask, c2r (LogPower: r2c and log power).
  void transform() noexcept;

  /// Writes the result as height rows of width pixels, `stride_bytes` apart: filter modes
  /// scale by 1/(width*height), add FilterSpec::output_offset, round to nearest and clamp to
  /// [0, max_pixel_value];
  /// LogPower writes log(1 + |F(ky, kx)|^2) with (ky, kx) = (0, 0) at pixel (height/2,
  /// width/2) (fftshift; the other half plane from Hermitian symmetry), stretched linearly so
  /// that the frame's smallest value is 0 and its largest max_pixel_value (all 0 when they
  /// are equal). Allocates nothing.
  [[nodiscard]] std::expected<void, FilterError> store(std::span<std::byte> pixels,
                                                       std::uint64_t stride_bytes) noexcept;

  /// Changes the filter between frames (a live parameter change): rebuilds the mask for `spec`
  /// with the plans kept. Allocates (the mask, tens of ms at 2 MP; never on the frame path).
  /// Throws ConfigError when `spec` is invalid, or when it changes to or from LogPower (which
  /// has other plans: that needs a new FourierFilter).
  void set_spec(const FilterSpec& spec);

  /// load, transform, store.
  [[nodiscard]] std::expected<void, FilterError> apply(std::span<const std::byte> input,
                                                       std::uint64_t input_stride_bytes, std::span<std::byte> output,
                                                       std::uint64_t output_stride_bytes) noexcept;

  /// The mask: height x (width/2 + 1) gains (build_mask); empty for LogPower.
  [[nodiscard]] std::span<const float> mask() const noexcept { return {mask_.get(), mask_count_}; }
  [[nodiscard]] const FrameShape& shape() const noexcept { return shape_; }
  [[nodiscard]] const FilterSpec& spec() const noexcept { return spec_; }
  [[nodiscard]] const PlanReport& report() const noexcept { return report_; }

 private:
  [[nodiscard]] bool fits(std::size_t bytes, std::uint64_t stride_bytes) const noexcept;
  void store_log_power(std::byte* pixels, std::uint64_t stride_bytes) const noexcept;

  FrameShape shape_;
  FilterSpec spec_;
  PlanReport report_;
  std::size_t real_count_ = 0;  ///< height * width
  std::size_t mask_count_ = 0;  ///< before mask_: mask_of() sets it while mask_ is made
  FftwFloats mask_;             ///< height x (width/2 + 1) gains
  FftPlans plans_;              ///< the chosen layout's buffers and plans (LogPower: r2c only)
  float log_min_ = 0.0F;        ///< LogPower: the frame's smallest and largest log power
  float log_max_ = 0.0F;
};

}  // namespace framering::process
