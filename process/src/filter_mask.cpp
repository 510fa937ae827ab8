#include "framering/process/filter_mask.hpp"

#include <array>
#include <cmath>

#include <fmt/format.h>

#include "framering/common/enum_names.hpp"
#include "framering/common/error.hpp"

namespace framering::process {
namespace {

constexpr std::array<EnumName<FilterMode>, 6> kModeNames{{
    {FilterMode::Identity, "identity"},
    {FilterMode::Lowpass, "lowpass"},
    {FilterMode::Highpass, "highpass"},
    {FilterMode::Bandpass, "bandpass"},
    {FilterMode::Bandstop, "bandstop"},
    {FilterMode::LogPower, "logpower"},
}};

// The largest cut-off that means anything: the corner of the Fourier plane is at sqrt(0.5).
constexpr double kMaxCutoff = 0.75;

// 2^-(x^2): 1 at x = 0, 1/2 at |x| = 1.
double half_at_one(double x) noexcept { return std::exp2(-x * x); }

void check_cutoff(const char* option, double value) {
  if (!(value > 0.0 && value <= kMaxCutoff)) {
    throw ConfigError(fmt::format("{} {} is not a frequency in (0, {}] cycles/pixel (0.5 is Nyquist along an axis, "
                                  "{:.3f} the corner of the Fourier plane)",
                                  option, value, kMaxCutoff, std::sqrt(0.5)));
  }
}

}  // namespace

std::string_view to_string(FilterMode mode) noexcept { return name_in<FilterMode>(kModeNames, mode); }

std::optional<FilterMode> parse_filter_mode(std::string_view name) noexcept {
  return parse_name_in<FilterMode>(kModeNames, name);
}

void FilterSpec::validate() const {
  switch (mode) {
    case FilterMode::Identity:
    case FilterMode::LogPower:
      return;
    case FilterMode::Lowpass:
      check_cutoff("--high-cutoff", high_cutoff);
      return;
    case FilterMode::Highpass:
      check_cutoff("--low-cutoff", low_cutoff);
      return;
    case FilterMode::Bandpass:
    case FilterMode::Bandstop:
      check_cutoff("--low-cutoff", low_cutoff);
      check_cutoff("--high-cutoff", high_cutoff);
      if (!(low_cutoff < high_cutoff)) {
        throw ConfigError(fmt::format("{} needs --low-cutoff ({}) below --high-cutoff ({})", to_string(mode),
                                      low_cutoff, high_cutoff));
      }
      return;
  }
}

double gain(const FilterSpec& spec, double f) noexcept {
  const double centre = (spec.low_cutoff + spec.high_cutoff) / 2;
  const double half_width = (spec.high_cutoff - spec.low_cutoff) / 2;
  switch (spec.mode) {
    case FilterMode::Identity:
    case FilterMode::LogPower:
      return 1.0;
    case FilterMode::Lowpass:
      return half_at_one(f / spec.high_cutoff);
    case FilterMode::Highpass:
      return 1.0 - half_at_one(f / spec.low_cutoff);
    case FilterMode::Bandpass:
      return half_at_one((f - centre) / half_width);
    case FilterMode::Bandstop:
      return 1.0 - half_at_one((f - centre) / half_width);
  }
  return 1.0;
}

double radial_frequency(std::uint32_t kx, std::uint32_t ky, std::uint32_t width, std::uint32_t height) noexcept {
  const double fx = static_cast<double>(kx) / width;
  const double fy = (ky <= height / 2 ? static_cast<double>(ky) : static_cast<double>(ky) - height) / height;
  return std::sqrt(fx * fx + fy * fy);
}

std::vector<float> build_mask(std::uint32_t width, std::uint32_t height, const FilterSpec& spec) {
  if (width == 0 || height == 0) throw ConfigError(fmt::format("cannot build a mask for a {}x{} frame", width, height));
  spec.validate();
  const std::uint32_t columns = width / 2 + 1;
  std::vector<float> mask(std::size_t{height} * columns);
  for (std::uint32_t ky = 0; ky < height; ++ky) {
    for (std::uint32_t kx = 0; kx < columns; ++kx) {
      mask[std::size_t{ky} * columns + kx] = static_cast<float>(gain(spec, radial_frequency(kx, ky, width, height)));
    }
  }
  return mask;
}

}  // namespace framering::process
