// colormap.hpp: colour maps by name for the 8-bit image the contrast stretch makes, through
// cv::applyColorMap (OpenCV's tables: viridis, inferno, magma, plasma, jet, turbo, hot, ...).
#pragma once

#include <string>
#include <string_view>

namespace cv {
class Mat;
}

namespace framering::display {

/// A colour map chosen by name: either grayscale (`none`, or its alias `gray`), which leaves
/// the 8-bit image as it is, or one of OpenCV's cv::ColormapTypes.
class Colormap {
 public:
  /// Grayscale.
  Colormap() = default;

  /// The map called `name` (lower case, as colormap_names() lists them). Throws ConfigError
  /// naming `name` and listing every valid name when it is unknown.
  [[nodiscard]] static Colormap from_name(std::string_view name);

  /// Every name from_name() accepts, comma-separated: "none, gray, autumn, bone, ...".
  [[nodiscard]] static std::string names();

  [[nodiscard]] std::string_view name() const noexcept { return name_; }
  /// True for `none`/`gray`: apply() keeps one channel.
  [[nodiscard]] bool is_gray() const noexcept { return code_ < 0; }

  /// Maps `gray` (CV_8UC1, height x width) into `out`: CV_8UC3 in BGR order (OpenCV's channel
  /// order, as cv::imshow and cv::imwrite expect) for a colour map, or a CV_8UC1 copy for
  /// grayscale. `out` is (re)allocated only when its type or size differs. Throws ConfigError
  /// when `gray` is not CV_8UC1.
  void apply(const cv::Mat& gray, cv::Mat& out) const;

 private:
  Colormap(std::string_view name, int code) : name_(name), code_(code) {}

  std::string_view name_ = "none";  ///< points into a static table
  int code_ = -1;                   ///< cv::ColormapTypes value, or -1 for grayscale
};

}  // namespace framering::display
