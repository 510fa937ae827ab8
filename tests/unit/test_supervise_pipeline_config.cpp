// Pipeline files: what is accepted, and every way a file can be wrong, each named by file, line
// and key before anything starts. The stages here are stand-ins with a few typed options, so the
// tests do not depend on the real stages' option lists.
#include "framering/supervise/pipeline_config.hpp"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include "framering/common/error.hpp"

namespace framering::supervise {
namespace {

void fake_stages(CLI::App& app, StageCommand& command) {
  auto* acquire = app.add_subcommand("acquire");
  acquire->add_option("--instance");
  acquire->add_option("--width")->check(CLI::Range(1, 65536));
  acquire->add_option("--rate-hz")->check(CLI::NonNegativeNumber);
  acquire->add_option("--source")->check(CLI::IsMember({"pattern", "files"}));
  acquire->add_option("--path")->check(CLI::ExistingPath);
  acquire->add_flag("--loop");
  acquire->add_option("--ring");
  acquire->callback([&command] {
    command.action = [] { return 0; };
    command.rings = [] { return std::vector<RingUse>{{.ring = "raw", .role = RingRole::Produces}}; };
  });
  auto* process = app.add_subcommand("process");
  process->add_option("--instance");
  process->add_option("--name");
  process->add_option("--cutoffs")->expected(2);
  app.add_subcommand("status");
}

std::string error_of(const std::string& text) {
  try {
    (void)parse_pipeline(text, "test.toml", fake_stages);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(PipelineConfig, StagesKeepFileOrderAndKeysBecomeOptions) {
  const auto sut = parse_pipeline(R"(
instance = "lab1"
[[stage]]
name = "acquire"
width = 64
source = "pattern"
loop = false
[[stage]]
name = "filter"
run = "process"
cutoffs = [0.1, 0.25]
)",
                                  "test.toml", fake_stages);
  EXPECT_EQ(sut.instance, "lab1");
  ASSERT_EQ(sut.stages.size(), 2U);
  EXPECT_EQ(sut.stages[0].name, "acquire");
  EXPECT_EQ(sut.stages[0].run, "acquire");
  EXPECT_EQ(sut.stages[0].line, 3U);
  const auto& args = sut.stages[0].args;
  EXPECT_NE(std::find(args.begin(), args.end(), "--width"), args.end());
  EXPECT_NE(std::find(args.begin(), args.end(), "64"), args.end());
  EXPECT_NE(std::find(args.begin(), args.end(), "--loop=false"), args.end());
  EXPECT_EQ(sut.stages[1].run, "process");
  EXPECT_EQ(sut.stages[1].args, (std::vector<std::string>{"--cutoffs", "0.1", "0.25"}));
}

TEST(PipelineConfig, RestartPolicyIsRead) {
  const auto sut = parse_pipeline("[restart]\nmax_restarts = 2\nbackoff_ms = 50\n[[stage]]\nname = \"acquire\"\n",
                                  "test.toml", fake_stages);
  EXPECT_EQ(sut.restart.max_restarts, 2U);
  EXPECT_EQ(sut.restart.backoff_ms, 50U);
}

TEST(PipelineConfig, SyntaxErrorNamesFileLineAndColumn) {
  const std::string message = error_of("[[stage]]\nname = \"acquire\nwidth = 3\n");
  EXPECT_EQ(message.rfind("test.toml:2:", 0), 0U) << message;
  EXPECT_NE(message.find("TOML syntax"), std::string::npos) << message;
}

TEST(PipelineConfig, UnknownStageKeyNamesLineAndKeyAndTheStage) {
  const std::string message = error_of("[[stage]]\nname = \"acquire\"\nwidht = 64\n");
  EXPECT_EQ(message.rfind("test.toml:3:", 0), 0U) << message;
  EXPECT_NE(message.find("'widht'"), std::string::npos) << message;
  EXPECT_NE(message.find("'acquire'"), std::string::npos) << message;
}

TEST(PipelineConfig, WrongTypeIsReportedByTheStagesOwnParser) {
  const std::string message = error_of("[[stage]]\nname = \"acquire\"\nwidth = 64\nrate-hz = \"fast\"\n");
  EXPECT_EQ(message.rfind("test.toml:4:", 0), 0U) << message;
  EXPECT_NE(message.find("rate-hz"), std::string::npos) << message;
}

TEST(PipelineConfig, ImpossibleGeometryIsRejectedWithTheKeysLine) {
  const std::string message = error_of("[[stage]]\nname = \"acquire\"\nwidth = 0\n");
  EXPECT_EQ(message.rfind("test.toml:3:", 0), 0U) << message;
  EXPECT_NE(message.find("width"), std::string::npos) << message;
}

TEST(PipelineConfig, MissingFileIsRejectedBeforeAnythingStarts) {
  const std::string message = error_of("[[stage]]\nname = \"acquire\"\nsource = \"files\"\npath = \"/nonexistent/x.tif\"\n");
  EXPECT_EQ(message.rfind("test.toml:4:", 0), 0U) << message;
  EXPECT_NE(message.find("/nonexistent/x.tif"), std::string::npos) << message;
}

TEST(PipelineConfig, UnknownSubcommandListsTheStageCommands) {
  const std::string message = error_of("[[stage]]\nname = \"x\"\nrun = \"aquire\"\n");
  EXPECT_NE(message.find("'aquire' is not a stage command"), std::string::npos) << message;
  EXPECT_NE(message.find("acquire, process"), std::string::npos) << message;
  EXPECT_EQ(message.find("status"), std::string::npos) << "status is not a stage: " << message;
}

TEST(PipelineConfig, DuplicateStageNameIsRejected) {
  const std::string message = error_of("[[stage]]\nname = \"acquire\"\n[[stage]]\nname = \"acquire\"\n");
  EXPECT_EQ(message.rfind("test.toml:4:", 0), 0U) << message;
  EXPECT_NE(message.find("used twice"), std::string::npos) << message;
}

TEST(PipelineConfig, UnknownTopLevelKeyAndMissingStagesAreRejected) {
  EXPECT_NE(error_of("instanse = \"x\"\n[[stage]]\nname = \"acquire\"\n").find("unknown key 'instanse'"), std::string::npos);
  EXPECT_NE(error_of("instance = \"x\"\n").find("no [[stage]]"), std::string::npos);
  EXPECT_NE(error_of("[restart]\nmax_retries = 3\n[[stage]]\nname = \"acquire\"\n").find("max_retries"), std::string::npos);
  EXPECT_NE(error_of("instance = \"a/b\"\n[[stage]]\nname = \"acquire\"\n").find("test.toml:1:"), std::string::npos);
}

TEST(PipelineConfig, StageNeedsAName) {
  const std::string message = error_of("[[stage]]\nrun = \"acquire\"\n");
  EXPECT_NE(message.find("needs name"), std::string::npos) << message;
}

TEST(PipelineConfig, UnreadableFileIsNamed) {
  try {
    (void)load_pipeline("/nonexistent/pipeline.toml", fake_stages);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/pipeline.toml"), std::string::npos);
  }
}

TEST(PipelineConfig, BuiltInStagesDeclareTheirRingsThroughTheirOwnParser) {
  const auto sut = parse_pipeline("[[stage]]\nname = \"acquire\"\n", "test.toml", fake_stages);

  ASSERT_EQ(sut.stages.size(), 1U);
  EXPECT_EQ(sut.stages[0].rings, (std::vector<RingUse>{{.ring = "raw", .role = RingRole::Produces}}));
}

// A stage that takes its ring from an option, as display does (--ring).
void ring_option_stage(CLI::App& app, StageCommand& command) {
  auto ring = std::make_shared<std::string>("processed");
  auto* display = app.add_subcommand("display");
  display->add_option("--instance");
  display->add_option("--ring", *ring);
  display->callback([ring, &command] {
    command.rings = [ring] { return std::vector<RingUse>{{.ring = *ring, .role = RingRole::ConsumesNewest}}; };
  });
}

// fuzz_supervise_pipeline_config's rule that a plan names only rings that can exist: the stage's
// own parser took `ring = "a/b"` and `ring = ""`, and the stage would have failed once started.
TEST(PipelineConfig, ARingNameNoSegmentCanHaveIsRejectedAtItsKey) {
  for (const std::string ring : {"a/b", "", "x.y"}) {
    try {
      (void)parse_pipeline("[[stage]]\nname = \"display\"\nring = \"" + ring + "\"\n", "test.toml", ring_option_stage);
      ADD_FAILURE() << "accepted ring '" << ring << "'";
    } catch (const ConfigError& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind("test.toml:3:", 0), 0U) << message;
      EXPECT_NE(message.find("framering display would consume ring '" + ring + "': ring name"), std::string::npos)
          << message;
    }
  }
  EXPECT_NO_THROW((void)parse_pipeline("[[stage]]\nname = \"display\"\nring = \"raw-2\"\n", "test.toml",
                                       ring_option_stage));
}

TEST(PipelineConfig, CommandStageTakesItsProgramAndDeclaredRings) {
  const auto sut = parse_pipeline(R"(
[[stage]]
name = "pattern"
command = ["/bin/sh", "-c", "exit 0"]
produces = "raw"
[[stage]]
name = "analysis"
command = ["sh", "analysis.sh"]
consumes = [{ ring = "raw", kind = "every", dead_timeout_s = 1.5 }, { ring = "processed", kind = "newest" }]
produces = ["stats", "mask"]
)",
                                  "test.toml", fake_stages);

  ASSERT_EQ(sut.stages.size(), 2U);
  EXPECT_TRUE(sut.stages[0].is_command());
  EXPECT_EQ(sut.stages[0].command, (std::vector<std::string>{"/bin/sh", "-c", "exit 0"}));
  EXPECT_EQ(sut.stages[0].rings, (std::vector<RingUse>{{.ring = "raw", .role = RingRole::Produces}}));
  EXPECT_EQ(sut.stages[1].rings,
            (std::vector<RingUse>{{.ring = "stats", .role = RingRole::Produces},
                                  {.ring = "mask", .role = RingRole::Produces},
                                  {.ring = "raw", .role = RingRole::ConsumesEvery, .dead_timeout = std::chrono::milliseconds{1500}},
                                  {.ring = "processed", .role = RingRole::ConsumesNewest}}));
}

TEST(PipelineConfig, CommandStageMistakesAreNamedWithTheirLine) {
  EXPECT_NE(error_of("[[stage]]\nname = \"x\"\ncommand = []\n").find("test.toml:3:"), std::string::npos);
  EXPECT_NE(error_of("[[stage]]\nname = \"x\"\ncommand = [\"/nonexistent/prog\"]\n").find("'/nonexistent/prog' is not an executable"),
            std::string::npos);
  EXPECT_NE(error_of("[[stage]]\nname = \"x\"\ncommand = [\"no-such-program-here\"]\n").find("on PATH"), std::string::npos);
  EXPECT_NE(error_of("[[stage]]\nname = \"x\"\ncommand = [\"sh\"]\nrun = \"acquire\"\n").find("not both"), std::string::npos);
  EXPECT_NE(error_of("[[stage]]\nname = \"x\"\ncommand = [\"sh\"]\nwidth = 3\n").find("key 'width': a command stage takes only"),
            std::string::npos);
  const std::string kind = error_of("[[stage]]\nname = \"x\"\ncommand = [\"sh\"]\nconsumes = [{ ring = \"raw\", kind = \"all\" }]\n");
  EXPECT_EQ(kind.rfind("test.toml:4:", 0), 0U) << kind;
  EXPECT_NE(kind.find("kind must be"), std::string::npos) << kind;
  EXPECT_NE(error_of("[[stage]]\nname = \"x\"\ncommand = [\"sh\"]\nproduces = \"a.b\"\n").find("ring name 'a.b' is not valid"), std::string::npos);
  EXPECT_NE(error_of("[[stage]]\nname = \"x\"\ncommand = [\"sh\"]\nconsumes = [{ ring = \"raw\", kind = \"newest\", dead_timeout_s = 1 }]\n")
                .find("dead_timeout_s is for kind = \"every\""),
            std::string::npos);
}

TEST(PipelineConfig, HealthyAfterIsReadWithTheRestartPolicy) {
  const auto sut = parse_pipeline("[restart]\nhealthy_after_ms = 2500\n[[stage]]\nname = \"acquire\"\n", "test.toml",
                                  fake_stages);
  EXPECT_EQ(sut.restart.healthy_after_ms, 2500U);
}

}  // namespace
}  // namespace framering::supervise
