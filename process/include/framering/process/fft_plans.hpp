// fft_plans.hpp: the two memory layouts FFTW offers for a frame's r2c/c2r pair, the buffers and
// plans of one of them (FftPlans), how FourierFilter picks the faster (time_layouts), and wisdom
// made ahead of a run for both (make_wisdom).
//
//   out-of-place: real[h][w] floats ──r2c──► spectrum[h][w/2+1] complex    (two buffers)
//   in-place:     one buffer of h rows of 2*(w/2+1) floats
//                   real rows:  [x0 x1 ... x(w-1) | 1 or 2 padding floats]
//                   after r2c:  the same memory is spectrum[h][w/2+1] complex, unpadded
// Both give the same spectrum up to float rounding (FFTW may pick different algorithms).
// Source: FFTW 3.3 manual, "Multi-Dimensional DFTs of Real Data" (in-place r2c needs the last
// dimension padded to 2*(n/2+1) real values) and "Real-data DFT Array Format". On the 2-core
// development VM in-place ran 10-45% faster than out-of-place with the same flags; which wins
// depends on the shape, the threads and the CPU, hence the measurement at start-up.
//
// Like everything that plans (fftw_planner.hpp): one thread, never the frame path; forward()
// and backward() are the frame path.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "framering/process/fftw_planner.hpp"

struct fftwf_plan_s;  // fftw3.h: typedef struct fftwf_plan_s* fftwf_plan

namespace framering::process {

/// Which layout a FourierFilter runs: Auto measures both at plan time and keeps the faster.
enum class FftLayout { Auto, InPlace, OutOfPlace };

/// "auto", "in-place", "out-of-place" (the --fft-layout names).
[[nodiscard]] std::string_view to_string(FftLayout layout) noexcept;
/// Parses the names to_string() gives; nullopt for anything else.
[[nodiscard]] std::optional<FftLayout> parse_fft_layout(std::string_view name) noexcept;

/// The buffers (fftwf_malloc, zeroed) and plans of one layout for width x height frames.
/// Move-only. One thread at a time (the plans share the buffers they were made for).
class FftPlans {
 public:
  /// Allocates `layout`'s buffers (InPlace or OutOfPlace) and plans r2c, and c2r when
  /// `with_inverse`, with `flags` (planner_flags()) on the threads set by the last
  /// set_planner_threads(). Each plan comes from FFTW's wisdom in memory when that has it
  /// (FFTW_WISDOM_ONLY first: FFTW has no other way to tell), else is planned now (seconds
  /// with FFTW_MEASURE at 2 MP, minutes with FFTW_PATIENT). Throws ConfigError for Auto or a
  /// size outside 1..65536, PlanError when FFTW cannot plan, Error when allocation fails.
  FftPlans(std::uint32_t width, std::uint32_t height, FftLayout layout, unsigned flags, bool with_inverse);
  FftPlans(FftPlans&& other) noexcept;
  FftPlans& operator=(FftPlans&& other) noexcept;
  FftPlans(const FftPlans&) = delete;
  FftPlans& operator=(const FftPlans&) = delete;
  ~FftPlans();

  /// The r2c input and c2r output: height rows of width floats, real_row_floats() apart.
  [[nodiscard]] float* real() const noexcept { return real_; }
  /// width (out-of-place) or 2 * (width/2 + 1) (in-place: FFTW's padded rows).
  [[nodiscard]] std::size_t real_row_floats() const noexcept { return real_row_floats_; }
  /// The r2c output and c2r input: height x (width/2 + 1) complex values (re, im floats
  /// interleaved: fftwf_complex), row-major, unpadded. In-place: the same memory as real().
  [[nodiscard]] float* spectrum() const noexcept { return spectrum_; }
  /// height * (width/2 + 1): complex values in spectrum().
  [[nodiscard]] std::size_t spectrum_count() const noexcept { return spectrum_count_; }

  /// r2c: real() -> spectrum(). Destroys real() (FFTW_DESTROY_INPUT). Allocates nothing.
  void forward() const noexcept;
  /// c2r: spectrum() -> real(), unnormalised (width*height times the original). Destroys
  /// spectrum(). Requires with_inverse. Allocates nothing.
  void backward() const noexcept;

  /// Sets every real() value (padding included) to 0: planning with FFTW_MEASURE or
  /// FFTW_PATIENT scribbles on the buffers.
  void clear() const noexcept;

  [[nodiscard]] FftLayout layout() const noexcept { return layout_; }
  [[nodiscard]] std::uint32_t width() const noexcept { return width_; }
  [[nodiscard]] std::uint32_t height() const noexcept { return height_; }
  [[nodiscard]] bool has_inverse() const noexcept { return backward_ != nullptr; }
  /// Every plan came from wisdom (nothing was planned).
  [[nodiscard]] bool from_wisdom() const noexcept { return from_wisdom_; }
  /// Making the plans, including the FFTW_WISDOM_ONLY attempts.
  [[nodiscard]] std::chrono::nanoseconds planning_time() const noexcept { return planning_time_; }

 private:
  void release() noexcept;

  FftLayout layout_ = FftLayout::OutOfPlace;
  std::uint32_t width_ = 0;
  std::uint32_t height_ = 0;
  std::size_t real_row_floats_ = 0;
  std::size_t spectrum_count_ = 0;
  FftwFloats real_buffer_;      ///< out-of-place: h x w; in-place: h x 2*(w/2+1), also the spectrum
  FftwFloats spectrum_buffer_;  ///< out-of-place only: 2 * h * (w/2+1) floats
  float* real_ = nullptr;
  float* spectrum_ = nullptr;
  fftwf_plan_s* forward_ = nullptr;
  fftwf_plan_s* backward_ = nullptr;
  bool from_wisdom_ = false;
  std::chrono::nanoseconds planning_time_{0};
};

/// What time_layouts() measured.
struct LayoutTiming {
  FftLayout faster = FftLayout::InPlace;  ///< never Auto
  /// The fastest of the timed executions of each layout's transforms (r2c, then c2r when
  /// planned): the minimum is the run least disturbed by other processes on the machine.
  std::chrono::nanoseconds in_place{0};
  std::chrono::nanoseconds out_of_place{0};
  int rounds = 0;  ///< timed executions of each
};

/// Executes each layout's transforms once untimed (to warm caches and FFTW's threads), then
/// `rounds` (>= 1) times each, alternating, on the same smooth synthetic frame loaded before
/// every execution (so no value grows round after round; untimed); leaves both buffers
/// cleared. Ties go to in-place. Both must be for the same shape and both with or both
/// without the inverse. 2 * (rounds + 1) transform pairs: ~0.2 s for 8 rounds at 2 MP.
[[nodiscard]] LayoutTiming time_layouts(const FftPlans& in_place, const FftPlans& out_of_place, int rounds);

/// One line of make_wisdom()'s progress, for its caller to log.
using WisdomProgress = std::function<void(const std::string& line)>;

/// `framering process --make-wisdom`: plans r2c and c2r for width x height frames in both
/// layouts with `rigor` (FFTW_PATIENT: minutes at 2 MP) on `threads` FFTW threads, and saves
/// the wisdom to `path` together with what the file held before (other shapes and thread counts
/// are kept). A FourierFilter with the same shape and threads, and the same or a less rigorous
/// planner (FFTW_WISDOM_ONLY | FFTW_MEASURE accepts FFTW_PATIENT wisdom: "Planner Flags"), then
/// plans nothing. `progress` is told before and after each of the four plans. The file is
/// written once before planning as well, so an unwritable path fails in seconds, not after
/// the minutes of planning. Throws ConfigError for a bad size or thread count, Error naming the
/// path and the reason when the wisdom cannot be written, PlanError when FFTW cannot plan.
void make_wisdom(std::uint32_t width, std::uint32_t height, PlannerRigor rigor, int threads,
                 const std::filesystem::path& path, const WisdomProgress& progress);

}  // namespace framering::process
