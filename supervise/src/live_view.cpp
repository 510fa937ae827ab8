// live_view.cpp: the live view's messages and its per-connection sender (live_view.hpp).
#include "framering/supervise/live_view.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>

#include <civetweb.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framering/common/clock.hpp"

namespace framering::supervise {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the ring and the live view's messages are little-endian: a big-endian host would need byte swaps");

constexpr std::chrono::milliseconds kPollPeriod{100};  // the sender looks at its end at least this often
constexpr std::size_t kMaxClientMessageBytes = 1024;   // an ack is 3 bytes; anything this large is not ours
constexpr std::uint16_t kCloseGoingAway = 1001;        // RFC 6455 7.4.1: the server is going away

// Bins `frame` kBin x kBin into `out` (packed rows of width/kBin * kSpp samples of T). The block
// size and channel count are constants, so that the compiler unrolls the block and vectorises.
template <class T, std::uint32_t kBin, std::uint32_t kSpp>
void bin_samples(const ring::FrameView& frame, std::byte* out) {
  const std::uint32_t ow = frame.width / kBin;
  const std::uint32_t oh = frame.height / kBin;
  const std::size_t row_samples = std::size_t{ow} * kSpp;
  const std::size_t row_bytes = row_samples * sizeof(T);
  if constexpr (kBin == 1) {
    for (std::uint32_t y = 0; y < oh; ++y) std::memcpy(out + y * row_bytes, frame.row<T>(y).data(), row_bytes);
  } else {
    constexpr std::uint32_t kN = kBin * kBin;
    thread_local std::vector<T> row_out;  // per thread, reused: a stream bins every frame in one shape
    row_out.resize(row_samples);
    for (std::uint32_t oy = 0; oy < oh; ++oy) {
      const T* rows[kBin];
      for (std::uint32_t by = 0; by < kBin; ++by) rows[by] = frame.row<T>(oy * kBin + by).data();
      for (std::size_t ox = 0; ox < ow; ++ox) {
        for (std::uint32_t c = 0; c < kSpp; ++c) {
          std::uint32_t sum = 0;
          for (std::uint32_t by = 0; by < kBin; ++by) {
            for (std::uint32_t bx = 0; bx < kBin; ++bx) sum += rows[by][(ox * kBin + bx) * kSpp + c];
          }
          row_out[ox * kSpp + c] = static_cast<T>((sum + kN / 2) / kN);
        }
      }
      std::memcpy(out + oy * row_bytes, row_out.data(), row_bytes);
    }
  }
}

template <class T, std::uint32_t kSpp>
void bin_samples(const ring::FrameView& frame, std::uint32_t bin, std::byte* out) {
  switch (bin) {
    case 1: return bin_samples<T, 1, kSpp>(frame, out);
    case 2: return bin_samples<T, 2, kSpp>(frame, out);
    default: return bin_samples<T, 4, kSpp>(frame, out);
  }
}

// `name`'s value in `query` as text; nullopt when absent. Throws nothing; a value longer than
// `max` bytes comes back as the error.
std::expected<std::optional<std::string>, LiveQueryError> query_value(std::string_view query, const char* name) {
  char value[64];
  const int n = mg_get_var(query.data(), query.size(), name, value, sizeof value);
  if (n == -1) return std::nullopt;
  if (n < 0) return std::unexpected(LiveQueryError{name, fmt::format("query parameter '{}' is too long", name)});
  return std::string(value, static_cast<std::size_t>(n));
}

}  // namespace

std::expected<void, LiveQueryError> parse_live_view_query(std::string_view query, LiveViewRequest& request) {
  const auto fps = query_value(query, "max_fps");
  if (!fps) return std::unexpected(fps.error());
  if (*fps) {
    const std::string& text = **fps;
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value) || value <= 0 || value > 1000) {
      return std::unexpected(LiveQueryError{
          "max_fps", fmt::format("query parameter 'max_fps' is '{}': expected a number of frames per second in "
                                 "(0, 1000], e.g. max_fps=30",
                                 text)});
    }
    request.max_fps = value;
  }
  const auto bin = query_value(query, "bin");
  if (!bin) return std::unexpected(bin.error());
  if (*bin) {
    const std::string& text = **bin;
    if (text != "1" && text != "2" && text != "4") {
      return std::unexpected(LiveQueryError{
          "bin", fmt::format("query parameter 'bin' is '{}': expected 1, 2 or 4 (pixels averaged per side)", text)});
    }
    request.bin = static_cast<std::uint32_t>(text[0] - '0');
  }
  return {};
}

PixelFormat live_pixel_format(PixelFormat ring_format, std::uint32_t bin) noexcept {
  if (bin < 2 || !is_bayer(ring_format)) return ring_format;
  switch (significant_bits(ring_format)) {
    case 8: return PixelFormat::Mono8;
    case 10: return PixelFormat::Mono10;
    case 12: return PixelFormat::Mono12;
    default: return PixelFormat::Mono16;
  }
}

void encode_live_frame(const ring::FrameView& frame, std::uint32_t bin, std::vector<std::byte>& out) {
  const PixelFormat format = live_pixel_format(frame.pixel_format, bin);
  LiveFrameHeader h;
  h.magic = kLiveFrameMagic;
  h.version = kLiveFrameVersion;
  h.header_bytes = sizeof(LiveFrameHeader);
  h.sequence = frame.sequence;
  h.timestamp_ns = frame.timestamp_ns;
  h.width = frame.width / bin;
  h.height = frame.height / bin;
  h.pixel_format = static_cast<std::uint32_t>(format);
  h.samples_per_pixel = static_cast<std::uint8_t>(samples_per_pixel(format));
  h.bytes_per_sample = static_cast<std::uint8_t>(bytes_per_sample(format));
  h.significant_bits = static_cast<std::uint8_t>(significant_bits(format));
  h.binning = static_cast<std::uint8_t>(bin);
  const std::size_t pixel_bytes = std::size_t{h.width} * h.height * bytes_per_pixel(format);
  out.resize(sizeof h + pixel_bytes);
  std::memcpy(out.data(), &h, sizeof h);
  std::byte* pixels = out.data() + sizeof h;
  const bool colour = samples_per_pixel(frame.pixel_format) == 3;
  if (bytes_per_sample(frame.pixel_format) == 2) {
    bin_samples<std::uint16_t, 1>(frame, bin, pixels);  // no 16-bit colour format in PixelFormat
  } else if (colour) {
    bin_samples<std::uint8_t, 3>(frame, bin, pixels);
  } else {
    bin_samples<std::uint8_t, 1>(frame, bin, pixels);
  }
}

void stamp_live_frame(std::span<std::byte> message, std::uint64_t publish_monotonic_ns, std::uint64_t send_realtime_ns,
                      std::uint64_t send_monotonic_ns) noexcept {
  if (message.size() < sizeof(LiveFrameHeader)) return;
  const std::uint64_t age_ns = send_monotonic_ns > publish_monotonic_ns ? send_monotonic_ns - publish_monotonic_ns : 0;
  std::memcpy(message.data() + offsetof(LiveFrameHeader, age_ns), &age_ns, sizeof age_ns);
  std::memcpy(message.data() + offsetof(LiveFrameHeader, send_realtime_ns), &send_realtime_ns, sizeof send_realtime_ns);
  std::memcpy(message.data() + offsetof(LiveFrameHeader, send_monotonic_ns), &send_monotonic_ns,
              sizeof send_monotonic_ns);
}

// ---- LiveStream ---------------------------------------------------------------------------------

LiveStream::LiveStream(ring::RingReader reader, LiveViewRequest request)
    : reader_(std::move(reader)), request_(std::move(request)), name_(reader_.name()) {}

LiveStream::~LiveStream() { stop(); }

void LiveStream::start(LiveWriter writer) {
  std::lock_guard join(join_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (ending_ != Ending::No || sender_.joinable()) return;
  }
  sender_ = std::thread([this, writer = std::move(writer)] { run(writer); });
}

bool LiveStream::on_message(std::string_view text) {
  if (text.size() > kMaxClientMessageBytes) return false;
  if (text.starts_with("ack")) {
    {
      std::lock_guard lock(mutex_);
      if (counters_.acked < counters_.sent) ++counters_.acked;  // an ack for nothing sent is ignored
    }
    wake_.notify_all();
  }
  return true;
}

void LiveStream::finish(Ending how, std::string reason) {
  {
    std::lock_guard lock(mutex_);
    if (ending_ == Ending::No) {
      ending_ = how;
      goodbye_ = std::move(reason);
    }
  }
  wake_.notify_all();
  std::lock_guard join(join_mutex_);
  if (sender_.joinable()) sender_.join();
}

void LiveStream::end(std::string reason) { finish(Ending::Goodbye, std::move(reason)); }

void LiveStream::stop() { finish(Ending::Quietly, {}); }

LiveStreamCounters LiveStream::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

bool LiveStream::wait_for_turn(std::uint64_t due_ns) {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (ending_ != Ending::No) return false;
    const std::uint64_t now = monotonic_ns();
    const bool window_open = counters_.sent - counters_.acked < kMaxUnacked;
    if (window_open && now >= due_ns) return true;
    auto wait = std::chrono::nanoseconds{kPollPeriod};
    if (window_open) wait = std::min(wait, std::chrono::nanoseconds{due_ns - now});
    wake_.wait_for(lock, wait);  // an ack, the end, or the rate cap's time
  }
}

void LiveStream::run(const LiveWriter& writer) {
  const auto period_ns = static_cast<std::uint64_t>(std::llround(1e9 / request_.max_fps));
  std::vector<std::byte> message;
  std::uint64_t due_ns = 0;
  std::string_view why = "stopped";
  while (wait_for_turn(due_ns)) {
    auto frame = reader_.read(kPollPeriod);
    if (!frame) continue;  // nothing newer yet: look at the end again
    encode_live_frame(*frame, request_.bin, message);
    const std::uint64_t publish_ns = frame->publish_monotonic_ns;
    if (!reader_.release(*frame)) {  // lapped while copying: never shown
      std::lock_guard lock(mutex_);
      ++counters_.torn;
      continue;
    }
    const std::uint64_t send_ns = monotonic_ns();
    stamp_live_frame(message, publish_ns, realtime_ns(), send_ns);
    {
      // Counted before the write, so that an ack that comes back at once finds it.
      std::lock_guard lock(mutex_);
      ++counters_.sent;
    }
    if (writer(LiveOpcode::Binary, message) <= 0) {
      why = "the client is gone";
      break;
    }
    // The rate cap: one send per period on a schedule, so that a frame a little late (the
    // source's own jitter at the same rate) does not cost the next slot; never two sends closer
    // than half a period, and after a pause no catching up beyond that.
    due_ns = std::max(due_ns + period_ns, send_ns + period_ns / 2);
  }
  std::string goodbye;
  bool say_goodbye = false;
  {
    std::lock_guard lock(mutex_);
    say_goodbye = ending_ == Ending::Goodbye;
    goodbye = goodbye_.substr(0, 120);  // a close message's reason: at most 123 bytes
  }
  if (say_goodbye) {
    // RFC 6455 5.5.1: a close message's body is the status code (big-endian), then the reason.
    std::vector<std::byte> close(2 + goodbye.size());
    close[0] = static_cast<std::byte>(kCloseGoingAway >> 8U);
    close[1] = static_cast<std::byte>(kCloseGoingAway & 0xFFU);
    std::memcpy(close.data() + 2, goodbye.data(), goodbye.size());
    (void)writer(LiveOpcode::Close, close);
    why = goodbye;
  }
  const LiveStreamCounters c = counters();
  spdlog::info("run: http: live view of ring {} (consumer {}) ended ({}): {} frames sent, {} torn", request_.ring,
               name_, why, c.sent, c.torn);
}

}  // namespace framering::supervise
