// fuzz_supervise_pipeline_config: a pipeline file's text, as `framering run --config FILE` reads
// it: supervise::parse_pipeline with the real stage parsers (each [[stage]]'s keys checked by
// the subcommand that will run it), then make_plan and describe (`run --dry-run`).
//
// Input: the file's text, any bytes.
//
// What must hold: parsing and planning either succeed or throw framering::ConfigError (a
// message for the user naming file, line and key). Any other exception escapes this function
// and aborts, so libFuzzer reports it, as it does a crash or a sanitizer report. A plan that is
// made must be one `run` can start: every ring it names is a valid ring name (the segment
// /dev/shm/framering.<instance>.<ring> can exist), every stage has a program and an argv.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

#include "framering/app/stage_subcommands.hpp"
#include "framering/common/error.hpp"
#include "framering/common/segment.hpp"
#include "framering/common/stage_command.hpp"
#include "framering/supervise/pipeline_config.hpp"
#include "framering/supervise/stage_plan.hpp"
#include "fuzz_support.hpp"

namespace {

void require(bool holds, const char* rule, const std::string& detail) {
  if (holds) return;
  std::fprintf(stderr, "fuzz_supervise_pipeline_config: a plan that was made breaks: %s (%s)\n", rule, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  framering::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(framering::fuzz::as_text(data, size));
  framering::supervise::PipelinePlan plan;
  try {
    const auto config = framering::supervise::parse_pipeline(text, "fuzz.toml", framering::app::add_stage_subcommands);
    plan = framering::supervise::make_plan(config, {});
    (void)framering::supervise::describe(plan);
  } catch (const framering::ConfigError&) {
    return 0;  // the file is refused with a message: the outcome a bad file should have
  }
  for (const auto& ring : plan.rings()) {
    try {
      framering::ring::Segment::validate_name("ring", ring);
    } catch (const framering::Error& e) {
      require(false, "every ring it names is a valid ring name", e.what());
    }
  }
  for (const auto& stage : plan.stages) {
    require(!stage.program.empty() && !stage.argv.empty(), "every stage has a program and an argv", stage.name);
  }
  return 0;
}
