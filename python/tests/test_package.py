"""The `framering` Python package against the real C++ processes, both ways.

Run by CTest (python/CMakeLists.txt) with Debian's /usr/bin/python3, PYTHONPATH naming the build's
package, FRAMERING_BIN and RING_PEER naming the binaries. Every frame carries the sequence pattern
pixel = (sequence + x + 3y) & mask, so content is verified without a reference copy. Every wait
has a deadline; nothing sleeps in place of synchronisation.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

import numpy as np

import framering

FRAMERING = os.environ.get("FRAMERING_BIN", "framering")
RING_PEER = os.environ.get("RING_PEER", "ring_peer")
W, H = 64, 48


def pattern(sequence, width=W, height=H, dtype=np.uint16):
    y, x = np.mgrid[0:height, 0:width]
    mask = 0xFF if dtype == np.uint8 else 0xFFFF
    return ((sequence + x + 3 * y) & mask).astype(dtype)


def rgb_pattern(sequence, width=W, height=H):
    """The RGB8 sequence pattern: sample c of pixel (x, y) = (sequence + x + 3y + 85c) & 0xFF."""
    y, x = np.mgrid[0:height, 0:width]
    return ((sequence + x[..., None] + 3 * y[..., None] + 85 * np.arange(3)) & 0xFF).astype(np.uint8)


def unique_instance(test):
    return f"py{os.getpid()}-{test.id().rsplit('.', 1)[-1][:30]}"


def wait_until(condition, timeout_s=30.0, what="condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.002)  # polling another process's state, with a deadline
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def process_state(pid):
    """The state letter of /proc/<pid>/stat ('R', 'S' sleeping, 'T' stopped, ...), or '?' when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "?"


def is_stopped(pid):
    """Whether process `pid` is stopped (SIGSTOP: /proc state 'T'): ring_peer --stop-at stops itself."""
    return process_state(pid) == "T"


def ring_state(instance, ring="raw"):
    """The ring's status once it is readable (created and initialised), else None."""
    for r in framering.status(instance):
        if r.get("ring") == ring and "error" not in r:
            return r
    return None


def consumer_state(instance, name, ring="raw"):
    r = ring_state(instance, ring)
    if r is None:
        return None
    for c in r["consumers"]:
        if c["name"] == name:
            return c
    return None


class RingTest(unittest.TestCase):
    def setUp(self):
        self.instance = unique_instance(self)
        self.tmp = tempfile.TemporaryDirectory(prefix="framering-py-")
        self.children = []
        signal.alarm(120)  # the watchdog: a hung test dies instead of hanging CTest

    def tearDown(self):
        signal.alarm(0)
        for child in self.children:
            if child.poll() is None:
                child.kill()
                child.wait()
        for name in framering.list_rings(self.instance):
            path = f"/dev/shm/framering.{self.instance}.{name}"
            if os.path.exists(path):
                os.unlink(path)
        self.tmp.cleanup()

    def spawn(self, argv, **kwargs):
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
        self.children.append(child)
        return child

    def finish(self, child, timeout_s=60):
        out, err = child.communicate(timeout=timeout_s)
        return child.returncode, out, err


class PythonProducer(RingTest):
    def test_frames_written_in_python_are_recorded_losslessly_by_the_cpp_recorder(self):
        dest = os.path.join(self.tmp.name, "rec")
        writer = framering.RingWriter(self.instance, "raw", width=W, height=H, pixel_format="Mono16", slots=8)
        recorder = self.spawn([FRAMERING, "record", "--instance", self.instance, "--ring", "raw", "--dest", dest,
                               "--max-file-frames", "7", "--report-interval-s", "0"])
        self.assertTrue(writer.wait_for_consumers(1, timeout_s=30))
        for n in range(40):
            with writer.claim(timeout_s=10) as frame:
                self.assertEqual(frame.sequence, n)
                self.assertEqual(frame.pixels.shape, (H, W))
                self.assertEqual(frame.pixels.dtype, np.dtype("<u2"))
                self.assertEqual(frame.pixels.ctypes.data % 4096, 0, "the slot is page-aligned")
                frame.pixels[...] = pattern(n)
                frame.camera_frame_id = 1000 + n
        wait_until(lambda: (consumer_state(self.instance, "record") or {}).get("cursor") == 40, what="the recorder")
        recorder.send_signal(signal.SIGTERM)
        code, out, err = self.finish(recorder)
        self.assertEqual(code, 0, err)
        summary = json.loads(out.strip().splitlines()[-1])
        rec = framering.open_recording(summary["recording"])
        self.assertTrue(rec.complete, rec.manifest)
        self.assertEqual(rec.frames.shape, (40, H, W))
        self.assertEqual(list(rec.index["sequence"]), list(range(40)))
        self.assertEqual(list(rec.index["camera_frame_id"]), [1000 + n for n in range(40)])
        for n in range(40):
            np.testing.assert_array_equal(rec.frames[n], pattern(n))
        self.assertFalse(rec.frames.flags.writeable)
        writer.close()

    def test_rgb_frames_are_height_width_three_in_the_writer_the_readers_and_the_recording(self):
        import tifffile

        dest = os.path.join(self.tmp.name, "rec")
        writer = framering.RingWriter(self.instance, "raw", width=W, height=H, pixel_format="RGB8", slots=16)
        recorder = self.spawn([FRAMERING, "record", "--instance", self.instance, "--ring", "raw", "--dest", dest,
                               "--frames", "12", "--report-interval-s", "0"])
        with framering.RingReader(self.instance, "raw", kind="every", name="py-every") as reader:
            self.assertTrue(writer.wait_for_consumers(2, timeout_s=30))
            for n in range(12):
                with writer.claim(timeout_s=10) as frame:
                    self.assertEqual(frame.pixels.shape, (H, W, 3))
                    self.assertEqual(frame.pixels.dtype, np.uint8)
                    frame.pixels[...] = rgb_pattern(n)
            for n in range(12):
                frame = reader.read(timeout_s=10)
                self.assertIsNotNone(frame)
                self.assertEqual(frame.pixels.shape, (H, W, 3))
                np.testing.assert_array_equal(frame.pixels, rgb_pattern(n))
        code, out, err = self.finish(recorder)
        self.assertEqual(code, 0, err)
        folder = json.loads(out.strip().splitlines()[-1])["recording"]
        rec = framering.open_recording(folder)
        self.assertEqual(rec.frames.shape, (12, H, W, 3))
        self.assertEqual(rec.samples_per_pixel, 3)
        np.testing.assert_array_equal(rec.frames, tifffile.imread(os.path.join(folder, "part-000001.tif")))
        for n in range(12):
            np.testing.assert_array_equal(rec.frames[n], rgb_pattern(n))
        writer.close()

    def test_an_exception_in_the_claim_block_publishes_nothing(self):
        writer = framering.RingWriter(self.instance, "raw", width=W, height=H, slots=4)
        with self.assertRaises(RuntimeError):
            with writer.claim() as frame:
                frame.pixels[...] = 7
                raise RuntimeError("the camera failed mid-frame")
        self.assertEqual(writer.next_sequence, 0)
        self.assertEqual(ring_state(self.instance)["producer"]["published"], 0)
        with writer.claim() as frame:
            self.assertEqual(frame.sequence, 0, "the abandoned sequence is claimed again")
        self.assertEqual(ring_state(self.instance)["producer"]["published"], 1)

    def test_a_producer_killed_mid_claim_and_restarted_continues_the_sequence(self):
        script = textwrap.dedent(f"""
            import sys, numpy as np, framering
            y, x = np.mgrid[0:{H}, 0:{W}]
            w = framering.RingWriter("{self.instance}", "raw", width={W}, height={H}, slots=32)
            start = w.next_sequence
            for n in range(int(sys.argv[1])):
                with w.claim() as f:
                    f.pixels[...] = ((f.sequence + x + 3 * y) & 0xFFFF).astype(np.uint16)
            c = w.claim()                      # mid-claim, half written, never published
            c.pixels[:10] = 12345
            print(start, w.next_sequence, flush=True)
            sys.stdin.read()                   # wait to be killed
        """)
        framering.RingWriter(self.instance, "raw", width=W, height=H, slots=32).close()  # the ring, empty
        reader = framering.RingReader(self.instance, "raw", kind="every", name="check")
        first = self.spawn([sys.executable, "-c", script, "10"], stdin=subprocess.PIPE)
        self.assertEqual(first.stdout.readline().split(), ["0", "10"])
        first.kill()
        first.wait()
        second = self.spawn([sys.executable, "-c", script, "5"], stdin=subprocess.PIPE)
        self.assertEqual(second.stdout.readline().split(), ["10", "15"], "the restarted producer continues")
        second.kill()
        second.wait()
        seen = []
        for _ in range(15):
            frame = reader.read(timeout_s=10)
            self.assertIsNotNone(frame)
            np.testing.assert_array_equal(frame.pixels, pattern(frame.sequence))
            seen.append(frame.sequence)
        self.assertEqual(seen, list(range(15)))
        self.assertIsNone(reader.read(timeout_s=0.1), "a half-written claim is never read")
        reader.close()


class PythonConsumer(RingTest):
    def test_an_every_reader_gets_every_frame_of_a_cpp_producer_in_order_and_intact(self):
        producer = self.spawn([RING_PEER, "produce", "--instance", self.instance, "--ring", "raw", "--frames", "300",
                               "--width", str(W), "--height", str(H), "--slots", "8", "--stop-at", "0"])
        wait_until(lambda: is_stopped(producer.pid), what="the producer to stop itself at sequence 0")
        with framering.RingReader(self.instance, "raw", kind="every", name="py-every") as reader:
            os.kill(producer.pid, signal.SIGCONT)
            sequences = []
            for frame in reader:  # ends when the producer has gone and everything is read
                self.assertIsNone(frame.gap)
                self.assertEqual(frame.pixels.ctypes.data % 4096, 0)
                self.assertFalse(frame.pixels.flags.writeable)
                np.testing.assert_array_equal(frame.pixels, pattern(frame.sequence))
                sequences.append(frame.sequence)
            self.assertEqual(sequences, list(range(300)))
            self.assertEqual(reader.counters["frames_read"], 300)
        self.assertEqual(self.finish(producer)[0], 0)

    def test_an_evicted_every_reader_is_told_its_exact_gap(self):
        producer = self.spawn([RING_PEER, "produce", "--instance", self.instance, "--ring", "raw", "--frames", "100",
                               "--width", str(W), "--height", str(H), "--slots", "4", "--stop-at", "0"])
        wait_until(lambda: is_stopped(producer.pid), what="the producer to stop itself at sequence 0")
        reader = framering.RingReader(self.instance, "raw", kind="every", name="slow", stall_timeout_s=0.2)
        os.kill(producer.pid, signal.SIGCONT)
        first = reader.read(timeout_s=10)
        self.assertEqual(first.sequence, 0)
        # Hold frame 0: the producer fills the ring, waits 0.2 s, evicts us and goes on to the end.
        self.assertEqual(self.finish(producer)[0], 0)
        self.assertFalse(first.release(), "frame 0 was overwritten once we were evicted: lost, not shown")
        frame = reader.read(timeout_s=10)
        self.assertIsNotNone(frame.gap)
        gap_first, gap_last = frame.gap
        self.assertEqual(gap_first, 0)
        self.assertEqual(frame.sequence, gap_last + 1)
        np.testing.assert_array_equal(frame.pixels, pattern(frame.sequence))
        self.assertEqual(reader.counters["frames_lost"], gap_last - gap_first + 1)
        reader.close()

    def test_a_newest_reader_copy_is_intact_or_none(self):
        writer = framering.RingWriter(self.instance, "raw", width=W, height=H, slots=4)
        reader = framering.RingReader(self.instance, "raw", kind="newest", name="viewer")
        for n in range(3):
            with writer.claim() as f:
                f.pixels[...] = pattern(n)
        frame = reader.read(timeout_s=5)
        self.assertEqual(frame.sequence, 2, "the newest frame, not a backlog")
        copy = frame.copy()
        np.testing.assert_array_equal(copy, pattern(2))
        for n in range(3, 3 + 4):  # lap it: slot 2 is written again
            with writer.claim() as f:
                f.pixels[...] = pattern(n)
        self.assertFalse(frame.is_intact())
        self.assertIsNone(frame.copy(), "a torn frame gives no copy")
        self.assertFalse(frame.release())
        np.testing.assert_array_equal(copy, pattern(2), "the copy is private")
        reader.close()
        writer.close()


class Errors(RingTest):
    def test_bad_input_raises_with_the_cpp_message(self):
        with self.assertRaisesRegex(framering.ConfigError, "width"):
            framering.RingWriter(self.instance, "raw", width=0, height=H)
        with self.assertRaisesRegex(framering.ConfigError, "pixel_format 'Mono17'"):
            framering.RingWriter(self.instance, "raw", width=W, height=H, pixel_format="Mono17")
        with self.assertRaisesRegex(framering.RingError, self.instance):
            framering.RingReader(self.instance, "missing")
        with self.assertRaisesRegex(framering.RingError, "not valid"):
            framering.RingReader(self.instance, "a/b")
        with self.assertRaisesRegex(ValueError, "kind must be"):
            framering.RingReader(self.instance, "raw", kind="all")
        writer = framering.RingWriter(self.instance, "raw", width=W, height=H, slots=2)
        with self.assertRaisesRegex(framering.RingError, "640x480|64x48"):
            framering.RingWriter(self.instance, "raw", width=640, height=480)  # another live producer
        reader = framering.RingReader(self.instance, "raw", kind="every", name="holder")
        with self.assertRaisesRegex(framering.RingError, "holder"):
            framering.RingReader(self.instance, "raw", kind="every", name="holder")
        for _ in range(2):
            with writer.claim():
                pass
        with self.assertRaises(TimeoutError):
            writer.claim(timeout_s=0.05)  # the every reader holds both slots
        reader.close()
        writer.close()
        with self.assertRaisesRegex(ValueError, "closed"):
            writer.claim()

    def test_status_is_what_framering_status_json_shows(self):
        writer = framering.RingWriter(self.instance, "raw", width=W, height=H, slots=4)
        with writer.claim():
            pass
        mine = framering.status(self.instance)
        out = subprocess.run([FRAMERING, "status", "--instance", self.instance, "--json"], capture_output=True,
                             text=True, check=True).stdout
        theirs = json.loads(out)
        for entry in mine + theirs:  # the only fields that differ between two reads
            entry["producer"].pop("heartbeat_age_s")
            entry["producer"].pop("rate_fps")
        self.assertEqual(mine, theirs)
        self.assertEqual([r["ring"] for r in mine], ["raw"])
        self.assertEqual(mine[0]["producer"]["published"], 1)
        self.assertEqual(mine[0]["instance"], self.instance)
        writer.close()


class Recordings(RingTest):
    def test_open_recording_of_a_multi_part_recording_equals_what_tifffile_reads(self):
        import tifffile

        dest = os.path.join(self.tmp.name, "rec")
        producer = self.spawn([RING_PEER, "produce", "--instance", self.instance, "--ring", "raw", "--frames", "30",
                               "--width", str(W), "--height", str(H), "--slots", "8", "--stop-at", "0"])
        wait_until(lambda: is_stopped(producer.pid), what="the producer to stop itself at sequence 0")
        recorder = self.spawn([FRAMERING, "record", "--instance", self.instance, "--ring", "raw", "--dest", dest,
                               "--max-file-frames", "7", "--frames", "30", "--report-interval-s", "0"])
        wait_until(lambda: consumer_state(self.instance, "record") is not None, what="the recorder")
        os.kill(producer.pid, signal.SIGCONT)
        code, out, err = self.finish(recorder)
        self.assertEqual(code, 0, err)
        self.assertEqual(self.finish(producer)[0], 0)
        folder = json.loads(out.strip().splitlines()[-1])["recording"]
        rec = framering.open_recording(folder)
        parts = sorted(f for f in os.listdir(folder) if f.endswith(".tif"))
        self.assertEqual(len(parts), 5)
        stack = np.concatenate([tifffile.imread(os.path.join(folder, p)).reshape(-1, H, W) for p in parts])
        self.assertEqual(rec.frames.shape, (30, H, W))
        np.testing.assert_array_equal(rec.frames, stack)
        self.assertTrue(rec.complete)
        self.assertEqual(rec.gaps, [])
        self.assertIn("30 frames", repr(rec))

    def test_a_folder_that_is_not_a_recording_is_named(self):
        with self.assertRaisesRegex(FileNotFoundError, "recording.json"):
            framering.open_recording(self.tmp.name)
        with self.assertRaisesRegex(FileNotFoundError, "not a recording folder"):
            framering.open_recording(os.path.join(self.tmp.name, "nope"))


class Interrupts(RingTest):
    def test_ctrl_c_interrupts_a_blocked_read_and_a_blocked_claim(self):
        writer = framering.RingWriter(self.instance, "raw", width=W, height=H, slots=2)
        holder = framering.RingReader(self.instance, "raw", kind="every", name="holder", stall_timeout_s=0)
        for _ in range(2):
            with writer.claim():
                pass
        writer.close()  # the ring is full, and the every reader "holder" never releases: a claim blocks
        for blocked in (f'r = framering.RingReader("{self.instance}", "raw", kind="newest")\n'
                        f'r.read(timeout_s=5)\n'  # the newest frame at once; the next one never comes
                        f'r.read(timeout_s=600)',
                        f'framering.RingWriter("{self.instance}", "raw", width={W}, height={H}, slots=2)'
                        f'.claim(timeout_s=600)'):
            child = self.spawn([sys.executable, "-c", f"import framering\nprint('ready', flush=True)\n{blocked}"])
            self.assertEqual(child.stdout.readline().strip(), "ready")
            wait_until(lambda: process_state(child.pid) == "S", what="the child to sleep in its wait")
            child.send_signal(signal.SIGINT)
            code, _, err = self.finish(child, timeout_s=60)  # far below the 600 s it would wait
            self.assertNotEqual(code, 0)
            self.assertIn("KeyboardInterrupt", err)
        holder.close()


class Draining(RingTest):
    def test_an_every_reader_drains_what_was_published_when_the_stop_came(self):
        writer = framering.RingWriter(self.instance, "raw", width=W, height=H, slots=8)
        reader = framering.RingReader(self.instance, "raw", kind="every", name="drainer")
        for n in range(5):
            with writer.claim() as f:
                f.pixels[...] = pattern(n)

        class Stop:  # stands in for StopSignal after a SIGTERM
            def __bool__(self):
                return True

        drain = framering.Drain(Stop(), framering.stage_environment({}))
        seen = []
        while not drain.finished(reader):
            frame = reader.read(timeout_s=5)
            self.assertIsNotNone(frame)
            seen.append(frame.sequence)
            frame.release()
        with writer.claim():
            pass  # published after the stop: not owed
        self.assertEqual(seen, [0, 1, 2, 3, 4])
        self.assertTrue(drain.finished(reader))
        reader.close()
        writer.close()


class Stage(unittest.TestCase):
    def test_the_stage_environment_is_parsed_as_docs_stages_md_says(self):
        env = framering.stage_environment({
            "FRAMERING_INSTANCE": "lab", "FRAMERING_STAGE": "fft", "FRAMERING_PRODUCES": "filtered,mask",
            "FRAMERING_CONSUMES": "raw:every,processed:newest", "FRAMERING_FRAMES": "400",
            "FRAMERING_WAIT_FOR_CONSUMERS": "2", "FRAMERING_SUPERVISOR_PID": "77"})
        self.assertEqual((env.instance, env.name, env.frames, env.wait_for_consumers, env.supervisor_pid),
                         ("lab", "fft", 400, 2, 77))
        self.assertEqual(env.produces, ["filtered", "mask"])
        self.assertEqual(env.consumes, [("raw", "every"), ("processed", "newest")])
        self.assertEqual(env.consumed("every"), ["raw"])
        outside = framering.stage_environment({}, default_name="tool")
        self.assertEqual((outside.instance, outside.name, outside.frames, outside.supervisor_pid),
                         ("default", "tool", 0, None))
        with self.assertRaisesRegex(ValueError, "FRAMERING_CONSUMES item 'raw:all'"):
            framering.stage_environment({"FRAMERING_CONSUMES": "raw:all"})
        with self.assertRaisesRegex(ValueError, "FRAMERING_FRAMES='many'"):
            framering.stage_environment({"FRAMERING_FRAMES": "many"})


@unittest.skipUnless(os.environ.get("FRAMERING_CHECK_INSTALL") == "1", "set FRAMERING_CHECK_INSTALL=1")
class Install(unittest.TestCase):
    def test_debians_python_imports_framering_from_any_folder(self):
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LD_PRELOAD")}
        r = subprocess.run(["/usr/bin/python3", "-c", "import framering; print(framering.RingWriter.__name__)"],
                           cwd="/", env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "RingWriter")


if __name__ == "__main__":
    unittest.main()
