// fuzz_acquire_file_source: `framering acquire --source files --path FILE` on a malformed TIFF or
// PNG: acquire::FileSource opens the file (OpenCV decodes it), then grabs frames and writes each
// into a slot-sized buffer, as the acquire loop does.
//
// Input: flags (1 byte) | the file's bytes, written to a fresh temporary file. flags:
//   bit 0     the file is named .png (else .tif: the multi-page TIFF path)
//   bits 2-3  the ring's pixel format: Mono16, Mono8, Mono12, Mono10
//   bit 4     scale 8-bit sources to the ring's range (--scale-to-16bit)
//   bit 5     loop (--loop): the grabs below run past the end of one pass
//   bit 6     the slot's rows are 64 bytes longer than the frame's (a padded ring stride)
//
// What must hold (beyond no crash and no sanitizer report): the source opens or throws
// acquire::SourceError (a message naming the path); an open source has a non-empty shape whose
// stride is width x bytes per pixel of the ring's format; grab() and write() never throw (they are
// noexcept: an exception would end in std::terminate) and write() stays inside the slot, whose
// buffer is exactly height rows of the ring's stride.
//
// fuzz/run.sh sets OPENCV_IO_MAX_IMAGE_PIXELS (OpenCV reads it when it loads, before any code
// here) so that a header claiming a huge image is refused by OpenCV instead of allocating it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "framering/acquire/file_source.hpp"
#include "framering/common/pixel_format.hpp"
#include "fuzz_support.hpp"

namespace {

using namespace framering;

constexpr int kGrabs = 4;  // a pass of up to 3 pages, then a loop back
constexpr std::uint64_t kRowPaddingBytes = 64;

void require(bool holds, const char* rule) {
  if (holds) return;
  std::fprintf(stderr, "fuzz_acquire_file_source: an open source breaks: %s\n", rule);
  std::abort();
}

PixelFormat format_of(std::uint8_t flags) {
  switch ((flags >> 2U) & 3U) {
    case 1: return PixelFormat::Mono8;
    case 2: return PixelFormat::Mono12;
    case 3: return PixelFormat::Mono10;
    default: return PixelFormat::Mono16;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return -1;
  const std::uint8_t flags = data[0];
  const fuzz::TempFolder folder;
  const auto path = folder.path() / ((flags & 1U) != 0 ? "frame.png" : "stack.tif");
  fuzz::write_file(path, fuzz::as_text(data + 1, size - 1));

  acquire::FileSourceOptions options;
  options.path = path.string();
  options.pixel_format = format_of(flags);
  options.scale_to_16bit = (flags & 0x10U) != 0;
  options.loop = (flags & 0x20U) != 0;
  std::optional<acquire::FileSource> source;
  try {
    source.emplace(options);
  } catch (const acquire::SourceError&) {
    return 0;  // refused, naming the path: `framering acquire` exits 2 with it
  }

  auto slot = source->shape();  // the ring the acquire loop creates for it
  require(slot.width > 0 && slot.height > 0, "a non-empty shape");
  require(slot.stride_bytes == std::uint64_t{slot.width} * bytes_per_pixel(options.pixel_format),
          "stride = width x bytes per pixel of the ring's format");
  if ((flags & 0x40U) != 0) slot.stride_bytes += kRowPaddingBytes;
  std::vector<std::byte> pixels(slot.stride_bytes * slot.height);
  for (int k = 0; k < kGrabs; ++k) {
    const auto grabbed = source->grab();
    if (!grabbed) {
      if (grabbed.error() == acquire::GrabError::EndOfSource) break;
      continue;  // an unreadable page: skipped, as the loop does
    }
    source->write(pixels, slot, static_cast<std::uint64_t>(k));
  }
  (void)source->describe();
  return 0;
}
