// tiff_stack_writer.cpp: see the header for the file layout and the write order.
#include "framering/record/tiff_stack_writer.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framering/common/error.hpp"

namespace framering::record {
namespace {

// TIFF field types (TIFF 6.0 section 2; LONG8 from BigTIFF).
constexpr std::uint16_t kByte = 1;
constexpr std::uint16_t kShort = 3;
constexpr std::uint16_t kLong = 4;
constexpr std::uint16_t kRational = 5;
constexpr std::uint16_t kLong8 = 16;

// One IFD entry. `count` values of `type`: a single SHORT/LONG/LONG8 is `value` itself; several
// SHORTs or BYTEs are `values` (inline when they fit the entry's value field, 4 bytes in classic
// TIFF and 8 in BigTIFF, else at byte `value` of the block); a RATIONAL is at byte `value`.
struct Entry {
  std::uint16_t tag;
  std::uint16_t type;
  std::uint64_t value;
  std::uint32_t count = 1;
  std::array<std::uint16_t, 4> values{};
};

// TIFF/EP (ISO 12234-2) tags for a colour filter array, on Bayer pages. Photometric stays
// BlackIsZero (not TIFF/EP's CFA, 32803) so that ImageJ and every TIFF reader open the raw mosaic
// as a grey page; the pattern is there for tifffile (`page.tags['CFAPattern']`) and raw tools.
constexpr std::uint16_t kCfaRepeatPatternDim = 33421;
constexpr std::uint16_t kCfaPattern = 33422;

// IFD entries of every page of `g`: 15, and 2 more (the CFA tags) on Bayer pages.
std::uint64_t entry_count(const PageGeometry& g) noexcept { return is_bayer(g.frame.pixel_format) ? 17 : 15; }

// TIFF/EP CFAPattern codes (0 = red, 1 = green, 2 = blue) of a Bayer format, row by row.
std::array<std::uint16_t, 4> cfa_codes(PixelFormat format) noexcept {
  std::array<std::uint16_t, 4> codes{};
  const std::string_view pattern = cfa_pattern(format);
  for (std::size_t i = 0; i < codes.size() && i < pattern.size(); ++i) {
    codes[i] = pattern[i] == 'R' ? 0 : pattern[i] == 'G' ? 1 : 2;
  }
  return codes;
}

template <class T>
void put(std::byte* at, T value) noexcept {
  std::memcpy(at, &value, sizeof value);  // x86-64 and every target we build for: little-endian, as "II" says
}

struct AlignedFree {
  void operator()(std::byte* p) const noexcept { std::free(p); }
};
using AlignedBytes = std::unique_ptr<std::byte[], AlignedFree>;

AlignedBytes aligned_bytes(std::uint64_t bytes) {
  auto* p = static_cast<std::byte*>(std::aligned_alloc(kIfdBlockBytes, bytes));
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  return AlignedBytes(p);
}

constexpr std::uint64_t kHugePageBytes = 2ULL << 20;  // x86-64's transparent huge page

// Whether the kernel hands out transparent huge pages to a buffer that asks (madvise).
bool transparent_huge_pages_available() noexcept {
  std::FILE* f = std::fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
  if (f == nullptr) return false;
  char text[128] = {};
  const std::size_t n = std::fread(text, 1, sizeof text - 1, f);
  std::fclose(f);
  const std::string_view mode(text, n);
  return mode.find("[always]") != std::string_view::npos || mode.find("[madvise]") != std::string_view::npos;
}

// `bytes` rounded up to whole huge pages, 2 MiB-aligned, asking for transparent huge pages and
// touched (zeroed) so that they are there before the first write. Null when it cannot be had.
AlignedBytes huge_page_bytes(std::uint64_t bytes) noexcept {
  const std::uint64_t rounded = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  auto* p = static_cast<std::byte*>(std::aligned_alloc(kHugePageBytes, rounded));
  if (p == nullptr) return nullptr;
  if (::madvise(p, rounded, MADV_HUGEPAGE) != 0) {
    std::free(p);
    return nullptr;
  }
  std::memset(p, 0, rounded);
  return AlignedBytes(p);
}

// File offset of the next-IFD field of page `page`'s IFD (for linking and for cutting).
std::uint64_t next_ifd_field_offset(const PageGeometry& g, std::uint64_t page) noexcept {
  const std::uint64_t entries = entry_count(g);
  const std::uint64_t ifd = page * g.page_bytes() + kIfdOffsetInBlock;
  return g.bigtiff ? ifd + 8 + entries * 20 : ifd + 2 + entries * 12;
}

}  // namespace

void encode_ifd_block(std::span<std::byte, kIfdBlockBytes> block, const PageGeometry& g, std::uint64_t page,
                      std::uint64_t next_ifd) noexcept {
  std::byte* b = block.data();
  const std::uint64_t page_start = page * g.page_bytes();
  if (page == 0) {
    b[0] = std::byte{'I'};
    b[1] = std::byte{'I'};
    if (g.bigtiff) {
      put<std::uint16_t>(b + 2, 43);
      put<std::uint16_t>(b + 4, 8);  // bytes per offset
      put<std::uint16_t>(b + 6, 0);
      put<std::uint64_t>(b + 8, kIfdOffsetInBlock);
    } else {
      put<std::uint16_t>(b + 2, 42);
      put<std::uint32_t>(b + 4, static_cast<std::uint32_t>(kIfdOffsetInBlock));
    }
  }
  const std::uint16_t offset_type = g.bigtiff ? kLong8 : kLong;
  const std::uint64_t entry_bytes = g.bigtiff ? 20 : 12;
  const std::uint64_t head_bytes = g.bigtiff ? 8 : 2;
  const std::uint64_t tail_bytes = g.bigtiff ? 8 : 4;
  const std::uint64_t value_bytes = g.bigtiff ? 8 : 4;
  const std::uint64_t entry_total = entry_count(g);
  // The two RATIONALs (72/1 pixels per unit, as libtiff writes by default) follow the IFD, then
  // the BitsPerSample array of an RGB page when it does not fit its entry (classic TIFF).
  const std::uint64_t rationals = kIfdOffsetInBlock + head_bytes + entry_total * entry_bytes + tail_bytes;
  const std::uint64_t spill = rationals + 16;
  const std::uint32_t samples = g.samples_per_pixel();
  const auto bits = static_cast<std::uint16_t>(g.bits_per_sample());
  const std::array<std::uint16_t, 4> cfa = cfa_codes(g.frame.pixel_format);
  const Entry entries[17] = {
      {254, kLong, 0},                                                     // NewSubfileType: a full image
      {256, kLong, g.frame.width},                                         // ImageWidth
      {257, kLong, g.frame.height},                                        // ImageLength
      {258, kShort, samples == 1 ? bits : page_start + spill, samples, {bits, bits, bits, 0}},  // BitsPerSample
      {259, kShort, 1},                                                    // Compression: none
      {262, kShort, samples == 3 ? 2U : 1U},                               // Photometric: RGB or BlackIsZero
      {273, offset_type, page_start + kIfdBlockBytes},                     // StripOffsets
      {277, kShort, samples},                                              // SamplesPerPixel
      {278, kLong, g.frame.height},                                        // RowsPerStrip: one strip
      {279, offset_type, g.frame_bytes()},                                 // StripByteCounts
      {282, kRational, page_start + rationals},                            // XResolution
      {283, kRational, page_start + rationals + 8},                        // YResolution
      {284, kShort, 1},                                                    // PlanarConfiguration: chunky (RGBRGB)
      {296, kShort, 1},                                                    // ResolutionUnit: none
      {339, kShort, 1},                                                    // SampleFormat: unsigned integer
      {kCfaRepeatPatternDim, kShort, 0, 2, {2, 2, 0, 0}},                  // 2 rows x 2 columns
      {kCfaPattern, kByte, 0, 4, cfa},                                     // e.g. RGGB = 0 1 1 2
  };
  std::byte* ifd = b + kIfdOffsetInBlock;
  if (g.bigtiff) {
    put<std::uint64_t>(ifd, entry_total);
  } else {
    put<std::uint16_t>(ifd, static_cast<std::uint16_t>(entry_total));
  }
  std::byte* e = ifd + head_bytes;
  for (std::uint64_t i = 0; i < entry_total; ++i) {
    const Entry& entry = entries[i];
    put<std::uint16_t>(e, entry.tag);
    put<std::uint16_t>(e + 2, entry.type);
    std::byte* value = e + (g.bigtiff ? 12 : 8);
    if (g.bigtiff) {
      put<std::uint64_t>(e + 4, entry.count);
    } else {
      put<std::uint32_t>(e + 4, entry.count);
    }
    if (entry.count > 1) {
      const std::uint64_t element = entry.type == kByte ? 1 : 2;
      std::byte* at = value;
      if (entry.count * element > value_bytes) {  // does not fit: stored in the block, offset inline
        if (g.bigtiff) {
          put<std::uint64_t>(value, entry.value);
        } else {
          put<std::uint32_t>(value, static_cast<std::uint32_t>(entry.value));
        }
        at = b + (entry.value - page_start);
      }
      for (std::uint32_t k = 0; k < entry.count; ++k) {
        if (element == 1) {
          at[k] = static_cast<std::byte>(entry.values[k]);
        } else {
          put<std::uint16_t>(at + 2 * k, entry.values[k]);
        }
      }
    } else if (entry.type == kShort) {
      put<std::uint16_t>(value, static_cast<std::uint16_t>(entry.value));
    } else if (g.bigtiff) {
      put<std::uint64_t>(value, entry.value);  // LONG in the low 4 bytes, LONG8 and offsets whole
    } else {
      put<std::uint32_t>(value, static_cast<std::uint32_t>(entry.value));
    }
    e += entry_bytes;
  }
  if (g.bigtiff) {
    put<std::uint64_t>(e, next_ifd);
  } else {
    put<std::uint32_t>(e, static_cast<std::uint32_t>(next_ifd));
  }
  put<std::uint32_t>(b + rationals, 72);
  put<std::uint32_t>(b + rationals + 4, 1);
  put<std::uint32_t>(b + rationals + 8, 72);
  put<std::uint32_t>(b + rationals + 12, 1);
}

namespace {

// Writes the whole of `iov` at `offset` on `fd`, continuing after short writes. `direct` is
// cleared (once, with a log line) when O_DIRECT is refused; both of a writer's threads call this.
std::expected<void, WriteFailure> write_fully(int fd, std::atomic<bool>& direct, const std::filesystem::path& path,
                                              const ::iovec* iov_in, int count, std::uint64_t offset) noexcept {
  const auto fall_back_to_buffered = [&]() noexcept {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_DIRECT) != 0) return false;
    if (direct.exchange(false)) {
      spdlog::info("{}: O_DIRECT write refused (EINVAL); writing through the page cache", path.string());
    }
    return true;
  };
  ::iovec iov[2];
  for (int i = 0; i < count; ++i) iov[i] = iov_in[i];
  int first = 0;
  while (first < count) {
    const ssize_t n = ::pwritev(fd, iov + first, count - first, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EINVAL && direct.load() && fall_back_to_buffered()) continue;
      return std::unexpected(WriteFailure{errno, {}});
    }
    if (n == 0) return std::unexpected(WriteFailure{ENOSPC, {}});
    offset += static_cast<std::uint64_t>(n);
    auto left = static_cast<std::size_t>(n);
    while (first < count && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (first < count) {
      // A short write (the disk filled up mid-frame): continue where it stopped; the next call
      // reports the errno. Leaving O_DIRECT keeps an unaligned remainder writable.
      if (direct.load() && (left % kIfdBlockBytes) != 0) (void)fall_back_to_buffered();
      iov[first].iov_base = static_cast<std::byte*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return {};
}

[[noreturn]] void broken_invariant(const std::filesystem::path& path, const char* what) noexcept {
  spdlog::critical("{}: TiffStackWriter {} (a bug in the caller)", path.string(), what);
  std::abort();
}

}  // namespace

// A writer's buffers and its I/O thread. Page p uses IFD block p % kBlocks: the last complete
// page's block (rewritten to link the next page) and one per page in flight stay untouched while
// needed. The data writes of submitted pages run in page order on `thread`; a failed one cancels
// those queued after it (never a page past a hole). Lives on the heap, so the thread's pointer
// to it survives a move of the writer.
struct TiffStackWriter::State {
  static constexpr std::uint64_t kBlocks = kPagesInFlight + 1;

  struct Job {
    ::iovec iov[2]{};  ///< the page's IFD block and its pixels
    std::uint64_t offset = 0;
    bool done = false;
    std::expected<void, WriteFailure> result;
  };

  std::filesystem::path path;  ///< for log lines
  int fd = -1;
  std::atomic<bool> direct{false};  ///< cleared by whichever thread meets a refusal of O_DIRECT
  DataWriteGate gate;
  AlignedBytes blocks[kBlocks];
  AlignedBytes staging[kPagesInFlight];  ///< page p: staging[p % kPagesInFlight], only for padded rows

  std::mutex mutex;  // guards everything below; jobs[p] is the caller's until `queued` > p, then the I/O side's until done
  std::condition_variable changed;  // notified when queued, next, done, cancel or stop change
  Job jobs[kPagesInFlight];         ///< page p: jobs[p % kPagesInFlight]
  std::uint64_t queued = 0;         ///< pages handed to the I/O side
  std::uint64_t next = 0;           ///< the next page it writes (next <= queued)
  bool cancel = false;              ///< fail every queued job without writing it
  bool stop = false;
  bool inline_writes = false;       ///< no thread could be started: submit() writes itself
  bool stage_in_huge_pages = false;  ///< copy every frame into staging[], allocated with huge pages
  std::thread thread;

  ~State() { stop_thread(); }

  // Runs job `next` (the lock held on entry and on return; released during the write).
  void run_next(std::unique_lock<std::mutex>& lock) noexcept {
    const std::uint64_t page = next;
    Job& job = jobs[page % kPagesInFlight];
    const bool skip = cancel;
    lock.unlock();
    std::expected<void, WriteFailure> result;
    if (skip) {
      result = std::unexpected(WriteFailure{ECANCELED, {}});
    } else if (const int refused = gate ? gate(page) : 0; refused != 0) {
      result = std::unexpected(WriteFailure{refused, {}});
    } else {
      result = write_fully(fd, direct, path, job.iov, 2, job.offset);
    }
    lock.lock();
    job.result = std::move(result);
    job.done = true;
    if (!job.result) cancel = true;
    ++next;
    changed.notify_all();
  }

  void run() noexcept {
    std::unique_lock lock(mutex);
    for (;;) {
      changed.wait(lock, [&] { return stop || next < queued; });
      if (next < queued) {
        run_next(lock);
      } else {
        return;  // stop, and nothing left
      }
    }
  }

  // Hands page `page`'s job (filled by the caller) to the I/O thread, starting it if needed.
  void queue(std::uint64_t page) noexcept {
    if (!thread.joinable() && !inline_writes) {
      try {
        thread = std::thread([this] { run(); });
      } catch (const std::system_error& e) {
        inline_writes = true;
        spdlog::warn("{}: cannot start the writer's I/O thread ({}): writing one page at a time", path.string(),
                     e.what());
      }
    }
    std::unique_lock lock(mutex);
    queued = page + 1;
    if (inline_writes) {
      run_next(lock);
    } else {
      changed.notify_all();
    }
  }

  // Waits for page `page`'s data write and returns its outcome.
  std::expected<void, WriteFailure> wait_for(std::uint64_t page) noexcept {
    Job& job = jobs[page % kPagesInFlight];
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return job.done; });
    job.done = false;
    return std::move(job.result);
  }

  // Cancels the queued writes and waits until none is running: after this no write is in flight.
  void abandon() noexcept {
    std::unique_lock lock(mutex);
    cancel = true;
    changed.notify_all();
    changed.wait(lock, [&] { return next == queued; });
    for (Job& job : jobs) job.done = false;
  }

  void stop_thread() noexcept {
    if (!thread.joinable()) return;
    {
      std::lock_guard lock(mutex);
      stop = true;
      cancel = true;
    }
    changed.notify_all();
    thread.join();
  }
};

TiffStackWriter::TiffStackWriter(std::filesystem::path path, const PageGeometry& geometry, bool direct_io,
                                 StagingPolicy staging, DataWriteGate gate)
    : path_(std::move(path)), geometry_(geometry), state_(std::make_unique<State>()) {
  for (AlignedBytes& block : state_->blocks) block = aligned_bytes(kIfdBlockBytes);
  state_->path = path_;
  state_->gate = std::move(gate);
  const int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
  bool direct = false;
  if (direct_io) {
    fd_ = ::open(path_.c_str(), flags | O_DIRECT, 0644);
    direct = fd_ >= 0;
    if (fd_ < 0 && errno == EINVAL) {
      spdlog::info("{}: the file system refuses O_DIRECT; writing through the page cache", path_.string());
      fd_ = ::open(path_.c_str(), flags, 0644);
    }
  } else {
    fd_ = ::open(path_.c_str(), flags, 0644);
  }
  if (fd_ < 0) {
    throw Error(fmt::format("cannot create recording file {}: {}", path_.string(), errno_text(errno)));
  }
  state_->fd = fd_;
  state_->direct.store(direct);
  if (direct && staging == StagingPolicy::HugePagesWhenAvailable && transparent_huge_pages_available()) {
    state_->stage_in_huge_pages = true;
    for (AlignedBytes& buffer : state_->staging) {
      buffer = huge_page_bytes(geometry_.padded_frame_bytes());
      if (!buffer) state_->stage_in_huge_pages = false;
    }
    if (!state_->stage_in_huge_pages) {
      for (AlignedBytes& buffer : state_->staging) buffer.reset();
      spdlog::info("{}: no huge-page staging buffers (madvise refused): writing from the caller's buffers",
                   path_.string());
    }
  }
}

TiffStackWriter::TiffStackWriter(TiffStackWriter&& other) noexcept
    : path_(std::move(other.path_)),
      geometry_(other.geometry_),
      fd_(std::exchange(other.fd_, -1)),
      failed_(other.failed_),
      pages_(other.pages_),
      submitted_(other.submitted_),
      state_(std::move(other.state_)) {}

TiffStackWriter::~TiffStackWriter() { (void)close(); }

bool TiffStackWriter::direct_io() const noexcept { return state_ && state_->direct.load(); }

bool TiffStackWriter::stages_in_huge_pages() const noexcept { return state_ && state_->stage_in_huge_pages; }

std::expected<void, WriteFailure> TiffStackWriter::append(const std::byte* pixels, std::uint64_t stride_bytes,
                                                          std::uint64_t readable_bytes) noexcept {
  if (in_flight() != 0) broken_invariant(path_, "append() with pages in flight");
  if (auto submitted = submit(pixels, stride_bytes, readable_bytes); !submitted) return submitted;
  return complete();
}

std::expected<void, WriteFailure> TiffStackWriter::submit(const std::byte* pixels, std::uint64_t stride_bytes,
                                                          std::uint64_t readable_bytes) noexcept {
  if (failed_ || fd_ < 0) return std::unexpected(WriteFailure{EBADF, "appending after a failure"});
  if (in_flight() >= kPagesInFlight) broken_invariant(path_, "submit() with kPagesInFlight pages in flight");
  const PageGeometry& g = geometry_;
  const std::uint64_t page = submitted_;
  const std::uint64_t row_bytes = g.frame.packed_row_bytes();
  const std::uint64_t padded = g.padded_frame_bytes();
  const std::byte* data = pixels;
  const bool in_place = !state_->stage_in_huge_pages && stride_bytes == row_bytes && readable_bytes >= padded &&
                        reinterpret_cast<std::uintptr_t>(pixels) % kIfdBlockBytes == 0;
  if (!in_place) {
    AlignedBytes& staging = state_->staging[page % kPagesInFlight];
    if (!staging) {
      try {
        staging = aligned_bytes(padded);
      } catch (const std::bad_alloc&) {
        return std::unexpected(WriteFailure{ENOMEM, fmt::format("allocating a staging buffer for page {}", page)});
      }
    }
    if (stride_bytes == row_bytes) {
      std::memcpy(staging.get(), pixels, g.frame_bytes());
    } else {
      for (std::uint32_t y = 0; y < g.frame.height; ++y) {
        std::memcpy(staging.get() + y * row_bytes, pixels + y * stride_bytes, row_bytes);
      }
    }
    data = staging.get();
  }
  std::byte* block = state_->blocks[page % State::kBlocks].get();
  std::memset(block, 0, kIfdBlockBytes);
  encode_ifd_block(std::span<std::byte, kIfdBlockBytes>(block, kIfdBlockBytes), g, page, 0);
  State::Job& job = state_->jobs[page % kPagesInFlight];
  job.iov[0] = {block, kIfdBlockBytes};
  job.iov[1] = {const_cast<std::byte*>(data), padded};
  job.offset = page * g.page_bytes();
  ++submitted_;
  state_->queue(page);
  return {};
}

std::expected<void, WriteFailure> TiffStackWriter::complete() noexcept {
  if (in_flight() == 0) broken_invariant(path_, "complete() with no page in flight");
  const PageGeometry& g = geometry_;
  const std::uint64_t page = pages_;
  const std::uint64_t page_start = page * g.page_bytes();
  if (auto written = state_->wait_for(page); !written) {
    return fail(page, WriteFailure{written.error().error, fmt::format("writing page {}", page)});
  }
  if (page > 0) {
    // Link, only now that the page is whole: rewrite the previous page's whole IFD block
    // (O_DIRECT writes whole aligned blocks), while the I/O thread writes the next page's data.
    std::byte* previous = state_->blocks[(page - 1) % State::kBlocks].get();
    const std::uint64_t field = next_ifd_field_offset(g, page - 1) - (page - 1) * g.page_bytes();
    if (g.bigtiff) {
      put<std::uint64_t>(previous + field, page_start + kIfdOffsetInBlock);
    } else {
      put<std::uint32_t>(previous + field, static_cast<std::uint32_t>(page_start + kIfdOffsetInBlock));
    }
    const ::iovec link_iov[1] = {{previous, kIfdBlockBytes}};
    if (auto linked = write_fully(fd_, state_->direct, path_, link_iov, 1, (page - 1) * g.page_bytes()); !linked) {
      return fail(page, WriteFailure{linked.error().error, fmt::format("linking page {} to page {}", page - 1, page)});
    }
  }
  ++pages_;
  return {};
}

// Abandons the pages in flight and cuts the file back to its last complete page (before `page`).
std::expected<void, WriteFailure> TiffStackWriter::fail(std::uint64_t page, WriteFailure failure) noexcept {
  failed_ = true;
  state_->abandon();  // no write may land after the cut
  (void)::ftruncate(fd_, static_cast<off_t>(page * geometry_.page_bytes()));
  submitted_ = pages_;
  return std::unexpected(std::move(failure));
}

std::expected<void, WriteFailure> cut_tiff_stack(const std::filesystem::path& path, const PageGeometry& g,
                                                 std::uint64_t pages) noexcept {
  if (pages == 0) return std::unexpected(WriteFailure{EINVAL, "cutting to 0 pages"});
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(WriteFailure{errno, "opening"});
  std::expected<void, WriteFailure> result;
  const std::uint64_t zero = 0;
  const auto field_bytes = static_cast<ssize_t>(g.bigtiff ? sizeof(std::uint64_t) : sizeof(std::uint32_t));
  const ssize_t n = ::pwrite(fd, &zero, static_cast<std::size_t>(field_bytes),
                             static_cast<off_t>(next_ifd_field_offset(g, pages - 1)));
  if (n != field_bytes) {
    const int error = n < 0 ? errno : EIO;
    result = std::unexpected(WriteFailure{error, fmt::format("ending the IFD chain at page {}", pages - 1)});
  } else if (::ftruncate(fd, static_cast<off_t>(pages * g.page_bytes())) != 0) {
    result = std::unexpected(WriteFailure{errno, fmt::format("cutting the file to {} pages", pages)});
  }
  ::close(fd);
  return result;
}

bool TiffStackWriter::fits_another_page(std::uint64_t max_bytes) const noexcept {
  const std::uint64_t after = (submitted_ + 1) * geometry_.page_bytes();
  if (!geometry_.bigtiff && after > kClassicTiffMaxBytes) return false;
  if (max_bytes > 0 && after > max_bytes && submitted_ > 0) return false;  // a page bigger than the limit still goes alone
  return true;
}

std::expected<void, WriteFailure> TiffStackWriter::close() noexcept {
  if (fd_ < 0) return {};
  std::expected<void, WriteFailure> result;
  if (in_flight() > 0) {
    state_->abandon();  // pages never completed are cut off: the chain already ends before them
    (void)::ftruncate(fd_, static_cast<off_t>(pages_ * geometry_.page_bytes()));
    submitted_ = pages_;
  }
  state_->stop_thread();
  if (!state_->direct.load() && pages_ > 0 && ::fdatasync(fd_) != 0) result = std::unexpected(WriteFailure{errno, "flushing"});
  if (::close(fd_) != 0 && result) result = std::unexpected(WriteFailure{errno, "closing"});
  fd_ = -1;
  if (pages_ == 0) {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  return result;
}

}  // namespace framering::record
