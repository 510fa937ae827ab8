// record_bench.hpp: `framering bench record`: the recorder on a real ring at full speed against
// plain O_DIRECT 4 MiB write() calls into the same folder, measured in the same run.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace framering::bench {

/// Adds `record` under `bench`; when selected, `action` is set to run it. Exit code 0, 3 when
/// the recorder lost frames, 2 when a child process failed or the folder is unusable.
void add_record_bench(CLI::App& bench, std::function<int()>& action);

}  // namespace framering::bench
