"""What the browser test and the live-view benchmark share: a real `framering run --http` on a
free loopback port, Debian's headless Chromium driven by chromium-driver (python3-selenium), the
testpattern's expected pixels, and a watchdog. Run with /usr/bin/python3 (Debian's selenium).

Every wait here has a deadline; nothing sleeps to "let something happen".
"""
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request

FRAMERING = os.environ.get("FRAMERING_BIN", "framering")
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")


class Watchdog:
    """Ends the whole process (exit 3, after killing `cleanup`'s processes) if it is still
    running after `seconds`: the outer bound of every wait, on top of CTest's TIMEOUT."""

    def __init__(self, seconds, cleanup=None):
        self.timer = threading.Timer(seconds, self._fire, args=(seconds, cleanup))
        self.timer.daemon = True
        self.timer.start()

    @staticmethod
    def _fire(seconds, cleanup):
        print(f"watchdog: still running after {seconds} s", flush=True)
        if cleanup:
            cleanup()
        os._exit(3)

    def cancel(self):
        self.timer.cancel()


def wait_until(condition, timeout_s, what):
    """Polls `condition` every 10 ms until it returns something truthy (returned), or raises
    TimeoutError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s} s")
        time.sleep(0.01)


def pattern_stage(width, height, pixel_format="Mono16", rate_hz=20):
    """A [[stage]] table: acquire's testpattern into ring `raw`, so that sample c of pixel (x, y)
    of frame `sequence` is (sequence + x + 3y + 85c) & mask."""
    return (f'[[stage]]\nname = "acquire"\nsource = "pattern"\nscene = "testpattern"\nwidth = {width}\n'
            f'height = {height}\npixel-format = "{pixel_format}"\nrate-hz = {rate_hz}\nslots = 16\n')


class Run:
    """`framering run --http 127.0.0.1:0` of a pipeline in a temporary folder, its recordings
    under <folder>/recordings. stop() ends it with SIGINT and removes its rings."""

    def __init__(self, stages, instance, http_extra=""):
        self.instance = instance
        self.folder = tempfile.TemporaryDirectory(prefix="framering-browser-")
        self.recordings = os.path.join(self.folder.name, "recordings")
        config = os.path.join(self.folder.name, "pipeline.toml")
        with open(config, "w") as f:
            f.write(f'instance = "{instance}"\n[http]\nrecording_roots = ["{self.recordings}"]\n{http_extra}\n{stages}')
        self.err_path = os.path.join(self.folder.name, "run.err")
        self.err_file = open(self.err_path, "w")
        self.process = subprocess.Popen([FRAMERING, "run", "--config", config, "--http", "127.0.0.1:0"],
                                        stdout=subprocess.DEVNULL, stderr=self.err_file)
        match = wait_until(lambda: re.search(r"listening on http://127\.0\.0\.1:(\d+)/", self.err()), 30,
                           "the run's 'listening on' line")
        self.port = int(match.group(1))
        self.base = f"http://127.0.0.1:{self.port}"
        wait_until(lambda: self.published() > 0, 30, "the ring's first frame")

    def err(self):
        with open(self.err_path) as f:
            return f.read()

    def get(self, path):
        """GET `path` of the API: its JSON."""
        with urllib.request.urlopen(self.base + path, timeout=10) as reply:
            return json.load(reply)

    def status(self):
        return self.get("/api/v1/status")

    def ring(self, name="raw"):
        return next((r for r in self.status()["rings"] if r.get("ring") == name and "error" not in r), None)

    def published(self):
        ring = self.ring()
        return ring["producer"]["published"] if ring else 0

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()

    def stop(self, timeout_s=60):
        """SIGINT, waits for the exit; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.err_file.close()
        subprocess.run([FRAMERING, "status", "--instance", self.instance, "--remove-stale"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        return self.process.returncode


def browser(width=1400, height=1000):
    """Headless Chromium (Debian's) through chromium-driver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    options.add_argument("--headless=new")
    options.add_argument("--disable-gpu")  # the 2D canvas path; no GPU here
    options.add_argument(f"--window-size={width},{height}")
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to run its sandbox as root (CI runs as root)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


def pattern_value(sequence, x, y, mask=0xFFFF):
    return (sequence + x + 3 * y) & mask


def level(value, lo, hi):
    """The page's stretch (web/liveview.js, level()): floor(clamp((v - lo) / (hi - lo), 0, 1) * 255 + 0.5)."""
    t = (value - lo) / (hi - lo)
    return int(min(max(t, 0.0), 1.0) * 255 + 0.5)
