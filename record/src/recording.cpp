// recording.cpp: the recording folder, its index and its manifest (see the header).
#include "framering/record/recording.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <span>
#include <sstream>
#include <system_error>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framering/common/camera_frame_id.hpp"
#include "framering/common/error.hpp"

namespace framering::record {
namespace {

namespace fs = std::filesystem;

std::string utc_now(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char text[64];
  std::strftime(text, sizeof text, format, &tm);
  return text;
}

void validate_recording_name(const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 200 && name.front() != '.' &&
                  std::all_of(name.begin(), name.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                           c == '-' || c == '.';
                  });
  if (!ok) {
    throw ConfigError(fmt::format("--recording '{}' is not a valid recording name: expected 1-200 characters of "
                                  "[A-Za-z0-9._-], not starting with '.' (it names a folder inside --dest)",
                                  name));
  }
}

// Writes `text` to `path` through a temporary file and a rename, so that a reader never sees half.
bool write_atomically(const fs::path& path, const std::string& text, std::string& error) {
  const fs::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = fmt::format("cannot create {}: {}", tmp.string(), errno_text(errno));
    return false;
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = fmt::format("cannot write {}: {}", tmp.string(), errno_text(n < 0 ? errno : ENOSPC));
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    error = fmt::format("cannot write {}: {}", tmp.string(), errno_text(errno));
    ::unlink(tmp.c_str());
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    error = fmt::format("cannot rename {} to {}: {}", tmp.string(), path.string(), errno_text(errno));
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

// `j` as a file's text: indented, with a final newline. Messages in it quote paths, which may be
// any bytes: what is not UTF-8 becomes U+FFFD rather than an exception.
std::string json_text(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(fmt::format("cannot read {}: {}", path.string(), errno_text(errno)));
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{} is not valid JSON: {}", path.string(), e.what()));
  }
}

bool parse_u64(std::string_view text, std::uint64_t& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

const char* json_type_name(const nlohmann::json& j) {
  if (j.is_number_unsigned()) return "an unsigned integer";
  if (j.is_number_integer()) return "a negative integer";
  if (j.is_number_float()) return "a fraction";
  if (j.is_string()) return "a string";
  if (j.is_object()) return "an object";
  if (j.is_array()) return "an array";
  if (j.is_boolean()) return "a boolean";
  return "null";
}

}  // namespace

std::optional<std::string> find_description_problem(const nlohmann::json& description) {
  enum class Kind { String, Unsigned, Object };
  struct Key {
    const char* name;
    Kind kind;
  };
  static constexpr Key kTop[] = {{"format", Kind::String},         {"version", Kind::Unsigned},
                                 {"instance", Kind::String},       {"ring", Kind::String},
                                 {"consumer", Kind::String},       {"segment_id", Kind::Unsigned},
                                 {"geometry", Kind::Object},       {"tiff", Kind::String},
                                 {"start_sequence", Kind::Unsigned}, {"frames_recorded", Kind::Unsigned},
                                 {"sessions", Kind::Unsigned},     {"stop", Kind::Object}};
  static constexpr Key kGeometry[] = {{"width", Kind::Unsigned},
                                      {"height", Kind::Unsigned},
                                      {"pixel_format", Kind::String},
                                      {"bits_per_sample", Kind::Unsigned},
                                      {"dtype", Kind::String},
                                      {"samples_per_pixel", Kind::Unsigned},
                                      {"cfa_pattern", Kind::String}};
  static constexpr Key kStop[] = {{"reason", Kind::String}, {"message", Kind::String}};
  const auto check = [](const nlohmann::json& object, std::span<const Key> keys,
                        const std::string& prefix) -> std::optional<std::string> {
    for (const Key& key : keys) {
      const auto it = object.find(key.name);
      if (it == object.end()) continue;
      const bool ok = key.kind == Kind::String     ? it->is_string()
                      : key.kind == Kind::Unsigned ? it->is_number_unsigned()
                                                   : it->is_object();
      if (!ok) {
        return fmt::format("{}{} is {}, expected {}", prefix, key.name, json_type_name(*it),
                           key.kind == Kind::String     ? "a string"
                           : key.kind == Kind::Unsigned ? "an unsigned integer"
                                                        : "an object");
      }
    }
    return std::nullopt;
  };
  if (!description.is_object()) return fmt::format("is {}, expected a JSON object", json_type_name(description));
  if (auto problem = check(description, kTop, "")) return problem;
  if (auto it = description.find("geometry"); it != description.end()) {
    if (auto problem = check(*it, kGeometry, "geometry.")) return problem;
  }
  if (auto it = description.find("stop"); it != description.end()) {
    if (auto problem = check(*it, kStop, "stop.")) return problem;
  }
  return std::nullopt;
}

void validate_destination(const fs::path& dest, const std::string& name) {
  if (dest.empty()) throw ConfigError("--dest is empty: give the folder that holds recordings");
  std::error_code ec;
  if (fs::exists(dest, ec) && !fs::is_directory(dest, ec)) {
    throw ConfigError(fmt::format("--dest {} exists and is not a folder", dest.string()));
  }
  if (!name.empty()) validate_recording_name(name);
}

std::string part_file_name(std::uint32_t part) { return fmt::format("part-{:06d}.tif", part); }

std::string format_index_row(const IndexRow& r) {
  return fmt::format("{},{},{},{},{},{},{}\n", r.part, r.page, r.sequence, r.timestamp_ns, r.camera_frame_id,
                     r.source_frames_lost, r.settings_generation);
}

IndexFile read_index(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot read index {}: {}", path.string(), errno_text(errno)));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  IndexFile index;
  index.ends_with_newline = text.empty() || text.back() == '\n';
  std::istringstream lines(text);
  std::string line;
  std::uint64_t number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (line.empty()) continue;
    if (line.front() == '#') {
      index.comments.push_back(line.substr(1));
      continue;
    }
    if (number == 1 && (line == kIndexHeader || line == kIndexHeaderV1)) continue;
    // Seven columns; six in recordings made before the settings generation (generation 0).
    std::uint64_t v[7] = {};
    std::size_t field = 0;
    std::size_t start = 0;
    bool ok = true;
    while (ok && field < 7) {
      const std::size_t comma = line.find(',', start);
      const std::string_view item =
          std::string_view(line).substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      ok = parse_u64(item, v[field]);
      ++field;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (!ok || field < 6 || v[0] == 0 || v[0] > UINT32_MAX || v[6] > UINT32_MAX) {
      index.problems.push_back(fmt::format("{} line {}: '{}' is not part,page,sequence,timestamp_ns,"
                                           "camera_frame_id,source_frames_lost[,settings_generation]",
                                           path.filename().string(), number, line.substr(0, 120)));
      continue;
    }
    index.rows.push_back({static_cast<std::uint32_t>(v[0]), v[1], v[2], v[3], v[4], v[5], static_cast<std::uint32_t>(v[6])});
  }
  return index;
}

bool RecordingTally::add(const IndexRow& row) {
  if (last_ && row.sequence <= last_->sequence) return false;
  if (row.sequence > next_) {
    ring_lost_ += row.sequence - next_;
    gaps_.push_back({"evicted", next_, row.sequence - 1, row.sequence - next_, 0, std::nullopt, 0});
  }
  if (row.source_frames_lost > 0) {
    source_lost_ += row.source_frames_lost;
    GapRecord g;
    g.cause = "source_drop";
    g.count = row.source_frames_lost;
    g.before_sequence = row.sequence;
    g.camera_frame_id_after = row.camera_frame_id;
    g.timestamp_ns_after = row.timestamp_ns;
    if (last_) {
      g.camera_frame_id_before = last_->camera_frame_id;
      g.timestamp_ns_before = last_->timestamp_ns;
    }
    g.ids_known = last_ && frame_id_gap(last_->camera_frame_id, row.camera_frame_id) == g.count;
    if (g.ids_known) {  // the ids right after the one before, wrapping as the camera's do
      g.first = last_->camera_frame_id == kMaxShortFrameId ? 1 : last_->camera_frame_id + 1;
      g.last = row.camera_frame_id > 1 || last_->camera_frame_id > kMaxShortFrameId ? row.camera_frame_id - 1
                                                                                  : kMaxShortFrameId;
    }
    gaps_.push_back(g);
  }
  PartTally& part = parts_[row.part];
  if (part.frames == 0) part.first_sequence = row.sequence;
  part.last_sequence = row.sequence;
  ++part.frames;
  ++frames_;
  next_ = row.sequence + 1;
  last_ = row;
  return true;
}

void RecordingTally::to_json(nlohmann::json& out) const {
  nlohmann::json gaps = nlohmann::json::array();
  for (const GapRecord& g : gaps_) {
    nlohmann::json j = {{"range", {g.first, g.last}}, {"first", g.first}, {"last", g.last}, {"count", g.count},
                        {"cause", g.cause}};
    if (g.cause == "source_drop") {
      j["unit"] = "camera_frame_id";
      j["ids_known"] = g.ids_known;
      if (!g.ids_known) j["range"] = j["first"] = j["last"] = nullptr;  // an estimate: no ids to name
      j["before_sequence"] = g.before_sequence;
      j["camera_frame_id_before"] = g.camera_frame_id_before ? nlohmann::json(*g.camera_frame_id_before) : nullptr;
      j["camera_frame_id_after"] = g.camera_frame_id_after;
      j["timestamp_ns_before"] = g.timestamp_ns_before ? nlohmann::json(*g.timestamp_ns_before) : nullptr;
      j["timestamp_ns_after"] = g.timestamp_ns_after;
    } else {
      j["unit"] = "sequence";
    }
    gaps.push_back(j);
  }
  // The span runs from the first frame the recording wanted to the last one it got.
  out["first_sequence"] = last_ ? nlohmann::json(first_) : nullptr;
  out["last_sequence"] = last_ ? nlohmann::json(last_->sequence) : nullptr;
  out["frames_recorded"] = frames_;
  out["frames_published"] = last_ ? last_->sequence - first_ + 1 : 0;
  out["frames_lost"] = ring_lost_;
  out["source_frames_lost"] = source_lost_;
  out["gaps"] = gaps;
  out["complete"] = complete();
}

Recording::Recording(const RecordingSettings& settings, const RecordingIdentity& identity, std::uint64_t start_sequence)
    : settings_(settings), identity_(identity) {
  validate_destination(settings_.dest, settings_.name);
  std::error_code ec;
  fs::create_directories(settings_.dest, ec);
  if (ec) throw Error(fmt::format("cannot create the destination folder {}: {}", settings_.dest.string(), ec.message()));

  // An open recording to resume: the named one, or the newest that this consumer of this very
  // segment left without a manifest.
  std::optional<fs::path> open;
  if (!settings_.name.empty()) {
    const fs::path named = settings_.dest / settings_.name;
    if (fs::exists(named / kManifestFile, ec)) {
      throw ConfigError(fmt::format("recording {} is closed (it has a {}); give another --recording name",
                                    named.string(), kManifestFile));
    }
    if (fs::exists(named / kRecordingFile, ec)) open = named;
  } else {
    for (const auto& entry : fs::directory_iterator(settings_.dest, ec)) {
      if (!entry.is_directory() || !fs::exists(entry.path() / kRecordingFile) || fs::exists(entry.path() / kManifestFile)) {
        continue;
      }
      nlohmann::json d;
      try {
        d = read_json(entry.path() / kRecordingFile);
      } catch (const Error&) {
        continue;
      }
      if (find_description_problem(d)) continue;  // not one this recorder can have left
      if (d.value("instance", "") == identity_.instance && d.value("ring", "") == identity_.ring &&
          d.value("consumer", "") == identity_.consumer && d.value("segment_id", std::uint64_t{0}) == identity_.segment_id &&
          (!open || entry.path().filename() > open->filename())) {
        open = entry.path();
      }
    }
  }
  if (open) {
    folder_ = *open;
    resume();
  } else {
    folder_ = settings_.dest / (settings_.name.empty() ? fmt::format("{}_{}", utc_now("%Y%m%dT%H%M%SZ"), identity_.ring)
                                                       : settings_.name);
    for (int k = 2; settings_.name.empty() && fs::exists(folder_, ec); ++k) {  // two starts in one second
      folder_ = settings_.dest / fmt::format("{}_{}-{}", utc_now("%Y%m%dT%H%M%SZ"), identity_.ring, k);
    }
    create(settings_, start_sequence);
  }
}

Recording::~Recording() {
  if (!closed_) {
    try {
      (void)close({{"reason", "abandoned"}});
    } catch (...) {  // a destructor must not throw; close() already logged
    }
  }
  if (index_fd_ >= 0) ::close(index_fd_);
}

void Recording::create(const RecordingSettings& s, std::uint64_t start_sequence) {
  std::error_code ec;
  fs::create_directory(folder_, ec);
  if (ec) throw Error(fmt::format("cannot create the recording folder {}: {}", folder_.string(), ec.message()));
  description_ = {{"format", "framering-recording"},
                  {"version", 1},
                  {"instance", identity_.instance},
                  {"ring", identity_.ring},
                  {"consumer", identity_.consumer},
                  {"segment_id", identity_.segment_id},
                  {"geometry",
                   {{"width", s.geometry.frame.width},
                    {"height", s.geometry.frame.height},
                    {"pixel_format", std::string(to_string(s.geometry.frame.pixel_format))},
                    {"bits_per_sample", s.geometry.bits_per_sample()},
                    {"dtype", s.geometry.bits_per_sample() == 8 ? "uint8" : "uint16"},
                    {"samples_per_pixel", s.geometry.samples_per_pixel()},
                    {"cfa_pattern", std::string(cfa_pattern(s.geometry.frame.pixel_format))}}},
                  {"tiff", s.geometry.bigtiff ? "bigtiff" : "classic"},
                  {"start_sequence", start_sequence},
                  {"created_utc", utc_now("%Y-%m-%dT%H:%M:%SZ")}};
  std::string error;
  if (!write_atomically(folder_ / kRecordingFile, json_text(description_), error)) throw Error(error);
  const fs::path index = folder_ / kIndexFile;
  index_fd_ = ::open(index.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (index_fd_ < 0) throw Error(fmt::format("cannot create {}: {}", index.string(), errno_text(errno)));
  const std::string header = std::string(kIndexHeader) + "\n";
  if (::write(index_fd_, header.data(), header.size()) != static_cast<ssize_t>(header.size())) {
    throw Error(fmt::format("cannot write {}: {}", index.string(), errno_text(errno)));
  }
  tally_ = RecordingTally(start_sequence);
  spdlog::info("recording into {} ({} TIFF, {}x{} {})", folder_.string(), s.geometry.bigtiff ? "BigTIFF" : "classic",
               s.geometry.frame.width, s.geometry.frame.height, to_string(s.geometry.frame.pixel_format));
}

void Recording::resume() {
  description_ = read_json(folder_ / kRecordingFile);
  if (auto problem = find_description_problem(description_)) {
    throw ConfigError(fmt::format("cannot resume recording {}: its {} {} (damaged: give another --recording name)",
                                  folder_.string(), kRecordingFile, *problem));
  }
  const nlohmann::json g = description_.value("geometry", nlohmann::json::object());
  const PageGeometry& want = settings_.geometry;
  if (g.value("width", 0U) != want.frame.width || g.value("height", 0U) != want.frame.height ||
      g.value("pixel_format", "") != to_string(want.frame.pixel_format) ||
      (description_.value("tiff", "") == "bigtiff") != want.bigtiff) {
    throw ConfigError(fmt::format("cannot resume recording {}: it holds {}x{} {} {} TIFF, the ring and options give "
                                  "{}x{} {} {} TIFF",
                                  folder_.string(), g.value("width", 0U), g.value("height", 0U),
                                  g.value("pixel_format", "?"), description_.value("tiff", "?"), want.frame.width,
                                  want.frame.height, to_string(want.frame.pixel_format),
                                  want.bigtiff ? "bigtiff" : "classic"));
  }
  const fs::path index_path = folder_ / kIndexFile;
  const IndexFile index = read_index(index_path);
  tally_ = RecordingTally(description_.value("start_sequence", std::uint64_t{0}));
  for (const auto& row : index.rows) (void)tally_.add(row);
  for (const auto& c : index.comments) {
    if (c.find("resumed") != std::string::npos) ++sessions_;
  }
  ++sessions_;
  std::uint32_t last_part = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder_, ec)) {
    unsigned n = 0;
    if (std::sscanf(entry.path().filename().c_str(), "part-%u.tif", &n) == 1) last_part = std::max(last_part, n);
  }
  // Repair: a page the killed recorder linked but did not index is cut off (the ring still holds
  // that frame: the resumed cursor reads it again into the new part).
  if (last_part > 0) {
    const auto parts = tally_.parts();
    const auto it = parts.find(last_part);
    const std::uint64_t indexed = it == parts.end() ? 0 : it->second.frames;
    const fs::path last_path = folder_ / part_file_name(last_part);
    const auto size = fs::file_size(last_path, ec);
    if (!ec && indexed > 0 && size > indexed * want.page_bytes()) {
      const auto cut = cut_tiff_stack(last_path, want, indexed);
      const std::string outcome = cut ? std::string{"cut the unindexed tail"}
                                      : fmt::format("could not cut the unindexed tail ({}: {})", cut.error().what,
                                                    errno_text(cut.error().error));
      spdlog::warn("{}: {} after its {} indexed page(s) (a crash between writing and indexing a frame)",
                   last_path.string(), outcome, indexed);
    } else if (!ec && indexed == 0) {
      fs::remove(last_path, ec);  // not one complete indexed page: nothing to keep
      spdlog::warn("{}: removed (no indexed page)", last_path.string());
    }
  }
  part_number_ = last_part;
  index_fd_ = ::open(index_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (index_fd_ < 0) throw Error(fmt::format("cannot open {} to append: {}", index_path.string(), errno_text(errno)));
  const std::string note = fmt::format("{}# resumed at sequence {} (session {}) {}\n", index.ends_with_newline ? "" : "\n",
                                       tally_.next_sequence(), sessions_, utc_now("%Y-%m-%dT%H:%M:%SZ"));
  if (::write(index_fd_, note.data(), note.size()) != static_cast<ssize_t>(note.size())) {
    throw Error(fmt::format("cannot write {}: {}", index_path.string(), errno_text(errno)));
  }
  resumed_ = true;
  spdlog::info("resuming recording {}: {} frames in {} part(s) so far, next sequence {}", folder_.string(),
               tally_.frames(), last_part, tally_.next_sequence());
}

std::expected<void, RecordFailure> Recording::rotate() noexcept {
  if (part_) {
    const fs::path path = part_->path();
    const std::uint64_t pages = part_->pages();
    if (auto closed = part_->close(); !closed) {
      return std::unexpected(RecordFailure{closed.error().error, fmt::format("cannot close {} ({}): {}", path.string(),
                                                                             closed.error().what,
                                                                             errno_text(closed.error().error))});
    }
    spdlog::info("closed {} ({} frames)", path.string(), pages);
    part_.reset();
  }
  const fs::path path = folder_ / part_file_name(part_number_ + 1);
  try {
    part_ = std::make_unique<TiffStackWriter>(path, settings_.geometry, settings_.direct_io, settings_.staging,
                                              settings_.data_write_gate);
  } catch (const Error& e) {
    return std::unexpected(RecordFailure{errno, e.what()});
  } catch (const std::bad_alloc&) {
    return std::unexpected(RecordFailure{ENOMEM, fmt::format("cannot allocate buffers for {}", path.string())});
  }
  ++part_number_;
  if (!told_write_path_) {
    told_write_path_ = true;
    spdlog::info("{}: {}", path.string(),
                 !part_->direct_io()           ? "buffered writes (no O_DIRECT)"
                 : part_->stages_in_huge_pages() ? "O_DIRECT from huge-page staging buffers (each frame copied once)"
                                                 : "O_DIRECT straight from the frames' buffers (no copy)");
  }
  return {};
}

std::expected<void, RecordFailure> Recording::write_index(const IndexRow& row) noexcept {
  const std::string line = format_index_row(row);
  const ssize_t n = ::write(index_fd_, line.data(), line.size());
  if (n == static_cast<ssize_t>(line.size())) return {};
  const int error = n < 0 ? errno : ENOSPC;
  if (n > 0) (void)::ftruncate(index_fd_, static_cast<off_t>(::lseek(index_fd_, 0, SEEK_END) - n));  // no half row
  return std::unexpected(RecordFailure{error, fmt::format("cannot write the index {}: {}",
                                                          (folder_ / kIndexFile).string(), errno_text(error))});
}

RecordFailure Recording::part_failure(const WriteFailure& failure) const {
  return RecordFailure{failure.error, fmt::format("cannot write {} ({}): {}", part_->path().string(), failure.what,
                                                  errno_text(failure.error))};
}

std::expected<AppendOutcome, RecordFailure> Recording::append(const IndexRow& frame, const std::byte* pixels,
                                                              std::uint64_t stride_bytes,
                                                              std::uint64_t readable_bytes) noexcept {
  auto submitted = submit(frame, pixels, stride_bytes, readable_bytes);
  if (!submitted || *submitted == AppendOutcome::Duplicate) return submitted;
  while (in_flight() > 0) {
    if (auto completed = complete(); !completed) return std::unexpected(completed.error());
  }
  return AppendOutcome::Recorded;
}

std::expected<AppendOutcome, RecordFailure> Recording::submit(const IndexRow& frame, const std::byte* pixels,
                                                              std::uint64_t stride_bytes,
                                                              std::uint64_t readable_bytes) noexcept {
  const std::optional<IndexRow> last = in_flight_count_ > 0 ? in_flight_[in_flight_count_ - 1] : tally_.last_row();
  if (last && frame.sequence <= last->sequence) return AppendOutcome::Duplicate;
  if (in_flight_count_ >= TiffStackWriter::kPagesInFlight) {
    spdlog::critical("{}: Recording::submit() with {} frames in flight (a bug in the caller)", folder_.string(),
                     in_flight_count_);
    std::abort();
  }
  if (!part_ || !part_->fits_another_page(settings_.max_file_bytes) ||
      (settings_.max_file_frames > 0 && part_->pages() + part_->in_flight() >= settings_.max_file_frames)) {
    // A part is closed only once every frame in it is whole, linked and indexed: a crash never
    // leaves an unindexed page in any part but the last (the one resume() repairs).
    while (in_flight() > 0) {
      if (auto completed = complete(); !completed) return std::unexpected(completed.error());
    }
    if (auto rotated = rotate(); !rotated) return std::unexpected(rotated.error());
  }
  IndexRow row = frame;
  row.part = part_number_;
  row.page = part_->pages() + part_->in_flight();
  if (auto submitted = part_->submit(pixels, stride_bytes, readable_bytes); !submitted) {
    in_flight_count_ = 0;  // the writer abandoned them
    return std::unexpected(part_failure(submitted.error()));
  }
  in_flight_[in_flight_count_++] = row;
  return AppendOutcome::InFlight;
}

std::expected<void, RecordFailure> Recording::complete() noexcept {
  if (in_flight_count_ == 0) {
    spdlog::critical("{}: Recording::complete() with no frame in flight (a bug in the caller)", folder_.string());
    std::abort();
  }
  if (auto written = part_->complete(); !written) {
    in_flight_count_ = 0;  // the writer abandoned them: none is linked, none gets a row
    return std::unexpected(part_failure(written.error()));
  }
  const IndexRow row = in_flight_[0];
  for (std::size_t k = 1; k < in_flight_count_; ++k) in_flight_[k - 1] = in_flight_[k];
  --in_flight_count_;
  bytes_written_ += settings_.geometry.page_bytes();
  if (auto indexed = write_index(row); !indexed) return std::unexpected(indexed.error());
  (void)tally_.add(row);
  return {};
}

nlohmann::json Recording::close(const nlohmann::json& stop) {
  closed_ = true;
  nlohmann::json manifest = description_;
  manifest["closed_utc"] = utc_now("%Y-%m-%dT%H:%M:%SZ");
  manifest["sessions"] = sessions_;
  nlohmann::json close_error = nullptr;
  in_flight_count_ = 0;  // TiffStackWriter::close() cuts their pages off: never indexed
  if (part_) {
    const fs::path path = part_->path();
    if (auto closed = part_->close(); !closed) {
      close_error = fmt::format("closing {} ({}): {}", path.string(), closed.error().what, errno_text(closed.error().error));
      spdlog::error("{}", close_error.get<std::string>());
    }
    part_.reset();
  }
  nlohmann::json files = nlohmann::json::array();
  for (const auto& [part, t] : tally_.parts()) {
    files.push_back({{"file", part_file_name(part)}, {"frames", t.frames}, {"first_sequence", t.first_sequence},
                     {"last_sequence", t.last_sequence}});
  }
  manifest["files"] = files;
  manifest["index"] = kIndexFile;
  tally_.to_json(manifest);
  manifest["stop"] = stop;
  if (!close_error.is_null()) manifest["stop"]["close_error"] = close_error;
  // A recording that stopped on an error may end before frames its producer published went on:
  // nobody can count those from here, so it is never complete (docs/stages.md, "Stops").
  if (stop.value("reason", "") == "error" || !close_error.is_null()) manifest["complete"] = false;
  std::string error;
  if (!write_atomically(folder_ / kManifestFile, json_text(manifest), error)) {
    spdlog::error("{}; the index says where the recording stopped", error);
    const std::string line = fmt::format("# stopped: {} after sequence {}: {}\n", stop.value("reason", "?"),
                                         tally_.last_row() ? std::to_string(tally_.last_row()->sequence) : "none",
                                         stop.value("message", ""));
    if (index_fd_ >= 0 && ::write(index_fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      spdlog::error("cannot write where the recording stopped to {} either", (folder_ / kIndexFile).string());
    }
    manifest["manifest_error"] = error;
  }
  if (index_fd_ >= 0) {
    ::fsync(index_fd_);
    ::close(index_fd_);
    index_fd_ = -1;
  }
  return manifest;
}

}  // namespace framering::record
