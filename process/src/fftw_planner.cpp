#include "framering/process/fftw_planner.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <system_error>

#include <fftw3.h>
#include <fmt/format.h>

namespace framering::process {

std::string_view to_string(PlannerRigor rigor) noexcept {
  switch (rigor) {
    case PlannerRigor::Estimate:
      return "estimate";
    case PlannerRigor::Measure:
      return "measure";
    case PlannerRigor::Patient:
      return "patient";
  }
  return "unknown";
}

std::optional<PlannerRigor> parse_planner_rigor(std::string_view name) noexcept {
  if (name == "estimate") return PlannerRigor::Estimate;
  if (name == "measure") return PlannerRigor::Measure;
  if (name == "patient") return PlannerRigor::Patient;
  return std::nullopt;
}

unsigned planner_flags(PlannerRigor rigor) noexcept {
  unsigned rigor_flag = FFTW_MEASURE;
  switch (rigor) {
    case PlannerRigor::Estimate:
      rigor_flag = FFTW_ESTIMATE;
      break;
    case PlannerRigor::Measure:
      rigor_flag = FFTW_MEASURE;
      break;
    case PlannerRigor::Patient:
      rigor_flag = FFTW_PATIENT;
      break;
  }
  return rigor_flag | FFTW_DESTROY_INPUT;
}

void set_planner_threads(int threads) {
  if (threads < 1) throw ConfigError(fmt::format("--threads {} must be at least 1", threads));
  static std::once_flag once;
  static bool started = false;
  std::call_once(once, [] { started = fftwf_init_threads() != 0; });
  if (!started) throw PlanError("FFTW's threads could not start (fftwf_init_threads failed)");
  fftwf_plan_with_nthreads(threads);
}

void FftwFree::operator()(float* p) const noexcept { fftwf_free(p); }

FftwFloats allocate_fftw_floats(std::size_t count) {
  FftwFloats buffer(fftwf_alloc_real(count));
  if (!buffer) throw Error(fmt::format("fftwf_malloc of {} floats ({} B) failed", count, count * sizeof(float)));
  std::memset(buffer.get(), 0, count * sizeof(float));  // touch every page now, not on the first frame
  return buffer;
}

std::optional<std::filesystem::path> default_wisdom_path() {
  std::filesystem::path cache;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    cache = xdg;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    cache = std::filesystem::path(home) / ".cache";
  } else {
    return std::nullopt;
  }
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::strcpy(host, "unknown-host");
  return cache / "framering" / fmt::format("fftw-wisdom-{}.dat", host);
}

bool import_wisdom(const std::filesystem::path& path) noexcept {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  return fftwf_import_wisdom_from_filename(path.c_str()) != 0;
}

std::expected<void, std::string> export_wisdom(const std::filesystem::path& path) {
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      return std::unexpected(fmt::format("cannot create directory {} for FFTW wisdom: {}", path.parent_path().string(),
                                         ec.message()));
    }
  }
  const std::filesystem::path temporary = path.string() + fmt::format(".tmp.{}", ::getpid());
  errno = 0;
  if (fftwf_export_wisdom_to_filename(temporary.c_str()) == 0) {
    const int err = errno;
    std::filesystem::remove(temporary, ec);
    return std::unexpected(fmt::format("cannot write FFTW wisdom to {}: {}", temporary.string(),
                                       err != 0 ? errno_text(err) : std::string{"fftwf_export_wisdom_to_filename failed"}));
  }
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    const std::string reason = ec.message();
    std::filesystem::remove(temporary, ec);
    return std::unexpected(fmt::format("cannot rename {} to {}: {}", temporary.string(), path.string(), reason));
  }
  return {};
}

}  // namespace framering::process
