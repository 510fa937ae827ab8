// pattern_source.hpp: the synthetic source: scenes rendered straight into the claimed slot.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "framering/acquire/frame_source.hpp"
#include "framering/acquire/scenes.hpp"
#include "framering/common/pixel_format.hpp"

namespace framering::acquire {

enum class Scene {
  Microscopy,   ///< MicroscopyScene: Gaussian beads with Poisson shot noise
  Droplets,     ///< DropletScene: skyscreen's expanding droplet rings
  TestPattern,  ///< fill_sequence_pattern(): pixels encode the ring sequence, verifiable by any consumer
  Grating,      ///< GratingScene: a static sinusoidal grating
};

/// "microscopy", "droplets", "testpattern", "grating".
[[nodiscard]] std::string_view to_string(Scene scene) noexcept;
/// The inverse of to_string(Scene); nullopt for any other text.
[[nodiscard]] std::optional<Scene> parse_scene(std::string_view name) noexcept;

/// What the pattern source renders.
struct PatternOptions {
  std::uint32_t width = 1920;   ///< pixels per row
  std::uint32_t height = 1080;  ///< rows
  PixelFormat pixel_format = PixelFormat::Mono16;
  Scene scene = Scene::Microscopy;
  std::uint64_t seed = 1;                   ///< microscopy and droplets draw everything from it
  double grating_cycles_per_pixel = 0.05;   ///< grating frequency; period = 1 / this, pixels
  double grating_angle_deg = 0.0;           ///< 0 = the grating varies along x only
  double grating_amplitude_counts = 16000;  ///< Mono16 counts either side of the mean 32768
};

/// The pattern source. grab() counts frames (camera_frame_id = frames grabbed since start) and
/// takes CLOCK_REALTIME; write() renders the scene for the ring sequence into the slot.
class PatternSource final : public FrameSource {
 public:
  /// Throws ConfigError for a scene parameter out of range (see each scene's constructor).
  explicit PatternSource(const PatternOptions& options);
  ~PatternSource() override;

  [[nodiscard]] FrameShape shape() const noexcept override;
  [[nodiscard]] std::expected<GrabbedFrame, GrabError> grab() noexcept override;
  void write(std::span<std::byte> pixels, const FrameShape& frame, std::uint64_t sequence) noexcept override;
  [[nodiscard]] std::string describe() const override;

 private:
  PatternOptions options_;
  std::uint64_t frames_grabbed_ = 0;
  std::unique_ptr<MicroscopyScene> microscopy_;
  std::unique_ptr<DropletScene> droplets_;
  std::unique_ptr<GratingScene> grating_;
};

}  // namespace framering::acquire
