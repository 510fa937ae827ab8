// aravis_source.hpp: frames from a GenICam camera (GigE Vision or USB3 Vision) through libaravis
// 0.8: configure it with standard feature names, stream straight into ring slots lent to
// Aravis (or into Aravis buffers copied once into the claimed slot), count every kind of loss,
// and ride out the camera going away (reconnect with backoff, the ring and its consumers stay up).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "framering/acquire/frame_source.hpp"
#include "framering/common/camera_frame_id.hpp"

namespace framering::acquire {

/// How to find and set up the camera. Unset optionals leave the camera's own setting. Feature
/// names are the GenICam SFNC ones, through Aravis' ArvCamera helpers (which also know the
/// older names, e.g. ExposureTimeAbs / GainRaw, that the emulator and many cameras use).
struct AravisSourceOptions {
  /// Aravis device id ("Aravis-Fake-GV01", "<vendor>-<serial>"), serial, or IP address; empty:
  /// the first camera found.
  std::string camera_id;
  std::optional<std::string> pixel_format;  ///< PFNC name (PixelFormat): Mono8, Mono10, Mono12, Mono14, Mono16
  std::optional<std::uint32_t> width;       ///< Width, pixels
  std::optional<std::uint32_t> height;      ///< Height, pixels
  std::optional<std::uint32_t> offset_x;    ///< OffsetX, pixels
  std::optional<std::uint32_t> offset_y;    ///< OffsetY, pixels
  std::optional<double> exposure_us;        ///< ExposureTime (or ExposureTimeAbs), µs
  std::optional<double> gain;               ///< Gain (or GainRaw), in the camera's unit (usually dB)
  std::optional<double> frame_rate_hz;      ///< AcquisitionFrameRate (enabled when the camera has the switch)
  /// "" leaves triggers as they are; "off": free run (TriggerMode=Off); else a TriggerSource
  /// (Software, Line0, ...) for FrameStart with TriggerMode=On. With Software, grab() sends
  /// TriggerSoftware once per frame and the loop paces with --rate-hz.
  std::string trigger;
  std::uint32_t stream_buffers = 16;      ///< Aravis buffers queued on the stream (>= 2); lending: at most half the ring's slots
  /// Lend ring slots to Aravis as its buffers (use_ring), so that the stream thread writes each
  /// frame into its slot and write() copies nothing; false (--no-lend): Aravis fills buffers of
  /// its own and write() copies each frame into its slot.
  bool lend_slots = true;
  std::uint32_t packet_size_bytes = 9000; ///< GigE Vision GevSCPSPacketSize; 0 = let Aravis negotiate
  bool packet_socket = false;             ///< GigE: let Aravis use its AF_PACKET receiver (root only; receives nothing on lo)
  bool wait_for_camera = false;           ///< at start, wait for the camera instead of failing
  double frame_timeout_s = 2.0;           ///< no frame this long (free run): probe the camera; an unanswered probe is an outage
  double reconnect_max_s = 5.0;           ///< cap of the exponential reconnect backoff (starts at 0.1 s, doubles)
};

/// The Aravis source. The ring's shape is the camera's after the options are applied (Width,
/// Height and PixelFormat read back), which must be a mono PFNC format the ring knows, unpacked
/// (Mono8; Mono10/12/14/16 in 16 bits). Per frame: GrabbedFrame::camera_frame_id is the GVSP
/// block id (16 bits on GigE Vision 1.x: it wraps 65535 -> 1, 0 is never used), timestamp_ns
/// the buffer's system timestamp (CLOCK_REALTIME when Aravis received the frame's leader: the
/// camera's own tick counter is not wall-clock and is logged, not stored), and
/// source_frames_lost the frame-id gap before it (modulo the wrap), or after an outage the
/// estimate max(1, round(outage seconds x frame rate)). Incomplete, failed or timed-out buffers
/// never reach the ring: they are counted (SourceStats frames_incomplete / frames_timed_out)
/// and the frame-id gap they leave counts them as lost.
///
/// Copies between the socket and the ring: the kernel copies each GVSP packet into Aravis'
/// packet buffer (recvmsg), Aravis copies its payload into the frame's ArvBuffer. When slots
/// are lent (use_ring, the default) that ArvBuffer *is* the frame's ring slot: two copies, one
/// in user space. Otherwise, and for the frames the lending falls back for (a slot an every
/// consumer still holds, the frames queued behind a failed one: docs/cameras.md), write()
/// copies the ArvBuffer into the slot (one memcpy, row by row only when strides differ).
class AravisSource final : public FrameSource {
 public:
  /// Opens the camera, applies the options, reads the settings back and starts streaming.
  /// Throws SourceError naming the camera looked for and the cameras found when it is absent
  /// (unless wait_for_camera: then waits, with backoff, until it appears or SIGINT/SIGTERM;
  /// after a stop, is_open() is false), when a feature cannot be set (naming the feature, the
  /// value and the camera's error), or when the format is not a mono one the ring holds.
  explicit AravisSource(const AravisSourceOptions& options);
  ~AravisSource() override;

  /// False only when a stop arrived while waiting for the camera at start.
  [[nodiscard]] bool is_open() const noexcept;

  [[nodiscard]] FrameShape shape() const noexcept override;
  [[nodiscard]] std::expected<GrabbedFrame, GrabError> grab() noexcept override;
  void write(std::span<std::byte> pixels, const FrameShape& frame, std::uint64_t sequence) noexcept override;
  [[nodiscard]] std::string describe() const override;
  /// Lends `writer`'s slots to the stream when options.lend_slots, the ring's rows are packed
  /// (stride = width x bytes per pixel, as Aravis writes them), a slot holds the payload and the
  /// ring has at least 4 slots; otherwise logs why not, once, and copies. Lending queues
  /// min(stream_buffers, slot_count / 2) buffers. The destructor takes every lent slot back
  /// (stops the stream's receive thread) before it returns: destroy the source before `writer`.
  void use_ring(ring::RingWriter& writer) override;
  void set_stats_sink(SourceStatsSink sink) override;
  void flush_stats() override;
  [[nodiscard]] bool paces_itself() const noexcept override;
  /// exposure_us (ExposureTime), gain (Gain) and, when the camera has it, frame_rate_hz
  /// (AcquisitionFrameRate), each within the camera's bounds as it reported them at start.
  [[nodiscard]] std::vector<stage::ParamSpec> live_params() const override;
  /// Sets them on the camera while it streams and reads them back (the camera rounds). Kept for
  /// reconnects. A frame already exposed in the camera's pipeline may still come with the old
  /// setting: GenICam says which frame a setting reached only with chunk data, which this
  /// source does not enable (docs/cameras.md).
  std::optional<stage::Refusal> apply_live(const nlohmann::json& changes,
                                           const std::function<void(const std::string&, double)>& took) override;

  /// Totals so far (frames_lost = sum of source_frames_lost handed out).
  [[nodiscard]] ring::ProducerControl::SourceStats stats() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};


/// Frames a camera outage cost, from the CLOCK_REALTIME receipt times (ns) of the last frame
/// before it and the first after it: the frame periods between them at `rate_hz`, minus the one
/// that ends at the first frame, rounded, and at least 1. The outage starts before it is noticed
/// (--camera-timeout-s) and ends after the reconnect, so the reconnect time alone would count
/// too few. `rate_hz` <= 0 (unknown) counts 1 Hz; an unknown `last_before_ns` (0, or not before
/// `first_after_ns`) gives 1.
[[nodiscard]] std::uint64_t outage_loss(std::uint64_t last_before_ns, std::uint64_t first_after_ns, double rate_hz) noexcept;

}  // namespace framering::acquire
