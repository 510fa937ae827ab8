// The browser live view of `framering run --http`, end to end with a real run: the page's files
// (types, traversal refused), and the WebSocket of frames spoken by a minimal client of our own
// (tests/support/websocket_client.hpp): pixels equal to the testpattern for the sequence in each
// message's header, binning equal to the averaged pattern, never more than two frames
// unacknowledged, the rate cap as the spacing of the server's own send times, refusals before
// the upgrade, and a run that stops cleanly with a client connected.
#include <signal.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "framering/common/frame_shape.hpp"
#include "framering/common/sequence_pattern.hpp"
#include "http_client.hpp"
#include "http_run.hpp"
#include "ring_process.hpp"
#include "test_support.hpp"
#include "websocket_client.hpp"

namespace framering {
namespace {

using namespace std::chrono_literals;

/// One live-view message, read by the byte offsets docs/http-api.md gives (not by our struct).
struct LiveFrame {
  std::uint32_t magic = 0;
  std::uint16_t version = 0;
  std::uint16_t header_bytes = 0;
  std::uint64_t sequence = 0;
  std::uint64_t timestamp_ns = 0;
  std::uint64_t age_ns = 0;
  std::uint64_t send_realtime_ns = 0;
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::uint32_t pixel_format = 0;
  std::uint32_t samples_per_pixel = 0;
  std::uint32_t bytes_per_sample = 0;
  std::uint32_t significant_bits = 0;
  std::uint32_t binning = 0;
  std::uint64_t send_monotonic_ns = 0;
  std::string pixels;

  /// Sample `i` of the pixels (little-endian).
  [[nodiscard]] std::uint32_t sample(std::size_t i) const {
    const auto b = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(pixels[k])); };
    return bytes_per_sample == 2 ? b(2 * i) | (b(2 * i + 1) << 8U) : b(i);
  }
};

template <class T>
T little_endian(const std::string& bytes, std::size_t offset) {
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<T>(static_cast<T>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i));
  }
  return value;
}

std::optional<LiveFrame> parse_frame(const std::string& m) {
  if (m.size() < 64) return std::nullopt;
  LiveFrame f;
  f.magic = little_endian<std::uint32_t>(m, 0);
  f.version = little_endian<std::uint16_t>(m, 4);
  f.header_bytes = little_endian<std::uint16_t>(m, 6);
  f.sequence = little_endian<std::uint64_t>(m, 8);
  f.timestamp_ns = little_endian<std::uint64_t>(m, 16);
  f.age_ns = little_endian<std::uint64_t>(m, 24);
  f.send_realtime_ns = little_endian<std::uint64_t>(m, 32);
  f.width = little_endian<std::uint32_t>(m, 40);
  f.height = little_endian<std::uint32_t>(m, 44);
  f.pixel_format = little_endian<std::uint32_t>(m, 48);
  f.samples_per_pixel = little_endian<std::uint8_t>(m, 52);
  f.bytes_per_sample = little_endian<std::uint8_t>(m, 53);
  f.significant_bits = little_endian<std::uint8_t>(m, 54);
  f.binning = little_endian<std::uint8_t>(m, 55);
  f.send_monotonic_ns = little_endian<std::uint64_t>(m, 56);
  f.pixels = m.substr(f.header_bytes);
  return f;
}

/// The testpattern's samples for `sequence`, binned `bin` x `bin` as docs/http-api.md says: each
/// output sample the mean of its block's samples of that channel, rounded half up; the columns
/// and rows past the last whole block left out.
std::vector<std::uint32_t> expected_samples(std::uint64_t sequence, const FrameShape& shape, std::uint32_t bin) {
  std::vector<std::byte> full(shape.frame_bytes());
  fill_sequence_pattern(full, shape, sequence);
  const std::uint32_t spp = samples_per_pixel(shape.pixel_format);
  const std::uint32_t bps = bytes_per_sample(shape.pixel_format);
  const auto at = [&](std::uint32_t x, std::uint32_t y, std::uint32_t c) {
    const std::size_t i = (std::size_t{y} * shape.width + x) * spp + c;
    const auto b = [&](std::size_t k) { return static_cast<std::uint32_t>(full[k]); };
    return bps == 2 ? b(2 * i) | (b(2 * i + 1) << 8U) : b(i);
  };
  std::vector<std::uint32_t> out;
  const std::uint32_t n = bin * bin;
  for (std::uint32_t oy = 0; oy < shape.height / bin; ++oy) {
    for (std::uint32_t ox = 0; ox < shape.width / bin; ++ox) {
      for (std::uint32_t c = 0; c < spp; ++c) {
        std::uint32_t sum = 0;
        for (std::uint32_t y = oy * bin; y < (oy + 1) * bin; ++y) {
          for (std::uint32_t x = ox * bin; x < (ox + 1) * bin; ++x) sum += at(x, y, c);
        }
        out.push_back((sum + n / 2) / n);
      }
    }
  }
  return out;
}

/// A [[stage]] table: acquire's testpattern, `width` x `height` `format`, into ring `raw`.
std::string pattern_stage(std::uint32_t width, std::uint32_t height, std::string_view format, double rate_hz) {
  return fmt::format("[[stage]]\nname = \"acquire\"\nsource = \"pattern\"\nscene = \"testpattern\"\nwidth = {}\n"
                     "height = {}\npixel-format = \"{}\"\nrate-hz = {}\nslots = 16\n\n",
                     width, height, format, rate_hz);
}

class LiveView : public test::HttpRunTest {
 public:
  // Starts `framering run` with `stages` and the API on a free loopback port; waits for its
  // "listening on" line and the ring's first frame.
  void start(const std::string& stages, const std::string& http_extra = "") {
    const auto config = dir_ / "pipeline.toml";
    std::ofstream(config) << fmt::format("instance = \"{}\"\n[http]\nrecording_roots = [\"{}\"]\n{}\n", instance_,
                                         (dir_ / "recordings").string(), http_extra)
                          << stages;
    run_.emplace(std::vector<std::string>{test::framering_bin(), "run", "--config", config.string(), "--http",
                                          "127.0.0.1:0"});
    port_ = test::wait_for_http_port(*run_);
    ASSERT_GT(port_, 0) << run_->err();
    ASSERT_TRUE(test::wait_until([&] { return published() > 0; }, 30s)) << run_->err();
  }

  std::uint64_t published() const {
    const auto ring = test::ring_status(instance_);
    return ring && ring->producer_alive ? ring->published : 0;
  }

  // The live view's consumers on the ring (named live-N).
  std::vector<ring::ConsumerStatus> live_consumers() const {
    std::vector<ring::ConsumerStatus> out;
    if (const auto ring = test::ring_status(instance_)) {
      for (const auto& c : ring->consumers) {
        if (c.name.starts_with("live-") && c.state != ring::ConsumerState::Free) out.push_back(c);
      }
    }
    return out;
  }

  // The next frame message (10 s at most); acknowledged when `ack`.
  static LiveFrame next_frame(test::WebSocketClient& ws, bool ack = true) {
    const auto m = ws.read(10s);
    EXPECT_TRUE(m.has_value()) << "no frame within 10 s";
    if (!m) return {};
    EXPECT_EQ(m->opcode, 2) << "a frame is a binary message: " << m->payload;
    const auto f = parse_frame(m->payload);
    EXPECT_TRUE(f.has_value());
    if (ack) {
      EXPECT_TRUE(ws.send_text("ack"));
    }
    return f.value_or(LiveFrame{});
  }

  // Checks `f` against the testpattern of `shape` binned `bin`.
  static void expect_pattern(const LiveFrame& f, const FrameShape& shape, std::uint32_t bin) {
    EXPECT_EQ(f.magic, 0x564C5246U);
    EXPECT_EQ(f.version, 1);
    EXPECT_EQ(f.header_bytes, 64);
    EXPECT_EQ(f.binning, bin);
    EXPECT_EQ(f.width, shape.width / bin);
    EXPECT_EQ(f.height, shape.height / bin);
    EXPECT_EQ(f.pixel_format, static_cast<std::uint32_t>(shape.pixel_format));
    EXPECT_EQ(f.samples_per_pixel, samples_per_pixel(shape.pixel_format));
    EXPECT_EQ(f.bytes_per_sample, bytes_per_sample(shape.pixel_format));
    EXPECT_EQ(f.significant_bits, significant_bits(shape.pixel_format));
    EXPECT_GT(f.timestamp_ns, 0U);
    EXPECT_GT(f.send_monotonic_ns, 0U);
    const auto expected = expected_samples(f.sequence, shape, bin);
    ASSERT_EQ(f.pixels.size(), expected.size() * f.bytes_per_sample);
    if (bin == 1) {
      // The unbinned message is the frame itself, rows packed: the pattern check of every consumer.
      const auto* bytes = reinterpret_cast<const std::byte*>(f.pixels.data());
      const auto bad = check_sequence_pattern({bytes, f.pixels.size()}, {f.width, f.height, shape.pixel_format, 0}, f.sequence);
      EXPECT_FALSE(bad.has_value()) << "sequence " << f.sequence << ": pixel (" << bad->x << ", " << bad->y << ") is "
                                    << bad->actual << ", not " << bad->expected;
    }
    for (std::size_t i = 0; i < expected.size(); ++i) {
      if (f.sample(i) != expected[i]) {
        ADD_FAILURE() << "sequence " << f.sequence << " bin " << bin << ": sample " << i << " is " << f.sample(i)
                      << ", the averaged pattern is " << expected[i];
        break;
      }
    }
  }

  [[nodiscard]] int port() const noexcept { return port_; }

  // A live view of ring raw that the server accepted, its first frame read and acknowledged;
  // nullptr (after a test failure) when it was refused.
  std::unique_ptr<test::WebSocketClient> connected() {
    auto ws = std::make_unique<test::WebSocketClient>(port_, "/api/v1/rings/raw/live");
    EXPECT_EQ(ws->status(), 101) << ws->body();
    if (ws->status() != 101) return nullptr;
    (void)next_frame(*ws);
    return ws;
  }
};

// ---- the page's files ---------------------------------------------------------------------------

std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_F(LiveView, ThePageIsServedFromTheTreesWebFolderWithItsTypes) {
  test::Watchdog watchdog(60s);
  ASSERT_NO_FATAL_FAILURE(start(pattern_stage(64, 48, "Mono16", 50)));
  const std::filesystem::path web = std::filesystem::path(test::source_dir()) / "web";
  for (const auto& [path, file, type] : {std::tuple{"/", "index.html", "text/html; charset=utf-8"},
                                         std::tuple{"/static/liveview.js", "liveview.js", "text/javascript; charset=utf-8"},
                                         std::tuple{"/static/style.css", "style.css", "text/css; charset=utf-8"}}) {
    const auto reply = test::http_request(port_, "GET", path);
    EXPECT_EQ(reply.status, 200) << path << ": " << reply.body;
    EXPECT_EQ(reply.headers.at("Content-Type"), type) << path;
    EXPECT_EQ(reply.body, file_text(web / file)) << path;
  }
  EXPECT_EQ(test::http_request(port_, "GET", "/static/nothing.js").status, 404);
}

TEST_F(LiveView, PathsOutOfTheWebRootAreRefused) {
  test::Watchdog watchdog(60s);
  const auto root = dir_ / "web";
  std::filesystem::create_directories(root / "sub");
  std::ofstream(root / "index.html") << "<!doctype html><title>t</title>";
  std::ofstream(root / "sub" / "a.css") << "body {}";
  std::ofstream(root / ".secret") << "hidden-secret";
  std::ofstream(dir_ / "outside.txt") << "outside-secret";
  std::filesystem::create_symlink(dir_ / "outside.txt", root / "link.txt");
  std::filesystem::create_directory_symlink(dir_, root / "up");
  ASSERT_NO_FATAL_FAILURE(start(pattern_stage(64, 48, "Mono16", 50), fmt::format("web_root = \"{}\"", root.string())));
  const auto css = test::http_request(port_, "GET", "/static/sub/a.css");
  EXPECT_EQ(css.status, 200) << css.body;
  EXPECT_EQ(css.headers.at("Content-Type"), "text/css; charset=utf-8");
  for (const char* path : {"/static/../outside.txt", "/static/%2e%2e/outside.txt", "/static/%2E%2E%2Foutside.txt",
                           "/static/sub/../../outside.txt", "/static/..%2f..%2foutside.txt", "/static/.secret",
                           "/static/link.txt", "/static/up/outside.txt", "/static/sub", "/static/", "/../outside.txt"}) {
    const auto reply = test::http_request(port_, "GET", path);
    EXPECT_EQ(reply.status, 404) << path << ": " << reply.body;
    EXPECT_EQ(reply.body.find("-secret"), std::string::npos) << path << ": " << reply.body;
  }
  EXPECT_EQ(test::http_request(port_, "GET", "/").status, 200);
}

TEST_F(LiveView, ThePageNeedsNoTokenButTheApiAndTheLiveViewDo) {
  test::Watchdog watchdog(60s);
  ASSERT_NO_FATAL_FAILURE(start(pattern_stage(64, 48, "Mono16", 50), "token = \"s3cret-token\""));
  EXPECT_EQ(test::http_request(port_, "GET", "/").status, 200);
  EXPECT_EQ(test::http_request(port_, "GET", "/static/liveview.js").status, 200);
  EXPECT_EQ(test::http_request(port_, "GET", "/api/v1/status").status, 401);
  EXPECT_EQ(test::WebSocketClient(port_, "/api/v1/rings/raw/live").status(), 401);
  EXPECT_EQ(test::WebSocketClient(port_, "/api/v1/rings/raw/live?token=s3cret-tokeX").status(), 401);
  test::WebSocketClient by_query(port_, "/api/v1/rings/raw/live?token=s3cret-token");
  ASSERT_EQ(by_query.status(), 101) << by_query.body();
  expect_pattern(next_frame(by_query), {64, 48, PixelFormat::Mono16, 0}, 1);
  test::WebSocketClient by_header(port_, "/api/v1/rings/raw/live", {"Authorization: Bearer s3cret-token"});
  EXPECT_EQ(by_header.status(), 101) << by_header.body();
}

// ---- the WebSocket ------------------------------------------------------------------------------

TEST_F(LiveView, FramesAreTheNewestFramesWithThePatternOfTheirSequence) {
  test::Watchdog watchdog(60s);
  ASSERT_NO_FATAL_FAILURE(start(pattern_stage(66, 50, "Mono16", 100)));
  test::WebSocketClient ws(port_, "/api/v1/rings/raw/live");
  ASSERT_EQ(ws.status(), 101) << ws.body();
  std::uint64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    const LiveFrame f = next_frame(ws);
    expect_pattern(f, {66, 50, PixelFormat::Mono16, 0}, 1);
    if (i > 0) {
      EXPECT_GT(f.sequence, last) << "newest frames only, never one again";
    }
    last = f.sequence;
    const std::uint64_t published_now = published();
    EXPECT_LT(f.sequence, published_now);
  }
  // The live view is a newest consumer: it never gates the producer.
  const auto consumers = live_consumers();
  ASSERT_EQ(consumers.size(), 1U);
  EXPECT_EQ(consumers[0].kind, ring::ConsumerKind::Newest);
}

// Runs the testpattern in `shape` and checks three frames of a live view at each of `bins`.
void expect_binned_streams(LiveView& test, const FrameShape& shape, std::initializer_list<std::uint32_t> bins) {
  ASSERT_NO_FATAL_FAILURE(
      test.start(pattern_stage(shape.width, shape.height, framering::to_string(shape.pixel_format), 100)));
  for (const std::uint32_t bin : bins) {
    test::WebSocketClient ws(test.port(), fmt::format("/api/v1/rings/raw/live?bin={}", bin));
    ASSERT_EQ(ws.status(), 101) << ws.body();
    for (int i = 0; i < 3; ++i) LiveView::expect_pattern(LiveView::next_frame(ws), shape, bin);
  }
}

TEST_F(LiveView, BinnedFramesAreTheAveragedPattern) {
  test::Watchdog watchdog(60s);
  expect_binned_streams(*this, {66, 50, PixelFormat::Mono16, 0}, {2, 4});
}

TEST_F(LiveView, BinnedColourFramesAverageEachChannel) {
  test::Watchdog watchdog(60s);
  expect_binned_streams(*this, {34, 22, PixelFormat::RGB8, 0}, {1, 2, 4});
}

TEST_F(LiveView, NeverMoreThanTwoFramesAreUnacknowledged) {
  test::Watchdog watchdog(60s);
  ASSERT_NO_FATAL_FAILURE(start(pattern_stage(64, 48, "Mono16", 200)));
  test::WebSocketClient ws(port_, "/api/v1/rings/raw/live?max_fps=1000");
  ASSERT_EQ(ws.status(), 101) << ws.body();
  std::uint64_t newest = 0;
  // Without an ack the server stops at two, however many frames the ring publishes meanwhile
  // (20 more: a server that ignored the window would have sent them).
  const auto expect_quiet_while_ring_goes_on = [&] {
    const std::uint64_t target = newest + 21;
    ASSERT_TRUE(test::wait_until([&] { return published() >= target; }, 30s)) << run_->err();
    EXPECT_FALSE(ws.has_pending()) << "a frame came with two unacknowledged";
  };
  for (int i = 0; i < 2; ++i) newest = next_frame(ws, false).sequence;
  expect_quiet_while_ring_goes_on();
  // One ack: exactly one more frame.
  ASSERT_TRUE(ws.send_text("ack"));
  const LiveFrame third = next_frame(ws, false);
  EXPECT_GT(third.sequence, newest);
  newest = third.sequence;
  expect_quiet_while_ring_goes_on();
  // Two acks: two more.
  ASSERT_TRUE(ws.send_text("ack"));
  ASSERT_TRUE(ws.send_text("ack 12345"));
  for (int i = 0; i < 2; ++i) newest = next_frame(ws, false).sequence;
  expect_quiet_while_ring_goes_on();
}

TEST_F(LiveView, TheRateCapKeepsTheServersSendsToOnePerPeriod) {
  test::Watchdog watchdog(60s);
  ASSERT_NO_FATAL_FAILURE(start(pattern_stage(64, 48, "Mono16", 200)));
  constexpr double kMaxFps = 8;
  test::WebSocketClient ws(port_, fmt::format("/api/v1/rings/raw/live?max_fps={}", kMaxFps));
  ASSERT_EQ(ws.status(), 101) << ws.body();
  std::vector<LiveFrame> frames;
  for (int i = 0; i < 5; ++i) frames.push_back(next_frame(ws));
  // The server's own CLOCK_MONOTONIC stamps, whatever the machine's load: every i messages span
  // at least (i - 1.5) periods (a schedule of one per period; docs/http-api.md), never two within
  // half a period; and the frames the cap passed over are skipped (the ring ran at 200/s).
  const auto period_ns = static_cast<std::uint64_t>(1e9 / kMaxFps);
  for (std::size_t i = 1; i < frames.size(); ++i) {
    const std::uint64_t span_ns = frames[i].send_monotonic_ns - frames[0].send_monotonic_ns;
    EXPECT_GE(static_cast<double>(span_ns), (static_cast<double>(i) - 0.5) * static_cast<double>(period_ns))
        << "messages 0.." << i;
    EXPECT_GE(frames[i].send_monotonic_ns - frames[i - 1].send_monotonic_ns, period_ns / 2) << "message " << i;
    EXPECT_GT(frames[i].sequence, frames[i - 1].sequence);
  }
  const auto consumers = live_consumers();
  ASSERT_EQ(consumers.size(), 1U);
  EXPECT_GT(consumers[0].frames_skipped, 0U) << "the frames between two sends are skipped, not sent late";
}

TEST_F(LiveView, UnknownRingsAndBadQueriesAreRefusedBeforeTheUpgrade) {
  test::Watchdog watchdog(60s);
  ASSERT_NO_FATAL_FAILURE(start(pattern_stage(64, 48, "Mono16", 50)));
  test::WebSocketClient unknown(port_, "/api/v1/rings/nope/live");
  EXPECT_EQ(unknown.status(), 404);
  const auto error = nlohmann::json::parse(unknown.body(), nullptr, false);
  EXPECT_NE(error.value("error", "").find("no ring 'nope'"), std::string::npos) << unknown.body();
  EXPECT_NE(error.value("error", "").find("raw"), std::string::npos) << "names the rings there are: " << unknown.body();
  EXPECT_EQ(test::WebSocketClient(port_, "/api/v1/rings/..%2fx/live").status(), 404);
  for (const auto& [query, field] : {std::pair{"bin=3", "bin"}, std::pair{"bin=two", "bin"},
                                     std::pair{"max_fps=0", "max_fps"}, std::pair{"max_fps=1e9", "max_fps"},
                                     std::pair{"max_fps=fast", "max_fps"}}) {
    test::WebSocketClient ws(port_, fmt::format("/api/v1/rings/raw/live?{}", query));
    EXPECT_EQ(ws.status(), 422) << query << ": " << ws.body();
    EXPECT_EQ(nlohmann::json::parse(ws.body(), nullptr, false).value("field", ""), field) << ws.body();
  }
  EXPECT_EQ(test::WebSocketClient(port_, "/api/v1/rings/raw/elsewhere").status(), 404);
  const auto plain = test::http_request(port_, "GET", "/api/v1/rings/raw/live");
  EXPECT_EQ(plain.status, 426) << "a plain GET is told to upgrade: " << plain.body;
  EXPECT_EQ(test::http_request(port_, "GET", "/api/v1/rings/nope/live").status, 404);
  EXPECT_TRUE(live_consumers().empty()) << "a refused request leaves nothing on the ring";
  EXPECT_EQ(test::http_request(port_, "GET", "/api/v1/status").status, 200) << "the run still serves";
}

TEST_F(LiveView, AtMostFourLiveViewsAtOnce) {
  test::Watchdog watchdog(60s);
  ASSERT_NO_FATAL_FAILURE(start(pattern_stage(64, 48, "Mono16", 50)));
  std::vector<std::unique_ptr<test::WebSocketClient>> open;
  for (int i = 0; i < 4; ++i) {
    open.push_back(std::make_unique<test::WebSocketClient>(port_, "/api/v1/rings/raw/live"));
    ASSERT_EQ(open.back()->status(), 101) << open.back()->body();
  }
  test::WebSocketClient fifth(port_, "/api/v1/rings/raw/live");
  EXPECT_EQ(fifth.status(), 503) << fifth.body();
  EXPECT_EQ(test::http_request(port_, "GET", "/api/v1/status").status, 200) << "requests still have workers";
}

TEST_F(LiveView, AClientThatLeavesFreesItsPlaceOnTheRing) {
  test::Watchdog watchdog(60s);
  ASSERT_NO_FATAL_FAILURE(start(pattern_stage(64, 48, "Mono16", 100)));
  {
    const auto ws = connected();
    ASSERT_NE(ws, nullptr);
    EXPECT_EQ(live_consumers().size(), 1U);
    ASSERT_TRUE(ws->send_close());
    const auto answer = ws->read_close(10s);  // the server answers a close with a close
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->close_code(), 1000);
  }
  ASSERT_NE(connected(), nullptr);  // and one that just drops the connection
  EXPECT_TRUE(test::wait_until([&] { return live_consumers().empty(); }, 30s)) << "the readers detached";
  EXPECT_TRUE(run_->running());
}

TEST_F(LiveView, TheRunStopsCleanlyWithAClientConnected) {
  test::Watchdog watchdog(90s);
  ASSERT_NO_FATAL_FAILURE(start(pattern_stage(64, 48, "Mono16", 100)));
  const auto ws = connected();
  ASSERT_NE(ws, nullptr);
  run_->signal(SIGINT);
  const auto m = ws->read_close(60s);
  ASSERT_TRUE(m.has_value()) << "the stream ended without a close message: " << run_->err();
  EXPECT_EQ(m->close_code(), 1001);
  EXPECT_EQ(m->payload.substr(2), "the run is stopping");
  ASSERT_NE(run_->wait(60s), -1) << run_->err();
  EXPECT_EQ(run_->exit_code(), 0) << run_->err();
  EXPECT_NE(run_->err().find("live view of ring raw (consumer live-1) ended (the run is stopping)"), std::string::npos)
      << run_->err();
}

}  // namespace
}  // namespace framering
