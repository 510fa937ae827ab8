// process_bench.cpp: `framering bench process`: how close the process stage on real rings comes
// to the bare FFTW work it does, both measured in the same run.
//
//   bare loop (in the parent, before and after the pipeline; the mean is the baseline), in each
//   FFT layout (in-place on padded rows, out-of-place: fft_plans.hpp), each step timed:
//       u16 -> float, r2c, mask, c2r, float -> u16 on prepared frames in FftPlans' fftwf_malloc
//       buffers, with the same plan flags, threads and per-pixel kernels as the stage; no ring
//   pipeline (four processes):
//       producer  `bench process --role producer`: memcpy of prepared frames into "raw", flat out
//       stage     the real `framering process --consumer every` (every frame is processed)
//       drain     `bench process --role drain`: every consumer of "processed"; checks that the
//                 input sequences arrive complete and in order, and times them (it does not
//                 read the pixels, so that it takes as little CPU from the stage as possible)
//   ratio = pipeline frames/s / bare frames/s of the faster layout (whichever the stage chose);
//   cpu_ratio = bare CPU ms per frame (the cheaper layout) / the stage's, from its summary: the
//   figure that other load on the machine does not move
// Wisdom: the parent plans both layouts first and saves wisdom, so the stage's own planning
// (--fft-layout auto plans both) is a wisdom hit.
#include "framering/bench/process_bench.hpp"

#include "bench_support.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fftw3.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "framering/common/cli_options.hpp"
#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"
#include "framering/common/logging.hpp"
#include "framering/common/ring_reader.hpp"
#include "framering/common/ring_status.hpp"
#include "framering/common/ring_writer.hpp"
#include "framering/common/segment.hpp"
#include "framering/common/stop_signal.hpp"
#include "framering/process/fft_plans.hpp"
#include "framering/process/fftw_planner.hpp"
#include "framering/process/filter_mask.hpp"
#include "framering/process/pixel_kernels.hpp"


namespace framering::bench {
namespace {

using process::FftwFloats;

struct ProcessBenchOptions {
  CommonOptions common;
  std::uint32_t width = 1920;
  std::uint32_t height = 1080;
  int threads = 1;
  std::string mode = "bandpass";
  double low_cutoff = 0.02;
  double high_cutoff = 0.2;
  std::string planner = "measure";
  std::string wisdom;  ///< empty: the per-machine default
  bool no_wisdom = false;
  std::string fft_layout = "auto";  ///< passed to the stage
  double seconds = 5.0;
  std::uint32_t slots = 16;
  bool json = false;
  // Internal: the role of a child process and where it writes its result.
  std::string role;
  std::string result_file;
};

constexpr const char* kInputRing = "raw";
constexpr const char* kOutputRing = "processed";
constexpr const char* kStageName = "process";
constexpr const char* kDrainName = "bench-drain";
constexpr int kPreparedFrames = 4;
constexpr std::uint32_t kOutputSlots = 8;

ring::RingGeometry geometry_of(const ProcessBenchOptions& o) { return mono16_geometry(o.width, o.height, o.slots); }

process::FilterSpec spec_of(const ProcessBenchOptions& o) {
  const auto mode = process::parse_filter_mode(o.mode);
  if (!mode || *mode == process::FilterMode::LogPower) throw ConfigError(fmt::format("--mode {} cannot be benchmarked", o.mode));
  process::FilterSpec spec{*mode, o.low_cutoff, o.high_cutoff};
  spec.validate();
  return spec;
}

process::PlannerRigor rigor_of(const ProcessBenchOptions& o) {
  const auto rigor = process::parse_planner_rigor(o.planner);
  if (!rigor) throw ConfigError(fmt::format("--planner {} is not estimate, measure or patient", o.planner));
  return *rigor;
}

std::optional<std::filesystem::path> wisdom_of(const ProcessBenchOptions& o) {
  if (o.no_wisdom) return std::nullopt;
  if (!o.wisdom.empty()) return std::filesystem::path(o.wisdom);
  return process::default_wisdom_path();
}

// Distinct prepared Mono16 frames, as a camera driver's buffers would be: smooth gradients
// plus texture, every value in range.
std::vector<FftwFloats> prepared_frames(const ProcessBenchOptions& o) {
  const std::size_t pixels = std::size_t{o.width} * o.height;
  std::vector<FftwFloats> frames;
  for (int k = 0; k < kPreparedFrames; ++k) {
    frames.push_back(process::allocate_fftw_floats((pixels + 1) / 2));  // pixels u16 = pixels/2 floats
    auto* px = reinterpret_cast<std::uint16_t*>(frames.back().get());
    for (std::size_t i = 0; i < pixels; ++i) {
      const std::size_t x = i % o.width;
      const std::size_t y = i / o.width;
      px[i] = static_cast<std::uint16_t>((x * 13 + y * 7 + static_cast<std::size_t>(k) * 1013 + (i * 2654435761U >> 20)) & 0xFFFF);
    }
  }
  return frames;
}

// The steps of one frame, in ms per frame (wall clock, means over a phase).
struct StepTimes {
  double to_float_ms = 0;   ///< u16 -> float into the layout's real rows
  double r2c_ms = 0;
  double mask_ms = 0;
  double c2r_ms = 0;
  double to_pixels_ms = 0;  ///< scale, round, clamp, float -> u16
  double frames_per_s = 0;  ///< frames over the whole phase (steps and loop)
  double cpu_ms = 0;        ///< CPU time per frame of this process (all FFTW threads)
  std::uint64_t frames = 0;

  [[nodiscard]] nlohmann::json to_json() const {
    return {{"u16_to_float_ms", to_float_ms}, {"r2c_ms", r2c_ms},
            {"mask_ms", mask_ms},             {"c2r_ms", c2r_ms},
            {"float_to_u16_ms", to_pixels_ms}, {"frames_per_s", frames_per_s},
            {"cpu_ms_per_frame", cpu_ms},      {"frames", frames}};
  }
};

// The mean of two phases (before and after the pipeline), step by step.
StepTimes mean_of(const StepTimes& a, const StepTimes& b) {
  return {(a.to_float_ms + b.to_float_ms) / 2,   (a.r2c_ms + b.r2c_ms) / 2,
          (a.mask_ms + b.mask_ms) / 2,           (a.c2r_ms + b.c2r_ms) / 2,
          (a.to_pixels_ms + b.to_pixels_ms) / 2, (a.frames_per_s + b.frames_per_s) / 2,
          (a.cpu_ms + b.cpu_ms) / 2,             a.frames + b.frames};
}

// The bare FFTW loop in each layout, with plans made here (the parent) for the same problems and
// flags as the stage's FourierFilter (fft_plans.hpp's FftPlans, which the stage uses too); it
// reports whether they came from wisdom and saves wisdom for the stage.
struct BareLoop {
  FftwFloats mask;
  std::vector<process::FftPlans> layouts;  // in-place, out-of-place
  bool from_wisdom = true;
  double planning_s = 0;

  BareLoop(const ProcessBenchOptions& o, const process::FilterSpec& spec) {
    const auto gains = process::build_mask(o.width, o.height, spec);
    mask = process::allocate_fftw_floats(gains.size());
    std::memcpy(mask.get(), gains.data(), gains.size() * sizeof(float));
    process::set_planner_threads(o.threads);
    const auto wisdom = wisdom_of(o);
    if (wisdom) (void)process::import_wisdom(*wisdom);
    const unsigned flags = process::planner_flags(rigor_of(o));
    for (auto layout : {process::FftLayout::InPlace, process::FftLayout::OutOfPlace}) {
      layouts.emplace_back(o.width, o.height, layout, flags, /*with_inverse=*/true);
      from_wisdom = from_wisdom && layouts.back().from_wisdom();
      planning_s += std::chrono::duration<double>(layouts.back().planning_time()).count();
    }
    if (wisdom && !from_wisdom) {
      if (auto saved = process::export_wisdom(*wisdom); !saved) spdlog::warn("{}", saved.error());
    }
  }

  // Each step of `plans`' loop, timed, over `seconds`.
  StepTimes run(const ProcessBenchOptions& o, const process::FftPlans& plans, const std::vector<FftwFloats>& sources,
                double seconds) const {
    std::vector<FftwFloats> outputs;
    for (std::uint32_t i = 0; i < kOutputSlots; ++i) outputs.push_back(process::allocate_fftw_floats((std::size_t{o.width} * o.height + 1) / 2));
    const std::uint64_t stride = std::uint64_t{o.width} * 2;
    const float scale = 1.0F / static_cast<float>(std::size_t{o.width} * o.height);
    std::uint64_t step_ns[5] = {};
    std::uint64_t frames = 0;
    const std::uint64_t cpu_start = process_cpu_ns();
    const std::uint64_t start = monotonic_ns();
    const auto budget = static_cast<std::uint64_t>(seconds * 1e9);
    std::uint64_t t0 = start;
    while (t0 - start < budget) {
      const auto* in = reinterpret_cast<const std::byte*>(sources[frames % sources.size()].get());
      auto* out = reinterpret_cast<std::byte*>(outputs[frames % outputs.size()].get());
      process::pixels_to_float(in, stride, PixelFormat::Mono16, o.width, o.height, plans.real(), plans.real_row_floats());
      const std::uint64_t t1 = monotonic_ns();
      plans.forward();
      const std::uint64_t t2 = monotonic_ns();
      process::multiply_by_mask(plans.spectrum(), mask.get(), plans.spectrum_count());
      const std::uint64_t t3 = monotonic_ns();
      plans.backward();
      const std::uint64_t t4 = monotonic_ns();
      process::float_to_pixels(plans.real(), plans.real_row_floats(), scale, 0.0F, PixelFormat::Mono16, o.width,
                               o.height, out, stride);
      const std::uint64_t t5 = monotonic_ns();
      step_ns[0] += t1 - t0;
      step_ns[1] += t2 - t1;
      step_ns[2] += t3 - t2;
      step_ns[3] += t4 - t3;
      step_ns[4] += t5 - t4;
      ++frames;
      t0 = t5;
    }
    const double cpu_ms = static_cast<double>(process_cpu_ns() - cpu_start) / 1e6 / static_cast<double>(frames);
    const auto ms = [&](int step) { return static_cast<double>(step_ns[step]) / 1e6 / static_cast<double>(frames); };
    return {ms(0), ms(1), ms(2), ms(3), ms(4), static_cast<double>(frames) / (static_cast<double>(t0 - start) / 1e9),
            cpu_ms, frames};
  }
};

int run_producer(const ProcessBenchOptions& o) {
  auto writer = ring::RingWriter::create_or_attach(o.common.instance, kInputRing, geometry_of(o));
  const auto sources = prepared_frames(o);
  std::vector<const std::byte*> pointers;
  for (const auto& s : sources) pointers.push_back(reinterpret_cast<const std::byte*>(s.get()));
  write_result(o.result_file, produce_copies(writer, pointers, o.seconds, false));
  return 0;
}

int run_drain(const ProcessBenchOptions& o) {
  ring::ReaderOptions ro;
  ro.name = kDrainName;
  ro.kind = ring::ConsumerKind::Every;
  ro.stall_timeout = std::chrono::seconds{60};
  ro.wait_for_segment = std::chrono::seconds{10};
  auto reader = ring::RingReader::attach(o.common.instance, kOutputRing, ro);
  std::uint64_t frames = 0;
  std::uint64_t lost = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t first_ns = 0;
  std::uint64_t last_ns = 0;
  std::optional<std::uint64_t> last_input;
  for (;;) {
    auto frame = reader.read(std::chrono::milliseconds{100});
    if (!frame) {
      if (stop_requested() && reader.cursor() >= reader.published()) break;
      continue;
    }
    const std::uint64_t now = monotonic_ns();
    if (frames == 0) first_ns = now;
    last_ns = now;
    if (frame->gap) lost += frame->gap->count();
    // The stage is an every consumer: input sequences (its camera_frame_id) must be consecutive.
    if (last_input && frame->camera_frame_id != *last_input + 1) ++out_of_order;
    last_input = frame->camera_frame_id;
    if (!reader.release(*frame)) ++lost;
    ++frames;
  }
  write_result(o.result_file, {{"frames", frames}, {"lost", lost}, {"out_of_order", out_of_order},
                               {"seconds", static_cast<double>(last_ns - first_ns) / 1e9},
                               {"frames_per_s", frames > 1 ? static_cast<double>(frames - 1) /
                                                                 (static_cast<double>(last_ns - first_ns) / 1e9)
                                                           : 0.0}});
  return 0;
}

pid_t spawn_role(const ProcessBenchOptions& o, const std::string& role, const std::string& result) {
  return spawn_self({"framering", "bench", "process", "--role", role, "--result", result, "--instance", o.common.instance,
                "--width", std::to_string(o.width), "--height", std::to_string(o.height), "--slots",
                std::to_string(o.slots), "--seconds", fmt::format("{}", o.seconds), "--log-level", o.common.log_level},
               role);
}

pid_t spawn_stage(const ProcessBenchOptions& o, const process::FilterSpec& spec, const std::string& summary_path) {
  std::vector<std::string> args = {"framering", "process", "--instance", o.common.instance, "--input-ring", kInputRing,
                                   "--output-ring", kOutputRing, "--output-slots", std::to_string(kOutputSlots),
                                   "--name", kStageName, "--consumer", "every", "--mode", o.mode, "--threads",
                                   std::to_string(o.threads), "--planner", o.planner, "--stall-timeout-s", "60",
                                   "--report-interval-s", "0", "--fft-layout", o.fft_layout, "--log-level",
                                   o.common.log_level};
  if (spec.mode != process::FilterMode::Lowpass && spec.mode != process::FilterMode::Identity) {
    args.insert(args.end(), {"--low-cutoff", fmt::format("{}", o.low_cutoff)});
  }
  if (spec.mode != process::FilterMode::Highpass && spec.mode != process::FilterMode::Identity) {
    args.insert(args.end(), {"--high-cutoff", fmt::format("{}", o.high_cutoff)});
  }
  const auto wisdom = wisdom_of(o);
  if (wisdom) {
    args.insert(args.end(), {"--wisdom", wisdom->string()});
  } else {
    args.emplace_back("--no-wisdom");
  }
  return spawn_self(args, "process stage", summary_path);  // its JSON summary apart from the bench's
}

bool has_exited(pid_t pid) {
  int status = 0;
  return ::waitpid(pid, &status, WNOHANG) == pid;
}

bool consumer_active(const ring::Segment& segment, std::string_view name) {
  const auto consumer = ring::find_consumer(segment, name);
  return consumer && consumer->state == ring::ConsumerState::Active;
}

// Polls `condition` every 5 ms (another process's progress) until it holds, `alive` fails, or
// `timeout_s` passes.
template <class Condition, class Alive>
bool wait_for(Condition condition, Alive alive, double timeout_s) {
  const std::uint64_t deadline = monotonic_ns() + static_cast<std::uint64_t>(timeout_s * 1e9);
  while (!condition()) {
    if (!alive() || monotonic_ns() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});  // polling another process
  }
  return true;
}

struct PipelineResult {
  nlohmann::json producer;
  nlohmann::json drain;
  nlohmann::json stage;  ///< the stage's JSON summary line
  int stage_exit = -1;
};

PipelineResult run_pipeline(ProcessBenchOptions o, const process::FilterSpec& spec) {
  o.common.instance = fmt::format("bench-process-{}", ::getpid());
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("framering-bench-process-{}", ::getpid());
  std::filesystem::create_directories(dir);
  PipelineResult result;
  pid_t stage = -1;
  pid_t drain = -1;
  pid_t producer = -1;
  auto kill_all = [&] {
    for (pid_t pid : {producer, drain, stage}) {
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        (void)wait_child(pid);
      }
    }
  };
  try {
    // The parent creates "raw" so that the stage and the drain are attached before frame 0.
    const auto input = ring::Segment::create(o.common.instance, kInputRing, geometry_of(o), ring::Access::Private);
    stage = spawn_stage(o, spec, (dir / "stage.json").string());
    if (!wait_for([&] { return consumer_active(input, kStageName); }, [&] { return !has_exited(stage); }, 600.0)) {
      stage = -1;
      throw Error("bench: the process stage did not attach to its input (see its log above)");
    }
    const auto output = ring::Segment::open(o.common.instance, kOutputRing);
    drain = spawn_role(o, "drain", (dir / "drain.json").string());
    if (!wait_for([&] { return consumer_active(output, kDrainName); }, [&] { return !has_exited(drain); }, 30.0)) {
      drain = -1;
      throw Error("bench: the drain process did not attach");
    }
    producer = spawn_role(o, "producer", (dir / "producer.json").string());
    const int producer_exit = wait_child(producer);
    producer = -1;
    if (producer_exit != 0) throw Error(fmt::format("bench: the producer failed (exit {})", producer_exit));
    // Let the stage finish what is in "raw", then stop it and the drain.
    (void)wait_for([&] { return output.published() >= input.published(); }, [&] { return !has_exited(stage); }, 60.0);
    ::kill(stage, SIGTERM);
    result.stage_exit = wait_child(stage);
    stage = -1;
    ::kill(drain, SIGTERM);
    const int drain_exit = wait_child(drain);
    drain = -1;
    if (drain_exit != 0) throw Error(fmt::format("bench: the drain failed (exit {})", drain_exit));
    result.producer = read_result((dir / "producer.json").string(), "producer");
    result.drain = read_result((dir / "drain.json").string(), "drain");
    result.stage = read_result((dir / "stage.json").string(), "process stage");
  } catch (...) {
    kill_all();
    ring::Segment::remove(o.common.instance, kInputRing);
    ring::Segment::remove(o.common.instance, kOutputRing);
    std::filesystem::remove_all(dir);
    throw;
  }
  ring::Segment::remove(o.common.instance, kInputRing);
  ring::Segment::remove(o.common.instance, kOutputRing);
  std::filesystem::remove_all(dir);
  return result;
}

void print_steps(const char* name, const StepTimes& t) {
  fmt::print("  {:<20} {:7.3f} {:7.3f} {:7.3f} {:7.3f} {:7.3f}  {:7.3f} ms  {:7.1f} frames/s\n", name, t.to_float_ms,
             t.r2c_ms, t.mask_ms, t.c2r_ms, t.to_pixels_ms,
             t.to_float_ms + t.r2c_ms + t.mask_ms + t.c2r_ms + t.to_pixels_ms, t.frames_per_s);
}

int run_parent(const ProcessBenchOptions& o) {
  const process::FilterSpec spec = spec_of(o);
  geometry_of(o).validate();
  const auto wisdom = wisdom_of(o);
  if (!o.json) {
    fmt::print("bench process: {}x{} Mono16, mode {}, {} thread(s), planner {}, stage --fft-layout {}, {} s per phase, "
               "wisdom {}\n",
               o.width, o.height, o.mode, o.threads, o.planner, o.fft_layout, o.seconds,
               wisdom ? wisdom->string() : std::string{"(none)"});
    std::fflush(stdout);
  }
  const auto sources = prepared_frames(o);
  const BareLoop bare(o, spec);
  if (!o.json) {
    fmt::print("  plans (both layouts) {} in {:.2f} s\n", bare.from_wisdom ? "from wisdom" : "made", bare.planning_s);
    fmt::print("  bare FFTW loop, ms per frame  u16->f     r2c    mask     c2r  f->u16    total\n");
    std::fflush(stdout);
  }
  const auto bare_phase = [&](const char* when) {
    std::vector<StepTimes> times;
    for (const auto& plans : bare.layouts) {
      times.push_back(bare.run(o, plans, sources, o.seconds));
      if (!o.json) {
        print_steps(fmt::format("{} {}", to_string(plans.layout()), when).c_str(), times.back());
        std::fflush(stdout);
      }
    }
    return times;
  };
  const std::vector<StepTimes> before = bare_phase("before");
  const PipelineResult pipeline = run_pipeline(o, spec);
  const std::vector<StepTimes> after = bare_phase("after");
  std::vector<StepTimes> mean;
  for (std::size_t k = 0; k < bare.layouts.size(); ++k) mean.push_back(mean_of(before[k], after[k]));
  const std::size_t best = mean[0].frames_per_s >= mean[1].frames_per_s ? 0 : 1;
  const double bare_fps = mean[best].frames_per_s;
  const double fps = pipeline.drain["frames_per_s"].get<double>();
  const std::uint64_t published = pipeline.producer["frames"].get<std::uint64_t>();
  const std::uint64_t drained = pipeline.drain["frames"].get<std::uint64_t>();
  const std::uint64_t lost = pipeline.drain["lost"].get<std::uint64_t>() + (published - std::min(published, drained));
  const std::string stage_layout = pipeline.stage.value("fft_layout", std::string{"unknown"});
  // CPU per frame: what the stage spends on a frame whatever else the machine runs (the rates
  // above move with other processes' load). The stage's CPU counts from its first frame on.
  const double stage_frames = pipeline.stage.value("processed", 0.0);
  const double stage_cpu_ms = stage_frames > 0 ? pipeline.stage.value("cpu_s", 0.0) * 1e3 / stage_frames : 0.0;
  const double best_cpu_ms = std::min(mean[0].cpu_ms, mean[1].cpu_ms);
  nlohmann::json bare_json = nlohmann::json::object();
  for (std::size_t k = 0; k < bare.layouts.size(); ++k) {
    nlohmann::json layout = mean[k].to_json();
    layout["before"] = before[k].to_json();
    layout["after"] = after[k].to_json();
    bare_json[std::string(to_string(bare.layouts[k].layout()))] = layout;
  }
  const nlohmann::json result = {
      {"width", o.width},
      {"height", o.height},
      {"pixel_format", "Mono16"},
      {"mode", o.mode},
      {"threads", o.threads},
      {"planner", o.planner},
      {"seconds", o.seconds},
      {"frames_per_s", fps},
      {"stage_fft_layout_option", o.fft_layout},
      {"stage_fft_layout", stage_layout},
      {"bare", bare_json},
      {"best_bare_layout", to_string(bare.layouts[best].layout())},
      {"bare_fftw_frames_per_s", bare_fps},
      {"steps_ms", mean[best].to_json()},
      {"ratio", bare_fps > 0 ? fps / bare_fps : 0.0},
      {"ratio_goal", 0.95},
      {"stage_cpu_ms_per_frame", stage_cpu_ms},
      {"bare_cpu_ms_per_frame", best_cpu_ms},
      {"cpu_ratio", stage_cpu_ms > 0 ? best_cpu_ms / stage_cpu_ms : 0.0},
      {"producer_frames_per_s", pipeline.producer["frames_per_s"]},
      {"frames", published},
      {"frames_out", drained},
      {"lost", lost},
      {"out_of_order", pipeline.drain["out_of_order"]},
      {"stage_exit_code", pipeline.stage_exit},
      {"plans_from_wisdom", bare.from_wisdom},
      {"planning_s", bare.planning_s},
  };
  if (o.json) {
    fmt::print("{}\n", result.dump(2));
  } else {
    print_steps(fmt::format("{} mean", to_string(bare.layouts[best].layout())).c_str(), mean[best]);
    fmt::print("  best bare layout: {} ({:.1f} frames/s; the other {:.1f})\n", to_string(bare.layouts[best].layout()),
               bare_fps, mean[1 - best].frames_per_s);
    fmt::print("  pipeline (producer -> raw -> framering process --consumer every, layout {} -> processed -> drain): "
               "{:.1f} frames/s, ratio to the best bare layout {:.3f} (goal >= 0.95)\n",
               stage_layout, fps, result["ratio"].get<double>());
    fmt::print("  CPU per frame: stage {:.3f} ms, best bare layout {:.3f} ms: cpu ratio {:.3f} (bare / stage)\n",
               stage_cpu_ms, best_cpu_ms, result["cpu_ratio"].get<double>());
    fmt::print("  frames in {}, out {}, lost {}, out of order {}, stage exit code {}\n", published, drained, lost,
               pipeline.drain["out_of_order"].get<std::uint64_t>(), pipeline.stage_exit);
  }
  const bool clean = lost == 0 && pipeline.drain["out_of_order"].get<std::uint64_t>() == 0 && pipeline.stage_exit == 0;
  return clean ? 0 : 3;
}

int run_process_bench(const ProcessBenchOptions& o) {
  setup_logging(o.role.empty() ? "bench" : "bench-" + o.role, o.common.log_level);
  install_stop_handlers();
  if (o.role == "producer") return run_producer(o);
  if (o.role == "drain") return run_drain(o);
  return run_parent(o);
}

}  // namespace

void add_process_bench(CLI::App& bench, std::function<int()>& action) {
  auto o = std::make_shared<ProcessBenchOptions>();
  o->common.log_level = "warn";
  CLI::App* cmd = bench.add_subcommand(
      "process", "Process stage throughput on rings against the bare FFTW loop it runs, in the same run");
  cmd->footer(
      "Runs the bare loop (u16 -> float, r2c, mask, c2r, float -> u16 on prepared frames, same plan flags,\n"
      "threads and kernels as the stage, no ring) in both FFT layouts (in-place on padded rows,\n"
      "out-of-place) before and after the pipeline, each step timed in ms per frame, and the pipeline:\n"
      "a producer publishing prepared frames flat out into 'raw', the real `framering process\n"
      "--consumer every` and a consumer draining 'processed', as separate processes for --seconds.\n"
      "Reports ratio = pipeline / the faster bare layout (goal >= 0.95) and the layout the stage chose.\n"
      "Exit code 3 when frames were lost or reordered.\n"
      "Example: framering bench process --threads 2 --json");
  add_common_options(*cmd, o->common);
  cmd->add_option("--width", o->width, "Frame width in pixels")->check(CLI::Range(8, 65536))->capture_default_str();
  cmd->add_option("--height", o->height, "Frame height in pixels")->check(CLI::Range(8, 65536))->capture_default_str();
  cmd->add_option("--threads", o->threads, "FFTW threads")->check(CLI::Range(1, 256))->capture_default_str();
  cmd->add_option("--mode", o->mode, "Filter mode")
      ->check(CLI::IsMember({"identity", "lowpass", "highpass", "bandpass", "bandstop"}))
      ->capture_default_str();
  cmd->add_option("--low-cutoff", o->low_cutoff, "Cycles/pixel (see framering process --help)")->capture_default_str();
  cmd->add_option("--high-cutoff", o->high_cutoff, "Cycles/pixel (see framering process --help)")->capture_default_str();
  cmd->add_option("--planner", o->planner, "estimate, measure or patient")
      ->check(CLI::IsMember({"estimate", "measure", "patient"}))
      ->capture_default_str();
  cmd->add_option("--wisdom", o->wisdom, "FFTW wisdom file [default: the per-machine one framering process uses]");
  cmd->add_flag("--no-wisdom", o->no_wisdom, "No wisdom file (the stage then plans again)");
  cmd->add_option("--fft-layout", o->fft_layout, "The stage's --fft-layout (the bare loop always runs both)")
      ->check(CLI::IsMember({"auto", "in-place", "out-of-place"}))
      ->capture_default_str();
  cmd->add_option("--seconds", o->seconds, "Length of each measured phase, in seconds")
      ->check(CLI::Range(0.2, 3600.0))
      ->capture_default_str();
  cmd->add_option("--slots", o->slots, "Slots of the input ring")->check(CLI::Range(2, 4096))->capture_default_str();
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->add_option("--role", o->role, "internal: the role of a child process")
      ->check(CLI::IsMember({"producer", "drain"}))
      ->group("");
  cmd->add_option("--result", o->result_file, "internal: where a child writes its result")->group("");
  cmd->callback([o, &action] { action = [o] { return run_process_bench(*o); }; });
}

}  // namespace framering::bench
