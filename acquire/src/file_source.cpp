#include "framering/acquire/file_source.hpp"

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <spdlog/spdlog.h>

#include "convert.hpp"
#include "framering/common/clock.hpp"

namespace framering::acquire {
namespace {

namespace fs = std::filesystem;

// Stacks up to this size are decoded once at start; bigger ones page by page.
constexpr std::uint64_t kPreloadLimitBytes = 1ULL << 30U;

std::string lower(std::string text) {
  std::ranges::transform(text, text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool is_tiff(const fs::path& path) {
  const std::string ext = lower(path.extension().string());
  return ext == ".tif" || ext == ".tiff";
}

bool has_glob_characters(const std::string& path) { return path.find_first_of("*?[") != std::string::npos; }

bool is_image_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  try {
    return cv::haveImageReader(path.string());
  } catch (const cv::Exception&) {
    return false;
  }
}

std::vector<std::string> list_folder(const std::string& folder) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (is_image_file(entry.path())) files.push_back(entry.path().string());
  }
  if (ec) throw SourceError(fmt::format("--path '{}': cannot list the folder: {}", folder, ec.message()));
  std::ranges::sort(files);
  return files;
}

std::vector<std::string> list_glob(const std::string& pattern) {
  glob_t matches{};
  const int rc = ::glob(pattern.c_str(), 0, nullptr, &matches);
  std::vector<std::string> files;
  if (rc == 0) {
    for (std::size_t i = 0; i < matches.gl_pathc; ++i) {
      if (is_image_file(matches.gl_pathv[i])) files.emplace_back(matches.gl_pathv[i]);
    }
  }
  ::globfree(&matches);
  if (rc != 0 && rc != GLOB_NOMATCH) throw SourceError(fmt::format("--path '{}': the glob failed (error {})", pattern, rc));
  std::ranges::sort(files);  // glob sorts already (by the locale); by bytes here, as for folders
  return files;
}

}  // namespace

struct FileSource::Impl {
  FileSourceOptions options;
  FileKind kind = FileKind::ImageSequence;
  // TiffStack
  std::vector<cv::Mat> pages;   // every page, when preloaded
  std::size_t page_count = 0;
  bool lazy_pages = false;      // read page by page (imreadmulti start, 1)
  // ImageSequence
  std::vector<std::string> files;
  // Video
  cv::VideoCapture capture;
  std::uint64_t video_frame_count = 0;
  std::uint64_t frames_this_pass = 0;

  cv::Mat frame;  // the frame last grabbed, as decoded
  cv::Mat grey;   // scratch: colour to grey before a depth change
  bool first_pending = true;  // `frame` holds the first frame, decoded at open
  std::size_t position = 0;   // index in the pass of the next frame to grab
  std::uint64_t grabbed = 0;  // frames grabbed since start, readable or not
  std::uint64_t passes = 0;
  int width = 0;
  int height = 0;
  int source_depth = CV_8U;
  int source_channels = 1;
  std::string name_of_last;  // what was last grabbed, for warnings

  cv::Mat read_page(std::size_t index) const {
    if (!lazy_pages) return pages[index];
    std::vector<cv::Mat> one;
    if (!cv::imreadmulti(options.path, one, static_cast<int>(index), 1, cv::IMREAD_UNCHANGED) || one.empty()) return {};
    return one.front();
  }

  void open() {
    const std::string& path = options.path;
    if (path.empty()) throw SourceError("--source files needs --path (a TIFF stack, a folder of images, a glob or a video)");
    std::error_code ec;
    const fs::path p(path);
    if (fs::is_directory(p, ec)) {
      kind = FileKind::ImageSequence;
      files = list_folder(path);
      if (files.empty()) {
        throw SourceError(fmt::format("--path '{}': the folder holds no image file OpenCV can read (expected TIFF, PNG, "
                                      "JPEG, BMP, PGM... files)", path));
      }
    } else if (!fs::exists(p, ec) && has_glob_characters(path)) {
      kind = FileKind::ImageSequence;
      files = list_glob(path);
      if (files.empty()) throw SourceError(fmt::format("--path '{}': the glob matches no image file", path));
    } else if (!fs::exists(p, ec)) {
      throw SourceError(fmt::format("--path '{}': no such file or folder (expected a TIFF stack, a folder of images, "
                                    "a glob like 'dir/*.png' or a video)", path));
    } else if (!fs::is_regular_file(p, ec)) {
      throw SourceError(fmt::format("--path '{}': not a regular file or folder", path));
    } else if (is_tiff(p)) {
      kind = FileKind::TiffStack;
      open_stack();
      return;
    } else if (is_image_file(p)) {
      kind = FileKind::ImageSequence;
      files = {path};
    } else {
      kind = FileKind::Video;
      open_video();
      return;
    }
    try {
      frame = cv::imread(files.front(), cv::IMREAD_UNCHANGED);
    } catch (const cv::Exception& e) {  // a decoder's refusal, e.g. a header claiming too many pixels
      throw SourceError(fmt::format("--path '{}': cannot decode '{}': {}", path, files.front(), e.what()));
    }
    name_of_last = files.front();
    adopt_first_frame(fmt::format("'{}'", files.front()));
  }

  void open_stack() {
    const std::string& path = options.path;
    try {
      page_count = cv::imcount(path, cv::IMREAD_UNCHANGED);
      std::vector<cv::Mat> first;
      if (page_count == 0 || !cv::imreadmulti(path, first, 0, 1, cv::IMREAD_UNCHANGED) || first.empty()) {
        throw SourceError(fmt::format("--path '{}': not a readable TIFF (OpenCV decoded no page)", path));
      }
      frame = first.front();
      const std::uint64_t stack_bytes = page_count * frame.total() * frame.elemSize();
      lazy_pages = stack_bytes > kPreloadLimitBytes;
      if (!lazy_pages) {
        if (!cv::imreadmulti(path, pages, cv::IMREAD_UNCHANGED) || pages.empty()) {
          throw SourceError(fmt::format("--path '{}': OpenCV could not decode the TIFF's pages", path));
        }
        page_count = pages.size();
      }
    } catch (const cv::Exception& e) {
      throw SourceError(fmt::format("--path '{}': not a readable TIFF: {}", path, e.what()));
    }
    name_of_last = fmt::format("{} page 0", path);
    adopt_first_frame(fmt::format("'{}' page 0", path));
  }

  void open_video() {
    const std::string& path = options.path;
    try {
      if (!open_capture() || !capture.isOpened()) {
        throw SourceError(fmt::format("--path '{}': neither an image OpenCV can read nor a video VideoCapture can open",
                                      path));
      }
      const double count = capture.get(cv::CAP_PROP_FRAME_COUNT);
      video_frame_count = count > 0 ? static_cast<std::uint64_t>(count) : 0;
      if (!capture.read(frame)) throw SourceError(fmt::format("--path '{}': the video has no readable frame", path));
    } catch (const cv::Exception& e) {
      throw SourceError(fmt::format("--path '{}': cannot read it as a video: {}", path, e.what()));
    }
    name_of_last = fmt::format("{} frame 0", path);
    adopt_first_frame(fmt::format("'{}' frame 0", path));
  }

  // FFmpeg first (it reads the common containers), then whatever backend OpenCV finds. Each
  // backend that fails logs an OpenCV error of its own: silenced, as the caller's message
  // names the path once.
  bool open_capture() {
    struct QuietOpenCv {
      cv::utils::logging::LogLevel previous = cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
      ~QuietOpenCv() { cv::utils::logging::setLogLevel(previous); }
    } quiet;
    return capture.open(options.path, cv::CAP_FFMPEG) || capture.open(options.path, cv::CAP_ANY);
  }

  void adopt_first_frame(const std::string& what) {
    const std::string why = unconvertible_reason(frame);
    if (!why.empty()) throw SourceError(fmt::format("--path '{}': {}: {}", options.path, what, why));
    width = frame.cols;
    height = frame.rows;
    source_depth = frame.depth();
    source_channels = frame.channels();
    frames_this_pass = 1;
  }

  // Decodes the next frame of the pass into `frame`; false at the end of the pass.
  bool next_in_pass() {
    switch (kind) {
      case FileKind::TiffStack:
        if (position >= page_count) return false;
        name_of_last = fmt::format("{} page {}", options.path, position);
        frame = read_page(position++);
        return true;
      case FileKind::ImageSequence:
        if (position >= files.size()) return false;
        name_of_last = files[position];
        frame = cv::imread(files[position++], cv::IMREAD_UNCHANGED);
        return true;
      case FileKind::Video:
        name_of_last = fmt::format("{} frame {}", options.path, frames_this_pass);
        if (!capture.read(frame)) return false;
        ++frames_this_pass;
        return true;
    }
    return false;
  }

  // Starts the next pass; false when the source cannot (or must not) loop.
  bool rewind() {
    if (!options.loop) return false;
    ++passes;
    position = 0;
    if (kind == FileKind::Video) {
      if (frames_this_pass == 0) return false;  // a pass that yielded nothing: do not spin
      frames_this_pass = 0;
      if (!capture.set(cv::CAP_PROP_POS_FRAMES, 0)) {
        capture.release();
        if (!open_capture()) return false;
      }
    }
    return true;
  }

  std::expected<GrabbedFrame, GrabError> grab() {
    if (first_pending) {
      first_pending = false;
      position = 1;
    } else if (!next_in_pass()) {
      if (!rewind() || !next_in_pass()) return std::unexpected(GrabError::EndOfSource);
    }
    const std::uint64_t id = grabbed++;
    std::string why = unconvertible_reason(frame);
    if (why.empty() && (frame.cols != width || frame.rows != height)) {
      why = fmt::format("it is {}x{}, the ring is {}x{} (the first frame's size)", frame.cols, frame.rows, width, height);
    }
    if (!why.empty()) {
      // The first pass names every bad frame; later passes would only repeat it.
      const auto level = passes == 0 ? spdlog::level::warn : spdlog::level::debug;
      spdlog::log(level, "skipping {} (source frame {}): {}", name_of_last, id, why);
      return std::unexpected(GrabError::Unreadable);
    }
    return GrabbedFrame{.camera_frame_id = id, .timestamp_ns = realtime_ns()};
  }

  void write(std::span<std::byte> pixels, const FrameShape& shape) {
    convert_into_slot(frame, grey, pixels, shape, options.scale_to_16bit);
  }
};

FileSource::FileSource(const FileSourceOptions& options) : impl_(std::make_unique<Impl>()) {
  if (const std::string why = ring_format_reason(options.pixel_format); !why.empty()) {
    throw ConfigError(fmt::format("--source files: {}", why));
  }
  impl_->options = options;
  impl_->open();
}

FileSource::~FileSource() = default;

FrameShape FileSource::shape() const noexcept {
  const auto width = static_cast<std::uint32_t>(impl_->width);
  return {width, static_cast<std::uint32_t>(impl_->height), impl_->options.pixel_format,
          std::uint64_t{width} * bytes_per_pixel(impl_->options.pixel_format)};
}

std::expected<GrabbedFrame, GrabError> FileSource::grab() noexcept {
  try {
    return impl_->grab();
  } catch (const std::exception& e) {  // cv::Exception from a decoder, std::bad_alloc
    spdlog::warn("skipping {} (source frame {}): {}", impl_->name_of_last, impl_->grabbed, e.what());
    ++impl_->grabbed;
    return std::unexpected(GrabError::Unreadable);
  }
}

void FileSource::write(std::span<std::byte> pixels, const FrameShape& frame, std::uint64_t /*sequence*/) noexcept {
  try {
    impl_->write(pixels, frame);
  } catch (const std::exception& e) {
    // grab() checked size, depth and channels: a conversion failing here is a broken invariant.
    spdlog::critical("converting {} into the slot failed: {}", impl_->name_of_last, e.what());
    std::abort();
  }
}

std::string FileSource::describe() const {
  const Impl& d = *impl_;
  const std::string format = fmt::format("{}x{} {} {}", d.width, d.height, d.source_depth == CV_8U ? "8-bit" : "16-bit",
                                         d.source_channels == 1 ? "grey" : "colour");
  std::string what;
  switch (d.kind) {
    case FileKind::TiffStack: what = fmt::format("TIFF stack of {} pages", d.page_count); break;
    case FileKind::ImageSequence: what = fmt::format("image sequence of {} files", d.files.size()); break;
    case FileKind::Video:
      what = fmt::format("video ({} frames, {} backend)", d.video_frame_count, d.capture.getBackendName());
      break;
  }
  return fmt::format("files {} ({}, {}){}", d.options.path, what, format, d.options.loop ? ", looping" : ", one pass");
}

FileKind FileSource::kind() const noexcept { return impl_->kind; }
int FileSource::source_bits() const noexcept { return impl_->source_depth == CV_8U ? 8 : 16; }
std::uint64_t FileSource::frames_per_pass() const noexcept {
  switch (impl_->kind) {
    case FileKind::TiffStack: return impl_->page_count;
    case FileKind::ImageSequence: return impl_->files.size();
    case FileKind::Video: return impl_->video_frame_count;
  }
  return 0;
}

}  // namespace framering::acquire
