// led_bench.hpp: `framering bench led`: the LED stage's per-frame cost (polar sampling, colour,
// outputs) at skyscreen's 360 x 288 from a 1920x1080 frame, against cv::remap and memcpy.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace framering::bench {

/// Adds `led` under `bench`; when selected, `action` is set to run it (exit code 0).
void add_led_bench(CLI::App& bench, std::function<int()>& action);

}  // namespace framering::bench
