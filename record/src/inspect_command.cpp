// inspect_command.cpp: `framering inspect`: a recording read back as its users will read it
// (libtiff walks each part's IFD chain) and cross-checked against index.csv and the manifest.
#include "framering/record/inspect_command.hpp"

#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framering/common/error.hpp"
#include "framering/common/logging.hpp"
#include "framering/record/recording.hpp"

namespace framering::record {
namespace {

namespace fs = std::filesystem;

// libtiff reports through process-wide handlers; collect what it says for the file being read.
thread_local std::vector<std::string>* tiff_messages = nullptr;

void collect_tiff_message(const char* module, const char* format, va_list args) {
  if (tiff_messages == nullptr) return;
  char text[512];
  std::vsnprintf(text, sizeof text, format, args);
  tiff_messages->push_back(module != nullptr ? fmt::format("{}: {}", module, text) : std::string(text));
}

bool is_recording_folder(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_directory(p, ec)) return false;
  if (fs::exists(p / kRecordingFile, ec) || fs::exists(p / kIndexFile, ec) || fs::exists(p / kManifestFile, ec)) return true;
  for (const auto& e : fs::directory_iterator(p, ec)) {
    if (e.path().extension() == ".tif") return true;
  }
  return false;
}

// recording.json or manifest.json, null when it is missing, not JSON or damaged (a key of another
// type than the recorder writes: find_description_problem), each of the last two a problem. What
// it returns can be read with value() without throwing.
nlohmann::json read_json_or_problem(const fs::path& path, std::vector<std::string>& problems) {
  std::ifstream in(path);
  if (!in) return nullptr;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    problems.push_back(fmt::format("{} is not valid JSON ({})", path.filename().string(), e.what()));
    return nullptr;
  }
  if (auto problem = find_description_problem(j)) {
    problems.push_back(fmt::format("{} is damaged: {}", path.filename().string(), *problem));
    return nullptr;
  }
  return j;
}

}  // namespace

nlohmann::json inspect_tiff(const fs::path& tiff, std::vector<std::string>& problems) {
  std::vector<std::string> messages;
  tiff_messages = &messages;
  const TIFFErrorHandler old_error = TIFFSetErrorHandler(collect_tiff_message);
  const TIFFErrorHandler old_warning = TIFFSetWarningHandler(collect_tiff_message);
  nlohmann::json out = {{"file", tiff.filename().string()}, {"pages", 0}};
  std::error_code ec;
  const std::uint64_t size = fs::file_size(tiff, ec);
  out["bytes"] = ec ? 0 : size;
  TIFF* t = TIFFOpen(tiff.c_str(), "r");
  std::uint64_t pages = 0;
  std::set<std::string> shapes;
  if (t == nullptr) {
    problems.push_back(fmt::format("{}: libtiff cannot open it{}", tiff.filename().string(),
                                   messages.empty() ? std::string{} : " (" + messages.back() + ")"));
  } else {
    do {
      std::uint32_t width = 0, height = 0;
      std::uint16_t bits = 0, samples = 1, compression = 1;
      TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &width);
      TIFFGetField(t, TIFFTAG_IMAGELENGTH, &height);
      TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bits);
      TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &samples);
      TIFFGetFieldDefaulted(t, TIFFTAG_COMPRESSION, &compression);
      std::uint64_t end = 0;
      const tstrile_t strips = TIFFNumberOfStrips(t);
      for (tstrile_t s = 0; s < strips; ++s) {
        end = std::max(end, TIFFGetStrileOffset(t, s) + TIFFGetStrileByteCount(t, s));
      }
      if (end > size) {
        problems.push_back(fmt::format("{}: page {}'s pixels end at byte {}, past the end of the file ({} bytes): "
                                       "the file is truncated",
                                       tiff.filename().string(), pages, end, size));
        break;
      }
      shapes.insert(fmt::format("{}x{}x{} bits{}{}", width, height, bits,
                                samples == 1 ? std::string{} : fmt::format(" x{} samples", samples),
                                compression == 1 ? "" : " compressed"));
      if (pages == 0) {
        out["shape"] = {{"width", width}, {"height", height}, {"bits_per_sample", bits}, {"samples_per_pixel", samples}};
      }
      ++pages;
    } while (TIFFReadDirectory(t) == 1);
    TIFFClose(t);
    if (shapes.size() > 1) {
      problems.push_back(fmt::format("{}: pages of different shapes ({})", tiff.filename().string(), fmt::join(shapes, ", ")));
    }
  }
  for (const auto& m : messages) {
    // A chain that points past the end of the file (a truncated file) is what libtiff reports here.
    problems.push_back(fmt::format("{}: libtiff: {}", tiff.filename().string(), m));
  }
  TIFFSetErrorHandler(old_error);
  TIFFSetWarningHandler(old_warning);
  tiff_messages = nullptr;
  out["pages"] = pages;
  return out;
}

nlohmann::json inspect_recording(const fs::path& folder) {
  std::vector<std::string> problems;
  std::vector<std::string> notes;
  nlohmann::json report = {{"path", folder.string()}};
  std::error_code ec;

  const nlohmann::json description = read_json_or_problem(folder / kRecordingFile, problems);
  const nlohmann::json manifest = read_json_or_problem(folder / kManifestFile, problems);
  if (description.is_null() && !fs::exists(folder / kRecordingFile, ec)) {
    problems.push_back(fmt::format("no {}: ring and geometry unknown", kRecordingFile));
  }
  const nlohmann::json& about = !manifest.is_null() ? manifest : description;
  for (const char* key : {"instance", "ring", "consumer", "geometry", "tiff"}) {
    if (about.is_object() && about.contains(key)) report[key] = about[key];
  }
  report["closed"] = !manifest.is_null();
  if (manifest.is_null()) {
    notes.push_back("not closed (no manifest.json): the recorder is still running, or was killed");
  } else if (manifest.contains("stop")) {
    report["stop"] = manifest["stop"];
  }

  // Index.
  std::vector<IndexRow> rows;
  const fs::path index_path = folder / kIndexFile;
  if (!fs::exists(index_path, ec)) {
    problems.push_back(fmt::format("no {}: the frames' sequences and timestamps are unknown and the pages cannot be "
                                   "checked against it",
                                   kIndexFile));
    report["index"] = nullptr;
  } else {
    try {
      IndexFile index = read_index(index_path);
      for (auto& p : index.problems) problems.push_back(std::move(p));
      for (const auto& c : index.comments) {
        if (c.find("stopped") != std::string::npos) report["stopped_note"] = c;
      }
      rows = std::move(index.rows);
      report["index"] = kIndexFile;
    } catch (const Error& e) {
      problems.push_back(e.what());
    }
  }
  const std::uint64_t start = description.is_object() ? description.value("start_sequence", std::uint64_t{0})
                                                      : (rows.empty() ? 0 : rows.front().sequence);
  RecordingTally tally(start);
  std::map<std::uint32_t, std::vector<std::uint64_t>> pages_by_part;
  for (const auto& row : rows) {
    if (!tally.add(row)) {
      problems.push_back(fmt::format("{}: sequence {} appears again or out of order (part {}, page {})", kIndexFile,
                                     row.sequence, row.part, row.page));
      continue;
    }
    pages_by_part[row.part].push_back(row.page);
  }

  // Parts: every TIFF in the folder, read with libtiff, against the index rows naming it.
  std::vector<fs::path> tiffs;
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    if (e.path().extension() == ".tif") tiffs.push_back(e.path());
  }
  std::sort(tiffs.begin(), tiffs.end());
  nlohmann::json files = nlohmann::json::array();
  const nlohmann::json geometry = report.value("geometry", nlohmann::json::object());
  std::uint64_t readable_pages = 0;
  std::set<std::uint32_t> parts_seen;
  for (const auto& tiff : tiffs) {
    nlohmann::json f = inspect_tiff(tiff, problems);
    const std::uint64_t pages = f["pages"];
    readable_pages += pages;
    if (f.contains("shape") && geometry.is_object() && !geometry.empty() &&
        (f["shape"]["width"] != geometry.value("width", 0U) || f["shape"]["height"] != geometry.value("height", 0U) ||
         f["shape"]["bits_per_sample"] != geometry.value("bits_per_sample", 0U) ||
         f["shape"]["samples_per_pixel"] != geometry.value("samples_per_pixel", 1U))) {
      problems.push_back(fmt::format("{}: pages are {}x{} with {} bits x {} samples, the recording says {}x{} with {} x {}",
                                     tiff.filename().string(), f["shape"]["width"].get<std::uint32_t>(),
                                     f["shape"]["height"].get<std::uint32_t>(),
                                     f["shape"]["bits_per_sample"].get<std::uint32_t>(),
                                     f["shape"]["samples_per_pixel"].get<std::uint32_t>(), geometry.value("width", 0U),
                                     geometry.value("height", 0U), geometry.value("bits_per_sample", 0U),
                                     geometry.value("samples_per_pixel", 1U)));
    }
    unsigned part = 0;
    if (std::sscanf(tiff.filename().c_str(), "part-%u.tif", &part) == 1 && !rows.empty()) {
      parts_seen.insert(part);
      const auto it = pages_by_part.find(part);
      const std::uint64_t indexed = it == pages_by_part.end() ? 0 : it->second.size();
      f["index_rows"] = indexed;
      if (indexed != pages) {
        problems.push_back(fmt::format("{}: {} readable pages but {} index rows", tiff.filename().string(), pages,
                                       indexed));
      }
      if (it != pages_by_part.end()) {
        for (std::uint64_t k = 0; k < it->second.size(); ++k) {
          if (it->second[k] != k) {
            problems.push_back(fmt::format("{}: index row {} of this part names page {}, expected page {}",
                                           tiff.filename().string(), k, it->second[k], k));
            break;
          }
        }
      }
    }
    files.push_back(f);
  }
  for (const auto& [part, pages] : pages_by_part) {
    if (!parts_seen.contains(part)) {
      problems.push_back(fmt::format("{} lists {} frames in {}, which is missing", kIndexFile, pages.size(),
                                     part_file_name(part)));
    }
  }
  report["files"] = files;
  report["pages"] = readable_pages;
  if (rows.empty() && !fs::exists(index_path, ec)) {
    report["frames_recorded"] = readable_pages;  // all we know without an index
    report["complete"] = nullptr;
  } else {
    tally.to_json(report);
    // Complete means the recorder closed it after a normal stop, with no hole in its span. One
    // that is open (its recorder still running, killed, or given up by `framering run`) or that
    // stopped on an error may end before frames that were published after its last one.
    const std::string stop_reason =
        report.contains("stop") && report["stop"].is_object() ? report["stop"].value("reason", "") : "";
    if (manifest.is_null()) {
      report["complete"] = false;
      report["incomplete_because"] = "not closed: frames published after its last one may never have been recorded";
    } else if (stop_reason == "error" || (report.contains("stop") && report["stop"].contains("close_error"))) {
      report["complete"] = false;
      report["incomplete_because"] = "it stopped on an error";
    }
  }
  if (!manifest.is_null() && manifest.contains("frames_recorded") && !rows.empty() &&
      manifest["frames_recorded"] != tally.frames()) {
    problems.push_back(fmt::format("manifest.json says {} frames recorded, the index has {}",
                                   manifest["frames_recorded"].dump(), tally.frames()));
  }
  if (tiffs.empty() && !rows.empty()) problems.push_back("no TIFF files");
  report["consistent"] = problems.empty();
  report["problems"] = problems;
  report["notes"] = notes;
  return report;
}

namespace {

std::string human(const nlohmann::json& r) {
  std::string s = fmt::format("recording {} ({})\n", r["path"].get<std::string>(),
                              r["closed"].get<bool>() ? "closed" : "open: no manifest");
  if (r.contains("geometry")) {
    const auto& g = r["geometry"];
    const std::string cfa = g.value("cfa_pattern", "");
    const std::uint32_t samples = g.value("samples_per_pixel", 1U);
    s += fmt::format("  ring '{}' of instance '{}', consumer '{}'; {}x{} {} ({}{}{}), {} TIFF\n", r.value("ring", "?"),
                     r.value("instance", "?"), r.value("consumer", "?"), g.value("width", 0U), g.value("height", 0U),
                     g.value("pixel_format", "?"), g.value("dtype", "?"),
                     samples == 1 ? std::string{} : fmt::format(" x {} samples", samples),
                     cfa.empty() ? std::string{} : fmt::format(", raw Bayer mosaic, CFA {}", cfa), r.value("tiff", "?"));
  }
  std::vector<std::string> files;
  for (const auto& f : r["files"]) files.push_back(fmt::format("{} ({} pages)", f["file"].get<std::string>(), f["pages"].get<std::uint64_t>()));
  s += fmt::format("  files: {}\n", files.empty() ? std::string{"none"} : fmt::format("{}", fmt::join(files, ", ")));
  if (r.contains("frames_published")) {
    if (r["last_sequence"].is_null()) {
      s += "  frames: none recorded\n";
    } else {
      s += fmt::format("  frames: {} recorded, sequences {}..{} ({} published in that span)\n",
                       r["frames_recorded"].get<std::uint64_t>(), r["first_sequence"].get<std::uint64_t>(),
                       r["last_sequence"].get<std::uint64_t>(), r["frames_published"].get<std::uint64_t>());
    }
    if (r["gaps"].empty()) {
      s += "  gaps: none\n";
    } else {
      for (const auto& g : r["gaps"]) {
        // A source drop whose camera ids are unknown (an outage: the count is an estimate) has
        // no bounds to name.
        const std::string bounds = g["first"].is_number() && g["last"].is_number()
                                       ? fmt::format("[{}, {}]", g["first"].get<std::uint64_t>(), g["last"].get<std::uint64_t>())
                                       : std::string{"[ids unknown]"};
        s += fmt::format("  gap {} {} frame(s), {} ({})\n", bounds, g["count"].get<std::uint64_t>(),
                         g["cause"].get<std::string>(), g["unit"].get<std::string>());
      }
    }
  } else {
    s += fmt::format("  frames: {} readable pages (no index: sequences unknown)\n", r["pages"].get<std::uint64_t>());
  }
  if (r.contains("stop")) s += fmt::format("  stopped: {}\n", r["stop"].dump());
  if (r.contains("stopped_note")) s += fmt::format("  index says:{}\n", r["stopped_note"].get<std::string>());
  for (const auto& n : r["notes"]) s += fmt::format("  note: {}\n", n.get<std::string>());
  const auto& complete = r["complete"];
  s += fmt::format("  verdict: {}\n", complete.is_null()          ? "UNKNOWN (no index)"
                                      : complete.get<bool>() ? "complete (every frame published in the span is recorded)"
                                      : r.contains("incomplete_because")
                                          ? fmt::format("INCOMPLETE ({})", r["incomplete_because"].get<std::string>())
                                          : fmt::format("INCOMPLETE ({} frames lost in the ring)",
                                                        r.value("frames_lost", std::uint64_t{0})));
  if (r["consistent"].get<bool>()) {
    s += "  check: every page readable, index and pages agree\n";
  } else {
    s += "  check: PROBLEMS\n";
    for (const auto& p : r["problems"]) s += fmt::format("    - {}\n", p.get<std::string>());
  }
  return s;
}

int exit_code_of(const nlohmann::json& r) {
  if (!r["consistent"].get<bool>() || r["complete"].is_null()) return 2;
  return r["complete"].get<bool>() ? 0 : 3;
}

}  // namespace

void add_inspect_subcommand(CLI::App& app, std::function<int()>& action) {
  struct Options {
    std::string path;
    bool json = false;
    std::string log_level = "warn";
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("inspect", "Check a recording: geometry, frames, gaps, verdict; pages against the index");
  cmd->footer(
      "PATH is a recording folder, one of its TIFF files, or a folder of recordings. Reads every part\n"
      "with libtiff (each page's IFD, its shape, its pixels inside the file), index.csv and\n"
      "manifest.json, and checks that they agree: one index row per readable page, in order.\n"
      "Verdict: complete when its recorder closed it after a normal stop and every frame published in\n"
      "the recorded span is in it; an open recording (no manifest) or one stopped on an error never is.\n"
      "Exit codes: 0 complete and consistent, 3 frames were lost, 2 damaged (truncated file, missing\n"
      "or bad index, disagreeing manifest) or not a recording.\n"
      "Examples:\n"
      "  framering inspect /data/recordings/20260101T120000Z_raw\n"
      "  framering inspect /data/recordings --json");
  cmd->add_option("path", o->path, "Recording folder, TIFF file, or folder of recordings")->required();
  cmd->add_flag("--json", o->json, "Print one JSON document (an array for a folder of recordings)");
  cmd->add_option("--log-level", o->log_level, std::string{"Log level: "} + log_level_names())->capture_default_str();
  cmd->callback([o, &action] {
    action = [o] {
      setup_logging("inspect", o->log_level);
      const fs::path path(o->path);
      std::error_code ec;
      if (!fs::exists(path, ec)) throw ConfigError(fmt::format("inspect: {} does not exist", o->path));
      std::vector<fs::path> folders;
      if (fs::is_regular_file(path, ec)) {
        if (path.extension() != ".tif" && path.extension() != ".tiff") {
          throw ConfigError(fmt::format("inspect: {} is not a .tif file nor a folder", o->path));
        }
        folders.push_back(path.has_parent_path() ? path.parent_path() : fs::path("."));
      } else if (is_recording_folder(path)) {
        folders.push_back(path);
      } else {
        for (const auto& e : fs::directory_iterator(path, ec)) {
          if (is_recording_folder(e.path())) folders.push_back(e.path());
        }
        std::sort(folders.begin(), folders.end());
        if (folders.empty()) {
          throw ConfigError(fmt::format("inspect: {} holds no recording (no recording.json, index.csv or .tif)", o->path));
        }
      }
      nlohmann::json all = nlohmann::json::array();
      int code = 0;
      for (const auto& f : folders) {
        nlohmann::json r = inspect_recording(f);
        const int c = exit_code_of(r);
        code = c == 2 || code == 2 ? 2 : std::max(code, c);
        if (!o->json) std::fputs(human(r).c_str(), stdout);
        all.push_back(std::move(r));
      }
      // Problems quote the files (an index line, libtiff's messages) and paths may be any bytes:
      // what is not UTF-8 is printed as U+FFFD, never an exception.
      constexpr auto kReplace = nlohmann::json::error_handler_t::replace;
      if (o->json) std::printf("%s\n", (all.size() == 1 && fs::is_regular_file(path, ec)) || is_recording_folder(path)
                                           ? all[0].dump(2, ' ', false, kReplace).c_str()
                                           : all.dump(2, ' ', false, kReplace).c_str());
      return code;
    };
  });
}

}  // namespace framering::record
