#!/usr/bin/python3
"""The browser live view's figures (bench/README.md, "The live view in a browser"), measured with
a real `framering run --http`, Debian's headless Chromium and, for the load, Debian's wrk:

  view   frames drawn per second by the page and publish -> canvas latency, per frame, in the
         browser: from the frame's publish instant (the server sends its CLOCK_REALTIME send time
         and the frame's age since publish, CLOCK_MONOTONIC: send - age is the publish instant on
         the wall clock) to (a) the end of the page's putImageData (`canvas`: the canvas holds the
         frame) and (b) the next requestAnimationFrame callback after it (`paint`: the browser's
         next turn to put it on screen); performance.timeOrigin + performance.now() in the page.
         The same machine, so one clock. Also the server's publish -> send (`age`).
  load   ~1,000 GET /api/v1/status per second for 10 s (wrk, 4 connections, each waiting a fixed
         delay between requests: bounded, on loopback) during a recording of the testpattern:
         the ring's rate with and without the load, and the recording's frames, loss and verdict.

Run with /usr/bin/python3 (Debian's selenium). Prints a table, and one JSON object with --json.
Every wait has a deadline; the load stops by itself (wrk -d).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "browser"))
from liveview_harness import Run, Watchdog, browser, pattern_stage, wait_until  # noqa: E402


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(values):
    return {"p50": percentile(values, 50), "p95": percentile(values, 95), "p99": percentile(values, 99),
            "max": max(values) if values else None, "samples": len(values)}


def view_case(width, height, rate_hz, bin_, max_fps, seconds, warmup_s):
    """One live-view measurement: the page open on a fresh run, stats reset after the warm-up."""
    run = Run(pattern_stage(width, height, "Mono16", rate_hz), instance=f"lvb{os.getpid()}")
    driver = None
    try:
        driver = browser()
        driver.get(f"{run.base}/?bin={bin_}&max_fps={max_fps}&contrast=minmax&colormap=viridis")
        wait_until(lambda: driver.execute_script("return window.framering.framesDrawn") > 0, 30, "a first frame")
        time.sleep(warmup_s)  # a warm-up of set length (a measurement window, not a synchronisation)
        driver.execute_script("window.framering.resetStats()")
        published0 = run.published()
        t0 = time.monotonic()
        time.sleep(seconds)  # the measurement window
        stats = driver.execute_script("""
            const f = window.framering;
            return {frames: f.framesDrawn, latencies: f.latencies, paint: f.paintLatencies, ages: f.ages};""")
        elapsed = time.monotonic() - t0
        published = run.published() - published0
        live = [c for c in run.ring()["consumers"] if c["name"].startswith("live-")]
    finally:
        if driver is not None:
            driver.quit()
        run.stop()
    return {
        "frame": f"{width}x{height} Mono16", "rate_hz": rate_hz, "bin": bin_, "max_fps": max_fps,
        "message_bytes": 64 + (width // bin_) * (height // bin_) * 2,
        "seconds": round(elapsed, 3),
        "ring_fps": round(published / elapsed, 1),
        "drawn_fps": round(stats["frames"] / elapsed, 1),
        "canvas_ms": summary(stats["latencies"]),
        "paint_ms": summary(stats["paint"]),
        "server_age_ms": summary(stats["ages"]),
        "live_consumer": {k: live[0][k] for k in ("frames_read", "frames_skipped", "frames_torn")} if live else None,
    }


WRK_DELAY_LUA = """
-- each connection waits this many ms after each response before its next request
function delay() return {delay_ms} end
"""


def load_case(width, height, rate_hz, seconds, connections, delay_ms):
    """The status load during a recording: the ring's rate over the load window, the recording's verdict."""
    run = Run(pattern_stage(width, height, "Mono16", rate_hz), instance=f"lvl{os.getpid()}")
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(WRK_DELAY_LUA.format(delay_ms=delay_ms))
        # The ring's rate without load first, over the same length of time.
        p0 = run.published()
        t0 = time.monotonic()
        time.sleep(seconds)  # a measurement window
        quiet_fps = (run.published() - p0) / (time.monotonic() - t0)

        import urllib.request
        request = urllib.request.Request(f"{run.base}/api/v1/recordings", method="POST",
                                         data=json.dumps({"name": "under-load", "ring": "raw",
                                                          "frames": int(rate_hz * (seconds + 2))}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=15) as reply:
            recording = json.load(reply)
        wait_until(lambda: run.get(f"/api/v1/recordings/{recording['id']}")["frames"] > 0, 30, "the recording's first frame")
        p1 = run.published()
        t1 = time.monotonic()
        wrk = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "-s", script.name,
                              "--latency", f"{run.base}/api/v1/status"],
                             capture_output=True, text=True, timeout=seconds + 60)
        loaded_fps = (run.published() - p1) / (time.monotonic() - t1)
        os.unlink(script.name)
        done = wait_until(lambda: (lambda r: r if r["state"] in ("finished", "failed") else None)(
            run.get(f"/api/v1/recordings/{recording['id']}")), 60, "the recording's end")
        ring = run.ring()
        requests = re.search(r"(\d+) requests in ([\d.]+)s", wrk.stdout)
        rate = re.search(r"Requests/sec:\s+([\d.]+)", wrk.stdout)
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk.stdout)
        socket_errors = re.search(r"Socket errors: (.*)", wrk.stdout)
        lat = {m.group(1): m.group(2) for m in re.finditer(r"^\s+(50|90|99)%\s+(\S+)", wrk.stdout, re.M)}
        inspect = subprocess.run([os.environ.get("FRAMERING_BIN", "framering"), "inspect", "--json", done["path"]],
                                 capture_output=True, text=True, timeout=120)
        report = json.loads(inspect.stdout) if inspect.stdout.strip() else {}
    finally:
        run.stop()
    return {
        "frame": f"{width}x{height} Mono16", "rate_hz": rate_hz, "seconds": seconds,
        "status_requests": int(requests.group(1)) if requests else None,
        "status_per_s": float(rate.group(1)) if rate else None,
        "status_latency": lat,
        "status_non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else None,
        "ring_fps_quiet": round(quiet_fps, 1), "ring_fps_loaded": round(loaded_fps, 1),
        "ring_dropped": ring["producer"]["frames_dropped"], "source_lost": ring["source"]["frames_lost"],
        "recording": {k: done.get(k) for k in ("state", "verdict", "frames", "lost")},
        "inspect": {k: report.get(k) for k in ("complete", "consistent", "frames_recorded")},
        "wrk": wrk.stdout if wrk.returncode != 0 else None,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10, help="measurement window of each case")
    parser.add_argument("--warmup-s", type=float, default=2)
    parser.add_argument("--only", choices=["view", "load"], help="run one part only")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args()
    watchdog = Watchdog(1800)
    results = {"view": [], "load": None}
    if args.only in (None, "view"):
        # Small and 1 MP frames as fast as they come; 4 MP at a camera's 30 Hz under the default cap,
        # binned and not; and 4 MP as fast as the page can draw them (its ceiling).
        for width, height, rate, bin_, fps in [(256, 192, 100, 1, 1000), (1024, 1024, 100, 1, 1000),
                                               (2048, 2048, 30, 2, 30), (2048, 2048, 30, 1, 30),
                                               (2048, 2048, 100, 2, 1000), (2048, 2048, 100, 1, 1000)]:
            r = view_case(width, height, rate, bin_, fps, args.seconds, args.warmup_s)
            results["view"].append(r)
            c, p, a = r["canvas_ms"], r["paint_ms"], r["server_age_ms"]
            print(f"view {r['frame']:>18} @ {rate:>3} Hz bin {bin_} max_fps {fps:>4}: ring {r['ring_fps']:6.1f}/s, "
                  f"drawn {r['drawn_fps']:6.1f}/s; publish -> canvas p50 {c['p50']:.2f} p95 {c['p95']:.2f} "
                  f"p99 {c['p99']:.2f} max {c['max']:.2f} ms; -> paint p50 {p['p50']:.2f} p99 {p['p99']:.2f} ms; "
                  f"publish -> send p50 {a['p50']:.3f} ms", flush=True)
    if args.only in (None, "load"):
        r = load_case(512, 512, 100, int(args.seconds), connections=4, delay_ms=3)
        results["load"] = r
        print(f"load {r['status_requests']} status requests in {r['seconds']} s ({r['status_per_s']:.0f}/s, "
              f"latency {r['status_latency']}, non-2xx {r['status_non_2xx']}) during a recording of "
              f"{r['frame']} @ {r['rate_hz']} Hz: ring {r['ring_fps_quiet']}/s quiet, {r['ring_fps_loaded']}/s loaded, "
              f"dropped {r['ring_dropped']}, source lost {r['source_lost']}; recording {r['recording']}, "
              f"inspect {r['inspect']}", flush=True)
    watchdog.cancel()
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
