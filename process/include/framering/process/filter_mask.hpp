// filter_mask.hpp: the real gain masks `framering process` multiplies the Fourier plane by, and
// the radial frequency of each element of FFTW's half-plane layout.
//
// Frequencies are in cycles per pixel. For a width x height frame, FFTW's real-to-complex
// transform stores the non-redundant half plane as height x (width/2 + 1) complex values,
// row-major; element [ky][kx] holds the frequency
//   fx = kx / width                                   kx = 0 .. width/2        (0 .. 0.5)
//   fy = ky / height        for ky <= height/2,
//   fy = (ky - height) / height  otherwise            (negative frequencies, -0.5 .. 0)
// and its radial frequency is f = sqrt(fx^2 + fy^2), 0 .. sqrt(0.5) ~= 0.707 (the corner).
// Source: FFTW 3.3 manual, "Multi-Dimensional DFTs of Real Data" (layout) and "What FFTW
// Really Computes" (which index is which frequency).
//
// The masks (all Gaussians in f, each with gain exactly 1/2 at its cut-offs):
//   identity  G(f) = 1
//   lowpass   G(f) = 2^-(f/fh)^2                       fh = --high-cutoff: the upper edge of
//                                                      the pass band; G(0) = 1, G(fh) = 1/2
//   highpass  G(f) = 1 - 2^-(f/fl)^2                   fl = --low-cutoff: the lower edge;
//                                                      G(0) = 0, G(fl) = 1/2
//   bandpass  G(f) = 2^-((f - fc)/hw)^2                fc = (fl + fh)/2, hw = (fh - fl)/2:
//                                                      G(fc) = 1, G(fl) = G(fh) = 1/2
//   bandstop  G(f) = 1 - 2^-((f - fc)/hw)^2            the complement: G(fc) = 0, 1/2 at fl, fh
// (2^-x^2 = exp(-ln 2 * x^2).) The band modes are a Gaussian ring around fc, so a bandpass
// passes the mean (f = 0) with gain 2^-(fc/hw)^2: 3e-8 for 0.2..0.3, but 0.36 for 0.02..0.2.
// Choose fl >= fh/3 or so when the background must go too (2^-4 = 0.06 at fl = fh/3).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace framering::process {

/// What `framering process` does in the Fourier plane.
enum class FilterMode {
  /// Gain 1 everywhere: output = input exactly. Measured for Mono16 up to 4096x4096, test
  /// pattern and full-range noise: the float32 round trip errs by at most 0.043 counts before
  /// rounding (0.039 at 1920x1080), far from the 0.5 that would change a pixel.
  Identity,
  Lowpass,
  Highpass,
  Bandpass,
  Bandstop,
  LogPower,  ///< no filter: the output is log(1 + |F|^2), zero frequency centred, stretched to full range
};

/// "identity", "lowpass", "highpass", "bandpass", "bandstop", "logpower".
[[nodiscard]] std::string_view to_string(FilterMode mode) noexcept;

/// Parses the names to_string() gives; nullopt for anything else.
[[nodiscard]] std::optional<FilterMode> parse_filter_mode(std::string_view name) noexcept;

/// A filter: its mode and cut-offs. Units: cycles per pixel (see the file comment for the
/// formulas). Lowpass uses only high_cutoff, highpass only low_cutoff, the band modes both.
struct FilterSpec {
  FilterMode mode = FilterMode::Identity;
  double low_cutoff = 0.02;   ///< cycles/pixel: lower edge of the pass (or stop) band
  double high_cutoff = 0.2;   ///< cycles/pixel: upper edge of the pass (or stop) band
  /// Counts added to every output pixel after the filter, before rounding and clamping. A
  /// highpass or bandpass result is signed (the mean is gone); an offset of half the range
  /// keeps its negative half visible instead of clamped to 0. Not part of the mask.
  double output_offset = 0.0;

  /// Throws ConfigError naming the option when a cut-off the mode uses is not in (0, 0.75]
  /// or, for the band modes, low_cutoff >= high_cutoff.
  void validate() const;
};

/// The gain of `spec`'s mask at radial frequency `f` (cycles/pixel, >= 0): the formulas in
/// the file comment. LogPower has no mask; it returns 1.
[[nodiscard]] double gain(const FilterSpec& spec, double f) noexcept;

/// Radial frequency in cycles/pixel of element [ky][kx] of the height x (width/2 + 1) half
/// plane of a width x height real frame (FFTW's layout; see the file comment).
[[nodiscard]] double radial_frequency(std::uint32_t kx, std::uint32_t ky, std::uint32_t width,
                                      std::uint32_t height) noexcept;

/// The mask for a width x height frame: height x (width/2 + 1) gains, row-major, element
/// [ky][kx] = gain(spec, radial_frequency(kx, ky, width, height)). It does not include FFTW's
/// 1/(width*height) normalisation. Throws ConfigError when spec is invalid or a size is 0.
[[nodiscard]] std::vector<float> build_mask(std::uint32_t width, std::uint32_t height, const FilterSpec& spec);

}  // namespace framering::process
