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
            m = re.search(r"(\d+) incomplete, (\d+) timed out", out)
            failed = int(m.group(1)) + int(m.group(2)) if m else 0
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
    print(f"{'size':>11} {'what':<36} {'frames':>7} {'failed':>7} {'fps':>7} {'CPU ms/frame':>13} {'x base':>7} "
          f"{'MB/s':>8} {'in place':>9}")
    for r in results:
        size = f"{r['width']}x{r['height']}"
        b = r["baseline_arv_camera_test"]
        mb = r["frame_bytes"] / 1e6
        print(f"{size:>11} {'arv-camera-test (baseline, no copy)':<36} {b['frames']:>7} {b['failed_frames']:>7} {b['fps']:>7.1f} "
              f"{b['cpu_ms_per_frame'] or 0:>13.2f} {1.0:>7.2f} {b['fps'] * mb:>8.0f} {'':>9}")
        for mode, label in (("lend", "framering acquire, lent slots"), ("copy", "framering acquire --no-lend (copy)")):
            f = r[f"framering_acquire_{mode}"]
            print(f"{size:>11} {label:<36} {f['frames']:>7} {f['failed_frames']:>7} {f['fps']:>7.1f} "
                  f"{f['cpu_ms_per_frame']:>13.2f} {f['ratio_to_baseline'] or 0:>7.2f} {f['fps'] * mb:>8.0f} "
                  f"{f['frames_in_place']:>9}")
    print("copies per frame, socket to ring: lent slots 2 (kernel -> Aravis packet buffer in recvmsg; Aravis packet -> "
          "the ring slot, memcpy): 1 in user space; --no-lend 3 (+ ArvBuffer -> ring slot, memcpy)")


if __name__ == "__main__":
    main()
