#!/usr/bin/env bash
# fuzz/run.sh [seconds-per-target]: builds the fuzz preset's targets (clang-19, libFuzzer + ASan +
# UBSan) and runs each for that many seconds (default 30) on a copy of its seed corpus
# fuzz/corpus/<target>/, so a run never grows the tree's corpus. Prints per target its runs,
# runs/s, coverage (edges) and features; exits 1 when a target crashed (a crash, a sanitizer
# report, an uncaught exception, a broken rule, a timeout or running out of memory), after
# printing the report and the path of the input that did it, kept in build/fuzz/crashes/<target>/.
# Reproduce one with: build/fuzz/fuzz/<target> <that file>
#
# FRAMERING_FUZZ_TARGETS="a b" runs only those targets.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
targets=(${FRAMERING_FUZZ_TARGETS:-fuzz_common_segment_header fuzz_supervise_pipeline_config fuzz_record_recording
         fuzz_acquire_file_source})

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target "${targets[@]}"

# Scratch on tmpfs when there is one: the targets write a file or a folder per input.
scratch_root=/dev/shm
[[ -d $scratch_root && -w $scratch_root ]] || scratch_root="${TMPDIR:-/tmp}"
work="$(mktemp -d "$scratch_root/framering-fuzz-run.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export TMPDIR="$work/tmp"
mkdir -p "$TMPDIR"
# Read by OpenCV when it loads: an image header claiming more pixels than this is refused, rather
# than allocated (libFuzzer counts an allocation over its 2 GB limit as a crash).
export OPENCV_IO_MAX_IMAGE_PIXELS=1048576
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# Stack traces with function names and lines (Debian's llvm-symbolizer; clang-19 has none of its own).
if [[ -z ${ASAN_SYMBOLIZER_PATH:-} ]] && command -v llvm-symbolizer >/dev/null; then
  export ASAN_SYMBOLIZER_PATH="$(command -v llvm-symbolizer)"
fi

failed=0
printf '%-34s %10s %9s %8s %8s %7s\n' target runs runs/s cov ft seconds
for target in "${targets[@]}"; do
  corpus="$work/corpus/$target"
  crashes="build/fuzz/crashes/$target"
  log="$work/$target.log"
  mkdir -p "$corpus" "$crashes"
  cp fuzz/corpus/"$target"/* "$corpus"/
  leaks=1
  if [[ $target == fuzz_acquire_file_source ]]; then
    # A file OpenCV cannot read as an image is tried as a video: VideoCapture's CAP_ANY probes
    # libgphoto2's camera autodetection, which leaks libusb device lists on every call from a
    # plugin it has unloaded by then (LSan cannot name it to suppress it). Our code there is
    # RAII throughout; ASan still reports every other memory error. Both leak checks go: the
    # fuzzer's per input, and LSan's at exit (which would blame an empty input).
    leaks=0
  fi
  start=$SECONDS
  rc=0
  ASAN_OPTIONS="detect_leaks=$leaks${ASAN_OPTIONS:+:$ASAN_OPTIONS}" build/fuzz/fuzz/"$target" \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 -detect_leaks="$leaks" \
    -artifact_prefix="$crashes/" "$corpus" >"$log" 2>&1 || rc=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)"
  ft="$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)"
  printf '%-34s %10s %9s %8s %8s %7s\n' "$target" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" $((SECONDS - start))
  if ((rc != 0)); then
    failed=1
    cp "$log" "$crashes/last-failure.log"
    echo "--- $target FAILED (exit $rc); its report (whole log: $crashes/last-failure.log):"
    grep -v '^#[0-9]' "$log" | tail -n 60
    grep -h 'Test unit written to\|artifact_prefix' "$log" || true
    echo "---"
  fi
done
exit "$failed"
