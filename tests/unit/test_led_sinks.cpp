// test_led_sinks.cpp: the LED outputs on their own: the mmap frame file's bytes against
// skyscreen's formula and its seqlock sidecar, E1.31 packet bytes against ANSI E1.31-2018 Table
// 4-1, the E1.31 sender over loopback UDP, and the clear errors for an unwritable path, a host
// that does not resolve and a bad port.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "framering/common/error.hpp"
#include "framering/led/e131_sender.hpp"
#include "framering/led/led_mmap_sink.hpp"
#include "test_support.hpp"

namespace framering::led {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("framering-" + test::unique_instance());
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<std::uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The colour of channel c of LED (vane, led) in the frames below.
std::uint8_t colour(std::uint32_t vane, std::uint32_t led, std::uint32_t c) {
  return static_cast<std::uint8_t>((vane * 7 + led * 3 + c * 101) & 0xFF);
}

TEST(LedMmapSink, FileHoldsSkyscreenBytesAtVaneTimes864PlusLedTimes3PlusChannel) {
  TempDir dir;
  const fs::path path = dir.path() / "skyscreen";
  LedMmapSink sut(path, 360, 288);
  ASSERT_EQ(sut.frame_bytes(), 311'040U);
  // The renderer's layout: LED index = vane * 288 + led, 3 bytes each.
  std::vector<std::uint8_t> rgb(311'040);
  for (std::uint32_t v = 0; v < 360; ++v) {
    for (std::uint32_t l = 0; l < 288; ++l) {
      for (std::uint32_t c = 0; c < 3; ++c) rgb[(std::size_t{v} * 288 + l) * 3 + c] = colour(v, l, c);
    }
  }
  sut.write(rgb, 1234);
  const auto bytes = read_file(path);
  ASSERT_EQ(bytes.size(), 311'040U);  // no header
  for (std::uint32_t v = 0; v < 360; ++v) {
    for (std::uint32_t l = 0; l < 288; ++l) {
      for (std::uint32_t c = 0; c < 3; ++c) {
        ASSERT_EQ(bytes[v * 864 + l * 3 + c], colour(v, l, c)) << "vane " << v << " led " << l << " channel " << c;
      }
    }
  }
}

TEST(LedMmapSink, SidecarCountsFramesWithAnEvenSeqlockAndNamesTheSequence) {
  TempDir dir;
  const fs::path path = dir.path() / "frame";
  LedMmapSink sut(path, 4, 5);
  const std::vector<std::uint8_t> rgb(4 * 5 * 3, 9);
  for (std::uint64_t s = 10; s < 13; ++s) sut.write(rgb, s);
  const auto side = read_file(LedMmapSink::sidecar_path(path));
  ASSERT_EQ(side.size(), 64U);
  EXPECT_EQ(std::string(side.begin(), side.begin() + 8), "FRLEDSQ1");
  std::uint64_t seqlock = 0;
  std::uint64_t sequence = 0;
  std::uint32_t vanes = 0;
  std::uint32_t leds = 0;
  std::memcpy(&seqlock, side.data() + 8, 8);
  std::memcpy(&sequence, side.data() + 16, 8);
  std::memcpy(&vanes, side.data() + 24, 4);
  std::memcpy(&leds, side.data() + 28, 4);
  EXPECT_EQ(seqlock, 2U + 3U * 2U);  // opening writes a whole black frame (2), then 2 per frame
  EXPECT_EQ(sequence, 12U);
  EXPECT_EQ(vanes, 4U);
  EXPECT_EQ(leds, 5U);
}

TEST(LedMmapSink, UnwritablePathIsAClearError) {
  try {
    LedMmapSink sut("/nonexistent-framering-dir/skyscreen", 360, 288);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("--mmap /nonexistent-framering-dir/skyscreen"), std::string::npos) << what;
    EXPECT_NE(what.find("No such file or directory"), std::string::npos) << what;
  }
  EXPECT_THROW(LedMmapSink("/dev/null/skyscreen", 360, 288), ConfigError);  // not a directory
}

// ---- E1.31 packets -------------------------------------------------------------------------------

std::uint16_t be16(const std::vector<std::uint8_t>& p, std::size_t at) {
  return static_cast<std::uint16_t>((p[at] << 8) | p[at + 1]);
}
std::uint32_t be32(const std::vector<std::uint8_t>& p, std::size_t at) {
  return (std::uint32_t{p[at]} << 24) | (std::uint32_t{p[at + 1]} << 16) | (std::uint32_t{p[at + 2]} << 8) | p[at + 3];
}

TEST(E131Packet, FieldsSitAtTheOffsetsOfTable4_1) {
  E131PacketHeader h;
  for (std::uint8_t i = 0; i < 16; ++i) h.cid[i] = static_cast<std::uint8_t>(0xA0 + i);
  h.source_name = "skyscreen test";
  std::vector<std::uint8_t> channels(510);
  for (std::size_t i = 0; i < channels.size(); ++i) channels[i] = static_cast<std::uint8_t>(i * 3);
  std::vector<std::uint8_t> p(638, 0xEE);
  const std::size_t n = build_e131_packet(h, 0x1234, 7, channels, p);
  ASSERT_EQ(n, 636U);
  EXPECT_EQ(be16(p, 0), 0x0010);  // preamble size
  EXPECT_EQ(be16(p, 2), 0x0000);  // post-amble size
  const std::array<std::uint8_t, 12> acn = {'A', 'S', 'C', '-', 'E', '1', '.', '1', '7', 0, 0, 0};
  EXPECT_TRUE(std::equal(acn.begin(), acn.end(), p.begin() + 4));
  EXPECT_EQ(be16(p, 16), 0x7000 | (636 - 16));  // root flags & length
  EXPECT_EQ(be32(p, 18), 0x00000004U);          // VECTOR_ROOT_E131_DATA
  for (std::size_t i = 0; i < 16; ++i) EXPECT_EQ(p[22 + i], 0xA0 + i);
  EXPECT_EQ(be16(p, 38), 0x7000 | (636 - 38));  // framing flags & length
  EXPECT_EQ(be32(p, 40), 0x00000002U);          // VECTOR_E131_DATA_PACKET
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(p.data() + 44)), "skyscreen test");
  EXPECT_EQ(p[107], 0);    // the name's 64 bytes are null-padded
  EXPECT_EQ(p[108], 100);  // priority
  EXPECT_EQ(be16(p, 109), 0);  // synchronization address
  EXPECT_EQ(p[111], 7);        // sequence number
  EXPECT_EQ(p[112], 0);        // options
  EXPECT_EQ(be16(p, 113), 0x1234);              // universe
  EXPECT_EQ(be16(p, 115), 0x7000 | (636 - 115));  // DMP flags & length
  EXPECT_EQ(p[117], 0x02);                      // VECTOR_DMP_SET_PROPERTY
  EXPECT_EQ(p[118], 0xa1);                      // address & data type
  EXPECT_EQ(be16(p, 119), 0x0000);              // first property address
  EXPECT_EQ(be16(p, 121), 0x0001);              // address increment
  EXPECT_EQ(be16(p, 123), 511);                 // property count: START code + 510
  EXPECT_EQ(p[125], 0);                         // START code
  EXPECT_TRUE(std::equal(channels.begin(), channels.end(), p.begin() + 126));
  EXPECT_EQ(p[636], 0xEE);  // nothing written past the packet
}

TEST(E131Packet, StreamTerminatedIsBit6OfTheOptionsByte) {
  const E131PacketHeader header{.cid = random_cid()};
  const std::vector<std::uint8_t> channels(30, 7);
  std::vector<std::uint8_t> out(e131::kHeaderBytes + channels.size());
  (void)build_e131_packet(header, 1, 0, channels, out);
  EXPECT_EQ(out[e131::kOffOptions], 0) << "data packets: no option";
  (void)build_e131_packet(header, 1, 1, channels, out, e131::kOptionStreamTerminated);
  EXPECT_EQ(out[e131::kOffOptions], 0x40) << "E1.31-2018 6.2.6: Stream_Terminated is bit 6";
  EXPECT_EQ(out[e131::kHeaderBytes], 7) << "the data is still there";
}

TEST(E131Packet, RejectsUniverseZeroAndMoreThan512Channels) {
  const E131PacketHeader h;
  std::vector<std::uint8_t> p(1000);
  const std::vector<std::uint8_t> ok(3);
  EXPECT_THROW((void)build_e131_packet(h, 0, 0, ok, p), ConfigError);
  EXPECT_THROW((void)build_e131_packet(h, 64000, 0, ok, p), ConfigError);
  const std::vector<std::uint8_t> too_many(513);
  EXPECT_THROW((void)build_e131_packet(h, 1, 0, too_many, p), ConfigError);
}

TEST(E131Packet, MulticastGroupIs239_255_UniverseHighLow) {
  EXPECT_EQ(e131_multicast_address(1), "239.255.0.1");
  EXPECT_EQ(e131_multicast_address(0x1234), "239.255.18.52");
}

TEST(E131Cid, IsAVersion4UuidAndDiffersBetweenCalls) {
  const E131Cid a = random_cid();
  const E131Cid b = random_cid();
  EXPECT_NE(a, b);
  EXPECT_EQ(a[6] >> 4, 4);
  EXPECT_EQ(a[8] >> 6, 2);
}

// ---- E1.31 sender ------------------------------------------------------------------------------

// A UDP socket bound to 127.0.0.1 on a free port.
class UdpReceiver {
 public:
  UdpReceiver() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~UdpReceiver() { ::close(fd_); }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  // The next datagram, waiting up to 5 s; empty on timeout.
  std::vector<std::uint8_t> receive() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return {};
    std::vector<std::uint8_t> buf(2000);
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    buf.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return buf;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

TEST(E131Sender, SplitsLedsInto170PerUniverseFromTheStartUniverseWithSequencesPerUniverse) {
  test::Watchdog watchdog(std::chrono::seconds{30});
  UdpReceiver rx;
  const std::uint64_t leds = 400;  // 170 + 170 + 60
  E131Sender sut({"127.0.0.1:" + std::to_string(rx.port())}, false, 7, leds, "framering test");
  ASSERT_EQ(sut.universe_count(), 3U);
  std::vector<std::uint8_t> rgb(leds * 3);
  for (std::size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<std::uint8_t>(i % 251);
  for (int frame = 0; frame < 2; ++frame) {
    sut.send(rgb);
    for (std::uint32_t u = 0; u < 3; ++u) {
      const auto p = rx.receive();
      const std::size_t channels = u < 2 ? 510 : 180;
      ASSERT_EQ(p.size(), 126 + channels) << "universe " << 7 + u;
      EXPECT_EQ(be16(p, 113), 7 + u);
      EXPECT_EQ(p[111], frame);  // each universe counts its own packets
      EXPECT_EQ(be16(p, 123), 1 + channels);
      EXPECT_TRUE(std::equal(p.begin() + 126, p.end(), rgb.begin() + u * 510)) << "universe " << 7 + u;
      EXPECT_TRUE(std::equal(sut.cid().begin(), sut.cid().end(), p.begin() + 22));
    }
  }
  EXPECT_EQ(sut.counters().packets, 6U);
  EXPECT_EQ(sut.counters().send_errors, 0U);
}

TEST(E131Sender, CountsRefusedDatagramsAndGoesOn) {
  std::uint16_t closed_port = 0;
  {
    UdpReceiver gone;  // bound, then closed: nobody listens on its port
    closed_port = gone.port();
  }
  E131Sender sut({"127.0.0.1:" + std::to_string(closed_port)}, false, 1, 510, "framering test");
  const std::vector<std::uint8_t> rgb(510 * 3, 1);
  sut.send(rgb);  // 3 datagrams: the ICMP port unreachable of one fails the next
  sut.send(rgb);
  EXPECT_GE(sut.counters().send_errors, 1U);
  EXPECT_EQ(sut.counters().last_errno, ECONNREFUSED);
  EXPECT_EQ(sut.counters().frames, 2U);
}

TEST(E131Sender, HostThatDoesNotResolveIsAClearError) {
  try {
    E131Sender sut({"no-such-host.invalid"}, false, 1, 100, "x");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--e131-host no-such-host.invalid: cannot resolve"), std::string::npos)
        << e.what();
  }
}

TEST(E131Sender, BadPortsAndNoReceiverAreClearErrors) {
  EXPECT_THROW(E131Sender({"127.0.0.1:0"}, false, 1, 100, "x"), ConfigError);
  EXPECT_THROW(E131Sender({"127.0.0.1:70000"}, false, 1, 100, "x"), ConfigError);
  EXPECT_THROW(E131Sender({":5568"}, false, 1, 100, "x"), ConfigError);
  EXPECT_THROW(E131Sender({}, false, 1, 100, "x"), ConfigError);
  EXPECT_THROW(E131Sender({"127.0.0.1"}, false, 63999, 400, "x"), ConfigError);  // universes past 63999
  EXPECT_EQ(E131Sender::parse_destination("10.0.0.2"), (std::pair<std::string, std::uint16_t>{"10.0.0.2", 5568}));
  EXPECT_EQ(E131Sender::parse_destination("[::1]:6000"), (std::pair<std::string, std::uint16_t>{"::1", 6000}));
}

}  // namespace
}  // namespace framering::led
