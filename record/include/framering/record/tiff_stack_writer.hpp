// tiff_stack_writer.hpp: one multi-page TIFF file of a recording, laid out by hand so that every
// frame goes to disk with O_DIRECT, page-aligned, from a huge-page staging buffer or straight
// from its 4096-byte-aligned ring slot (StagingPolicy).
//
// Layout (TIFF 6.0, Adobe 1992; BigTIFF, Aware Systems / libtiff 4.0, 2007), little-endian "II":
//
//   page k starts at k * page_bytes, page_bytes = 4096 + round_up(frame_bytes, 4096):
//   +0     (page 0 only) the 8-byte classic header "II" 42 <ifd@16>, or the 16-byte BigTIFF
//          header "II" 43 8 0 <ifd@16>
//   +16    page k's IFD: one uncompressed strip, tags in ascending order (NewSubfileType,
//          ImageWidth, ImageLength, BitsPerSample, Compression=1, Photometric=BlackIsZero (RGB8:
//          RGB), StripOffsets, SamplesPerPixel=1 (RGB8: 3), RowsPerStrip=height, StripByteCounts,
//          X/YResolution, PlanarConfiguration=1, ResolutionUnit=none, SampleFormat=unsigned; on
//          Bayer pages also TIFF/EP's CFARepeatPatternDim=2,2 and CFAPattern), next-IFD = 0;
//          then the two resolutions and (classic RGB8) the three BitsPerSample values
//   +4096  the frame's packed rows (width * bytes_per_pixel each), then padding to a page
//
// Crash consistency: a page is written whole (IFD block + pixels, one pwritev) with next-IFD 0,
// and only then is the previous page's IFD block rewritten to point at it. A process killed at
// any instruction leaves a file whose IFD chain ends at the last complete page.
//
// Two pages in flight (submit / complete): the data writes run in order on the writer's own I/O
// thread, so the disk goes straight from page n's pixels to page n+1's while the caller's thread
// links page n (and indexes and releases its frame). The link of page n still waits for page n's
// write to have returned; page n+1's data, written or not, is past the end of the IFD chain.
//
//   caller:  submit(n+1)  complete(n): wait data(n), link(n-1 -> n)  submit(n+2)  complete(n+1) ...
//   I/O:     ... data(n) ─────────────┤ data(n+1) ──────────────────────────────┤ data(n+2) ...
//
// Staging (StagingPolicy::HugePagesWhenAvailable, the default with O_DIRECT): submit() copies the
// pixels into one of two staging buffers backed by transparent huge pages and the I/O thread
// writes from there, because an O_DIRECT write from a slot's 4 KiB pages (one DMA segment each:
// ~1000 per Full HD frame) reached only 0.62-0.84 of the same write from a 2 MiB-page buffer on
// our reference VM, copy included (docs/design-decisions.md, "Overlapped writes"). The copy
// of page n+1 overlaps page n's write. Where the kernel gives no transparent huge pages
// (/sys/kernel/mm/transparent_hugepage/enabled = never) it writes from the slot, as InPlace does.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "framering/common/frame_shape.hpp"
#include "framering/common/pixel_format.hpp"

namespace framering::record {

/// Bytes of the IFD block in front of each page's pixels (one page of the ring's alignment).
inline constexpr std::uint64_t kIfdBlockBytes = 4096;
/// Byte offset of each page's IFD inside its block (after the file header on page 0).
inline constexpr std::uint64_t kIfdOffsetInBlock = 16;
/// Classic TIFF offsets are 32-bit: a classic file must end at or below this size.
inline constexpr std::uint64_t kClassicTiffMaxBytes = 0xFFFFFFFFULL;

/// What every page of one file holds.
struct PageGeometry {
  /// Width, height and pixel format of every page (8-bit formats: 8 bits per sample; the
  /// others: 16; RGB8: three 8-bit samples). Pages hold packed rows: frame.stride_bytes is not
  /// used (leave it 0). BGR8 has no TIFF equivalent (TIFF's RGB is R, G, B): not for pages.
  FrameShape frame;
  bool bigtiff = false;

  [[nodiscard]] std::uint32_t bits_per_sample() const noexcept { return bytes_per_sample(frame.pixel_format) * 8; }
  /// 3 for RGB8 (PhotometricInterpretation RGB, chunky), else 1.
  [[nodiscard]] std::uint32_t samples_per_pixel() const noexcept { return framering::samples_per_pixel(frame.pixel_format); }
  /// Packed pixel bytes of one frame: width * height * bytes per pixel (frame.packed_frame_bytes()).
  [[nodiscard]] std::uint64_t frame_bytes() const noexcept { return frame.packed_frame_bytes(); }
  /// frame_bytes rounded up to kIfdBlockBytes: what is written for the pixels.
  [[nodiscard]] std::uint64_t padded_frame_bytes() const noexcept {
    return (frame_bytes() + kIfdBlockBytes - 1) / kIfdBlockBytes * kIfdBlockBytes;
  }
  /// Bytes from one page's start to the next: IFD block + padded pixels.
  [[nodiscard]] std::uint64_t page_bytes() const noexcept { return kIfdBlockBytes + padded_frame_bytes(); }
};

/// Fills `block` (kIfdBlockBytes, zeroed by the caller) with page `page`'s IFD, describing pixels
/// at `page * g.page_bytes() + kIfdBlockBytes` and pointing at `next_ifd` (0 = last page); page 0's
/// block also gets the file header. Pure: the unit tests check it byte by byte.
void encode_ifd_block(std::span<std::byte, kIfdBlockBytes> block, const PageGeometry& g, std::uint64_t page,
                      std::uint64_t next_ifd) noexcept;

/// Why an append failed: the errno and what was being done, for a message naming the path.
struct WriteFailure {
  int error = 0;         ///< errno (ENOSPC, EFBIG, EIO, ...)
  std::string what;      ///< "writing page 12", "linking page 11 to page 12"
};

/// Cuts the stack at `path`, written by a TiffStackWriter with geometry `g`, back to its first
/// `pages` pages (at least 1): page `pages - 1`'s next-IFD becomes 0, so the IFD chain ends
/// there, and only then is the file truncated to `pages * g.page_bytes()`. A kill between the
/// two leaves a valid TIFF of `pages` pages with a tail no IFD points at. For a recorder that
/// resumes after a crash left a page linked but not indexed.
/// @return nothing, or the errno and what failed: "opening", "ending the IFD chain at page N",
///         "cutting the file to N pages" (EINVAL "cutting to 0 pages" for pages == 0).
[[nodiscard]] std::expected<void, WriteFailure> cut_tiff_stack(const std::filesystem::path& path,
                                                               const PageGeometry& g, std::uint64_t pages) noexcept;

/// Where an O_DIRECT data write reads the pixels from (see the file comment).
enum class StagingPolicy {
  HugePagesWhenAvailable,  ///< copy into a transparent-huge-page buffer when the kernel allows it
  InPlace,                 ///< write straight from the caller's buffer when it is aligned and packed
};

/// For tests: called on the writer's I/O thread just before page `page`'s data write (IFD block
/// and pixels). Returns 0 to let the write go on, or an errno to fail it without writing. A test
/// holds a write by blocking in here, to look at the file while that page is in flight.
using DataWriteGate = std::function<int(std::uint64_t page)>;

/// Appends frames to one TIFF file. Called from one thread; move-only (not while pages are in
/// flight). Data writes run on a thread of the writer's own, started at the first submit(). The
/// destructor closes the file (it never throws; call close() to learn about errors).
class TiffStackWriter {
 public:
  /// Pages submit() may have in flight: the one being linked and the one being written.
  static constexpr std::uint64_t kPagesInFlight = 2;

  /// Creates `path` (it must not exist: O_EXCL) for pages of `geometry`. `direct_io`: try
  /// O_DIRECT, falling back to buffered writes (with a log line) where the file system refuses
  /// it (tmpfs on some kernels). `staging`: see StagingPolicy (buffered writes never stage).
  /// `gate`: tests only (DataWriteGate); empty in production. Throws framering::Error naming
  /// the path when it cannot create it.
  TiffStackWriter(std::filesystem::path path, const PageGeometry& geometry, bool direct_io,
                  StagingPolicy staging = StagingPolicy::HugePagesWhenAvailable, DataWriteGate gate = {});
  TiffStackWriter(TiffStackWriter&&) noexcept;
  TiffStackWriter& operator=(TiffStackWriter&&) = delete;
  TiffStackWriter(const TiffStackWriter&) = delete;
  TiffStackWriter& operator=(const TiffStackWriter&) = delete;
  ~TiffStackWriter();

  /// Appends one frame as the next page. `pixels`: height rows of `stride_bytes`, little-endian.
  /// When the writer stages in huge pages (StagingPolicy), the rows are copied into a staging
  /// buffer. Otherwise, when the rows are packed (stride = width * bytes per pixel),
  /// `pixels.data()` is 4096-aligned and `readable_bytes` >= padded_frame_bytes() (a ring slot:
  /// slot_stride_bytes), the slot is written in place; else the rows are first packed into an
  /// aligned buffer.
  /// On failure the file is cut back to its last complete page (still a valid TIFF) and the
  /// writer refuses further appends.
  /// Equal to submit() then complete(). Requires in_flight() == 0.
  [[nodiscard]] std::expected<void, WriteFailure> append(const std::byte* pixels, std::uint64_t stride_bytes,
                                                         std::uint64_t readable_bytes) noexcept;

  /// Starts writing one frame as page pages() + in_flight(), with next-IFD 0, on the I/O thread
  /// (or, when that thread cannot be started, here and now); nothing links it yet. `pixels` as
  /// for append(), and they must stay unchanged until complete() has returned for this page (a
  /// ring slot: release it only then). Requires in_flight() < kPagesInFlight (a broken
  /// invariant aborts). Fails (without starting anything) only after an earlier failure, or
  /// when a staging buffer for padded rows cannot be allocated (ENOMEM).
  [[nodiscard]] std::expected<void, WriteFailure> submit(const std::byte* pixels, std::uint64_t stride_bytes,
                                                         std::uint64_t readable_bytes) noexcept;

  /// Waits for the oldest submitted page's data write, then links it (rewrites the previous
  /// page's IFD block to point at it): it is then page pages() - 1, readable by any TIFF reader.
  /// On failure of either write ("writing page 12", "linking page 11 to page 12"), the pages
  /// still in flight are abandoned (waited for, never linked), the file is cut back to its last
  /// complete page (still a valid TIFF) and the writer refuses further submits. Requires
  /// in_flight() > 0 (a broken invariant aborts). Allocates nothing.
  [[nodiscard]] std::expected<void, WriteFailure> complete() noexcept;

  /// Pages submitted and not yet completed (0..kPagesInFlight).
  [[nodiscard]] std::uint64_t in_flight() const noexcept { return submitted_ - pages_; }

  /// Whether one more page (after those in flight) would still fit under `max_bytes` (0 = no
  /// limit) and, for classic TIFF, under 4 GiB.
  [[nodiscard]] bool fits_another_page(std::uint64_t max_bytes) const noexcept;

  /// Abandons pages still in flight (waits for their writes, cuts them off: complete() them
  /// first to keep them), flushes (fdatasync when writes were buffered), stops the I/O thread
  /// and closes; removes the file when it has no page (an empty file is not a TIFF). Returns the
  /// failure, if any. Idempotent.
  std::expected<void, WriteFailure> close() noexcept;

  [[nodiscard]] std::uint64_t pages() const noexcept { return pages_; }
  [[nodiscard]] std::uint64_t size_bytes() const noexcept { return pages_ * geometry_.page_bytes(); }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// Whether writes still go with O_DIRECT (false after a fall-back to the page cache).
  [[nodiscard]] bool direct_io() const noexcept;
  /// Whether pixels are copied into huge-page staging buffers (StagingPolicy) before writing.
  [[nodiscard]] bool stages_in_huge_pages() const noexcept;

 private:
  struct State;
  [[nodiscard]] std::expected<void, WriteFailure> fail(std::uint64_t page, WriteFailure failure) noexcept;

  std::filesystem::path path_;
  PageGeometry geometry_;
  int fd_ = -1;
  bool failed_ = false;
  std::uint64_t pages_ = 0;      ///< complete (written and linked) pages
  std::uint64_t submitted_ = 0;  ///< pages_ + those in flight
  std::unique_ptr<State> state_;  ///< buffers and the I/O thread: on the heap, so that moves leave it in place
};

}  // namespace framering::record
