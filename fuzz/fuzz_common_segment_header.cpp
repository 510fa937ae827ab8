// fuzz_common_segment_header: ring::validate_header on any bytes, as Segment::open meets them in
// a segment someone else wrote (a crashed creator, another build, a foreign file in /dev/shm).
//
// Input: file_size_bytes (8 bytes, little-endian) | flags (1 byte) | the segment's first bytes
// (a header is 256 of them; fewer and more are both allowed). flags bit 0: also validate against
// the geometry the header records as the caller's expected geometry; bit 1: with slot count 0
// ("any").
//
// What must hold, beyond no crash and no sanitizer report:
//   - a refusal carries a message;
//   - an accepted header describes a segment a reader can follow without leaving it: every
//     block at or after the one before it, slots page-aligned, a row at least width x bytes per
//     pixel, frame_bytes = stride x height and no more than a slot, and the slots ending exactly
//     at segment_bytes, itself no more than file_size_bytes: each computed without overflow
//     (128-bit), since the accessors multiply these fields on every frame;
//   - an accepted header is also accepted when the caller expects exactly its geometry.
// A violation aborts with the broken rule, which libFuzzer reports as a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>

#include "framering/common/ring_geometry.hpp"
#include "framering/common/ring_layout.hpp"
#include "framering/common/segment.hpp"

namespace {

using framering::ring::SegmentHeader;

void require(bool holds, const char* rule) {
  if (holds) return;
  std::fprintf(stderr, "fuzz_common_segment_header: an accepted header breaks: %s\n", rule);
  std::abort();
}

// The geometry `h` records, as a caller that expects exactly it would pass it. The one place this
// target spells RingGeometry's fields.
framering::ring::RingGeometry recorded_geometry(const SegmentHeader& h, bool any_slot_count) {
  framering::ring::RingGeometry g;
  g.width = h.width;
  g.height = h.height;
  g.pixel_format = static_cast<framering::PixelFormat>(h.pixel_format);
  g.stride_bytes = h.stride_bytes;
  g.slot_count = any_slot_count ? 0 : h.slot_count;
  g.max_consumers = h.max_consumers;
  return g;
}

void check_accepted(const SegmentHeader& h, std::uint64_t file_size_bytes) {
  using u128 = unsigned __int128;
  const u128 bytes_per_pixel = framering::bytes_per_pixel(static_cast<framering::PixelFormat>(h.pixel_format));
  require(h.control_offset >= sizeof(SegmentHeader), "control block after the header");
  require(u128{h.consumers_offset} >= u128{h.control_offset} + sizeof(framering::ring::ProducerControl),
          "consumer table after the control block");
  require(u128{h.frame_headers_offset} >=
              u128{h.consumers_offset} + u128{h.max_consumers} * sizeof(framering::ring::ConsumerEntry),
          "frame headers after the consumer table");
  require(u128{h.slots_offset} >=
              u128{h.frame_headers_offset} + u128{h.slot_count} * sizeof(framering::ring::FrameHeader),
          "slots after the frame headers");
  require(h.slots_offset % framering::ring::kPageBytes == 0, "slots page-aligned");
  require(h.slot_stride_bytes % framering::ring::kPageBytes == 0, "slot stride a whole number of pages");
  require(u128{h.stride_bytes} >= u128{h.width} * bytes_per_pixel, "a row holds width x bytes per pixel");
  require(u128{h.frame_bytes} == u128{h.stride_bytes} * h.height, "frame_bytes = stride_bytes x height");
  require(h.frame_bytes <= h.slot_stride_bytes, "a frame fits its slot");
  require(h.slot_count >= 2 && h.frame_bytes > 0, "at least two slots of a non-empty frame");
  require(u128{h.slots_offset} + u128{h.slot_count} * h.slot_stride_bytes == h.segment_bytes,
          "the slots end at segment_bytes");
  require(h.segment_bytes <= file_size_bytes, "the segment fits its file");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kPrefixBytes = sizeof(std::uint64_t) + 1;
  if (size < kPrefixBytes) return -1;  // not an input of this target: keep it out of the corpus
  std::uint64_t file_size_bytes = 0;
  std::memcpy(&file_size_bytes, data, sizeof file_size_bytes);
  const std::uint8_t flags = data[sizeof file_size_bytes];
  const auto bytes = std::as_bytes(std::span(data + kPrefixBytes, size - kPrefixBytes));

  const auto result = framering::ring::validate_header(bytes, file_size_bytes, std::nullopt);
  if (!result) {
    require(!result.error().message.empty(), "(refused) a refusal says why");
    return 0;
  }
  SegmentHeader h;
  std::memcpy(&h, bytes.data(), sizeof h);  // accepted: at least a header long
  check_accepted(h, file_size_bytes);
  if ((flags & 1U) != 0) {
    const bool any_slot_count = (flags & 2U) != 0;
    const auto again = framering::ring::validate_header(bytes, file_size_bytes, recorded_geometry(h, any_slot_count));
    require(again.has_value(), "accepted when its own geometry is expected");
  }
  return 0;
}
