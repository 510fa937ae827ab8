// demosaic_bench.hpp: `framering bench demosaic` (bench/src/demosaic_bench.cpp).
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace framering::bench {

/// Adds `demosaic` under `bench`; when selected, `action` is set to run it. Exit code 0.
void add_demosaic_bench(CLI::App& bench, std::function<int()>& action);

}  // namespace framering::bench
