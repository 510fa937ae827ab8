// recording.hpp: one recording on disk: a folder of TIFF parts, a per-frame index and, once
// closed, a manifest. `framering record` writes it; `framering inspect` reads it back.
//
//   <dest>/<UTC yyyymmddThhmmssZ>_<ring>/     (or <dest>/<--recording NAME>/)
//     recording.json    written at creation: instance, ring, consumer, segment id, geometry,
//                       TIFF flavour, start_sequence (the first frame the recording wants)
//     part-000001.tif   multi-page TIFF (tiff_stack_writer.hpp), rotated by size or frame count
//     part-000002.tif   ... (a restart after SIGKILL continues in a new part)
//     index.csv         one row per recorded frame, written before the frame is released to
//                       the producer: part,page,sequence,timestamp_ns,camera_frame_id,source_frames_lost
//                       ('#' lines are comments: where a recording stopped when no manifest could be written)
//     manifest.json     written at close (atomically: a temporary file, then rename)
//
// Everything the manifest says is derived from recording.json + index.csv (RecordingTally), so
// a recording killed before its manifest existed still knows its gaps, and a restarted recorder
// resumes the tally.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framering/record/tiff_stack_writer.hpp"

namespace framering::record {

inline constexpr const char* kRecordingFile = "recording.json";
inline constexpr const char* kIndexFile = "index.csv";
inline constexpr const char* kManifestFile = "manifest.json";
inline constexpr const char* kIndexHeader =
    "part,page,sequence,timestamp_ns,camera_frame_id,source_frames_lost,settings_generation";
/// The header of recordings written before the settings generation (six columns; read as generation 0).
inline constexpr const char* kIndexHeaderV1 = "part,page,sequence,timestamp_ns,camera_frame_id,source_frames_lost";

/// "part-000001.tif" for part 1.
[[nodiscard]] std::string part_file_name(std::uint32_t part);

/// Checks, before anything is opened, that `dest` is not an existing non-folder and that `name`
/// (when not empty) is a plain folder name. Throws ConfigError naming the option and what was expected.
void validate_destination(const std::filesystem::path& dest, const std::string& name);

/// Why `description`, recording.json or manifest.json as parsed, cannot be read as one: it is not
/// a JSON object, or a key that the recorder writes and its readers read holds another JSON type
/// ("geometry.width is a string, expected an unsigned integer"). nullopt when every such key that
/// is present has its type; missing keys are each reader's business. Readers check this first,
/// so that they may then read with nlohmann::json::value() (which throws on another type).
[[nodiscard]] std::optional<std::string> find_description_problem(const nlohmann::json& description);

/// One row of index.csv: frame `sequence` is page `page` (0-based) of part `part` (1-based).
struct IndexRow {
  std::uint32_t part = 0;
  std::uint64_t page = 0;
  std::uint64_t sequence = 0;
  std::uint64_t timestamp_ns = 0;      ///< CLOCK_REALTIME ns since the Unix epoch (the ring's)
  std::uint64_t camera_frame_id = 0;   ///< the source's own frame id
  std::uint64_t source_frames_lost = 0;  ///< source frames lost just before this one
  /// The live settings that produced the frame (FrameHeader::settings_generation; docs/http-api.md).
  std::uint32_t settings_generation = 0;
};

/// The CSV line of `row`, with its newline.
[[nodiscard]] std::string format_index_row(const IndexRow& row);

/// index.csv read back: its rows and what was wrong with it (unparsable lines, comments).
struct IndexFile {
  std::vector<IndexRow> rows;
  std::vector<std::string> problems;  ///< "index.csv line 7: ..." for each bad line
  std::vector<std::string> comments;  ///< '#' lines, without the '#'
  bool ends_with_newline = true;
};

/// Reads an index file. Throws framering::Error naming the path when it cannot be opened.
[[nodiscard]] IndexFile read_index(const std::filesystem::path& path);

/// Frames lost between two recorded frames, or just before one.
struct GapRecord {
  std::string cause;           ///< "evicted" (ring loss: sequences) or "source_drop" (camera frame ids)
  std::uint64_t first = 0;     ///< evicted: first lost sequence; source_drop: first lost camera frame id (estimated
                               ///< as camera_frame_id_after - count)
  std::uint64_t last = 0;
  std::uint64_t count = 0;
  std::uint64_t before_sequence = 0;  ///< the recorded frame that follows the gap (source_drop only)
  std::optional<std::uint64_t> camera_frame_id_before;  ///< source_drop: the previous recorded frame's id
  std::uint64_t camera_frame_id_after = 0;             ///< source_drop: the id of the frame after the drop
  /// source_drop: whether first..last are the camera's real ids: the ids before and after are
  /// known and skip exactly `count` (frame_id_gap). False after a camera outage (the camera's
  /// counter restarted: `count` is the producer's estimate from timestamps) or when no frame
  /// came before; then the manifest gives no range, only the count and the timestamps around it.
  bool ids_known = true;
  std::optional<std::uint64_t> timestamp_ns_before;  ///< source_drop: the previous recorded frame's timestamp
  std::uint64_t timestamp_ns_after = 0;              ///< source_drop: the timestamp of the frame after the drop
};

/// Per part file: frames, first and last sequence.
struct PartTally {
  std::uint64_t frames = 0;
  std::uint64_t first_sequence = 0;
  std::uint64_t last_sequence = 0;
};

/// The running account of a recording: what the manifest and `inspect` report. Feed it rows in
/// order. Ring gaps are holes in the sequence (from start_sequence on); source drops come from
/// source_frames_lost. `complete` is true when frames recorded equal frames published in
/// [first_sequence, last_sequence] (source drops are reported, they do not make it incomplete).
class RecordingTally {
 public:
  explicit RecordingTally(std::uint64_t start_sequence) : next_(start_sequence), first_(start_sequence) {}

  /// Adds a row. Returns false (and counts nothing) when its sequence was already recorded:
  /// a frame re-read after a restart.
  bool add(const IndexRow& row);

  [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }
  [[nodiscard]] std::uint64_t next_sequence() const noexcept { return next_; }
  [[nodiscard]] std::uint64_t ring_lost() const noexcept { return ring_lost_; }
  [[nodiscard]] std::uint64_t source_lost() const noexcept { return source_lost_; }
  [[nodiscard]] const std::vector<GapRecord>& gaps() const noexcept { return gaps_; }
  [[nodiscard]] const std::map<std::uint32_t, PartTally>& parts() const noexcept { return parts_; }
  [[nodiscard]] std::optional<IndexRow> last_row() const noexcept { return last_; }
  [[nodiscard]] bool complete() const noexcept { return ring_lost_ == 0; }
  /// Adds the summary keys (first/last sequence, frames_recorded, frames_published, gaps,
  /// complete, ...) to `out`.
  void to_json(nlohmann::json& out) const;

 private:
  std::uint64_t next_;
  std::uint64_t first_;
  std::uint64_t frames_ = 0;
  std::uint64_t ring_lost_ = 0;
  std::uint64_t source_lost_ = 0;
  std::vector<GapRecord> gaps_;
  std::map<std::uint32_t, PartTally> parts_;
  std::optional<IndexRow> last_;
};

/// Who writes the recording: identifies it for a restarted recorder.
struct RecordingIdentity {
  std::string instance;
  std::string ring;
  std::string consumer;
  std::uint64_t segment_id = 0;  ///< SegmentHeader::segment_id: a recreated ring is a new recording
};

struct RecordingSettings {
  std::filesystem::path dest;   ///< folder that holds recordings (created if missing)
  std::string name;             ///< recording folder name; empty: resume an open one, else a new UTC-stamped one
  PageGeometry geometry;
  std::uint64_t max_file_bytes = 0;   ///< rotate before a part exceeds this; 0 = only the classic 4 GiB limit
  std::uint64_t max_file_frames = 0;  ///< rotate after this many pages; 0 = no limit
  bool direct_io = true;
  StagingPolicy staging = StagingPolicy::HugePagesWhenAvailable;  ///< see tiff_stack_writer.hpp
  DataWriteGate data_write_gate;      ///< tests only: passed to every part's TiffStackWriter
};

/// Why a write failed, naming the path; the recording is then closed with this as its stop reason.
struct RecordFailure {
  int error = 0;
  std::string message;  ///< "cannot write /data/x/part-000002.tif (writing page 12): No space left on device"
};

enum class AppendOutcome {
  Recorded,   ///< written and indexed
  Duplicate,  ///< already in the recording (re-read after a restart): not written again
  InFlight,   ///< submit(): being written; a later complete() links and indexes it
};

/// The recorder's side of a recording. One thread calls it (each part's writer has an I/O
/// thread of its own). Not copyable.
///
/// Frame by frame: append(). Overlapped (what `framering record` does): submit() frame n+1, then
/// complete() frame n (its page is linked and its index row written while frame n+1's pixels go
/// to disk), then release frame n to the producer. At most TiffStackWriter::kPagesInFlight frames
/// are in flight; a frame is indexed only after its page is whole and linked, in submit order.
class Recording {
 public:
  /// Creates a new recording, or resumes the open one (no manifest yet) that `identity` left
  /// behind after a crash, found by `settings.name` or by matching recording.json (a folder whose
  /// recording.json is unreadable or damaged is not one). A resumed recording's tally is rebuilt
  /// from its index, and its last part is repaired if a page was linked but not indexed. Throws
  /// framering::Error naming the path on a bad name, a folder that cannot be created or written,
  /// a closed recording of that name, or a named one whose recording.json is damaged
  /// (find_description_problem) or describes other frames.
  Recording(const RecordingSettings& settings, const RecordingIdentity& identity, std::uint64_t start_sequence);
  ~Recording();
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;

  /// Appends one frame (pixels: height rows of stride_bytes; readable_bytes may be read from
  /// pixels, e.g. the slot stride, so that a padded O_DIRECT write needs no copy), rotating
  /// parts as needed, then writes its index row: submit(), then complete() until nothing is in
  /// flight. Returns Recorded or Duplicate, or the failure naming the path.
  [[nodiscard]] std::expected<AppendOutcome, RecordFailure> append(const IndexRow& frame, const std::byte* pixels,
                                                                   std::uint64_t stride_bytes,
                                                                   std::uint64_t readable_bytes) noexcept;

  /// Starts writing one frame (arguments as for append(); the pixels must stay unchanged until
  /// complete() has returned for it). Returns Duplicate (nothing started) when its sequence is
  /// at or before the last one submitted, else InFlight. A frame that needs a new part first
  /// completes every frame in flight (so a part is closed only whole and indexed): in_flight()
  /// tells the caller which frames are indexed. Requires in_flight() < kPagesInFlight (checked:
  /// a broken invariant aborts). On failure every frame in flight is abandoned (not indexed).
  [[nodiscard]] std::expected<AppendOutcome, RecordFailure> submit(const IndexRow& frame, const std::byte* pixels,
                                                                   std::uint64_t stride_bytes,
                                                                   std::uint64_t readable_bytes) noexcept;

  /// Waits until the oldest frame in flight is written whole, links its page and writes its
  /// index row: the caller may then release it. On failure every frame in flight is abandoned
  /// (none of them indexed; the part cut back to its last complete page). Requires in_flight() > 0.
  [[nodiscard]] std::expected<void, RecordFailure> complete() noexcept;

  /// Frames submitted and not yet indexed: the newest in_flight() frames the caller submitted.
  [[nodiscard]] std::size_t in_flight() const noexcept { return in_flight_count_; }

  /// Closes the part (frames still in flight are cut off, not indexed: complete() them first),
  /// writes manifest.json with `stop` (reason, message) and returns it. When the
  /// manifest cannot be written, appends a '#' line to the index saying where the recording
  /// stopped and puts "manifest_error" in the returned JSON.
  nlohmann::json close(const nlohmann::json& stop);

  [[nodiscard]] const std::filesystem::path& folder() const noexcept { return folder_; }
  [[nodiscard]] bool resumed() const noexcept { return resumed_; }
  [[nodiscard]] const RecordingTally& tally() const noexcept { return tally_; }
  [[nodiscard]] std::uint64_t bytes_written() const noexcept { return bytes_written_; }

 private:
  void create(const RecordingSettings& settings, std::uint64_t start_sequence);
  void resume();
  [[nodiscard]] std::expected<void, RecordFailure> rotate() noexcept;
  [[nodiscard]] std::expected<void, RecordFailure> write_index(const IndexRow& row) noexcept;
  [[nodiscard]] RecordFailure part_failure(const WriteFailure& failure) const;

  RecordingSettings settings_;
  RecordingIdentity identity_;
  std::filesystem::path folder_;
  nlohmann::json description_;  ///< recording.json
  RecordingTally tally_{0};
  std::unique_ptr<TiffStackWriter> part_;
  std::uint32_t part_number_ = 0;
  IndexRow in_flight_[TiffStackWriter::kPagesInFlight];  ///< oldest first, part and page filled in
  std::size_t in_flight_count_ = 0;
  int index_fd_ = -1;
  bool resumed_ = false;
  bool closed_ = false;
  bool told_write_path_ = false;  ///< the write path (staged or from the caller's buffers) was logged
  std::uint32_t sessions_ = 1;
  std::uint64_t bytes_written_ = 0;
};

}  // namespace framering::record
