// acquire_command.hpp: `framering acquire`: the producer of a ring: synthetic patterns, image files,
// videos, GenICam cameras (Aravis) and V4L2 devices (OpenCV).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "framering/common/cli_options.hpp"
#include "framering/common/stage_command.hpp"


namespace CLI {
class App;
}

namespace framering::acquire {

/// Everything `framering acquire` takes; the defaults are the command line's.
/// What a live source's frame waits for a slot before it is dropped: a camera (or a pattern
/// standing in for one) cannot pause, so its frame is dropped and counted after this.
inline constexpr std::chrono::milliseconds kLiveClaimTimeout{1000};

struct AcquireOptions {
  CommonOptions common;
  std::string ring = "raw";
  std::uint32_t slots = 16;
  /// Bytes between row starts in the ring's slots; 0 = packed (width x bytes per pixel).
  std::uint64_t row_stride_bytes = 0;
  std::uint32_t max_consumers = 16;
  bool group_access = false;
  std::string source = "pattern";  ///< pattern | files | aravis | opencv
  double rate_hz = 30.0;           ///< frames per second on an absolute schedule; 0 = flat out
  bool rate_given = false;         ///< aravis: --rate-hz was given, so it sets AcquisitionFrameRate
  std::uint64_t frames = 0;        ///< publish exactly this many, then exit; 0 = until SIGINT/SIGTERM
  /// How long a frame waits for an every consumer to free the next slot before it is dropped.
  /// nullopt = the source's default (claim_timeout()).
  std::optional<std::uint32_t> claim_timeout_ms;
  std::uint32_t wait_for_consumers = 0;      ///< publish nothing until this many consumers are attached
  double wait_for_consumers_s = 30.0;        ///< then go on anyway, with a warning
  // pattern
  std::uint32_t width = 1920;
  std::uint32_t height = 1080;
  bool width_given = false;   ///< files: width was on the command line, so it must match the source
  bool height_given = false;  ///< files: likewise for height
  std::string pixel_format = "Mono16";
  bool pixel_format_given = false;  ///< aravis: set the camera's PixelFormat (else keep the camera's)
  std::string scene = "microscopy";
  std::uint64_t seed = 1;
  double grating_cycles_per_pixel = 0.05;
  double grating_angle_deg = 0.0;
  double grating_amplitude = 16000.0;
  // files
  std::string path;
  bool loop = true;
  bool scale_to_16bit = true;
  // aravis (GenICam); the *_given flags say which settings to apply to the camera
  std::string camera;  ///< Aravis device id, serial or address; empty = the first found
  std::uint32_t offset_x = 0;
  std::uint32_t offset_y = 0;
  bool offset_x_given = false;
  bool offset_y_given = false;
  double exposure_us = 0;
  bool exposure_given = false;
  double gain = 0;
  bool gain_given = false;
  std::string trigger;  ///< "" keep, "off", or a TriggerSource (Software, Line0, ...)
  std::uint32_t stream_buffers = 16;
  bool lend = true;  ///< aravis: lend ring slots to the stream (--no-lend: copy each frame)
  std::uint32_t packet_size_bytes = 9000;
  bool packet_socket = false;
  bool wait_for_camera = false;
  double camera_timeout_s = 2.0;
  double reconnect_max_s = 5.0;
  // opencv
  std::string device = "0";  ///< V4L2 index or path, URL, or video file
  /// Seconds between the info lines with rates and drops.
  double stats_interval_s = 5.0;
};

/// Runs the producer until `frames` are published, the file source ends (no --loop) or
/// SIGINT/SIGTERM. Returns 0, or 3 when frames were dropped (a claim timed out, or a file of a
/// sequence could not be read) or the source lost frames (a camera's frame-id gaps, outages):
/// every loss is counted in the ring and logged. Throws
/// framering::Error (ConfigError, SourceError, SegmentError) when it cannot start: main() logs
/// it and exits 2.
[[nodiscard]] /// The claim timeout in force: --claim-timeout-ms when given; else no limit (stage::kNoTimeout)
/// for `files`, which can wait without losing anything (a recorder restarting, or slower than
/// the file rate, never makes a file replay drop a frame), and kLiveClaimTimeout for the live
/// sources (pattern, opencv, aravis).
[[nodiscard]] std::chrono::nanoseconds claim_timeout(const AcquireOptions& options) noexcept;

int run_acquire(const AcquireOptions& options);

/// Adds the `acquire` subcommand to `app`. When the user selects it, `action` is set to the
/// function that runs it and returns the exit code (0 ok, 2 could not start, 3 lost frames).
/// The supervisor also builds it to check a pipeline's options before starting anything.
void add_acquire_subcommand(CLI::App& app, StageCommand& command);

}  // namespace framering::acquire
