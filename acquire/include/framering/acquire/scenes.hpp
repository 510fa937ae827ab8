// scenes.hpp: the synthetic scenes of the pattern source, each a pure function of (seed,
// sequence) so that a frame can be re-rendered anywhere, a restarted producer continues the
// scene where the ring's sequence is, and tests can predict every frame.
//
// Values are computed in Mono16 counts (0..65535). A ring with fewer significant bits gets them
// shifted right to its depth (Mono12: >> 4, Mono8: >> 8), so a scene looks the same in every
// format. The testpattern scene (framering/common/sequence_pattern.hpp) is not here: it is
// fill_sequence_pattern() as is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "framering/common/frame_shape.hpp"

namespace framering::acquire {

/// One fluorescent bead of the microscopy scene at one sequence.
struct Spot {
  double x = 0;             ///< centre, pixels; pixel (i, j) has its centre at (i, j)
  double y = 0;             ///< centre, pixels
  double sigma_px = 0;      ///< Gaussian standard deviation of the point-spread function, pixels
  double peak_photons = 0;  ///< expected photons at the centre (Mono16 counts, gain 1)
};

/// Fluorescence microscopy: Gaussian spots (beads) drifting and jiggling over a dark
/// background, with Poisson shot noise on every pixel.
///
/// Model, per pixel (x, y) with its centre at (x, y) (integer coordinates):
///   counts = kOffsetCounts + Poisson(background_photons + sum_spots peak * exp(-r^2 / 2 sigma^2))
/// clamped to 65535 (gain 1 count per photon, Mono16). Each spot's track is
///   position(t) = start + velocity * t + wobble * (sin(w1 t + p1), cos(w2 t + p2))   (mod frame size)
/// with t the ring sequence and every parameter drawn from a hash of (seed, spot index).
///
/// Speed (1920x1080 on one core): background noise is one 16-bit lookup per pixel into a table
/// of Poisson(background) quantiles indexed by a splitmix64 stream (4 pixels per draw); spots are
/// rendered only within a radius where they add under half a photon, with separable Gaussian
/// weights and Poisson sampling by inversion (mean < 12) or a normal-quantile table
/// (mean >= 12: mean + sqrt(mean) z, the normal approximation of Poisson). Sources: the
/// Poisson shot-noise model of photon counting (e.g. J. Pawley, Handbook of Biological Confocal
/// Microscopy, ch. 2); splitmix64 (Steele, Lea, Flood, OOPSLA 2014).
class MicroscopyScene {
 public:
  static constexpr std::uint32_t kOffsetCounts = 100;  ///< camera bias added to every pixel, counts

  /// `spot_count` 0 = one spot per 10,000 pixels (207 at 1920x1080), at least 1.
  /// Throws ConfigError when background_photons is outside [0, 10000].
  MicroscopyScene(std::uint32_t width, std::uint32_t height, std::uint64_t seed, std::uint32_t spot_count = 0,
                  double background_photons = 50.0);

  /// Every spot at `sequence`, in spot-index order. Allocates the vector.
  [[nodiscard]] std::vector<Spot> spots_at(std::uint64_t sequence) const;

  /// Renders the frame for `sequence` into `pixels` (frame.height rows, frame.row_stride_bytes()
  /// apart; width and height must be the scene's). Deterministic for (seed, sequence). Allocates nothing.
  void render(std::span<std::byte> pixels, const FrameShape& frame, std::uint64_t sequence) noexcept;

  [[nodiscard]] double background_photons() const noexcept { return background_photons_; }

 private:
  struct Track {
    double x0, y0, vx, vy, wobble, w1, p1, w2, p2, sigma_px, peak_photons;
  };
  template <class T>
  void render_as(std::span<std::byte> pixels, const FrameShape& frame, std::uint64_t sequence) noexcept;

  std::uint32_t width_;
  std::uint32_t height_;
  std::uint64_t seed_;
  double background_photons_;
  std::vector<Track> tracks_;
  std::vector<std::uint16_t> background_table_;  ///< 65536 quantiles of kOffsetCounts + Poisson(background)
  std::vector<float> normal_table_;              ///< 4096 quantiles of N(0, 1)
  std::vector<float> gx_;                        ///< scratch: separable Gaussian weights along x
  std::vector<float> gy_;                        ///< scratch: along y
};

/// One expanding ring of the droplets scene at one sequence.
struct DropletRing {
  std::uint64_t droplet = 0;  ///< index of the droplet it belongs to (rings of one droplet share it)
  double x = 0;               ///< centre, pixels
  double y = 0;               ///< centre, pixels
  double radius_px = 0;       ///< radius of the ring's crest
  double half_width_px = 0;   ///< the crest falls to 0 this far either side
  double amplitude = 0;       ///< crest height above the background, Mono16 counts
};

/// skyscreen's droplet pattern: droplets land at random points and send out concentric rings
/// that expand at a constant speed and fade linearly to nothing over their lifetime, on a dark,
/// noiseless background (it drives LEDs, so it is clean). Source: the "droplets" pattern of the
/// skyscreen LED installation (360 vanes x 288 LEDs), here on a Cartesian frame.
///
/// Droplet i lands at sequence i * kSpawnIntervalFrames and lives kLifetimeFrames; its centre,
/// speed (1..4 px/frame times s) and brightness (20,000..45,000 counts) come from a hash of
/// (seed, i), where s = max(0.25, min(width, height) / 1080) keeps the look across frame sizes.
/// Each droplet has kRingsPerDroplet rings max(4, kRingSpacingPx * s) apart, the k-th at 0.6^k of
/// the first's brightness, each max(1.5, 4 s) px either side of its crest; the lead ring's radius
/// is speed * (age + 1), so a droplet shows a small ring on the frame it lands. Ring crest profile: amplitude * (1 - (d - r)^2 / half_width^2). Rings add up,
/// saturating at 65535. Only each ring's annulus is visited (row by row), so a frame costs a
/// background fill plus the rings' area.
class DropletScene {
 public:
  static constexpr std::uint64_t kSpawnIntervalFrames = 6;
  static constexpr std::uint64_t kLifetimeFrames = 90;
  static constexpr std::uint32_t kRingsPerDroplet = 3;
  static constexpr double kRingSpacingPx = 14.0;
  static constexpr std::uint16_t kBackgroundCounts = 1000;

  DropletScene(std::uint32_t width, std::uint32_t height, std::uint64_t seed);

  /// Every ring alive at `sequence` (radius > 0), oldest droplet first. Allocates the vector.
  [[nodiscard]] std::vector<DropletRing> rings_at(std::uint64_t sequence) const;

  /// Renders the frame for `sequence`; deterministic for (seed, sequence). Allocates nothing
  /// once the ring scratch vector has grown to its working size.
  void render(std::span<std::byte> pixels, const FrameShape& frame, std::uint64_t sequence) noexcept;

 private:
  template <class T>
  void render_as(std::span<std::byte> pixels, const FrameShape& frame, std::uint64_t sequence) noexcept;
  void collect_rings(std::uint64_t sequence, std::vector<DropletRing>& out) const;

  std::uint32_t width_;
  std::uint32_t height_;
  std::uint64_t seed_;
  std::vector<DropletRing> scratch_;
};

/// A static sinusoidal grating, for filter tests (a band-stop or low-pass at its frequency must
/// remove it):
///   value(x, y) = mean + amplitude * sin(2 pi f (x cos(angle) + y sin(angle)))
/// in Mono16 counts, rounded and clamped to 0..65535. Angle 0 varies along x only; the period is
/// 1 / f pixels. It does not change with the sequence.
class GratingScene {
 public:
  static constexpr double kMeanCounts = 32768.0;

  /// Throws ConfigError when cycles_per_pixel is outside (0, 0.5] (0.5 is Nyquist) or
  /// amplitude_counts outside [0, 32767].
  GratingScene(std::uint32_t width, std::uint32_t height, double cycles_per_pixel, double angle_deg,
               double amplitude_counts);

  /// The value at (x, y) before rounding, Mono16 counts.
  [[nodiscard]] double value_at(double x, double y) const noexcept;

  /// Renders the grating (the same for every sequence). Allocates nothing.
  void render(std::span<std::byte> pixels, const FrameShape& frame) const noexcept;

 private:
  template <class T>
  void render_as(std::span<std::byte> pixels, const FrameShape& frame) const noexcept;

  std::uint32_t width_;
  std::uint32_t height_;
  double cycles_per_pixel_;
  double angle_rad_;
  double amplitude_;
  std::vector<float> sin_x_;  ///< sin(2 pi f cos(angle) x) for each column
  std::vector<float> cos_x_;  ///< cos(2 pi f cos(angle) x)
};

}  // namespace framering::acquire
