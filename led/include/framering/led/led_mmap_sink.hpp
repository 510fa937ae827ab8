// led_mmap_sink.hpp: LED frames into a memory-mapped file in skyscreen's layout, so that its
// renderers and pattern tools read them unchanged, plus a sidecar with a sequence counter
// (a seqlock) so that a reader that knows it never takes a half-written frame.
//
// Frame file PATH: exactly vanes * leds_per_vane * 3 bytes (311,040 for skyscreen's 360 x 288),
// no header, byte offset vane * leds_per_vane * 3 + led * 3 + {0 R, 1 G, 2 B}.
//
// Sidecar PATH.seq: 64 bytes, little-endian (docs/led-output.md has a reader in Python):
//   0  char[8]  magic "FRLEDSQ1"
//   8  u64      seqlock: odd while a frame is being written, even when the frame file is whole;
//               it grows by 2 per frame (frames written = seqlock / 2)
//   16 u64      ring sequence of the frame in the file
//   24 u32      vanes        28 u32 leds_per_vane
//   32 u64      CLOCK_REALTIME ns when the frame was written
//   40..63      zero
// Writer: seqlock += 1 (odd), release fence, frame bytes, sequence, time, then seqlock += 1 (even)
// with release order. Reader: s1 = seqlock (acquire); if odd, retry; copy the frame; acquire
// fence; s2 = seqlock; keep the copy only if s1 == s2.
// A reader that ignores the sidecar (skyscreen's own) can see a frame that mixes two, as it could
// with skyscreen's original writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

namespace framering::led {

/// The sidecar of an LED frame file (see the file comment); lives in the mapped file.
struct LedSidecar {
  char magic[8];
  std::uint64_t seqlock;
  std::uint64_t sequence;
  std::uint32_t vanes;
  std::uint32_t leds_per_vane;
  std::uint64_t written_realtime_ns;
  std::uint8_t reserved[24];
};
static_assert(sizeof(LedSidecar) == 64);
static_assert(offsetof(LedSidecar, seqlock) == 8);
static_assert(offsetof(LedSidecar, sequence) == 16);
static_assert(offsetof(LedSidecar, vanes) == 24);
static_assert(offsetof(LedSidecar, written_realtime_ns) == 32);

/// Writes LED frames into PATH and PATH.seq. Move-only; unmaps on destruction (the files stay,
/// holding the last frame). One writer per path.
class LedMmapSink {
 public:
  /// The sidecar magic.
  static constexpr char kMagic[8] = {'F', 'R', 'L', 'E', 'D', 'S', 'Q', '1'};

  /// Creates (mode 0644) or opens PATH and PATH.seq, sizes them, maps them, and zeroes the frame.
  /// Throws ConfigError naming the path, the option (`--mmap`) and the errno text when either
  /// cannot be created, opened, sized or mapped (missing directory, no permission, read-only).
  LedMmapSink(std::filesystem::path path, std::uint32_t vanes, std::uint32_t leds_per_vane);
  ~LedMmapSink();
  LedMmapSink(LedMmapSink&& other) noexcept;
  LedMmapSink& operator=(LedMmapSink&&) = delete;
  LedMmapSink(const LedMmapSink&) = delete;
  LedMmapSink& operator=(const LedMmapSink&) = delete;

  /// Writes one frame (frame_bytes() bytes, skyscreen's layout) under the seqlock. Aborts when
  /// `rgb` has the wrong size (a broken invariant: the renderer made it).
  void write(std::span<const std::uint8_t> rgb, std::uint64_t sequence) noexcept;

  [[nodiscard]] std::uint64_t frame_bytes() const noexcept { return frame_bytes_; }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// PATH with ".seq" appended.
  [[nodiscard]] static std::filesystem::path sidecar_path(const std::filesystem::path& path);

 private:
  std::filesystem::path path_;
  std::uint64_t frame_bytes_ = 0;
  std::uint8_t* frame_ = nullptr;
  LedSidecar* sidecar_ = nullptr;
};

}  // namespace framering::led
