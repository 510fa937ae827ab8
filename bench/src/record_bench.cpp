// record_bench.cpp: `framering bench record`: how close `framering record` on a real ring comes
// to what the disk takes from plain O_DIRECT writes, both measured in the same run and folder.
//
//   raw baseline (in the parent, before and after the pipeline; the mean is the baseline):
//       write() of one 4 MiB buffer, 4096-aligned, with O_DIRECT, into files of --part-bytes
//       that are deleted as soon as they are full (the recorder's parts are deleted the same way)
//   pipeline (two processes):
//       producer  `bench record --role producer`: memcpy of prepared frames into "raw", flat out
//       recorder  the real `framering record` (O_DIRECT from the slots), parts of --part-bytes
//   frames_per_s = frames the producer published per second (the recorder gates it, so this is
//   the recorder's sustained rate); bytes_per_s = frames_per_s * pixel bytes per frame;
//   ratio = bytes_per_s / raw_write_bytes_per_s.
// Disk use: at most two parts (or raw files) exist at any time; every closed one is deleted.
#include "framering/bench/record_bench.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "bench_support.hpp"
#include "framering/common/cli_options.hpp"
#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"
#include "framering/common/logging.hpp"
#include "framering/common/ring_status.hpp"
#include "framering/common/ring_writer.hpp"
#include "framering/common/segment.hpp"
#include "framering/common/stop_signal.hpp"

extern char** environ;

namespace framering::bench {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRing = "raw";
constexpr const char* kRecorderName = "record";
constexpr std::uint64_t kRawWriteBytes = 4ULL << 20;  // 4 MiB per write(), as the baseline
constexpr int kPreparedFrames = 4;

struct RecordBenchOptions {
  CommonOptions common;
  std::uint32_t width = 1920;
  std::uint32_t height = 1080;
  std::uint32_t slots = 32;
  std::string pixel_format = "Mono16";      ///< PFNC name: Mono16 (the issue's figures), RGB8, ...
  double seconds = 5.0;
  std::string dir;                          ///< base folder; empty: $TMPDIR or /var/tmp
  std::uint64_t part_bytes = 1ULL << 30;    ///< recorder part size and raw file size
  bool json = false;
  bool keep = false;
  bool write_from_slots = false;            ///< pass --write-from-slots to the recorder
  // Internal: the role of a child process and where it writes its result.
  std::string role;
  std::string result_file;
};

PixelFormat format_of(const RecordBenchOptions& o) {
  const auto format = parse_pixel_format(o.pixel_format);
  if (!format || *format == PixelFormat::BGR8) {
    throw ConfigError(fmt::format("bench record: --pixel-format '{}' is not one the recorder takes: expected one of {} "
                                  "but BGR8",
                                  o.pixel_format, pixel_format_names(all_pixel_formats())));
  }
  return *format;
}

ring::RingGeometry geometry_of(const RecordBenchOptions& o) {
  ring::RingGeometry g = mono16_geometry(o.width, o.height, o.slots);
  g.frame.pixel_format = format_of(o);
  return g;
}

// Page-aligned bytes filled with a seeded pattern (not zeros, which a file system could elide).
AlignedBuffer aligned_bytes(std::uint64_t bytes, std::uint32_t seed) {
  AlignedBuffer p = aligned_buffer(bytes);
  auto* words = reinterpret_cast<std::uint16_t*>(p.get());
  for (std::uint64_t i = 0; i < bytes / 2; ++i) words[i] = static_cast<std::uint16_t>((i * 2654435761U >> 13) + seed * 977U);
  return p;
}

int run_producer(const RecordBenchOptions& o) {
  auto writer = ring::RingWriter::create_or_attach(o.common.instance, kRing, geometry_of(o));
  const std::uint64_t frame_bytes = writer.segment().header().frame_bytes;
  std::vector<AlignedBuffer> frames;
  std::vector<const std::byte*> pointers;
  for (int k = 0; k < kPreparedFrames; ++k) {
    frames.push_back(aligned_bytes(frame_bytes, static_cast<std::uint32_t>(k)));
    pointers.push_back(frames.back().get());
  }
  write_result(o.result_file, produce_copies(writer, pointers, o.seconds, false));
  return 0;
}

// The raw baseline: O_DIRECT 4 MiB writes for `seconds`, files of `part_bytes`, each deleted when
// full. Returns bytes/s and whether O_DIRECT was accepted.
struct RawResult {
  double bytes_per_s = 0;
  std::uint64_t bytes = 0;
  bool direct = true;
};

RawResult raw_writes(const fs::path& dir, double seconds, std::uint64_t part_bytes) {
  const AlignedBuffer buffer = aligned_bytes(kRawWriteBytes, 7);
  RawResult r;
  int fd = -1;
  std::uint64_t in_file = 0;
  int files = 0;
  fs::path path;
  const auto open_next = [&] {
    if (fd >= 0) {
      ::close(fd);
      fs::remove(path);
    }
    path = dir / fmt::format("raw-{:06d}.bin", ++files);
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (r.direct ? O_DIRECT : 0), 0644);
    if (fd < 0 && errno == EINVAL && r.direct) {
      r.direct = false;
      fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }
    if (fd < 0) throw Error(fmt::format("bench record: cannot create {}: {}", path.string(), errno_text(errno)));
    in_file = 0;
  };
  open_next();
  const std::uint64_t start = monotonic_ns();
  const auto budget = static_cast<std::uint64_t>(seconds * 1e9);
  while (monotonic_ns() - start < budget && !stop_requested()) {
    if (in_file + kRawWriteBytes > part_bytes) open_next();
    const ssize_t n = ::write(fd, buffer.get(), kRawWriteBytes);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(kRawWriteBytes)) {
      const int error = n < 0 ? errno : ENOSPC;
      ::close(fd);
      fs::remove(path);
      throw Error(fmt::format("bench record: raw write to {} failed: {}", path.string(), errno_text(error)));
    }
    in_file += kRawWriteBytes;
    r.bytes += kRawWriteBytes;
  }
  if (!r.direct) ::fdatasync(fd);  // buffered: what reached the disk, not the page cache
  const double elapsed = static_cast<double>(monotonic_ns() - start) / 1e9;
  ::close(fd);
  fs::remove(path);
  r.bytes_per_s = static_cast<double>(r.bytes) / elapsed;
  return r;
}

bool has_exited(pid_t pid, int& exit_code) {
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) != pid) return false;
  exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return true;
}

std::optional<std::uint64_t> recorder_cursor(const ring::Segment& segment) {
  const auto recorder = ring::find_consumer(segment, kRecorderName);
  if (!recorder || recorder->state != ring::ConsumerState::Active) return std::nullopt;
  return recorder->cursor;
}

// Deletes every part of the recording but the newest (the one the recorder is writing).
std::uint64_t delete_closed_parts(const fs::path& recording) {
  std::vector<fs::path> parts;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(recording, ec)) {
    if (e.path().extension() == ".tif") parts.push_back(e.path());
  }
  std::sort(parts.begin(), parts.end());
  std::uint64_t deleted = 0;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    if (fs::remove(parts[i], ec)) ++deleted;
  }
  return deleted;
}

struct PipelineResult {
  nlohmann::json producer;
  nlohmann::json recorder;
  int recorder_exit = -1;
  std::uint64_t parts_deleted = 0;
};

PipelineResult run_pipeline(RecordBenchOptions o, const fs::path& dir) {
  o.common.instance = fmt::format("bench-record-{}", ::getpid());
  const fs::path recording = dir / "recordings" / "bench";
  PipelineResult result;
  pid_t recorder = -1;
  pid_t producer = -1;
  auto kill_all = [&] {
    for (pid_t pid : {producer, recorder}) {
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        (void)wait_child(pid);
      }
    }
  };
  try {
    const auto segment = ring::Segment::create(o.common.instance, kRing, geometry_of(o), ring::Access::Private);
    std::vector<std::string> record_args = {
        "framering", "record", "--instance", o.common.instance, "--ring", kRing, "--name", kRecorderName,
        "--dest", (dir / "recordings").string(), "--recording", "bench", "--max-file-bytes", std::to_string(o.part_bytes),
        "--stall-timeout-s", "0", "--report-interval-s", "0",
        "--log-level", o.common.log_level == "info" ? std::string{"warn"} : o.common.log_level};
    if (o.write_from_slots) record_args.emplace_back("--write-from-slots");
    recorder = spawn_self(record_args, "recorder", (dir / "recorder.json").string());
    const std::uint64_t attach_deadline = monotonic_ns() + 30'000'000'000ULL;
    int exit_code = 0;
    while (!recorder_cursor(segment)) {
      if (has_exited(recorder, exit_code)) {
        recorder = -1;
        throw Error(fmt::format("bench record: the recorder exited ({}) before attaching (see its log above)", exit_code));
      }
      if (monotonic_ns() > attach_deadline) throw Error("bench record: the recorder did not attach within 30 s");
      std::this_thread::sleep_for(std::chrono::milliseconds{5});  // polling another process's attach
    }
    producer = spawn_self({"framering", "bench", "record", "--role", "producer", "--result", (dir / "producer.json").string(),
                      "--instance", o.common.instance, "--width", std::to_string(o.width), "--height",
                      std::to_string(o.height), "--slots", std::to_string(o.slots), "--pixel-format", o.pixel_format,
                      "--seconds",
                      fmt::format("{}", o.seconds), "--log-level", o.common.log_level},
                     "producer", "");
    int producer_exit = 0;
    while (!has_exited(producer, producer_exit)) {
      result.parts_deleted += delete_closed_parts(recording);
      std::this_thread::sleep_for(std::chrono::milliseconds{20});  // polling the recording folder
    }
    producer = -1;
    if (producer_exit != 0) throw Error(fmt::format("bench record: the producer failed (exit {})", producer_exit));
    ::kill(recorder, SIGTERM);  // it drains what the ring still holds, then closes
    result.recorder_exit = wait_child(recorder);
    recorder = -1;
    result.producer = read_result((dir / "producer.json").string(), "producer");
    result.recorder = read_result((dir / "recorder.json").string(), "recorder");
  } catch (...) {
    kill_all();
    ring::Segment::remove(o.common.instance, kRing);
    throw;
  }
  ring::Segment::remove(o.common.instance, kRing);
  return result;
}

int run_parent(const RecordBenchOptions& o) {
  geometry_of(o).validate();
  fs::path base = o.dir;
  if (base.empty()) {
    const char* tmpdir = std::getenv("TMPDIR");
    base = tmpdir != nullptr && *tmpdir != '\0' ? fs::path(tmpdir) : fs::path("/var/tmp");
  }
  std::string pattern = (base / "framering-bench-record-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw ConfigError(fmt::format("bench record: cannot create a folder in {}: {}", base.string(), errno_text(errno)));
  }
  const fs::path dir = pattern;
  struct statvfs vfs {};
  std::uint64_t part_bytes = o.part_bytes;
  if (::statvfs(dir.c_str(), &vfs) == 0) {
    const std::uint64_t free_bytes = std::uint64_t{vfs.f_bavail} * vfs.f_frsize;
    // Two parts exist at a time: keep them within a quarter of the free space.
    part_bytes = std::min(part_bytes, free_bytes / 8);
  }
  const std::uint64_t frame_bytes = geometry_of(o).frame.packed_frame_bytes();
  if (part_bytes < 2 * (frame_bytes + 8192) || part_bytes < 2 * kRawWriteBytes) {
    fs::remove_all(dir);
    throw ConfigError(fmt::format("bench record: {} has too little free space for two parts of two frames", base.string()));
  }
  const auto cleanup = [&] {
    if (!o.keep) {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  };
  if (!o.json) {
    fmt::print("bench record: {}x{} {} ({:.1f} MB per frame), {} slots, {} s per phase, folder {}, parts of {:.2f} GB\n",
               o.width, o.height, o.pixel_format, static_cast<double>(frame_bytes) / 1e6, o.slots, o.seconds, dir.string(),
               static_cast<double>(part_bytes) / 1e9);
    std::fflush(stdout);
  }
  RecordBenchOptions effective = o;
  effective.part_bytes = part_bytes;
  RawResult before, after;
  PipelineResult pipeline;
  try {
    before = raw_writes(dir, o.seconds, part_bytes);
    if (!o.json) {
      fmt::print("  raw {} 4 MiB writes: {:.2f} GB/s\n", before.direct ? "O_DIRECT" : "buffered", before.bytes_per_s / 1e9);
      std::fflush(stdout);
    }
    pipeline = run_pipeline(effective, dir);
    after = raw_writes(dir, o.seconds, part_bytes);
  } catch (...) {
    cleanup();
    throw;
  }
  cleanup();
  const double raw = (before.bytes_per_s + after.bytes_per_s) / 2;
  const double fps = pipeline.producer["frames_per_s"].get<double>();
  const double bytes_per_s = fps * static_cast<double>(frame_bytes);
  const std::uint64_t published = pipeline.producer["frames"].get<std::uint64_t>();
  const std::uint64_t recorded = pipeline.recorder.value("recorded", std::uint64_t{0});
  const std::uint64_t lost = pipeline.recorder.value("lost", std::uint64_t{0}) + (published - std::min(published, recorded));
  const nlohmann::json result = {
      {"width", o.width},
      {"height", o.height},
      {"pixel_format", o.pixel_format},
      {"slots", o.slots},
      {"seconds", o.seconds},
      {"folder", dir.string()},
      {"frames_per_s", fps},
      {"bytes_per_s", bytes_per_s},
      {"file_bytes_per_s", fps * static_cast<double>((frame_bytes + 4095) / 4096 * 4096 + 4096)},
      {"raw_write_bytes_per_s", raw},
      {"raw_write_bytes_per_s_before", before.bytes_per_s},
      {"raw_write_bytes_per_s_after", after.bytes_per_s},
      {"raw_write_direct_io", before.direct && after.direct},
      {"ratio", raw > 0 ? bytes_per_s / raw : 0.0},
      {"frames", published},
      {"recorded", recorded},
      {"lost", lost},
      {"producer_blocked_s", pipeline.producer["blocked_s"]},
      {"recorder_exit_code", pipeline.recorder_exit},
      {"parts_deleted", pipeline.parts_deleted},
      {"part_bytes", part_bytes},
      {"recorder_write_from_slots", o.write_from_slots},
  };
  if (o.json) {
    fmt::print("{}\n", result.dump(2));
  } else {
    fmt::print("  raw O_DIRECT after: {:.2f} GB/s (mean {:.2f} GB/s)\n", after.bytes_per_s / 1e9, raw / 1e9);
    fmt::print("  producer -> raw -> framering record: {:.1f} frames/s, {:.2f} GB/s, ratio to raw writes {:.3f}\n", fps,
               bytes_per_s / 1e9, result["ratio"].get<double>());
    fmt::print("  frames published {}, recorded {}, lost {}, recorder exit code {}, producer waited {:.2f} s\n",
               published, recorded, lost, pipeline.recorder_exit, pipeline.producer["blocked_s"].get<double>());
  }
  if (pipeline.recorder_exit != 0 && pipeline.recorder_exit != 3) return 2;
  return lost == 0 ? 0 : 3;
}

}  // namespace

void add_record_bench(CLI::App& bench, std::function<int()>& action) {
  auto o = std::make_shared<RecordBenchOptions>();
  CLI::App* cmd = bench.add_subcommand("record", "Recorder throughput against plain O_DIRECT writes to the same folder");
  cmd->footer(
      "Measures plain write() calls of a 4 MiB, 4096-aligned buffer with O_DIRECT into the folder, then\n"
      "a producer process (memcpy of prepared frames, flat out) and the real `framering record` for\n"
      "--seconds, then the plain writes again. Reports frames_per_s, bytes_per_s (pixel bytes),\n"
      "raw_write_bytes_per_s (mean of before and after), ratio = bytes_per_s / raw_write_bytes_per_s,\n"
      "and lost (must be 0). Disk use: files of --part-bytes (at most 1/8 of the free space), and\n"
      "every closed one is deleted at once, so at most two exist; the folder is removed at the end.\n"
      "Exit code 3 when frames were lost.\n"
      "Example: framering bench record --seconds 5 --json");
  add_common_options(*cmd, o->common);
  cmd->add_option("--width", o->width, "Frame width in pixels")->check(CLI::Range(8, 65536))->capture_default_str();
  cmd->add_option("--height", o->height, "Frame height in pixels")->check(CLI::Range(8, 65536))->capture_default_str();
  cmd->add_option("--slots", o->slots, "Ring slots")->check(CLI::Range(2, 4096))->capture_default_str();
  cmd->add_option("--pixel-format", o->pixel_format, "Ring pixel format (PFNC name): Mono16, RGB8 (6.2 MB at 1080p), ...")
      ->capture_default_str();
  cmd->add_option("--seconds", o->seconds, "Length of each phase, in seconds")
      ->check(CLI::Range(0.2, 3600.0))
      ->capture_default_str();
  cmd->add_option("--dir", o->dir,
                  "Folder to write in (a fresh subfolder, removed afterwards) [default: $TMPDIR, else /var/tmp]");
  cmd->add_option("--part-bytes", o->part_bytes, "Size of each recorder part and raw file, e.g. 1GiB")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  cmd->add_flag("--write-from-slots", o->write_from_slots,
                "Run the recorder with --write-from-slots (O_DIRECT from the ring's 4 KiB pages, no staging copy)");
  cmd->add_flag("--keep", o->keep, "Keep the bench folder (the last part and the manifest) for inspection");
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->add_option("--role", o->role, "internal: the role of a child process")
      ->check(CLI::IsMember({"producer"}))
      ->group("");
  cmd->add_option("--result", o->result_file, "internal: where a child writes its result")->group("");
  cmd->callback([o, &action] {
    action = [o] {
      setup_logging(o->role.empty() ? "bench" : "bench-" + o->role, o->common.log_level);
      install_stop_handlers();
      if (o->role == "producer") return run_producer(*o);
      return run_parent(*o);
    };
  });
}

}  // namespace framering::bench
