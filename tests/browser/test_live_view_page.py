"""The live view page in a real browser: Debian's headless Chromium, driven by chromium-driver
(python3-selenium), against a real `framering run --http` of a testpattern pipeline.

- The canvas shows the pattern's expected pixels for the sequence of the frame drawn: raw
  samples, grey levels under a manual min/max typed into the page, and viridis' end colours.
- The status tables show the stage and the live view's consumer.
- A recording started with the page's button (a name and a frame count) is complete, as the API
  and `framering inspect` say; one started without a count stops with its Stop button, whole.

Run by CTest with /usr/bin/python3 (tests/browser/CMakeLists.txt); every wait has a deadline and
a watchdog bounds the whole test.
"""
import os
import subprocess
import sys
import json
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from liveview_harness import (FRAMERING, Run, Watchdog, browser, level, pattern_stage, pattern_value,  # noqa: E402
                              wait_until)

WIDTH, HEIGHT = 256, 192


class LiveViewPage(unittest.TestCase):
    def setUp(self):
        self.run_ = None
        self.driver = None
        self.watchdog = Watchdog(240, cleanup=lambda: self.run_ and self.run_.kill())
        self.run_ = Run(pattern_stage(WIDTH, HEIGHT, "Mono16", rate_hz=20),
                        instance=f"tb{os.getpid()}-{self._testMethodName[5:20]}")
        self.driver = browser()

    def tearDown(self):
        if self.driver is not None:
            self.driver.quit()
        code = self.run_.stop() if self.run_ is not None else 0
        self.watchdog.cancel()
        self.assertEqual(code, 0, self.run_.err() if self.run_ else "")
        self.assertNotIn("Sanitizer", self.run_.err())

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def last_frame(self):
        return self.js("const f = window.framering && window.framering.lastFrame;"
                       "return f ? {sequence: f.sequence, width: f.width, height: f.height, lo: f.lo, hi: f.hi,"
                       " mode: f.mode, colormap: f.colormap} : null;")

    def wait_for_frame(self, what, condition=lambda f: True, timeout_s=30):
        return wait_until(lambda: (lambda f: f if f and condition(f) else None)(self.last_frame()), timeout_s, what)

    # The last frame drawn and the canvas, read in one script: JavaScript runs one task at a time,
    # so no frame can be drawn between the two reads.
    def frame_and_canvas(self):
        return self.js("""
            const f = window.framering.lastFrame;
            const c = document.getElementById('frame');
            const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            return {sequence: f.sequence, width: f.width, height: f.height, lo: f.lo, hi: f.hi,
                    mode: f.mode, colormap: f.colormap, canvas: [c.width, c.height],
                    samples: Array.from(f.samples), rgba: Array.from(pixels)};""")

    def set_input(self, element_id, value):
        from selenium.webdriver.common.keys import Keys
        element = self.driver.find_element("id", element_id)
        element.send_keys(Keys.CONTROL, "a")
        element.send_keys(str(value))

    def choose(self, element_id, value):
        from selenium.webdriver.support.ui import Select
        Select(self.driver.find_element("id", element_id)).select_by_value(value)

    def start_recording_from_page(self, name, frames=None):
        """Fills the page's recording form, clicks Start; the POST's answer (id, state, ...)."""
        self.driver.get(self.run_.base + "/")
        self.wait_for_frame("a first frame drawn")
        self.set_input("record-name", name)
        if frames is not None:
            self.set_input("record-frames", frames)
        self.driver.find_element("id", "record-start").click()
        return wait_until(lambda: self.js("return window.framering.lastRecording || null;"), 30,
                          "the page's POST /api/v1/recordings")

    def wait_recording_end(self, recording_id):
        """The recording once it has ended (60 s at most), as the API shows it."""
        def ended():
            r = self.run_.get(f"/api/v1/recordings/{recording_id}")
            return r if r["state"] in ("finished", "failed") else None
        return wait_until(ended, 60, "the recording's end")

    def test_the_canvas_shows_the_patterns_pixels_under_a_manual_stretch(self):
        self.driver.get(self.run_.base + "/")
        first = self.wait_for_frame("a first frame drawn")
        self.assertEqual((first["width"], first["height"]), (WIDTH, HEIGHT))
        # A range around the pattern's values, typed into the page (typing a limit makes it manual).
        lo, hi = first["sequence"] + 100, first["sequence"] + 700
        self.choose("colormap", "grey")
        self.set_input("min", lo)
        self.set_input("max", hi)
        self.assertEqual(self.driver.find_element("id", "contrast").get_attribute("value"), "manual")
        self.wait_for_frame("a frame drawn with the typed limits",
                            lambda f: f["mode"] == "manual" and (f["lo"], f["hi"]) == (lo, hi))
        got = self.frame_and_canvas()
        sequence = got["sequence"]
        self.assertEqual(got["canvas"], [WIDTH, HEIGHT])
        self.assertEqual((got["lo"], got["hi"]), (lo, hi))
        wrong_raw, wrong_grey, levels = [], [], set()
        for y in range(HEIGHT):
            for x in range(WIDTH):
                i = y * WIDTH + x
                value = pattern_value(sequence, x, y)
                if got["samples"][i] != value and len(wrong_raw) < 5:
                    wrong_raw.append((x, y, got["samples"][i], value))
                grey = level(value, lo, hi)
                levels.add(grey)
                if got["rgba"][4 * i:4 * i + 4] != [grey, grey, grey, 255] and len(wrong_grey) < 5:
                    wrong_grey.append((x, y, got["rgba"][4 * i:4 * i + 4], grey))
        self.assertEqual(wrong_raw, [], f"raw samples of sequence {sequence} (x, y, got, pattern)")
        self.assertEqual(wrong_grey, [], f"canvas of sequence {sequence} under [{lo}, {hi}] (x, y, got, expected)")
        self.assertTrue({0, 255} <= levels and len(levels) > 200, "the test covers the whole grey range")

        # viridis: its two ends are matplotlib's first and last colours.
        self.choose("colormap", "viridis")
        self.wait_for_frame("a frame drawn in viridis", lambda f: f["colormap"] == "viridis")
        got = self.frame_and_canvas()
        ends = {0: [0x44, 0x01, 0x54, 255], 255: [0xfd, 0xe7, 0x25, 255]}
        checked = 0
        for y in range(0, HEIGHT, 7):
            for x in range(0, WIDTH, 5):
                grey = level(pattern_value(got["sequence"], x, y), lo, hi)
                if grey in ends:
                    i = 4 * (y * WIDTH + x)
                    self.assertEqual(got["rgba"][i:i + 4], ends[grey], f"pixel ({x}, {y}) at level {grey}")
                    checked += 1
        self.assertGreater(checked, 0)

    def test_the_status_tables_show_the_stage_and_the_live_views_consumer(self):
        self.driver.get(self.run_.base + "/")
        self.wait_for_frame("a first frame drawn")

        def tables():
            stages = self.driver.find_element("css selector", "#stages tbody").text
            consumers = self.driver.find_element("css selector", "#consumers tbody").text
            return (stages, consumers) if "acquire" in stages and "live-" in consumers else None

        stages, consumers = wait_until(tables, 30, "the stage and the live view in the tables")
        self.assertIn("running", stages)
        self.assertIn("newest", consumers)
        self.assertIn("raw", self.driver.find_element("css selector", "#rings tbody").text)

    def test_a_recording_started_from_the_page_is_complete(self):
        started = self.start_recording_from_page("from-the-page", frames=30)
        self.assertEqual(started["state"], "recording")
        recording = self.wait_recording_end(started["id"])
        self.assertEqual(recording["state"], "finished", recording)
        self.assertEqual(recording["verdict"], "complete", recording)
        self.assertEqual(recording["frames"], 30)
        self.assertEqual(recording["lost"], 0)
        report = subprocess.run([FRAMERING, "inspect", "--json", recording["path"]], capture_output=True, text=True,
                                timeout=60)
        inspect = json.loads(report.stdout)
        self.assertTrue(inspect["complete"], inspect)
        self.assertEqual(inspect["frames_recorded"], 30)
        # The page's table shows it as the API does.
        wait_until(lambda: "complete" in self.driver.find_element("css selector", "#recordings tbody").text, 30,
                   "the verdict in the page's table")

    def test_a_recording_without_a_count_stops_with_its_stop_button(self):
        started = self.start_recording_from_page("until-stopped")
        wait_until(lambda: self.run_.get(f"/api/v1/recordings/{started['id']}")["frames"] >= 10, 30,
                   "ten frames recorded")
        button = wait_until(lambda: self.driver.find_elements("css selector", f"button.record-stop[data-id='{started['id']}']"),
                            30, "the recording's Stop button")
        button[0].click()
        recording = self.wait_recording_end(started["id"])
        self.assertEqual(recording["state"], "finished", recording)
        self.assertEqual(recording["verdict"], "complete", recording)
        self.assertGreaterEqual(recording["frames"], 10)


if __name__ == "__main__":
    unittest.main()
