#include "framering/common/ring_geometry.hpp"

#include <fmt/format.h>

#include "framering/common/error.hpp"
#include "framering/common/ring_layout.hpp"

namespace framering::ring {
namespace {

constexpr std::uint64_t round_up(std::uint64_t value, std::uint64_t unit) noexcept {
  return (value + unit - 1) / unit * unit;
}

constexpr std::uint64_t kMaxSegmentBytes = 64ULL << 30U;

// Whether `rows` rows of `stride_bytes` fit in kMaxSegmentBytes, without computing the product.
constexpr bool frame_bytes_fit(std::uint64_t stride_bytes, std::uint32_t rows) noexcept {
  return rows == 0 || stride_bytes <= kMaxSegmentBytes / rows;
}

}  // namespace

std::uint64_t RingGeometry::slot_stride_bytes() const noexcept {
  return round_up(frame_bytes(), kPageBytes);
}

void RingGeometry::validate() const {
  frame.validate("ring geometry");
  if (slot_count < 2 || slot_count > 65536) {
    throw ConfigError(fmt::format("ring geometry: {} slots is out of range (expected 2..65536)", slot_count));
  }
  if (max_consumers < 1 || max_consumers > kMaxConsumers) {
    throw ConfigError(fmt::format("ring geometry: max_consumers {} is out of range (expected 1..{})",
                                  max_consumers, kMaxConsumers));
  }
  // Bounded before anything multiplies them: a stride near 2^64 would make stride x height (and
  // slots x slot stride) wrap around to a small segment whose rows lie far outside it. With the
  // frame at most 64 GiB (2^36) and at most 65536 (2^16) slots, no product below exceeds 2^52.
  if (!frame_bytes_fit(row_stride_bytes(), frame.height)) {
    throw ConfigError(fmt::format("ring geometry: a frame of {} rows of {} B is over the 64 GiB limit "
                                  "(a smaller stride or fewer rows)",
                                  frame.height, row_stride_bytes()));
  }
  const auto bytes = compute_layout(*this).segment_bytes;
  if (bytes > kMaxSegmentBytes) {
    throw ConfigError(fmt::format("ring geometry: the segment would take {} B, over the 64 GiB limit "
                                  "(fewer slots or smaller frames)", bytes));
  }
}

std::string RingGeometry::to_string() const {
  return fmt::format("{}, {} slots of {} B, {} consumer entries", frame.to_string(), slot_count,
                     slot_stride_bytes(), max_consumers);
}

SegmentLayout compute_layout(const RingGeometry& geometry) noexcept {
  SegmentLayout layout;
  layout.control_offset = round_up(sizeof(SegmentHeader), kCacheLineBytes);
  layout.consumers_offset = round_up(layout.control_offset + sizeof(ProducerControl), kCacheLineBytes);
  layout.frame_headers_offset = round_up(
      layout.consumers_offset + std::uint64_t{geometry.max_consumers} * sizeof(ConsumerEntry),
      kCacheLineBytes);
  layout.slots_offset = round_up(
      layout.frame_headers_offset + std::uint64_t{geometry.slot_count} * sizeof(FrameHeader), kPageBytes);
  layout.slot_stride_bytes = geometry.slot_stride_bytes();
  layout.segment_bytes = layout.slots_offset + std::uint64_t{geometry.slot_count} * layout.slot_stride_bytes;
  return layout;
}

}  // namespace framering::ring
