// frame_source.hpp: what the acquire loop asks of a source (pattern, files, aravis, opencv): grab the next frame,
// then write it straight into the ring slot the loop claimed (zero-copy into shared memory).
//
// The loop calls, per frame: grab() (may block on I/O: decode a file, read a video), then
// RingWriter::claim(), then write() into the claimed slot, then publish(). A frame grabbed but
// not written (the claim timed out) is a dropped frame; the source's own counter has moved on, so
// consumers see the drop as a gap in camera_frame_id.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framering/common/error.hpp"
#include "framering/common/frame_shape.hpp"
#include "framering/common/ring_layout.hpp"
#include "framering/common/stage_control.hpp"

namespace framering::ring {
class RingWriter;
}

namespace framering::acquire {

/// A start-up failure of a source: a path that does not exist or cannot be decoded, an image of
/// an unsupported depth, options that contradict the source. what() names the input and what
/// was expected. main() maps it to exit code 2.
class SourceError : public Error {
 public:
  using Error::Error;
};

/// What grab() returns for a frame the source produced.
struct GrabbedFrame {
  std::uint64_t camera_frame_id = 0;  ///< the source's own counter: frames grabbed since start, 0-based
  std::uint64_t timestamp_ns = 0;     ///< CLOCK_REALTIME ns since the Unix epoch at grab
  /// Source frames lost just before this one (a camera frame-id gap, an outage estimate);
  /// goes to FrameMetadata::source_frames_lost. 0 for sources that cannot lose frames.
  std::uint64_t source_frames_lost = 0;
};

enum class GrabError {
  EndOfSource,  ///< no more frames (a file source without --loop after its one pass)
  Unreadable,   ///< this frame could not be read (a file in a sequence); its id is used up: a source drop
  Stopped,      ///< SIGINT/SIGTERM arrived while the source waited (a camera): end the loop
};

/// Receives a source's loss counters (totals since the source started; frames_lost is
/// ignored, the ring sums it from GrabbedFrame::source_frames_lost).
using SourceStatsSink = std::function<void(const ring::ProducerControl::SourceStats&)>;

/// A source of frames of one fixed shape. One thread calls it. Frame-path calls allocate
/// nothing once running (a file decoder may, inside OpenCV).
class FrameSource {
 public:
  FrameSource() = default;
  virtual ~FrameSource() = default;
  FrameSource(const FrameSource&) = delete;
  FrameSource& operator=(const FrameSource&) = delete;

  /// Width, height and pixel format of every frame (stride_bytes = width * bytes per pixel;
  /// the ring's own stride is passed to write()).
  [[nodiscard]] virtual FrameShape shape() const noexcept = 0;

  /// Produces the next frame inside the source (decodes it, or takes the time of a synthetic
  /// one) and gives its id and timestamp. Blocks only on I/O.
  [[nodiscard]] virtual std::expected<GrabbedFrame, GrabError> grab() noexcept = 0;

  /// Writes the frame last grabbed into `pixels`: `frame.height` rows `frame.row_stride_bytes()`
  /// apart, `frame.width` pixels of `frame.pixel_format` each (which equal shape()'s).
  /// `sequence` is the ring sequence it will be published as (synthetic scenes are a function
  /// of it). Requires a successful grab() since the last write().
  virtual void write(std::span<std::byte> pixels, const FrameShape& frame, std::uint64_t sequence) noexcept = 0;

  /// Offers the source the ring's writer, once, after the ring exists and before the loop's
  /// first grab(), so that it may have its driver fill ring slots directly (claimed ahead with
  /// RingWriter::claim_at and lent; the Aravis source). The loop still claims, calls write()
  /// and publishes each frame; write() then finds the frame already in `pixels` and copies
  /// nothing. A source that lends must have taken every lent slot back from its driver before
  /// it is destroyed, and must be destroyed before `writer`. Called on the grabbing thread.
  /// Default: nothing (frames are copied or rendered into the claimed slot).
  virtual void use_ring(ring::RingWriter& writer) { (void)writer; }

  /// Sources that lose frames before the ring (cameras) report their counters to `sink`: about
  /// once a second, at every change of connection (also while grab() waits for a camera that
  /// went away) and at flush_stats(). Called on the grabbing thread only. Default: nothing.
  virtual void set_stats_sink(SourceStatsSink sink) { (void)sink; }

  /// Reports the counters to the sink now (the loop calls it before it ends). Default: nothing.
  virtual void flush_stats() {}

  /// True when the source sets the pace itself (a free-running camera: grab() blocks until
  /// the camera's next frame), so the loop must not pace it with --rate-hz.
  [[nodiscard]] virtual bool paces_itself() const noexcept { return false; }

  /// The source's live parameters (PATCH /api/v1/stages/{name}/params: common/stage_control.hpp)
  /// with their current values: a camera's exposure, gain and frame rate. Default: none.
  [[nodiscard]] virtual std::vector<stage::ParamSpec> live_params() const { return {}; }

  /// Applies checked changes of live_params() between frames, on the grabbing thread, and
  /// reports what the source took through `took(name, value)` (a camera reads its settings
  /// back). A refusal names the parameter. Default: refuses (the source offers none).
  virtual std::optional<stage::Refusal> apply_live(const nlohmann::json& changes,
                                                   const std::function<void(const std::string&, double)>& took) {
    (void)took;
    return stage::Refusal{422, changes.empty() ? "" : changes.begin().key(), "this source has no live parameters"};
  }

  /// One line for the log: "pattern microscopy, seed 1" or "files /data/stack.tif (TIFF, 200 pages, 16-bit)".
  [[nodiscard]] virtual std::string describe() const = 0;
};

}  // namespace framering::acquire
