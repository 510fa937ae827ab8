// ring_bench.cpp: `framering bench ring`: the ring's throughput and wake latency, measured with
// three real processes against a memcpy baseline taken in the same run.
//
//   parent:   memcpy baseline; creates the segment; spawns the roles; gathers their results
//   producer: memcpy of prepared frames into claimed slots, sequence stamped at head and tail
//   every:    reads every pixel of every frame, checks stamps and order (gates the producer)
//   newest:   Ready at 60 Hz; measures publish -> awake; checks that no torn frame passes release()
//             (waiting as --wait says; --compare-waits runs the whole ring phase once per strategy)
#include "framering/bench/ring_bench.hpp"

#include <sched.h>
#include <sys/mman.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>
#include <optional>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "bench_support.hpp"
#include "framering/bench/bridge_bench.hpp"
#include "framering/bench/demosaic_bench.hpp"
#include "framering/bench/led_bench.hpp"
#include "framering/bench/process_bench.hpp"
#include "framering/bench/record_bench.hpp"
#include "framering/common/clock.hpp"
#include "framering/common/cli_options.hpp"
#include "framering/common/error.hpp"
#include "framering/common/futex.hpp"
#include "framering/common/logging.hpp"
#include "framering/common/ring_reader.hpp"
#include "framering/common/ring_status.hpp"
#include "framering/common/ring_writer.hpp"
#include "framering/common/segment.hpp"
#include "framering/common/stop_signal.hpp"

extern char** environ;

namespace framering::bench {
namespace {

struct RingBenchOptions {
  CommonOptions common;
  std::uint32_t width = 1920;
  std::uint32_t height = 1080;
  std::uint32_t slots = 16;
  std::string pixel_format = "Mono16";  ///< PFNC name: Mono16 (the issue's figures), RGB8 (issue 12), ...
  double seconds = 5.0;
  bool json = false;
  bool pin = true;
  bool with_every = true;   ///< run the every consumer (off: isolate the producer's cost)
  bool with_newest = true;  ///< run the newest consumers
  std::uint32_t newest_count = 1;  ///< how many newest consumers (each its own process)
  ring::WaitStrategy wait = ring::kDefaultWaitStrategy;  ///< how the newest consumers wait
  bool compare_waits = false;  ///< one ring phase per strategy, in one run
  int newest_cpu = -1;         ///< pin the newest consumers to this CPU; -1: not pinned
  ring::WaitTuning tuning;     ///< the strategies' polling bounds
  // Internal: the role a child process plays, and where it writes its result.
  std::string role;
  std::string result_file;
  std::uint32_t newest_index = 0;  ///< internal: which newest consumer a child is
};

constexpr const char* kRingName = "bench";

void pin_to_cpu(int cpu) {
  if (static_cast<int>(std::thread::hardware_concurrency()) <= cpu) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (::sched_setaffinity(0, sizeof set, &set) != 0) spdlog::debug("cannot pin to CPU {}", cpu);
}

ring::RingGeometry geometry_of(const RingBenchOptions& o) {
  ring::RingGeometry g = mono16_geometry(o.width, o.height, o.slots);
  const auto format = parse_pixel_format(o.pixel_format);
  if (!format) {
    throw ConfigError(fmt::format("bench ring: --pixel-format '{}' is not one of {}", o.pixel_format,
                                  pixel_format_names(all_pixel_formats())));
  }
  g.frame.pixel_format = *format;
  g.max_consumers = std::max(g.max_consumers, o.newest_count + 1);  // the newest ones and the every one
  return g;
}


// Four distinct prepared frames, as a camera driver's buffers would be.
std::vector<AlignedBuffer> prepared_frames(std::size_t frame_bytes) {
  std::vector<AlignedBuffer> frames;
  for (int k = 0; k < 4; ++k) {
    frames.push_back(aligned_buffer(frame_bytes));
    auto* px = reinterpret_cast<std::uint16_t*>(frames.back().get());
    for (std::size_t i = 0; i < frame_bytes / 2; ++i) px[i] = static_cast<std::uint16_t>(i * 7 + static_cast<std::size_t>(k) * 1013);
  }
  return frames;
}

bool stamps_match(const std::byte* frame, std::size_t frame_bytes, std::uint64_t sequence) noexcept {
  std::uint64_t head = 0;
  std::uint64_t tail = 0;
  std::memcpy(&head, frame, sizeof head);
  std::memcpy(&tail, frame + frame_bytes - sizeof tail, sizeof tail);
  return head == sequence && tail == sequence;
}

// Touches every byte of the frame (what "reads every pixel" costs).
std::uint64_t sum_words(const std::byte* frame, std::size_t frame_bytes) noexcept {
  const auto* words = reinterpret_cast<const std::uint64_t*>(frame);
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  const std::size_t n = frame_bytes / 8;
  for (std::size_t i = 0; i + 1 < n; i += 2) {
    a += words[i];
    b ^= words[i + 1];
  }
  return a + b;
}

double memcpy_baseline(const RingBenchOptions& o, double seconds) {
  const auto g = geometry_of(o);
  const std::size_t frame_bytes = g.frame_bytes();
  auto sources = prepared_frames(frame_bytes);
  std::vector<AlignedBuffer> pool;
  for (std::uint32_t i = 0; i < o.slots; ++i) pool.push_back(aligned_buffer(g.slot_stride_bytes()));
  std::uint64_t frames = 0;
  const std::uint64_t start = monotonic_ns();
  const auto budget = static_cast<std::uint64_t>(seconds * 1e9);
  while (monotonic_ns() - start < budget) {
    std::byte* dst = pool[frames % o.slots].get();
    std::memcpy(dst, sources[frames % sources.size()].get(), frame_bytes);
    stamp(dst, frame_bytes, frames);
    ++frames;
  }
  return static_cast<double>(frames) / (static_cast<double>(monotonic_ns() - start) / 1e9);
}

// The same copy with a second thread reading every pixel of every copied frame on the other
// CPU: two cores moving and reading frames through plain memory with a std::atomic hand-off and
// no ring. The difference between this and the ring is the ring's own cost; the difference
// between this and memcpy_baseline is memory-bandwidth contention between the two cores.
double contended_baseline(const RingBenchOptions& o, double seconds) {
  const auto g = geometry_of(o);
  const std::size_t frame_bytes = g.frame_bytes();
  auto sources = prepared_frames(frame_bytes);
  std::vector<AlignedBuffer> pool;
  for (std::uint32_t i = 0; i < o.slots; ++i) pool.push_back(aligned_buffer(g.slot_stride_bytes()));
  std::atomic<std::uint64_t> copied{0};  // release by the copier, acquire by the reader
  std::atomic<std::uint64_t> read{0};    // release by the reader, acquire by the copier
  std::atomic<bool> done{false};
  std::thread reader([&] {
    if (o.pin) pin_to_cpu(1);
    volatile std::uint64_t sink = 0;
    std::uint64_t next = 0;
    for (;;) {
      const std::uint64_t available = copied.load(std::memory_order_acquire);
      if (next == available) {
        if (done.load(std::memory_order_acquire)) break;
        continue;  // spin: the ring's consumer sleeps instead, so this baseline is the optimistic one
      }
      sink = sink + sum_words(pool[next % o.slots].get(), frame_bytes);
      read.store(++next, std::memory_order_release);
    }
  });
  if (o.pin) pin_to_cpu(0);
  std::uint64_t frames = 0;
  const std::uint64_t start = monotonic_ns();
  const auto budget = static_cast<std::uint64_t>(seconds * 1e9);
  while (monotonic_ns() - start < budget) {
    while (frames - read.load(std::memory_order_acquire) >= o.slots) {
    }  // the reader still holds the buffer this copy would overwrite
    std::byte* dst = pool[frames % o.slots].get();
    std::memcpy(dst, sources[frames % sources.size()].get(), frame_bytes);
    stamp(dst, frame_bytes, frames);
    copied.store(++frames, std::memory_order_release);
  }
  const double fps = static_cast<double>(frames) / (static_cast<double>(monotonic_ns() - start) / 1e9);
  done.store(true, std::memory_order_release);
  reader.join();
  return fps;
}

int run_producer(const RingBenchOptions& o) {
  if (o.pin) pin_to_cpu(0);
  auto writer = ring::RingWriter::create_or_attach(o.common.instance, kRingName, geometry_of(o));
  const auto sources = prepared_frames(writer.segment().header().frame_bytes);
  std::vector<const std::byte*> pointers;
  for (const auto& s : sources) pointers.push_back(s.get());
  write_result(o.result_file, produce_copies(writer, pointers, o.seconds, true));
  return 0;
}

int run_every(const RingBenchOptions& o) {
  if (o.pin) pin_to_cpu(1);
  ring::ReaderOptions ro;
  ro.name = "bench-every";
  ro.kind = ring::ConsumerKind::Every;
  ro.stall_timeout = std::chrono::seconds{30};
  auto reader = ring::RingReader::attach(o.common.instance, kRingName, ro);
  std::uint64_t frames = 0;
  std::uint64_t lost = 0;
  std::uint64_t bad_content = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t torn = 0;
  std::uint64_t expected = reader.cursor();
  volatile std::uint64_t sink = 0;
  for (;;) {
    auto frame = reader.read(std::chrono::milliseconds{100});
    if (!frame) {
      // Drain: stop once told to and nothing is left.
      if (stop_requested() && reader.cursor() >= reader.published()) break;
      continue;
    }
    if (frame->gap) lost += frame->gap->count();
    if (frame->sequence != expected && !frame->gap) ++out_of_order;
    sink = sink + sum_words(reinterpret_cast<const std::byte*>(frame->pixels.data()), frame->pixels.size());
    const bool content_ok = stamps_match(frame->pixels.data(), frame->pixels.size(), frame->sequence);
    if (!reader.release(*frame)) {
      ++torn;
    } else if (!content_ok) {
      ++bad_content;
    }
    expected = frame->sequence + 1;
    ++frames;
  }
  write_result(o.result_file, {{"frames", frames}, {"lost", lost}, {"bad_content", bad_content},
                               {"out_of_order", out_of_order}, {"torn", torn}});
  return 0;
}

int run_newest(const RingBenchOptions& o) {
  if (o.newest_cpu >= 0) pin_to_cpu(o.newest_cpu);
  ring::ReaderOptions ro;
  ro.name = fmt::format("bench-newest-{}", o.newest_index);
  ro.kind = ring::ConsumerKind::Newest;
  ro.wait = o.wait;
  ro.wait_tuning = o.tuning;
  auto reader = ring::RingReader::attach(o.common.instance, kRingName, ro);
  std::vector<double> wake_us;
  std::uint64_t frames = 0;
  std::uint64_t torn_shown = 0;
  std::uint64_t torn_detected = 0;
  volatile std::uint64_t sink = 0;
  const auto period = std::chrono::nanoseconds{1'000'000'000 / 60};
  auto next_tick = std::chrono::steady_clock::now();
  while (!stop_requested()) {
    next_tick += period;
    std::this_thread::sleep_until(next_tick);  // the 60 Hz display refresh this consumer models
    reader.skip_to_now();  // Ready for the next frame published from now on
    auto frame = reader.read(std::chrono::milliseconds{200});
    if (!frame) continue;
    const std::uint64_t awake_ns = monotonic_ns();
    wake_us.push_back(static_cast<double>(awake_ns - frame->publish_monotonic_ns) / 1e3);
    sink = sink + sum_words(frame->pixels.data(), frame->pixels.size());
    const bool content_ok = stamps_match(frame->pixels.data(), frame->pixels.size(), frame->sequence);
    if (reader.release(*frame)) {
      ++frames;
      if (!content_ok) ++torn_shown;  // a torn frame that release() called intact: must never happen
    } else {
      ++torn_detected;
    }
  }
  const ring::WaitStats& ws = reader.wait_stats();
  write_result(o.result_file, {{"frames", frames}, {"torn_shown", torn_shown}, {"torn_detected", torn_detected},
                               {"skipped", reader.counters().frames_skipped}, {"wake_us", wake_us},
                               {"polls", ws.polls}, {"polls_caught", ws.polls_caught},
                               {"poll_s", static_cast<double>(ws.poll_ns) / 1e9}, {"sleeps", ws.sleeps},
                               {"early_sleeps", ws.early_sleeps}});
  return 0;
}

pid_t spawn_role(const RingBenchOptions& o, const std::string& role, const std::string& result,
                 std::uint32_t newest_index = 0) {
  const auto us = [](std::chrono::nanoseconds d) { return fmt::format("{}", static_cast<double>(d.count()) / 1e3); };
  std::vector<std::string> args = {"framering", "bench", "ring", "--role", role, "--result", result,
                                   "--newest-index", std::to_string(newest_index), "--newest",
                                   std::to_string(o.newest_count), "--wait", std::string{ring::to_string(o.wait)},
                                   "--spin-us", us(o.tuning.spin), "--lead-us", us(o.tuning.lead),
                                   "--window-us", us(o.tuning.window), "--newest-cpu", std::to_string(o.newest_cpu),
                                   "--instance", o.common.instance, "--width", std::to_string(o.width),
                                   "--height", std::to_string(o.height), "--slots", std::to_string(o.slots),
                                   "--pixel-format", o.pixel_format, "--seconds", fmt::format("{}", o.seconds),
                                   "--log-level", o.common.log_level};
  if (!o.pin) args.emplace_back("--no-pin");
  if (!o.with_every) args.emplace_back("--no-every");
  if (!o.with_newest) args.emplace_back("--no-newest");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ);
  if (rc != 0) throw Error(fmt::format("bench: cannot start the {} process: {}", role, errno_text(rc)));
  return pid;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

int wait_child(pid_t pid, const std::string& role) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    spdlog::error("bench: the {} process failed (status {})", role, status);
    return 1;
  }
  return 0;
}

// The machine's own limit: a bare futex wake between two processes, measured while the ring
// runs (same machine, same load). A waker process plays the producer: once per producer frame
// period it takes CLOCK_MONOTONIC (the "publish" time) and, if the waiter is waiting, bumps the
// futex word and FUTEX_WAKEs it. A waiter process plays a newest consumer at 60 Hz: at each tick
// it says it waits, then sleeps on the word; woken, it records now minus the waker's stamp.
// Nothing of the ring is involved, so its p50/p99 is what any wake costs here (a VM's p99 is
// the hypervisor's), and the ring's wake_us is judged against it.
class FutexWakeBaseline {
 public:
  explicit FutexWakeBaseline(double producer_fps) {
    void* p = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw Error(fmt::format("bench: cannot map the futex baseline's memory: {}", errno_text(errno)));
    shared_ = new (p) Shared{};
    const auto period = std::chrono::nanoseconds{static_cast<std::int64_t>(1e9 / std::max(producer_fps, 1.0))};
    waiter_ = fork_role([this] { wait_loop(); });
    waker_ = fork_role([this, period] { wake_loop(period); });
  }
  FutexWakeBaseline(const FutexWakeBaseline&) = delete;
  FutexWakeBaseline& operator=(const FutexWakeBaseline&) = delete;
  ~FutexWakeBaseline() {
    stop();
    ::munmap(shared_, sizeof(Shared));
  }

  /// Stops both processes and returns the wake latencies, µs.
  std::vector<double> stop() {
    if (waker_ == 0) return result_;
    std::atomic_ref(shared_->stop).store(1, std::memory_order_release);
    std::atomic_ref(shared_->word).fetch_add(1, std::memory_order_release);
    futex_wake(&shared_->word, INT_MAX);
    (void)wait_child(waker_, "futex waker");
    (void)wait_child(waiter_, "futex waiter");
    waker_ = waiter_ = 0;
    const std::uint64_t n = std::min<std::uint64_t>(std::atomic_ref(shared_->samples).load(std::memory_order_acquire), kMaxSamples);
    result_.assign(shared_->wake_us, shared_->wake_us + n);
    return result_;
  }

 private:
  static constexpr std::size_t kMaxSamples = 1 << 16;
  struct Shared {
    std::uint32_t word = 0;
    std::uint32_t waiting = 0;
    std::uint32_t stop = 0;
    std::uint64_t stamp_ns = 0;
    std::uint64_t samples = 0;
    double wake_us[kMaxSamples];
  };

  template <class F>
  static pid_t fork_role(F body) {
    const pid_t pid = ::fork();
    if (pid < 0) throw Error(fmt::format("bench: cannot fork the futex baseline: {}", errno_text(errno)));
    if (pid == 0) {
      body();
      ::_exit(0);
    }
    return pid;
  }

  [[nodiscard]] bool stopping() const noexcept { return std::atomic_ref(shared_->stop).load(std::memory_order_acquire) != 0; }

  void wait_loop() {
    const auto period = std::chrono::nanoseconds{1'000'000'000 / 60};
    auto next_tick = std::chrono::steady_clock::now();
    std::uint64_t n = 0;
    while (!stopping() && n < kMaxSamples) {
      next_tick += period;
      std::this_thread::sleep_until(next_tick);
      const std::uint32_t word = std::atomic_ref(shared_->word).load(std::memory_order_acquire);
      std::atomic_ref(shared_->waiting).store(1, std::memory_order_seq_cst);
      futex_wait(&shared_->word, word, std::chrono::milliseconds{200});
      const std::uint64_t awake_ns = monotonic_ns();
      if (stopping()) break;
      if (std::atomic_ref(shared_->word).load(std::memory_order_acquire) == word) {  // timed out
        std::atomic_ref(shared_->waiting).exchange(0, std::memory_order_seq_cst);  // no stale wake next tick
        continue;
      }
      const std::uint64_t stamp = std::atomic_ref(shared_->stamp_ns).load(std::memory_order_acquire);
      shared_->wake_us[n++] = static_cast<double>(awake_ns - std::min(awake_ns, stamp)) / 1e3;
      std::atomic_ref(shared_->samples).store(n, std::memory_order_release);
    }
  }

  void wake_loop(std::chrono::nanoseconds period) {
    auto next = std::chrono::steady_clock::now();
    while (!stopping()) {
      next += period;
      std::this_thread::sleep_until(next);
      // Stamped only when a waiter is woken, so a slow wake never reads the next period's stamp.
      if (std::atomic_ref(shared_->waiting).exchange(0, std::memory_order_seq_cst) != 0) {
        std::atomic_ref(shared_->stamp_ns).store(monotonic_ns(), std::memory_order_release);
        std::atomic_ref(shared_->word).fetch_add(1, std::memory_order_release);
        futex_wake(&shared_->word, 1);
      }
    }
  }

  Shared* shared_ = nullptr;
  pid_t waker_ = 0;
  pid_t waiter_ = 0;
  std::vector<double> result_;
};

// What one ring phase (producer, consumers and the futex baseline beside them) gave.
struct PhaseResult {
  nlohmann::json producer;
  nlohmann::json every;
  nlohmann::json newest;  ///< the newest consumers' results, summed (their wake samples pooled)
  std::vector<double> futex_wake_us;
};

nlohmann::json percentiles(const std::vector<double>& us) {
  return {{"p50", percentile(us, 0.50)}, {"p99", percentile(us, 0.99)}, {"p999", percentile(us, 0.999)},
          {"max", us.empty() ? 0.0 : *std::max_element(us.begin(), us.end())}, {"samples", us.size()}};
}

// One ring phase: the segment, the consumers (newest ones waiting as o.wait says), the futex
// baseline and the producer for o.seconds. nullopt when a process failed.
std::optional<PhaseResult> run_ring_phase(const RingBenchOptions& o, const ring::RingGeometry& geometry,
                                          double futex_period_fps) {
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("framering-bench-{}-{}", ::getpid(), ring::to_string(o.wait));
  std::filesystem::create_directories(dir);
  int failures = 0;
  PhaseResult r;
  {
    // The parent creates the segment so that both consumers are attached before frame 0.
    auto segment = ring::Segment::create(o.common.instance, kRingName, geometry, ring::Access::Private);
    const pid_t every_pid = o.with_every ? spawn_role(o, "every", (dir / "every.json").string()) : 0;
    std::vector<pid_t> newest_pids;
    for (std::uint32_t i = 0; o.with_newest && i < o.newest_count; ++i) {
      newest_pids.push_back(spawn_role(o, "newest", (dir / fmt::format("newest-{}.json", i)).string(), i));
    }
    const int expected_consumers = (o.with_every ? 1 : 0) + static_cast<int>(newest_pids.size());
    const std::uint64_t deadline = monotonic_ns() + 10'000'000'000ULL;
    for (;;) {
      const auto consumers = ring::read_status(segment).consumers;
      const auto attached = std::count_if(consumers.begin(), consumers.end(), [](const ring::ConsumerStatus& c) {
        return c.state == ring::ConsumerState::Active;
      });
      if (attached == expected_consumers) break;
      if (monotonic_ns() > deadline) {
        if (every_pid != 0) ::kill(every_pid, SIGKILL);
        for (const pid_t pid : newest_pids) ::kill(pid, SIGKILL);
        ring::Segment::remove(o.common.instance, kRingName);
        throw Error("bench: the consumer processes did not attach within 10 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{5});  // polling another process's attach
    }
    FutexWakeBaseline futex_baseline(futex_period_fps);
    const pid_t producer_pid = spawn_role(o, "producer", (dir / "producer.json").string());
    failures += wait_child(producer_pid, "producer");
    r.futex_wake_us = futex_baseline.stop();
    if (every_pid != 0) {
      ::kill(every_pid, SIGTERM);
      failures += wait_child(every_pid, "every");
    }
    for (const pid_t pid : newest_pids) {
      ::kill(pid, SIGTERM);
      failures += wait_child(pid, "newest");
    }
    ring::Segment::remove(o.common.instance, kRingName);
  }
  if (failures == 0) {
    r.producer = read_result((dir / "producer.json").string(), "producer");
    r.every = o.with_every ? read_result((dir / "every.json").string(), "every")
                           : nlohmann::json{{"frames", r.producer["frames"]}, {"lost", 0}, {"bad_content", 0},
                                            {"out_of_order", 0}, {"torn", 0}};
    r.newest = {{"frames", 0}, {"torn_shown", 0}, {"torn_detected", 0}, {"skipped", 0}, {"polls", 0},
                {"polls_caught", 0}, {"sleeps", 0}, {"early_sleeps", 0}, {"poll_s", 0.0},
                {"wake_us", std::vector<double>{}}};
    for (std::uint32_t i = 0; o.with_newest && i < o.newest_count; ++i) {
      const auto one = read_result((dir / fmt::format("newest-{}.json", i)).string(), "newest");
      r.newest["poll_s"] = r.newest["poll_s"].get<double>() + one["poll_s"].get<double>();
      for (const char* key : {"frames", "torn_shown", "torn_detected", "skipped", "polls", "polls_caught", "sleeps",
                              "early_sleeps"}) {
        r.newest[key] = r.newest[key].get<std::uint64_t>() + one[key].get<std::uint64_t>();
      }
      for (const auto& w : one["wake_us"]) r.newest["wake_us"].push_back(w);
    }
  }
  std::filesystem::remove_all(dir);
  if (failures != 0) return std::nullopt;
  return r;
}

// A phase's figures as JSON: throughput, the wake latencies against the same phase's futex
// baseline, and what was lost or shown torn.
nlohmann::json phase_json(const RingBenchOptions& o, const PhaseResult& r) {
  const auto wake = r.newest["wake_us"].get<std::vector<double>>();
  const std::uint64_t published = r.producer["frames"].get<std::uint64_t>();
  const std::uint64_t every_frames = r.every["frames"].get<std::uint64_t>();
  const std::uint64_t every_lost = r.every["lost"].get<std::uint64_t>();
  const std::uint64_t lost = every_lost + (published - std::min(published, every_frames + every_lost));
  const double futex_p99 = percentile(r.futex_wake_us, 0.99);
  return {
      {"wait", ring::to_string(o.wait)},
      {"seconds", r.producer["seconds"]},
      {"frames", published},
      {"frames_per_s", r.producer["frames_per_s"]},
      {"wake_us", percentiles(wake)},
      {"futex_wake_us", {{"p50", percentile(r.futex_wake_us, 0.50)}, {"p99", futex_p99},
                         {"samples", r.futex_wake_us.size()}}},
      {"wake_p99_ratio_to_futex", futex_p99 > 0 ? percentile(wake, 0.99) / futex_p99 : 0.0},
      {"torn_shown", r.newest["torn_shown"]},
      {"torn_detected", r.newest["torn_detected"]},
      {"newest_frames", r.newest["frames"]},
      {"newest_skipped", r.newest["skipped"]},
      // What the newest consumers' waits did (RingReader::wait_stats, summed): polls started and
      // those that caught the frame, the seconds spent polling (CPU burnt), futex waits entered.
      {"newest_waits", {{"polls", r.newest["polls"]}, {"polls_caught", r.newest["polls_caught"]},
                        {"poll_s", r.newest["poll_s"]}, {"sleeps", r.newest["sleeps"]},
                        {"early_sleeps", r.newest["early_sleeps"]}}},
      {"every_frames", every_frames},
      {"every_bad_content", r.every["bad_content"]},
      {"every_out_of_order", r.every["out_of_order"]},
      {"lost", lost},
      {"producer_blocked_s", r.producer["blocked_s"]},
  };
}

bool is_clean(const nlohmann::json& phase) {
  return phase["lost"].get<std::uint64_t>() == 0 && phase["torn_shown"].get<std::uint64_t>() == 0 &&
         phase["every_bad_content"].get<std::uint64_t>() == 0 && phase["every_out_of_order"].get<std::uint64_t>() == 0;
}

int run_parent(RingBenchOptions o) {
  if (o.pin) pin_to_cpu(0);
  const auto geometry = geometry_of(o);
  geometry.validate();
  if (!o.json) {
    fmt::print("bench ring: {}x{} {} ({:.2f} MB/frame), {} slots, {} s per phase, newest consumers wait: {}\n",
               o.width, o.height, o.pixel_format, static_cast<double>(geometry.frame_bytes()) / 1e6, o.slots, o.seconds,
               o.compare_waits ? std::string{"futex, spin, deadline (one phase each)"}
                               : std::string{ring::to_string(o.wait)});
  }
  // Baselines before and after the ring phase: the machine's memory bandwidth drifts (other
  // tenants), so the ratio uses their mean and both are reported.
  const double baseline_s = std::max(1.0, o.seconds / 2);
  const double memcpy_before = memcpy_baseline(o, baseline_s);
  const double contended_fps = contended_baseline(o, baseline_s);
  if (!o.json) {
    fmt::print("  memcpy baseline: {:.0f} frames/s; with a second core reading every frame: {:.0f} frames/s\n",
               memcpy_before, contended_fps);
  }

  o.common.instance = fmt::format("bench-{}", ::getpid());
  std::vector<ring::WaitStrategy> strategies{o.wait};
  if (o.compare_waits) strategies = {ring::WaitStrategy::Futex, ring::WaitStrategy::Spin, ring::WaitStrategy::Deadline};
  std::vector<nlohmann::json> phases;
  for (const auto strategy : strategies) {
    RingBenchOptions po = o;
    po.wait = strategy;
    const auto r = run_ring_phase(po, geometry, contended_fps);
    if (!r) return 1;
    phases.push_back(phase_json(po, *r));
  }
  if (o.pin) pin_to_cpu(0);
  const double memcpy_after = memcpy_baseline(o, baseline_s);
  const double memcpy_fps = (memcpy_before + memcpy_after) / 2;

  nlohmann::json result = {
      {"width", o.width},
      {"height", o.height},
      {"pixel_format", o.pixel_format},
      {"slots", o.slots},
      {"every_consumer", o.with_every},
      {"newest_consumers", o.with_newest ? o.newest_count : 0},
      {"newest_cpu", o.newest_cpu},
      {"wait_tuning_us", {{"spin", static_cast<double>(o.tuning.spin.count()) / 1e3},
                          {"lead", static_cast<double>(o.tuning.lead.count()) / 1e3},
                          {"window", static_cast<double>(o.tuning.window.count()) / 1e3}}},
      {"memcpy_frames_per_s", memcpy_fps},
      {"memcpy_frames_per_s_before", memcpy_before},
      {"memcpy_frames_per_s_after", memcpy_after},
      {"contended_memcpy_frames_per_s", contended_fps},
  };
  if (o.compare_waits) {
    for (auto& phase : phases) {
      const double fps = phase["frames_per_s"].get<double>();
      phase["ratio"] = fps / memcpy_fps;
      phase["ratio_to_contended"] = fps / contended_fps;
    }
    result["waits"] = phases;
  } else {
    // One phase: its figures at the top level, as before --wait existed.
    const double fps = phases.front()["frames_per_s"].get<double>();
    result.update(phases.front());
    result["bytes_per_s"] = fps * static_cast<double>(geometry.frame_bytes());
    result["ratio"] = fps / memcpy_fps;
    result["ratio_to_contended"] = fps / contended_fps;
  }
  if (o.json) {
    fmt::print("{}\n", result.dump(2));
  } else {
    fmt::print("  memcpy baseline after: {:.0f} frames/s (mean {:.0f})\n", memcpy_after, memcpy_fps);
    if (!o.compare_waits) {
      const auto& p = phases.front();
      const double fps = p["frames_per_s"].get<double>();
      fmt::print("  ring: {:.0f} frames/s ({:.2f} GB/s), ratio to memcpy {:.3f}, to memcpy with a reading core {:.3f}\n",
                 fps, result["bytes_per_s"].get<double>() / 1e9, fps / memcpy_fps, fps / contended_fps);
      fmt::print("  producer waited {:.2f} s of {:.2f} s for the every consumer\n", p["producer_blocked_s"].get<double>(),
                 p["seconds"].get<double>());
      fmt::print("  every consumer: {} frames, lost {}, bad content {}, out of order {}\n",
                 p["every_frames"].get<std::uint64_t>(), p["lost"].get<std::uint64_t>(),
                 p["every_bad_content"].get<std::uint64_t>(), p["every_out_of_order"].get<std::uint64_t>());
      fmt::print("  {} newest consumer(s) (60 Hz, --wait {}): {} frames, wake p50 {:.1f} us, p99 {:.1f} us, p99.9 {:.1f} us "
                 "({} samples), torn shown {}, torn detected {}\n",
                 result["newest_consumers"].get<std::uint32_t>(), p["wait"].get<std::string>(),
                 p["newest_frames"].get<std::uint64_t>(), p["wake_us"]["p50"].get<double>(),
                 p["wake_us"]["p99"].get<double>(), p["wake_us"]["p999"].get<double>(),
                 p["wake_us"]["samples"].get<std::size_t>(), p["torn_shown"].get<std::uint64_t>(),
                 p["torn_detected"].get<std::uint64_t>());
      fmt::print("  bare futex wake between two processes, same period, same run: p50 {:.1f} us, p99 {:.1f} us "
                 "({} samples); ring wake p99 / futex p99 = {:.2f}\n",
                 p["futex_wake_us"]["p50"].get<double>(), p["futex_wake_us"]["p99"].get<double>(),
                 p["futex_wake_us"]["samples"].get<std::size_t>(), p["wake_p99_ratio_to_futex"].get<double>());
    } else {
      fmt::print("  {:<9} {:>9} {:>12} {:>12} {:>13} {:>13} {:>12} {:>13} {:>10} {:>5} {:>5}\n", "wait", "frames/s",
                 "wake p50 us", "wake p99 us", "futex p50 us", "futex p99 us", "p99 / futex", "polls caught",
                 "poll ms", "lost", "torn");
      for (const auto& p : phases) {
        const auto& w = p["newest_waits"];
        fmt::print("  {:<9} {:>9.0f} {:>12.1f} {:>12.1f} {:>13.1f} {:>13.1f} {:>12.2f} {:>13} {:>10.1f} {:>5} {:>5}\n",
                   p["wait"].get<std::string>(), p["frames_per_s"].get<double>(), p["wake_us"]["p50"].get<double>(),
                   p["wake_us"]["p99"].get<double>(), p["futex_wake_us"]["p50"].get<double>(),
                   p["futex_wake_us"]["p99"].get<double>(), p["wake_p99_ratio_to_futex"].get<double>(),
                   fmt::format("{}/{}", w["polls_caught"].get<std::uint64_t>(), w["polls"].get<std::uint64_t>()),
                   w["poll_s"].get<double>() * 1e3, p["lost"].get<std::uint64_t>(), p["torn_shown"].get<std::uint64_t>());
      }
      fmt::print("  (each row its own ring phase of {} s, with its own futex baseline beside it)\n", o.seconds);
    }
  }
  const bool clean = std::all_of(phases.begin(), phases.end(), is_clean);
  return clean ? 0 : 3;
}

int run_ring_bench(const RingBenchOptions& o) {
  setup_logging(o.role.empty() ? "bench" : "bench-" + o.role, o.common.log_level);
  install_stop_handlers();
  if (o.role == "producer") return run_producer(o);
  if (o.role == "every") return run_every(o);
  if (o.role == "newest") return run_newest(o);
  return run_parent(o);
}

}  // namespace

void add_bench_subcommand(CLI::App& app, std::function<int()>& action) {
  CLI::App* bench = app.add_subcommand("bench", "Measure throughput and latency (see bench/README.md)");
  bench->require_subcommand(1);
  auto o = std::make_shared<RingBenchOptions>();
  CLI::App* cmd = bench->add_subcommand(
      "ring", "Ring throughput and wake latency: producer, every and newest consumers as 3 processes");
  cmd->footer(
      "Runs a memcpy baseline, then one producer (memcpy of prepared frames into claimed slots), one\n"
      "every-consumer (reads every pixel of every frame) and one newest-consumer (Ready at 60 Hz) as\n"
      "separate processes for --seconds. Reports frames/s, the ratio to memcpy, wake latency percentiles\n"
      "(publish -> newest consumer awake), torn frames shown (must be 0) and frames lost (must be 0).\n"
      "Meanwhile two more processes measure a bare futex wake at the producer's frame period (the\n"
      "machine's own limit: futex_wake_us), and the ring's wake p99 is given against it.\n"
      "--wait STRATEGY sets how the newest consumers wait (futex, spin, deadline); --compare-waits runs one\n"
      "ring phase per strategy, each with its own futex baseline, and prints a table (\"waits\" in the JSON)\n"
      "with wake p50/p99, the futex baseline's, and how many polls caught their frame.\n"
      "Exit code 3 when anything was lost or shown torn.\n"
      "Example: framering bench ring --seconds 5 --json\n"
      "Example: framering bench ring --seconds 3 --compare-waits --no-every --newest-cpu 1");
  add_common_options(*cmd, o->common);
  cmd->add_option("--width", o->width, "Frame width in pixels")->check(CLI::Range(8, 65536))->capture_default_str();
  cmd->add_option("--height", o->height, "Frame height in pixels")->check(CLI::Range(8, 65536))->capture_default_str();
  cmd->add_option("--slots", o->slots, "Ring slots")->check(CLI::Range(2, 4096))->capture_default_str();
  cmd->add_option("--pixel-format", o->pixel_format, "Ring pixel format (PFNC name): Mono16, RGB8 (6.2 MB at 1080p), ...")
      ->capture_default_str();
  cmd->add_option("--seconds", o->seconds, "Length of the measured run, in seconds")
      ->check(CLI::Range(0.2, 3600.0))
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->add_flag("!--no-pin", o->pin, "Do not pin the producer and the every consumer to CPUs 0 and 1");
  cmd->add_flag("!--no-every", o->with_every, "Leave the every consumer out (isolates the producer's cost)");
  cmd->add_flag("!--no-newest", o->with_newest, "Leave the newest consumers out");
  cmd->add_option("--newest", o->newest_count, "Newest consumers, each its own process (scaling: 1, 2, 4, 8)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  add_wait_option(*cmd, o->wait)->description(
      "How the newest consumers wait for the next frame: futex, spin or deadline (ring::WaitStrategy)");
  cmd->add_flag("--compare-waits", o->compare_waits,
                "One ring phase per wait strategy (futex, spin, deadline), each with its own futex baseline: "
                "a table (and \"waits\" in the JSON)");
  const auto add_us = [cmd](const char* name, std::chrono::nanoseconds& value, const char* what) {
    cmd->add_option_function<double>(
           name, [&value](double us) { value = std::chrono::nanoseconds{static_cast<std::int64_t>(us * 1e3)}; }, what)
        ->check(CLI::Range(0.0, 500.0))
        ->default_str(fmt::format("{}", static_cast<double>(value.count()) / 1e3));
  };
  add_us("--spin-us", o->tuning.spin, "spin: microseconds of polling before the futex wait");
  add_us("--lead-us", o->tuning.lead, "deadline: stop sleeping this many microseconds before the frame is due");
  add_us("--window-us", o->tuning.window, "deadline: poll at most this many microseconds after the frame is due");
  cmd->add_option("--newest-cpu", o->newest_cpu,
                  "Pin the newest consumers to this CPU (-1: not pinned). A polling consumer on the producer's CPU "
                  "(0) delays the very frame it polls for")
      ->check(CLI::Range(-1, 1023))
      ->capture_default_str();
  cmd->add_option("--newest-index", o->newest_index, "internal: which newest consumer a child is")->group("");
  cmd->add_option("--role", o->role, "internal: the role of a child process")
      ->check(CLI::IsMember({"producer", "every", "newest"}))
      ->group("");
  cmd->add_option("--result", o->result_file, "internal: where a child writes its result")->group("");
  cmd->callback([o, &action] { action = [o] { return run_ring_bench(*o); }; });
  add_process_bench(*bench, action);
  add_led_bench(*bench, action);
  add_record_bench(*bench, action);
  add_bridge_bench(*bench, action);
  add_demosaic_bench(*bench, action);
}

}  // namespace framering::bench
