#include "framering/bridge/protocol.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace framering::bridge {
namespace {

void put_u16(std::span<std::byte, kHeaderBytes> out, std::size_t at, std::uint16_t v) noexcept {
  for (std::size_t i = 0; i < 2; ++i) out[at + i] = static_cast<std::byte>(v >> (8 * i));
}
void put_u32(std::span<std::byte, kHeaderBytes> out, std::size_t at, std::uint32_t v) noexcept {
  for (std::size_t i = 0; i < 4; ++i) out[at + i] = static_cast<std::byte>(v >> (8 * i));
}
void put_u64(std::span<std::byte, kHeaderBytes> out, std::size_t at, std::uint64_t v) noexcept {
  for (std::size_t i = 0; i < 8; ++i) out[at + i] = static_cast<std::byte>(v >> (8 * i));
}
template <class T>
T get(std::span<const std::byte> in, std::size_t at) noexcept {
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>(v | (static_cast<T>(std::to_integer<std::uint8_t>(in[at + i])) << (8 * i)));
  return v;
}

bool known(std::uint8_t type) noexcept {
  switch (static_cast<MessageType>(type)) {
    case MessageType::Hello:
    case MessageType::Frame:
    case MessageType::End:
    case MessageType::Verdict:
    case MessageType::Welcome:
    case MessageType::Credit:
    case MessageType::Refused:
      return true;
  }
  return false;
}

}  // namespace

void encode_header(const MessageHeader& h, std::span<std::byte, kHeaderBytes> out) noexcept {
  std::fill(out.begin(), out.end(), std::byte{0});
  std::copy(kMagic.begin(), kMagic.end(), out.begin());
  out[4] = static_cast<std::byte>(h.type);
  out[5] = static_cast<std::byte>(h.flags);
  put_u16(out, 6, h.version);
  put_u32(out, 8, h.epoch);
  put_u32(out, 12, h.settings_generation);
  put_u64(out, 16, h.sequence);
  put_u64(out, 24, h.timestamp_or_granted);
  put_u64(out, 32, h.camera_frame_id);
  put_u64(out, 40, h.source_frames_lost);
  put_u64(out, 48, h.gap_first);
  put_u64(out, 56, h.gap_last);
}

std::optional<MessageHeader> decode_header(std::span<const std::byte> bytes, HeaderError* error) {
  const auto fail = [&](std::string what) -> std::optional<MessageHeader> {
    if (error != nullptr) error->what = std::move(what);
    return std::nullopt;
  };
  if (bytes.size() != kHeaderBytes) return fail(fmt::format("{} bytes, expected {}", bytes.size(), kHeaderBytes));
  if (!std::equal(kMagic.begin(), kMagic.end(), bytes.begin())) {
    return fail("no FRB1 magic: not a framering bridge message");
  }
  MessageHeader h;
  h.version = get<std::uint16_t>(bytes, 6);
  if (h.version != kProtocolVersion) {
    return fail(fmt::format("protocol version {}, expected {}", h.version, kProtocolVersion));
  }
  const auto type = std::to_integer<std::uint8_t>(bytes[4]);
  if (!known(type)) return fail(fmt::format("unknown message type {}", type));
  h.type = static_cast<MessageType>(type);
  h.flags = std::to_integer<std::uint8_t>(bytes[5]);
  h.epoch = get<std::uint32_t>(bytes, 8);
  h.settings_generation = get<std::uint32_t>(bytes, 12);
  h.sequence = get<std::uint64_t>(bytes, 16);
  h.timestamp_or_granted = get<std::uint64_t>(bytes, 24);
  h.camera_frame_id = get<std::uint64_t>(bytes, 32);
  h.source_frames_lost = get<std::uint64_t>(bytes, 40);
  h.gap_first = get<std::uint64_t>(bytes, 48);
  h.gap_last = get<std::uint64_t>(bytes, 56);
  return h;
}

std::string_view to_string(MessageType type) noexcept {
  switch (type) {
    case MessageType::Hello: return "HELLO";
    case MessageType::Frame: return "FRAME";
    case MessageType::End: return "END";
    case MessageType::Verdict: return "VERDICT";
    case MessageType::Welcome: return "WELCOME";
    case MessageType::Credit: return "CREDIT";
    case MessageType::Refused: return "REFUSED";
  }
  return "?";
}

}  // namespace framering::bridge
