#include "framering/supervise/pipeline_config.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <toml++/toml.h>

#include "framering/common/error.hpp"
#include "framering/common/segment.hpp"

namespace framering::supervise {
namespace {

// Reserved keys of a [[stage]] table; everything else is an option of its subcommand.
const std::set<std::string, std::less<>> kStageKeys = {"name", "run"};
// The keys of a command stage: no other key is allowed there.
const std::set<std::string, std::less<>> kCommandKeys = {"name", "command", "produces", "consumes"};
const std::set<std::string, std::less<>> kConsumesKeys = {"ring", "kind", "dead_timeout_s"};
const std::set<std::string, std::less<>> kTopKeys = {"instance", "restart", "http", "stage"};
const std::set<std::string, std::less<>> kHttpKeys = {"address", "port", "token", "recording_roots", "web_root"};
const std::set<std::string, std::less<>> kRestartKeys = {"max_restarts", "backoff_ms", "backoff_max_ms",
                                                         "healthy_after_ms"};

std::string where(const std::string& source, const toml::node& node) {
  return fmt::format("{}:{}:{}", source, node.source().begin.line, node.source().begin.column);
}

[[noreturn]] void fail(const std::string& source, const toml::node& node, const std::string& what) {
  throw ConfigError(fmt::format("{}: {}", where(source, node), what));
}

std::string scalar_text(const std::string& source, const std::string& context, const std::string& key,
                        const toml::node& value) {
  if (const auto* s = value.as_string()) return s->get();
  if (const auto* i = value.as_integer()) return std::to_string(i->get());
  if (const auto* f = value.as_floating_point()) return fmt::format("{}", f->get());
  if (const auto* b = value.as_boolean()) return b->get() ? "true" : "false";
  fail(source, value, fmt::format("{} key '{}': expected a string, number or boolean, got a {}", context, key,
                                  toml::impl::node_type_friendly_names[static_cast<int>(value.type())]));
}

std::uint32_t read_u32(const std::string& source, const toml::node& node, const std::string& key,
                       std::int64_t min, std::int64_t max) {
  const auto* i = node.as_integer();
  if (i == nullptr || i->get() < min || i->get() > max) {
    fail(source, node, fmt::format("[restart] key '{}': expected an integer in {}..{}", key, min, max));
  }
  return static_cast<std::uint32_t>(i->get());
}

// Parses `framering <run> <args>` with the stage's own parser: the CLI11 message ("" when it
// parses) and, when it does, the rings the stage declares with those options.
std::string check_with_parser(const StageParserFactory& stages, const std::string& run,
                              const std::vector<std::string>& args, std::vector<RingUse>* rings = nullptr) {
  CLI::App app{"framering"};
  StageCommand command;
  stages(app, command);
  std::vector<std::string> argv = run_words(run);
  argv.insert(argv.end(), {"--instance", "config-check"});
  argv.insert(argv.end(), args.begin(), args.end());
  std::reverse(argv.begin(), argv.end());  // CLI11 consumes the vector from its back
  try {
    app.parse(argv);
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  if (rings != nullptr && command.rings) *rings = command.rings();
  return "";
}

bool has_subcommand(const StageParserFactory& stages, const std::string& run) {
  CLI::App app{"framering"};
  StageCommand command;
  stages(app, command);
  const std::vector<std::string> words = run_words(run);
  if (words.empty()) return false;
  try {
    const CLI::App* sub = &app;
    for (const auto& word : words) sub = sub->get_subcommand(word);
    return true;
  } catch (const CLI::OptionNotFound&) {
    return false;
  }
}

std::vector<std::string> subcommand_names(const StageParserFactory& stages) {
  CLI::App app{"framering"};
  StageCommand command;
  stages(app, command);
  std::vector<std::string> names;
  for (const auto* sub : app.get_subcommands({})) names.push_back(sub->get_name());
  return names;
}

// Whether `program` names an executable file: a path (with a '/') as given, else on PATH.
bool is_executable(const std::string& program) {
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::filesystem::path candidate = std::filesystem::path(dir.empty() ? "." : dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate)) return true;
  }
  return false;
}

std::string ring_name_at(const std::string& source, const std::string& context, const toml::node& node) {
  const auto* s = node.as_string();
  if (s == nullptr) fail(source, node, fmt::format("{}: a ring name must be a string", context));
  try {
    ring::Segment::validate_name("ring", s->get());
  } catch (const Error& e) {
    fail(source, node, fmt::format("{}: {}", context, e.what()));
  }
  return s->get();
}

// A command stage: command, produces, consumes; nothing else.
void parse_command_stage(const std::string& source, const toml::table& table, StageConfig& stage) {
  const std::string context = fmt::format("[[stage]] '{}'", stage.name);
  for (const auto& [key, value] : table) {
    if (!kCommandKeys.contains(key.str())) {
      fail(source, value, fmt::format("{} key '{}': a command stage takes only name, command, produces and consumes "
                                      "(its program's own options go in the command array)",
                                      context, key.str()));
    }
  }
  const toml::node& command_node = *table.get("command");
  const auto* command = command_node.as_array();
  if (command == nullptr || command->empty()) {
    fail(source, command_node, fmt::format("{} key 'command': expected a non-empty array of strings, "
                                           "e.g. [\"/usr/bin/python3\", \"pattern.py\"]", context));
  }
  for (const auto& item : *command) {
    const auto* text = item.as_string();
    if (text == nullptr) fail(source, item, fmt::format("{} key 'command': every element must be a string", context));
    stage.command.push_back(text->get());
  }
  if (!is_executable(stage.command.front())) {
    fail(source, command_node, fmt::format("{} key 'command': '{}' is not an executable file{} (the working "
                                           "directory is the one `framering run` was started in)",
                                           context, stage.command.front(),
                                           stage.command.front().find('/') == std::string::npos ? " on PATH" : ""));
  }
  if (const auto* produces = table.get("produces")) {
    if (produces->is_string()) {
      stage.rings.push_back({.ring = ring_name_at(source, context + " key 'produces'", *produces), .role = RingRole::Produces});
    } else if (const auto* list = produces->as_array()) {
      for (const auto& item : *list) {
        stage.rings.push_back({.ring = ring_name_at(source, context + " key 'produces'", item), .role = RingRole::Produces});
      }
    } else {
      fail(source, *produces, fmt::format("{} key 'produces': expected a ring name or an array of them", context));
    }
  }
  if (const auto* consumes = table.get("consumes")) {
    const auto* list = consumes->as_array();
    if (list == nullptr) {
      fail(source, *consumes, fmt::format("{} key 'consumes': expected an array of tables, "
                                          "e.g. [{{ ring = \"raw\", kind = \"every\" }}]", context));
    }
    for (const auto& item : *list) {
      const auto* entry = item.as_table();
      if (entry == nullptr) {
        fail(source, item, fmt::format("{} key 'consumes': each element is a table {{ ring = \"...\", kind = "
                                       "\"newest\" | \"every\" }}", context));
      }
      for (const auto& [key, value] : *entry) {
        if (!kConsumesKeys.contains(key.str())) {
          fail(source, value, fmt::format("{} key 'consumes': unknown key '{}' (expected ring, kind, dead_timeout_s)",
                                          context, key.str()));
        }
      }
      const auto* ring_node = entry->get("ring");
      if (ring_node == nullptr) fail(source, item, fmt::format("{} key 'consumes': each table needs ring = \"...\"", context));
      RingUse use{.ring = ring_name_at(source, context + " key 'consumes'", *ring_node)};
      const auto* kind = entry->get("kind");
      const auto* kind_text = kind != nullptr ? kind->as_string() : nullptr;
      if (kind_text == nullptr || (kind_text->get() != "newest" && kind_text->get() != "every")) {
        fail(source, kind != nullptr ? *kind : item,
             fmt::format("{} key 'consumes': kind must be \"newest\" (never slows the producer, may skip) or "
                         "\"every\" (every frame, gates the producer)", context));
      }
      use.role = kind_text->get() == "every" ? RingRole::ConsumesEvery : RingRole::ConsumesNewest;
      if (const auto* timeout = entry->get("dead_timeout_s")) {
        const auto seconds = timeout->value<double>();
        if (!seconds || *seconds <= 0 || *seconds > 86400 || use.role != RingRole::ConsumesEvery) {
          fail(source, *timeout, fmt::format("{} key 'consumes': dead_timeout_s is for kind = \"every\" and must be "
                                             "a number of seconds in (0, 86400]", context));
        }
        use.dead_timeout = std::chrono::milliseconds{std::llround(*seconds * 1000)};
      }
      stage.rings.push_back(std::move(use));
    }
  }
}

// [http]: address, port, token, recording_roots, web_root.
void parse_http(const std::string& source, const toml::node& node, HttpConfig& http) {
  const auto* table = node.as_table();
  if (table == nullptr) fail(source, node, "'http' must be a table: [http]");
  for (const auto& [key, value] : *table) {
    const std::string k{key.str()};
    if (!kHttpKeys.contains(k)) {
      fail(source, value, fmt::format("[http] unknown key '{}' (expected address, port, token, recording_roots, web_root)", k));
    }
    if (k == "port") {
      const auto* port = value.as_integer();
      if (port == nullptr || port->get() < 0 || port->get() > 65535) {
        fail(source, value, "[http] key 'port': expected an integer in 0..65535 (0: any free port)");
      }
      http.port = static_cast<std::uint16_t>(port->get());
    } else if (k == "recording_roots") {
      const auto* roots = value.as_array();
      if (roots == nullptr || roots->empty()) {
        fail(source, value, "[http] key 'recording_roots': expected a non-empty array of folder paths");
      }
      for (const auto& item : *roots) {
        const auto* text = item.as_string();
        if (text == nullptr || text->get().empty()) {
          fail(source, item, "[http] key 'recording_roots': every element must be a non-empty string (a folder)");
        }
        http.recording_roots.push_back(text->get());
      }
    } else {
      const auto* text = value.as_string();
      if (text == nullptr) fail(source, value, fmt::format("[http] key '{}': expected a string", k));
      if (k == "address") http.address = text->get();
      if (k == "token") http.token = text->get();
      if (k == "web_root") http.web_root = text->get();
    }
  }
}

}  // namespace

PipelineConfig parse_pipeline(const std::string& text, const std::string& source, const StageParserFactory& stages) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw ConfigError(fmt::format("{}:{}:{}: TOML syntax: {}", source, e.source().begin.line,
                                  e.source().begin.column, e.description()));
  }
  PipelineConfig config;
  config.source = source;
  for (const auto& [key, value] : root) {
    if (!kTopKeys.contains(key.str())) {
      fail(source, value, fmt::format("unknown key '{}' (expected instance, [restart], [http] or [[stage]])", key.str()));
    }
  }
  if (const auto* instance = root.get("instance")) {
    const auto* s = instance->as_string();
    if (s == nullptr) fail(source, *instance, "key 'instance': expected a string");
    try {
      ring::Segment::validate_name("instance", s->get());
    } catch (const Error& e) {
      fail(source, *instance, e.what());
    }
    config.instance = s->get();
  }
  if (const auto* restart_node = root.get("restart")) {
    const auto* restart = restart_node->as_table();
    if (restart == nullptr) fail(source, *restart_node, "'restart' must be a table: [restart]");
    for (const auto& [key, value] : *restart) {
      const std::string k{key.str()};
      if (!kRestartKeys.contains(k)) {
        fail(source, value, fmt::format("[restart] unknown key '{}' (expected max_restarts, backoff_ms, backoff_max_ms, "
                                  "healthy_after_ms)", k));
      }
      if (k == "max_restarts") config.restart.max_restarts = read_u32(source, value, k, 0, 1000);
      if (k == "backoff_ms") config.restart.backoff_ms = read_u32(source, value, k, 1, 600'000);
      if (k == "backoff_max_ms") config.restart.backoff_max_ms = read_u32(source, value, k, 1, 3'600'000);
      if (k == "healthy_after_ms") config.restart.healthy_after_ms = read_u32(source, value, k, 1, 86'400'000);
    }
  }
  if (const auto* http_node = root.get("http")) parse_http(source, *http_node, config.http);
  const auto* stage_node = root.get("stage");
  if (stage_node == nullptr) {
    throw ConfigError(fmt::format("{}: no [[stage]] tables: a pipeline needs at least one stage", source));
  }
  const auto* stage_array = stage_node->as_array();
  if (stage_array == nullptr || !stage_array->is_array_of_tables()) {
    fail(source, *stage_node, "'stage' must be an array of tables: write each one as [[stage]]");
  }
  std::set<std::string> names;
  for (const auto& element : *stage_array) {
    const auto& table = *element.as_table();
    StageConfig stage;
    stage.line = static_cast<std::uint32_t>(table.source().begin.line);
    const auto* name = table.get("name");
    if (name == nullptr || !name->is_string()) {
      fail(source, table, "[[stage]] needs name = \"...\" (a label, and the consumer name of a consuming stage)");
    }
    stage.name = name->as_string()->get();
    try {
      ring::Segment::validate_name("stage", stage.name);
    } catch (const Error& e) {
      fail(source, *name, e.what());
    }
    if (!names.insert(stage.name).second) fail(source, *name, fmt::format("stage name '{}' is used twice", stage.name));
    if (const auto* command = table.get("command")) {
      if (table.get("run") != nullptr) {
        fail(source, *command, fmt::format("[[stage]] '{}': give either run (a framering stage) or command (any "
                                           "program), not both", stage.name));
      }
      parse_command_stage(source, table, stage);
      config.stages.push_back(std::move(stage));
      continue;
    }
    stage.run = stage.name;
    if (const auto* run = table.get("run")) {
      if (!run->is_string()) fail(source, *run, fmt::format("[[stage]] '{}' key 'run': expected a string", stage.name));
      stage.run = run->as_string()->get();
    }
    if (!has_subcommand(stages, stage.run) || stage.run == "run" || stage.run == "status" || stage.run == "bench") {
      const auto* node = table.get("run") != nullptr ? table.get("run") : name;
      std::vector<std::string> runnable;
      for (const auto& n : subcommand_names(stages)) {
        if (n != "run" && n != "status" && n != "bench") runnable.push_back(n);
      }
      fail(source, *node, fmt::format("[[stage]] '{}': '{}' is not a stage command (expected one of: {})", stage.name,
                                      stage.run, fmt::join(runnable, ", ")));
    }
    const std::string context = fmt::format("[[stage]] '{}'", stage.name);
    std::vector<std::pair<const toml::node*, std::vector<std::string>>> per_key;
    for (const auto& [key, value] : table) {
      const std::string k{key.str()};
      if (kStageKeys.contains(k)) continue;
      if (k == "instance") {
        fail(source, value, fmt::format("{} key 'instance': set the instance at the top of the file, not per stage", context));
      }
      std::vector<std::string> args;
      if (const auto* b = value.as_boolean()) {
        args.push_back(fmt::format("--{}={}", k, b->get() ? "true" : "false"));
      } else if (const auto* array = value.as_array()) {
        args.push_back("--" + k);
        for (const auto& item : *array) args.push_back(scalar_text(source, context, k, item));
      } else {
        args.push_back("--" + k);
        args.push_back(scalar_text(source, context, k, value));
      }
      per_key.emplace_back(&value, args);
      stage.args.insert(stage.args.end(), args.begin(), args.end());
    }
    // Check with the stage's own parser; on failure, find the key that fails alone.
    const std::string error = check_with_parser(stages, stage.run, stage.args, &stage.rings);
    if (!error.empty()) {
      for (const auto& [node, args] : per_key) {
        const std::string alone = check_with_parser(stages, stage.run, args);
        if (!alone.empty()) {
          fail(source, *node, fmt::format("{} key '{}': framering {} says: {}", context,
                                          args.front().substr(2, args.front().find('=') - 2), stage.run, alone));
        }
      }
      fail(source, table, fmt::format("{}: framering {} says: {}", context, stage.run, error));
    }
    // The rings its options name must be rings that can exist: the stage's parser takes any
    // string (--ring ""), and the stage would only fail once started. Named at the key that gave
    // the name when one did.
    for (const auto& use : stage.rings) {
      try {
        ring::Segment::validate_name("ring", use.ring);
      } catch (const Error& e) {
        const auto from = std::find_if(per_key.begin(), per_key.end(), [&](const auto& key) {
          return std::find(key.second.begin() + 1, key.second.end(), use.ring) != key.second.end();
        });
        fail(source, from != per_key.end() ? *from->first : static_cast<const toml::node&>(table),
             fmt::format("{}: framering {} would {} ring '{}': {}", context, stage.run,
                         use.role == RingRole::Produces ? "produce" : "consume", use.ring, e.what()));
      }
    }
    config.stages.push_back(std::move(stage));
  }
  return config;
}

PipelineConfig load_pipeline(const std::string& path, const StageParserFactory& stages) {
  std::ifstream in(path);
  if (!in) throw ConfigError(fmt::format("{}: cannot read the pipeline file: {}", path, errno_text(errno)));
  std::stringstream text;
  text << in.rdbuf();
  return parse_pipeline(text.str(), path, stages);
}

std::vector<std::string> run_words(const std::string& run) {
  std::vector<std::string> words;
  std::istringstream in(run);
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

}  // namespace framering::supervise
