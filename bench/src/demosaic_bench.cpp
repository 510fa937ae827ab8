// demosaic_bench.cpp: `framering bench demosaic`: what `framering process --mode demosaic` costs
// per frame (process::FrameStep: the mosaic copied out of its slot, OpenCV's bilinear demosaic
// straight into the output slot) against cv::cvtColor alone on the same mosaic,
// measured in the same run, in alternating rounds so that both see the same machine. No rings
// or child processes: the stage's per-frame work alone.
#include "framering/bench/demosaic_bench.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "framering/common/cli_options.hpp"
#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"
#include "framering/common/logging.hpp"
#include "framering/process/frame_step.hpp"

namespace framering::bench {
namespace {

struct DemosaicBenchOptions {
  CommonOptions common;
  std::uint32_t width = 1920;
  std::uint32_t height = 1080;
  std::string pixel_format = "BayerRG8";
  double seconds = 2.0;
  bool json = false;
};

// Median of `samples` (ns), in ms.
double median_ms(std::vector<std::uint64_t> samples) {
  if (samples.empty()) return 0;
  std::ranges::sort(samples);
  return static_cast<double>(samples[samples.size() / 2]) / 1e6;
}

int run_demosaic_bench(const DemosaicBenchOptions& o) {
  setup_logging("bench", o.common.log_level);
  const auto format = parse_pixel_format(o.pixel_format);
  if (!format || !is_bayer(*format)) {
    throw ConfigError(fmt::format("bench demosaic: --pixel-format '{}' is not a Bayer format (BayerRG8, BayerGB16, ...)",
                                  o.pixel_format));
  }
  const FrameShape input{o.width, o.height, *format, 0};
  const std::uint64_t in_stride = input.packed_row_bytes();
  const std::uint64_t out_stride = 3ULL * o.width;
  // The mosaic as a slot holds it, and an output slot.
  std::vector<std::byte> slot_in(in_stride * o.height);
  std::vector<std::byte> slot_out(out_stride * o.height);
  std::mt19937 random(1);
  const std::uint32_t mask = (1U << significant_bits(*format)) - 1U;
  if (bytes_per_sample(*format) == 1) {
    for (auto& b : slot_in) b = static_cast<std::byte>(random() & mask);
  } else {
    auto* words = reinterpret_cast<std::uint16_t*>(slot_in.data());
    for (std::size_t i = 0; i < slot_in.size() / 2; ++i) words[i] = static_cast<std::uint16_t>(random() & mask);
  }
  process::FrameStep step = process::FrameStep::demosaic(input);
  const int type = bytes_per_sample(*format) == 1 ? CV_8UC1 : CV_16UC1;
  const cv::Mat mosaic(static_cast<int>(o.height), static_cast<int>(o.width), type, slot_in.data(), in_stride);
  const int code = process::opencv_demosaic_code(*format);
  cv::Mat alone;
  cv::cvtColor(mosaic, alone, code);  // warm-up, and its buffer allocated outside the timing
  if (!step.load(slot_in, in_stride) || (step.transform(), !step.store(slot_out, out_stride))) {
    throw Error("bench demosaic: the step refused its own frame");
  }
  std::vector<std::uint64_t> cv_ns;
  std::vector<std::uint64_t> step_ns;
  const std::uint64_t end = monotonic_ns() + static_cast<std::uint64_t>(o.seconds * 2e9);
  while (monotonic_ns() < end) {  // alternating rounds: both see the same machine
    std::uint64_t t0 = monotonic_ns();
    cv::cvtColor(mosaic, alone, code);
    cv_ns.push_back(monotonic_ns() - t0);
    t0 = monotonic_ns();
    (void)step.load(slot_in, in_stride);
    step.transform();
    (void)step.store(slot_out, out_stride);
    step_ns.push_back(monotonic_ns() - t0);
  }
  const double cv_ms = median_ms(cv_ns);
  const double step_ms = median_ms(step_ns);
  const nlohmann::json result = {{"width", o.width},
                                 {"height", o.height},
                                 {"pixel_format", o.pixel_format},
                                 {"rounds", cv_ns.size()},
                                 {"cvtcolor_ms", cv_ms},
                                 {"stage_ms", step_ms},
                                 {"ratio", step_ms > 0 ? cv_ms / step_ms : 0.0},
                                 {"stage_per_cvtcolor", cv_ms > 0 ? step_ms / cv_ms : 0.0}};
  if (o.json) {
    fmt::print("{}\n", result.dump(2));
  } else {
    fmt::print("bench demosaic: {}x{} {} -> RGB8, {} alternating rounds (medians)\n", o.width, o.height, o.pixel_format,
               cv_ns.size());
    fmt::print("  cv::cvtColor alone          {:8.3f} ms per frame\n", cv_ms);
    fmt::print("  process --mode demosaic     {:8.3f} ms per frame (copy in, demosaic into the slot)\n", step_ms);
    fmt::print("  ratio (cvtColor / stage)    {:8.3f}\n", cv_ms / step_ms);
  }
  return 0;
}

}  // namespace

void add_demosaic_bench(CLI::App& bench, std::function<int()>& action) {
  auto o = std::make_shared<DemosaicBenchOptions>();
  o->common.log_level = "warn";
  CLI::App* cmd = bench.add_subcommand("demosaic", "Demosaic cost per frame (process --mode demosaic) against cv::cvtColor");
  cmd->footer(
      "Times, on one random mosaic, what `framering process --mode demosaic` does per frame (copy out of the\n"
      "slot, then OpenCV's bilinear demosaic into the output slot) and cv::cvtColor alone on the same mosaic,\n"
      "in alternating rounds for 2 x --seconds; prints the medians and ratio = cvtColor / stage (1 = free).\n"
      "Example: framering bench demosaic --json");
  add_common_options(*cmd, o->common);
  cmd->add_option("--width", o->width, "Frame width in pixels")->check(CLI::Range(2, 65536))->capture_default_str();
  cmd->add_option("--height", o->height, "Frame height in pixels")->check(CLI::Range(2, 65536))->capture_default_str();
  cmd->add_option("--pixel-format", o->pixel_format, "Bayer format of the mosaic (BayerRG8, BayerGB16, ...)")
      ->capture_default_str();
  cmd->add_option("--seconds", o->seconds, "Length of each measured side, in seconds")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([o, &action] { action = [o] { return run_demosaic_bench(*o); }; });
}

}  // namespace framering::bench
