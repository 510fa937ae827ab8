// process_command.hpp: `framering process`: FFTW filters from one ring into another (r2c, Fourier-plane mask, c2r).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "framering/common/cli_options.hpp"
#include "framering/common/stage_command.hpp"


namespace CLI {
class App;
}

namespace framering::process {

/// The options of `framering process` (see its --help for each one's meaning).
struct ProcessOptions {
  CommonOptions common;
  std::string input_ring = "raw";
  std::string output_ring = "processed";
  std::uint32_t output_slots = 8;
  std::string name = "process";   ///< consumer name on the input ring
  ring::WaitStrategy wait = ring::kDefaultWaitStrategy;  ///< how it waits for input frames (--wait)
  std::string consumer = "newest";  ///< "newest" (never slows acquisition) or "every" (lossless)
  std::string mode = "identity";  ///< filter_mask.hpp's FilterMode names
  double low_cutoff = 0.02;       ///< cycles/pixel
  double high_cutoff = 0.2;       ///< cycles/pixel
  double output_offset = 0.0;     ///< counts added after filtering
  bool low_cutoff_given = false;  ///< set by the command line, to reject cut-offs a mode ignores
  bool high_cutoff_given = false;
  int threads = 1;
  std::string planner = "measure";
  bool planner_given = false;     ///< set by the command line: --make-wisdom plans patient unless told
  std::string wisdom;             ///< empty: default_wisdom_path()
  bool no_wisdom = false;
  std::string fft_layout = "auto";  ///< fft_plans.hpp's FftLayout names
  bool make_wisdom = false;       ///< plan for --width x --height, save wisdom, exit; no rings
  std::uint32_t width = 0;        ///< --make-wisdom only: the stage takes its shape from the input ring
  std::uint32_t height = 0;
  std::uint64_t frames = 0;       ///< frames to publish, then exit; 0 = until SIGINT/SIGTERM
  double wait_for_input_s = 10.0;
  std::uint32_t wait_for_consumers = 0;  ///< publish nothing until this many consumers are on the output ring
  double wait_for_consumers_s = 30.0;
  double stall_timeout_s = 10.0;  ///< every: the producer evicts this consumer after it stalls this long
  double report_interval_s = 5.0;
};

/// Runs the process stage: waits for the input ring, plans (or reuses wisdom), creates the
/// output ring with the input's width, height and format, attaches as a consumer and filters
/// frames until `frames` are published or SIGINT/SIGTERM. Output frames carry the input
/// frame's timestamp_ns and, as camera_frame_id, the input frame's ring sequence.
/// Returns 0, or 3 when an every consumer lost input frames (a gap). Throws framering::Error
/// (ConfigError, SegmentError, PlanError) when it cannot start (`main` maps that to 2).
[[nodiscard]] int run_process(const ProcessOptions& options);

/// `framering process --make-wisdom`: makes FFTW wisdom (FFTW_PATIENT unless --planner says
/// otherwise: minutes at 2 MP) for --width x --height frames on --threads threads, in both FFT
/// layouts, into the file the stage reads (--wisdom or default_wisdom_path()), logging its
/// progress; touches no ring. Returns 0. Throws ConfigError (--no-wisdom, no wisdom path), Error
/// (the wisdom file cannot be written: before any planning) or PlanError.
[[nodiscard]] int run_make_wisdom(const ProcessOptions& options);

/// Adds the `process` subcommand to `app`. When the user selects it, `action` is set to the
/// function that runs it and returns the exit code (0 ok, 2 could not start, 3 lost frames).
/// The supervisor also builds it to check a pipeline's options before starting anything.
void add_process_subcommand(CLI::App& app, StageCommand& command);

}  // namespace framering::process
