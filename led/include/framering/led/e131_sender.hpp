// e131_sender.hpp: LED frames as E1.31 (Streaming ACN, "sACN") data packets over UDP, built
// against ANSI E1.31-2018 "Lightweight streaming protocol for transport of DMX512 using ACN".
// Debian packages no E1.31 library, so the packet builder is here; real receivers (OLA's E1.31
// plugin) accept its packets (tests/multiprocess/test_led_ola.cpp).
//
// LEDs to universes (docs/led-output.md): LED index = vane * leds_per_vane + led (skyscreen's
// vane-major order); 170 RGB LEDs (510 channels) per universe; LED k goes to universe
// universe_start + k / 170, channels 3 * (k % 170) + 1..3 (R, G, B; DMX channels count from 1).
// Every universe carries the channels of its LEDs only: 510, except a shorter last one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace framering::led {

/// Offsets and constants of an E1.31 data packet (ANSI E1.31-2018, section 4.1, Table 4-1).
namespace e131 {
inline constexpr std::uint16_t kPort = 5568;                ///< ACN_SDT_MULTICAST_PORT, Appendix A
inline constexpr std::size_t kHeaderBytes = 126;            ///< root + framing + DMP layers up to the START code
inline constexpr std::size_t kMaxChannels = 512;            ///< DMX512 slots after the START code
inline constexpr std::uint32_t kLedsPerUniverse = 170;      ///< 510 of the 512 channels, whole RGB LEDs
inline constexpr std::uint16_t kMaxUniverse = 63999;        ///< section 6.2.7: universes 1..63999
inline constexpr std::size_t kSourceNameBytes = 64;         ///< section 6.2.2
inline constexpr std::uint32_t kVectorRootData = 0x00000004;     ///< VECTOR_ROOT_E131_DATA, section 5.5
inline constexpr std::uint32_t kVectorFramingData = 0x00000002;  ///< VECTOR_E131_DATA_PACKET, section 6.2.1
inline constexpr std::uint8_t kVectorDmpSetProperty = 0x02;      ///< VECTOR_DMP_SET_PROPERTY, section 7.2
// Byte offsets (Table 4-1).
inline constexpr std::size_t kOffRootFlagsLength = 16;
inline constexpr std::size_t kOffCid = 22;
inline constexpr std::size_t kOffFramingFlagsLength = 38;
inline constexpr std::size_t kOffSourceName = 44;
inline constexpr std::size_t kOffPriority = 108;
inline constexpr std::size_t kOffSyncAddress = 109;
inline constexpr std::size_t kOffSequence = 111;
inline constexpr std::size_t kOffOptions = 112;
inline constexpr std::size_t kOffUniverse = 113;
inline constexpr std::size_t kOffDmpFlagsLength = 115;
inline constexpr std::size_t kOffPropertyCount = 123;
inline constexpr std::size_t kOffStartCode = 125;
// Framing-layer options (section 6.2.6).
inline constexpr std::uint8_t kOptionPreviewData = 0x80;       ///< bit 7: for visualisers, not for lights
inline constexpr std::uint8_t kOptionStreamTerminated = 0x40;  ///< bit 6: the source stops this universe now
/// E131_NETWORK_DATA_LOSS_TIMEOUT (section 6.7.1, Appendix A): a receiver declares a source
/// lost after this long without a packet from it (and a screen may go dark).
inline constexpr std::uint64_t kNetworkDataLossTimeoutNs = 2'500'000'000;
/// Unchanged data is sent again every 800..1000 ms (section 6.6.2); we use the middle.
inline constexpr std::uint64_t kKeepAliveIntervalNs = 900'000'000;
/// Section 6.6.2: three packets of non-changing data before the rate drops to the keep-alive
/// interval; the first two repeats go this soon after the last frame.
inline constexpr std::uint64_t kRepeatIntervalNs = 100'000'000;
/// Section 6.2.6: a terminating source sends three packets with Stream_Terminated set.
inline constexpr int kTerminationPackets = 3;
}  // namespace e131

/// A component identifier (CID): a UUID (RFC 4122) that names the sender, section 5.6.
using E131Cid = std::array<std::uint8_t, 16>;

/// A random (version 4, RFC 4122 section 4.4) CID from std::random_device: a new one per process
/// start, so that a receiver never mistakes a restarted sender's sequence numbers for old ones
/// (OLA drops packets whose sequence is at or up to 20 below the last from the same CID).
[[nodiscard]] E131Cid random_cid();

/// What every packet of a sender carries.
struct E131PacketHeader {
  E131Cid cid{};
  std::string source_name = "framering led";  ///< UTF-8, truncated to 63 bytes (section 6.2.2)
  std::uint8_t priority = 100;                ///< 0..200, default 100 (section 6.2.3)
};

/// Builds one E1.31 data packet (Table 4-1) into `out` and returns its length, 126 + channels:
/// root layer (preamble size 0x0010, post-amble 0, "ASC-E1.17\0\0\0", flags 0x7 + PDU length,
/// VECTOR_ROOT_E131_DATA, CID), framing layer (VECTOR_E131_DATA_PACKET, source name, priority,
/// synchronization address 0, `sequence`, `options` (section 6.2.6: 0, or kOptionStreamTerminated
/// ...), `universe`), DMP layer (VECTOR_DMP_SET_PROPERTY,
/// address & data type 0xa1, first address 0, increment 1, property count 1 + channels,
/// START code 0, the channels). Multi-byte fields are big-endian (network order, section 3.4).
/// Throws ConfigError when channels.size() > 512, `out` is shorter than 126 + channels, the
/// universe is outside 1..63999 or the priority above 200.
std::size_t build_e131_packet(const E131PacketHeader& header, std::uint16_t universe, std::uint8_t sequence,
                              std::span<const std::uint8_t> channels, std::span<std::uint8_t> out,
                              std::uint8_t options = 0);

/// The multicast group of a universe: 239.255.<universe high byte>.<universe low byte>
/// (section 9.3.1), as dotted text.
[[nodiscard]] std::string e131_multicast_address(std::uint16_t universe);

/// Counters of a sender, for its log lines.
struct E131Counters {
  std::uint64_t frames = 0;         ///< frames sent (all universes)
  std::uint64_t packets = 0;        ///< datagrams the kernel took
  std::uint64_t send_errors = 0;    ///< datagrams that failed (refused, unreachable, buffer full)
  std::uint64_t keep_alives = 0;    ///< repeats of the last frame while no new one came (keep_alive)
  std::uint64_t terminations = 0;   ///< frames sent with Stream_Terminated (terminate)
  int last_errno = 0;
};

/// Sends LED frames to E1.31 receivers: unicast to each destination "host[:port]" (port 5568
/// unless given), or multicast to each universe's group on port 5568. One UDP socket per
/// destination, connect()ed, so that ICMP errors come back as send() errors.
///
/// Errors: at construction, a host that does not resolve, a bad port, or a destination the
/// kernel has no route to (ENETUNREACH/EHOSTUNREACH from connect) throws ConfigError naming it.
/// While running, a failed send (ECONNREFUSED after an ICMP port unreachable: nobody listens
/// there yet; EHOSTUNREACH; ENOBUFS) is counted, logged at most once per 5 s, and the frame goes
/// on to the other universes and destinations: a controller that restarts comes back by itself.
class E131Sender {
 public:
  /// `destinations` empty and `multicast` false is a ConfigError (no receiver). The CID is
  /// random_cid(). Throws ConfigError as above, and when the universes needed for `led_count`
  /// LEDs from `universe_start` pass 63999.
  E131Sender(std::vector<std::string> destinations, bool multicast, std::uint16_t universe_start,
             std::uint64_t led_count, std::string source_name, std::uint8_t priority = 100);
  ~E131Sender();
  E131Sender(const E131Sender&) = delete;
  E131Sender& operator=(const E131Sender&) = delete;

  /// Sends `rgb` (led_count * 3 bytes, LED order as in the file comment) as one packet per
  /// universe to every destination, with each universe's next sequence number. Never throws.
  void send(std::span<const std::uint8_t> rgb) noexcept;

  /// While no new frame comes (a paused producer, a camera outage), call this at least every
  /// 100 ms: it sends the last frame again, twice 100 ms after it and then every 900 ms (section
  /// 6.6.2), so that receivers never reach their 2.5 s data-loss timeout (6.7.1) and go dark.
  /// Nothing before the first frame. Never throws.
  void keep_alive(std::uint64_t now_ns) noexcept;

  /// The stream ends: sends the last frame three times with Stream_Terminated (section 6.2.6),
  /// so that receivers release the universes at once rather than after 2.5 s. Nothing before
  /// the first frame, and nothing more after it. Never throws.
  void terminate() noexcept;

  [[nodiscard]] std::uint32_t universe_count() const noexcept { return universe_count_; }
  [[nodiscard]] std::uint16_t universe_start() const noexcept { return universe_start_; }
  [[nodiscard]] const E131Counters& counters() const noexcept { return counters_; }
  [[nodiscard]] const E131Cid& cid() const noexcept { return header_.cid; }
  /// "127.0.0.1:5568, ..." or "multicast 239.255.0.1.. :5568".
  [[nodiscard]] std::string describe() const;

  /// Splits "host[:port]" ("[v6]:port" for IPv6) into host and port. Throws ConfigError naming
  /// `text` when the port is not 1..65535 or the host is empty.
  static std::pair<std::string, std::uint16_t> parse_destination(std::string_view text);

 private:
  struct Destination {
    std::string text;
    int fd = -1;
  };
  E131PacketHeader header_;
  std::uint16_t universe_start_ = 1;
  std::uint32_t universe_count_ = 0;
  std::uint64_t led_count_ = 0;
  bool multicast_ = false;
  std::vector<Destination> destinations_;       ///< unicast: one per host; multicast: one per universe
  std::vector<std::uint8_t> sequences_;         ///< per universe
  std::vector<std::uint8_t> packet_;
  E131Counters counters_;
  std::vector<std::uint8_t> last_rgb_;  ///< the last frame sent, for keep-alives and termination
  std::uint64_t last_send_ns_ = 0;      ///< CLOCK_MONOTONIC of the last packets sent
  int repeats_ = 0;                     ///< keep-alives since the last new frame
  bool terminated_ = false;

  void send_packets(std::span<const std::uint8_t> rgb, std::uint8_t options) noexcept;
  std::uint64_t last_error_log_ns_ = 0;
  std::uint64_t errors_at_last_log_ = 0;
};

}  // namespace framering::led
