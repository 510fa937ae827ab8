// process_bench.hpp: `framering bench process`: the process stage's throughput on rings against
// the same FFTW steps in a bare loop, measured in the same run.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace framering::bench {

/// Adds `process` under `bench`; when selected, `action` is set to run it. Exit code 0, 1
/// when a child process failed, 3 when the pipeline lost or reordered frames.
void add_process_bench(CLI::App& bench, std::function<int()>& action);

}  // namespace framering::bench
