// fuzz_record_recording: a damaged recording folder, read back by `framering inspect` and resumed
// by the recorder (as `framering record` does after a SIGKILL, a full disk, a hand edit).
//
// Input: flags (1 byte), then files packed with fuzz_support.hpp's join_files:
//   recording.json | index.csv | manifest.json | part-000001.tif | part-000002.tif | part-000003.tif
// Each becomes that file in a fresh folder <tmp>/rec (missing parts are missing files; more
// than three parts are ignored). flags:
//   bit 0, 1, 2  recording.json, index.csv, manifest.json exist (else the file is left out)
//   bit 3        the recorder asks for BigTIFF (else classic)
//   bit 4        the recorder's frames are Mono8 (else Mono16); always 4x2 pixels
//   bit 5        the recorder looks for its open recording (no --recording name) instead of by name
//   bit 6        inspect prints JSON (--json) instead of its text report
//   bit 7        the resumed recorder appends one frame before it closes
//
// Steps and what must hold (beyond no crash and no sanitizer report):
//   1. `framering inspect <folder>` (its subcommand's action, as main() runs it) returns an exit
//      code or throws framering::ConfigError ("not a recording"); nothing else.
//   2. record::Recording resumes the folder (or starts a new one beside it), with the settings
//      above, for instance "fuzz", ring "raw", consumer "record", segment id 7: it constructs or
//      throws framering::Error (its documented failure); append and close then never throw.
//   3. inspect_recording on the folder the recorder left never throws.
// Any other exception escapes and aborts, which libFuzzer reports as a crash.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "framering/common/error.hpp"
#include "framering/record/inspect_command.hpp"
#include "framering/record/recording.hpp"
#include "fuzz_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace framering;

constexpr std::size_t kMaxParts = 3;

// What `framering inspect` does with its command line: exit code, or a ConfigError.
void inspect_as_the_command_does(const fs::path& folder, bool json) {
  CLI::App app{"framering"};
  std::function<int()> action;
  record::add_inspect_subcommand(app, action);
  std::vector<std::string> argv = {"inspect", folder.string(), "--log-level", "off"};
  if (json) argv.emplace_back("--json");
  std::reverse(argv.begin(), argv.end());  // CLI11 consumes the vector from its back
  app.parse(argv);
  try {
    (void)action();
  } catch (const ConfigError&) {
  }
  fuzz::quiet_logs();  // the action set up its own logger
}

// The recorder's settings: the one place this target spells the page geometry's fields.
record::RecordingSettings settings_for(const fs::path& dest, std::uint8_t flags) {
  record::RecordingSettings s;
  s.dest = dest;
  s.name = (flags & 0x20U) != 0 ? "" : "rec";
  s.geometry.frame.width = 4;
  s.geometry.frame.height = 2;
  s.geometry.frame.pixel_format = (flags & 0x10U) != 0 ? PixelFormat::Mono8 : PixelFormat::Mono16;
  s.geometry.bigtiff = (flags & 0x08U) != 0;
  s.direct_io = false;  // the folder is on tmpfs: O_DIRECT would only fall back, with a log line
  return s;
}

void resume_as_the_recorder_does(const fs::path& dest, std::uint8_t flags) {
  std::optional<record::Recording> recording;
  try {
    recording.emplace(settings_for(dest, flags), record::RecordingIdentity{"fuzz", "raw", "record", 7}, 0);
  } catch (const Error&) {
    return;  // refused with a message naming the path: `framering record` exits 2 with it
  }
  if ((flags & 0x80U) != 0) {
    alignas(4096) static std::byte pixels[4096] = {};
    const std::uint64_t next = recording->tally().next_sequence();
    (void)recording->append({0, 0, next, 1'000'000'000ULL, next, 0}, pixels, 8, sizeof pixels);
  }
  (void)recording->close({{"reason", "fuzz"}});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  fuzz::quiet_logs();
  if (std::freopen("/dev/null", "w", stdout) == nullptr) std::abort();  // inspect's reports
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return -1;
  const std::uint8_t flags = data[0];
  const std::vector<std::string_view> files = fuzz::split_files(fuzz::as_text(data + 1, size - 1));
  const fuzz::TempFolder dest;
  const fs::path folder = dest.path() / "rec";
  fs::create_directory(folder);
  const char* const names[] = {record::kRecordingFile, record::kIndexFile, record::kManifestFile};
  for (std::size_t i = 0; i < files.size() && i < 3 + kMaxParts; ++i) {
    if (i < 3) {
      if ((flags & (1U << i)) != 0) fuzz::write_file(folder / names[i], files[i]);
    } else {
      fuzz::write_file(folder / record::part_file_name(static_cast<std::uint32_t>(i - 2)), files[i]);
    }
  }

  inspect_as_the_command_does(folder, (flags & 0x40U) != 0);
  resume_as_the_recorder_does(dest.path(), flags);
  for (const auto& entry : fs::directory_iterator(dest.path())) {
    (void)record::inspect_recording(entry.path());
  }
  return 0;
}
