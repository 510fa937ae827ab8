#include "framering/common/segment.hpp"

#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string_view>
#include <thread>

#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framering/common/clock.hpp"
#include "framering/common/error.hpp"
#include "framering/common/process_identity.hpp"

namespace framering::ring {

namespace bip = boost::interprocess;

struct Segment::Mapping {
  bip::shared_memory_object object;
  bip::mapped_region region;
};

namespace {

constexpr std::string_view kPrefix = "framering.";
constexpr std::size_t kMaxNamePart = 47;

constexpr std::string_view kShmDirectory = "/dev/shm";

std::string shm_path(const std::string& name) { return fmt::format("{}/{}", kShmDirectory, name); }

// "<instance>.<ring>" of every segment file, in directory order.
std::vector<std::string> segment_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(kShmDirectory, ec)) {
    const std::string file = entry.path().filename().string();
    if (file.starts_with(kPrefix) && file.size() > kPrefix.size()) names.push_back(file.substr(kPrefix.size()));
  }
  return names;
}

// Translates a Boost.Interprocess failure at our boundary into a SegmentError with context.
[[noreturn]] void throw_segment_error(const std::string& what, const std::string& name,
                                      const bip::interprocess_exception& e) {
  const int native = e.get_native_error();
  std::string detail = native != 0 ? errno_text(native) : std::string{e.what()};
  std::string hint;
  if (e.get_error_code() == bip::not_found_error || native == ENOENT) {
    hint = " (no producer has created it: start `framering acquire` or `framering run` first)";
  } else if (e.get_error_code() == bip::security_error || native == EACCES || native == EPERM) {
    hint = " (segments are private to the user that created them unless created with group access)";
  }
  throw SegmentError(fmt::format("{} ring segment {}: {}{}", what, shm_path(name), detail, hint));
}

std::string geometry_text(std::uint32_t width, std::uint32_t height, std::uint32_t pixel_format,
                          std::uint64_t stride, std::uint32_t slots) {
  return fmt::format("{}x{} {} (PFNC 0x{:08x}) stride {} B, {} slots", width, height,
                     to_string(static_cast<PixelFormat>(pixel_format)), pixel_format, stride, slots);
}

// The geometry a header records, as given (validate_header checks it).
RingGeometry geometry_of(const SegmentHeader& h) noexcept {
  return RingGeometry{.frame = {.width = h.width,
                                .height = h.height,
                                .pixel_format = static_cast<PixelFormat>(h.pixel_format),
                                .stride_bytes = h.stride_bytes},
                      .slot_count = h.slot_count,
                      .max_consumers = h.max_consumers};
}

// Opens segment `name` read-write once it exists and is at least a header long, polling every
// 20 ms until `deadline_ns` (CLOCK_MONOTONIC); stores its size in `size_bytes`. Between the
// creator's shm_open and ftruncate the segment is 0 bytes long: a creator at work within the
// deadline, a truncated segment after it. Throws SegmentError when it is missing at the
// deadline, cannot be opened (permissions: at once), or is still shorter than a header.
bip::shared_memory_object open_when_sized(const std::string& name, std::uint64_t deadline_ns,
                                          std::uint64_t& size_bytes) {
  for (;;) {
    try {
      bip::shared_memory_object object(bip::open_only, name.c_str(), bip::read_write);
      bip::offset_t size = 0;
      const bool sized = object.get_size(size);
      size_bytes = static_cast<std::uint64_t>(size);
      if (sized && size >= static_cast<bip::offset_t>(sizeof(SegmentHeader))) return object;
      if (monotonic_ns() >= deadline_ns) {
        throw SegmentError(fmt::format("ring segment {} is truncated: {} B, smaller than its {} B header "
                                       "(a crashed or foreign creator; `framering status --remove-stale` removes it)",
                                       shm_path(name), size, sizeof(SegmentHeader)));
      }
    } catch (const bip::interprocess_exception& e) {
      const bool missing = e.get_error_code() == bip::not_found_error || e.get_native_error() == ENOENT;
      if (!missing || monotonic_ns() >= deadline_ns) throw_segment_error("cannot open", name, e);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{20});  // polling for a file to appear
  }
}

// A private copy of a mapped header to validate. Waits, polling every 5 ms until `deadline_ns`,
// while its magic is 0 (the creator is still filling it in). Once the magic load (acquire:
// pairs with the release store of magic in Segment::create) sees kMagic, everything the creator
// wrote is visible and immutable: the whole header is copied. Otherwise only the magic is,
// which is all that validate_header reads of such a header.
SegmentHeader copy_when_published(const SegmentHeader& mapped, std::uint64_t deadline_ns) {
  std::uint64_t magic = at(mapped.magic).load(std::memory_order_acquire);
  while (magic == 0 && monotonic_ns() < deadline_ns) {
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
    magic = at(mapped.magic).load(std::memory_order_acquire);
  }
  SegmentHeader copy{};
  if (magic == kMagic) std::memcpy(&copy, &mapped, sizeof copy);
  copy.magic = magic;
  return copy;
}

}  // namespace

std::string describe_header(const SegmentHeader& header) {
  return geometry_text(header.width, header.height, header.pixel_format, header.stride_bytes,
                       header.slot_count);
}

namespace {

// The first field of a magic-and-version-checked header that disagrees with what its own
// geometry gives, as "<field> is <recorded>, <geometry> gives <recomputed>"; nullopt when none
// does. Every offset the accessors follow is recomputed here, so none is trusted.
std::optional<std::string> find_inconsistency(const SegmentHeader& h) {
  if (!is_known_pixel_format(h.pixel_format)) {
    return fmt::format("pixel_format 0x{:08x} is not a PFNC format this framering knows", h.pixel_format);
  }
  if (h.max_consumers < 1 || h.max_consumers > kMaxConsumers) {
    return fmt::format("max_consumers is {}, expected 1..{}", h.max_consumers, kMaxConsumers);
  }
  const RingGeometry recorded = geometry_of(h);
  try {
    recorded.validate();
  } catch (const ConfigError& e) {
    return std::string{e.what()};
  }
  const auto differs = [](std::string_view field, std::uint64_t recorded_value, std::uint64_t recomputed,
                          std::string_view from) -> std::optional<std::string> {
    if (recorded_value == recomputed) return std::nullopt;
    return fmt::format("{} is {}, {} gives {}", field, recorded_value, from, recomputed);
  };
  const std::uint32_t format_bytes_per_pixel = bytes_per_pixel(recorded.frame.pixel_format);
  if (auto d = differs("bytes_per_pixel", h.bytes_per_pixel, format_bytes_per_pixel, "its pixel format")) return d;
  if (h.samples_per_pixel != 0) {  // 0: written before the field existed
    if (auto d = differs("samples_per_pixel", h.samples_per_pixel, samples_per_pixel(recorded.frame.pixel_format),
                         "its pixel format")) {
      return d;
    }
  }
  const std::uint64_t min_stride = std::uint64_t{h.width} * format_bytes_per_pixel;
  if (h.stride_bytes < min_stride) {
    return fmt::format("stride_bytes is {}, below width x bytes_per_pixel = {}", h.stride_bytes, min_stride);
  }
  if (auto d = differs("frame_bytes", h.frame_bytes, recorded.frame_bytes(), "stride_bytes x height")) return d;
  if (h.slot_alignment_bytes != kPageBytes) {
    return fmt::format("slot_alignment_bytes is {}, expected {}", h.slot_alignment_bytes, kPageBytes);
  }
  const SegmentLayout layout = compute_layout(recorded);
  constexpr std::string_view kFromGeometry = "its geometry";
  if (auto d = differs("control_offset", h.control_offset, layout.control_offset, kFromGeometry)) return d;
  if (auto d = differs("consumers_offset", h.consumers_offset, layout.consumers_offset, kFromGeometry)) return d;
  if (auto d = differs("frame_headers_offset", h.frame_headers_offset, layout.frame_headers_offset, kFromGeometry)) {
    return d;
  }
  if (auto d = differs("slots_offset", h.slots_offset, layout.slots_offset, kFromGeometry)) return d;
  if (auto d = differs("slot_stride_bytes", h.slot_stride_bytes, layout.slot_stride_bytes, kFromGeometry)) return d;
  if (auto d = differs("segment_bytes", h.segment_bytes, layout.segment_bytes, kFromGeometry)) return d;
  return std::nullopt;
}

}  // namespace

SegmentHeader make_segment_header(const RingGeometry& geometry) noexcept {
  const SegmentLayout layout = compute_layout(geometry);
  SegmentHeader h{};
  h.magic = kMagic;
  h.layout_version = kLayoutVersion;
  h.header_bytes = sizeof(SegmentHeader);
  h.segment_bytes = layout.segment_bytes;
  const FrameShape& frame = geometry.frame;
  h.width = frame.width;
  h.height = frame.height;
  h.pixel_format = static_cast<std::uint32_t>(frame.pixel_format);
  h.bytes_per_pixel = bytes_per_pixel(frame.pixel_format);
  h.samples_per_pixel = samples_per_pixel(frame.pixel_format);
  const auto format_name = to_string(frame.pixel_format);
  std::memcpy(h.pixel_format_name, format_name.data(), std::min(format_name.size(), sizeof h.pixel_format_name - 1));
  h.stride_bytes = geometry.row_stride_bytes();
  h.frame_bytes = geometry.frame_bytes();
  h.slot_count = geometry.slot_count;
  h.max_consumers = geometry.max_consumers;
  h.slot_stride_bytes = layout.slot_stride_bytes;
  h.slot_alignment_bytes = kPageBytes;
  h.control_offset = layout.control_offset;
  h.consumers_offset = layout.consumers_offset;
  h.frame_headers_offset = layout.frame_headers_offset;
  h.slots_offset = layout.slots_offset;
  h.consumer_entry_bytes = sizeof(ConsumerEntry);
  h.frame_header_bytes = sizeof(FrameHeader);
  return h;
}

std::expected<void, HeaderError> validate_header(std::span<const std::byte> bytes, std::uint64_t file_size_bytes,
                                                 const std::optional<RingGeometry>& expected) {
  const auto fail = [](HeaderProblem problem, std::string message) {
    return std::unexpected(HeaderError{problem, std::move(message)});
  };
  if (bytes.size() < sizeof(SegmentHeader)) {
    return fail(HeaderProblem::Truncated, fmt::format("is truncated: {} B, smaller than its {} B header",
                                                      bytes.size(), sizeof(SegmentHeader)));
  }
  std::uint64_t magic = 0;
  std::memcpy(&magic, bytes.data() + offsetof(SegmentHeader, magic), sizeof magic);
  if (magic != kMagic) {
    return fail(magic == 0 ? HeaderProblem::Uninitialised : HeaderProblem::ForeignMagic,
                fmt::format("has magic 0x{:016x}, expected 0x{:016x} (\"FRAMERNG\"): {}", magic, kMagic,
                            magic == 0 ? "its creator never finished initialising it (stale)"
                                       : "it is not a framering ring"));
  }
  SegmentHeader h;
  std::memcpy(&h, bytes.data(), sizeof h);
  if (h.layout_version != kLayoutVersion || h.header_bytes != sizeof(SegmentHeader)) {
    return fail(HeaderProblem::OtherLayoutVersion,
                fmt::format("has layout version {} (header {} B), this framering reads layout version {} (header "
                            "{} B): stop its users and remove it, or use the framering that created it",
                            h.layout_version, h.header_bytes, kLayoutVersion, sizeof(SegmentHeader)));
  }
  if (h.consumer_entry_bytes != sizeof(ConsumerEntry) || h.frame_header_bytes != sizeof(FrameHeader)) {
    return fail(HeaderProblem::EntrySizeMismatch,
                fmt::format("says layout version {} but has {} B consumer entries and {} B frame headers, where "
                            "this framering has {} B and {} B: a build that changed the layout without bumping "
                            "its version",
                            h.layout_version, h.consumer_entry_bytes, h.frame_header_bytes, sizeof(ConsumerEntry),
                            sizeof(FrameHeader)));
  }
  if (file_size_bytes < h.segment_bytes) {
    return fail(HeaderProblem::Truncated,
                fmt::format("is truncated: {} B, but its header says {} B", file_size_bytes, h.segment_bytes));
  }
  if (auto inconsistency = find_inconsistency(h)) {
    return fail(HeaderProblem::Inconsistent, fmt::format("has an inconsistent header ({}): corrupt or foreign: {}",
                                                         describe_header(h), *inconsistency));
  }
  if (expected) {
    const FrameShape& e = expected->frame;
    if (e.width != h.width || e.height != h.height || e.pixel_format != static_cast<PixelFormat>(h.pixel_format) ||
        e.row_stride_bytes() != h.stride_bytes || (expected->slot_count != 0 && expected->slot_count != h.slot_count)) {
      return fail(HeaderProblem::GeometryMismatch,
                  fmt::format("holds {}, expected {}", describe_header(h),
                              geometry_text(e.width, e.height, static_cast<std::uint32_t>(e.pixel_format),
                                            e.row_stride_bytes(), expected->slot_count)));
    }
  }
  return {};
}

void Segment::validate_name(std::string_view what, std::string_view value) {
  const bool ok_chars = std::all_of(value.begin(), value.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  if (value.empty() || value.size() > kMaxNamePart || !ok_chars) {
    throw SegmentError(fmt::format("{} name '{}' is not valid: expected 1 to {} characters of "
                                   "A-Z, a-z, 0-9, '_' or '-'",
                                   what, value, kMaxNamePart));
  }
}

std::string Segment::segment_name(std::string_view instance, std::string_view ring) {
  validate_name("instance", instance);
  validate_name("ring", ring);
  return fmt::format("{}{}.{}", kPrefix, instance, ring);
}

Segment::Segment(std::unique_ptr<Mapping> mapping, std::string name, std::string ring)
    : mapping_(std::move(mapping)),
      base_(static_cast<std::byte*>(mapping_->region.get_address())),
      size_bytes_(mapping_->region.get_size()),
      name_(std::move(name)),
      ring_(std::move(ring)) {}

Segment::Segment(Segment&&) noexcept = default;
Segment& Segment::operator=(Segment&&) noexcept = default;
Segment::~Segment() = default;

Segment Segment::create(std::string_view instance, std::string_view ring, const RingGeometry& geometry,
                        Access access) {
  geometry.validate();
  const std::string name = segment_name(instance, ring);
  const std::uint64_t segment_bytes = compute_layout(geometry).segment_bytes;
  const unsigned mode = access == Access::Group ? 0660U : 0600U;

  auto mapping = std::make_unique<Mapping>();
  try {
    bip::permissions permissions(mode);  // Boost fchmod()s after shm_open, so umask does not apply
    mapping->object = bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write, permissions);
  } catch (const bip::interprocess_exception& e) {
    throw_segment_error("cannot create", name, e);
  }
  try {
    mapping->object.truncate(static_cast<bip::offset_t>(segment_bytes));
    mapping->region = bip::mapped_region(mapping->object, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    bip::shared_memory_object::remove(name.c_str());
    throw_segment_error(fmt::format("cannot size ({} B) or map", segment_bytes), name, e);
  }

  Segment segment(std::move(mapping), name, std::string{ring});
  // ftruncate zero-fills: every cursor, state and seqlock starts at 0. Fill the header but its
  // magic, then publish it by storing magic last (release: pairs with the acquire load in open()).
  SegmentHeader fresh = make_segment_header(geometry);
  fresh.segment_id = std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32U);
  fresh.created_realtime_ns = realtime_ns();
  fresh.permissions = mode;
  std::memcpy(fresh.ring_name, ring.data(), std::min(ring.size(), sizeof fresh.ring_name - 1));
  SegmentHeader& h = segment.writable_header();
  static_assert(offsetof(SegmentHeader, magic) == 0, "magic leads the header: everything after it is copied");
  std::memcpy(reinterpret_cast<std::byte*>(&h) + sizeof h.magic,
              reinterpret_cast<const std::byte*>(&fresh) + sizeof fresh.magic, sizeof fresh - sizeof fresh.magic);
  at(h.magic).store(kMagic, std::memory_order_release);
  return segment;
}

Segment Segment::open(std::string_view instance, std::string_view ring, std::optional<RingGeometry> expected,
                      std::chrono::milliseconds wait_for) {
  const std::string name = segment_name(instance, ring);
  const auto deadline_ns = monotonic_ns() + static_cast<std::uint64_t>(
                                                std::chrono::duration_cast<std::chrono::nanoseconds>(wait_for).count());
  auto mapping = std::make_unique<Mapping>();
  std::uint64_t size_bytes = 0;
  mapping->object = open_when_sized(name, deadline_ns, size_bytes);
  try {
    mapping->region = bip::mapped_region(mapping->object, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    throw_segment_error("cannot map", name, e);
  }
  Segment segment(std::move(mapping), name, std::string{ring});
  const SegmentHeader header = copy_when_published(segment.header(), deadline_ns);
  if (auto valid = validate_header(std::as_bytes(std::span(&header, 1)), size_bytes, expected); !valid) {
    throw SegmentError(fmt::format("ring segment {} {}", shm_path(name), valid.error().message));
  }
  return segment;
}

bool Segment::remove(std::string_view instance, std::string_view ring) noexcept {
  try {
    return bip::shared_memory_object::remove(segment_name(instance, ring).c_str());
  } catch (...) {
    return false;
  }
}

std::vector<std::string> Segment::list_rings(std::string_view instance) {
  validate_name("instance", instance);
  const std::string prefix = fmt::format("{}.", instance);
  std::vector<std::string> rings;
  for (const std::string& name : segment_names()) {
    if (name.starts_with(prefix) && name.size() > prefix.size()) rings.push_back(name.substr(prefix.size()));
  }
  std::sort(rings.begin(), rings.end());
  return rings;
}

RingGeometry Segment::geometry() const noexcept { return geometry_of(header()); }

Segment::TableLock::TableLock(int fd) noexcept : fd_(fd) {
  while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
  }
}

Segment::TableLock::~TableLock() { ::flock(fd_, LOCK_UN); }

Segment::TableLock Segment::lock_consumer_table() const noexcept {
  return TableLock(mapping_->object.get_mapping_handle().handle);
}

bool Segment::has_live_participant() const noexcept {
  const ProducerControl& c = control();
  const auto pid = at(c.identity.pid).load(std::memory_order_acquire);
  const bool attached = at(c.identity.attached).load(std::memory_order_acquire) != 0;
  if (pid != 0 && attached && is_process_alive(static_cast<pid_t>(pid), c.identity.start_time_ticks)) return true;
  for (std::uint32_t i = 0; i < max_consumers(); ++i) {
    const ConsumerEntry& e = consumer(i);
    const auto state = at(e.identity.state).load(std::memory_order_acquire);
    if (state == static_cast<std::uint32_t>(ConsumerState::Free)) continue;
    if (is_process_alive(static_cast<pid_t>(e.identity.pid), e.identity.start_time_ticks)) return true;
  }
  return false;
}

std::uint64_t Segment::published() const noexcept {
  return at(control().cursor.published).load(std::memory_order_acquire);
}

bool Segment::exists(std::string_view instance, std::string_view ring) {
  std::error_code ec;
  return std::filesystem::exists(shm_path(segment_name(instance, ring)), ec);
}

std::vector<std::string> Segment::list_instances() {
  std::set<std::string> instances;
  for (const std::string& name : segment_names()) {
    const auto dot = name.find('.');
    if (dot != std::string::npos && dot > 0) instances.insert(name.substr(0, dot));
  }
  return {instances.begin(), instances.end()};
}

std::optional<Segment> open_when_created(std::string_view instance, std::string_view ring, const CreationWait& wait) {
  const std::string path = shm_path(Segment::segment_name(instance, ring));
  const double wait_s = std::chrono::duration<double>(wait.timeout).count();
  const std::uint64_t deadline_ns = monotonic_ns() + static_cast<std::uint64_t>(std::max<std::int64_t>(wait.timeout.count(), 0));
  bool said_waiting = false;
  for (;;) {
    if (Segment::exists(instance, ring)) {
      try {
        // The segment exists: give its creator time to finish the header.
        return Segment::open(instance, ring, std::nullopt, std::chrono::milliseconds{1000});
      } catch (const SegmentError&) {
        // Removed between our look and the open: keep waiting for a new one.
        if (Segment::exists(instance, ring) || monotonic_ns() >= deadline_ns) throw;
      }
    }
    if (wait.should_stop != nullptr && wait.should_stop()) return std::nullopt;
    if (monotonic_ns() >= deadline_ns) {
      throw SegmentError(fmt::format("{} '{}' of instance '{}' does not exist: {} did not appear within {} s{}; start "
                                     "its producer first (`framering acquire`, `framering process` or `framering run`)",
                                     wait.role, ring, instance, path, wait_s,
                                     wait.option.empty() ? std::string{} : fmt::format(" ({})", wait.option)));
    }
    if (!said_waiting) {
      spdlog::info("waiting up to {} s for {} '{}' of instance '{}' ({})", wait_s, wait.role, ring, instance, path);
      said_waiting = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{20});  // polling for a file to appear
  }
}

}  // namespace framering::ring
