// bridge_bench.hpp: `framering bench bridge`: the bridge over loopback TCP against bare ZeroMQ.
// Both measured in the same run (bench/src/bridge_bench.cpp says how).
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace framering::bench {

/// Adds `bridge` to `bench`; when selected, `action` is set to run it.
/// Exit code 0, 3 when frames were lost across the bridge.
void add_bridge_bench(CLI::App& bench, std::function<int()>& action);

}  // namespace framering::bench
