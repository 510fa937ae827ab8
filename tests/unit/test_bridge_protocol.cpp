// The bridge's 64-byte message header (docs/bridge-protocol.md, "Header"), byte by byte: what a
// client in another language must produce and will receive.
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>

#include "framering/bridge/protocol.hpp"

namespace framering::bridge {
namespace {

using Bytes = std::array<std::byte, kHeaderBytes>;

Bytes encoded(const MessageHeader& h) {
  Bytes out{};
  encode_header(h, out);
  return out;
}

TEST(BridgeProtocol, AVerdictIsLaidOutAsTheProtocolPageSays) {
  const MessageHeader verdict{.type = MessageType::Verdict, .flags = kFlagIntact, .epoch = 7, .sequence = 0x0102030405060708};
  const Bytes b = encoded(verdict);
  EXPECT_EQ(b[0], std::byte{'F'});
  EXPECT_EQ(b[3], std::byte{'1'});
  EXPECT_EQ(b[4], std::byte{4}) << "type 4 VERDICT";
  EXPECT_EQ(b[5], std::byte{1}) << "flag bit 0: intact";
  EXPECT_EQ(b[6], std::byte{2}) << "version 2, little-endian";
  EXPECT_EQ(b[7], std::byte{0});
  EXPECT_EQ(b[8], std::byte{7}) << "epoch";
  EXPECT_EQ(b[16], std::byte{0x08}) << "sequence, little-endian";
  EXPECT_EQ(b[23], std::byte{0x01});
  const auto back = decode_header(b);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, verdict);
}

TEST(BridgeProtocol, AFrameRoundTripsWithItsGapAndVerdictFlags) {
  const MessageHeader frame{.type = MessageType::Frame,
                            .flags = static_cast<std::uint8_t>(kFlagGap | kFlagVerdictFollows),
                            .epoch = 3,
                            .sequence = 1000,
                            .timestamp_or_granted = 1'700'000'000'000'000'000ULL,
                            .camera_frame_id = 65535,
                            .source_frames_lost = 2,
                            .gap_first = 990,
                            .gap_last = 999};
  const Bytes b = encoded(frame);
  EXPECT_EQ(b[5], std::byte{0x03});
  const auto back = decode_header(b);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, frame);
}

TEST(BridgeProtocol, AVersionOneHeaderIsRefusedNamingBothVersions) {
  Bytes b = encoded({.type = MessageType::Frame});
  b[6] = std::byte{1};
  HeaderError error;
  EXPECT_FALSE(decode_header(b, &error).has_value());
  EXPECT_NE(error.what.find("version 1, expected 2"), std::string::npos) << error.what;
}

TEST(BridgeProtocol, AnUnknownTypeAndAShortHeaderAreRefused) {
  Bytes b = encoded({.type = MessageType::Credit});
  b[4] = std::byte{9};
  HeaderError error;
  EXPECT_FALSE(decode_header(b, &error).has_value());
  EXPECT_NE(error.what.find('9'), std::string::npos) << error.what;
  EXPECT_FALSE(decode_header(std::span<const std::byte>(b).first(63), &error).has_value());
  EXPECT_NE(error.what.find("63"), std::string::npos) << error.what;
}

}  // namespace
}  // namespace framering::bridge
