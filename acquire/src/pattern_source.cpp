#include "framering/acquire/pattern_source.hpp"

#include <fmt/format.h>

#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"
#include "framering/common/sequence_pattern.hpp"

namespace framering::acquire {

std::string_view to_string(Scene scene) noexcept {
  switch (scene) {
    case Scene::Microscopy: return "microscopy";
    case Scene::Droplets: return "droplets";
    case Scene::TestPattern: return "testpattern";
    case Scene::Grating: return "grating";
  }
  return "unknown";
}

std::optional<Scene> parse_scene(std::string_view name) noexcept {
  for (const Scene s : {Scene::Microscopy, Scene::Droplets, Scene::TestPattern, Scene::Grating}) {
    if (to_string(s) == name) return s;
  }
  return std::nullopt;
}

PatternSource::PatternSource(const PatternOptions& options) : options_(options) {
  if (options.scene != Scene::TestPattern && !is_mono(options.pixel_format)) {
    throw ConfigError(fmt::format("--scene {} draws grey (Mono8..Mono16) frames, not {}: for a colour or Bayer ring use "
                                  "--scene testpattern, whose every sample encodes the sequence",
                                  to_string(options.scene), to_string(options.pixel_format)));
  }
  switch (options.scene) {
    case Scene::Microscopy:
      microscopy_ = std::make_unique<MicroscopyScene>(options.width, options.height, options.seed);
      break;
    case Scene::Droplets:
      droplets_ = std::make_unique<DropletScene>(options.width, options.height, options.seed);
      break;
    case Scene::Grating:
      grating_ = std::make_unique<GratingScene>(options.width, options.height, options.grating_cycles_per_pixel,
                                                options.grating_angle_deg, options.grating_amplitude_counts);
      break;
    case Scene::TestPattern:
      break;
  }
}

PatternSource::~PatternSource() = default;

FrameShape PatternSource::shape() const noexcept {
  return {options_.width, options_.height, options_.pixel_format,
          std::uint64_t{options_.width} * bytes_per_pixel(options_.pixel_format)};
}

std::expected<GrabbedFrame, GrabError> PatternSource::grab() noexcept {
  return GrabbedFrame{.camera_frame_id = frames_grabbed_++, .timestamp_ns = realtime_ns()};
}

void PatternSource::write(std::span<std::byte> pixels, const FrameShape& frame, std::uint64_t sequence) noexcept {
  switch (options_.scene) {
    case Scene::Microscopy: microscopy_->render(pixels, frame, sequence); break;
    case Scene::Droplets: droplets_->render(pixels, frame, sequence); break;
    case Scene::Grating: grating_->render(pixels, frame); break;
    case Scene::TestPattern: fill_sequence_pattern(pixels, frame, sequence); break;
  }
}

std::string PatternSource::describe() const {
  std::string text = fmt::format("pattern {} {}x{} {}", to_string(options_.scene), options_.width, options_.height,
                                 to_string(options_.pixel_format));
  switch (options_.scene) {
    case Scene::Microscopy:
    case Scene::Droplets: text += fmt::format(", seed {}", options_.seed); break;
    case Scene::Grating:
      text += fmt::format(", {} cycles/pixel at {} deg, amplitude {} counts", options_.grating_cycles_per_pixel,
                          options_.grating_angle_deg, options_.grating_amplitude_counts);
      break;
    case Scene::TestPattern: text += ", sample c of pixel(x, y) = (sequence + x + 3y + 85c) & mask"; break;
  }
  return text;
}

}  // namespace framering::acquire
