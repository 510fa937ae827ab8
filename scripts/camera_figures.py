#!/usr/bin/python3
"""camera_figures.py: frames/s and CPU per frame of `framering acquire --source aravis` against
Aravis' GigE Vision emulator on loopback, with a baseline measured in the same run: Aravis' own
arv-camera-test-0.8 receiving the same stream into its buffers and doing nothing with them.
acquire runs twice per size: lending ring slots to Aravis (the default: Aravis writes each frame
into its slot, acquire only publishes) and with --no-lend (Aravis' own buffers, one memcpy per
frame into the slot). The difference to the baseline is what the ring adds.

CPU time is the process's user + system time (os.wait4 rusage) over the run, divided by the
frames it delivered. The emulator runs on the same machine and takes CPU of its own: compare the
two rows of one run, not runs on different machines.

Usage: scripts/camera_figures.py [--framering build/release/app/framering] [--duration-s 10]
                                 [--rate-hz 1000] [--size 2048x2048 --size 1920x1080] [--json]
                                 [--repeat N]  (N rounds of the three programs, interleaved)
It binds the GigE Vision port 3956 on 127.0.0.1: run it when no other emulator runs.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

EMULATOR = "/usr/bin/arv-fake-gv-camera-0.8"
ARV_TOOL = "/usr/bin/arv-tool-0.8"
ARV_CAMERA_TEST = "/usr/bin/arv-camera-test-0.8"


def wait_ready(serial, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        out = subprocess.run([ARV_TOOL, "-a", "127.0.0.1", "control", "DeviceID"], capture_output=True, text=True,
                             timeout=10).stdout
        if f"DeviceID = {serial}" in out:
            return
        time.sleep(0.1)
    sys.exit(f"camera_figures: the emulator {serial} did not answer on 127.0.0.1 within {timeout_s} s")


def run_for(argv, seconds):
    """Runs argv for `seconds` (then SIGINT), returns (stdout+stderr, wall seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    # communicate() reaped it; its rusage is in the children totals: take the difference.
    return out, time.monotonic() - start


def process_cpu_s(pid):
    """user + system seconds of process `pid` so far, all its threads (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def steady_state(argv, warmup_s, seconds, frames_in_line):
    """Runs argv, and measures its CPU per frame at steady state: between the first progress line
    printed after `warmup_s` and the first printed `seconds` later (frames_in_line(line) gives a
    line's frame count, cumulative or per interval: ("total" | "interval", n), or None). Start-up
    (GenICam parsing, ring creation, first-touch page faults) is left out. Returns (cpu_s, frames,
    wall_s, output) or None when it printed too little."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    start = time.monotonic()
    out = []
    first = None  # (time, cpu, frames so far)
    total = 0
    result = None
    try:
        for line in proc.stdout:
            out.append(line)
            got = frames_in_line(line)
            if got is None:
                continue
            kind, n = got
            total = n if kind == "total" else total + n
            now = time.monotonic()
            if first is None and now - start >= warmup_s:
                first = (now, process_cpu_s(proc.pid), total)
            elif first is not None and now - first[0] >= seconds:
                result = (process_cpu_s(proc.pid) - first[1], total - first[2], now - first[0])
                break
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
        out.append(rest or "")
    return (*result, "".join(out)) if result else None


def children_cpu_s():
    usage = os.times()
    return usage.children_user + usage.children_system


def measure(framering, width, height, rate_hz, duration_s):
    serial = f"FIG{os.getpid()}{width}"
    camera = f"Aravis-Fake-{serial}"
    emulator = subprocess.Popen([EMULATOR, "-i", "127.0.0.1", "-s", serial], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    try:
        wait_ready(serial)
        # Baseline: Aravis alone, same stream settings (packet socket off, auto socket buffer, 9000-byte packets).
        cpu0 = children_cpu_s()
        out, wall = run_for([ARV_CAMERA_TEST, "-n", camera, "-w", str(width), "-h", str(height), "--features",
                             "PixelFormat=Mono16", "-f", str(rate_hz), "-a", "--no-packet-socket", "-i", "9000",
                             "--duration", str(int(round(duration_s)))], duration_s + 30)
        base_cpu = children_cpu_s() - cpu0
        m = re.search(r"n_completed_buffers\s*=\s*(\d+)", out)
        if not m:
            sys.exit("camera_figures: arv-camera-test printed no statistics:\n" + out[-2000:])
        base_frames = int(m.group(1))
        m = re.search(r"n_failures\s*=\s*(\d+)", out)
        base_failed = int(m.group(1)) if m else 0
        row = {
            "width": width, "height": height, "pixel_format": "Mono16", "asked_rate_hz": rate_hz,
            "frame_bytes": width * height * 2,
            "baseline_arv_camera_test": {"frames": base_frames, "failed_frames": base_failed, "seconds": wall,
                                          "fps": base_frames / duration_s,
                                          "cpu_s": base_cpu,
                                          "cpu_ms_per_frame": 1000 * base_cpu / base_frames if base_frames else None},
        }
        # framering acquire into a ring nobody reads (the producer never waits), lending slots
        # and copying. 32 slots, so that lending queues the same 16 buffers (--stream-buffers)
        # on the stream as copying does (lending queues at most half the slots).
        for mode, flag, copies in (("lend", "--lend", 0), ("copy", "--no-lend", 1)):
            instance = f"fig{os.getpid()}{mode}"
            cpu0 = children_cpu_s()
            out, wall_f = run_for([framering, "acquire", "--instance", instance, "--log-level", "info", "--source",
                                   "aravis", "--camera", camera, "--pixel-format", "Mono16", "--width", str(width),
                                   "--height", str(height), "--rate-hz", str(rate_hz), "--slots", "32",
                                   "--stream-buffers", "16", flag], duration_s)
            ring_cpu = children_cpu_s() - cpu0
            m = re.search(r"published (\d+) frames \(.*?\) in ([0-9.]+) s", out)
            frames = int(m.group(1)) if m else 0
            seconds = float(m.group(2)) if m else wall_f
            # The summary line's totals: the last such match (warnings before it say "so far").
            m = re.findall(r"(\d+) incomplete, (\d+) timed out", out)
            failed = int(m[-1][0]) + int(m[-1][1]) if m else 0
            m = re.search(r"(\d+) frames written by Aravis straight into lent ring slots, (\d+) copied", out)
            in_place, copied = (int(m.group(1)), int(m.group(2))) if m else (0, frames)
            for name in os.listdir("/dev/shm"):
                if name.startswith(f"framering.{instance}."):
                    os.unlink(os.path.join("/dev/shm", name))
            if frames == 0:
                sys.exit(f"camera_figures: framering acquire {flag} published nothing:\n" + out[-2000:])
            row[f"framering_acquire_{mode}"] = {
                "frames": frames, "failed_frames": failed, "seconds": seconds, "fps": frames / seconds,
                "cpu_s": ring_cpu, "cpu_ms_per_frame": 1000 * ring_cpu / frames,
                "frames_in_place": in_place, "frames_copied": copied,
                "ratio_to_baseline": (1000 * ring_cpu / frames) / row["baseline_arv_camera_test"]["cpu_ms_per_frame"]
                if base_frames else None,
                "copies_socket_to_ring": {"kernel_to_aravis_packet_buffer": 1, "aravis_packet_to_arv_buffer": 1,
                                          "arv_buffer_to_ring_slot": copies},
            }
        # Steady state: the same three programs again, CPU per frame between progress lines
        # `warmup_s` and `warmup_s + duration_s` after start (arv-camera-test prints frames/s each
        # second, line-buffered by stdbuf; acquire its next sequence each --stats-interval-s), so that start-up costs
        # (GenICam, the ring's creation and its pages' first touch) are left out.
        warmup_s = 3.0
        arv_line = re.compile(r"^\s*(\d+) frames/s")
        acq_line = re.compile(r"next sequence (\d+)")
        runs = {
            "baseline_arv_camera_test": (["stdbuf", "-oL", ARV_CAMERA_TEST, "-n", camera, "-w", str(width), "-h", str(height), "--features",
                                          "PixelFormat=Mono16", "-f", str(rate_hz), "-a", "--no-packet-socket", "-i",
                                          "9000", "--duration", str(int(warmup_s + duration_s + 10))],
                                         lambda l: ("interval", int(m.group(1))) if (m := arv_line.match(l)) else None),
        }
        for mode, flag in (("lend", "--lend"), ("copy", "--no-lend")):
            runs[f"framering_acquire_{mode}"] = (
                [framering, "acquire", "--instance", f"fig{os.getpid()}s{mode}", "--log-level", "info", "--source",
                 "aravis", "--camera", camera, "--pixel-format", "Mono16", "--width", str(width), "--height",
                 str(height), "--rate-hz", str(rate_hz), "--slots", "32", "--stream-buffers", "16",
                 "--stats-interval-s", "1", flag],
                lambda l: ("total", int(m.group(1))) if (m := acq_line.search(l)) else None)
        for key, (argv, parse) in runs.items():
            got = steady_state(argv, warmup_s, duration_s, parse)
            for name in os.listdir("/dev/shm"):
                if name.startswith(f"framering.fig{os.getpid()}s"):
                    os.unlink(os.path.join("/dev/shm", name))
            if got is None or got[1] == 0:
                row[key]["steady"] = None
                continue
            cpu_s, frames, wall_s, out = got
            steady = {"cpu_s": cpu_s, "frames": frames, "seconds": wall_s, "fps": frames / wall_s,
                      "cpu_ms_per_frame": 1000 * cpu_s / frames}
            m = re.search(r"(\d+) frames written by Aravis straight into lent ring slots, (\d+) copied", out)
            if m:
                steady["run_frames_in_place"], steady["run_frames_copied"] = int(m.group(1)), int(m.group(2))
            row[key]["steady"] = steady
        base = row["baseline_arv_camera_test"]["steady"]
        for mode in ("lend", "copy"):
            st = row[f"framering_acquire_{mode}"]["steady"]
            if st and base:
                st["ratio_to_baseline"] = st["cpu_ms_per_frame"] / base["cpu_ms_per_frame"]
        return row
    finally:
        emulator.kill()
        emulator.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--framering", default="build/release/app/framering")
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--rate-hz", type=float, default=1000.0, help="AcquisitionFrameRate asked (1000: the emulator's max)")
    parser.add_argument("--size", action="append", help="WIDTHxHEIGHT, Mono16 (default: 2048x2048 and 1920x1080)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--repeat", type=int, default=1, help="rounds per size (each: baseline, lend, copy)")
    args = parser.parse_args()
    sizes = args.size or ["2048x2048", "1920x1080"]
    load = os.getloadavg()[0]
    results = []
    for size in sizes:
        width, height = (int(v) for v in size.split("x"))
        for _ in range(args.repeat):
            results.append(measure(args.framering, width, height, args.rate_hz, args.duration_s))
    if args.json:
        print(json.dumps({"load_average_1min_at_start": load, "results": results}, indent=2))
        return
    print(f"Aravis emulator on 127.0.0.1, Mono16, asked {args.rate_hz:g} Hz, {args.duration_s:g} s each; "
          f"load average at start {load:.2f} on {os.cpu_count()} cores")
    print("whole run: frames, failed, fps, CPU ms/frame (start-up included), x baseline; steady: CPU ms/frame over "
          f"{args.duration_s:g} s after a 3 s warm-up, x baseline")
    print(f"{'size':>11} {'what':<36} {'frames':>7} {'failed':>7} {'fps':>7} {'CPU ms/frame':>13} {'x base':>7} "
          f"{'MB/s':>8} {'in place':>9} {'steady ms':>10} {'x base':>7}")
    for r in results:
        size = f"{r['width']}x{r['height']}"
        b = r["baseline_arv_camera_test"]
        mb = r["frame_bytes"] / 1e6
        bs = b.get("steady") or {}
        print(f"{size:>11} {'arv-camera-test (baseline, no copy)':<36} {b['frames']:>7} {b['failed_frames']:>7} {b['fps']:>7.1f} "
              f"{b['cpu_ms_per_frame'] or 0:>13.2f} {1.0:>7.2f} {b['fps'] * mb:>8.0f} {'':>9} "
              f"{bs.get('cpu_ms_per_frame', 0):>10.2f} {1.0:>7.2f}")
        for mode, label in (("lend", "framering acquire, lent slots"), ("copy", "framering acquire --no-lend (copy)")):
            f = r[f"framering_acquire_{mode}"]
            print(f"{size:>11} {label:<36} {f['frames']:>7} {f['failed_frames']:>7} {f['fps']:>7.1f} "
                  f"{f['cpu_ms_per_frame']:>13.2f} {f['ratio_to_baseline'] or 0:>7.2f} {f['fps'] * mb:>8.0f} "
                  f"{f['frames_in_place']:>9} {(f.get('steady') or {}).get('cpu_ms_per_frame', 0):>10.2f} "
                  f"{(f.get('steady') or {}).get('ratio_to_baseline', 0):>7.2f}")
    print("copies per frame, socket to ring: lent slots 2 (kernel -> Aravis packet buffer in recvmsg; Aravis packet -> "
          "the ring slot, memcpy): 1 in user space; --no-lend 3 (+ ArvBuffer -> ring slot, memcpy)")


if __name__ == "__main__":
    main()
