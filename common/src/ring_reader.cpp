#include "framering/common/ring_reader.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"
#include "framering/common/futex.hpp"
#include "framering/common/process_identity.hpp"

namespace framering::ring {
namespace {

using std::memory_order_acquire;
using std::memory_order_relaxed;
using std::memory_order_release;
using std::memory_order_seq_cst;

constexpr std::uint64_t kMaxSleepNs = 100'000'000;  // wake at least this often to heartbeat

constexpr auto u32(ConsumerState state) { return static_cast<std::uint32_t>(state); }

void validate_consumer_name(std::string_view segment, std::string_view name) {
  const bool ok_chars = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  if (name.empty() || name.size() >= kConsumerNameBytes || !ok_chars) {
    throw SegmentError(fmt::format("/dev/shm/{}: consumer name '{}' is not valid: expected 1 to {} characters of "
                                   "A-Z, a-z, 0-9, '_' or '-'",
                                   segment, name, kConsumerNameBytes - 1));
  }
}

std::string_view entry_name(const ConsumerEntry& entry) {
  return {entry.identity.name, ::strnlen(entry.identity.name, kConsumerNameBytes)};
}

std::string_view kind_name(std::uint32_t kind) {
  return kind == static_cast<std::uint32_t>(ConsumerKind::Every) ? "every" : "newest";
}

std::uint64_t initial_cursor(ConsumerKind kind, std::uint64_t published) {
  // Every starts at the next frame to be published; Newest may take the newest existing one.
  if (kind == ConsumerKind::Every) return published;
  return published > 0 ? published - 1 : 0;
}

// ---- attach, step by step (docs/ring-layout.md §10) --------------------------------------------
// Every step below runs with the consumer-table lock held: RingReader::attach takes it once,
// after Segment::open, and keeps it across all its attempts (sleeps included) until it returns
// or throws. The lock keeps out other attaching and detaching consumers and an attaching
// producer. The producer's Active -> Evicted CAS on every-consumer entries does not take it,
// nor would a process attaching without it: that is why `state` and `pid` are still changed
// with compare-and-swap here.

constexpr int kAttachAttempts = 200;

// Who is attaching: everything an entry is filled with, worked out before the lock is taken.
struct AttachRequest {
  std::string_view ring;  ///< for messages
  std::string_view name;
  ConsumerKind kind;
  std::uint32_t pid;
  std::uint64_t start_ticks;  ///< /proc/self/stat field 22: tells a recycled pid apart
  std::uint64_t stall_timeout_ns;
  std::uint64_t dead_timeout_ns;

  [[nodiscard]] std::uint32_t kind_code() const noexcept { return static_cast<std::uint32_t>(kind); }
};

// What looking for the name's own entry found.
struct OwnEntry {
  enum class Outcome {
    Absent,    ///< no entry holds the name (dead mid-attach ones were freed on the way)
    PeerBusy,  ///< a live process is mid-attach under the name, or won a race for its entry
    Resumed,   ///< the entry at `index` is ours now
  } outcome = Outcome::Absent;
  std::uint32_t index = 0;
  bool was_evicted = false;  ///< Resumed: the producer had evicted it while its process was dead
};

// No latency figures yet (a new consumer, or a new process resuming an entry).
void clear_latency(ConsumerEntry& e) noexcept {
  at(e.identity.latency.p50_ns).store(0, memory_order_relaxed);
  at(e.identity.latency.p99_ns).store(0, memory_order_relaxed);
  at(e.identity.latency.max_ns).store(0, memory_order_relaxed);
  at(e.identity.latency.frames).store(0, memory_order_relaxed);
}

// Takes over entry `e`, found holding the request's name for dead process `old_pid`, kind
// checked. False when another process changed its pid first (it resumed the entry). Keeps the
// counters, and for an every consumer its cursor and state (if Evicted, it rejoins on its next
// read); a newest consumer starts again from the newest frame, Active.
bool take_over_entry(ConsumerEntry& e, std::uint32_t old_pid, const AttachRequest& request,
                     const ProducerControl& control) {
  // Start time before pid: a reader of the pair sees (dead pid, new ticks), still dead, never
  // (our pid, the dead one's ticks).
  e.identity.start_time_ticks = request.start_ticks;
  if (!at(e.identity.pid).compare_exchange_strong(old_pid, request.pid, memory_order_seq_cst)) return false;
  e.identity.stall_timeout_ns = request.stall_timeout_ns;
  e.identity.dead_timeout_ns = request.dead_timeout_ns;
  at(e.identity.attach_count).fetch_add(1, memory_order_relaxed);
  clear_latency(e);  // the figures were the old process's
  at(e.hot.ready).store(0, memory_order_relaxed);
  at(e.hot.heartbeat_ns).store(monotonic_ns(), memory_order_relaxed);
  if (request.kind == ConsumerKind::Newest) {
    at(e.hot.cursor).store(initial_cursor(request.kind, at(control.cursor.published).load(memory_order_acquire)),
                           memory_order_relaxed);
    at(e.identity.state).store(u32(ConsumerState::Active), memory_order_seq_cst);
  }
  return true;
}

// Step 1, under the table lock: the entries that are not Free and hold the request's name, in
// index order. A Claiming one belongs to a process that died mid-attach (it is freed and the
// scan goes on) or to a live one attaching without the lock (PeerBusy). The first other one is
// taken over if its process is dead (Resumed; PeerBusy and the scan goes on if another process
// took it first). Throws SegmentError when its process is alive (the name is in use) or it was
// attached as the other kind.
OwnEntry resume_own_entry(Segment& segment, const AttachRequest& request) {
  OwnEntry found;
  for (std::uint32_t i = 0; i < segment.max_consumers(); ++i) {
    ConsumerEntry& e = segment.consumer(i);
    const std::uint32_t state = at(e.identity.state).load(memory_order_acquire);
    if (state == u32(ConsumerState::Free) || entry_name(e) != request.name) continue;
    const std::uint32_t old_pid = at(e.identity.pid).load(memory_order_acquire);
    const bool old_alive = is_process_alive(static_cast<pid_t>(old_pid), e.identity.start_time_ticks);
    if (state == u32(ConsumerState::Claiming)) {
      if (old_alive) {
        found.outcome = OwnEntry::Outcome::PeerBusy;
      } else {
        std::uint32_t claiming = state;
        at(e.identity.state).compare_exchange_strong(claiming, u32(ConsumerState::Free), memory_order_seq_cst);
      }
      continue;
    }
    if (old_alive) {
      throw SegmentError(fmt::format("ring {} (/dev/shm/{}): consumer name '{}' is in use by live pid {}{}: "
                                     "choose another name",
                                     request.ring, segment.name(), request.name, old_pid,
                                     old_pid == request.pid ? " (this process)" : ""));
    }
    if (e.identity.kind != request.kind_code()) {
      throw SegmentError(fmt::format("ring {} (/dev/shm/{}): consumer '{}' was attached as a {} consumer, not "
                                     "{}: choose another name",
                                     request.ring, segment.name(), request.name, kind_name(e.identity.kind),
                                     kind_name(request.kind_code())));
    }
    if (!take_over_entry(e, old_pid, request, segment.control())) {
      found.outcome = OwnEntry::Outcome::PeerBusy;  // another restart won the race: look again
      continue;
    }
    return {OwnEntry::Outcome::Resumed, i, state == u32(ConsumerState::Evicted)};
  }
  return found;
}

// Fills entry `e`, just claimed (Free -> Claiming), for a new consumer and makes it Active.
void fill_new_entry(ConsumerEntry& e, const AttachRequest& request, const ProducerControl& control) {
  e.identity.start_time_ticks = request.start_ticks;  // before pid: see take_over_entry
  at(e.identity.pid).store(request.pid, memory_order_release);
  e.identity.kind = request.kind_code();
  e.identity.attach_count = 1;
  e.identity.stall_timeout_ns = request.stall_timeout_ns;
  e.identity.dead_timeout_ns = request.dead_timeout_ns;
  std::memset(e.identity.name, 0, sizeof e.identity.name);
  std::memcpy(e.identity.name, request.name.data(), request.name.size());
  std::memset(&e.counters, 0, sizeof e.counters);
  std::memset(&e.producer_side, 0, sizeof e.producer_side);
  clear_latency(e);
  at(e.hot.ready).store(0, memory_order_relaxed);
  at(e.hot.heartbeat_ns).store(monotonic_ns(), memory_order_relaxed);
  // Cursor first, then state (both seq_cst): the producer's gating scan loads state, then
  // cursor, so it never sees this entry Active with a stale cursor.
  at(e.hot.cursor).store(initial_cursor(request.kind, at(control.cursor.published).load(memory_order_seq_cst)),
                         memory_order_seq_cst);
  at(e.identity.state).store(u32(ConsumerState::Active), memory_order_seq_cst);
}

// Whether an entry below `index` that is not Free holds `name`.
bool lower_entry_holds_name(const Segment& segment, std::uint32_t index, std::string_view name) {
  bool held = false;
  for (std::uint32_t j = 0; j < index; ++j) {
    const ConsumerEntry& other = segment.consumer(j);
    if (at(other.identity.state).load(memory_order_acquire) != u32(ConsumerState::Free) && entry_name(other) == name) {
      held = true;
    }
  }
  return held;
}

// Step 3, under the table lock: claims the first Free entry (CAS Free -> Claiming) and fills it
// for a new consumer; returns its index. nullopt when no entry is Free, or when, with this entry
// Active, a lower one turns out to hold the same name: two processes attaching the same name at
// once (one of them without the lock) each took a free entry, and the one at the higher index
// gives its entry back (the caller then goes on with step 4, as when the table is full).
std::optional<std::uint32_t> take_free_entry(Segment& segment, const AttachRequest& request) {
  for (std::uint32_t i = 0; i < segment.max_consumers(); ++i) {
    ConsumerEntry& e = segment.consumer(i);
    std::uint32_t expected = u32(ConsumerState::Free);
    if (!at(e.identity.state).compare_exchange_strong(expected, u32(ConsumerState::Claiming), memory_order_seq_cst)) {
      continue;
    }
    fill_new_entry(e, request, segment.control());
    if (lower_entry_holds_name(segment, i, request.name)) {
      at(e.identity.pid).store(0, memory_order_relaxed);
      at(e.identity.state).store(u32(ConsumerState::Free), memory_order_seq_cst);
      return std::nullopt;
    }
    return i;
  }
  return std::nullopt;
}

// Step 4, under the table lock: frees (CAS -> Free) every entry whose process is dead and that
// holds nothing the producer waits for: newest consumers, and every consumers that are Evicted
// or stuck Claiming (an Active every consumer gates the producer: its frames are owed until the
// producer evicts it). Returns whether it freed any.
bool reclaim_dead_entries(Segment& segment, std::string_view ring) {
  bool reclaimed = false;
  for (std::uint32_t i = 0; i < segment.max_consumers(); ++i) {
    ConsumerEntry& e = segment.consumer(i);
    std::uint32_t state = at(e.identity.state).load(memory_order_acquire);
    if (state == u32(ConsumerState::Free)) continue;
    const bool gating = e.identity.kind == static_cast<std::uint32_t>(ConsumerKind::Every) &&
                        state == u32(ConsumerState::Active);
    if (gating || is_process_alive(static_cast<pid_t>(e.identity.pid), e.identity.start_time_ticks)) continue;
    if (at(e.identity.state).compare_exchange_strong(state, u32(ConsumerState::Free), memory_order_seq_cst)) {
      spdlog::info("ring {}: reclaimed the entry of dead consumer '{}' (pid {})", ring, entry_name(e), e.identity.pid);
      reclaimed = true;
    }
  }
  return reclaimed;
}

// Each poll at most kMaxSpin; the deadline's lead and window together too (plan_deadline_wait).
WaitTuning clamped(WaitTuning t) noexcept {
  const auto clamp = [](std::chrono::nanoseconds d) { return std::clamp(d, std::chrono::nanoseconds{0}, kMaxSpin); };
  return WaitTuning{.spin = clamp(t.spin), .lead = clamp(t.lead), .window = clamp(t.window)};
}

// How many pauses between two looks at the clock while polling (a pause is ~40 cycles on
// older x86, ~140 on Skylake and later: the clock is read every few hundred ns at most).
constexpr int kPausesPerClockRead = 8;

}  // namespace

RingReader::RingReader(Segment segment, std::uint32_t index, const ReaderOptions& options, std::string name,
                       bool resumed)
    : segment_(std::move(segment)),
      index_(index),
      kind_(options.kind),
      name_(std::move(name)),
      resumed_(resumed),
      slot_count_(segment_.slot_count()),
      wait_(options.wait),
      wait_tuning_(clamped(options.wait_tuning)) {
  cursor_ = at(entry().hot.cursor).load(memory_order_acquire);
}

RingReader RingReader::attach(std::string_view instance, std::string_view ring, const ReaderOptions& options) {
  Segment segment = Segment::open(instance, ring, options.expected, options.wait_for_segment);
  const auto self = static_cast<std::uint32_t>(::getpid());
  const std::string name = options.name.empty()
                               ? fmt::format("{}-{}", kind_name(static_cast<std::uint32_t>(options.kind)), self)
                               : options.name;
  validate_consumer_name(segment.name(), name);
  const AttachRequest request{.ring = ring,
                              .name = name,
                              .kind = options.kind,
                              .pid = self,
                              .start_ticks = process_start_ticks(::getpid()),
                              .stall_timeout_ns = static_cast<std::uint64_t>(options.stall_timeout.count()),
                              .dead_timeout_ns = static_cast<std::uint64_t>(options.dead_timeout.count())};

  // Under the consumer-table lock, so that two processes attaching the same name (or a Python
  // reader, which has no CAS) cannot take the same entry. Step numbers: docs/ring-layout.md §10.
  const Segment::TableLock table_lock = segment.lock_consumer_table();
  for (int attempt = 0; attempt < kAttachAttempts; ++attempt) {
    // 1. Our name's entry, left by a dead process: resume it.
    const OwnEntry own = resume_own_entry(segment, request);
    if (own.outcome == OwnEntry::Outcome::Resumed) {
      RingReader reader(std::move(segment), own.index, options, name, true);
      spdlog::info("ring {}: consumer '{}' resumed its entry at cursor {}{}", ring, name, reader.cursor_,
                   own.was_evicted ? " (it was evicted meanwhile)" : "");
      return reader;
    }
    // 2. A live peer is mid-attach under our name: give it a moment (the lock stays held).
    if (own.outcome == OwnEntry::Outcome::PeerBusy) {
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
      continue;
    }
    // 3. A free entry: a new consumer.
    if (const auto index = take_free_entry(segment, request)) {
      return RingReader(std::move(segment), *index, options, name, false);
    }
    // 4. The table is full: free the entries of dead processes the producer does not wait for,
    // and look again; nothing to free on any attempt but the first is an error.
    if (!reclaim_dead_entries(segment, ring) && attempt > 0) {
      throw SegmentError(fmt::format("ring {} (/dev/shm/{}): its consumer table is full ({} entries, all held by "
                                     "live processes or by every-consumers the producer still waits for)",
                                     ring, segment.name(), segment.max_consumers()));
    }
  }
  throw SegmentError(fmt::format("ring {}: could not attach consumer '{}': its entry kept changing", ring, name));
}

RingReader::RingReader(RingReader&& other) noexcept
    : segment_(std::move(other.segment_)),
      index_(other.index_),
      kind_(other.kind_),
      name_(std::move(other.name_)),
      resumed_(other.resumed_),
      slot_count_(other.slot_count_),
      cursor_(other.cursor_),
      pending_gap_(other.pending_gap_),
      rate_(other.rate_),
      latency_(other.latency_),
      latency_stored_ns_(other.latency_stored_ns_),
      wait_(other.wait_),
      wait_tuning_(other.wait_tuning_),
      estimator_(other.estimator_),
      wait_stats_(other.wait_stats_) {
  other.moved_from_ = true;
}

RingReader::~RingReader() {
  if (moved_from_) return;
  const Segment::TableLock table_lock = segment_.lock_consumer_table();
  ConsumerEntry& e = entry();
  if (at(e.identity.pid).load(memory_order_acquire) != static_cast<std::uint32_t>(::getpid())) return;
  at(e.hot.ready).store(0, memory_order_relaxed);
  at(e.identity.pid).store(0, memory_order_relaxed);
  at(e.identity.state).store(u32(ConsumerState::Free), memory_order_seq_cst);
  // A producer waiting for this (every) consumer can go on now.
  ProducerControl& control = segment_.control();
  if (at(control.space.producer_waiting).load(memory_order_seq_cst) != 0) {
    at(control.space.space_word).fetch_add(1, memory_order_release);
    futex_wake(&control.space.space_word, INT_MAX);
  }
}

bool RingReader::try_view(std::uint64_t sequence, FrameView& out) const noexcept {
  const auto slot = static_cast<std::uint32_t>(sequence % slot_count_);
  FrameHeader& header = segment_.frame_header(slot);
  const std::uint64_t expected = 2 * sequence + 2;
  // acquire: pairs with the producer's release store of 2s+2 in RingWriter::publish.
  const std::uint64_t v1 = at(header.seqlock).load(memory_order_acquire);
  if (v1 != expected) return false;
  out.sequence = header.sequence;
  out.timestamp_ns = header.timestamp_ns;
  out.publish_monotonic_ns = header.publish_monotonic_ns;
  out.camera_frame_id = header.camera_frame_id;
  out.source_frames_lost = header.source_frames_lost;
  out.settings_generation = header.settings_generation;
  // acquire fence: the metadata loads above happen before the re-check below.
  std::atomic_thread_fence(memory_order_acquire);
  if (at(header.seqlock).load(memory_order_relaxed) != v1 || out.sequence != sequence) return false;
  const SegmentHeader& geometry = segment_.header();
  out.width = geometry.width;
  out.height = geometry.height;
  out.pixel_format = static_cast<PixelFormat>(geometry.pixel_format);
  out.stride_bytes = geometry.stride_bytes;
  out.pixels = std::span<const std::byte>(segment_.slot_pixels(slot), geometry.frame_bytes);
  out.gap.reset();
  out.slot = slot;
  out.seqlock = v1;
  return true;
}

void RingReader::note_latency(const FrameView& frame) noexcept {
  const std::uint64_t now_ns = monotonic_ns();
  latency_.add(now_ns > frame.publish_monotonic_ns ? now_ns - frame.publish_monotonic_ns : 0);
  if (wait_ == WaitStrategy::Deadline) estimator_.add({.sequence = frame.sequence, .publish_ns = frame.publish_monotonic_ns});
  if (now_ns - latency_stored_ns_ >= kLatencyStorePeriodNs) store_latency(now_ns);
}

void RingReader::store_latency(std::uint64_t now_ns) noexcept {
  const LatencyWindow::Figures f = latency_.figures();
  ConsumerEntry& e = entry();
  at(e.identity.latency.p50_ns).store(f.p50_ns, memory_order_relaxed);
  at(e.identity.latency.p99_ns).store(f.p99_ns, memory_order_relaxed);
  at(e.identity.latency.max_ns).store(f.max_ns, memory_order_relaxed);
  at(e.identity.latency.frames).store(f.frames, memory_order_relaxed);
  latency_stored_ns_ = now_ns;
}

bool RingReader::is_intact(const FrameView& frame) const noexcept {
  // acquire fence: every pixel load the caller made happens before this re-check (Boehm 2012).
  std::atomic_thread_fence(memory_order_acquire);
  return at(segment_.frame_header(frame.slot).seqlock).load(memory_order_relaxed) == frame.seqlock;
}

// Ready and polling (the reasoning behind every strategy's interplay with the producer):
//
// The producer wakes only consumers whose `ready` is 1 (RingWriter::wake_ready_consumers:
// seq_cst load, exchange to 0, wake_word += 1, FUTEX_WAKE). `ready` exists so that a consumer
// that is not asleep costs the producer no syscall. A polling consumer is not asleep, so it
// keeps `ready` at 0 while it polls: the producer makes no syscall for it, and its publish
// costs exactly what it costs with no waiting consumer. Nothing is lost by that: the Dekker
// pair (consumer: store ready = 1, load published; producer: store published, load ready) is
// only needed by a consumer about to *sleep*, and every strategy ends in sleep_until_woken,
// which does the whole handshake (load wake_word, store ready = 1 seq_cst, re-load published
// seq_cst, sleep) before it sleeps. A poll that sees `published` move returns at once; one
// that does not see it (the store is not yet visible) ends at its bound and falls into the
// handshake, whose seq_cst re-load then sees it. The deadline strategy's first sleep sets
// `ready` (an early frame must wake it: that wake is the futex strategy's, cost and all) and
// clears it (relaxed) when the timed sleep ends; a producer that still sees the 1 after that
// makes one FUTEX_WAKE with nobody on the word, at most once per publish per consumer: the
// futex strategy's cost, never more. So the producer's wake cost is bounded by today's for
// every strategy, and each poll is bounded in time (WaitTuning, at most kMaxSpin; and the
// deadline one only around a frame that is due: plan_deadline_wait).
void RingReader::wait_for_publication(std::uint64_t after_published, std::uint64_t deadline_ns) noexcept {
  const std::uint64_t now_ns = monotonic_ns();
  std::uint64_t poll_until_ns = 0;
  switch (wait_) {
    case WaitStrategy::Futex:
      break;
    case WaitStrategy::Spin:
      poll_until_ns = now_ns + static_cast<std::uint64_t>(wait_tuning_.spin.count());
      break;
    case WaitStrategy::Deadline:
      if (const auto plan = plan_deadline(after_published, now_ns)) {
        if (plan->sleep_until_ns > now_ns) {
          // Too early to poll: sleep (Ready) until just before the frame is due; an early frame
          // wakes us. The caller re-checks and calls again, which then polls.
          ++wait_stats_.early_sleeps;
          sleep_until_woken(after_published, std::min(plan->sleep_until_ns, deadline_ns));
          return;
        }
        poll_until_ns = plan->spin_until_ns;
      }
      break;
  }
  if (poll_until_ns > now_ns && poll_for_publication(after_published, std::min(poll_until_ns, deadline_ns))) return;
  sleep_until_woken(after_published, deadline_ns);
}

void RingReader::sleep_until_woken(std::uint64_t after_published, std::uint64_t until_ns) noexcept {
  ConsumerEntry& e = entry();
  ProducerControl& control = segment_.control();
  const std::uint32_t word = at(e.hot.wake_word).load(memory_order_acquire);
  // Ready, then re-check (seq_cst Dekker with the producer's `published` store and its load
  // of `ready` in RingWriter::wake_ready_consumers): either it sees Ready and wakes us, or we
  // see its new frame here and do not sleep.
  at(e.hot.ready).store(1, memory_order_seq_cst);
  const bool evicted = at(e.identity.state).load(memory_order_acquire) == u32(ConsumerState::Evicted);
  if (at(control.cursor.published).load(memory_order_seq_cst) <= after_published && !evicted) {
    const std::uint64_t now_ns = monotonic_ns();
    if (until_ns > now_ns) {
      ++wait_stats_.sleeps;
      futex_wait(&e.hot.wake_word, word, std::chrono::nanoseconds{std::min(until_ns - now_ns, kMaxSleepNs)});
    }
  }
  at(e.hot.ready).store(0, memory_order_relaxed);
}

bool RingReader::poll_for_publication(std::uint64_t after_published, std::uint64_t until_ns) noexcept {
  const ConsumerEntry& e = entry();
  const ProducerControl& control = segment_.control();
  const std::uint64_t start_ns = monotonic_ns();
  ++wait_stats_.polls;
  const auto done = [&](bool caught) {
    wait_stats_.poll_ns += monotonic_ns() - start_ns;
    if (caught) ++wait_stats_.polls_caught;
    return caught;
  };
  for (;;) {
    for (int i = 0; i < kPausesPerClockRead; ++i) {
      // acquire: pairs with the producer's seq_cst store of `published` (the frame's seqlock
      // store is before it); the caller re-reads it seq_cst anyway.
      if (at(control.cursor.published).load(memory_order_acquire) > after_published) return done(true);
      cpu_relax();
    }
    if (kind_ == ConsumerKind::Every &&
        at(e.identity.state).load(memory_order_acquire) == u32(ConsumerState::Evicted)) {
      return done(true);  // the caller rejoins at once
    }
    // No sched_yield here: measured (bench ring, 2-core VM under load), a yielding poll got the
    // CPU back hundreds of µs later (wake p50 180 µs against 12 µs for futex) and outlived its
    // budget. A poll that shares the producer's CPU delays the frame it polls for instead; hence
    // bounded budgets, and bench ring --newest-cpu to keep a polling consumer off that CPU.
    if (monotonic_ns() >= until_ns) return done(false);
  }
}

std::optional<DeadlinePlan> RingReader::plan_deadline(std::uint64_t after_published, std::uint64_t now_ns) noexcept {
  // The newest frame's publish time, if its header is intact (the seqlock as in try_view).
  const std::uint64_t published = at(segment_.control().cursor.published).load(memory_order_acquire);
  if (published > 0) {
    const std::uint64_t newest = published - 1;
    const FrameHeader& header = segment_.frame_header(static_cast<std::uint32_t>(newest % slot_count_));
    const std::uint64_t v1 = at(header.seqlock).load(memory_order_acquire);
    const std::uint64_t publish_ns = header.publish_monotonic_ns;
    std::atomic_thread_fence(memory_order_acquire);
    if (v1 == 2 * newest + 2 && at(header.seqlock).load(memory_order_relaxed) == v1) {
      estimator_.add({.sequence = newest, .publish_ns = publish_ns});
    }
  }
  const auto expected_ns = estimator_.expected_publish_ns(std::max(after_published, published));
  if (!expected_ns) return std::nullopt;
  return plan_deadline_wait(now_ns, *expected_ns, wait_tuning_);
}

std::expected<FrameView, ReadError> RingReader::read(std::chrono::nanoseconds timeout) noexcept {
  const std::uint64_t deadline_ns = monotonic_ns() + static_cast<std::uint64_t>(std::max<std::int64_t>(timeout.count(), 0));
  return kind_ == ConsumerKind::Every ? read_every(deadline_ns) : read_newest(deadline_ns);
}

std::expected<FrameView, ReadError> RingReader::read_newest(std::uint64_t deadline_ns) noexcept {
  ConsumerEntry& e = entry();
  const ProducerControl& control = segment_.control();
  FrameView view;
  for (;;) {
    const std::uint64_t published = at(control.cursor.published).load(memory_order_seq_cst);
    if (published > cursor_) {
      const std::uint64_t newest = published - 1;
      if (try_view(newest, view)) {
        at(e.counters.frames_skipped).fetch_add(newest - cursor_, memory_order_relaxed);
        cursor_ = newest + 1;
        at(e.hot.cursor).store(cursor_, memory_order_relaxed);
        note_latency(view);
        return view;
      }
      // Either the producer lapped that slot between our two loads (take the newer frame), or
      // `newest` was skipped (RingWriter::skip_to) and never published: wait for the next one.
      if (at(control.cursor.published).load(memory_order_seq_cst) != published) continue;
      const std::uint64_t now_ns = monotonic_ns();
      if (now_ns >= deadline_ns) return std::unexpected(ReadError::Timeout);
      wait_for_publication(published, deadline_ns);
      continue;
    }
    const std::uint64_t now_ns = monotonic_ns();
    at(e.hot.heartbeat_ns).store(now_ns, memory_order_relaxed);
    if (latency_.dirty()) store_latency(now_ns);  // idle: the figures are current while it waits
    if (now_ns >= deadline_ns) return std::unexpected(ReadError::Timeout);
    wait_for_publication(cursor_, deadline_ns);
  }
}

std::expected<FrameView, ReadError> RingReader::read_every(std::uint64_t deadline_ns) noexcept {
  ConsumerEntry& e = entry();
  const ProducerControl& control = segment_.control();
  FrameView view;
  for (;;) {
    if (at(e.identity.state).load(memory_order_acquire) == u32(ConsumerState::Evicted)) rejoin();
    const std::uint64_t published = at(control.cursor.published).load(memory_order_seq_cst);
    if (published > cursor_) {
      if (try_view(cursor_, view)) {
        view.gap = pending_gap_;  // cleared at release(): a repeated read() reports it again
        note_latency(view);
        return view;
      }
      // Frame cursor_ was overwritten: only possible once evicted (or in the instant of
      // rejoining). Everything older than the ring's oldest possibly-intact frame is lost.
      const std::uint64_t oldest = published >= slot_count_ ? published - slot_count_ + 1 : 0;
      const std::uint64_t resume = std::max(cursor_ + 1, oldest);
      lose(cursor_, resume - 1);
      store_cursor(resume);
      continue;
    }
    const std::uint64_t now_ns = monotonic_ns();
    at(e.hot.heartbeat_ns).store(now_ns, memory_order_relaxed);
    if (latency_.dirty()) store_latency(now_ns);  // idle: the figures are current while it waits
    if (now_ns >= deadline_ns) return std::unexpected(ReadError::Timeout);
    wait_for_publication(cursor_, deadline_ns);
  }
}

std::optional<FrameView> RingReader::read_ahead(std::uint64_t sequence, std::chrono::nanoseconds timeout) noexcept {
  if (kind_ != ConsumerKind::Every || sequence < cursor_) return std::nullopt;
  const std::uint64_t start_ns = monotonic_ns();
  const std::uint64_t deadline_ns =
      start_ns + static_cast<std::uint64_t>(std::min<std::int64_t>(std::max<std::int64_t>(timeout.count(), 0),
                                                                   std::int64_t{1} << 62));
  ConsumerEntry& e = entry();
  FrameView view;
  for (;;) {
    const std::uint64_t published = at(segment_.control().cursor.published).load(memory_order_seq_cst);
    if (published > sequence) {
      if (try_view(sequence, view)) {
        note_latency(view);
        return view;
      }
      return std::nullopt;  // skipped, or overwritten after an eviction: read() reports it
    }
    const std::uint64_t now_ns = monotonic_ns();
    at(e.hot.heartbeat_ns).store(now_ns, memory_order_relaxed);
    if (latency_.dirty()) store_latency(now_ns);
    if (now_ns >= deadline_ns) return std::nullopt;
    wait_for_publication(sequence, deadline_ns);
  }
}

void RingReader::release_until(std::uint64_t next) noexcept {
  if (kind_ != ConsumerKind::Every || next <= cursor_) return;
  ConsumerEntry& e = entry();
  at(e.counters.frames_read).fetch_add(next - cursor_, memory_order_relaxed);
  pending_gap_.reset();  // delivered with the frame at the old cursor
  store_cursor(next);
  const std::uint64_t now_ns = monotonic_ns();
  at(e.hot.heartbeat_ns).store(now_ns, memory_order_relaxed);
  if (const auto rate = rate_.tick(now_ns)) at(e.counters.rate_milli_fps).store(*rate, memory_order_relaxed);
}

void RingReader::rejoin() noexcept {
  ConsumerEntry& e = entry();
  const std::uint64_t published = at(segment_.control().cursor.published).load(memory_order_seq_cst);
  const std::uint64_t oldest = published >= slot_count_ ? published - slot_count_ + 1 : 0;
  const std::uint64_t resume = std::max(cursor_, oldest);
  const std::uint64_t old_cursor = cursor_;
  if (resume > cursor_) lose(cursor_, resume - 1);
  store_cursor(resume);  // cursor before state: see attach()
  std::uint32_t expected = u32(ConsumerState::Evicted);
  at(e.identity.state).compare_exchange_strong(expected, u32(ConsumerState::Active), memory_order_seq_cst);
  spdlog::warn("ring {}: consumer '{}' had been evicted by the producer at cursor {}; rejoined at {} ({} frames lost)",
               segment_.ring_name(), name_, old_cursor, resume, resume - old_cursor);
}

void RingReader::lose(std::uint64_t first, std::uint64_t last) noexcept {
  if (first > last) return;
  ConsumerEntry& e = entry();
  if (pending_gap_ && pending_gap_->last + 1 == first) {
    pending_gap_->last = last;
  } else {
    pending_gap_ = Gap{first, last};
    at(e.counters.gaps).fetch_add(1, memory_order_relaxed);
    at(e.counters.last_gap_first).store(first, memory_order_relaxed);
  }
  at(e.counters.last_gap_last).store(last, memory_order_relaxed);
  at(e.counters.frames_lost).fetch_add(last - first + 1, memory_order_relaxed);
}

void RingReader::store_cursor(std::uint64_t cursor) noexcept {
  cursor_ = cursor;
  ConsumerEntry& e = entry();
  if (kind_ != ConsumerKind::Every) {
    at(e.hot.cursor).store(cursor, memory_order_relaxed);
    return;
  }
  // seq_cst: Dekker with the producer's seq_cst store of producer_waiting before it sleeps.
  at(e.hot.cursor).store(cursor, memory_order_seq_cst);
  ProducerControl& control = segment_.control();
  if (at(control.space.producer_waiting).load(memory_order_seq_cst) != 0) {
    at(control.space.space_word).fetch_add(1, memory_order_release);
    futex_wake(&control.space.space_word, INT_MAX);
  }
}

bool RingReader::release(const FrameView& frame) noexcept {
  const bool intact = is_intact(frame);
  ConsumerEntry& e = entry();
  if (intact) {
    at(e.counters.frames_read).fetch_add(1, memory_order_relaxed);
  } else {
    at(e.counters.frames_torn).fetch_add(1, memory_order_relaxed);
  }
  if (kind_ == ConsumerKind::Every && frame.sequence == cursor_) {
    pending_gap_.reset();  // delivered with this frame
    if (!intact) lose(frame.sequence, frame.sequence);
    store_cursor(frame.sequence + 1);
  }
  const std::uint64_t now_ns = monotonic_ns();
  at(e.hot.heartbeat_ns).store(now_ns, memory_order_relaxed);
  if (const auto rate = rate_.tick(now_ns)) at(entry().counters.rate_milli_fps).store(*rate, memory_order_relaxed);
  return intact;
}

void RingReader::skip_to_now() noexcept {
  const std::uint64_t published = at(segment_.control().cursor.published).load(memory_order_seq_cst);
  if (kind_ != ConsumerKind::Newest || published <= cursor_) return;
  at(entry().counters.frames_skipped).fetch_add(published - cursor_, memory_order_relaxed);
  store_cursor(published);
}

ConsumerCounters RingReader::counters() const noexcept {
  ConsumerEntry& e = entry();
  ConsumerCounters c;
  c.frames_read = at(e.counters.frames_read).load(memory_order_relaxed);
  c.frames_skipped = at(e.counters.frames_skipped).load(memory_order_relaxed);
  c.frames_torn = at(e.counters.frames_torn).load(memory_order_relaxed);
  c.gaps = at(e.counters.gaps).load(memory_order_relaxed);
  c.frames_lost = at(e.counters.frames_lost).load(memory_order_relaxed);
  c.evictions = at(e.producer_side.evictions).load(memory_order_relaxed);
  return c;
}

bool RingReader::is_producer_alive() const noexcept {
  const ProducerControl& control = segment_.control();
  const auto pid = at(control.identity.pid).load(memory_order_acquire);
  return at(control.identity.attached).load(memory_order_acquire) != 0 &&
         is_process_alive(static_cast<pid_t>(pid), control.identity.start_time_ticks);
}

std::uint64_t RingReader::published() const noexcept { return segment_.published(); }

std::optional<RingReader> attach_when_created(std::string_view instance, std::string_view ring,
                                              const ReaderOptions& options, const CreationWait& wait) {
  const std::uint64_t deadline_ns =
      monotonic_ns() + static_cast<std::uint64_t>(std::max<std::int64_t>(wait.timeout.count(), 0));
  CreationWait remaining = wait;
  for (;;) {
    if (!open_when_created(instance, ring, remaining)) return std::nullopt;
    ReaderOptions ro = options;
    ro.wait_for_segment = std::max(ro.wait_for_segment, std::chrono::milliseconds{1000});
    try {
      return RingReader::attach(instance, ring, ro);
    } catch (const SegmentError&) {
      // Removed between the open and the attach: wait for a new one, for what is left of the wait.
      const std::uint64_t now_ns = monotonic_ns();
      if (Segment::exists(instance, ring) || now_ns >= deadline_ns) throw;
      remaining.timeout = std::chrono::nanoseconds{deadline_ns - now_ns};
    }
  }
}

}  // namespace framering::ring
