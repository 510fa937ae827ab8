#!/usr/bin/env bash
# setup-deps.sh: installs everything framering needs to build and test, from Debian 12's
# packages only. Idempotent: run it as root as often as you like; it installs only what is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  ccache                  # compiler cache: CI and rebuilds reuse objects (CMake picks it up when present)
  libboost-dev            # Boost.Interprocess (header-only)
  libcli11-dev            # command lines
  libfftw3-dev            # FFTW3 single precision (fftwf_*)
  libspdlog-dev libfmt-dev
  nlohmann-json3-dev      # JSON output (--json, summaries)
  libtomlplusplus-dev     # config files
  libgtest-dev libgmock-dev
  libbenchmark-dev
  libopencv-dev           # acquire (image files, video), display (window, PNG snapshots)
  libtiff-dev             # multi-page 16-bit TIFF
  opencv-doc              # real footage for config/video.toml: .../examples/data/vtest.avi
  xvfb xauth imagemagick  # display tests: a real window under Xvfb, and its screenshot
  python3 python3-numpy   # the Python package and its tests (/usr/bin/python3)
  python3-dev pybind11-dev  # the Python package: the C++ ring bound with pybind11
  python3-pyfftw          # examples/: FFT in Python on aligned ring slots
  procps                  # ps, pgrep for tests and status
  libtiff-tools python3-tifffile  # record tests: tiffinfo and tifffile read recordings back
  imagej                  # record test: ImageJ opens a recording as a stack (under xvfb-run)
  libaravis-dev libusb-1.0-0-dev  # acquire --source aravis (pkg-config aravis-0.8 needs libusb's .pc)
  aravis-tools aravis-tools-cli   # arv-fake-gv-camera-0.8 (camera emulator for tests), arv-tool-0.8
  ola ola-python          # led tests: olad receives our E1.31 and the Python client reads it back
  libzmq3-dev cppzmq-dev  # bridge: ZeroMQ (built with libsodium: CURVE) and its C++ binding
  python3-zmq             # bridge test: a Python client receives frames with nothing of ours
  iproute2 iptables       # bridge tests: two network namespaces, packet loss and an outage between them
  libcivetweb-dev         # run --http: the HTTP + JSON API (civetweb: HTTP server, WebSocket)
  prometheus              # http tests: promtool checks the /metrics exposition format
  chromium chromium-driver python3-selenium  # the live view page tested in a real headless browser (tests/browser)
  wrk                     # bench/liveview_bench.py: a bounded load of status requests during a recording
  clang-19 libclang-rt-19-dev  # fuzz/ (the fuzz preset): libFuzzer; clang-19 is the first Debian 12 clang with std::expected
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ $(id -u) -ne 0 ]]; then
  SUDO=sudo
else
  SUDO=
fi

if ((${#missing[@]} == 0)); then
  echo "setup-deps: all ${#packages[@]} packages already installed"
else
  echo "setup-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# `import framering` from any folder with Debian's /usr/bin/python3: a .pth file in its
# site-packages naming this clone's release build, where the build assembles the package
# (python/CMakeLists.txt). Rewritten each run, so it names the clone set up last.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
site="$(/usr/bin/python3 -c 'import site; print(site.getsitepackages()[0])')"
$SUDO mkdir -p "$site"
echo "$repo/build/release/python" | $SUDO tee "$site/framering.pth" >/dev/null
echo "setup-deps: /usr/bin/python3 imports framering from $repo/build/release/python ($site/framering.pth)"
