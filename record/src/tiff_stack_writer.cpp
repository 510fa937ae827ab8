// tiff_stack_writer.cpp: see the header for the file layout and the write order.
#include "framering/record/tiff_stack_writer.hpp"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "framering/common/error.hpp"

namespace framering::record {
namespace {

// TIFF field types (TIFF 6.0 section 2; LONG8 from BigTIFF).
constexpr std::uint16_t kShort = 3;
constexpr std::uint16_t kLong = 4;
constexpr std::uint16_t kRational = 5;
constexpr std::uint16_t kLong8 = 16;

struct Entry {
  std::uint16_t tag;
  std::uint16_t type;
  std::uint64_t value;  ///< the value itself, or (RATIONAL) the offset of its 8 bytes
};

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

// File offset of the next-IFD field of page `page`'s IFD (for linking and for cutting).
std::uint64_t next_ifd_field_offset(const PageGeometry& g, std::uint64_t page) noexcept {
  constexpr std::uint64_t kEntries = 15;
  const std::uint64_t ifd = page * g.page_bytes() + kIfdOffsetInBlock;
  return g.bigtiff ? ifd + 8 + kEntries * 20 : ifd + 2 + kEntries * 12;
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
  constexpr std::uint64_t kEntries = 15;
  // The two RATIONALs (72/1 pixels per unit, as libtiff writes by default) follow the IFD.
  const std::uint64_t rationals = kIfdOffsetInBlock + head_bytes + kEntries * entry_bytes + tail_bytes;
  const Entry entries[kEntries] = {
      {254, kLong, 0},                                                  // NewSubfileType: a full image
      {256, kLong, g.frame.width},                                      // ImageWidth
      {257, kLong, g.frame.height},                                     // ImageLength
      {258, kShort, g.bits_per_sample()},                               // BitsPerSample
      {259, kShort, 1},                                                 // Compression: none
      {262, kShort, 1},                                                 // PhotometricInterpretation: BlackIsZero
      {273, offset_type, page_start + kIfdBlockBytes},                  // StripOffsets
      {277, kShort, 1},                                                 // SamplesPerPixel
      {278, kLong, g.frame.height},                                     // RowsPerStrip: one strip
      {279, offset_type, g.frame_bytes()},                              // StripByteCounts
      {282, kRational, page_start + rationals},                         // XResolution
      {283, kRational, page_start + rationals + 8},                     // YResolution
      {284, kShort, 1},                                                 // PlanarConfiguration: chunky
      {296, kShort, 1},                                                 // ResolutionUnit: none
      {339, kShort, 1},                                                 // SampleFormat: unsigned integer
  };
  std::byte* ifd = b + kIfdOffsetInBlock;
  if (g.bigtiff) {
    put<std::uint64_t>(ifd, kEntries);
  } else {
    put<std::uint16_t>(ifd, kEntries);
  }
  std::byte* e = ifd + head_bytes;
  for (const Entry& entry : entries) {
    put<std::uint16_t>(e, entry.tag);
    put<std::uint16_t>(e + 2, entry.type);
    if (g.bigtiff) {
      put<std::uint64_t>(e + 4, 1);
      if (entry.type == kShort) {
        put<std::uint16_t>(e + 12, static_cast<std::uint16_t>(entry.value));
      } else {
        put<std::uint64_t>(e + 12, entry.value);  // LONG in the low 4 bytes, LONG8 and offsets whole
      }
    } else {
      put<std::uint32_t>(e + 4, 1);
      if (entry.type == kShort) {
        put<std::uint16_t>(e + 8, static_cast<std::uint16_t>(entry.value));
      } else {
        put<std::uint32_t>(e + 8, static_cast<std::uint32_t>(entry.value));
      }
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

// Two IFD blocks (this page's and the previous one's, which is rewritten to link them) and,
// only when rows must be packed, a staging buffer for the pixels.
struct TiffStackWriter::Buffers {
  AlignedBytes blocks[2];
  AlignedBytes staging;
};

TiffStackWriter::TiffStackWriter(std::filesystem::path path, const PageGeometry& geometry, bool direct_io)
    : path_(std::move(path)), geometry_(geometry), buffers_(std::make_unique<Buffers>()) {
  buffers_->blocks[0] = aligned_bytes(kIfdBlockBytes);
  buffers_->blocks[1] = aligned_bytes(kIfdBlockBytes);
  const int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
  if (direct_io) {
    fd_ = ::open(path_.c_str(), flags | O_DIRECT, 0644);
    direct_ = fd_ >= 0;
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
}

TiffStackWriter::TiffStackWriter(TiffStackWriter&& other) noexcept
    : path_(std::move(other.path_)),
      geometry_(other.geometry_),
      fd_(std::exchange(other.fd_, -1)),
      direct_(other.direct_),
      failed_(other.failed_),
      pages_(other.pages_),
      buffers_(std::move(other.buffers_)) {}

TiffStackWriter::~TiffStackWriter() { (void)close(); }

bool TiffStackWriter::fall_back_to_buffered() noexcept {
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT) != 0) return false;
  direct_ = false;
  spdlog::info("{}: O_DIRECT write refused (EINVAL); writing through the page cache", path_.string());
  return true;
}

std::expected<void, WriteFailure> TiffStackWriter::write_all(const ::iovec* iov_in, int count,
                                                             std::uint64_t offset) noexcept {
  ::iovec iov[2];
  for (int i = 0; i < count; ++i) iov[i] = iov_in[i];
  int first = 0;
  while (first < count) {
    const ssize_t n = ::pwritev(fd_, iov + first, count - first, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EINVAL && direct_ && fall_back_to_buffered()) continue;
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
      if (direct_ && (left % kIfdBlockBytes) != 0) (void)fall_back_to_buffered();
      iov[first].iov_base = static_cast<std::byte*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return {};
}

std::expected<void, WriteFailure> TiffStackWriter::append(const std::byte* pixels, std::uint64_t stride_bytes,
                                                          std::uint64_t readable_bytes) noexcept {
  if (failed_ || fd_ < 0) return std::unexpected(WriteFailure{EBADF, "appending after a failure"});
  const PageGeometry& g = geometry_;
  const std::uint64_t row_bytes = g.frame.packed_row_bytes();
  const std::uint64_t padded = g.padded_frame_bytes();
  const std::byte* data = pixels;
  const bool in_place = stride_bytes == row_bytes && readable_bytes >= padded &&
                        reinterpret_cast<std::uintptr_t>(pixels) % kIfdBlockBytes == 0;
  if (!in_place) {
    if (!buffers_->staging) {
      try {
        buffers_->staging = aligned_bytes(padded);
      } catch (const std::bad_alloc&) {
        return std::unexpected(WriteFailure{ENOMEM, fmt::format("allocating a staging buffer for page {}", pages_)});
      }
    }
    for (std::uint32_t y = 0; y < g.frame.height; ++y) {
      std::memcpy(buffers_->staging.get() + y * row_bytes, pixels + y * stride_bytes, row_bytes);
    }
    data = buffers_->staging.get();
  }

  const std::uint64_t page = pages_;
  const std::uint64_t page_start = page * g.page_bytes();
  std::byte* block = buffers_->blocks[page % 2].get();
  std::memset(block, 0, kIfdBlockBytes);
  encode_ifd_block(std::span<std::byte, kIfdBlockBytes>(block, kIfdBlockBytes), g, page, 0);
  const ::iovec page_iov[2] = {{block, kIfdBlockBytes}, {const_cast<std::byte*>(data), padded}};
  if (auto written = write_all(page_iov, 2, page_start); !written) {
    failed_ = true;
    (void)::ftruncate(fd_, static_cast<off_t>(page_start));  // back to the last complete page
    return std::unexpected(WriteFailure{written.error().error, fmt::format("writing page {}", page)});
  }
  if (page > 0) {
    // Link: rewrite the previous page's whole IFD block (O_DIRECT writes whole aligned blocks).
    std::byte* previous = buffers_->blocks[(page - 1) % 2].get();
    const std::uint64_t field = next_ifd_field_offset(g, page - 1) - (page - 1) * g.page_bytes();
    if (g.bigtiff) {
      put<std::uint64_t>(previous + field, page_start + kIfdOffsetInBlock);
    } else {
      put<std::uint32_t>(previous + field, static_cast<std::uint32_t>(page_start + kIfdOffsetInBlock));
    }
    const ::iovec link_iov[1] = {{previous, kIfdBlockBytes}};
    if (auto linked = write_all(link_iov, 1, (page - 1) * g.page_bytes()); !linked) {
      failed_ = true;
      (void)::ftruncate(fd_, static_cast<off_t>(page_start));
      return std::unexpected(
          WriteFailure{linked.error().error, fmt::format("linking page {} to page {}", page - 1, page)});
    }
  }
  ++pages_;
  return {};
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
  const std::uint64_t after = (pages_ + 1) * geometry_.page_bytes();
  if (!geometry_.bigtiff && after > kClassicTiffMaxBytes) return false;
  if (max_bytes > 0 && after > max_bytes && pages_ > 0) return false;  // a page bigger than the limit still goes alone
  return true;
}

std::expected<void, WriteFailure> TiffStackWriter::close() noexcept {
  if (fd_ < 0) return {};
  std::expected<void, WriteFailure> result;
  if (!direct_ && pages_ > 0 && ::fdatasync(fd_) != 0) result = std::unexpected(WriteFailure{errno, "flushing"});
  if (::close(fd_) != 0 && result) result = std::unexpected(WriteFailure{errno, "closing"});
  fd_ = -1;
  if (pages_ == 0) {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  return result;
}

}  // namespace framering::record
