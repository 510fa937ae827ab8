// inspect_command.hpp: `framering inspect PATH [--json]`: reads recordings back (libtiff for the
// pages, index.csv, recording.json, manifest.json) and says what they hold and whether they agree.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace CLI {
class App;
}

namespace framering::record {

/// The report on one recording folder (or the folder holding one TIFF): ring, geometry, files
/// with their readable page counts, frames, sequence range, gaps, "complete" (nothing lost in
/// the ring), "consistent" (every part's pages readable with the recording's geometry, the index
/// rows matching the pages one for one, the manifest agreeing) and "problems" (one sentence each).
/// Never throws for a damaged recording: damage is reported in "problems".
[[nodiscard]] nlohmann::json inspect_recording(const std::filesystem::path& folder);

/// Pages libtiff can read completely from `tiff` (its IFD chain, each page's tags checked and
/// its strip inside the file); problems found are appended to `problems`. Never throws.
[[nodiscard]] nlohmann::json inspect_tiff(const std::filesystem::path& tiff, std::vector<std::string>& problems);

/// Adds `inspect`; when selected, `action` runs it. Exit codes: 0 every recording complete and
/// consistent, 3 frames were lost (and nothing else is wrong), 2 damage found or the path is not
/// a recording (reported, never a crash).
void add_inspect_subcommand(CLI::App& app, std::function<int()>& action);

}  // namespace framering::record
