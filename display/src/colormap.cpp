#include "framering/display/colormap.hpp"

#include <array>
#include <utility>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "framering/common/error.hpp"

namespace framering::display {
namespace {

struct NamedMap {
  std::string_view name;
  int code;  // -1: grayscale
};

constexpr std::array kMaps{
    NamedMap{"none", -1},
    NamedMap{"gray", -1},
    NamedMap{"autumn", cv::COLORMAP_AUTUMN},
    NamedMap{"bone", cv::COLORMAP_BONE},
    NamedMap{"jet", cv::COLORMAP_JET},
    NamedMap{"winter", cv::COLORMAP_WINTER},
    NamedMap{"rainbow", cv::COLORMAP_RAINBOW},
    NamedMap{"ocean", cv::COLORMAP_OCEAN},
    NamedMap{"summer", cv::COLORMAP_SUMMER},
    NamedMap{"spring", cv::COLORMAP_SPRING},
    NamedMap{"cool", cv::COLORMAP_COOL},
    NamedMap{"hsv", cv::COLORMAP_HSV},
    NamedMap{"pink", cv::COLORMAP_PINK},
    NamedMap{"hot", cv::COLORMAP_HOT},
    NamedMap{"parula", cv::COLORMAP_PARULA},
    NamedMap{"magma", cv::COLORMAP_MAGMA},
    NamedMap{"inferno", cv::COLORMAP_INFERNO},
    NamedMap{"plasma", cv::COLORMAP_PLASMA},
    NamedMap{"viridis", cv::COLORMAP_VIRIDIS},
    NamedMap{"cividis", cv::COLORMAP_CIVIDIS},
    NamedMap{"twilight", cv::COLORMAP_TWILIGHT},
    NamedMap{"twilight_shifted", cv::COLORMAP_TWILIGHT_SHIFTED},
    NamedMap{"turbo", cv::COLORMAP_TURBO},
    NamedMap{"deepgreen", cv::COLORMAP_DEEPGREEN},
};

}  // namespace

Colormap Colormap::from_name(std::string_view name) {
  for (const auto& map : kMaps) {
    if (map.name == name) return {map.name, map.code};
  }
  throw ConfigError(fmt::format("--colormap '{}' is not a colour map; valid names: {}", name, names()));
}

std::string Colormap::names() {
  std::string out;
  for (const auto& map : kMaps) {
    if (!out.empty()) out += ", ";
    out += map.name;
  }
  return out;
}

void Colormap::apply(const cv::Mat& gray, cv::Mat& out) const {
  if (gray.type() != CV_8UC1) {
    throw ConfigError(fmt::format("colour map {}: input must be 8-bit, one channel (CV_8UC1), got type {}", name_,
                                  gray.type()));
  }
  try {
    if (is_gray()) {
      gray.copyTo(out);
    } else {
      cv::applyColorMap(gray, out, code_);
    }
  } catch (const cv::Exception& e) {
    throw Error(fmt::format("colour map {}: OpenCV failed: {}", name_, e.what()));
  }
}

}  // namespace framering::display
