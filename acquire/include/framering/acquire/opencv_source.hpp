// opencv_source.hpp: frames from a V4L2 device (webcam, capture card), a network stream or a
// video file through OpenCV's VideoCapture, converted to the ring's mono format in the slot.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "framering/acquire/frame_source.hpp"
#include "framering/common/pixel_format.hpp"

namespace framering::acquire {

/// What to open and how to convert.
struct OpenCvSourceOptions {
  /// A V4L2 device by index ("0") or path ("/dev/video0"), or a URL (rtsp://, http://) or a
  /// video file that VideoCapture opens.
  std::string device = "0";
  /// The ring's format: Mono8 or Mono16 (also Mono10/12/14). Colour becomes grey (BT.601); 8-bit
  /// into 16-bit is scaled x (2^bits - 1)/255 (Mono16: x257) when scale_8bit, else copied.
  PixelFormat pixel_format = PixelFormat::Mono8;
  bool scale_8bit = true;
  std::optional<std::uint32_t> width;   ///< asked of a device (CAP_PROP_FRAME_WIDTH); it may pick another
  std::optional<std::uint32_t> height;  ///< asked of a device (CAP_PROP_FRAME_HEIGHT)
  std::optional<double> fps;            ///< asked of a device (CAP_PROP_FPS)
};

/// What `device` names.
enum class CaptureKind {
  V4l2Device,  ///< an index or /dev/video* path: opened with the V4L2 backend
  Stream,      ///< a URL: the device paces it
  File,        ///< a local video file: the loop paces it with --rate-hz; ends at its end
};

/// The OpenCV source. The shape is the first frame's size (the device's real one, which may
/// differ from what was asked: logged). camera_frame_id counts frames read since start;
/// timestamp_ns is CLOCK_REALTIME when read() returned. A device that stops delivering ends
/// the run (GrabError::EndOfSource, logged as an error).
class OpenCvSource final : public FrameSource {
 public:
  /// Opens and reads the first frame. Throws SourceError naming the device when: no such V4L2
  /// device (listing those present), it cannot be opened (permission, busy: another program
  /// streams from it), it delivers no frame, or the frame cannot be converted.
  explicit OpenCvSource(const OpenCvSourceOptions& options);
  ~OpenCvSource() override;

  [[nodiscard]] FrameShape shape() const noexcept override;
  [[nodiscard]] std::expected<GrabbedFrame, GrabError> grab() noexcept override;
  void write(std::span<std::byte> pixels, const FrameShape& frame, std::uint64_t sequence) noexcept override;
  [[nodiscard]] std::string describe() const override;
  [[nodiscard]] bool paces_itself() const noexcept override;

  /// What --device named: a V4L2 device, a stream URL or a video file (decides the pacing).
  [[nodiscard]] CaptureKind kind() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace framering::acquire
