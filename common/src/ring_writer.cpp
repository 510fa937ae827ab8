#include "framering/common/ring_writer.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>

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

constexpr std::uint64_t kAliveCheckIntervalNs = 20'000'000;  // /proc reads while blocked: 50/s
constexpr std::uint64_t kWaitSliceNs = 10'000'000;           // re-check eviction timers this often

bool same_geometry(const RingGeometry& a, const RingGeometry& b) {
  return a.frame.width == b.frame.width && a.frame.height == b.frame.height &&
         a.frame.pixel_format == b.frame.pixel_format && a.row_stride_bytes() == b.row_stride_bytes() &&
         a.slot_count == b.slot_count && a.max_consumers == b.max_consumers;
}

Segment open_or_create(std::string_view instance, std::string_view ring, const RingGeometry& geometry,
                       const WriterOptions& options, bool& reattached) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    const std::string name = Segment::segment_name(instance, ring);
    bool exists = ::access(("/dev/shm/" + name).c_str(), F_OK) == 0;
    if (!exists) {
      try {
        reattached = false;
        return Segment::create(instance, ring, geometry, options.access);
      } catch (const SegmentError&) {
        // Another producer may have created it between the check and the create: look again.
        if (::access(("/dev/shm/" + name).c_str(), F_OK) != 0) throw;
        continue;
      }
    }
    Segment existing = Segment::open(instance, ring, std::nullopt, std::chrono::milliseconds{1000});
    if (same_geometry(existing.geometry(), geometry)) {
      reattached = true;
      return existing;
    }
    if (existing.has_live_participant() || !options.replace_stale) {
      throw SegmentError(fmt::format(
          "ring segment /dev/shm/{} holds {} but this producer needs {}{}", name,
          existing.geometry().to_string(), geometry.to_string(),
          existing.has_live_participant() ? " and it is still in use: stop its users or choose another ring name"
                                          : " (stale; replacing it was not allowed)"));
    }
    spdlog::warn("ring {}: replacing stale segment /dev/shm/{} ({}) with {}; none of its processes is alive",
                 ring, name, existing.geometry().to_string(), geometry.to_string());
    Segment::remove(instance, ring);
  }
  throw SegmentError(fmt::format("ring {}: the segment kept changing while this producer attached", ring));
}

}  // namespace

RingWriter::RingWriter(Segment segment, bool reattached)
    : segment_(std::move(segment)),
      reattached_(reattached),
      claims_(std::make_unique<std::uint64_t[]>(segment_.slot_count())),
      frame_bytes_(segment_.header().frame_bytes),
      slot_count_(segment_.slot_count()) {
  std::fill_n(claims_.get(), slot_count_, kNoClaim);
}

RingWriter RingWriter::create_or_attach(std::string_view instance, std::string_view ring,
                                        const RingGeometry& geometry, const WriterOptions& options) {
  geometry.validate();
  bool reattached = false;
  Segment segment = open_or_create(instance, ring, geometry, options, reattached);

  ProducerControl& control = segment.control();
  const auto self = static_cast<std::uint32_t>(::getpid());
  const std::uint64_t self_start = process_start_ticks(::getpid());
  {
    // Under the table lock, so that two producers starting at once cannot both see the role
    // free; the kernel drops the lock if we die holding it.
    const Segment::TableLock table_lock = segment.lock_consumer_table();
    const std::uint32_t old_pid = at(control.identity.pid).load(memory_order_acquire);
    const bool old_attached = at(control.identity.attached).load(memory_order_acquire) != 0;
    if (old_pid != 0 && old_attached && is_process_alive(static_cast<pid_t>(old_pid), control.identity.start_time_ticks)) {
      throw SegmentError(fmt::format("ring segment /dev/shm/{} already has a live producer, pid {}{}: one "
                                     "producer per ring",
                                     segment.name(), old_pid, old_pid == self ? " (this process)" : ""));
    }
    // Take the producer role over from a dead or detached one. Start time before pid, so that
    // nobody sees our pid paired with the dead producer's start time.
    control.identity.start_time_ticks = self_start;
    at(control.identity.pid).store(self, memory_order_seq_cst);
    at(control.identity.attached).store(1, memory_order_seq_cst);
  }
  at(control.identity.heartbeat_ns).store(monotonic_ns(), memory_order_relaxed);
  at(control.identity.attach_count).fetch_add(1, memory_order_relaxed);
  at(control.space.producer_waiting).store(0, memory_order_relaxed);  // a dead producer may have left it set

  RingWriter writer(std::move(segment), reattached);
  writer.next_ = at(control.cursor.published).load(memory_order_acquire);
  if (reattached) {
    spdlog::info("ring {}: producer re-attached to {}, continuing at sequence {}", ring,
                 writer.segment_.geometry().to_string(), writer.next_);
  }
  return writer;
}

RingWriter::RingWriter(RingWriter&& other) noexcept
    : segment_(std::move(other.segment_)),
      reattached_(other.reattached_),
      claims_(std::move(other.claims_)),
      claimed_count_(other.claimed_count_),
      next_(other.next_),
      frame_bytes_(other.frame_bytes_),
      slot_count_(other.slot_count_),
      blocked_index_(other.blocked_index_),
      blocked_cursor_(other.blocked_cursor_),
      blocked_since_ns_(other.blocked_since_ns_),
      dead_since_ns_(other.dead_since_ns_),
      last_alive_check_ns_(other.last_alive_check_ns_),
      rate_(other.rate_) {
  other.moved_from_ = true;
}

RingWriter::~RingWriter() {
  if (moved_from_) return;
  ProducerControl& control = segment_.control();
  if (at(control.identity.pid).load(memory_order_acquire) == static_cast<std::uint32_t>(::getpid())) {
    at(control.identity.attached).store(0, memory_order_release);
  }
}

int RingWriter::find_blocking_consumer(std::uint64_t sequence) const noexcept {
  const std::uint32_t count = segment_.max_consumers();
  for (std::uint32_t i = 0; i < count; ++i) {
    ConsumerEntry& entry = segment_.consumer(i);
    // seq_cst: Dekker with the consumer's cursor store, then state store, when it (re)joins.
    if (at(entry.identity.state).load(memory_order_seq_cst) != static_cast<std::uint32_t>(ConsumerState::Active) ||
        entry.identity.kind != static_cast<std::uint32_t>(ConsumerKind::Every)) {
      continue;
    }
    const std::uint64_t cursor = at(entry.hot.cursor).load(memory_order_seq_cst);
    if (sequence >= cursor + slot_count_) return static_cast<int>(i);
  }
  return -1;
}

bool RingWriter::maybe_evict(int index, std::uint64_t now_ns) noexcept {
  ConsumerEntry& entry = segment_.consumer(static_cast<std::uint32_t>(index));
  const std::uint64_t cursor = at(entry.hot.cursor).load(memory_order_acquire);
  if (index != blocked_index_ || cursor != blocked_cursor_) {
    blocked_index_ = index;
    blocked_cursor_ = cursor;
    blocked_since_ns_ = now_ns;
    dead_since_ns_ = 0;
    last_alive_check_ns_ = 0;
  }
  if (now_ns - last_alive_check_ns_ >= kAliveCheckIntervalNs) {
    last_alive_check_ns_ = now_ns;
    const auto pid = static_cast<pid_t>(at(entry.identity.pid).load(memory_order_acquire));
    const bool alive = is_process_alive(pid, entry.identity.start_time_ticks);
    if (!alive && dead_since_ns_ == 0) dead_since_ns_ = now_ns;
    if (alive) dead_since_ns_ = 0;
  }
  const bool dead = dead_since_ns_ != 0;
  const std::uint64_t stall_timeout = entry.identity.stall_timeout_ns;
  const bool evict = dead ? now_ns - dead_since_ns_ >= entry.identity.dead_timeout_ns
                          : stall_timeout != 0 && now_ns - blocked_since_ns_ >= stall_timeout;
  if (!evict) return false;

  auto expected = static_cast<std::uint32_t>(ConsumerState::Active);
  if (!at(entry.identity.state)
           .compare_exchange_strong(expected, static_cast<std::uint32_t>(ConsumerState::Evicted),
                                    memory_order_seq_cst)) {
    return true;  // it changed under us (detached, already evicted): look again
  }
  at(entry.producer_side.evicted_at_cursor).store(cursor, memory_order_relaxed);
  at(entry.producer_side.evicted_dead).store(dead ? 1 : 0, memory_order_relaxed);
  at(entry.producer_side.evictions).fetch_add(1, memory_order_relaxed);
  at(segment_.control().stats.evictions).fetch_add(1, memory_order_relaxed);
  // Wake it if it is waiting, so that it learns of the eviction now.
  at(entry.hot.wake_word).fetch_add(1, memory_order_release);
  futex_wake(&entry.hot.wake_word, INT_MAX);
  char name[kConsumerNameBytes + 1] = {};
  std::memcpy(name, entry.identity.name, kConsumerNameBytes);
  spdlog::warn("ring {}: evicted every-consumer '{}' (pid {}, {}) at its cursor {}; the producer goes on and "
               "the consumer will be told its gap",
               segment_.ring_name(), name, entry.identity.pid,
               dead ? "dead" : fmt::format("stalled {} ms", (now_ns - blocked_since_ns_) / 1'000'000), cursor);
  blocked_index_ = -1;
  return true;
}

std::expected<WritableSlot, ClaimError> RingWriter::claim_at(std::uint64_t sequence,
                                                             std::chrono::nanoseconds timeout) noexcept {
  if (sequence < next_ || sequence - next_ >= claim_window()) {
    spdlog::critical("ring {}: claim of sequence {} outside the claim window {}..{}: a producer bug",
                     segment_.ring_name(), sequence, next_, next_ + claim_window() - 1);
    std::abort();
  }
  const auto slot = static_cast<std::uint32_t>(sequence % slot_count_);
  if (claims_[slot] != sequence) {
    ProducerControl& control = segment_.control();
    int blocker = find_blocking_consumer(sequence);
    if (blocker >= 0) {
      const std::uint64_t start_ns = monotonic_ns();
      const std::uint64_t deadline_ns = start_ns + static_cast<std::uint64_t>(std::max<std::int64_t>(timeout.count(), 0));
      while (blocker >= 0) {
        const std::uint64_t now_ns = monotonic_ns();
        at(control.identity.heartbeat_ns).store(now_ns, memory_order_relaxed);
        if (maybe_evict(blocker, now_ns)) {
          blocker = find_blocking_consumer(sequence);
          continue;
        }
        if (now_ns >= deadline_ns) {
          at(control.stats.blocked_ns).fetch_add(now_ns - start_ns, memory_order_relaxed);
          return std::unexpected(ClaimError::Timeout);
        }
        // Announce the wait, then re-check (seq_cst Dekker with the consumer's cursor store and
        // its load of producer_waiting in RingReader::release), then sleep.
        const std::uint32_t word = at(control.space.space_word).load(memory_order_acquire);
        at(control.space.producer_waiting).store(1, memory_order_seq_cst);
        blocker = find_blocking_consumer(sequence);
        if (blocker >= 0) {
          futex_wait(&control.space.space_word, word,
                     std::chrono::nanoseconds{std::min(deadline_ns - now_ns, kWaitSliceNs)});
          blocker = find_blocking_consumer(sequence);
        }
        at(control.space.producer_waiting).store(0, memory_order_relaxed);
      }
      at(control.stats.blocked_ns).fetch_add(monotonic_ns() - start_ns, memory_order_relaxed);
    }
    blocked_index_ = -1;
    // Seqlock write side: mark the slot odd before touching its pixels. The release fence keeps
    // the pixel stores that follow from becoming visible before the odd value.
    FrameHeader& header = segment_.frame_header(slot);
    at(header.seqlock).store(2 * sequence + 1, memory_order_relaxed);
    std::atomic_thread_fence(memory_order_release);
    // Within the window no two claimed sequences share a slot: this one was free.
    claims_[slot] = sequence;
    ++claimed_count_;
  }
  return WritableSlot{sequence, slot, std::span<std::byte>(segment_.slot_pixels(slot), frame_bytes_)};
}

void RingWriter::publish(const FrameMetadata& metadata) noexcept {
  const std::uint64_t sequence = next_;
  const auto slot = static_cast<std::uint32_t>(sequence % slot_count_);
  if (claims_[slot] != sequence) {
    spdlog::critical("ring {}: publish() of sequence {} without its claim: a producer bug", segment_.ring_name(), sequence);
    std::abort();
  }
  const SegmentHeader& geometry = segment_.header();
  FrameHeader& header = segment_.frame_header(slot);
  header.sequence = sequence;
  header.timestamp_ns = metadata.timestamp_ns != 0 ? metadata.timestamp_ns : realtime_ns();
  header.camera_frame_id = metadata.camera_frame_id;
  header.width = geometry.width;
  header.height = geometry.height;
  header.pixel_format = geometry.pixel_format;
  header.settings_generation = metadata.settings_generation;
  header.source_frames_lost = metadata.source_frames_lost + metadata.dropped_before;
  if (metadata.source_frames_lost != 0) {
    at(segment_.control().source.frames_lost).fetch_add(metadata.source_frames_lost, memory_order_relaxed);
  }
  const std::uint64_t now_ns = monotonic_ns();
  header.publish_monotonic_ns = now_ns;
  // release: pairs with the reader's acquire load of the seqlock (frame complete).
  at(header.seqlock).store(2 * sequence + 2, memory_order_release);
  // seq_cst: readers acquire-load it; and Dekker with each consumer's seq_cst `ready` store.
  ProducerControl& control = segment_.control();
  at(control.cursor.published).store(sequence + 1, memory_order_seq_cst);
  next_ = sequence + 1;
  claims_[slot] = kNoClaim;
  --claimed_count_;
  wake_ready_consumers();
  at(control.identity.heartbeat_ns).store(now_ns, memory_order_relaxed);
  if (const auto rate = rate_.tick(now_ns)) at(segment_.control().stats.rate_milli_fps).store(*rate, memory_order_relaxed);
}

std::optional<FrameMetadata> RingWriter::last_published() const noexcept {
  if (next_ == 0) return std::nullopt;
  const std::uint64_t sequence = next_ - 1;
  const FrameHeader& header = segment_.frame_header(static_cast<std::uint32_t>(sequence % slot_count_));
  // This process is the only writer now (it claimed the producer role): plain reads suffice
  // after the acquire that confirms the slot was whole.
  if (at(header.seqlock).load(memory_order_acquire) != 2 * sequence + 2 || header.sequence != sequence) {
    return std::nullopt;
  }
  return FrameMetadata{.timestamp_ns = header.timestamp_ns,
                       .camera_frame_id = header.camera_frame_id,
                       .source_frames_lost = header.source_frames_lost,
                       .settings_generation = header.settings_generation};
}

void RingWriter::skip_to(std::uint64_t sequence) noexcept {
  if (claimed_count_ != 0 || sequence < next_) {
    spdlog::critical("ring {}: skip_to({}) with a slot claimed or behind the next sequence {}: a producer bug",
                     segment_.ring_name(), sequence, next_);
    std::abort();
  }
  if (sequence == next_) return;
  // seq_cst, as in publish(): an every consumer sees the sequences before it as lost.
  at(segment_.control().cursor.published).store(sequence, memory_order_seq_cst);
  next_ = sequence;
  wake_ready_consumers();
}

void RingWriter::wake_ready_consumers() noexcept {
  const std::uint32_t count = segment_.max_consumers();
  for (std::uint32_t i = 0; i < count; ++i) {
    ConsumerEntry& entry = segment_.consumer(i);
    // seq_cst load after the seq_cst store of `published`: if the consumer set Ready before our
    // store, we see it here; if after, it sees the new `published` and does not sleep.
    if (at(entry.hot.ready).load(memory_order_seq_cst) == 0) continue;
    if (at(entry.hot.ready).exchange(0, memory_order_seq_cst) == 0) continue;
    at(entry.hot.wake_word).fetch_add(1, memory_order_release);
    futex_wake(&entry.hot.wake_word, INT_MAX);
  }
}

bool RingWriter::wait_for_consumers(std::uint32_t count, std::chrono::milliseconds timeout,
                                    bool (*should_stop)()) const {
  const std::uint64_t deadline =
      monotonic_ns() + static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count());
  for (;;) {
    std::uint32_t attached = 0;
    for (std::uint32_t i = 0; i < segment_.max_consumers(); ++i) {
      const auto state = at(segment_.consumer(i).identity.state).load(memory_order_acquire);
      if (state == static_cast<std::uint32_t>(ConsumerState::Active) ||
          state == static_cast<std::uint32_t>(ConsumerState::Evicted)) {
        ++attached;
      }
    }
    if (attached >= count) return true;
    if (monotonic_ns() >= deadline || (should_stop != nullptr && should_stop())) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});  // polling another process's attach
  }
}

void RingWriter::set_source_stats(const ProducerControl::SourceStats& stats) noexcept {
  ProducerControl::SourceStats& out = segment_.control().source;
  at(out.frames_incomplete).store(stats.frames_incomplete, memory_order_relaxed);
  at(out.frames_timed_out).store(stats.frames_timed_out, memory_order_relaxed);
  at(out.underruns).store(stats.underruns, memory_order_relaxed);
  at(out.packets_missing).store(stats.packets_missing, memory_order_relaxed);
  at(out.packets_resent).store(stats.packets_resent, memory_order_relaxed);
  at(out.outages).store(stats.outages, memory_order_relaxed);
  at(out.connected).store(stats.connected, memory_order_relaxed);
}

ProducerControl::SourceStats RingWriter::source_stats() const noexcept {
  const ProducerControl::SourceStats& in = segment_.control().source;
  ProducerControl::SourceStats out{};
  out.frames_lost = at(in.frames_lost).load(memory_order_relaxed);
  out.frames_incomplete = at(in.frames_incomplete).load(memory_order_relaxed);
  out.frames_timed_out = at(in.frames_timed_out).load(memory_order_relaxed);
  out.underruns = at(in.underruns).load(memory_order_relaxed);
  out.packets_missing = at(in.packets_missing).load(memory_order_relaxed);
  out.packets_resent = at(in.packets_resent).load(memory_order_relaxed);
  out.outages = at(in.outages).load(memory_order_relaxed);
  out.connected = at(in.connected).load(memory_order_relaxed);
  return out;
}

void RingWriter::count_dropped(std::uint64_t frames) noexcept {
  at(segment_.control().stats.frames_dropped).fetch_add(frames, memory_order_relaxed);
}

void RingWriter::count_source_lost(std::uint64_t frames) noexcept {
  at(segment_.control().source.frames_lost).fetch_add(frames, memory_order_relaxed);
}

std::uint64_t RingWriter::blocked_ns() const noexcept {
  return at(segment_.control().stats.blocked_ns).load(memory_order_relaxed);
}

}  // namespace framering::ring
