#!/usr/bin/python3
"""control_latency.py: how long a live parameter change takes to reach the frames, on this machine.
Prints figures (and JSON with --json); asserts nothing.

    /usr/bin/python3 bench/control_latency.py [--changes 40] [--rate-hz 100] [--width 1920 --height 1080] [--json]

Starts `framering run --http 127.0.0.1:0` on a pipeline of acquire (test pattern, Mono16) ->
process (an every consumer: bandpass, FFTW) and, for each of --changes PATCHes of process's high
cut-off (alternating two values), measures:

* ack: PATCH sent -> its 200 reply, which the run sends once the stage says the first frame made
  with the change is published (docs/http-api.md, "Live parameters"); it includes the filter's
  new mask (build_mask: an exp per half-plane element);
* seen: PATCH sent -> a newest reader of `processed` (this script, the framering Python package)
  reads a frame whose settings_generation is the change's.

Both include the wait for the next input frame (the stage applies a change between frames, so
half a frame time on average) and that frame's trip through process (its FFT): the figures are
also given in frame times of the slower of the source and process (measured here), the unit that
holds across machines. For reference, the same run's
publish -> read latency of `processed` for this reader (no change involved).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "release", "python"))
import framering  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=40)
    parser.add_argument("--rate-hz", type=float, default=100)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--framering", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build",
                                                            "release", "app", "framering"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    instance = f"ctl{os.getpid()}"
    folder = tempfile.mkdtemp(prefix="framering-control-")
    config = os.path.join(folder, "pipeline.toml")
    with open(config, "w") as f:
        f.write(f'instance = "{instance}"\n'
                f'[[stage]]\nname = "acquire"\nsource = "pattern"\nscene = "testpattern"\nwidth = {args.width}\n'
                f'height = {args.height}\npixel-format = "Mono16"\nrate-hz = {args.rate_hz}\n\n'
                '[[stage]]\nname = "process"\ninput-ring = "raw"\noutput-ring = "processed"\nmode = "bandpass"\n'
                'low-cutoff = 0.01\nhigh-cutoff = 0.2\nconsumer = "every"\nplanner = "estimate"\nno-wisdom = true\n')
    run = subprocess.Popen([args.framering, "run", "--config", config, "--http", "127.0.0.1:0"], cwd=folder,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # stdout: the stages' summaries
    port = None
    log = []
    deadline = time.monotonic() + 60
    while port is None and time.monotonic() < deadline:
        line = run.stderr.readline()
        log.append(line)
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
        if m:
            port = int(m.group(1))
    if port is None:
        run.kill()
        sys.exit("control_latency: the run did not start its API:\n" + "".join(log))
    # The run's log keeps coming: read it away, or a full pipe would stall the run's writes.
    threading.Thread(target=lambda: [None for _ in run.stderr], daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        while True:  # process has said hello once its parameters show
            with urllib.request.urlopen(base + "/api/v1/stages/process/params") as r:
                if json.load(r)["params"]:
                    break
            time.sleep(0.05)  # polling a process's start-up, not synchronising frames
        reader = framering.RingReader(instance, "processed", kind="newest", name="ctlbench", wait_s=30)
        frame_latency_ms = []
        first = last = None
        for _ in range(50):
            frame = reader.read(5.0)
            if frame is None:
                continue
            with frame:
                now = framering.monotonic_ns()
                frame_latency_ms.append((now - frame.publish_monotonic_ns) / 1e6)
                first = first or (frame.sequence, frame.publish_monotonic_ns)
                last = (frame.sequence, frame.publish_monotonic_ns)
        # process's own pace here (it may be slower than the source: then its frame time, not the
        # source's period, is what a change waits for)
        processed_hz = (last[0] - first[0]) / ((last[1] - first[1]) / 1e9) if last[1] > first[1] else args.rate_hz
        ack_ms, seen_ms = [], []
        for n in range(args.changes):
            body = json.dumps({"high_cutoff": 0.1 if n % 2 == 0 else 0.2}).encode()
            request = urllib.request.Request(base + "/api/v1/stages/process/params", data=body, method="PATCH")
            start = time.monotonic_ns()
            with urllib.request.urlopen(request) as r:
                answer = json.load(r)
            ack_ms.append((time.monotonic_ns() - start) / 1e6)
            generation = answer["generation"]
            while True:
                frame = reader.read(5.0)
                if frame is None:
                    raise RuntimeError("no processed frame within 5 s")
                with frame:
                    if frame.settings_generation >= generation:
                        seen_ms.append((time.monotonic_ns() - start) / 1e6)
                        break
        reader.close()
    finally:
        run.send_signal(2)
        run.wait(60)
        shutil.rmtree(folder, ignore_errors=True)
    period_ms = 1000 / min(args.rate_hz, processed_hz)  # a frame time of the slower of source and process
    figures = {
        "frame": f"{args.width}x{args.height} Mono16", "rate_hz": args.rate_hz, "changes": args.changes,
        "ack_ms": {"p50": percentile(ack_ms, 50), "p99": percentile(ack_ms, 99), "max": max(ack_ms)},
        "seen_ms": {"p50": percentile(seen_ms, 50), "p99": percentile(seen_ms, 99), "max": max(seen_ms)},
        "frame_latency_ms": {"p50": statistics.median(frame_latency_ms), "p99": percentile(frame_latency_ms, 99)},
        "processed_hz": processed_hz, "period_ms": period_ms, "seen_p50_periods": percentile(seen_ms, 50) / period_ms,
        "seen_p99_periods": percentile(seen_ms, 99) / period_ms,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"{figures['frame']} at {args.rate_hz} Hz, {args.changes} changes of process's high cut-off")
        print(f"  PATCH -> 200 (first frame made with it published): p50 {figures['ack_ms']['p50']:.2f} ms, "
              f"p99 {figures['ack_ms']['p99']:.2f} ms, max {figures['ack_ms']['max']:.2f} ms")
        print(f"  PATCH -> frame with it read here:                 p50 {figures['seen_ms']['p50']:.2f} ms, "
              f"p99 {figures['seen_ms']['p99']:.2f} ms, max {figures['seen_ms']['max']:.2f} ms")
        print(f"  process kept {processed_hz:.1f} frames/s; in frame times of the slower of source and process "
              f"({period_ms:.2f} ms): seen p50 {figures['seen_p50_periods']:.2f}, "
              f"p99 {figures['seen_p99_periods']:.2f}; publish->read of processed here (no change): p50 "
              f"{figures['frame_latency_ms']['p50']:.2f} ms, p99 {figures['frame_latency_ms']['p99']:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
