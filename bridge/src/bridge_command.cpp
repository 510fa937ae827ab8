// bridge_command.cpp: `framering bridge send` and `framering bridge receive`: one ring carried
// across a ZeroMQ connection, keeping the ring's promises (docs/bridge-protocol.md).
//
// send:    a consumer of a local ring (every: lossless; newest: live), a DEALER that connects.
//          Every mode keeps up to the receiver's credit in flight and releases a frame only once
//          the receiver acknowledges it as published on the far side: the local ring is the
//          retransmit buffer, so a sender or receiver that dies and comes back resumes from the
//          last acknowledged frame with nothing lost and nothing twice.
// receive: the producer of a ring on the far side, a ROUTER that binds. It publishes each frame
//          with the sequence, timestamps, camera frame id and source losses it had on the near
//          side; a gap there (an eviction) is a gap here (RingWriter::skip_to), with its bounds.
#include "framering/bridge/bridge_command.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

#include "framering/bridge/curve_keys.hpp"
#include "framering/bridge/protocol.hpp"
#include "zmq_io.hpp"
#include "framering/common/cli_options.hpp"
#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"
#include "framering/common/pixel_format.hpp"
#include "framering/common/ring_reader.hpp"
#include "framering/common/ring_writer.hpp"
#include "framering/common/stage_kit.hpp"
#include "framering/common/stop_signal.hpp"

namespace framering::bridge {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct SecurityOptions {
  std::string curve_secret;              ///< this side's .key file
  std::string curve_server;              ///< send: the receiver's .pub file
  std::vector<std::string> curve_allow;  ///< receive: the senders' .pub files
  bool insecure = false;
};

struct SendOptions {
  CommonOptions common;
  std::string ring = "raw";
  std::string name = "bridge";
  std::string mode = "every";
  std::string to;
  double stall_timeout_s = 10.0;
  double dead_timeout_s = 5.0;
  double ack_timeout_s = 3.0;
  double wait_for_ring_s = 30.0;
  std::uint64_t frames = 0;
  SecurityOptions security;
};

struct ReceiveOptions {
  CommonOptions common;
  std::string ring = "raw";
  std::string listen = "tcp://*:5570";
  std::uint32_t slots = 16;
  std::uint32_t max_consumers = 16;
  std::uint32_t window = 8;
  std::uint32_t wait_for_consumers = 0;
  double wait_for_consumers_s = 30.0;
  std::uint64_t frames = 0;
  SecurityOptions security;
};

/// A message's header as its first part.
zmq::message_t header_part(const MessageHeader& h) {
  zmq::message_t part(kHeaderBytes);
  encode_header(h, std::span<std::byte, kHeaderBytes>(static_cast<std::byte*>(part.data()), kHeaderBytes));
  return part;
}

std::optional<MessageHeader> header_of(const zmq::message_t& part, std::string* why) {
  HeaderError error;
  auto h = decode_header(std::span<const std::byte>(static_cast<const std::byte*>(part.data()), part.size()), &error);
  if (!h && why != nullptr) *why = error.what;
  return h;
}

void require_security(const std::string& endpoint, const SecurityOptions& s, bool receiver) {
  const bool curve = !s.curve_secret.empty();
  if (curve) {
    if (receiver && s.curve_allow.empty()) {
      throw ConfigError("--curve-secret needs at least one --curve-allow FILE.pub: the senders this receiver lets in");
    }
    if (!receiver && s.curve_server.empty()) {
      throw ConfigError("--curve-secret needs --curve-server FILE.pub: the receiver's public key");
    }
    return;
  }
  if (!is_loopback_endpoint(endpoint) && !s.insecure) {
    throw ConfigError(fmt::format(
        "{} leaves this machine: frames would cross the network unencrypted. Give CURVE keys (--curve-secret, and "
        "--curve-{} ; framering bridge keygen makes them) or say --insecure",
        endpoint, receiver ? "allow" : "server"));
  }
}

json ring_shape(const ring::Segment& segment) {
  const auto& h = segment.header();
  return {{"width", h.width},
          {"height", h.height},
          {"pixel_format", std::string(to_string(static_cast<PixelFormat>(h.pixel_format)))},
          {"stride_bytes", h.stride_bytes}};
}

// ---- send ---------------------------------------------------------------------------------------

// A message's hint goes from the sending thread to ZeroMQ's I/O thread (which calls its free
// function) through libzmq's own lock-free queue: a real happens-before that ThreadSanitizer
// cannot see, libzmq not being instrumented. These two tell it (no-ops in other builds).
void hint_handed_to_zeromq([[maybe_unused]] void* hint) noexcept {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(hint);
#endif
}
void hint_taken_from_zeromq([[maybe_unused]] void* hint) noexcept {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(hint);
#endif
}

/// Frames handed to ZeroMQ straight from their slots (zmq_msg_init_data: no copy on our side),
/// and the moment ZeroMQ is done with each: its free function runs on ZeroMQ's I/O thread once
/// the message is written to the socket (or dropped with a connection), queues the message's
/// token and wakes the sender through an eventfd it polls with its socket. Only then may the
/// sender judge the slot (RingReader::is_intact): the frame went out whole unless the slot was
/// reused meanwhile, which only an eviction allows. The queue outlives the sender (each message
/// holds it), since ZeroMQ may free messages as late as its context's end.
class ZeroCopySends {
 public:
  ZeroCopySends() : shared_(std::make_shared<Shared>()) {
    shared_->fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (shared_->fd < 0) throw Error(fmt::format("cannot make an eventfd for the bridge's sends: {}", errno_text(errno)));
  }

  /// The eventfd that becomes readable when ZeroMQ has finished with a message.
  [[nodiscard]] int fd() const noexcept { return shared_->fd; }

  /// A message part that refers to `pixels` (a slot) without copying; `token` names it in done().
  /// The slot must stay mapped until ZeroMQ frees the message (the reader outlives the context).
  [[nodiscard]] zmq::message_t message(std::span<const std::byte> pixels, std::uint64_t token) const {
    auto* hint = new Hint{shared_, token};
    hint_handed_to_zeromq(hint);
    // ZeroMQ only reads the pixels; its API takes a non-const pointer.
    return {const_cast<std::byte*>(pixels.data()), pixels.size(), &on_free, hint};
  }

  /// The tokens of the messages ZeroMQ has finished with since the last call.
  [[nodiscard]] std::vector<std::uint64_t> take_done() const {
    std::uint64_t count = 0;
    (void)::read(shared_->fd, &count, sizeof count);  // reset the eventfd (EAGAIN when nothing)
    std::vector<std::uint64_t> done;
    const std::lock_guard lock(shared_->mutex);
    done.swap(shared_->done);
    return done;
  }

 private:
  struct Shared {
    std::mutex mutex;
    std::vector<std::uint64_t> done;
    int fd = -1;
    Shared() = default;
    Shared(const Shared&) = delete;
    Shared& operator=(const Shared&) = delete;
    ~Shared() {
      if (fd >= 0) ::close(fd);
    }
  };
  struct Hint {
    std::shared_ptr<Shared> shared;
    std::uint64_t token;
  };

  static void on_free(void* /*data*/, void* hint) noexcept {
    hint_taken_from_zeromq(hint);
    std::unique_ptr<Hint> h(static_cast<Hint*>(hint));
    {
      const std::lock_guard lock(h->shared->mutex);
      h->shared->done.push_back(h->token);
    }
    const std::uint64_t one = 1;
    (void)::write(h->shared->fd, &one, sizeof one);
  }

  std::shared_ptr<Shared> shared_;
};

class Sender {
 public:
  Sender(const SendOptions& o, ring::RingReader& reader, zmq::socket_t& socket)
      : o_(o), reader_(reader), socket_(socket), every_(reader.kind() == ring::ConsumerKind::Every) {}

  int run() {
    stage::Drain drain("sending");
    // Every with --frames: the sequence after the last frame to send, fixed once, so that a
    // resumed session does not count the limit again from where it resumes.
    if (every_ && o_.frames != 0) frames_end_ = reader_.cursor() + o_.frames;
    send_hello();
    int code = 0;
    while (every_ ? !drain.finished(reader_) : stage::keep_running(sent_.frames(), o_.frames)) {
      if (frames_end_ && reader_.cursor() >= *frames_end_ && in_session_) break;
      if (drain.draining() && stop_seen_ns_ == 0) stop_seen_ns_ = monotonic_ns();
      if (stop_seen_ns_ != 0 && monotonic_ns() - stop_seen_ns_ > kDrainLimitNs) {
        spdlog::error("stopping with frames {}..{} of ring {} not acknowledged by the receiver at {}: they stay in this "
                      "ring for the next sender",
                      reader_.cursor(), reader_.published() - 1, o_.ring, o_.to);
        code = 3;
        break;
      }
      sent_.log_if_due([&] { return details(); });
      judge_sent_frames();
      // Without credit, wait for the receiver (or ZeroMQ finishing a send); with credit but nothing
      // sent last turn while sends are being judged, a short wait that a finished send ends.
      receive_messages(!can_send() ? stage::kPollPeriod : idle_ && !unjudged_.empty() ? kJudgeWait : 0ms);
      idle_ = false;
      if (!in_session_) {
        if (monotonic_ns() - hello_sent_ns_ >= stage::to_ns(o_.ack_timeout_s)) {
          log_silence(hello_pending_ ? "no connection" : "no WELCOME");
          send_hello();
        } else if (hello_pending_) {
          send_pending_hello();  // the connection was not up yet
        }
        continue;
      }
      if (can_send() && (every_ ? send_next_every() : send_newest())) continue;
      idle_ = true;
      const bool waiting_for_acks = every_ ? reader_.cursor() < next_send_ : sent_this_epoch_ >= granted_;
      if (waiting_for_acks && monotonic_ns() - last_heard_ns_ >= stage::to_ns(o_.ack_timeout_s)) {
        log_silence("no acknowledgement");
        send_hello();
      }
    }
    send_end();
    const auto total = sent_.total();
    spdlog::info("bridge send of ring {} to {} ended ({}): sent {} frames in {:.1f} s ({:.1f} frames/s); {}", o_.ring,
                 o_.to, stage::end_reason("frames done"), total.frames, total.seconds, total.frames_per_s(),
                 details());
    return code;
  }

 private:
  static constexpr std::uint64_t kDrainLimitNs = 15'000'000'000;  ///< as the supervisor's drain of one stage
  /// With credit but no frame yet, how long to wait on the ring before looking at the socket
  /// again: no spinning, and a CREDIT or WELCOME is read within this.
  static constexpr std::chrono::milliseconds kFrameWait{5};
  /// While frames sent from their slots wait for ZeroMQ, how long one turn waits for the ring's
  /// next frame: the VERDICT is sent within this of ZeroMQ finishing.
  static constexpr std::chrono::milliseconds kJudgeWait{1};

  // In a session, with credit, and short of --frames.
  [[nodiscard]] bool can_send() const noexcept {
    return in_session_ && sent_this_epoch_ < granted_ && !(frames_end_ && next_send_ >= *frames_end_);
  }

  // Opens a new session (the next epoch) from where this sender is now.
  void send_hello() {
    ++epoch_;
    in_session_ = false;
    verdicts_.clear();  // for the session that ends: its receiver ignores them
    hello_sent_ns_ = monotonic_ns();
    json hello = ring_shape(reader_.segment());
    hello["protocol"] = kProtocolVersion;
    hello["instance"] = o_.common.instance;
    hello["ring"] = o_.ring;
    hello["mode"] = every_ ? "every" : "newest";
    hello["first_sequence"] = every_ ? reader_.cursor() : reader_.published();
    hello["sender"] = fmt::format("{} pid {}", host_name(), ::getpid());
    hello_header_ = header_part({.type = MessageType::Hello, .epoch = epoch_});
    hello_body_ = zmq::message_t(hello.dump());
    send_pending_hello();
  }

  // Sends the session's HELLO. Not sent while the connection is not up yet (ZMQ_IMMEDIATE):
  // tried again on the next turns, not after --ack-timeout-s, so that a sender started before
  // its receiver loses no time. ZeroMQ takes the messages it sends, so each try sends copies.
  void send_pending_hello() {
    std::array<zmq::message_t, 2> parts{zmq::message_t(hello_header_.data(), hello_header_.size()),
                                        zmq::message_t(hello_body_.data(), hello_body_.size())};
    hello_pending_ = !zmq::send_multipart(socket_, parts, zmq::send_flags::dontwait);
  }

  void send_end() {
    if (!in_session_) return;
    json end = {{"reason", std::string(stage::end_reason("frames done"))}};
    std::array<zmq::message_t, 2> parts{
        header_part({.type = MessageType::End, .epoch = epoch_, .sequence = every_ ? reader_.cursor() : next_send_}),
        zmq::message_t(end.dump())};
    (void)zmq::send_multipart(socket_, parts, zmq::send_flags::dontwait);
  }

  static std::string host_name() {
    std::array<char, 256> name{};
    return ::gethostname(name.data(), name.size() - 1) == 0 ? std::string(name.data()) : std::string("?");
  }

  void log_silence(std::string_view what) {
    ++silences_;
    if (silences_ == 1 || silences_ % 20 == 0) {
      spdlog::warn("{} from the receiver at {} for {:.1f} s (session {}): starting a new session, resuming from the last "
                   "acknowledged frame. Is `framering bridge receive` running there, and do the CURVE keys match? "
                   "({} times so far)",
                   what, o_.to, o_.ack_timeout_s, epoch_, silences_);
    }
  }

  void receive_messages(std::chrono::milliseconds timeout) {
    (void)wait_readable(socket_, zero_copy_.fd(), timeout);
    for (;;) {
      auto received = try_receive(socket_);
      if (!received) return;
      std::vector<zmq::message_t>& parts = *received;
      if (parts.empty()) continue;
      std::string why;
      const auto h = header_of(parts[0], &why);
      if (!h) {
        spdlog::warn("ignored a message from the receiver: {}", why);
        continue;
      }
      if (h->epoch != epoch_) continue;  // an answer to an earlier session
      last_heard_ns_ = monotonic_ns();
      switch (h->type) {
        case MessageType::Welcome: on_welcome(*h); break;
        case MessageType::Credit: on_credit(*h); break;
        case MessageType::Refused:
          spdlog::error("the receiver at {} refused session {}: {}", o_.to, epoch_,
                        parts.size() > 1 ? parts[1].to_string() : std::string{"(no reason given)"});
          hello_sent_ns_ = monotonic_ns();  // try again after --ack-timeout-s
          break;
        default: spdlog::warn("ignored a {} message from the receiver", to_string(h->type)); break;
      }
    }
  }

  void on_welcome(const MessageHeader& h) {
    in_session_ = true;
    silences_ = 0;
    sent_this_epoch_ = 0;
    granted_ = h.timestamp_or_granted;
    if (every_) {
      const std::uint64_t published = reader_.published();
      if (h.sequence > reader_.cursor()) reader_.release_until(std::min(h.sequence, published));
      if (h.sequence < reader_.cursor()) {
        spdlog::warn("the receiver's ring is at sequence {}, behind this ring's cursor {}: frames {}..{} were released "
                     "here already (the far ring was recreated?) and will be a gap there",
                     h.sequence, reader_.cursor(), h.sequence, reader_.cursor() - 1);
      }
      next_send_ = reader_.cursor();
      waiting_for_gap_ = false;
    }
    spdlog::info("session {} with {}: the receiver continues at sequence {}, credit {} frames", epoch_, o_.to,
                 h.sequence, granted_);
  }

  void on_credit(const MessageHeader& h) {
    granted_ = std::max(granted_, h.timestamp_or_granted);
    if (every_) reader_.release_until(std::min({h.sequence, next_send_, reader_.published()}));
  }

  // Every: the next frame, read ahead of the cursor (released on acknowledgement). Returns
  // whether a frame was sent.
  bool send_next_every() {
    if (waiting_for_gap_ && reader_.cursor() < next_send_) return false;  // acks first, then read() reports the gap
    if (next_send_ == reader_.cursor()) {
      waiting_for_gap_ = false;
      // At the cursor: reports a gap (eviction) with the frame after it.
      auto frame = reader_.read(unjudged_.empty() ? std::chrono::nanoseconds{kFrameWait} : std::chrono::nanoseconds{0});
      if (!frame) return false;
      return send_frame(*frame);
    }
    auto frame = reader_.read_ahead(next_send_, unjudged_.empty() ? kFrameWait : 0ms);
    if (!frame) {
      if (reader_.published() > next_send_) waiting_for_gap_ = true;  // skipped or overwritten: read() will say
      return false;
    }
    return send_frame(*frame);
  }

  bool send_newest() {
    auto frame = reader_.read(kFrameWait);
    if (!frame) return false;
    return send_frame(*frame);
  }

  // Every mode: the pixels go straight from the slot, and a VERDICT follows once ZeroMQ is done
  // with them (judge_sent_frames). Newest mode: a copy, checked with the seqlock before it is
  // sent, and the frame released at once: a newest consumer never holds the producer.
  bool send_frame(const ring::FrameView& frame) {
    zmq::message_t pixels;
    if (every_) {
      if (!reader_.is_intact(frame)) {
        waiting_for_gap_ = true;  // evicted and overwritten under us: read() reports it
        return false;
      }
      pixels = zero_copy_.message(frame.pixels, ++last_token_);
    } else {
      pixels = zmq::message_t(frame.pixels.size());
      std::memcpy(pixels.data(), frame.pixels.data(), frame.pixels.size());
      if (!reader_.release(frame)) return false;
    }
    MessageHeader h{.type = MessageType::Frame,
                    .flags = every_ ? kFlagVerdictFollows : std::uint8_t{0},
                    .epoch = epoch_,
                    .settings_generation = frame.settings_generation,
                    .sequence = frame.sequence,
                    .timestamp_or_granted = frame.timestamp_ns,
                    .camera_frame_id = frame.camera_frame_id,
                    .source_frames_lost = frame.source_frames_lost};
    if (frame.gap) {
      h.flags |= kFlagGap;
      h.gap_first = frame.gap->first;
      h.gap_last = frame.gap->last;
      spdlog::warn("frames {}..{} of ring {} were lost here (evicted) before frame {}: the receiver is told",
                   frame.gap->first, frame.gap->last, o_.ring, frame.sequence);
    }
    // Registered before the send: ZeroMQ's I/O thread may be done with it before send returns.
    if (every_) unjudged_.push_back({.token = last_token_, .epoch = epoch_, .frame = frame});
    std::array<zmq::message_t, 2> parts{header_part(h), std::move(pixels)};
    if (!zmq::send_multipart(socket_, parts, zmq::send_flags::dontwait)) {  // no peer, or its queue is full
      if (every_) unjudged_.pop_back();  // its token comes back from take_done() when `parts` goes: ignored
      return false;
    }
    ++sent_this_epoch_;
    next_send_ = frame.sequence + 1;
    sent_.count(1, frame.pixels.size());
    return true;
  }

  // Every mode: each frame ZeroMQ has finished sending from its slot gets its VERDICT: intact
  // (the receiver publishes it) or not (this sender was evicted and the slot reused while ZeroMQ
  // read it: the receiver drops it, and a new session resumes from the last acknowledged frame,
  // where read() reports the gap). Frames of an earlier session are not judged: their receiver
  // ignores that session.
  void judge_sent_frames() {
    bool torn = false;
    // Every token of the batch leaves unjudged_, also after a torn frame: those behind it
    // belong to the session that ends here, whose receiver drops them unjudged.
    for (const std::uint64_t token : zero_copy_.take_done()) {
      const auto it = std::ranges::find(unjudged_, token, &Unjudged::token);
      if (it == unjudged_.end()) continue;  // a send that failed
      const Unjudged sent = *it;
      unjudged_.erase(it);
      if (torn || sent.epoch != epoch_ || !in_session_) continue;
      const bool intact = reader_.is_intact(sent.frame);
      verdicts_.push_back({.type = MessageType::Verdict,
                           .flags = intact ? kFlagIntact : std::uint8_t{0},
                           .epoch = epoch_,
                           .sequence = sent.frame.sequence});
      if (!intact) {
        torn = true;
        ++torn_;
        spdlog::warn("frame {} of ring {} was overwritten while ZeroMQ sent it (this sender was evicted): the "
                     "receiver drops it; resuming from the last acknowledged frame with the gap",
                     sent.frame.sequence, o_.ring);
      }
    }
    send_verdicts();
    if (torn) {
      waiting_for_gap_ = true;
      send_hello();
    }
  }

  // Sends the VERDICTs not sent yet, in order; those the socket cannot take now wait for the
  // next turn.
  void send_verdicts() {
    while (!verdicts_.empty()) {
      if (!socket_.send(header_part(verdicts_.front()), zmq::send_flags::dontwait)) return;
      verdicts_.pop_front();
    }
  }

  [[nodiscard]] std::string details() const {
    return fmt::format("session {}{}, {}", epoch_, in_session_ ? "" : " (not answered yet)",
                       every_ ? fmt::format("acknowledged up to {}, in flight {}, {}{}", reader_.cursor(),
                                            next_send_ - std::min(next_send_, reader_.cursor()),
                                            torn_ > 0 ? fmt::format("overwritten while sent {}, ", torn_) : "",
                                            stage::describe(reader_.counters()))
                              : stage::describe(reader_.counters()));
  }

  const SendOptions& o_;
  ring::RingReader& reader_;
  zmq::socket_t& socket_;
  bool every_;
  std::uint32_t epoch_ = 0;
  bool in_session_ = false;
  std::uint64_t hello_sent_ns_ = 0;
  std::uint64_t last_heard_ns_ = monotonic_ns();
  std::uint64_t granted_ = 0;
  std::uint64_t sent_this_epoch_ = 0;
  std::uint64_t next_send_ = 0;
  std::optional<std::uint64_t> frames_end_;  ///< every with --frames: stop once acknowledged up to here
  bool waiting_for_gap_ = false;
  std::uint64_t silences_ = 0;
  std::uint64_t stop_seen_ns_ = 0;
  bool hello_pending_ = false;  ///< the session's HELLO found no connection yet
  bool idle_ = false;           ///< the last turn sent no frame
  /// A frame sent from its slot that ZeroMQ has not finished with (every mode).
  struct Unjudged {
    std::uint64_t token;
    std::uint32_t epoch;
    ring::FrameView frame;
  };
  ZeroCopySends zero_copy_;
  std::deque<Unjudged> unjudged_;
  std::deque<MessageHeader> verdicts_;  ///< judged, not sent yet (the socket was full)
  std::uint64_t last_token_ = 0;
  std::uint64_t torn_ = 0;  ///< frames found overwritten after their send
  zmq::message_t hello_header_;  ///< the session's HELLO, kept to send again
  zmq::message_t hello_body_;
  stage::RateReport sent_{"sent", stage::kReportPeriod};
};

void apply_client_security(zmq::socket_t& socket, const SecurityOptions& s) {
  if (s.curve_secret.empty()) return;
  const CurveKeyPair own = read_key_file(s.curve_secret, true);
  const CurveKeyPair server = read_key_file(s.curve_server, false);
  socket.set(zmq::sockopt::curve_serverkey, server.public_key);
  socket.set(zmq::sockopt::curve_publickey, own.public_key);
  socket.set(zmq::sockopt::curve_secretkey, own.secret_key);
}

int run_send(const SendOptions& o) {
  stage::begin("bridge-send", o.common, {o.ring});
  require_security(o.to, o.security, false);
  ring::ReaderOptions reader_options;
  reader_options.name = o.name;
  reader_options.kind = o.mode == "every" ? ring::ConsumerKind::Every : ring::ConsumerKind::Newest;
  reader_options.stall_timeout = stage::from_seconds(o.stall_timeout_s);
  reader_options.dead_timeout = stage::from_seconds(o.dead_timeout_s);
  auto reader = stage::attach_input(o.common.instance, o.ring, reader_options,
                                    {.timeout = stage::from_seconds(o.wait_for_ring_s), .option = "--wait-for-ring-s"});
  if (!reader) return 0;
  // Declared after the reader, so ended before it: ZeroMQ may still read a slot until its
  // context ends, and the ring must be mapped until then.
  zmq::context_t context;
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 1000);
  socket.set(zmq::sockopt::immediate, 1);   // queue nothing for a connection that is not up
  socket.set(zmq::sockopt::sndhwm, 4);      // credit limits what is in flight; this only bounds the queue
  socket.set(zmq::sockopt::heartbeat_ivl, 1000);
  socket.set(zmq::sockopt::heartbeat_timeout, 3000);
  apply_client_security(socket, o.security);
  socket.connect(o.to);
  spdlog::info("bridge send: ring {} ({} consumer '{}'{}) to {}{}", o.ring, o.mode, o.name,
               reader->resumed() ? fmt::format(", resumed at sequence {}", reader->cursor()) : "", o.to,
               o.security.curve_secret.empty() ? " without encryption" : " (CURVE)");
  return Sender(o, *reader, socket).run();
}

// ---- receive ------------------------------------------------------------------------------------

class Receiver {
 public:
  Receiver(const ReceiveOptions& o, zmq::socket_t& socket) : o_(o), socket_(socket) {}

  int run() {
    while (stage::keep_running(received_.frames(), o_.frames)) {
      received_.log_if_due([&] { return details(); });
      if (!wait_readable(socket_, stage::kPollPeriod)) continue;
      auto received = try_receive(socket_);
      if (!received) continue;
      std::vector<zmq::message_t>& parts = *received;
      if (parts.size() < 2) continue;
      std::string why;
      const auto h = header_of(parts[1], &why);
      if (!h) {
        spdlog::warn("ignored a message: {}", why);
        continue;
      }
      const std::string peer = parts[0].to_string();
      switch (h->type) {
        case MessageType::Hello: on_hello(peer, *h, parts); break;
        case MessageType::Frame:
          if (!on_frame(peer, *h, parts)) return 0;  // stopped while waiting for a slot
          break;
        case MessageType::Verdict:
          if (!on_verdict(peer, *h)) return 0;  // stopped while waiting for a slot
          break;
        case MessageType::End: on_end(peer, *h, parts); break;
        default: spdlog::warn("ignored a {} message", to_string(h->type)); break;
      }
    }
    const auto total = received_.total();
    spdlog::info("bridge receive into ring {} ended ({}): published {} frames in {:.1f} s ({:.1f} frames/s); {}", o_.ring,
                 stage::end_reason("frames done"), total.frames, total.seconds, total.frames_per_s(), details());
    return 0;
  }

 private:
  void reply(const std::string& peer, const MessageHeader& h, std::optional<json> body = std::nullopt) {
    std::vector<zmq::message_t> parts;
    parts.emplace_back(peer);
    parts.push_back(header_part(h));
    if (body) parts.emplace_back(body->dump());
    (void)zmq::send_multipart(socket_, parts, zmq::send_flags::dontwait);
  }

  void refuse(const std::string& peer, std::uint32_t epoch, const std::string& why) {
    spdlog::error("refused a sender: {}", why);
    reply(peer, {.type = MessageType::Refused, .epoch = epoch}, json{{"why", why}});
  }

  void on_hello(const std::string& peer, const MessageHeader& h, const std::vector<zmq::message_t>& parts) {
    json hello;
    try {
      hello = json::parse(parts.size() > 2 ? parts[2].to_string() : std::string{});
    } catch (const json::exception& e) {
      refuse(peer, h.epoch, fmt::format("HELLO without valid JSON: {}", e.what()));
      return;
    }
    if (!peer_.empty() && peer != peer_ && monotonic_ns() - last_heard_ns_ < kTakeoverSilenceNs) {
      refuse(peer, h.epoch,
             fmt::format("ring {} already has a sender ({}), heard from {:.1f} s ago: one sender per ring", o_.ring,
                         sender_, stage::seconds(monotonic_ns() - last_heard_ns_)));
      return;
    }
    ring::RingGeometry geometry;
    try {
      const auto format = parse_pixel_format(hello.at("pixel_format").get<std::string>());
      if (!format) throw ConfigError(fmt::format("unknown pixel format {}", hello.at("pixel_format").dump()));
      geometry.frame = {.width = hello.at("width").get<std::uint32_t>(),
                        .height = hello.at("height").get<std::uint32_t>(),
                        .pixel_format = *format,
                        .stride_bytes = hello.at("stride_bytes").get<std::uint64_t>()};
      geometry.slot_count = o_.slots;
      geometry.max_consumers = o_.max_consumers;
      geometry.validate();
      every_ = hello.at("mode").get<std::string>() == "every";
      if (writer_ && !(writer_->segment().geometry().frame == geometry.frame)) {
        throw ConfigError(fmt::format("the sender's frames are {}, ring {} here holds {}: restart the receiver with a "
                                      "fresh ring, or send the ring this one was made for",
                                      geometry.to_string(), o_.ring, writer_->segment().geometry().to_string()));
      }
      if (!writer_) {
        writer_.emplace(ring::RingWriter::create_or_attach(o_.common.instance, o_.ring, geometry));
        spdlog::info("ring {}: {} ({}), for {}", o_.ring, geometry.to_string(),
                     writer_->reattached() ? fmt::format("continuing at sequence {}", writer_->next_sequence())
                                           : std::string{"new"},
                     hello.value("sender", std::string{"?"}));
        if (!stage::wait_for_consumers(*writer_, o_.wait_for_consumers, stage::from_seconds(o_.wait_for_consumers_s))) {
          return;
        }
      }
    } catch (const std::exception& e) {
      refuse(peer, h.epoch, e.what());
      return;
    }
    const std::uint64_t first = hello.value("first_sequence", std::uint64_t{0});
    if (first > writer_->next_sequence()) {
      if (every_ && writer_->next_sequence() > 0) {
        spdlog::warn("ring {}: the sender starts at sequence {}, this ring is at {}: frames {}..{} never reached this "
                     "side (released there before this receiver had them): a gap for every consumer here",
                     o_.ring, first, writer_->next_sequence(), writer_->next_sequence(), first - 1);
      }
      writer_->skip_to(first);
    }
    peer_ = peer;
    sender_ = hello.value("sender", std::string{"?"});
    epoch_ = h.epoch;
    received_this_epoch_ = 0;
    held_.clear();  // frames of the session before, never judged: the sender sends them again
    torn_in_session_ = false;
    last_heard_ns_ = monotonic_ns();
    ++sessions_;
    spdlog::info("session {} from {} ({} mode, ring {} of instance {}): continuing at sequence {}", h.epoch, sender_,
                 every_ ? "every" : "newest", hello.value("ring", std::string{"?"}),
                 hello.value("instance", std::string{"?"}), writer_->next_sequence());
    reply(peer, {.type = MessageType::Welcome,
                 .epoch = epoch_,
                 .sequence = writer_->next_sequence(),
                 .timestamp_or_granted = window()});
  }

  [[nodiscard]] std::uint64_t window() const noexcept { return every_ ? o_.window : 1; }

  // A FRAME: published now, or (sent from the sender's slot) held until its VERDICT. False when
  // a stop came while waiting for a slot.
  bool on_frame(const std::string& peer, const MessageHeader& h, std::vector<zmq::message_t>& parts) {
    if (peer != peer_ || h.epoch != epoch_ || !writer_) return true;  // a session that was replaced
    last_heard_ns_ = monotonic_ns();
    ++received_this_epoch_;
    if (torn_in_session_) return true;  // after a torn frame: the sender starts a new session
    const std::uint64_t frame_bytes = writer_->segment().geometry().frame_bytes();
    if (parts.size() < 3 || parts[2].size() != frame_bytes) {
      spdlog::error("frame {} has {} pixel bytes, expected {}: dropped, session ended", h.sequence,
                    parts.size() < 3 ? 0 : parts[2].size(), frame_bytes);
      peer_.clear();
      return true;
    }
    if ((h.flags & kFlagVerdictFollows) != 0) {
      held_.push_back({.header = h, .pixels = std::move(parts[2]), .intact = std::nullopt});
      return true;
    }
    return publish(h, parts[2]);
  }

  // A VERDICT: publishes the held frames, in order, as far as each is judged intact; a frame
  // judged torn is dropped with every frame held after it. False when a stop came while waiting
  // for a slot.
  bool on_verdict(const std::string& peer, const MessageHeader& h) {
    if (peer != peer_ || h.epoch != epoch_ || !writer_) return true;
    last_heard_ns_ = monotonic_ns();
    const auto it = std::ranges::find(held_, h.sequence, [](const Held& f) { return f.header.sequence; });
    if (it == held_.end()) return true;
    it->intact = (h.flags & kFlagIntact) != 0;
    while (!held_.empty() && held_.front().intact) {
      if (!*held_.front().intact) {
        ++torn_;
        spdlog::warn("ring {}: frame {} was overwritten on the sending side while it was sent (the sender was "
                     "evicted there): dropped with the {} frame(s) held after it; the sender resumes with the gap",
                     o_.ring, held_.front().header.sequence, held_.size() - 1);
        held_.clear();
        torn_in_session_ = true;
        return true;
      }
      if (!publish(held_.front().header, held_.front().pixels)) return false;
      held_.pop_front();
    }
    return true;
  }

  // Publishes one frame (once: a sequence published already is acknowledged and dropped), after
  // the gap it carries. False when a stop came while waiting for a slot.
  bool publish(const MessageHeader& h, const zmq::message_t& pixels) {
    const std::uint64_t next = writer_->next_sequence();
    if (h.sequence < next) {  // sent again after a resume: published already
      ++duplicates_;
      credit();
      return true;
    }
    if (h.sequence > next) {
      if ((h.flags & kFlagGap) != 0) {
        spdlog::warn("ring {}: frames {}..{} were lost on the sending side (evicted there): a gap here too", o_.ring,
                     h.gap_first, h.gap_last);
      } else if (every_) {
        spdlog::warn("ring {}: frames {}..{} never arrived: a gap", o_.ring, next, h.sequence - 1);
      }
      writer_->skip_to(h.sequence);
    }
    const auto slot = stage::claim(*writer_, stage::kNoTimeout);
    if (!slot) return false;
    std::memcpy(slot->pixels.data(), pixels.data(), pixels.size());
    writer_->publish({.timestamp_ns = h.timestamp_or_granted,
                      .camera_frame_id = h.camera_frame_id,
                      .source_frames_lost = h.source_frames_lost,
                      .settings_generation = h.settings_generation});
    received_.count(1, pixels.size());
    credit();
    return true;
  }

  void credit() {
    reply(peer_, {.type = MessageType::Credit,
                  .epoch = epoch_,
                  .sequence = writer_->next_sequence(),
                  .timestamp_or_granted = received_this_epoch_ + window()});
  }

  void on_end(const std::string& peer, const MessageHeader& h, const std::vector<zmq::message_t>& parts) {
    if (peer != peer_ || h.epoch != epoch_) return;
    spdlog::info("session {} from {} ended by the sender ({}) at sequence {}", epoch_, sender_,
                 parts.size() > 2 ? parts[2].to_string() : std::string{"{}"}, h.sequence);
    peer_.clear();
  }

  [[nodiscard]] std::string details() const {
    return fmt::format("next sequence {}, sessions {}, duplicates ignored {}{}{}",
                       writer_ ? writer_->next_sequence() : 0, sessions_, duplicates_,
                       torn_ > 0 ? fmt::format(", dropped as overwritten while sent {}", torn_) : "",
                       peer_.empty() ? ", no sender" : fmt::format(", sender {}", sender_));
  }

  static constexpr std::uint64_t kTakeoverSilenceNs = 2'000'000'000;  ///< a new sender may take over after this silence

  const ReceiveOptions& o_;
  zmq::socket_t& socket_;
  std::optional<ring::RingWriter> writer_;
  std::string peer_;    ///< ZeroMQ routing id of the session's sender
  std::string sender_;  ///< what its HELLO said it is
  std::uint32_t epoch_ = 0;
  bool every_ = true;
  std::uint64_t received_this_epoch_ = 0;
  std::uint64_t last_heard_ns_ = 0;
  std::uint64_t sessions_ = 0;
  std::uint64_t duplicates_ = 0;
  /// A frame sent from the sender's slot, waiting for its VERDICT.
  struct Held {
    MessageHeader header;
    zmq::message_t pixels;
    std::optional<bool> intact;  ///< the VERDICT, once it came
  };
  std::deque<Held> held_;
  bool torn_in_session_ = false;  ///< a frame of this session was torn: its later frames are ignored
  std::uint64_t torn_ = 0;
  stage::RateReport received_{"published", stage::kReportPeriod};
};

int run_receive(const ReceiveOptions& o) {
  stage::begin("bridge-receive", o.common, {o.ring});
  require_security(o.listen, o.security, true);
  zmq::context_t context;
  std::unique_ptr<ZapHandler> zap;
  zmq::socket_t socket(context, zmq::socket_type::router);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::router_handover, 1);
  socket.set(zmq::sockopt::heartbeat_ivl, 1000);
  socket.set(zmq::sockopt::heartbeat_timeout, 3000);
  if (!o.security.curve_secret.empty()) {
    const CurveKeyPair own = read_key_file(o.security.curve_secret, true);
    std::set<std::string> allowed;
    for (const auto& file : o.security.curve_allow) allowed.insert(read_key_file(file, false).public_key);
    zap = std::make_unique<ZapHandler>(context, std::move(allowed));
    socket.set(zmq::sockopt::curve_server, 1);
    socket.set(zmq::sockopt::curve_secretkey, own.secret_key);
    socket.set(zmq::sockopt::zap_domain, "framering");
  }
  try {
    socket.bind(o.listen);
  } catch (const zmq::error_t& e) {
    throw ConfigError(fmt::format("--listen {}: cannot bind: {}", o.listen, e.what()));
  }
  spdlog::info("bridge receive: ring {} of instance {} from {}{}", o.ring, o.common.instance, o.listen,
               o.security.curve_secret.empty() ? " without encryption" : fmt::format(
                                                                              " (CURVE, {} senders allowed)",
                                                                              o.security.curve_allow.size()));
  const int code = Receiver(o, socket).run();
  socket.close();
  return code;
}

void add_security_options(CLI::App& cmd, SecurityOptions& s, bool receiver) {
  cmd.add_option("--curve-secret", s.curve_secret, "This side's CURVE key pair (NAME.key from framering bridge keygen)");
  if (receiver) {
    cmd.add_option("--curve-allow", s.curve_allow, "A sender's public key file (NAME.pub) it lets in; repeatable");
  } else {
    cmd.add_option("--curve-server", s.curve_server, "The receiver's public key file (NAME.pub)");
  }
  cmd.add_flag("--insecure", s.insecure, "Allow an unencrypted connection beyond loopback (no CURVE keys)");
}

}  // namespace

void add_bridge_subcommand(CLI::App& app, StageCommand& command) {
  CLI::App* bridge = app.add_subcommand("bridge", "Carry a ring to another machine over ZeroMQ (send | receive | keygen)");
  bridge->require_subcommand(1);
  bridge->footer("docs/bridge-protocol.md has the protocol; a client in any language with ZeroMQ can speak it.");

  auto s = std::make_shared<SendOptions>();
  CLI::App* send = bridge->add_subcommand("send", "Send a ring's frames to a `framering bridge receive`");
  send->footer(
      "A consumer of the local ring. --mode every (default): lossless; frames are released here only once the\n"
      "receiver has published them, so backpressure from the far side reaches this ring's producer, and a\n"
      "sender or receiver that dies and comes back resumes without loss or duplicates. --mode newest: live;\n"
      "one frame at a time when the receiver asks, never slowing the producer.\n"
      "Without CURVE keys only loopback endpoints are allowed (or --insecure).\n"
      "Examples:\n"
      "  framering bridge send --ring raw --to tcp://storage:5570 --curve-secret cam.key --curve-server storage.pub\n"
      "  framering bridge send --ring processed --mode newest --to tcp://127.0.0.1:5571");
  add_common_options(*send, s->common);
  send->add_option("--ring", s->ring, "Ring to send")->capture_default_str();
  send->add_option("--name", s->name, "Consumer name in the ring (framering run: the stage's name)")
      ->envname(kStageEnvName)
      ->capture_default_str();
  send->add_option("--mode", s->mode, "every (lossless) or newest (live)")
      ->check(CLI::IsMember({"every", "newest"}))
      ->capture_default_str();
  send->add_option("--to", s->to, "The receiver's endpoint, e.g. tcp://host:5570")->required();
  send->add_option("--stall-timeout-s", s->stall_timeout_s,
                   "every: the producer evicts this sender after waiting this long for it (far side stalled); 0 = never")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  send->add_option("--dead-timeout-s", s->dead_timeout_s, "every: how long the ring keeps a dead sender's place")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  send->add_option("--ack-timeout-s", s->ack_timeout_s,
                   "Seconds without an answer before starting a new session (resuming from the last acknowledged frame)")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  send->add_option("--wait-for-ring-s", s->wait_for_ring_s, "Seconds to wait for the ring to be created")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  send->add_option("--frames", s->frames, "Stop after this many frames are acknowledged (every) or sent; 0 = until stopped")
      ->capture_default_str();
  add_security_options(*send, s->security, false);
  send->callback([s, &command] {
    command.action = [s] { return run_send(*s); };
    command.rings = [s] {
      return std::vector<RingUse>{{.ring = s->ring,
                                   .role = s->mode == "every" ? RingRole::ConsumesEvery : RingRole::ConsumesNewest,
                                   .dead_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
                                       stage::from_seconds(s->dead_timeout_s))}};
    };
  });

  auto r = std::make_shared<ReceiveOptions>();
  CLI::App* receive = bridge->add_subcommand("receive", "Receive frames from a `framering bridge send` into a ring");
  receive->footer(
      "The producer of the ring here: it takes the sender's frame shape, and publishes every frame with the\n"
      "sequence, timestamps, camera frame id and source losses it had on the sending side. Frames lost there\n"
      "(an eviction) are a gap here too, with the same bounds. One sender per ring at a time.\n"
      "Examples:\n"
      "  framering bridge receive --ring raw --listen tcp://*:5570 --curve-secret storage.key --curve-allow cam.pub\n"
      "  framering bridge receive --ring raw --listen tcp://127.0.0.1:5570");
  add_common_options(*receive, r->common);
  receive->add_option("--ring", r->ring, "Ring to produce")->capture_default_str();
  receive->add_option("--listen", r->listen, "Endpoint to bind")->capture_default_str();
  receive->add_option("--slots", r->slots, "Slots of the ring")->check(CLI::Range(2, 65536))->capture_default_str();
  receive->add_option("--max-consumers", r->max_consumers, "Consumer table entries")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  receive->add_option("--window", r->window, "every: frames the sender may have in flight (credit)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  receive->add_option("--wait-for-consumers", r->wait_for_consumers,
                      "Publish nothing until this many consumers are attached (framering run sets it)")
      ->envname(kStageEnvWaitForConsumers)
      ->capture_default_str();
  receive->add_option("--wait-for-consumers-s", r->wait_for_consumers_s, "How long to wait for them")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  receive->add_option("--frames", r->frames, "Stop after publishing this many frames; 0 = until stopped")
      ->capture_default_str();
  add_security_options(*receive, r->security, true);
  receive->callback([r, &command] {
    command.action = [r] { return run_receive(*r); };
    command.rings = [r] { return std::vector<RingUse>{{.ring = r->ring, .role = RingRole::Produces}}; };
  });

  auto stem = std::make_shared<std::string>();
  CLI::App* keygen = bridge->add_subcommand("keygen", "Write a CURVE key pair: NAME.key (secret, 0600) and NAME.pub");
  keygen->add_option("name", *stem, "Path and name of the pair, without extension")->required();
  keygen->callback([stem, &command] {
    command.action = [stem] {
      const CurveKeyPair pair = write_key_pair(*stem);
      fmt::print("wrote {}.key (keep it on this machine) and {}.pub (give it to the other side); public key {}\n", *stem,
                 *stem, pair.public_key);
      return 0;
    };
    command.rings = [] { return std::vector<RingUse>{}; };
  });
}

}  // namespace framering::bridge
