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
  python3 python3-numpy   # the Python ring reader and its test (/usr/bin/python3)
  procps                  # ps, pgrep for tests and status
  libtiff-tools python3-tifffile  # record tests: tiffinfo and tifffile read recordings back
  imagej                  # record test: ImageJ opens a recording as a stack (under xvfb-run)
  libaravis-dev libusb-1.0-0-dev  # acquire --source aravis (pkg-config aravis-0.8 needs libusb's .pc)
  aravis-tools aravis-tools-cli   # arv-fake-gv-camera-0.8 (camera emulator for tests), arv-tool-0.8
  ola ola-python          # led tests: olad receives our E1.31 and the Python client reads it back
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  SUDO=sudo
else
  SUDO=
fi
echo "setup-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
