#include "framering/process/fft_plans.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>

#include <fftw3.h>
#include <fmt/format.h>

#include "framering/common/clock.hpp"
#include "framering/common/enum_names.hpp"
#include "framering/common/error.hpp"

namespace framering::process {
namespace {

constexpr EnumName<FftLayout> kLayoutNames[] = {
    {FftLayout::Auto, "auto"}, {FftLayout::InPlace, "in-place"}, {FftLayout::OutOfPlace, "out-of-place"}};

// Plans from wisdom only (FFTW_WISDOM_ONLY): null when the wisdom lacks this problem. That is
// how we learn whether a start planned or reused wisdom; FFTW has no other way to say.
template <class MakePlan>
fftwf_plan plan_preferring_wisdom(unsigned flags, bool& from_wisdom, MakePlan make) {
  if (fftwf_plan plan = make(flags | FFTW_WISDOM_ONLY); plan != nullptr) {
    from_wisdom = true;
    return plan;
  }
  from_wisdom = false;
  return make(flags);
}

// A smooth frame with some texture, every value in 0..65535, into `plans`' real rows.
void load_timing_frame(const FftPlans& plans) {
  for (std::uint32_t y = 0; y < plans.height(); ++y) {
    float* row = plans.real() + std::size_t{y} * plans.real_row_floats();
    for (std::uint32_t x = 0; x < plans.width(); ++x) {
      row[x] = static_cast<float>((x * 13U + y * 7U + ((x * y) >> 3)) & 0xFFFFU);
    }
  }
}

std::chrono::nanoseconds time_once(const FftPlans& plans) {
  load_timing_frame(plans);
  const std::uint64_t start = monotonic_ns();
  plans.forward();
  if (plans.has_inverse()) plans.backward();
  return std::chrono::nanoseconds{monotonic_ns() - start};
}

// While FFTW plans (one call, minutes with FFTW_PATIENT at 2 MP) tell the user it still does.
class Heartbeat {
 public:
  Heartbeat(const WisdomProgress& progress, std::string what)
      : thread_([this, &progress, what = std::move(what)](std::stop_token stop) {
          const std::uint64_t start = monotonic_ns();
          std::unique_lock lock(mutex_);
          while (!wake_.wait_for(lock, stop, std::chrono::seconds{15}, [] { return false; })) {
            if (stop.stop_requested()) return;
            progress(fmt::format("  still planning {}: {:.0f} s so far", what,
                                 static_cast<double>(monotonic_ns() - start) / 1e9));
          }
        }) {}

 private:
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: stopped and joined before the mutex goes
};

}  // namespace

std::string_view to_string(FftLayout layout) noexcept { return name_in<FftLayout>(kLayoutNames, layout); }

std::optional<FftLayout> parse_fft_layout(std::string_view name) noexcept {
  return parse_name_in<FftLayout>(kLayoutNames, name);
}

FftPlans::FftPlans(std::uint32_t width, std::uint32_t height, FftLayout layout, unsigned flags, bool with_inverse)
    : layout_(layout), width_(width), height_(height) {
  if (layout == FftLayout::Auto) throw ConfigError("FftPlans needs a layout: in-place or out-of-place, not auto");
  if (width == 0 || height == 0 || width > 65536 || height > 65536) {
    throw ConfigError(fmt::format("cannot plan {}x{} transforms: width and height must be 1..65536", width, height));
  }
  const std::size_t columns = width / 2 + 1;
  spectrum_count_ = std::size_t{height} * columns;
  if (layout == FftLayout::InPlace) {
    real_row_floats_ = 2 * columns;
    real_buffer_ = allocate_fftw_floats(2 * spectrum_count_);
    real_ = real_buffer_.get();
    spectrum_ = real_;
  } else {
    real_row_floats_ = width;
    real_buffer_ = allocate_fftw_floats(std::size_t{height} * width);
    spectrum_buffer_ = allocate_fftw_floats(2 * spectrum_count_);
    real_ = real_buffer_.get();
    spectrum_ = spectrum_buffer_.get();
  }
  const int n0 = static_cast<int>(height);
  const int n1 = static_cast<int>(width);
  auto* complex = reinterpret_cast<fftwf_complex*>(spectrum_);
  const std::uint64_t start_ns = monotonic_ns();
  bool forward_from_wisdom = false;
  bool backward_from_wisdom = true;
  forward_ = plan_preferring_wisdom(flags, forward_from_wisdom,
                                    [&](unsigned f) { return fftwf_plan_dft_r2c_2d(n0, n1, real_, complex, f); });
  if (forward_ == nullptr) {
    throw PlanError(fmt::format("FFTW could not plan a {}x{} {} r2c transform", width, height, to_string(layout)));
  }
  if (with_inverse) {
    backward_ = plan_preferring_wisdom(flags, backward_from_wisdom,
                                       [&](unsigned f) { return fftwf_plan_dft_c2r_2d(n0, n1, complex, real_, f); });
    if (backward_ == nullptr) {
      release();
      throw PlanError(fmt::format("FFTW could not plan a {}x{} {} c2r transform", width, height, to_string(layout)));
    }
  }
  planning_time_ = std::chrono::nanoseconds{monotonic_ns() - start_ns};
  from_wisdom_ = forward_from_wisdom && backward_from_wisdom;
  clear();
}

FftPlans::FftPlans(FftPlans&& other) noexcept
    : layout_(other.layout_),
      width_(other.width_),
      height_(other.height_),
      real_row_floats_(other.real_row_floats_),
      spectrum_count_(other.spectrum_count_),
      real_buffer_(std::move(other.real_buffer_)),
      spectrum_buffer_(std::move(other.spectrum_buffer_)),
      real_(std::exchange(other.real_, nullptr)),
      spectrum_(std::exchange(other.spectrum_, nullptr)),
      forward_(std::exchange(other.forward_, nullptr)),
      backward_(std::exchange(other.backward_, nullptr)),
      from_wisdom_(other.from_wisdom_),
      planning_time_(other.planning_time_) {}

FftPlans& FftPlans::operator=(FftPlans&& other) noexcept {
  if (this != &other) {
    release();
    layout_ = other.layout_;
    width_ = other.width_;
    height_ = other.height_;
    real_row_floats_ = other.real_row_floats_;
    spectrum_count_ = other.spectrum_count_;
    real_buffer_ = std::move(other.real_buffer_);
    spectrum_buffer_ = std::move(other.spectrum_buffer_);
    real_ = std::exchange(other.real_, nullptr);
    spectrum_ = std::exchange(other.spectrum_, nullptr);
    forward_ = std::exchange(other.forward_, nullptr);
    backward_ = std::exchange(other.backward_, nullptr);
    from_wisdom_ = other.from_wisdom_;
    planning_time_ = other.planning_time_;
  }
  return *this;
}

FftPlans::~FftPlans() { release(); }

void FftPlans::release() noexcept {
  if (forward_ != nullptr) fftwf_destroy_plan(std::exchange(forward_, nullptr));
  if (backward_ != nullptr) fftwf_destroy_plan(std::exchange(backward_, nullptr));
}

void FftPlans::forward() const noexcept { fftwf_execute(forward_); }

void FftPlans::backward() const noexcept { fftwf_execute(backward_); }

void FftPlans::clear() const noexcept {
  if (real_ != nullptr) std::memset(real_, 0, std::size_t{height_} * real_row_floats_ * sizeof(float));
}

LayoutTiming time_layouts(const FftPlans& in_place, const FftPlans& out_of_place, int rounds) {
  LayoutTiming timing;
  timing.rounds = std::max(rounds, 1);
  (void)time_once(in_place);  // warm-up: caches, pages, FFTW's threads
  (void)time_once(out_of_place);
  timing.in_place = std::chrono::nanoseconds::max();
  timing.out_of_place = std::chrono::nanoseconds::max();
  for (int round = 0; round < timing.rounds; ++round) {  // alternating: a disturbance hits both alike
    timing.in_place = std::min(timing.in_place, time_once(in_place));
    timing.out_of_place = std::min(timing.out_of_place, time_once(out_of_place));
  }
  timing.faster = timing.in_place <= timing.out_of_place ? FftLayout::InPlace : FftLayout::OutOfPlace;
  in_place.clear();
  out_of_place.clear();
  return timing;
}

void make_wisdom(std::uint32_t width, std::uint32_t height, PlannerRigor rigor, int threads,
                 const std::filesystem::path& path, const WisdomProgress& progress) {
  set_planner_threads(threads);
  const bool had_wisdom = import_wisdom(path);
  // Written now, before minutes of planning, so that an unwritable path fails at once.
  if (auto saved = export_wisdom(path); !saved) {
    throw Error(fmt::format("{} (choose a writable file with --wisdom PATH)", saved.error()));
  }
  progress(fmt::format("making FFTW wisdom for {}x{} frames ({} planner, {} thread(s)) into {}{}: 4 plans (r2c and "
                       "c2r, in-place and out-of-place){}",
                       width, height, to_string(rigor), threads, path.string(),
                       had_wisdom ? ", adding to the wisdom it holds" : "",
                       rigor == PlannerRigor::Patient && std::size_t{width} * height >= 1'000'000
                           ? "; this takes minutes at this size"
                           : ""));
  const unsigned flags = planner_flags(rigor);
  int step = 0;
  for (FftLayout layout : {FftLayout::InPlace, FftLayout::OutOfPlace}) {
    // One FftPlans per layout plans both directions; announce them together, time them as one.
    step += 2;
    const std::string what = fmt::format("{} r2c and c2r", to_string(layout));
    progress(fmt::format("plans {}-{}/4: {} {}x{} ...", step - 1, step, what, width, height));
    std::optional<FftPlans> plans;
    {
      const Heartbeat heartbeat(progress, what);
      plans.emplace(width, height, layout, flags, /*with_inverse=*/true);
    }
    progress(fmt::format("plans {}-{}/4: {} in {:.1f} s{}", step - 1, step, what,
                         std::chrono::duration<double>(plans->planning_time()).count(),
                         plans->from_wisdom() ? " (already in the wisdom file)" : ""));
  }
  if (auto saved = export_wisdom(path); !saved) throw Error(saved.error());
  progress(fmt::format("wisdom saved to {}: `framering process` with {} thread(s) on {}x{} frames plans nothing now",
                       path.string(), threads, width, height));
}

}  // namespace framering::process
