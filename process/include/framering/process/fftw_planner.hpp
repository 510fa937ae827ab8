// fftw_planner.hpp: how framering makes FFTW plans: planner rigour and flags, FFTW's threads,
// aligned buffers, and wisdom cached on disk per machine so that a restart does not plan again.
//
// FFTW's planner and wisdom are process-global and not thread-safe: call everything here from
// one thread (the one that builds FourierFilters), never on the frame path.
// Source: FFTW 3.3 manual, "Planner Flags", "Usage of Multi-threaded FFTW", "Wisdom Utilities",
// "Memory Allocation".
#pragma once

#include <cstddef>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "framering/common/error.hpp"

namespace framering::process {

/// An FFTW plan could not be made, or FFTW's threads could not start.
class PlanError : public Error {
 public:
  using Error::Error;
};

/// How hard FFTW's planner tries. Measured here at 1920x1080 r2c+c2r: Estimate plans at once,
/// Measure takes 1.5-6 s, Patient 70-95 s per layout (2 min 45 s for both, 1 thread) for plans
/// ~10-25% faster. Wisdom makes every later start with the same shape, rigour and threads
/// instant; `framering process --make-wisdom` makes Patient wisdom ahead of a run.
enum class PlannerRigor { Estimate, Measure, Patient };

/// "estimate", "measure", "patient".
[[nodiscard]] std::string_view to_string(PlannerRigor rigor) noexcept;
/// Parses the names to_string() gives; nullopt for anything else.
[[nodiscard]] std::optional<PlannerRigor> parse_planner_rigor(std::string_view name) noexcept;

/// The flags every framering plan uses: the rigour (FFTW_ESTIMATE, FFTW_MEASURE, FFTW_PATIENT)
/// | FFTW_DESTROY_INPUT (both transforms may scribble on their input: it is reloaded every
/// frame). Never FFTW_UNALIGNED: buffers come from fftwf_malloc, and that flag alone halves
/// FFTW's speed at 1920x1080 here.
[[nodiscard]] unsigned planner_flags(PlannerRigor rigor) noexcept;

/// Calls fftwf_init_threads() once per process, then fftwf_plan_with_nthreads(threads): plans
/// made after this use up to `threads` threads. Throws PlanError when FFTW's threads cannot
/// start, ConfigError when threads < 1.
void set_planner_threads(int threads);

/// Frees with fftwf_free.
struct FftwFree {
  void operator()(float* p) const noexcept;
};
/// Floats from fftwf_malloc: aligned for FFTW's SIMD (and so plans never need FFTW_UNALIGNED).
using FftwFloats = std::unique_ptr<float[], FftwFree>;

/// `count` floats from fftwf_malloc, zeroed. Throws Error when the allocation fails.
[[nodiscard]] FftwFloats allocate_fftw_floats(std::size_t count);

/// Where wisdom lives on this machine: $XDG_CACHE_HOME/framering/fftw-wisdom-<hostname>.dat,
/// else $HOME/.cache/framering/fftw-wisdom-<hostname>.dat; nullopt when neither variable is
/// set. Wisdom is only valid on the machine (CPU, FFTW build) that made it, hence the hostname.
[[nodiscard]] std::optional<std::filesystem::path> default_wisdom_path();

/// Adds the wisdom in `path` to FFTW's (fftwf_import_wisdom_from_filename). False when the file
/// is missing or not valid wisdom (then nothing is imported).
[[nodiscard]] bool import_wisdom(const std::filesystem::path& path) noexcept;

/// Writes all of FFTW's current wisdom to `path`: creates its directories, writes a temporary
/// file next to it and renames it over `path`, so a reader never sees half a file and two
/// processes saving at once leave one complete file. On failure, the reason (path and errno
/// text) and no file change.
[[nodiscard]] std::expected<void, std::string> export_wisdom(const std::filesystem::path& path);

}  // namespace framering::process
