// live_view.hpp: the browser live view's frames (docs/http-api.md, "The live view"): the newest
// frame of a ring, sent to a WebSocket client as one binary message per frame, at most
// kMaxUnacked frames in flight, at most max_fps messages per second, optionally binned.
//
//   client                          LiveStream (one per connection)              ring
//   GET .../live (upgrade) ────────► [accepted: RingReader, Newest, "live-N"] ◄── attach
//                                    sender thread:
//                                      wait: unacked < 2, rate due, not stopped
//                                      read the newest frame ───────────────────► read (Ready)
//                                      bin + copy into the message, release ────► torn? drop it
//   ◄──── binary: LiveFrameHeader + pixels ── write
//   "ack" ──► on_message (civetweb's worker thread): unacked - 1, wake the sender
//   close / run stops ──► stop(): the sender ends, joined; the reader detaches
//
// A Newest consumer never slows the producer or any every consumer (DESIGN.md, "Two kinds of
// consumer"): the live view is one more display, with its own counters in `framering status`.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "framering/common/ring_reader.hpp"

namespace framering::supervise {

/// The fixed header in front of every frame message, little-endian, 64 bytes; the pixels follow
/// at byte 64: height rows of width * samples_per_pixel samples of bytes_per_sample bytes,
/// packed (no row padding), little-endian, RGB8 as R, G, B per pixel (BGR8 as B, G, R).
/// docs/http-api.md lists the byte offsets; liveview.js reads them with a DataView.
struct LiveFrameHeader {
  std::uint32_t magic = 0;              ///< kLiveFrameMagic: the bytes "FRLV"
  std::uint16_t version = 0;            ///< kLiveFrameVersion
  std::uint16_t header_bytes = 0;       ///< 64: where the pixels start
  std::uint64_t sequence = 0;           ///< the frame's ring sequence
  std::uint64_t timestamp_ns = 0;       ///< the frame's timestamp (CLOCK_REALTIME ns, from its source)
  std::uint64_t age_ns = 0;             ///< publish -> send (CLOCK_MONOTONIC ns on the server)
  std::uint64_t send_realtime_ns = 0;   ///< CLOCK_REALTIME ns when the server sent it
  std::uint32_t width = 0;              ///< pixels per row of the message (after binning)
  std::uint32_t height = 0;             ///< rows of the message (after binning)
  std::uint32_t pixel_format = 0;       ///< PFNC code of the message's pixels (a binned Bayer mosaic: Mono)
  std::uint8_t samples_per_pixel = 0;   ///< 1, or 3 for RGB8/BGR8
  std::uint8_t bytes_per_sample = 0;    ///< 1 or 2
  std::uint8_t significant_bits = 0;    ///< 8..16: the largest sample value is 2^bits - 1
  std::uint8_t binning = 0;             ///< 1, 2 or 4: each message pixel averages binning x binning ring pixels
  std::uint64_t send_monotonic_ns = 0;  ///< CLOCK_MONOTONIC ns when the server sent it (the rate cap's clock)
};
static_assert(sizeof(LiveFrameHeader) == 64);
static_assert(offsetof(LiveFrameHeader, sequence) == 8);
static_assert(offsetof(LiveFrameHeader, timestamp_ns) == 16);
static_assert(offsetof(LiveFrameHeader, age_ns) == 24);
static_assert(offsetof(LiveFrameHeader, send_realtime_ns) == 32);
static_assert(offsetof(LiveFrameHeader, width) == 40);
static_assert(offsetof(LiveFrameHeader, pixel_format) == 48);
static_assert(offsetof(LiveFrameHeader, samples_per_pixel) == 52);
static_assert(offsetof(LiveFrameHeader, binning) == 55);
static_assert(offsetof(LiveFrameHeader, send_monotonic_ns) == 56);
static_assert(std::is_trivially_copyable_v<LiveFrameHeader>);

inline constexpr std::uint32_t kLiveFrameMagic = 0x564C5246;  ///< "FRLV" in little-endian byte order
inline constexpr std::uint16_t kLiveFrameVersion = 1;
/// Frames sent and not yet acknowledged, at most.
inline constexpr std::uint64_t kMaxUnacked = 2;

/// What a client asks for: the route's ring and the query's `max_fps` and `bin`.
struct LiveViewRequest {
  std::string ring;
  /// Messages per second at most, in (0, 1000]: sends keep a schedule of one per 1/max_fps
  /// (due_next = max(due + period, send + period/2)), so N messages span at least
  /// (N - 1.5) periods and two are never closer than half a period.
  double max_fps = 30.0;
  std::uint32_t bin = 1;   ///< 1, 2 or 4
};

/// A query parameter that is not acceptable: 422, naming it.
struct LiveQueryError {
  std::string field;
  std::string message;
};

/// Reads `max_fps` and `bin` from a URL query string ("max_fps=10&bin=2", already split from the
/// path; may be empty) into `request`. Other parameters (e.g. `token`) are left to the caller.
/// An error names the parameter, the value given and what is allowed.
[[nodiscard]] std::expected<void, LiveQueryError> parse_live_view_query(std::string_view query,
                                                                        LiveViewRequest& request);

/// The pixel format of a message carrying `ring_format` binned `bin` x `bin`: a Bayer mosaic
/// binned by 2 or 4 averages whole colour-filter cells into grey (BayerRG12 -> Mono12, ...);
/// everything else keeps its format.
[[nodiscard]] PixelFormat live_pixel_format(PixelFormat ring_format, std::uint32_t bin) noexcept;

/// Builds one message from a frame read in place: the header (send fields 0: see
/// stamp_live_frame) and the pixels, binned `bin` x `bin` (each output sample is the mean of
/// bin*bin input samples of its channel, rounded half up: (sum + n/2) / n; the width % bin
/// rightmost columns and height % bin bottom rows are left out). `out` is resized to
/// 64 + width/bin * height/bin * bytes_per_pixel and reused (no allocation once it is large
/// enough). `bin` must be 1, 2 or 4. Reads the slot's pixels: the caller releases the frame
/// afterwards and drops the message when the read was torn.
void encode_live_frame(const ring::FrameView& frame, std::uint32_t bin, std::vector<std::byte>& out);

/// Writes the send-time fields of a message built by encode_live_frame: `send_realtime_ns`,
/// `send_monotonic_ns`, and age_ns = send_monotonic_ns - `publish_monotonic_ns` (0 when the
/// clock reads earlier).
void stamp_live_frame(std::span<std::byte> message, std::uint64_t publish_monotonic_ns, std::uint64_t send_realtime_ns,
                      std::uint64_t send_monotonic_ns) noexcept;

/// WebSocket opcodes the stream sends (RFC 6455, section 5.2; civetweb's MG_WEBSOCKET_OPCODE_*).
enum class LiveOpcode : int {
  Binary = 0x2,
  Close = 0x8,
};

/// Sends one WebSocket message; returns what mg_websocket_write returns (> 0 sent, 0 closed,
/// -1 error). Called from the stream's sender thread only.
using LiveWriter = std::function<int(LiveOpcode opcode, std::span<const std::byte> payload)>;

/// What a stream counted, for its log line and the tests.
struct LiveStreamCounters {
  std::uint64_t sent = 0;     ///< frame messages written
  std::uint64_t acked = 0;    ///< acknowledgements taken (never more than `sent`)
  std::uint64_t torn = 0;     ///< frames dropped because the producer lapped the copy
};

/// One live-view connection: its ring reader and its sender thread. Built on the thread that
/// accepted the connection; start(), on_message(), end() and stop() may be called from any
/// thread (civetweb calls them from the connection's worker, the server's destructor end()).
class LiveStream {
 public:
  /// Takes `reader`: a Newest consumer of `request.ring`.
  LiveStream(ring::RingReader reader, LiveViewRequest request);
  ~LiveStream();  ///< stop()
  LiveStream(const LiveStream&) = delete;
  LiveStream& operator=(const LiveStream&) = delete;

  /// Starts the sender thread, which writes through `writer` until stop(), end() or a failed
  /// write. Does nothing once stop() or end() was called.
  void start(LiveWriter writer);

  /// A message from the client: the text "ack" (anything after it is ignored: "ack 1234")
  /// acknowledges the oldest unacknowledged frame. Other small messages are ignored (room for
  /// later commands). Returns false for a message over 1 KiB: the caller closes the connection.
  [[nodiscard]] bool on_message(std::string_view text);

  /// Has the sender send a close message (status 1001 "going away", `reason`) and end, and waits
  /// for it: what a client sees when the run stops. Idempotent, like stop().
  void end(std::string reason);

  /// Stops the sender without a message and waits for it (at most one read of 100 ms or one
  /// write in progress, which civetweb's write timeout and its stop bound). Idempotent.
  void stop();

  [[nodiscard]] LiveStreamCounters counters() const;
  [[nodiscard]] const LiveViewRequest& request() const noexcept { return request_; }
  /// The reader's consumer name on the ring ("live-3").
  [[nodiscard]] const std::string& consumer_name() const noexcept { return name_; }

 private:
  enum class Ending : std::uint8_t {
    No,       ///< sending frames
    Quietly,  ///< stop(): end without a word (the client is gone)
    Goodbye,  ///< end(): send the close message first
  };
  void run(const LiveWriter& writer);
  // Waits until a frame may be sent (unacked below the window and the rate cap's time come);
  // false once the stream is ending. Wakes at least every 100 ms.
  bool wait_for_turn(std::uint64_t due_ns);
  void finish(Ending how, std::string reason);

  ring::RingReader reader_;
  LiveViewRequest request_;
  std::string name_;
  std::thread sender_;             ///< started and joined under join_mutex_
  std::mutex join_mutex_;          ///< one start() or join at a time
  mutable std::mutex mutex_;       ///< guards the fields below
  std::condition_variable wake_;   ///< an ack, or the end
  Ending ending_ = Ending::No;
  std::string goodbye_;            ///< end()'s reason
  LiveStreamCounters counters_;
};

}  // namespace framering::supervise
