// ring_bench.hpp: `framering bench ...`, the benchmarks that print their figures (and JSON with
// --json). Never part of the default test run.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace framering::bench {

/// Adds `bench` (with `bench ring`) to `app`; when selected, `action` is set to run it.
void add_bench_subcommand(CLI::App& app, std::function<int()>& action);

}  // namespace framering::bench
