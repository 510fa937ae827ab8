// validate_header on header bytes built in memory: every way a segment header can be refused,
// each with a message naming both sides, and the sound header it starts from. No shared memory.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "framering/common/segment.hpp"
#include "small_ring.hpp"

namespace framering::ring {
namespace {

// A sound header for `geometry` as the bytes a segment starts with, and the size of its file.
struct HeaderBytes {
  explicit HeaderBytes(const RingGeometry& geometry = test::small_ring_geometry()) {
    const SegmentHeader h = make_segment_header(geometry);
    bytes.resize(sizeof h);
    std::memcpy(bytes.data(), &h, sizeof h);
    file_size_bytes = h.segment_bytes;
  }

  // Overwrites the field at `offset` (as offsetof(SegmentHeader, field) gives it) with `value`.
  template <class T>
  void set(std::size_t offset, T value) {
    std::memcpy(bytes.data() + offset, &value, sizeof value);
  }

  [[nodiscard]] std::expected<void, HeaderError> validate(std::optional<RingGeometry> expected = {}) const {
    return validate_header(bytes, file_size_bytes, expected);
  }

  std::vector<std::byte> bytes;
  std::uint64_t file_size_bytes = 0;
};

// The message of a refused header, with the problem checked first.
std::string refusal(const std::expected<void, HeaderError>& result, HeaderProblem problem) {
  EXPECT_FALSE(result.has_value()) << "the header was accepted";
  if (result.has_value()) return "";
  EXPECT_EQ(result.error().problem, problem) << result.error().message;
  return result.error().message;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ValidateHeader, AcceptsTheHeaderCreateWrites) {
  const HeaderBytes sut;

  const auto result = sut.validate();

  EXPECT_TRUE(result.has_value()) << result.error().message;
}

TEST(ValidateHeader, AcceptsItsOwnGeometryWhenThatIsExpected) {
  const HeaderBytes sut;
  RingGeometry any_slot_count = test::small_ring_geometry();
  any_slot_count.slot_count = 0;

  EXPECT_TRUE(sut.validate(test::small_ring_geometry()).has_value());
  EXPECT_TRUE(sut.validate(any_slot_count).has_value()) << "slot count 0 means any";
}

TEST(ValidateHeader, AcceptsBytesBeyondTheHeaderAtAnyAlignment) {
  const HeaderBytes sound;
  std::vector<std::byte> shifted(sound.bytes.size() + 100);
  std::memcpy(shifted.data() + 1, sound.bytes.data(), sound.bytes.size());

  const auto result = validate_header(std::span(shifted).subspan(1), sound.file_size_bytes, std::nullopt);

  EXPECT_TRUE(result.has_value()) << result.error().message;
}

TEST(ValidateHeader, RefusesWrongMagicNamingBothValues) {
  HeaderBytes sut;
  const std::uint64_t foreign = 0x0123456789ABCDEFULL;
  sut.set<std::uint64_t>(offsetof(SegmentHeader, magic), foreign);

  const std::string message = refusal(sut.validate(), HeaderProblem::ForeignMagic);

  EXPECT_TRUE(contains(message, fmt::format("has magic 0x{:016x}", foreign))) << message;
  EXPECT_TRUE(contains(message, fmt::format("expected 0x{:016x}", kMagic))) << message;
  EXPECT_TRUE(contains(message, "not a framering ring")) << message;
}

TEST(ValidateHeader, RefusesZeroMagicAsAHeaderItsCreatorNeverFinished) {
  HeaderBytes sut;
  sut.set<std::uint64_t>(offsetof(SegmentHeader, magic), 0);

  const std::string message = refusal(sut.validate(), HeaderProblem::Uninitialised);

  EXPECT_TRUE(contains(message, "never finished initialising it")) << message;
}

TEST(ValidateHeader, RefusesAnotherLayoutVersionNamingBothVersions) {
  HeaderBytes sut;
  sut.set<std::uint32_t>(offsetof(SegmentHeader, layout_version), kLayoutVersion + 1);

  const std::string message = refusal(sut.validate(), HeaderProblem::OtherLayoutVersion);

  EXPECT_TRUE(contains(message, fmt::format("has layout version {}", kLayoutVersion + 1))) << message;
  EXPECT_TRUE(contains(message, fmt::format("reads layout version {}", kLayoutVersion))) << message;
}

TEST(ValidateHeader, RefusesOtherEntrySizesUnderTheSameVersionNamingBothSizes) {
  HeaderBytes sut;
  sut.set<std::uint32_t>(offsetof(SegmentHeader, consumer_entry_bytes), 256);

  const std::string message = refusal(sut.validate(), HeaderProblem::EntrySizeMismatch);

  EXPECT_TRUE(contains(message, "256 B consumer entries")) << message;
  EXPECT_TRUE(contains(message, fmt::format("this framering has {} B", sizeof(ConsumerEntry)))) << message;
}

TEST(ValidateHeader, RefusesAFileShorterThanTheHeaderSaysNamingBothSizes) {
  HeaderBytes sut;
  sut.file_size_bytes = 8192;

  const std::string message = refusal(sut.validate(), HeaderProblem::Truncated);

  const std::uint64_t header_says = make_segment_header(test::small_ring_geometry()).segment_bytes;
  EXPECT_TRUE(contains(message, fmt::format("is truncated: 8192 B, but its header says {} B", header_says)))
      << message;
}

TEST(ValidateHeader, RefusesFewerBytesThanAHeaderWithoutReadingThem) {
  const HeaderBytes sound;

  const auto result = validate_header(std::span(sound.bytes).first(100), sound.file_size_bytes, std::nullopt);

  const std::string message = refusal(result, HeaderProblem::Truncated);
  EXPECT_TRUE(contains(message, fmt::format("100 B, smaller than its {} B header", sizeof(SegmentHeader))))
      << message;
}

TEST(ValidateHeader, RefusesAWildBlockOffsetNamingItAndWhatTheGeometryGives) {
  HeaderBytes sut;
  const std::uint64_t wild = 1ULL << 40;  // following it would fault
  sut.set<std::uint64_t>(offsetof(SegmentHeader, frame_headers_offset), wild);

  const std::string message = refusal(sut.validate(), HeaderProblem::Inconsistent);

  const std::uint64_t recomputed = compute_layout(test::small_ring_geometry()).frame_headers_offset;
  EXPECT_TRUE(contains(message, "inconsistent header")) << message;
  EXPECT_TRUE(contains(message, fmt::format("frame_headers_offset is {}, its geometry gives {}", wild, recomputed)))
      << message;
}

TEST(ValidateHeader, RefusesEveryBlockOffsetThatDiffersFromTheRecomputedOne) {
  for (const std::size_t offset : {offsetof(SegmentHeader, control_offset), offsetof(SegmentHeader, consumers_offset),
                                   offsetof(SegmentHeader, frame_headers_offset), offsetof(SegmentHeader, slots_offset),
                                   offsetof(SegmentHeader, slot_stride_bytes)}) {
    HeaderBytes sut;
    sut.set<std::uint64_t>(offset, 12345);

    const std::string message = refusal(sut.validate(), HeaderProblem::Inconsistent);

    EXPECT_TRUE(contains(message, "is 12345, its geometry gives")) << "field at offset " << offset << ": " << message;
  }
}

TEST(ValidateHeader, RefusesZeroSlotsSayingWhatRangeIsValid) {
  HeaderBytes sut;
  sut.set<std::uint32_t>(offsetof(SegmentHeader, slot_count), 0);

  const std::string message = refusal(sut.validate(), HeaderProblem::Inconsistent);

  EXPECT_TRUE(contains(message, "0 slots is out of range (expected 2..65536)")) << message;
}

TEST(ValidateHeader, RefusesAnUnknownPixelFormatNamingItsCode) {
  HeaderBytes sut;
  sut.set<std::uint32_t>(offsetof(SegmentHeader, pixel_format), 0x12345678);

  const std::string message = refusal(sut.validate(), HeaderProblem::Inconsistent);

  EXPECT_TRUE(contains(message, "pixel_format 0x12345678")) << message;
}

TEST(ValidateHeader, RefusesAStrideBelowTheRowNamingBoth) {
  HeaderBytes sut;
  sut.set<std::uint64_t>(offsetof(SegmentHeader, stride_bytes), 0);

  const std::string message = refusal(sut.validate(), HeaderProblem::Inconsistent);

  EXPECT_TRUE(contains(message, "stride_bytes is 0, below width x bytes_per_pixel = 64")) << message;
}

TEST(ValidateHeader, RefusesAnotherGeometryThanExpectedNamingBoth) {
  const HeaderBytes sut;
  RingGeometry expected = test::small_ring_geometry();
  expected.frame.width = 64;

  const std::string message = refusal(sut.validate(expected), HeaderProblem::GeometryMismatch);

  EXPECT_TRUE(contains(message, "holds 32x8 Mono16")) << message;
  EXPECT_TRUE(contains(message, "expected 64x8 Mono16")) << message;
}

TEST(ValidateHeader, RefusesAnotherSlotCountThanExpectedNamingBoth) {
  const HeaderBytes sut;
  RingGeometry expected = test::small_ring_geometry();
  expected.slot_count = 8;

  const std::string message = refusal(sut.validate(expected), HeaderProblem::GeometryMismatch);

  EXPECT_TRUE(contains(message, "4 slots, expected")) << message;
  EXPECT_TRUE(contains(message, "8 slots")) << message;
}

TEST(ValidateHeader, ReportsOnlyTheFirstFailureInCheckOrder) {
  HeaderBytes sut;
  sut.set<std::uint64_t>(offsetof(SegmentHeader, magic), 0);
  sut.set<std::uint32_t>(offsetof(SegmentHeader, layout_version), kLayoutVersion + 1);
  sut.file_size_bytes = 8192;

  const auto result = sut.validate();

  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().problem, HeaderProblem::Uninitialised) << result.error().message;
}

TEST(ValidateHeader, RefusesAnotherVersionBeforeLookingAtTheFileSize) {
  HeaderBytes sut;
  sut.set<std::uint32_t>(offsetof(SegmentHeader, layout_version), kLayoutVersion + 1);
  sut.file_size_bytes = 8192;

  const auto result = sut.validate();

  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().problem, HeaderProblem::OtherLayoutVersion) << result.error().message;
}

// fuzz_common_segment_header's input, byte for byte: file size (8 B, little-endian) | flags
// (1 B) | a 32x8 Mono16 header whose stride_bytes is 2^62 + 64. stride x height = 2^65 + 512
// wrapped around to the 512 B its frame_bytes, slot stride and offsets were made to agree with,
// so the header was accepted, and a reader's second row would have been 2^62 B past the first.
TEST(ValidateHeader, RefusesAStrideWhoseFrameBytesWrapAroundTheFuzzersInput) {
  static constexpr unsigned char kInput[265] = {
      0x00, 0x50, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x46, 0x52, 0x41, 0x4d, 0x45, 0x52, 0x4e,
      0x47, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x50, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x20, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x07, 0x00, 0x10, 0x01, 0x02, 0x00, 0x00,
      0x00, 0x4d, 0x6f, 0x6e, 0x6f, 0x31, 0x36, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x40, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00, 0x40, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  };
  std::uint64_t file_size_bytes = 0;
  std::memcpy(&file_size_bytes, kInput, sizeof file_size_bytes);
  const auto header = std::as_bytes(std::span(kInput)).subspan(9);

  const std::string message = refusal(validate_header(header, file_size_bytes, std::nullopt), HeaderProblem::Inconsistent);

  EXPECT_TRUE(contains(message, "8 rows of 4611686018427387968 B is over the 64 GiB limit")) << message;
}

TEST(ValidateHeader, RefusesAStrideWhoseFrameBytesWrapAround) {
  HeaderBytes sut;
  const std::uint64_t stride = (1ULL << 62U) + 64;  // x 8 rows = 2^65 + 512: 512 once wrapped
  sut.set<std::uint64_t>(offsetof(SegmentHeader, stride_bytes), stride);
  sut.set<std::uint64_t>(offsetof(SegmentHeader, frame_bytes), stride * 8);

  const std::string message = refusal(sut.validate(), HeaderProblem::Inconsistent);

  EXPECT_TRUE(contains(message, "over the 64 GiB limit")) << message;
}

}  // namespace
}  // namespace framering::ring
