// make_corpus: writes the fuzz targets' seed corpora (fuzz/corpus/<target>/) with our own writers,
// so that the seeds are what the code really produces, plus a few slightly broken variants.
// The same seeds on every run but for the UTC times a recording holds (created_utc, closed_utc):
// run it again after a format change and commit what changes.
//
//   build/fuzz/fuzz/make_corpus fuzz/corpus .     (corpus folder, source tree for the TOML files)
//
// Seeds stay small (the whole corpus well under 200 KB): recordings are 4x2 pixels (8 KiB a
// page, the writer's page granularity), images a few pixels.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "framering/common/ring_geometry.hpp"
#include "framering/common/segment.hpp"
#include "framering/record/recording.hpp"
#include "fuzz_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace framering;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class Seeds {
 public:
  Seeds(const fs::path& root, const std::string& target) : folder_(root / target) {
    fs::remove_all(folder_);
    fs::create_directories(folder_);
  }
  void add(const std::string& name, const std::string& bytes) { fuzz::write_file(folder_ / name, bytes); }

 private:
  fs::path folder_;
};

// ---- fuzz_common_segment_header: file size | flags | header bytes ------------------------------

std::string header_input(std::uint64_t file_size_bytes, std::uint8_t flags, const ring::SegmentHeader& h,
                         std::size_t header_bytes = sizeof(ring::SegmentHeader)) {
  std::string out(sizeof file_size_bytes, '\0');
  std::memcpy(out.data(), &file_size_bytes, sizeof file_size_bytes);
  out.push_back(static_cast<char>(flags));
  out.append(reinterpret_cast<const char*>(&h), std::min(header_bytes, sizeof h));
  return out;
}

ring::RingGeometry geometry(std::uint32_t width, std::uint32_t height, PixelFormat format, std::uint64_t stride,
                            std::uint32_t slots) {
  ring::RingGeometry g;
  g.frame.width = width;
  g.frame.height = height;
  g.frame.pixel_format = format;
  g.frame.stride_bytes = stride;
  g.slot_count = slots;
  g.max_consumers = 4;
  return g;
}

void segment_header_seeds(const fs::path& root) {
  Seeds seeds(root, "fuzz_common_segment_header");
  const struct {
    const char* name;
    ring::RingGeometry g;
  } sound[] = {{"32x8-mono16", geometry(32, 8, PixelFormat::Mono16, 0, 4)},
               {"1920x1080-mono16", geometry(1920, 1080, PixelFormat::Mono16, 0, 16)},
               {"17x3-mono8-stride32", geometry(17, 3, PixelFormat::Mono8, 32, 2)},
               {"640x480-mono12", geometry(640, 480, PixelFormat::Mono12, 0, 8)}};
  for (const auto& [name, g] : sound) {
    const ring::SegmentHeader h = ring::make_segment_header(g);
    seeds.add(fmt::format("sound-{}", name), header_input(h.segment_bytes, 0, h));
    seeds.add(fmt::format("sound-{}-expected", name), header_input(h.segment_bytes + 4096, 1, h));
    seeds.add(fmt::format("sound-{}-expected-any-slots", name), header_input(h.segment_bytes, 3, h));
  }
  const ring::SegmentHeader sound_header = ring::make_segment_header(sound[0].g);
  const std::uint64_t size = sound_header.segment_bytes;
  auto broken = [&](const char* name, auto&& change, std::uint64_t file_size) {
    ring::SegmentHeader h = sound_header;
    change(h);
    seeds.add(fmt::format("broken-{}", name), header_input(file_size, 1, h));
  };
  broken("foreign-magic", [](auto& h) { h.magic = 0x0123456789ABCDEFULL; }, size);
  broken("zero-magic", [](auto& h) { h.magic = 0; }, size);
  broken("next-layout-version", [](auto& h) { ++h.layout_version; }, size);
  broken("consumer-entry-size", [](auto& h) { h.consumer_entry_bytes = 256; }, size);
  broken("file-shorter", [](auto&) {}, 8192);
  broken("wild-offset", [](auto& h) { h.frame_headers_offset = 1ULL << 40U; }, size);
  broken("zero-slots", [](auto& h) { h.slot_count = 0; }, size);
  broken("unknown-format", [](auto& h) { h.pixel_format = 0x12345678; }, size);
  broken("stride-below-row", [](auto& h) { h.stride_bytes = 2; }, size);
  seeds.add("broken-short", header_input(size, 0, sound_header, 100));
}

// ---- fuzz_supervise_pipeline_config: TOML text -------------------------------------------------

void pipeline_seeds(const fs::path& root, const fs::path& source) {
  Seeds seeds(root, "fuzz_supervise_pipeline_config");
  for (const char* folder : {"config", "examples"}) {
    for (const auto& entry : fs::directory_iterator(source / folder)) {
      if (entry.path().extension() == ".toml") {
        seeds.add(fmt::format("{}-{}", folder, entry.path().filename().string()), read_file(entry.path()));
      }
    }
  }
  seeds.add("fault-campaign_pipeline.toml", read_file(source / "tests/fault/campaign_pipeline.toml"));
  seeds.add("command-stage.toml", R"(instance = "lab1"
[restart]
max_restarts = 2
backoff_ms = 50
backoff_max_ms = 400
healthy_after_ms = 1000
[[stage]]
name = "acquire"
source = "pattern"
width = 64
height = 48
frames = 10
[[stage]]
name = "stats"
command = ["/bin/true", "--every", "2"]
consumes = [{ ring = "raw", kind = "every", dead_timeout_s = 1.5 }, { ring = "raw", kind = "newest" }]
produces = ["stats", "more"]
[[stage]]
name = "show"
run = "display"
ring = "stats"
headless = true
)");
  seeds.add("broken-syntax.toml", "[[stage]\nname = \"acquire\"\n");
  seeds.add("broken-unknown-key.toml", "instances = \"x\"\n[[stage]]\nname = \"acquire\"\n");
  seeds.add("broken-duplicate-name.toml", "[[stage]]\nname = \"acquire\"\n[[stage]]\nname = \"acquire\"\n");
  seeds.add("broken-two-producers.toml",
            "[[stage]]\nname = \"acquire\"\n[[stage]]\nname = \"a2\"\nrun = \"acquire\"\n");
  seeds.add("broken-option-value.toml", "[[stage]]\nname = \"acquire\"\nwidth = 0\nrate-hz = \"fast\"\n");
  seeds.add("broken-stage-table.toml", "stage = [1, 2]\n");
  seeds.add("broken-consumes.toml",
            "[[stage]]\nname = \"x\"\ncommand = [\"/bin/true\"]\nconsumes = [{ ring = \"raw\", kind = \"all\" }]\n");
}

// ---- fuzz_record_recording: flags | recording.json | index.csv | manifest.json | parts ---------

constexpr std::uint8_t kHasRecording = 1, kHasIndex = 2, kHasManifest = 4, kBigTiff = 8, kMono8 = 16,
                       kFindOpen = 32, kJson = 64, kAppend = 128;

struct Written {
  std::string recording, index, manifest;
  std::vector<std::string> parts;
};

// A real recording of `frames` 4x2 frames by record::Recording, its files read back.
Written record(const record::PageGeometry& g, std::uint64_t frames, std::uint64_t max_file_frames,
               std::uint64_t skip_sequence = UINT64_MAX) {
  const fuzz::TempFolder dest;
  std::vector<std::string> parts;
  {
    record::RecordingSettings s;
    s.dest = dest.path();
    s.name = "rec";
    s.geometry = g;
    s.max_file_frames = max_file_frames;
    s.direct_io = false;
    record::Recording recording(s, {"fuzz", "raw", "record", 7}, 0);
    alignas(4096) static std::byte pixels[4096];
    for (std::uint64_t k = 0, sequence = 0; k < frames; ++k, ++sequence) {
      if (sequence == skip_sequence) ++sequence;  // an evicted gap
      for (std::size_t i = 0; i < 16; ++i) pixels[i] = static_cast<std::byte>(sequence * 16 + i);
      (void)recording.append({0, 0, sequence, 1'700'000'000'000'000'000ULL + sequence * 1000, sequence + 100,
                              sequence == 1 ? 2U : 0U},
                             pixels, std::uint64_t{g.width} * bytes_per_pixel(g.pixel_format), sizeof pixels);
    }
    (void)recording.close({{"reason", "frames"}});
  }
  const fs::path folder = dest.path() / "rec";
  Written w{read_file(folder / record::kRecordingFile), read_file(folder / record::kIndexFile),
            read_file(folder / record::kManifestFile), {}};
  for (std::uint32_t part = 1; fs::exists(folder / record::part_file_name(part)); ++part) {
    w.parts.push_back(read_file(folder / record::part_file_name(part)));
  }
  return w;
}

std::string recording_input(std::uint8_t flags, const Written& w) {
  std::vector<std::string> files = {w.recording, w.index, w.manifest};
  files.insert(files.end(), w.parts.begin(), w.parts.end());
  return std::string(1, static_cast<char>(flags)) + fuzz::join_files(files);
}

void recording_seeds(const fs::path& root) {
  Seeds seeds(root, "fuzz_record_recording");
  const record::PageGeometry mono16{4, 2, PixelFormat::Mono16, false};
  const record::PageGeometry mono8_bigtiff{4, 2, PixelFormat::Mono8, true};
  const std::uint8_t all = kHasRecording | kHasIndex | kHasManifest;

  const Written one = record(mono16, 1, 0);
  seeds.add("closed-1-frame", recording_input(all, one));
  seeds.add("open-1-frame-find-open-json",
            recording_input(kHasRecording | kHasIndex | kFindOpen | kJson | kAppend, one));

  const Written rotated = record(mono16, 2, 1, 1);  // parts of one frame; sequence 1 evicted
  seeds.add("open-2-parts-with-gap", recording_input(kHasRecording | kHasIndex | kJson | kAppend, rotated));

  Written unindexed = record(mono16, 2, 0);  // killed between linking page 1 and indexing it
  unindexed.index.erase(unindexed.index.rfind('\n', unindexed.index.size() - 2) + 1);
  seeds.add("open-page-linked-not-indexed", recording_input(kHasRecording | kHasIndex | kAppend, unindexed));

  Written truncated = one;  // the page's pixels cut short
  truncated.parts.back().resize(truncated.parts.back().size() - 3000);
  seeds.add("open-part-truncated", recording_input(kHasRecording | kHasIndex | kJson, truncated));

  const Written small = record(mono8_bigtiff, 1, 0);
  seeds.add("closed-bigtiff-mono8", recording_input(all | kBigTiff | kMono8, small));

  Written damaged = small;
  damaged.index += "1,x,3\n#comment\n0,0,0,0,0,0\n";
  damaged.manifest.resize(damaged.manifest.size() / 2);
  damaged.recording.replace(damaged.recording.find("\"width\": 4"), 10, "\"width\": \"4\"");
  seeds.add("damaged-json-and-index", recording_input(all | kBigTiff | kMono8 | kJson, damaged));
}

// ---- fuzz_acquire_file_source: flags | file bytes ----------------------------------------------

constexpr std::uint8_t kPng = 1, kMono8Ring = 1U << 2U, kMono12Ring = 2U << 2U, kScale = 16, kLoop = 32, kPadded = 64;

std::string encoded(const std::string& extension, const std::vector<cv::Mat>& pages) {
  const fuzz::TempFolder folder;
  const fs::path path = folder.path() / ("image" + extension);
  if (pages.size() == 1) {
    cv::imwrite(path.string(), pages.front());
  } else {
    cv::imwritemulti(path.string(), pages);
  }
  return read_file(path);
}

cv::Mat ramp(int width, int height, int type) {
  cv::Mat m(height, width, type);
  auto* bytes = m.ptr<std::uint8_t>(0);
  for (std::size_t i = 0; i < m.total() * m.elemSize(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 37 + 11);
  return m;
}

void file_source_seeds(const fs::path& root) {
  Seeds seeds(root, "fuzz_acquire_file_source");
  auto add = [&](const std::string& name, std::uint8_t flags, const std::string& bytes) {
    seeds.add(name, std::string(1, static_cast<char>(flags)) + bytes);
  };
  const std::string grey16_tif = encoded(".tif", {ramp(5, 3, CV_16UC1)});
  add("tif-grey16", kLoop, grey16_tif);
  add("tif-grey16-into-mono8-padded", kMono8Ring | kPadded, grey16_tif);
  const cv::Mat grey8 = ramp(6, 4, CV_8UC1);
  add("tif-3-pages-grey8", kScale | kLoop, encoded(".tif", {grey8, grey8, grey8}));
  add("tif-pages-of-two-sizes", kLoop, encoded(".tif", {ramp(6, 4, CV_16UC1), ramp(3, 2, CV_16UC1)}));
  add("tif-colour8-into-mono12", kMono12Ring | kScale, encoded(".tif", {ramp(4, 4, CV_8UC3)}));
  add("tif-float-refused", 0, encoded(".tif", {ramp(4, 2, CV_32FC1)}));
  add("tif-truncated", 0, grey16_tif.substr(0, grey16_tif.size() * 2 / 3));
  const std::string grey8_png = encoded(".png", {ramp(7, 5, CV_8UC1)});
  add("png-grey8", kPng | kScale, grey8_png);
  add("png-grey16-padded", kPng | kLoop | kPadded, encoded(".png", {ramp(5, 3, CV_16UC1)}));
  add("png-bgra8-into-mono8", kPng | kMono8Ring, encoded(".png", {ramp(3, 3, CV_8UC4)}));
  add("png-bgr16", kPng | kLoop, encoded(".png", {ramp(3, 2, CV_16UC3)}));
  add("png-truncated", kPng, grey8_png.substr(0, grey8_png.size() / 2));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_corpus CORPUS_FOLDER SOURCE_TREE\n");
    return 2;
  }
  fuzz::quiet_logs();
  const fs::path root = argv[1];
  segment_header_seeds(root);
  pipeline_seeds(root, argv[2]);
  recording_seeds(root);
  file_source_seeds(root);
  return 0;
}
