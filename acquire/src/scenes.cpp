#include "framering/acquire/scenes.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

#include <fmt/format.h>

#include "framering/common/error.hpp"
#include "random.hpp"

namespace framering::acquire {
namespace {

using detail::derive_state;
using detail::splitmix64;
using detail::uniform;

// Streams of derive_state(), so that each use of the seed draws independent numbers.
constexpr std::uint64_t kStreamSpots = 1;
constexpr std::uint64_t kStreamNoise = 2;
constexpr std::uint64_t kStreamDroplets = 3;

// Mono16 counts are shifted right by this to reach the format's depth (Mono12: 4, Mono8: 8).
std::uint32_t shift_of(PixelFormat format) noexcept { return 16U - std::min(16U, significant_bits(format)); }

template <class T>
T* row_of(std::span<std::byte> pixels, const FrameShape& frame, std::uint32_t y) noexcept {
  return reinterpret_cast<T*>(pixels.data() + std::uint64_t{y} * frame.row_stride_bytes());
}

// Quantiles (i + 0.5) / n of Poisson(mean), i = 0..n-1: a table that, indexed by uniform random
// bits, yields Poisson samples (exact to 1/n in probability).
std::vector<std::uint16_t> poisson_quantiles(double mean, std::uint32_t offset, std::size_t n) {
  std::vector<std::uint16_t> table(n);
  const double kmax = mean + 15.0 * std::sqrt(mean) + 30.0;
  std::uint64_t k = 0;
  double cdf = std::exp(-mean);  // P(X <= 0); mean <= 10000 keeps the log-space terms finite
  const double log_mean = mean > 0 ? std::log(mean) : 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double q = (static_cast<double>(i) + 0.5) / static_cast<double>(n);
    while (cdf < q && static_cast<double>(k) < kmax) {
      ++k;
      const double kd = static_cast<double>(k);
      cdf += mean > 0 ? std::exp(kd * log_mean - mean - std::lgamma(kd + 1.0)) : 0.0;
    }
    table[i] = static_cast<std::uint16_t>(std::min<std::uint64_t>(65535, offset + k));
  }
  return table;
}

// Quantiles (i + 0.5) / n of the standard normal distribution, by bisection on erfc.
std::vector<float> normal_quantiles(std::size_t n) {
  std::vector<float> table(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double q = (static_cast<double>(i) + 0.5) / static_cast<double>(n);
    double lo = -9.0;
    double hi = 9.0;
    for (int it = 0; it < 64; ++it) {
      const double mid = 0.5 * (lo + hi);
      const double cdf = 0.5 * std::erfc(-mid / std::numbers::sqrt2);
      (cdf < q ? lo : hi) = mid;
    }
    table[i] = static_cast<float>(0.5 * (lo + hi));
  }
  return table;
}

double wrap(double value, double period) noexcept {
  double r = std::fmod(value, period);
  if (r < 0) r += period;
  return r;
}

}  // namespace

// ---- MicroscopyScene ----------------------------------------------------------------------------

MicroscopyScene::MicroscopyScene(std::uint32_t width, std::uint32_t height, std::uint64_t seed,
                                 std::uint32_t spot_count, double background_photons)
    : width_(width), height_(height), seed_(seed), background_photons_(background_photons) {
  if (!(background_photons >= 0.0 && background_photons <= 10000.0)) {
    throw ConfigError(fmt::format("microscopy background {} photons is outside 0..10000", background_photons));
  }
  const std::uint64_t area = std::uint64_t{width} * height;
  const std::uint64_t count = spot_count != 0 ? spot_count : std::max<std::uint64_t>(1, area / 10000);
  tracks_.reserve(count);
  constexpr double kTwoPi = 2.0 * std::numbers::pi;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t s = derive_state(seed, kStreamSpots, i);
    Track t{};
    t.x0 = uniform(s) * width;
    t.y0 = uniform(s) * height;
    const double speed = 0.05 + 0.35 * uniform(s);  // px/frame of steady drift
    const double heading = kTwoPi * uniform(s);
    t.vx = speed * std::cos(heading);
    t.vy = speed * std::sin(heading);
    t.wobble = 1.0 + 3.0 * uniform(s);  // px of jiggle around the drift
    t.w1 = kTwoPi / (40.0 + 160.0 * uniform(s));
    t.p1 = kTwoPi * uniform(s);
    t.w2 = kTwoPi / (40.0 + 160.0 * uniform(s));
    t.p2 = kTwoPi * uniform(s);
    t.sigma_px = 1.2 + 2.3 * uniform(s);
    t.peak_photons = 1000.0 * std::pow(20.0, uniform(s));  // log-uniform 1,000..20,000
    tracks_.push_back(t);
  }
  background_table_ = poisson_quantiles(background_photons, kOffsetCounts, 65536);
  normal_table_ = normal_quantiles(4096);
  gx_.resize(width);
  gy_.resize(height);
}

std::vector<Spot> MicroscopyScene::spots_at(std::uint64_t sequence) const {
  std::vector<Spot> spots;
  spots.reserve(tracks_.size());
  const auto t = static_cast<double>(sequence);
  for (const Track& k : tracks_) {
    Spot s;
    s.x = wrap(k.x0 + k.vx * t + k.wobble * std::sin(k.w1 * t + k.p1), width_);
    s.y = wrap(k.y0 + k.vy * t + k.wobble * std::cos(k.w2 * t + k.p2), height_);
    s.sigma_px = k.sigma_px;
    s.peak_photons = k.peak_photons;
    spots.push_back(s);
  }
  return spots;
}

void MicroscopyScene::render(std::span<std::byte> pixels, const FrameShape& frame, std::uint64_t sequence) noexcept {
  if (bytes_per_pixel(frame.pixel_format) == 1) {
    render_as<std::uint8_t>(pixels, frame, sequence);
  } else {
    render_as<std::uint16_t>(pixels, frame, sequence);
  }
}

template <class T>
void MicroscopyScene::render_as(std::span<std::byte> pixels, const FrameShape& frame, std::uint64_t sequence) noexcept {
  const std::uint32_t shift = shift_of(frame.pixel_format);
  const std::uint32_t max_value = 0xFFFFU >> shift;
  const std::uint32_t half = shift == 0 ? 0 : 1U << (shift - 1U);
  std::uint64_t state = derive_state(seed_, kStreamNoise, sequence);
  const std::uint16_t* table = background_table_.data();

  // Background: kOffsetCounts + Poisson(background), four 16-bit table indices per draw.
  for (std::uint32_t y = 0; y < height_; ++y) {
    T* row = row_of<T>(pixels, frame, y);
    std::uint32_t x = 0;
    for (; x + 4 <= width_; x += 4) {
      const std::uint64_t r = splitmix64(state);
      row[x] = static_cast<T>(table[r & 0xFFFFU] >> shift);
      row[x + 1] = static_cast<T>(table[(r >> 16U) & 0xFFFFU] >> shift);
      row[x + 2] = static_cast<T>(table[(r >> 32U) & 0xFFFFU] >> shift);
      row[x + 3] = static_cast<T>(table[r >> 48U] >> shift);
    }
    for (; x < width_; ++x) row[x] = static_cast<T>(table[splitmix64(state) & 0xFFFFU] >> shift);
  }

  // Spots: Poisson(peak * gx * gy) added within the radius where the mean exceeds half a photon.
  const auto t = static_cast<double>(sequence);
  for (const Track& k : tracks_) {
    const double cx = wrap(k.x0 + k.vx * t + k.wobble * std::sin(k.w1 * t + k.p1), width_);
    const double cy = wrap(k.y0 + k.vy * t + k.wobble * std::cos(k.w2 * t + k.p2), height_);
    const double radius = k.sigma_px * std::sqrt(2.0 * std::log(2.0 * k.peak_photons));
    const auto x0 = static_cast<std::int64_t>(std::max(0.0, std::ceil(cx - radius)));
    const auto x1 = static_cast<std::int64_t>(std::min(static_cast<double>(width_) - 1.0, std::floor(cx + radius)));
    const auto y0 = static_cast<std::int64_t>(std::max(0.0, std::ceil(cy - radius)));
    const auto y1 = static_cast<std::int64_t>(std::min(static_cast<double>(height_) - 1.0, std::floor(cy + radius)));
    if (x1 < x0 || y1 < y0) continue;
    const double inv_two_var = 1.0 / (2.0 * k.sigma_px * k.sigma_px);
    for (std::int64_t x = x0; x <= x1; ++x) {
      const double dx = static_cast<double>(x) - cx;
      gx_[static_cast<std::size_t>(x - x0)] = static_cast<float>(k.peak_photons * std::exp(-dx * dx * inv_two_var));
    }
    for (std::int64_t y = y0; y <= y1; ++y) {
      const double dy = static_cast<double>(y) - cy;
      gy_[static_cast<std::size_t>(y - y0)] = static_cast<float>(std::exp(-dy * dy * inv_two_var));
    }
    for (std::int64_t y = y0; y <= y1; ++y) {
      T* row = row_of<T>(pixels, frame, static_cast<std::uint32_t>(y));
      const float wy = gy_[static_cast<std::size_t>(y - y0)];
      for (std::int64_t x = x0; x <= x1; ++x) {
        const double mean = static_cast<double>(gx_[static_cast<std::size_t>(x - x0)] * wy);
        std::uint32_t photons = 0;
        if (mean < 12.0) {
          // Inversion: the smallest k with P(X <= k) >= u.
          const double u = uniform(state);
          double p = std::exp(-mean);
          double cdf = p;
          while (u > cdf && photons < 100) {
            ++photons;
            p *= mean / photons;
            cdf += p;
          }
        } else {
          const float z = normal_table_[splitmix64(state) >> 52U];
          const double sample = mean + std::sqrt(mean) * static_cast<double>(z);
          photons = sample <= 0 ? 0U : static_cast<std::uint32_t>(std::min(65535.0, std::round(sample)));
        }
        const std::uint32_t value = row[x] + ((photons + half) >> shift);
        row[x] = static_cast<T>(std::min(value, max_value));
      }
    }
  }
}

template void MicroscopyScene::render_as<std::uint8_t>(std::span<std::byte>, const FrameShape&, std::uint64_t) noexcept;
template void MicroscopyScene::render_as<std::uint16_t>(std::span<std::byte>, const FrameShape&, std::uint64_t) noexcept;

// ---- DropletScene --------------------------------------------------------------------------------

DropletScene::DropletScene(std::uint32_t width, std::uint32_t height, std::uint64_t seed)
    : width_(width), height_(height), seed_(seed) {
  scratch_.reserve(kRingsPerDroplet * (kLifetimeFrames / kSpawnIntervalFrames + 2));
}

void DropletScene::collect_rings(std::uint64_t sequence, std::vector<DropletRing>& out) const {
  out.clear();
  const double scale = std::max(0.25, static_cast<double>(std::min(width_, height_)) / 1080.0);
  const std::uint64_t newest = sequence / kSpawnIntervalFrames;
  const std::uint64_t oldest =
      sequence + 1 > kLifetimeFrames ? (sequence + 1 - kLifetimeFrames + kSpawnIntervalFrames - 1) / kSpawnIntervalFrames : 0;
  for (std::uint64_t i = oldest; i <= newest; ++i) {
    const std::uint64_t age = sequence - i * kSpawnIntervalFrames;  // frames since it landed
    if (age >= kLifetimeFrames) continue;
    std::uint64_t s = derive_state(seed_, kStreamDroplets, i);
    const double x = uniform(s) * width_;
    const double y = uniform(s) * height_;
    const double speed = (1.0 + 3.0 * uniform(s)) * scale;  // px/frame
    const double amplitude = 20000.0 + 25000.0 * uniform(s);
    const double fade = 1.0 - static_cast<double>(age) / static_cast<double>(kLifetimeFrames);
    const double spacing = std::max(4.0, kRingSpacingPx * scale);
    const double half_width = std::max(1.5, 4.0 * scale);
    const double lead = speed * static_cast<double>(age + 1);
    double ring_amplitude = amplitude * fade;
    for (std::uint32_t k = 0; k < kRingsPerDroplet; ++k, ring_amplitude *= 0.6) {
      const double radius = lead - spacing * k;
      if (radius <= 0) break;
      out.push_back({i, x, y, radius, half_width, ring_amplitude});
    }
  }
}

std::vector<DropletRing> DropletScene::rings_at(std::uint64_t sequence) const {
  std::vector<DropletRing> rings;
  collect_rings(sequence, rings);
  return rings;
}

void DropletScene::render(std::span<std::byte> pixels, const FrameShape& frame, std::uint64_t sequence) noexcept {
  if (bytes_per_pixel(frame.pixel_format) == 1) {
    render_as<std::uint8_t>(pixels, frame, sequence);
  } else {
    render_as<std::uint16_t>(pixels, frame, sequence);
  }
}

template <class T>
void DropletScene::render_as(std::span<std::byte> pixels, const FrameShape& frame, std::uint64_t sequence) noexcept {
  const std::uint32_t shift = shift_of(frame.pixel_format);
  const std::uint32_t max_value = 0xFFFFU >> shift;
  const double scale_out = 1.0 / static_cast<double>(1U << shift);
  for (std::uint32_t y = 0; y < height_; ++y) {
    std::fill_n(row_of<T>(pixels, frame, y), width_, static_cast<T>(kBackgroundCounts >> shift));
  }
  collect_rings(sequence, scratch_);  // capacity reserved for the rings alive at once: no allocation
  const auto w = static_cast<double>(width_);
  const auto h = static_cast<double>(height_);
  for (const DropletRing& ring : scratch_) {
    const double outer = ring.radius_px + ring.half_width_px;
    const double inner = std::max(0.0, ring.radius_px - ring.half_width_px);
    const double inv_half_width = 1.0 / ring.half_width_px;
    const double amplitude = ring.amplitude * scale_out;
    const double ylo = std::max(0.0, std::ceil(ring.y - outer));
    const double yhi = std::min(h - 1.0, std::floor(ring.y + outer));
    for (double yd = ylo; yd <= yhi; yd += 1.0) {
      const double dy = yd - ring.y;
      const double outer_x2 = outer * outer - dy * dy;
      if (outer_x2 < 0) continue;
      const double xo = std::sqrt(outer_x2);
      const double inner_x2 = inner * inner - dy * dy;
      const double xi = inner_x2 > 0 ? std::sqrt(inner_x2) : -1.0;
      T* row = row_of<T>(pixels, frame, static_cast<std::uint32_t>(yd));
      // The annulus crosses this row in [cx - xo, cx - xi] and [cx + xi, cx + xo] (one span
      // when the row passes inside the inner circle's reach).
      const auto span_add = [&](double from, double to) {
        const double xlo = std::max(0.0, std::ceil(from));
        const double xhi = std::min(w - 1.0, std::floor(to));
        for (double xd = xlo; xd <= xhi; xd += 1.0) {
          const double dx = xd - ring.x;
          const double e = (std::sqrt(dx * dx + dy * dy) - ring.radius_px) * inv_half_width;
          if (e <= -1.0 || e >= 1.0) continue;
          const auto x = static_cast<std::size_t>(xd);
          const double value = static_cast<double>(row[x]) + amplitude * (1.0 - e * e) + 0.5;
          row[x] = static_cast<T>(std::min(static_cast<double>(max_value), value));
        }
      };
      if (xi < 0) {
        span_add(ring.x - xo, ring.x + xo);
      } else {
        span_add(ring.x - xo, ring.x - xi);
        span_add(ring.x + xi, ring.x + xo);
      }
    }
  }
}

template void DropletScene::render_as<std::uint8_t>(std::span<std::byte>, const FrameShape&, std::uint64_t) noexcept;
template void DropletScene::render_as<std::uint16_t>(std::span<std::byte>, const FrameShape&, std::uint64_t) noexcept;

// ---- GratingScene --------------------------------------------------------------------------------

GratingScene::GratingScene(std::uint32_t width, std::uint32_t height, double cycles_per_pixel, double angle_deg,
                           double amplitude_counts)
    : width_(width),
      height_(height),
      cycles_per_pixel_(cycles_per_pixel),
      angle_rad_(angle_deg * std::numbers::pi / 180.0),
      amplitude_(amplitude_counts) {
  if (!(cycles_per_pixel > 0.0 && cycles_per_pixel <= 0.5)) {
    throw ConfigError(fmt::format("--grating-cycles-per-pixel {} is outside (0, 0.5] (0.5 cycles/pixel is Nyquist)",
                                  cycles_per_pixel));
  }
  if (!(amplitude_counts >= 0.0 && amplitude_counts <= 32767.0)) {
    throw ConfigError(fmt::format("--grating-amplitude {} counts is outside 0..32767 (the mean is 32768)", amplitude_counts));
  }
  if (!std::isfinite(angle_deg)) throw ConfigError("--grating-angle-deg must be a finite number of degrees");
  const double kx = 2.0 * std::numbers::pi * cycles_per_pixel * std::cos(angle_rad_);
  sin_x_.resize(width);
  cos_x_.resize(width);
  for (std::uint32_t x = 0; x < width; ++x) {
    sin_x_[x] = static_cast<float>(std::sin(kx * x));
    cos_x_[x] = static_cast<float>(std::cos(kx * x));
  }
}

double GratingScene::value_at(double x, double y) const noexcept {
  const double k = 2.0 * std::numbers::pi * cycles_per_pixel_;
  return kMeanCounts + amplitude_ * std::sin(k * (x * std::cos(angle_rad_) + y * std::sin(angle_rad_)));
}

void GratingScene::render(std::span<std::byte> pixels, const FrameShape& frame) const noexcept {
  if (bytes_per_pixel(frame.pixel_format) == 1) {
    render_as<std::uint8_t>(pixels, frame);
  } else {
    render_as<std::uint16_t>(pixels, frame);
  }
}

template <class T>
void GratingScene::render_as(std::span<std::byte> pixels, const FrameShape& frame) const noexcept {
  const std::uint32_t shift = shift_of(frame.pixel_format);
  const double ky = 2.0 * std::numbers::pi * cycles_per_pixel_ * std::sin(angle_rad_);
  for (std::uint32_t y = 0; y < height_; ++y) {
    T* row = row_of<T>(pixels, frame, y);
    // sin(kx x + ky y) = sin(kx x) cos(ky y) + cos(kx x) sin(ky y)
    const auto a = static_cast<float>(amplitude_ * std::cos(ky * y));
    const auto b = static_cast<float>(amplitude_ * std::sin(ky * y));
    constexpr auto kMean = static_cast<float>(kMeanCounts) + 0.5F;  // + 0.5: round to nearest below
    for (std::uint32_t x = 0; x < width_; ++x) {
      const float v = std::clamp(kMean + a * sin_x_[x] + b * cos_x_[x], 0.0F, 65535.0F);
      row[x] = static_cast<T>(static_cast<std::uint32_t>(v) >> shift);
    }
  }
}

template void GratingScene::render_as<std::uint8_t>(std::span<std::byte>, const FrameShape&) const noexcept;
template void GratingScene::render_as<std::uint16_t>(std::span<std::byte>, const FrameShape&) const noexcept;

}  // namespace framering::acquire
