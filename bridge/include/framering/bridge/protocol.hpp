// protocol.hpp: the messages of `framering bridge` (docs/bridge-protocol.md), one ring across a
// ZeroMQ connection. Every message is multipart; its first part is a 64-byte MessageHeader
// (little-endian), followed by a JSON part (HELLO, WELCOME, REFUSED, END) or the pixels (FRAME).
// Pure encoding: no sockets here, so that the unit tests and any client check it byte by byte.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace framering::bridge {

/// "FRB1": the first four bytes of every message's header.
inline constexpr std::array<std::byte, 4> kMagic{std::byte{'F'}, std::byte{'R'}, std::byte{'B'}, std::byte{'1'}};
/// 2: every-mode frames are sent straight from the slot and followed by a VERDICT (version 1
/// copied them and had no VERDICT).
inline constexpr std::uint16_t kProtocolVersion = 2;
inline constexpr std::size_t kHeaderBytes = 64;

/// What a message is (header byte 4).
enum class MessageType : std::uint8_t {
  Hello = 1,     ///< sender -> receiver: opens (or re-opens) a session: JSON with the ring's shape and mode
  Frame = 2,     ///< sender -> receiver: one frame: header fields + a part of height * stride_bytes pixels
  End = 3,       ///< sender -> receiver: the session ends cleanly; JSON with the reason
  Verdict = 4,   ///< sender -> receiver: the FRAME `sequence` was sent intact (flag kFlagIntact) or not
  Welcome = 16,  ///< receiver -> sender: session accepted: resume_from (sequence) and credit (granted)
  Credit = 17,   ///< receiver -> sender: acknowledged up to `sequence`, credit up to `granted`
  Refused = 18,  ///< receiver -> sender: session refused; JSON with why
};

/// Header byte 5 of a FRAME.
inline constexpr std::uint8_t kFlagGap = 0x01;  ///< gap_first..gap_last were lost before this frame
/// The pixels were sent straight from the sender's slot: hold the frame, unpublished, until the
/// VERDICT for its sequence says whether the slot stayed intact while ZeroMQ read it.
inline constexpr std::uint8_t kFlagVerdictFollows = 0x02;
/// Header byte 5 of a VERDICT: the frame's slot was intact once ZeroMQ had sent it (publish it);
/// without it the sender was evicted and the slot reused meanwhile (drop it and every frame held
/// after it: the sender starts a new session, and the gap arrives with a later FRAME).
inline constexpr std::uint8_t kFlagIntact = 0x01;

/// The 64-byte first part of every message (docs/bridge-protocol.md, "Header"). Fields a type
/// does not use are 0.
struct MessageHeader {
  MessageType type = MessageType::Hello;
  std::uint8_t flags = 0;
  std::uint16_t version = kProtocolVersion;
  /// The session: the sender counts its HELLOs from 1; the receiver echoes the epoch of the
  /// HELLO it answers, and both ignore messages of another epoch (stale ones, after a resume).
  std::uint32_t epoch = 0;
  /// FRAME: the frame's FrameHeader::settings_generation (bytes 12..15, reserved 0 before: an
  /// older sender's frames arrive as generation 0).
  std::uint32_t settings_generation = 0;
  /// FRAME: the frame's ring sequence. WELCOME: the sequence to send next (resume from).
  /// CREDIT: the receiver's next expected sequence: every frame before it is published on the far
  /// side (acknowledged). END: the sequence after the last frame sent. VERDICT: the frame's.
  std::uint64_t sequence = 0;
  /// FRAME: CLOCK_REALTIME ns of the frame. WELCOME, CREDIT: credit, as an absolute count of
  /// frames this epoch: the sender may send while it has sent fewer.
  std::uint64_t timestamp_or_granted = 0;
  std::uint64_t camera_frame_id = 0;     ///< FRAME
  std::uint64_t source_frames_lost = 0;  ///< FRAME
  std::uint64_t gap_first = 0;           ///< FRAME with kFlagGap: first sequence lost before it
  std::uint64_t gap_last = 0;            ///< FRAME with kFlagGap: last sequence lost before it

  friend bool operator==(const MessageHeader&, const MessageHeader&) = default;
};

/// Writes `h` into `out` (kHeaderBytes): magic, type, flags, version, epoch, then the six u64.
void encode_header(const MessageHeader& h, std::span<std::byte, kHeaderBytes> out) noexcept;

/// Why a header could not be decoded.
struct HeaderError {
  std::string what;  ///< "3 bytes, expected 64", "magic ...", "version 2, expected 1", "type 9"
};

/// Reads a header from the first part of a message. Returns the error for anything but
/// exactly kHeaderBytes bytes with the magic, version kProtocolVersion and a known type.
[[nodiscard]] std::optional<MessageHeader> decode_header(std::span<const std::byte> bytes, HeaderError* error = nullptr);

[[nodiscard]] std::string_view to_string(MessageType type) noexcept;

}  // namespace framering::bridge
