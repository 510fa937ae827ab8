// file_source.hpp: frames from files, decoded with OpenCV: a multi-page TIFF stack, an image
// sequence (a folder or a glob, sorted by name) or a video, looping, converted to the ring's
// mono format straight into the claimed slot.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "framering/acquire/frame_source.hpp"
#include "framering/common/pixel_format.hpp"

namespace framering::acquire {

/// What the file source reads and how it converts.
struct FileSourceOptions {
  /// A multi-page TIFF (.tif/.tiff: every page, in order), another single image (PNG, ...),
  /// a folder (its image files, sorted by name: zero-pad the numbers), a glob ("dir/*.png",
  /// sorted by name; quote it from the shell), or a video OpenCV's VideoCapture can open.
  std::string path;
  /// Start over after the last frame; false: grab() returns EndOfSource after one pass.
  bool loop = true;
  /// 8-bit sources into a 16-bit ring: stretch to its full range (x 257 into Mono16, so 255 ->
  /// 65535; x 4095/255 into Mono12). false: copy the values (0..255).
  bool scale_to_16bit = true;
  /// The ring's format. Colour becomes grey (cv::cvtColor, BT.601 weights). 16-bit sources into
  /// Mono8 are divided by 257; into Mono10/12/14 clamped to the largest value.
  PixelFormat pixel_format = PixelFormat::Mono16;
};

/// How the path was read.
enum class FileKind {
  TiffStack,      ///< one (multi-page) TIFF file
  ImageSequence,  ///< a folder, a glob or a single non-TIFF image
  Video,          ///< cv::VideoCapture
};

/// The file source. The frame shape is the first frame's size, in the ring's format. grab()
/// decodes the next frame (camera_frame_id = frames grabbed since start, counting across loops:
/// frame k of a pass of n frames is id pass * n + k); a frame of another size or depth, or an
/// unreadable file in a sequence, is skipped with a warning (GrabError::Unreadable, a source
/// drop). write() converts with cv::Mat headers over the slot memory (honouring its stride),
/// so cvtColor / convertTo / copyTo land in place; only colour into a 16-bit ring goes through
/// a grey 8-bit scratch image first.
class FileSource final : public FrameSource {
 public:
  /// Opens the path and decodes the first frame. Throws SourceError naming the path when it
  /// does not exist, matches no file, holds no image, cannot be decoded, or is not 8- or 16-bit
  /// with 1, 3 or 4 channels.
  explicit FileSource(const FileSourceOptions& options);
  ~FileSource() override;

  [[nodiscard]] FrameShape shape() const noexcept override;
  [[nodiscard]] std::expected<GrabbedFrame, GrabError> grab() noexcept override;
  void write(std::span<std::byte> pixels, const FrameShape& frame, std::uint64_t sequence) noexcept override;
  [[nodiscard]] std::string describe() const override;

  [[nodiscard]] FileKind kind() const noexcept;
  /// Bits per sample of the source (8 or 16), from its first frame.
  [[nodiscard]] int source_bits() const noexcept;
  /// Frames in one pass: pages, files, or the video's frame count as its container reports it
  /// (0 when unknown).
  [[nodiscard]] std::uint64_t frames_per_pass() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace framering::acquire
