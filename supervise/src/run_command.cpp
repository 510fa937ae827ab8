#include "framering/supervise/run_command.hpp"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include <CLI/CLI.hpp>

#include "framering/common/cli_options.hpp"
#include "framering/common/logging.hpp"
#include "framering/supervise/supervisor.hpp"

namespace framering::supervise {

void add_run_subcommand(CLI::App& app, std::function<int()>& action, StageParserFactory stages) {
  struct Options {
    RunOptions run;
    std::string instance;
    std::string http;
    bool print_default = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("run", "Run a whole pipeline: every stage as its own supervised process");
  cmd->footer(
      "Reads a pipeline (TOML: config/*.toml; without --config, the built-in config/default.toml),\n"
      "checks every stage's options with that stage's own parser, then starts each stage as its own\n"
      "process in file order; `command = [...]` stages run any program (docs/stages.md). A stage that\n"
      "dies is restarted with backoff ([restart]; an every consumer always inside its dead timeout);\n"
      "the others go on. Ctrl-C or SIGTERM stops the stages in file order, each every consumer once it\n"
      "has taken everything published (one that is dead is restarted at once, within max_restarts: to drain, and to close\n"
      "what it writes even when it owes nothing). Frames an every consumer still owes at the end are\n"
      "listed as OWED, and their ring is kept: run the same pipeline again and it continues (a run\n"
      "that finds its instance's rings from a crashed run re-attaches: the producer continues the\n"
      "sequence, each recorder resumes). One run per instance (a lock).\n"
      "A status line shows per-stage rates, lag, p99 latency (publish -> read), skipped, blocked time,\n"
      "dropped and lost frames; at the end a summary (also as JSON with --summary-json).\n"
      "Exit code: 0 ok; 2 could not start or a stage was given up; 3 frames were lost or are owed.\n"
      "Examples:\n"
      "  framering run --duration 10\n"
      "  framering run --config config/video.toml --frames 300 --summary-json summary.json\n"
      "  framering run --config my.toml --dry-run\n"
      "  framering run --config my.toml --http 8080      # then: curl localhost:8080/api/v1/status");
  cmd->add_option("-c,--config", o->run.config_path, "Pipeline file (TOML); default: the built-in config/default.toml")
      ->check(CLI::ExistingFile);
  cmd->add_option("--instance", o->instance, "Override the pipeline's instance name");
  cmd->add_option("--frames", o->run.frames,
                  "Each source stage (one that produces and consumes nothing) publishes this many frames; then the run "
                  "drains and ends (0 = unbounded)")
      ->capture_default_str();
  cmd->add_option("--duration", o->run.duration_s, "End after this many seconds (0 = until Ctrl-C)")
      ->check(CLI::Range(0.0, 1e7))
      ->capture_default_str();
  cmd->add_option("--summary-json", o->run.summary_json, "Also write the summary to this file as JSON");
  cmd->add_option("--http", o->http,
                  "Serve the HTTP API on [ADDRESS:]PORT (default address 127.0.0.1; PORT 0: any free port, logged as "
                  "\"listening on http://ADDRESS:PORT/\"). Any other address needs a token: [http] token or "
                  "FRAMERING_HTTP_TOKEN. See docs/http-api.md");
  cmd->add_flag("--dry-run", o->run.dry_run, "Check the pipeline and print each stage's command; start nothing");
  cmd->add_flag("--keep-rings", o->run.keep_rings, "Leave the rings in /dev/shm at the end (for status or inspection)");
  cmd->add_flag("--print-default-config", o->print_default, "Print the built-in config/default.toml and exit");
  cmd->add_option("--log-level", o->run.log_level, std::string{"Log level for the supervisor and stages: "} + log_level_names())
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  cmd->callback([o, &action, stages = std::move(stages)] {
    action = [o, stages] {
      if (o->print_default) {
        std::fputs(embedded_default_config().c_str(), stdout);
        return 0;
      }
      setup_logging("run", o->run.log_level, true);  // thread-safe: the HTTP API logs from its threads
      RunOptions run = o->run;
      if (!o->instance.empty()) run.instance = o->instance;
      if (!o->http.empty()) run.http = o->http;
      // Read here and taken out of the environment, so that no stage inherits it.
      if (const char* token = std::getenv("FRAMERING_HTTP_TOKEN"); token != nullptr) {
        run.http_token = token;
        ::unsetenv("FRAMERING_HTTP_TOKEN");
      }
      return run_pipeline(run, stages);
    };
  });
}

}  // namespace framering::supervise
