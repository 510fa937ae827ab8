"""The Python examples (examples/*.py) as `framering run` starts them, headless, with the real
binaries: a Python camera loop recorded losslessly, a numpy LED pattern that survives being
killed, and pyFFTW between two rings. Run by CTest with /usr/bin/python3 (python/CMakeLists.txt).
Content is verified against the sequence pattern pixel = (sequence + x + 3y) & 0xFFFF; every wait
has a deadline.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np

import framering

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_package import W, H, pattern, wait_until  # noqa: E402

FRAMERING = os.environ.get("FRAMERING_BIN", "framering")
EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")


class ExampleTest(unittest.TestCase):
    def setUp(self):
        self.instance = f"ex{os.getpid()}-{self.id().rsplit('.', 1)[-1][:24]}"
        self.tmp = tempfile.TemporaryDirectory(prefix="framering-ex-")
        self.run_process = None
        signal.alarm(200)  # the watchdog

    def tearDown(self):
        signal.alarm(0)
        if self.run_process is not None and self.run_process.poll() is None:
            self.run_process.kill()
            self.run_process.wait()
        for name in framering.list_rings(self.instance):
            path = f"/dev/shm/framering.{self.instance}.{name}"
            if os.path.exists(path):
                os.unlink(path)
        lock = f"/dev/shm/framering-run.{self.instance}.lock"  # left by a killed `framering run`
        if os.path.exists(lock):
            os.unlink(lock)
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def start_run(self, body, *extra):
        config = self.path("pipeline.toml")
        with open(config, "w") as f:
            f.write(f'instance = "{self.instance}"\n[restart]\nbackoff_ms = 50\n' + body)
        self.run_process = subprocess.Popen([FRAMERING, "run", "--config", config, "--summary-json",
                                             self.path("summary.json"), *extra],
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return self.run_process

    def finish_run(self, timeout_s=120):
        out, err = self.run_process.communicate(timeout=timeout_s)
        with open(self.path("summary.json")) as f:
            summary = json.load(f)
        return self.run_process.returncode, summary, err

    def stage(self, summary, name):
        return next(s for s in summary["stages"] if s["name"] == name)

    def ring(self, name):
        for r in framering.status(self.instance):
            if r.get("ring") == name and "error" not in r:
                return r
        return None


class CameraLoop(ExampleTest):
    def test_a_python_camera_feeds_the_live_view_and_every_frame_is_recorded(self):
        self.start_run(f"""
[[stage]]
name = "camera"
command = ["/usr/bin/python3", "{EXAMPLES}/camera_loop.py", "--width", "{W}", "--height", "{H}", "--rate-hz", "200"]
produces = "raw"

[[stage]]
name = "display"
ring = "raw"
snapshot-dir = "{self.path('snapshots')}"
snapshot-every-s = 0.2

[[stage]]
name = "record"
ring = "raw"
dest = "{self.path('recordings')}"
report-interval-s = 0
""", "--frames", "150")
        code, summary, err = self.finish_run()
        self.assertEqual(code, 0, err)
        self.assertEqual(self.stage(summary, "camera")["frames"], 150)
        self.assertGreater(self.stage(summary, "display")["frames"], 0)
        folders = os.listdir(self.path("recordings"))
        self.assertEqual(len(folders), 1)
        rec = framering.open_recording(os.path.join(self.path("recordings"), folders[0]))
        self.assertTrue(rec.complete, rec.manifest)
        self.assertEqual(list(rec.index["sequence"]), list(range(150)))
        for n in range(150):
            np.testing.assert_array_equal(rec.frames[n], pattern(n))
        inspect = subprocess.run([FRAMERING, "inspect", rec.path], capture_output=True, text=True)
        self.assertEqual(inspect.returncode, 0, inspect.stdout)


class LedPattern(ExampleTest):
    def test_the_led_screen_keeps_running_while_a_killed_python_pattern_comes_back(self):
        mmap = self.path("skyscreen")
        self.start_run(f"""
[[stage]]
name = "pattern"
command = ["/usr/bin/python3", "{EXAMPLES}/led_pattern.py", "--size", "128", "--rate-hz", "100"]
produces = "pattern"

[[stage]]
name = "led"
ring = "pattern"
rate-hz = 100
mmap = "{mmap}"
preview = "{self.path('preview.png')}"
""")

        def led():
            r = self.ring("pattern")
            c = next((c for c in r["consumers"] if c["name"] == "led"), None) if r else None
            return r, c

        wait_until(lambda: led()[1] is not None and led()[1]["frames_read"] > 10, 60, "the LED stage reading")
        ring, consumer = led()
        pattern_pid, led_pid, read = ring["producer"]["pid"], consumer["pid"], consumer["frames_read"]
        os.kill(pattern_pid, signal.SIGKILL)
        wait_until(lambda: led()[0]["producer"]["alive"] and led()[0]["producer"]["pid"] != pattern_pid, 60,
                   "the pattern back")
        wait_until(lambda: led()[1]["frames_read"] > read + 10, 60, "the LED stage reading the new pattern")
        self.assertEqual(led()[1]["pid"], led_pid, "the LED stage was never taken down")
        with open(mmap, "rb") as f:
            leds = np.frombuffer(f.read(), np.uint8)
        self.assertEqual(leds.size, 360 * 288 * 3)
        self.assertGreater(int(leds.max()), 0, "the pattern reaches the LEDs")
        self.run_process.send_signal(signal.SIGTERM)
        code, summary, err = self.finish_run()
        self.assertEqual(code, 0, err)
        self.assertEqual(self.stage(summary, "pattern")["restarts"], 1)
        self.assertEqual(self.stage(summary, "led")["restarts"], 0)


class LivePattern(ExampleTest):
    def test_a_python_patterns_parameter_changes_live_over_http_and_its_frames_say_so(self):
        import re
        import urllib.error
        import urllib.request
        self.start_run(f"""
[[stage]]
name = "pattern"
command = ["/usr/bin/python3", "{EXAMPLES}/led_pattern.py", "--size", "64", "--rate-hz", "100"]
produces = "pattern"
""", "--http", "127.0.0.1:0")
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", self.run_process.stderr.readline())
            port = int(m.group(1)) if m else None
        self.assertIsNotNone(port, "the run's API")
        base = f"http://127.0.0.1:{port}/api/v1/stages/pattern/params"

        def request(method, url, body=None):
            req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), method=method)
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    return r.status, json.load(r)
            except urllib.error.HTTPError as e:
                return e.code, json.load(e)

        wait_until(lambda: request("GET", base)[1].get("params"), 60, "the pattern's parameters")
        status, meta = request("GET", base + "?meta=1")
        self.assertEqual(status, 200)
        self.assertEqual([p["name"] for p in meta["params"]], ["period_s", "ridge_px"])
        self.assertEqual(meta["params"][1]["max"], 32.0)
        status, refused = request("PATCH", base, {"ridge_px": 100})
        self.assertEqual(status, 422, refused)
        self.assertEqual(refused["error"], "pattern: parameter 'ridge_px' must be a number in [1, 32] px, not 100")
        status, ack = request("PATCH", base, {"ridge_px": 3.5})
        self.assertEqual(status, 200, ack)
        self.assertEqual(ack["ring"], "pattern")
        self.assertEqual(ack["values"]["ridge_px"], 3.5)
        with framering.RingReader(self.instance, "pattern", kind="newest", name="check") as reader:
            for _ in range(5):
                frame = reader.read(10.0)
                self.assertIsNotNone(frame)
                with frame:
                    self.assertGreaterEqual(frame.sequence, ack["sequence"])
                    self.assertEqual(frame.settings_generation, ack["generation"])
        self.run_process.send_signal(signal.SIGTERM)
        code, summary, err = self.finish_run()
        self.assertEqual(code, 0, err)


class FftFilter(ExampleTest):
    def test_pyfftw_identity_between_two_rings_returns_every_frame_unchanged(self):
        self.start_run(f"""
[[stage]]
name = "acquire"
source = "pattern"
scene = "testpattern"
width = {W}
height = {H}
pixel-format = "Mono16"
rate-hz = 200

[[stage]]
name = "fft"
command = ["/usr/bin/python3", "{EXAMPLES}/fft_filter.py", "--mode", "identity"]
consumes = [{{ ring = "raw", kind = "every" }}]
produces = "filtered"
""", "--frames", "120")
        wait_until(lambda: self.ring("filtered") is not None, 60, "the filtered ring")
        reader = framering.RingReader(self.instance, "filtered", kind="every", name="check")
        seen = []
        for frame in reader:
            np.testing.assert_array_equal(frame.pixels, pattern(frame.camera_frame_id))
            seen.append(frame.camera_frame_id)
            if frame.camera_frame_id == 119:
                break
        reader.close()
        code, summary, err = self.finish_run()
        self.assertEqual(code, 0, err)
        self.assertEqual(seen, list(range(seen[0], 120)), "in order, none missing after the first")
        self.assertEqual(self.stage(summary, "fft")["lost"], 0)
        self.assertEqual(self.stage(summary, "acquire")["frames"], 120)


if __name__ == "__main__":
    unittest.main()
