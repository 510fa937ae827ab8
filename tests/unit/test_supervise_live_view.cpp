// The live view's parts in one process: its query, its messages (header, binning, row padding,
// Bayer), LiveStream's sender on a real ring with a writer standing in for the socket (the
// window of two, acks, the goodbye, a client gone), and the page's web root (what it serves and
// what it refuses), and the [http] web_root key.
#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "framering/common/error.hpp"
#include "framering/common/ring_writer.hpp"
#include "framering/common/sequence_pattern.hpp"
#include "framering/supervise/live_view.hpp"
#include "framering/supervise/pipeline_config.hpp"
#include "framering/supervise/web_root.hpp"
#include "test_support.hpp"

namespace framering::supervise {
namespace {

using namespace std::chrono_literals;

// ---- the query -----------------------------------------------------------------------------------

TEST(LiveViewQuery, DefaultsAndGivenValues) {
  LiveViewRequest sut;
  ASSERT_TRUE(parse_live_view_query("", sut).has_value());
  EXPECT_EQ(sut.max_fps, 30.0);
  EXPECT_EQ(sut.bin, 1U);
  ASSERT_TRUE(parse_live_view_query("token=x&max_fps=12.5&bin=4", sut).has_value());
  EXPECT_EQ(sut.max_fps, 12.5);
  EXPECT_EQ(sut.bin, 4U);
}

TEST(LiveViewQuery, BadValuesNameTheParameterAndWhatIsAllowed) {
  for (const auto& [query, field] : {std::pair{"bin=3", "bin"}, std::pair{"bin=", "bin"}, std::pair{"bin=22", "bin"},
                                     std::pair{"max_fps=0", "max_fps"}, std::pair{"max_fps=-1", "max_fps"},
                                     std::pair{"max_fps=1001", "max_fps"}, std::pair{"max_fps=nan", "max_fps"},
                                     std::pair{"max_fps=5fps", "max_fps"}}) {
    LiveViewRequest sut;
    const auto r = parse_live_view_query(query, sut);
    ASSERT_FALSE(r.has_value()) << query;
    EXPECT_EQ(r.error().field, field) << query;
    EXPECT_NE(r.error().message.find(std::string("'") + field + "'"), std::string::npos) << r.error().message;
  }
}

// ---- messages ------------------------------------------------------------------------------------

// A frame of the sequence pattern in a buffer of its own, rows padded to `stride_bytes`.
struct PatternFrame {
  PatternFrame(std::uint32_t width, std::uint32_t height, PixelFormat format, std::uint64_t stride_bytes,
               std::uint64_t sequence)
      : shape{width, height, format, stride_bytes}, bytes(shape.frame_bytes(), std::byte{0xEE}) {
    fill_sequence_pattern(bytes, shape, sequence);
    view.sequence = sequence;
    view.timestamp_ns = 1234;
    view.width = width;
    view.height = height;
    view.pixel_format = format;
    view.stride_bytes = shape.row_stride_bytes();
    view.pixels = bytes;
  }
  FrameShape shape;
  std::vector<std::byte> bytes;
  ring::FrameView view;
};

LiveFrameHeader header_of(const std::vector<std::byte>& message) {
  LiveFrameHeader h;
  std::memcpy(&h, message.data(), sizeof h);
  return h;
}

TEST(LiveFrame, UnbinnedIsTheFrameWithItsRowsPacked) {
  const PatternFrame f(30, 7, PixelFormat::Mono12, 64, 4242);  // 60 pixel bytes per row, 4 of padding
  std::vector<std::byte> message;
  encode_live_frame(f.view, 1, message);
  const LiveFrameHeader h = header_of(message);
  EXPECT_EQ(h.magic, kLiveFrameMagic);
  EXPECT_EQ(std::memcmp(message.data(), "FRLV", 4), 0);
  EXPECT_EQ(h.version, 1);
  EXPECT_EQ(h.header_bytes, 64);
  EXPECT_EQ(h.sequence, 4242U);
  EXPECT_EQ(h.timestamp_ns, 1234U);
  EXPECT_EQ(h.width, 30U);
  EXPECT_EQ(h.height, 7U);
  EXPECT_EQ(h.pixel_format, static_cast<std::uint32_t>(PixelFormat::Mono12));
  EXPECT_EQ(h.samples_per_pixel, 1);
  EXPECT_EQ(h.bytes_per_sample, 2);
  EXPECT_EQ(h.significant_bits, 12);
  EXPECT_EQ(h.binning, 1);
  ASSERT_EQ(message.size(), 64U + 30 * 7 * 2);
  const FrameShape packed{30, 7, PixelFormat::Mono12, 0};
  EXPECT_FALSE(check_sequence_pattern(std::span(message).subspan(64), packed, 4242).has_value());
}

TEST(LiveFrame, BinningAveragesEachBlockRoundingHalfUpAndDropsTheRemainder) {
  const PatternFrame f(9, 6, PixelFormat::Mono16, 0, 65530);  // wraps past 0xFFFF inside blocks
  std::vector<std::byte> message;
  encode_live_frame(f.view, 4, message);
  const LiveFrameHeader h = header_of(message);
  ASSERT_EQ(h.width, 2U);  // 9 / 4: the ninth column is left out
  ASSERT_EQ(h.height, 1U);
  ASSERT_EQ(message.size(), 64U + 2 * 2);
  for (std::uint32_t ox = 0; ox < 2; ++ox) {
    std::uint32_t sum = 0;
    for (std::uint32_t y = 0; y < 4; ++y) {
      for (std::uint32_t x = ox * 4; x < ox * 4 + 4; ++x) sum += (65530 + x + 3 * y) & 0xFFFF;
    }
    std::uint16_t got = 0;
    std::memcpy(&got, message.data() + 64 + 2 * ox, 2);
    EXPECT_EQ(got, (sum + 8) / 16) << "block " << ox;
  }
}

TEST(LiveFrame, ABinnedBayerMosaicIsGreyOfItsBits) {
  EXPECT_EQ(live_pixel_format(PixelFormat::BayerRG12, 2), PixelFormat::Mono12);
  EXPECT_EQ(live_pixel_format(PixelFormat::BayerGB8, 4), PixelFormat::Mono8);
  EXPECT_EQ(live_pixel_format(PixelFormat::BayerBG16, 2), PixelFormat::Mono16);
  EXPECT_EQ(live_pixel_format(PixelFormat::BayerRG8, 1), PixelFormat::BayerRG8);
  EXPECT_EQ(live_pixel_format(PixelFormat::RGB8, 4), PixelFormat::RGB8);
  const PatternFrame f(8, 4, PixelFormat::BayerRG8, 0, 7);
  std::vector<std::byte> message;
  encode_live_frame(f.view, 2, message);
  const LiveFrameHeader h = header_of(message);
  EXPECT_EQ(h.pixel_format, static_cast<std::uint32_t>(PixelFormat::Mono8));
  EXPECT_EQ(h.bytes_per_sample, 1);
  EXPECT_EQ(h.significant_bits, 8);
  ASSERT_EQ(message.size(), 64U + 4 * 2);
  EXPECT_EQ(static_cast<unsigned>(message[64]), (7U + 8U + 10U + 11U + 2U) / 4U);  // (0,0) (1,0) (0,1) (1,1)
}

TEST(LiveFrame, StampWritesTheSendTimesAndTheAge) {
  const PatternFrame f(4, 4, PixelFormat::Mono8, 0, 1);
  std::vector<std::byte> message;
  encode_live_frame(f.view, 1, message);
  stamp_live_frame(message, 1000, 1'700'000'000'000'000'000, 1500);
  const LiveFrameHeader h = header_of(message);
  EXPECT_EQ(h.age_ns, 500U);
  EXPECT_EQ(h.send_realtime_ns, 1'700'000'000'000'000'000U);
  EXPECT_EQ(h.send_monotonic_ns, 1500U);
  stamp_live_frame(message, 2000, 1, 1500);
  EXPECT_EQ(header_of(message).age_ns, 0U) << "never negative";
}

// ---- LiveStream on a real ring -------------------------------------------------------------------

// What the stream wrote, as a socket would have received it.
class FakeSocket {
 public:
  LiveWriter writer() {
    return [this](LiveOpcode opcode, std::span<const std::byte> payload) {
      std::lock_guard lock(mutex_);
      messages_.push_back({opcode, std::vector<std::byte>(payload.begin(), payload.end())});
      changed_.notify_all();
      return open_ ? static_cast<int>(payload.size()) + 2 : 0;
    };
  }
  // Waits (10 s at most) until `count` messages have come; how many there are.
  std::size_t wait_for(std::size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 10s, [&] { return messages_.size() >= count; });
    return messages_.size();
  }
  std::pair<LiveOpcode, std::vector<std::byte>> message(std::size_t i) {
    std::lock_guard lock(mutex_);
    return messages_.at(i);
  }
  std::size_t size() {
    std::lock_guard lock(mutex_);
    return messages_.size();
  }
  void hang_up() {
    std::lock_guard lock(mutex_);
    open_ = false;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::pair<LiveOpcode, std::vector<std::byte>>> messages_;
  bool open_ = true;
};

class LiveStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    instance_ = test::unique_instance();
    ring::RingGeometry g;
    g.frame = {16, 8, PixelFormat::Mono16, 0};
    g.slot_count = 4;
    g.max_consumers = 4;
    writer_.emplace(ring::RingWriter::create_or_attach(instance_, "raw", g));
  }
  void TearDown() override {
    writer_.reset();
    test::remove_instance(instance_);
  }

  void publish(int count = 1) {
    for (int i = 0; i < count; ++i) {
      auto slot = writer_->claim(1s);
      ASSERT_TRUE(slot.has_value());
      fill_sequence_pattern(slot->pixels, {16, 8, PixelFormat::Mono16, 0}, slot->sequence);
      writer_->publish({});
    }
  }

  LiveStream make(LiveViewRequest request = {.ring = "raw", .max_fps = 1000}) {
    return LiveStream(ring::RingReader::attach(instance_, "raw", {.name = "live-1", .kind = ring::ConsumerKind::Newest}),
                      std::move(request));
  }

  // Starts `sut` writing into `socket`, publishes a frame and waits until it has been sent.
  void send_first_frame(LiveStream& sut, FakeSocket& socket) {
    sut.start(socket.writer());
    publish();
    ASSERT_EQ(socket.wait_for(1), 1U);
  }

  std::string instance_;
  std::optional<ring::RingWriter> writer_;
};

TEST_F(LiveStreamTest, SendsTwoFramesThenOneMorePerAck) {
  test::Watchdog watchdog(30s);
  FakeSocket socket;
  LiveStream sut = make();
  // One frame per publish until two are out: each is the newest, read as soon as it is there.
  ASSERT_NO_FATAL_FAILURE(send_first_frame(sut, socket));
  publish();
  ASSERT_EQ(socket.wait_for(2), 2U);
  publish(10);  // nothing more goes out without an ack
  EXPECT_EQ(sut.counters().sent, 2U);
  EXPECT_TRUE(sut.on_message("ack"));
  ASSERT_EQ(socket.wait_for(3), 3U);
  const auto [opcode, bytes] = socket.message(2);
  EXPECT_EQ(opcode, LiveOpcode::Binary);
  LiveFrameHeader h;
  std::memcpy(&h, bytes.data(), sizeof h);
  EXPECT_EQ(h.sequence, 11U) << "the newest frame, not the next one";
  EXPECT_FALSE(check_sequence_pattern(std::span(bytes).subspan(64), {16, 8, PixelFormat::Mono16, 0}, h.sequence));
  publish(3);
  EXPECT_EQ(sut.counters().sent, 3U);
  EXPECT_EQ(sut.counters().acked, 1U);
  sut.stop();
  EXPECT_EQ(socket.size(), 3U) << "a stop sends nothing";
}

TEST_F(LiveStreamTest, AcksBeyondWhatWasSentAreIgnoredAndLargeMessagesRefused) {
  LiveStream sut = make();
  EXPECT_TRUE(sut.on_message("ack"));
  EXPECT_TRUE(sut.on_message("hello"));
  EXPECT_EQ(sut.counters().acked, 0U);
  EXPECT_FALSE(sut.on_message(std::string(2000, 'a')));
}

TEST_F(LiveStreamTest, EndSaysGoodbyeWithGoingAwayAndItsReason) {
  test::Watchdog watchdog(30s);
  FakeSocket socket;
  LiveStream sut = make();
  ASSERT_NO_FATAL_FAILURE(send_first_frame(sut, socket));
  sut.end("the run is stopping");
  ASSERT_EQ(socket.size(), 2U);
  const auto [opcode, body] = socket.message(1);
  EXPECT_EQ(opcode, LiveOpcode::Close);
  ASSERT_GE(body.size(), 2U);
  EXPECT_EQ((static_cast<int>(body[0]) << 8) | static_cast<int>(body[1]), 1001);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(body.data()) + 2, body.size() - 2), "the run is stopping");
  sut.stop();  // idempotent
  sut.start(socket.writer());  // and no new start after the end
  publish(2);
  EXPECT_EQ(socket.size(), 2U);
}

TEST_F(LiveStreamTest, AFailedWriteEndsTheSenderByItself) {
  test::Watchdog watchdog(30s);
  FakeSocket socket;
  socket.hang_up();
  LiveStream sut = make();
  ASSERT_NO_FATAL_FAILURE(send_first_frame(sut, socket));
  sut.stop();  // joins a sender that has already ended
  EXPECT_EQ(socket.size(), 1U);
}

TEST_F(LiveStreamTest, TheRateCapSpacesSendsByThePeriod) {
  test::Watchdog watchdog(30s);
  FakeSocket socket;
  LiveStream sut = make({.ring = "raw", .max_fps = 20});
  sut.start(socket.writer());
  std::vector<std::uint64_t> sent_ns;
  for (std::size_t i = 0; i < 4; ++i) {
    // Frames keep coming while it waits out the period: the send, not the frame, is what waits.
    while (socket.size() <= i) publish();
    const auto [opcode, bytes] = socket.message(i);
    LiveFrameHeader h;
    std::memcpy(&h, bytes.data(), sizeof h);
    sent_ns.push_back(h.send_monotonic_ns);
    EXPECT_TRUE(sut.on_message("ack"));
  }
  // 20 per second: one send per 50 ms on a schedule, never two within 25 ms.
  for (std::size_t i = 1; i < sent_ns.size(); ++i) EXPECT_GE(sent_ns[i] - sent_ns[i - 1], 25'000'000U);
  EXPECT_GE(static_cast<double>(sent_ns.back() - sent_ns.front()), (static_cast<double>(sent_ns.size()) - 1.5) * 50e6);
}

// ---- the page's folder ---------------------------------------------------------------------------

class WebRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("framering-web-" + test::unique_instance());
    std::filesystem::create_directories(dir_ / "root" / "img");
    std::ofstream(dir_ / "root" / "index.html") << "<p>page</p>";
    std::ofstream(dir_ / "root" / "img" / "logo.svg") << "<svg/>";
    std::ofstream(dir_ / "root" / ".hidden") << "no";
    std::ofstream(dir_ / "secret.txt") << "no";
    std::filesystem::create_symlink(dir_ / "secret.txt", dir_ / "root" / "out.txt");
    std::filesystem::create_symlink(dir_ / "root" / "index.html", dir_ / "root" / "alias.html");
    std::filesystem::create_directories(dir_ / "rootx");
    std::ofstream(dir_ / "rootx" / "a.txt") << "no";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(WebRootTest, ServesItsFilesWithTheirTypes) {
  const WebRoot sut(dir_ / "root");
  const auto index = sut.read("index.html");
  ASSERT_TRUE(index.has_value()) << index.error().message;
  EXPECT_EQ(index->body, "<p>page</p>");
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(sut.read("img/logo.svg")->content_type, "image/svg+xml");
  EXPECT_TRUE(sut.read("alias.html").has_value()) << "a link that stays inside is followed";
  EXPECT_EQ(WebRoot::content_type("a.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(WebRoot::content_type("a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(WebRoot::content_type("a.bin"), "application/octet-stream");
}

TEST_F(WebRootTest, RefusesEverythingThatIsNotAPlainFileInside) {
  const WebRoot sut(dir_ / "root");
  for (const char* path : {"", "/", "../secret.txt", "img/../../secret.txt", "./index.html", ".hidden", "img//logo.svg",
                           "/etc/passwd", "out.txt", "img", "missing.js", "..\\secret.txt", "../rootx/a.txt", "img/"}) {
    const auto r = sut.read(path);
    ASSERT_FALSE(r.has_value()) << "'" << path << "' was served";
    EXPECT_EQ(r.error().status, 404) << path;
  }
  const auto null_byte = sut.read(std::string_view("index.html\0.txt", 15));
  EXPECT_FALSE(null_byte.has_value());
}

TEST_F(WebRootTest, AMissingFolderIsNamedInTheRefusal) {
  const WebRoot sut(dir_ / "nowhere");
  const auto r = sut.read("index.html");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("nowhere"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("web_root"), std::string::npos) << r.error().message;
}

TEST(WebRootDefault, IsTheSourceTreesWebFolder) {
  EXPECT_TRUE(std::filesystem::is_regular_file(std::filesystem::path(default_web_root()) / "index.html"))
      << default_web_root();
}

TEST(PipelineHttp, WebRootIsReadFromTheHttpTable) {
  const auto no_stages = [](CLI::App& app, StageCommand& command) {
    auto* acquire = app.add_subcommand("acquire");
    acquire->add_option("--instance");
    acquire->callback([&command] {
      command.action = [] { return 0; };
      command.rings = [] { return std::vector<RingUse>{{.ring = "raw", .role = RingRole::Produces}}; };
    });
  };
  const std::string stage = "[[stage]]\nname = \"acquire\"\n";
  const auto sut = parse_pipeline("[http]\nweb_root = \"/srv/page\"\n" + stage, "test.toml", no_stages);
  ASSERT_TRUE(sut.http.web_root.has_value());
  EXPECT_EQ(*sut.http.web_root, "/srv/page");
  try {
    (void)parse_pipeline("[http]\nweb_root = 3\n" + stage, "test.toml", no_stages);
    ADD_FAILURE() << "a number was taken for web_root";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("web_root"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace framering::supervise
