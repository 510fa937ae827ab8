#include "framering/acquire/aravis_source.hpp"

#include <arv.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framering/common/clock.hpp"
#include "framering/common/pixel_format.hpp"
#include "framering/common/ring_writer.hpp"
#include "framering/common/stop_signal.hpp"

namespace framering::acquire {
namespace {

constexpr guint64 kPopSliceUs = 100'000;         // longest wait in one pop: stop and outage checks between
constexpr std::uint64_t kStatsPeriodNs = 1'000'000'000ULL;
constexpr double kFirstBackoffS = 0.1;

// Owns a GError and gives its message.
struct GErrorBox {
  GError* error = nullptr;
  GErrorBox() = default;
  GErrorBox(const GErrorBox&) = delete;
  GErrorBox& operator=(const GErrorBox&) = delete;
  ~GErrorBox() { clear(); }
  GError** out() {
    clear();
    return &error;
  }
  void clear() {
    if (error != nullptr) g_error_free(error);
    error = nullptr;
  }
  [[nodiscard]] bool failed() const { return error != nullptr; }
  [[nodiscard]] std::string message() const { return error != nullptr ? std::string{error->message} : std::string{}; }
};

// Sleeps `seconds` in slices, returning early (false) at SIGINT/SIGTERM. The signal may be
// delivered to one of Aravis' threads, so a slice ends the wait, not the signal itself.
bool sleep_unless_stopped(double seconds) {
  const std::uint64_t deadline = monotonic_ns() + static_cast<std::uint64_t>(seconds * 1e9);
  while (!stop_requested()) {
    const std::uint64_t now = monotonic_ns();
    if (now >= deadline) return true;
    std::this_thread::sleep_for(std::chrono::nanoseconds{std::min<std::uint64_t>(deadline - now, 50'000'000ULL)});
  }
  return false;
}

// "Aravis-Fake-GV01 (127.0.0.1), Basler-1234 (192.168.1.20)" or "none".
std::string cameras_found() {
  arv_update_device_list();
  std::vector<std::string> found;
  for (unsigned i = 0; i < arv_get_n_devices(); ++i) {
    const char* id = arv_get_device_id(i);
    const char* address = arv_get_device_address(i);
    found.push_back(fmt::format("{} ({})", id != nullptr ? id : "?", address != nullptr ? address : "?"));
  }
  return found.empty() ? std::string{"none"} : fmt::format("{}", fmt::join(found, ", "));
}

}  // namespace

std::uint64_t outage_loss(std::uint64_t last_before_ns, std::uint64_t first_after_ns, double rate_hz) noexcept {
  const double rate = rate_hz > 0 ? rate_hz : 1.0;
  if (last_before_ns == 0 || first_after_ns <= last_before_ns) return 1;
  const double periods = static_cast<double>(first_after_ns - last_before_ns) / 1e9 * rate;
  return static_cast<std::uint64_t>(std::max(1.0, std::round(periods) - 1.0));
}

struct AravisSource::Impl {
  AravisSourceOptions options;
  ArvCamera* camera = nullptr;
  ArvStream* stream = nullptr;
  gulong control_lost_handler = 0;
  std::atomic<bool> control_lost{false};  // set by Aravis' heartbeat thread, read by grab()

  // The buffers the stream fills. Each is an ArvBuffer we hold one reference to for the life of
  // the source; while the stream has it, it holds another (pushed with g_object_ref, dropped
  // when popped). Its user data tells which it is (tag()): a ring slot's buffer (lent), or
  // one of our own (copy path). The stream gives buffers back in the order it was given them
  // (arvgvstream.c closes frames in arrival order), which lending relies on.
  struct StreamBuffer {
    ArvBuffer* buffer = nullptr;  // null: a slot not lent yet
    std::byte* data = nullptr;
    bool in_stream = false;
  };
  std::vector<StreamBuffer> own_buffers;   // allocated at the first connection
  std::vector<StreamBuffer> slot_buffers;  // one per ring slot, made at its first lend
  StreamBuffer* held = nullptr;            // grabbed, not yet written (or dropped by the loop)
  std::uint32_t in_stream = 0;             // buffers the stream has now
  std::uint32_t queue_depth = 0;           // buffers kept queued on the stream
  ring::RingWriter* writer = nullptr;      // set by use_ring(); lending when `lending`
  bool lending = false;
  std::uint64_t frames_in_place = 0;       // written by Aravis straight into their slot
  std::uint64_t frames_copied = 0;         // copied by write() (own buffer, or a lent slot's frame published at another sequence)
  std::uint64_t out_of_order = 0;          // good frames discarded because their sequence's slot was still lent

  std::string name;  // the camera's id once connected (what the logs name)
  std::string model;
  FrameShape shape_{};
  bool shape_fixed = false;  // the ring exists with shape_: a reconnected camera must match it
  std::string format_name;
  std::size_t payload_bytes = 0;
  double frame_rate_hz = 0;  // as read back; 0 when the camera has no frame-rate feature
  bool software_trigger = false;
  bool free_running = true;

  bool has_previous_id = false;
  std::uint64_t previous_id = 0;
  std::uint64_t pending_lost = 0;  // outage estimate for the next frame (when no frame came before it)
  bool outage_pending = false;     // an outage ended: the next frame's loss is sized by timestamps
  double outage_rate_hz = 0;       // the frame rate before the outage, for that estimate
  std::uint64_t last_timestamp_ns = 0;  // CLOCK_REALTIME receipt of the last frame delivered; 0 = none yet

  // Counters: ours, plus the totals of streams already closed (a reconnect makes a new stream).
  ring::ProducerControl::SourceStats totals{};
  std::uint64_t closed_underruns = 0;
  std::uint64_t closed_missing = 0;
  std::uint64_t closed_resent = 0;
  SourceStatsSink sink;
  std::uint64_t last_stats_ns = 0;
  std::uint64_t frames_delivered = 0;

  static void on_control_lost(ArvDevice* /*device*/, gpointer self) {
    static_cast<Impl*>(self)->control_lost.store(true, std::memory_order_release);
  }

  [[nodiscard]] std::string looked_for() const {
    return options.camera_id.empty() ? std::string{"the first GenICam camera found"}
                                     : fmt::format("GenICam camera '{}'", options.camera_id);
  }

  // Sets a feature through `setter`, naming it and the value on failure.
  template <typename Setter>
  void set_feature(const char* feature, const std::string& value, Setter&& setter) {
    GErrorBox error;
    setter(error.out());
    if (error.failed()) {
      throw SourceError(fmt::format("camera {}: cannot set {} to {}: {}", name, feature, value, error.message()));
    }
  }

  // Opens the camera and applies every option; throws SourceError (absent, or a setting the
  // camera refuses). Leaves camera == nullptr on failure.
  void connect() {
    GErrorBox error;
    camera = arv_camera_new(options.camera_id.empty() ? nullptr : options.camera_id.c_str(), error.out());
    if (camera == nullptr) {
      const std::string found = cameras_found();
      const std::string why = error.failed() ? error.message() : std::string{"not found"};
      if (!options.camera_id.empty() && found.find(options.camera_id) != std::string::npos) {
        throw SourceError(fmt::format("cannot open {} ({}); it is there (cameras found: {}): is another program "
                                      "controlling it?", looked_for(), why, found));
      }
      throw SourceError(fmt::format("no {} ({}); cameras found: {}. Start or plug in the camera, check --camera "
                                    "(an id from `framering cameras`), or pass --wait-for-camera to wait for it",
                                    looked_for(), why, found));
    }
    try {
      const FrameShape ring_shape = shape_;
      configure();
      if (shape_fixed && (shape_.width != ring_shape.width || shape_.height != ring_shape.height ||
                          shape_.pixel_format != ring_shape.pixel_format)) {
        const std::string now = fmt::format("{}x{} {}", shape_.width, shape_.height, format_name);
        shape_ = ring_shape;
        throw SourceError(fmt::format("camera {} came back as {}, the ring holds {}x{} {}", name, now, ring_shape.width,
                                      ring_shape.height, to_string(ring_shape.pixel_format)));
      }
      shape_fixed = true;
      start_stream();
    } catch (...) {
      disconnect();
      throw;
    }
  }

  void configure() {
    GErrorBox error;
    // Named as the user named it, else as Aravis' discovery does: <vendor>-<model>-<serial>.
    const char* vendor = arv_camera_get_vendor_name(camera, error.out());
    const char* model_name = arv_camera_get_model_name(camera, error.out());
    const char* serial = arv_camera_get_device_serial_number(camera, error.out());
    model = fmt::format("{} {}", vendor != nullptr ? vendor : "?", model_name != nullptr ? model_name : "?");
    name = !options.camera_id.empty() ? options.camera_id
                                      : fmt::format("{}-{}-{}", vendor != nullptr ? vendor : "?",
                                                    model_name != nullptr ? model_name : "?", serial != nullptr ? serial : "?");

    if (arv_camera_is_gv_device(camera)) {
      if (!arv_gv_device_is_controller(ARV_GV_DEVICE(arv_camera_get_device(camera)))) {
        throw SourceError(fmt::format("camera {} ({}) is controlled by another program (GigE Vision allows one "
                                      "controller at a time): stop that program, then start acquire again", name, model));
      }
      if (!options.packet_socket) arv_camera_gv_set_stream_options(camera, ARV_GV_STREAM_OPTION_PACKET_SOCKET_DISABLED);
      if (options.packet_size_bytes > 0) {
        set_feature("GevSCPSPacketSize", std::to_string(options.packet_size_bytes),
                    [&](GError** e) { arv_camera_gv_set_packet_size(camera, static_cast<gint>(options.packet_size_bytes), e); });
      }
    }
    arv_camera_stop_acquisition(camera, error.out());  // a camera left streaming refuses some settings
    if (options.pixel_format) {
      set_feature("PixelFormat", *options.pixel_format,
                  [&](GError** e) { arv_camera_set_pixel_format_from_string(camera, options.pixel_format->c_str(), e); });
    }
    if (options.width || options.height || options.offset_x || options.offset_y) {
      gint x = 0, y = 0, w = 0, h = 0;
      arv_camera_get_region(camera, &x, &y, &w, &h, error.out());
      if (options.offset_x) x = static_cast<gint>(*options.offset_x);
      if (options.offset_y) y = static_cast<gint>(*options.offset_y);
      if (options.width) w = static_cast<gint>(*options.width);
      if (options.height) h = static_cast<gint>(*options.height);
      set_feature("the region (OffsetX, OffsetY, Width, Height)", fmt::format("{}, {}, {}x{}", x, y, w, h),
                  [&](GError** e) { arv_camera_set_region(camera, x, y, w, h, e); });
    }
    if (options.exposure_us) {
      set_feature("ExposureTime (µs)", fmt::format("{}", *options.exposure_us),
                  [&](GError** e) { arv_camera_set_exposure_time(camera, *options.exposure_us, e); });
    }
    if (options.gain) {
      set_feature("Gain", fmt::format("{}", *options.gain), [&](GError** e) { arv_camera_set_gain(camera, *options.gain, e); });
    }
    if (!options.trigger.empty()) {
      if (options.trigger == "off") {
        set_feature("TriggerMode", "Off", [&](GError** e) { arv_camera_clear_triggers(camera, e); });
      } else {
        set_feature("TriggerSource", options.trigger,
                    [&](GError** e) { arv_camera_set_trigger(camera, options.trigger.c_str(), e); });
      }
    }
    software_trigger = options.trigger == "Software";
    free_running = options.trigger.empty() || options.trigger == "off";
    if (options.frame_rate_hz) {
      set_feature("AcquisitionFrameRate", fmt::format("{} Hz", *options.frame_rate_hz),
                  [&](GError** e) { arv_camera_set_frame_rate(camera, *options.frame_rate_hz, e); });
    }
    set_feature("AcquisitionMode", "Continuous",
                [&](GError** e) { arv_camera_set_acquisition_mode(camera, ARV_ACQUISITION_MODE_CONTINUOUS, e); });

    // Read back: the ring follows what the camera does, not what was asked.
    gint x = 0, y = 0, w = 0, h = 0;
    arv_camera_get_region(camera, &x, &y, &w, &h, error.out());
    if (error.failed()) throw SourceError(fmt::format("camera {}: cannot read its region: {}", name, error.message()));
    const char* format = arv_camera_get_pixel_format_as_string(camera, error.out());
    format_name = format != nullptr ? format : "?";
    const auto ring_format = parse_pixel_format(format_name);
    if (!ring_format) {
      throw SourceError(fmt::format("camera {} sends PixelFormat {}: not a format the ring holds (packed formats such "
                                    "as Mono12p are not); set --pixel-format to one of {}",
                                    name, format_name, pixel_format_names(all_pixel_formats())));
    }
    shape_ = FrameShape{static_cast<std::uint32_t>(w), static_cast<std::uint32_t>(h), *ring_format,
                        std::uint64_t{static_cast<std::uint32_t>(w)} * bytes_per_pixel(*ring_format)};
    payload_bytes = arv_camera_get_payload(camera, error.out());
    if (error.failed()) throw SourceError(fmt::format("camera {}: cannot read PayloadSize: {}", name, error.message()));
    if (payload_bytes != shape_.frame_bytes()) {
      throw SourceError(fmt::format("camera {}: PayloadSize is {} bytes but {}x{} {} is {} bytes (chunk data or padding "
                                    "is not supported: turn ChunkModeActive off)", name, payload_bytes, w, h, format_name,
                                    shape_.frame_bytes()));
    }
    frame_rate_hz = 0;
    if (arv_camera_is_frame_rate_available(camera, error.out())) {
      frame_rate_hz = arv_camera_get_frame_rate(camera, error.out());
      if (error.failed()) frame_rate_hz = 0;
    }
    // Later connections (after an outage) must give the same frames: pin what was read back.
    options.pixel_format = format_name;
    options.offset_x = static_cast<std::uint32_t>(x);
    options.offset_y = static_cast<std::uint32_t>(y);
    options.width = shape_.width;
    options.height = shape_.height;
  }

  void start_stream() {
    GErrorBox error;
    stream = arv_camera_create_stream(camera, nullptr, nullptr, error.out());
    if (stream == nullptr) {
      throw SourceError(fmt::format("camera {}: cannot create its stream: {}", name, error.failed() ? error.message() : "?"));
    }
    if (ARV_IS_GV_STREAM(stream)) {
      // The default 208 KiB socket receive buffer cannot hold a multi-megabyte frame: let Aravis
      // size it to the payload (PEERS.md: required on loopback, helps on any NIC).
      g_object_set(stream, "socket-buffer", ARV_GV_STREAM_SOCKET_BUFFER_AUTO, nullptr);
    }
    if (own_buffers.empty()) {
      queue_depth = std::max<std::uint32_t>(2, options.stream_buffers);
      own_buffers.resize(queue_depth);
      for (std::uint32_t i = 0; i < queue_depth; ++i) {
        own_buffers[i].buffer = arv_buffer_new_full(payload_bytes, nullptr, tag(i, true), nullptr);
        own_buffers[i].data = static_cast<std::byte*>(const_cast<void*>(arv_buffer_get_data(own_buffers[i].buffer, nullptr)));
      }
    }
    refill();
    control_lost.store(false, std::memory_order_release);
    control_lost_handler = g_signal_connect(arv_camera_get_device(camera), "control-lost", G_CALLBACK(&Impl::on_control_lost), this);
    arv_camera_start_acquisition(camera, error.out());
    if (error.failed()) throw SourceError(fmt::format("camera {}: AcquisitionStart failed: {}", name, error.message()));
  }

  // Stops and releases the camera and its stream, keeping the stream's totals. A camera that is
  // gone costs Aravis a GVCP timeout per register it still writes while finalising the stream and
  // the device (about 7.5 s with the emulator killed): that happens on a thread of its own, so
  // that reconnecting starts at once; the destructor joins it.
  void disconnect() {
    held = nullptr;
    const bool gone = control_lost.load(std::memory_order_acquire);
    if (camera != nullptr && stream != nullptr && !gone) {
      GErrorBox error;
      arv_camera_stop_acquisition(camera, error.out());  // may fail: nothing more to do
    }
    if (stream != nullptr) {
      // Take every buffer back before anything else: stopping the receive thread (local, no
      // GVCP: fast even with the camera gone) closes its frames in progress as aborted, and
      // deleting the queues drops the stream's references. From here on nothing writes into a
      // lent slot or an own buffer, so the slots can be lent again (or the ring unmapped) and
      // the stream finalised later on another thread. The thread is started again, bufferless,
      // only because finalising a stream stops it (and complains when it is not running).
      arv_stream_stop_thread(stream, TRUE);
      const auto s = stream_counters();
      closed_underruns += s.underruns;
      closed_missing += s.packets_missing;
      closed_resent += s.packets_resent;
      arv_stream_start_thread(stream);
    }
    for (auto& b : own_buffers) b.in_stream = false;
    for (auto& b : slot_buffers) b.in_stream = false;
    in_stream = 0;
    if (camera != nullptr && control_lost_handler != 0) {
      g_signal_handler_disconnect(arv_camera_get_device(camera), control_lost_handler);
    }
    control_lost_handler = 0;
    auto release = [old_stream = stream, old_camera = camera] {
      if (old_stream != nullptr) g_object_unref(old_stream);
      if (old_camera != nullptr) g_object_unref(old_camera);
    };
    stream = nullptr;
    camera = nullptr;
    if (gone) {
      releasers.emplace_back(release);
    } else {
      release();
    }
  }

  std::vector<std::thread> releasers;  // finalising cameras that went away (see disconnect)

  // The current stream's own counters (underruns, missing and resent packets).
  [[nodiscard]] ring::ProducerControl::SourceStats stream_counters() const {
    ring::ProducerControl::SourceStats s{};
    if (stream == nullptr) return s;
    guint64 completed = 0, failures = 0, underruns = 0;
    arv_stream_get_statistics(stream, &completed, &failures, &underruns);
    s.underruns = underruns;
    if (ARV_IS_GV_STREAM(stream)) {
      guint64 resent = 0, missing = 0;
      arv_gv_stream_get_statistics(ARV_GV_STREAM(stream), &resent, &missing);
      s.packets_missing = missing;
      s.packets_resent = resent;
    }
    return s;
  }

  [[nodiscard]] ring::ProducerControl::SourceStats current() const {
    ring::ProducerControl::SourceStats s = totals;
    const auto live = stream_counters();
    s.underruns = closed_underruns + live.underruns;
    s.packets_missing = closed_missing + live.packets_missing;
    s.packets_resent = closed_resent + live.packets_resent;
    s.connected = camera != nullptr ? 1 : 0;
    return s;
  }

  void report(bool now) {
    const std::uint64_t t = monotonic_ns();
    if (!sink || (!now && t - last_stats_ns < kStatsPeriodNs)) return;
    last_stats_ns = t;
    sink(current());
  }

  // Opens the camera, retrying with backoff until it answers or a stop; false at a stop.
  bool connect_with_backoff(const char* why) {
    double backoff_s = kFirstBackoffS;
    std::uint64_t attempts = 0;
    while (!stop_requested()) {
      try {
        connect();
        return true;
      } catch (const SourceError& e) {
        ++attempts;
        if (attempts == 1 || attempts % 10 == 0) {
          spdlog::warn("{}: {} not there yet (attempt {}: {}); retrying, at most {:.1f} s apart", why, looked_for(), attempts,
                       e.what(), options.reconnect_max_s);
        }
      }
      report(false);
      if (!sleep_unless_stopped(backoff_s)) return false;
      backoff_s = std::min(backoff_s * 2, options.reconnect_max_s);
    }
    return false;
  }

  // The camera went away: keep the ring, reconnect, and charge the frames missed to the next one.
  bool ride_out_outage(const std::string& why) {
    ++totals.outages;
    const std::uint64_t start = monotonic_ns();
    spdlog::error("camera {} lost ({}): the ring and its consumers stay up; reconnecting with backoff (at most {:.1f} s "
                  "between tries)", name, why, options.reconnect_max_s);
    const double rate = frame_rate_hz;
    control_lost.store(true, std::memory_order_release);  // gone: disconnect() must not wait on GVCP replies
    disconnect();
    report(true);  // status shows the camera away (connected 0, outages + 1) from now on
    if (!connect_with_backoff("camera outage")) return false;
    const double seconds = static_cast<double>(monotonic_ns() - start) / 1e9;
    // What was lost is sized when the next frame arrives, from the time between the last frame
    // before the outage and that one (the outage began before it was detected, and ends after
    // the reconnect): see outage_loss().
    if (last_timestamp_ns != 0) {
      outage_pending = true;
      outage_rate_hz = rate;
    } else {  // no frame before it to measure from: the reconnect time is all there is
      pending_lost += static_cast<std::uint64_t>(std::max(1.0, std::round(seconds * (rate > 0 ? rate : 1.0))));
    }
    has_previous_id = false;  // the camera's counter restarts (or jumps): the estimate stands in for the gap
    spdlog::warn("camera {} back after {:.1f} s of reconnecting ({} {}x{} {}): resuming; the frames lost are counted "
                 "from the timestamps of the frames around the outage (outage {} so far)",
                 name, seconds, model, shape_.width, shape_.height, format_name, totals.outages);
    report(true);
    return true;
  }

  // Whether the camera still answers a register read.
  [[nodiscard]] bool camera_answers() const {
    GErrorBox error;
    (void)arv_camera_get_integer(camera, "Width", error.out());
    return !error.failed();
  }

  // The user data that identifies a buffer (never null): (index << 1 | own) + 1.
  static void* tag(std::size_t index, bool own) {
    return reinterpret_cast<void*>(static_cast<std::uintptr_t>(((index << 1) | (own ? 1U : 0U)) + 1));
  }

  // Ours for a buffer the stream gave back (dropping the stream's reference). One we did not
  // give it is a broken invariant: logged, then std::abort().
  StreamBuffer* take_back(ArvBuffer* buffer) {
    const auto id = static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(arv_buffer_get_user_data(buffer))) - 1;
    auto& pool = (id & 1U) != 0 ? own_buffers : slot_buffers;
    StreamBuffer* b = (id >> 1) < pool.size() ? &pool[id >> 1] : nullptr;
    if (b == nullptr || b->buffer != buffer || !b->in_stream) {
      spdlog::critical("camera {}: Aravis gave back a buffer acquire did not lend it", name);
      std::abort();
    }
    b->in_stream = false;
    --in_stream;
    g_object_unref(buffer);  // the stream's reference; ours keeps it
    return b;
  }

  void push(StreamBuffer& b) {
    b.in_stream = true;
    ++in_stream;
    arv_stream_push_buffer(stream, static_cast<ArvBuffer*>(g_object_ref(b.buffer)));
  }

  // The buffer to queue next. Lending: the stream gives buffers back in order, so the one queued
  // now is published as sequence t = next + in_stream if every buffer ahead of it completes;
  // lend it slot t % slot_count when that slot is not still lent (after a failed frame the
  // buffers ahead are published one sequence early, so slot t can be) and the writer may claim
  // t (an every consumer has released what the slot held: same gating as claim()). Otherwise,
  // and when not lending, one of our own buffers: its frame is copied (and waits for its slot)
  // at write(), as before lending existed.
  StreamBuffer* next_buffer() {
    if (lending) {
      const std::uint64_t next = writer->next_sequence();
      const std::uint64_t t = next + in_stream;
      StreamBuffer& slot = slot_buffers[t % slot_buffers.size()];
      if (t - next < writer->claim_window() && !slot.in_stream) {
        if (const auto claimed = writer->try_claim_at(t)) {  // at once when t is claimed already
          if (slot.buffer == nullptr) {
            slot.data = claimed->pixels.data();
            slot.buffer = arv_buffer_new_full(payload_bytes, slot.data, tag(t % slot_buffers.size(), false), nullptr);
          }
          return &slot;
        }
      }
    }
    for (auto& b : own_buffers) {
      if (!b.in_stream && &b != held) return &b;
    }
    return nullptr;
  }

  // Queues buffers until the stream has queue_depth. Only between frames (no buffer held).
  void refill() {
    while (stream != nullptr && in_stream < queue_depth) {
      StreamBuffer* b = next_buffer();
      if (b == nullptr) return;  // every own buffer is queued or held: cannot happen with queue_depth of them
      push(*b);
    }
  }

  void use_ring(ring::RingWriter& ring_writer) {
    const ring::SegmentHeader& h = ring_writer.segment().header();
    const std::uint32_t slots = ring_writer.segment().slot_count();
    std::string why_not;
    if (!options.lend_slots) {
      why_not = "--no-lend";
    } else if (h.stride_bytes != shape_.row_stride_bytes()) {
      why_not = fmt::format("the ring's rows are {} bytes apart and Aravis writes them packed, {} bytes apart",
                            h.stride_bytes, shape_.row_stride_bytes());
    } else if (h.frame_bytes < payload_bytes) {
      why_not = fmt::format("a slot holds {} bytes, the camera's payload is {}", h.frame_bytes, payload_bytes);
    } else if (slots < 4) {
      why_not = fmt::format("the ring has {} slots; lending needs at least 4 (half of them lent)", slots);
    }
    if (!why_not.empty()) {
      spdlog::info("camera {}: frames are copied into the ring, not written there by Aravis: {}", name, why_not);
      return;
    }
    writer = &ring_writer;
    lending = true;
    slot_buffers.resize(slots);
    queue_depth = std::min<std::uint32_t>(std::max<std::uint32_t>(2, options.stream_buffers), slots / 2);
    spdlog::info("camera {}: lending ring slots to Aravis: {} queued on the stream (at most half of the {} slots, and "
                 "--stream-buffers {}); frames are written by Aravis straight into their slot", name, queue_depth, slots,
                 options.stream_buffers);
  }

  std::expected<GrabbedFrame, GrabError> grab() {
    // The frame grabbed last was written (or the loop dropped it: its claim timed out): its
    // buffer goes back to the stream, or its slot is lent again, now that the writer's next
    // sequence says what the buffers queued now will be published as.
    held = nullptr;
    refill();
    std::uint64_t idle_since = monotonic_ns();
    bool trigger_sent = false;
    while (true) {
      if (stop_requested()) return std::unexpected(GrabError::Stopped);
      if (control_lost.load(std::memory_order_acquire)) {
        if (!ride_out_outage("control lost: it stopped answering GVCP heartbeats")) return std::unexpected(GrabError::Stopped);
        idle_since = monotonic_ns();
        trigger_sent = false;
        continue;
      }
      if (software_trigger && !trigger_sent) {
        GErrorBox error;
        arv_camera_software_trigger(camera, error.out());
        trigger_sent = !error.failed();
      }
      ArvBuffer* buffer = arv_stream_timeout_pop_buffer(stream, kPopSliceUs);
      report(false);
      if (buffer == nullptr) {
        const std::uint64_t now = monotonic_ns();
        if (free_running && static_cast<double>(now - idle_since) / 1e9 >= options.frame_timeout_s) {
          if (!camera_answers()) {
            if (!ride_out_outage(fmt::format("no frame for {:.1f} s and it does not answer", options.frame_timeout_s))) {
              return std::unexpected(GrabError::Stopped);
            }
            trigger_sent = false;
          } else {
            spdlog::warn("camera {}: no frame for {:.1f} s, but it answers; still waiting", name, options.frame_timeout_s);
          }
          idle_since = monotonic_ns();
        }
        continue;
      }
      const ArvBufferStatus status = arv_buffer_get_status(buffer);
      if (status != ARV_BUFFER_STATUS_SUCCESS) {
        if (status == ARV_BUFFER_STATUS_TIMEOUT) {
          ++totals.frames_timed_out;
        } else {
          ++totals.frames_incomplete;
        }
        const std::uint64_t bad = totals.frames_timed_out + totals.frames_incomplete;
        if (bad == 1 || bad % 100 == 0) {
          spdlog::warn("camera {}: frame {} not complete (buffer status {}): discarded, never written to the ring "
                       "({} incomplete, {} timed out so far)", name, arv_buffer_get_frame_id(buffer),
                       static_cast<int>(status), totals.frames_incomplete, totals.frames_timed_out);
        }
        // Not published: a lent slot stays claimed for its sequence and is lent again (or
        // filled by a later frame's copy) once the frames ahead of it are published.
        take_back(buffer);
        refill();
        trigger_sent = false;
        continue;
      }
      std::size_t size = 0;
      (void)arv_buffer_get_image_data(buffer, &size);
      if (size < payload_bytes || arv_buffer_get_image_width(buffer) != static_cast<gint>(shape_.width) ||
          arv_buffer_get_image_height(buffer) != static_cast<gint>(shape_.height)) {
        ++totals.frames_incomplete;
        spdlog::warn("camera {}: frame {} is {}x{} ({} bytes), the ring is {}x{}: discarded", name,
                     arv_buffer_get_frame_id(buffer), arv_buffer_get_image_width(buffer),
                     arv_buffer_get_image_height(buffer), size, shape_.width, shape_.height);
        take_back(buffer);
        refill();
        continue;
      }
      StreamBuffer* const taken = take_back(buffer);
      if (lending) {
        // The frame is published as the writer's next sequence. Its slot must not be lent still:
        // only possible if the stream gave buffers back out of order, which arvgvstream.c does
        // not. Then the frame is discarded like a damaged one (the frame-id gap counts it).
        const StreamBuffer& target = slot_buffers[writer->next_sequence() % slot_buffers.size()];
        if (&target != taken && target.in_stream) {
          ++out_of_order;
          ++totals.frames_incomplete;
          spdlog::warn("camera {}: frame {} came back before the buffer queued ahead of it, whose slot it needs: "
                       "discarded ({} so far)", name, arv_buffer_get_frame_id(buffer), out_of_order);
          refill();
          continue;
        }
      }
      const std::uint64_t id = arv_buffer_get_frame_id(buffer);
      std::uint64_t timestamp = arv_buffer_get_system_timestamp(buffer);
      if (timestamp == 0) timestamp = realtime_ns();
      std::uint64_t lost = pending_lost;
      if (has_previous_id) lost += frame_id_gap(previous_id, id);
      if (outage_pending) {
        const std::uint64_t estimate = outage_loss(last_timestamp_ns, timestamp, outage_rate_hz);
        spdlog::warn("camera {}: {:.2f} s between the last frame before the outage and the first after it: about {} "
                     "frames lost at {:.2f} Hz", name, static_cast<double>(timestamp - std::min(timestamp, last_timestamp_ns)) / 1e9,
                     estimate, outage_rate_hz);
        lost += estimate;
        outage_pending = false;
      }
      pending_lost = 0;
      has_previous_id = true;
      previous_id = id;
      last_timestamp_ns = timestamp;
      if (frames_delivered == 0) {
        spdlog::info("camera {}: first frame, id {}, camera timestamp {} ns (camera clock), received at {} ns "
                     "(CLOCK_REALTIME)", name, id, arv_buffer_get_timestamp(buffer), timestamp);
      }
      ++frames_delivered;
      totals.frames_lost += lost;
      held = taken;
      return GrabbedFrame{.camera_frame_id = id, .timestamp_ns = timestamp, .source_frames_lost = lost};
    }
  }

  void write(std::span<std::byte> pixels, const FrameShape& frame) {
    const std::byte* data = held->data;
    held = nullptr;  // back to us; grab() queues it again
    if (data == pixels.data()) {  // a lent slot, published at the sequence it was lent for
      ++frames_in_place;
      return;
    }
    ++frames_copied;
    const std::size_t row_bytes = shape_.row_stride_bytes();
    if (frame.row_stride_bytes() == row_bytes) {
      std::memcpy(pixels.data(), data, row_bytes * shape_.height);
    } else {
      for (std::uint32_t y = 0; y < shape_.height; ++y) {
        std::memcpy(pixels.data() + y * frame.row_stride_bytes(), data + y * row_bytes, row_bytes);
      }
    }
  }

  ~Impl() {
    for (auto* pool : {&own_buffers, &slot_buffers}) {
      for (auto& b : *pool) {
        if (b.buffer != nullptr) g_object_unref(b.buffer);
      }
    }
  }
};

AravisSource::AravisSource(const AravisSourceOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  if (!(options.frame_timeout_s > 0) || !(options.reconnect_max_s >= kFirstBackoffS)) {
    throw ConfigError(fmt::format("--camera-timeout-s {} must be > 0 and --reconnect-max-s {} at least {}",
                                  options.frame_timeout_s, options.reconnect_max_s, kFirstBackoffS));
  }
  if (!options.wait_for_camera) {
    impl_->connect();
  } else {
    spdlog::info("waiting for {} (--wait-for-camera); found now: {}", impl_->looked_for(), cameras_found());
    if (!impl_->connect_with_backoff("waiting for the camera")) return;
  }
  spdlog::info("camera {} ({}): {}x{} at ({}, {}) {}, {} bytes a frame, {}, {} stream buffers{}", impl_->name, impl_->model,
               impl_->shape_.width, impl_->shape_.height, *impl_->options.offset_x, *impl_->options.offset_y,
               impl_->format_name, impl_->payload_bytes,
               impl_->frame_rate_hz > 0 ? fmt::format("AcquisitionFrameRate {:.3g} Hz", impl_->frame_rate_hz)
                                        : std::string{"no frame-rate feature"},
               std::max<std::uint32_t>(2, options.stream_buffers),
               impl_->free_running ? std::string{", free run"} : fmt::format(", triggered by {}", options.trigger));
}

AravisSource::~AravisSource() {
  impl_->disconnect();
  for (auto& releaser : impl_->releasers) releaser.join();
  if (impl_->frames_in_place + impl_->frames_copied > 0) {
    spdlog::info("camera {}: {} frames written by Aravis straight into lent ring slots, {} copied into their slot{}",
                 impl_->name, impl_->frames_in_place, impl_->frames_copied,
                 impl_->out_of_order > 0 ? fmt::format(", {} discarded out of order", impl_->out_of_order) : std::string{});
  }
}

void AravisSource::use_ring(ring::RingWriter& writer) { impl_->use_ring(writer); }

bool AravisSource::is_open() const noexcept { return impl_->camera != nullptr; }

FrameShape AravisSource::shape() const noexcept { return impl_->shape_; }

std::expected<GrabbedFrame, GrabError> AravisSource::grab() noexcept {
  try {
    return impl_->grab();
  } catch (const std::exception& e) {  // std::bad_alloc, fmt: nothing recoverable here
    spdlog::critical("camera {}: {}", impl_->name, e.what());
    std::abort();
  }
}

void AravisSource::write(std::span<std::byte> pixels, const FrameShape& frame, std::uint64_t /*sequence*/) noexcept {
  impl_->write(pixels, frame);
}

std::string AravisSource::describe() const {
  return fmt::format("aravis camera {} ({}, {}x{} {})", impl_->name, impl_->model, impl_->shape_.width, impl_->shape_.height,
                     impl_->format_name);
}

void AravisSource::set_stats_sink(SourceStatsSink sink) {
  impl_->sink = std::move(sink);
  impl_->report(true);
}

void AravisSource::flush_stats() { impl_->report(true); }

bool AravisSource::paces_itself() const noexcept { return !impl_->software_trigger; }

std::vector<stage::ParamSpec> AravisSource::live_params() const {
  std::vector<stage::ParamSpec> out;
  ArvCamera* camera = impl_->camera;
  if (camera == nullptr) return out;
  using Type = stage::ParamSpec::Type;
  // Each feature the camera has, with the bounds and value it reports now.
  const auto add = [&](const char* name, const char* units, const char* doc, auto bounds, auto get) {
    GErrorBox error;
    double min = 0, max = 0;
    bounds(&min, &max, error.out());
    const double value = error.failed() ? 0 : get(error.out());
    if (error.failed() || !(min < max)) return;
    out.push_back({.name = name, .type = Type::Number, .value = value, .min = min, .max = max, .units = units, .doc = doc});
  };
  add("exposure_us", "µs", "ExposureTime", [&](double* a, double* b, GError** e) { arv_camera_get_exposure_time_bounds(camera, a, b, e); },
      [&](GError** e) { return arv_camera_get_exposure_time(camera, e); });
  add("gain", "camera unit (usually dB)", "Gain", [&](double* a, double* b, GError** e) { arv_camera_get_gain_bounds(camera, a, b, e); },
      [&](GError** e) { return arv_camera_get_gain(camera, e); });
  if (impl_->frame_rate_hz > 0) {
    add("frame_rate_hz", "Hz", "AcquisitionFrameRate", [&](double* a, double* b, GError** e) { arv_camera_get_frame_rate_bounds(camera, a, b, e); },
        [&](GError** e) { return arv_camera_get_frame_rate(camera, e); });
  }
  return out;
}

std::optional<stage::Refusal> AravisSource::apply_live(const nlohmann::json& changes,
                                                       const std::function<void(const std::string&, double)>& took) {
  Impl& s = *impl_;
  if (s.camera == nullptr) {
    return stage::Refusal{409, changes.begin().key(), fmt::format("camera {} is not connected now (an outage): try again once "
                                                                  "it is back", s.name)};
  }
  for (const auto& [name, value] : changes.items()) {
    const double v = value.get<double>();
    GErrorBox error;
    double now = v;
    if (name == "exposure_us") {
      arv_camera_set_exposure_time(s.camera, v, error.out());
      if (!error.failed()) now = arv_camera_get_exposure_time(s.camera, error.out());
      if (!error.failed()) s.options.exposure_us = now;
    } else if (name == "gain") {
      arv_camera_set_gain(s.camera, v, error.out());
      if (!error.failed()) now = arv_camera_get_gain(s.camera, error.out());
      if (!error.failed()) s.options.gain = now;
    } else if (name == "frame_rate_hz") {
      arv_camera_set_frame_rate(s.camera, v, error.out());
      if (!error.failed()) now = arv_camera_get_frame_rate(s.camera, error.out());
      if (!error.failed()) s.options.frame_rate_hz = s.frame_rate_hz = now;
    }
    if (error.failed()) {
      return stage::Refusal{422, name, fmt::format("camera {}: cannot set {} to {}: {}", s.name, name, v, error.message())};
    }
    took(name, now);
    spdlog::info("camera {}: {} now {} (asked {})", s.name, name, now, v);
  }
  return std::nullopt;
}

ring::ProducerControl::SourceStats AravisSource::stats() const noexcept { return impl_->current(); }

}  // namespace framering::acquire
