// `framering led` against a real producer (ring_peer): the mmap file holds the sampled test
// pattern at skyscreen's offsets with a whole-frame sidecar, the preview PNG appears, frames
// sent and skipped show in the ring's consumer table (what `framering status` prints), and bad
// geometry, an unwritable mmap path and a host that does not resolve fail to start clearly.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "led_expected.hpp"
#include "ring_process.hpp"
#include "test_support.hpp"

namespace framering::led {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::Child;

std::vector<std::uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class LedStage : public ::testing::Test {
 protected:
  void SetUp() override {
    instance_ = test::unique_instance();
    dir_ = fs::temp_directory_path() / ("framering-" + instance_);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    test::remove_instance(instance_);
    fs::remove_all(dir_);
  }

  // `framering led` on this test's instance with the test geometry and a colour pipeline that
  // leaves the pattern's counts as they are (fixed 0..255, gamma 1, no cap).
  [[nodiscard]] std::vector<std::string> led(std::vector<std::string> extra) const {
    std::vector<std::string> argv{"led",       "--instance",       instance_, "--ring",          "processed",
                                  "--vanes",   "36",               "--leds-per-vane", "20",     "--hub-fraction",
                                  "0.1",       "--contrast",       "fixed",   "--fixed-min",     "0",
                                  "--fixed-max", "255",            "--gamma", "1",               "--brightness-cap",
                                  "1",         "--wait-for-ring-s", "20"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return test::framering_argv(argv);
  }

  // A producer of "processed" that publishes frame 0 (the sequence pattern) and stops itself.
  [[nodiscard]] Child one_frame_producer() const {
    return Child(test::peer_argv("produce", instance_,
                                 {"--ring", "processed", "--width", "64", "--height", "48", "--frames", "10",
                                  "--stop-at", "1"}));
  }

  [[nodiscard]] bool stopped_after_one_frame(const Child& producer) const {
    return test::wait_until(
        [&] {
          const auto status = test::ring_status(instance_, "processed");
          return test::process_state(producer.pid()) == 'T' && status && status->published == 1;
        },
        20s);
  }

  std::string instance_;
  fs::path dir_;
};

TEST_F(LedStage, MmapFileHoldsTheSampledFrameAtSkyscreenOffsetsAndThePreviewAppears) {
  test::Watchdog watchdog(60s);
  Child producer = one_frame_producer();
  ASSERT_TRUE(stopped_after_one_frame(producer));
  const fs::path file = dir_ / "skyscreen";
  const fs::path preview = dir_ / "disc.png";
  const auto r = test::run(led({"--frames", "1", "--mmap", file.string(), "--preview", preview.string(),
                                "--preview-size-px", "120"}),
                           30s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string mismatch = test::check_led_file(test::LedTestGeometry{}, read_file(file), 0);
  EXPECT_EQ(mismatch, "");
  const auto side = read_file(fs::path(file.string() + ".seq"));
  ASSERT_EQ(side.size(), 64U);
  std::uint64_t seqlock = 0;
  std::uint64_t sequence = 99;
  std::memcpy(&seqlock, side.data() + 8, 8);
  std::memcpy(&sequence, side.data() + 16, 8);
  EXPECT_EQ(seqlock % 2, 0U);    // whole
  EXPECT_EQ(seqlock, 4U);        // the black frame at open, then one frame
  EXPECT_EQ(sequence, 0U);       // the ring sequence of that frame
  const cv::Mat picture = cv::imread(preview.string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(picture.empty()) << preview;
  EXPECT_EQ(picture.cols, 120);
  EXPECT_EQ(picture.type(), CV_8UC3);
  EXPECT_EQ(picture.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));  // outside the disc
  producer.signal(SIGCONT);
}

// Issue 12: an RGB8 ring goes to the LEDs channel by channel, as it is.
TEST_F(LedStage, AnRgbRingIsSampledPerChannelStraightToTheLeds) {
  test::Watchdog watchdog(60s);
  Child producer(test::peer_argv("produce", instance_,
                                 {"--ring", "processed", "--width", "64", "--height", "48", "--frames", "10",
                                  "--stop-at", "1", "--format", "RGB8"}));
  ASSERT_TRUE(stopped_after_one_frame(producer));
  const fs::path file = dir_ / "skyscreen";
  const auto r = test::run(led({"--frames", "1", "--mmap", file.string()}), 30s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::uint64_t skipped = 0;
  EXPECT_EQ(test::check_led_file_rgb(test::LedTestGeometry{}, read_file(file), 0, &skipped), "");
  EXPECT_LT(skipped, 36U * 20U) << "most LEDs are checked: only those across a wrap of the pattern are not";
  producer.signal(SIGCONT);
}

TEST_F(LedStage, FramesSentAndSkippedShowInTheConsumerTable) {
  test::Watchdog watchdog(60s);
  Child producer(test::peer_argv("produce", instance_,
                                 {"--ring", "processed", "--width", "64", "--height", "48", "--frames", "1000000",
                                  "--rate-hz", "500"}));
  const fs::path file = dir_ / "skyscreen";
  Child sut(led({"--rate-hz", "20", "--mmap", file.string(), "--name", "sky"}));
  // At most 20 frames/s taken from 500 published: the rest are skipped, not lost.
  ASSERT_TRUE(test::wait_until(
      [&] {
        const auto status = test::ring_status(instance_, "processed");
        if (!status) return false;
        const auto c = test::consumer_named(*status, "sky");
        return c && c->frames_read >= 3 && c->frames_skipped > 0;
      },
      30s))
      << sut.err();
  const auto status = test::run(test::framering_argv({"status", "--instance", instance_}), 20s);
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("sky"), std::string::npos) << status.out;
  sut.signal(SIGTERM);
  EXPECT_EQ(test::finish(sut, 20s), 0) << sut.err();
  EXPECT_NE(sut.err().find("skipped"), std::string::npos);
  // How old a frame is when its colours have gone out: its summary says, over the frames it sent.
  std::smatch m;
  const std::string err = sut.err();
  ASSERT_TRUE(std::regex_search(err, m, std::regex(R"(publish -> sent p50 ([0-9.]+) ms, p99 ([0-9.]+) ms, max ([0-9.]+) ms \(([0-9]+) frames\))")))
      << err;
  EXPECT_LE(std::stod(m[1]), std::stod(m[2]));
  EXPECT_LE(std::stod(m[2]), std::stod(m[3]));
  EXPECT_GE(std::stoul(m[4]), 3UL) << "one sample per frame sent";
}

// A UDP socket on 127.0.0.1 (an ephemeral port) that receives E1.31 packets.
class UdpListener {
 public:
  UdpListener() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    socklen_t length = sizeof address;
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
    const timeval timeout{.tv_sec = 0, .tv_usec = 200'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~UdpListener() { ::close(fd_); }
  UdpListener(const UdpListener&) = delete;
  UdpListener& operator=(const UdpListener&) = delete;

  struct Packet {
    std::vector<std::uint8_t> bytes;
    std::chrono::steady_clock::time_point arrived;
    [[nodiscard]] std::uint16_t universe() const { return static_cast<std::uint16_t>(bytes[113] << 8 | bytes[114]); }
    [[nodiscard]] std::uint8_t options() const { return bytes[112]; }
    [[nodiscard]] std::uint8_t sequence() const { return bytes[111]; }
    [[nodiscard]] std::vector<std::uint8_t> channels() const { return {bytes.begin() + 126, bytes.end()}; }
  };

  /// Receives packets until `done(packets)` holds or `timeout` passes; returns whether it held.
  bool receive_until(const std::function<bool(const std::vector<Packet>&)>& done, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done(packets)) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::vector<std::uint8_t> buffer(1024);
      const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
      if (n < 126) continue;  // timeout, or not an E1.31 data packet
      buffer.resize(static_cast<std::size_t>(n));
      packets.push_back({std::move(buffer), std::chrono::steady_clock::now()});
    }
    return true;
  }

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  std::vector<Packet> packets;

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

std::vector<UdpListener::Packet> of_universe(const std::vector<UdpListener::Packet>& packets, std::uint16_t universe) {
  std::vector<UdpListener::Packet> out;
  for (const auto& p : packets) {
    if (p.universe() == universe) out.push_back(p);
  }
  return out;
}

TEST_F(LedStage, WithoutNewFramesE131KeepsTheLastFrameAliveAndAStopTerminatesTheStream) {
  test::Watchdog watchdog(90s);
  Child producer = one_frame_producer();
  ASSERT_TRUE(stopped_after_one_frame(producer));  // one frame, then a paused producer
  UdpListener listener;
  Child sut(led({"--e131-host", "127.0.0.1:" + std::to_string(listener.port())}));
  // Universe 1: the frame, two repeats (three packets of unchanged data, E1.31 6.6.2), then
  // keep-alives every 800..1000 ms: five in all is two keep-alive intervals.
  ASSERT_TRUE(listener.receive_until([](const auto& p) { return of_universe(p, 1).size() >= 5; }, 30s)) << sut.err();
  const auto alive = of_universe(listener.packets, 1);
  for (std::size_t i = 1; i < alive.size(); ++i) {
    EXPECT_EQ(alive[i].channels(), alive[0].channels()) << "packet " << i << " repeats the last frame";
    EXPECT_EQ(alive[i].sequence(), static_cast<std::uint8_t>(alive[i - 1].sequence() + 1)) << "packet " << i;
    EXPECT_EQ(alive[i].options(), 0) << "packet " << i;
  }
  for (std::size_t i = 3; i < 5; ++i) {
    const double gap_s = std::chrono::duration<double>(alive[i].arrived - alive[i - 1].arrived).count();
    EXPECT_GE(gap_s, 0.8) << "keep-alive " << i << " came early (E1.31 6.6.2: 800..1000 ms)";
    EXPECT_LT(gap_s, 2.5) << "keep-alive " << i << " came after a receiver's 2.5 s data-loss timeout (6.7.1)";
  }

  const std::size_t before_stop = listener.packets.size();
  sut.signal(SIGTERM);
  ASSERT_EQ(test::finish(sut, 20s), 0) << sut.err();
  ASSERT_TRUE(listener.receive_until(
      [&](const auto& p) {
        std::size_t terminated = 0;
        for (std::size_t i = before_stop; i < p.size(); ++i) terminated += (p[i].options() & 0x40) != 0;
        return terminated >= 3 * 5;  // three per universe, 720 LEDs in 5 universes
      },
      10s));
  std::vector<UdpListener::Packet> after(listener.packets.begin() + static_cast<std::ptrdiff_t>(before_stop),
                                         listener.packets.end());
  for (std::uint16_t u = 1; u <= 5; ++u) {
    std::size_t terminated = 0;
    for (const auto& p : of_universe(after, u)) terminated += p.options() == 0x40;
    EXPECT_EQ(terminated, 3U) << "universe " << u << ": three packets with Stream_Terminated (6.2.6)";
  }
  EXPECT_EQ(of_universe(after, 1).back().channels(), alive[0].channels()) << "terminated with the last frame";
  EXPECT_NE(sut.err().find("keep-alives"), std::string::npos) << sut.err();
  producer.signal(SIGCONT);
}

struct BadStart {
  std::vector<std::string> args;
  std::string message;
};

TEST_F(LedStage, BadGeometryUnwritablePathAndUnresolvableHostFailToStartClearly) {
  test::Watchdog watchdog(60s);
  const std::string ok_out = (dir_ / "ok").string();
  const std::vector<BadStart> cases = {
      {{"--vanes", "0", "--mmap", ok_out}, "--vanes 0: expected 1..65535 vanes"},
      {{"--leds-per-vane", "0", "--mmap", ok_out}, "--leds-per-vane 0"},
      {{"--hub-fraction", "1", "--mmap", ok_out}, "hub must be smaller than the rim"},
      {{"--mmap", "/nonexistent-framering-dir/skyscreen"},
       "--mmap /nonexistent-framering-dir/skyscreen: cannot create or open the LED frame file: No such file"},
      {{"--e131-host", "no-such-host.invalid"}, "--e131-host no-such-host.invalid: cannot resolve"},
      {{"--e131-host", "127.0.0.1:0"}, "port '0' is not 1..65535"},
      {{}, "no LED output"},
  };
  for (const BadStart& c : cases) {
    std::vector<std::string> argv{"led", "--instance", instance_, "--wait-for-ring-s", "0"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const auto r = test::run(test::framering_argv(argv), 20s);
    EXPECT_EQ(r.exit_code, 2) << c.message << "\n" << r.err;
    EXPECT_NE(r.err.find("framering: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
}

TEST(LedCli, HelpSaysLedZeroIsAtTheHubByDefaultAndTheShippedConfigChecks) {
  test::Watchdog watchdog(60s);
  const auto help = test::run(test::framering_argv({"led", "--help"}), 20s);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("at the HUB by default"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--led0 TEXT:{hub,rim}=hub"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("Example"), std::string::npos) << help.out;
  const auto dry = test::run(
      test::framering_argv({"run", "--config", test::source_dir() + "/config/led.toml", "--dry-run"}), 20s);
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("led --"), std::string::npos) << dry.out;
}

}  // namespace
}  // namespace framering::led
