#include "framering/acquire/opencv_source.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/videoio.hpp>
#include <spdlog/spdlog.h>

#include "convert.hpp"
#include "framering/common/clock.hpp"

namespace framering::acquire {
namespace {

namespace fs = std::filesystem;

bool all_digits(const std::string& text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
}

// "/dev/video0, /dev/video2" or "none".
std::string v4l2_devices_present() {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/dev", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("video", 0) == 0) found.push_back(entry.path().string());
  }
  std::ranges::sort(found);
  return found.empty() ? std::string{"none"} : fmt::format("{}", fmt::join(found, ", "));
}

// OpenCV's backends log their own failures: silenced while we probe, as our message names the device once.
struct QuietOpenCv {
  cv::utils::logging::LogLevel previous = cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
  QuietOpenCv() = default;
  QuietOpenCv(const QuietOpenCv&) = delete;
  QuietOpenCv& operator=(const QuietOpenCv&) = delete;
  ~QuietOpenCv() { cv::utils::logging::setLogLevel(previous); }
};

}  // namespace

struct OpenCvSource::Impl {
  OpenCvSourceOptions options;
  CaptureKind kind = CaptureKind::V4l2Device;
  std::string path;  // the device path, URL or file
  cv::VideoCapture capture;
  cv::Mat frame;
  cv::Mat grey;
  bool first_pending = true;
  std::uint64_t grabbed = 0;
  int width = 0;
  int height = 0;
  double fps = 0;

  void open() {
    const std::string& device = options.device;
    if (device.empty()) throw SourceError("--device is empty: give a V4L2 index (0), a path (/dev/video0), a URL or a video file");
    if (all_digits(device)) {
      kind = CaptureKind::V4l2Device;
      path = "/dev/video" + device;
    } else if (device.rfind("/dev/", 0) == 0) {
      kind = CaptureKind::V4l2Device;
      path = device;
    } else if (device.find("://") != std::string::npos) {
      kind = CaptureKind::Stream;
      path = device;
    } else {
      kind = CaptureKind::File;
      path = device;
      std::error_code ec;
      if (!fs::is_regular_file(path, ec)) {
        throw SourceError(fmt::format("--device '{}': no such V4L2 device, URL or video file (expected an index like 0, "
                                      "/dev/videoN, rtsp://..., or a video file)", device));
      }
    }
    if (kind == CaptureKind::V4l2Device) check_device_node();
    {
      QuietOpenCv quiet;
      bool opened = false;
      try {
        if (kind == CaptureKind::V4l2Device) {
          opened = capture.open(path, cv::CAP_V4L2);
        } else {
          opened = capture.open(path, cv::CAP_FFMPEG) || capture.open(path, cv::CAP_ANY);
        }
      } catch (const cv::Exception& e) {
        throw SourceError(fmt::format("--device '{}': VideoCapture failed: {}", device, e.what()));
      }
      if (!opened || !capture.isOpened()) {
        throw SourceError(kind == CaptureKind::V4l2Device
                              ? fmt::format("--device '{}': V4L2 device {} exists but could not be opened for capture: "
                                            "busy (another program streams from it: `fuser {}`), or not a capture device",
                                            device, path, path)
                              : fmt::format("--device '{}': VideoCapture cannot open it (not a video it can decode, or "
                                            "the stream does not answer)", device));
      }
      if (kind == CaptureKind::V4l2Device) {
        if (options.width) capture.set(cv::CAP_PROP_FRAME_WIDTH, *options.width);
        if (options.height) capture.set(cv::CAP_PROP_FRAME_HEIGHT, *options.height);
        if (options.fps) capture.set(cv::CAP_PROP_FPS, *options.fps);
      }
      if (!capture.read(frame) || frame.empty()) {
        throw SourceError(fmt::format("--device '{}': opened, but it delivered no frame ({})", device,
                                      kind == CaptureKind::V4l2Device ? "busy, or no signal on the input"
                                                                      : "an empty or unreadable video"));
      }
    }
    const std::string why = unconvertible_reason(frame);
    if (!why.empty()) throw SourceError(fmt::format("--device '{}': its first frame: {}", device, why));
    width = frame.cols;
    height = frame.rows;
    fps = capture.get(cv::CAP_PROP_FPS);
    const std::string asked = (options.width || options.height || options.fps)
                                  ? fmt::format(" (asked {}x{} at {} fps)", options.width.value_or(0), options.height.value_or(0),
                                                options.fps.value_or(0))
                                  : std::string{};
    spdlog::info("opencv {}: {}x{} {} {}, {:.3g} fps as reported by the {} backend{}", path, width, height,
                 frame.depth() == CV_8U ? "8-bit" : "16-bit", frame.channels() == 1 ? "grey" : "colour", fps,
                 capture.getBackendName(), asked);
  }

  // A V4L2 path that is not there, or that we may not open, gets a precise message.
  void check_device_node() const {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      throw SourceError(fmt::format("--device '{}': no V4L2 device {} (devices present: {}); plug one in, or give a "
                                    "video file or URL", options.device, path, v4l2_devices_present()));
    }
    const int fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK);
    if (fd < 0) {
      const int err = errno;
      throw SourceError(fmt::format("--device '{}': cannot open {}: {}{}", options.device, path, std::strerror(err),
                                    err == EACCES ? " (join the 'video' group)" : err == EBUSY ? " (another program uses it)" : ""));
    }
    ::close(fd);
  }

  std::expected<GrabbedFrame, GrabError> grab() {
    if (first_pending) {
      first_pending = false;
    } else if (!capture.read(frame) || frame.empty()) {
      if (kind == CaptureKind::File) return std::unexpected(GrabError::EndOfSource);
      spdlog::error("opencv {}: the device stopped delivering frames after {} (unplugged, or taken by another program)",
                    path, grabbed);
      return std::unexpected(GrabError::EndOfSource);
    }
    const std::uint64_t id = grabbed++;
    if (frame.cols != width || frame.rows != height || !unconvertible_reason(frame).empty()) {
      spdlog::warn("opencv {}: frame {} is {}x{} with {} channels, the ring is {}x{}: skipped", path, id, frame.cols,
                   frame.rows, frame.channels(), width, height);
      return std::unexpected(GrabError::Unreadable);
    }
    return GrabbedFrame{.camera_frame_id = id, .timestamp_ns = realtime_ns()};
  }
};

OpenCvSource::OpenCvSource(const OpenCvSourceOptions& options) : impl_(std::make_unique<Impl>()) {
  if (const std::string why = ring_format_reason(options.pixel_format); !why.empty()) {
    throw ConfigError(fmt::format("--source opencv: {}", why));
  }
  impl_->options = options;
  impl_->open();
}

OpenCvSource::~OpenCvSource() = default;

FrameShape OpenCvSource::shape() const noexcept {
  const auto width = static_cast<std::uint32_t>(impl_->width);
  return {width, static_cast<std::uint32_t>(impl_->height), impl_->options.pixel_format,
          std::uint64_t{width} * bytes_per_pixel(impl_->options.pixel_format)};
}

std::expected<GrabbedFrame, GrabError> OpenCvSource::grab() noexcept {
  try {
    return impl_->grab();
  } catch (const std::exception& e) {
    spdlog::warn("opencv {}: frame {} unreadable: {}", impl_->path, impl_->grabbed, e.what());
    ++impl_->grabbed;
    return std::unexpected(GrabError::Unreadable);
  }
}

void OpenCvSource::write(std::span<std::byte> pixels, const FrameShape& frame, std::uint64_t /*sequence*/) noexcept {
  try {
    convert_into_slot(impl_->frame, impl_->grey, pixels, frame, impl_->options.scale_8bit);
  } catch (const std::exception& e) {
    spdlog::critical("opencv {}: converting frame {} into the slot failed: {}", impl_->path, impl_->grabbed, e.what());
    std::abort();
  }
}

std::string OpenCvSource::describe() const {
  const char* what = impl_->kind == CaptureKind::V4l2Device ? "V4L2 device" : impl_->kind == CaptureKind::Stream ? "stream" : "video file";
  return fmt::format("opencv {} {} ({}x{}, {:.3g} fps, {} backend)", what, impl_->path, impl_->width, impl_->height, impl_->fps,
                     impl_->capture.getBackendName());
}

bool OpenCvSource::paces_itself() const noexcept { return impl_->kind != CaptureKind::File; }

CaptureKind OpenCvSource::kind() const noexcept { return impl_->kind; }

}  // namespace framering::acquire
