// frame_step.cpp: see the header.
#include "framering/process/frame_step.hpp"

#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "framering/common/error.hpp"

namespace framering::process {

struct FrameStep::Impl {
  enum class Kind { Grey, Colour, Demosaic } kind = Kind::Grey;
  FrameShape input;
  FrameShape output;
  std::vector<FourierFilter> filters;  ///< 1 (grey) or 3 (colour: one per channel); none for a demosaic
  cv::Mat packed;                      ///< demosaic: the mosaic, copied out of its slot
  cv::Mat planes[3];                   ///< colour: one Mono8 plane per channel
  cv::Mat rgb16;                       ///< demosaic of a 16-bit container: before scaling
  int demosaic_code = 0;
  double demosaic_scale = 1.0;

  // A cv::Mat header over `pixels` with `shape`'s rows `stride_bytes` apart (no copy).
  static cv::Mat view(std::span<const std::byte> pixels, const FrameShape& shape, std::uint64_t stride_bytes) {
    const int type = samples_per_pixel(shape.pixel_format) == 3 ? CV_8UC3
                     : bytes_per_sample(shape.pixel_format) == 1 ? CV_8UC1
                                                                 : CV_16UC1;
    return {static_cast<int>(shape.height), static_cast<int>(shape.width), type,
            const_cast<std::byte*>(pixels.data()), static_cast<std::size_t>(stride_bytes)};
  }

  static bool fits(std::size_t bytes, const FrameShape& shape, std::uint64_t stride_bytes) {
    const std::uint64_t row = shape.packed_row_bytes();
    return stride_bytes >= row && bytes >= (std::uint64_t{shape.height} - 1) * stride_bytes + row;
  }
};

int opencv_demosaic_code(PixelFormat format) noexcept {
  const std::string_view cfa = cfa_pattern(format);
  return cfa == "RGGB"   ? cv::COLOR_BayerRGGB2RGB
         : cfa == "GRBG" ? cv::COLOR_BayerGRBG2RGB
         : cfa == "GBRG" ? cv::COLOR_BayerGBRG2RGB
                         : cv::COLOR_BayerBGGR2RGB;
}

FrameStep::FrameStep(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
FrameStep::FrameStep(FrameStep&&) noexcept = default;
FrameStep& FrameStep::operator=(FrameStep&&) noexcept = default;
FrameStep::~FrameStep() = default;

FrameStep FrameStep::filter(const FrameShape& input, const FilterSpec& spec, const PlanOptions& plan) {
  auto impl = std::make_unique<Impl>();
  impl->input = input;
  impl->output = {input.width, input.height, input.pixel_format, 0};
  if (samples_per_pixel(input.pixel_format) == 3) {
    impl->kind = Impl::Kind::Colour;
    const FrameShape plane{input.width, input.height, PixelFormat::Mono8, 0};
    // The first plans are made (or read from wisdom) once; the other two channels find them in
    // FFTW's wisdom in memory and plan nothing.
    for (int c = 0; c < 3; ++c) impl->filters.emplace_back(plane, spec, plan);
    for (auto& p : impl->planes) p.create(static_cast<int>(input.height), static_cast<int>(input.width), CV_8UC1);
  } else {
    impl->filters.emplace_back(input, spec, plan);  // refuses a Bayer mosaic, with the reason
  }
  return FrameStep(std::move(impl));
}

FrameStep FrameStep::demosaic(const FrameShape& input) {
  if (!is_bayer(input.pixel_format)) {
    throw ConfigError(fmt::format("process --mode demosaic takes a Bayer mosaic (BayerRG8, BayerGB16, ...), not {}",
                                  to_string(input.pixel_format)));
  }
  if (input.width < 2 || input.height < 2) {
    throw ConfigError(fmt::format("process --mode demosaic: a {}x{} mosaic holds no whole 2x2 colour filter cell",
                                  input.width, input.height));
  }
  auto impl = std::make_unique<Impl>();
  impl->kind = Impl::Kind::Demosaic;
  impl->input = input;
  impl->output = {input.width, input.height, PixelFormat::RGB8, 0};
  impl->demosaic_code = opencv_demosaic_code(input.pixel_format);
  impl->demosaic_scale = 1.0 / static_cast<double>(1U << (significant_bits(input.pixel_format) - 8));
  const int rows = static_cast<int>(input.height);
  const int cols = static_cast<int>(input.width);
  impl->packed.create(rows, cols, bytes_per_sample(input.pixel_format) == 1 ? CV_8UC1 : CV_16UC1);
  if (bytes_per_sample(input.pixel_format) == 2) impl->rgb16.create(rows, cols, CV_16UC3);
  return FrameStep(std::move(impl));
}

const FrameShape& FrameStep::output_shape() const noexcept { return impl_->output; }
const FrameShape& FrameStep::input_shape() const noexcept { return impl_->input; }

bool FrameStep::load(std::span<const std::byte> pixels, std::uint64_t stride_bytes) noexcept {
  Impl& m = *impl_;
  switch (m.kind) {
    case Impl::Kind::Grey: return m.filters[0].load(pixels, stride_bytes).has_value();
    case Impl::Kind::Colour: {
      if (!Impl::fits(pixels.size(), m.input, stride_bytes)) return false;
      cv::split(Impl::view(pixels, m.input, stride_bytes), m.planes);  // into the planes' own buffers
      for (int c = 0; c < 3; ++c) {
        const auto& p = m.planes[c];
        const std::span<const std::byte> plane(reinterpret_cast<const std::byte*>(p.data), p.total());
        if (!m.filters[static_cast<std::size_t>(c)].load(plane, p.step[0])) return false;
      }
      return true;
    }
    case Impl::Kind::Demosaic:
      if (!Impl::fits(pixels.size(), m.input, stride_bytes)) return false;
      Impl::view(pixels, m.input, stride_bytes).copyTo(m.packed);
      return true;
  }
  return false;
}

void FrameStep::transform() noexcept {
  Impl& m = *impl_;
  if (m.kind == Impl::Kind::Demosaic) {
    // 8-bit: the demosaic writes straight into the output slot, in store(). 16-bit: demosaiced
    // here, scaled to 8 bits into the slot in store().
    if (!m.rgb16.empty()) cv::cvtColor(m.packed, m.rgb16, m.demosaic_code);
    return;
  }
  for (auto& f : m.filters) f.transform();
}

bool FrameStep::store(std::span<std::byte> pixels, std::uint64_t stride_bytes) noexcept {
  Impl& m = *impl_;
  if (m.kind == Impl::Kind::Grey) return m.filters[0].store(pixels, stride_bytes).has_value();
  if (!Impl::fits(pixels.size(), m.output, stride_bytes)) return false;
  cv::Mat out = Impl::view(pixels, m.output, stride_bytes);
  if (m.kind == Impl::Kind::Demosaic) {
    if (m.rgb16.empty()) {
      cv::cvtColor(m.packed, out, m.demosaic_code);
    } else {
      m.rgb16.convertTo(out, CV_8U, m.demosaic_scale);
    }
    return out.data == reinterpret_cast<uchar*>(pixels.data());  // OpenCV wrote into the slot, not a new buffer
  }
  for (int c = 0; c < 3; ++c) {
    auto& p = m.planes[c];
    const std::span<std::byte> plane(reinterpret_cast<std::byte*>(p.data), p.total());
    if (!m.filters[static_cast<std::size_t>(c)].store(plane, p.step[0])) return false;
  }
  cv::merge(m.planes, 3, out);  // into the slot: `out` has the right size and type already
  return out.data == reinterpret_cast<uchar*>(pixels.data());
}

const PlanReport* FrameStep::fourier_report() const noexcept {
  return impl_->filters.empty() ? nullptr : &impl_->filters[0].report();
}

const FourierFilter* FrameStep::fourier_filter() const noexcept {
  return impl_->filters.empty() ? nullptr : &impl_->filters[0];
}

void FrameStep::set_spec(const FilterSpec& spec) {
  if (impl_->filters.empty()) throw ConfigError("a demosaic has no Fourier filter to change");
  spec.validate();
  for (auto& filter : impl_->filters) filter.set_spec(spec);
}

std::string FrameStep::describe() const {
  switch (impl_->kind) {
    case Impl::Kind::Grey: return "Fourier filter";
    case Impl::Kind::Colour: return fmt::format("Fourier filter per channel of {}", to_string(impl_->input.pixel_format));
    case Impl::Kind::Demosaic:
      return fmt::format("demosaic {} -> RGB8 (OpenCV bilinear{})", to_string(impl_->input.pixel_format),
                         impl_->rgb16.empty() ? "" : fmt::format(", / {} to 8 bits", 1.0 / impl_->demosaic_scale));
  }
  return {};
}

}  // namespace framering::process
