// process_command.hpp: `framering process`: FFTW filters from one ring into another (r2c, Fourier-plane mask, c2r).
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace framering::process {

/// Adds the `process` subcommand to `app`. When the user selects it, `action` is set to the
/// function that runs it and returns the exit code (0 ok, 2 could not start, 3 lost frames).
/// The supervisor also builds it to check a pipeline's options before starting anything.
void add_process_subcommand(CLI::App& app, std::function<int()>& action);

}  // namespace framering::process
