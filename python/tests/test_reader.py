#!/usr/bin/python3
"""test_reader.py: python/framering_ring.py against rings written by the C++ producer.

Run by CTest (python_reader) with Debian's /usr/bin/python3 and RING_PEER pointing at the built
tests/support ring_peer. Every segment it makes is /dev/shm/framering.pyreader<pid>-<n>.<ring>
and is removed at the end, also on failure; a watchdog ends a hung run.
"""

import faulthandler
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))

import framering_ring as fr  # noqa: E402

INSTANCE = f"pyreader{os.getpid()}"
RING_PEER = os.environ.get("RING_PEER", "")
WATCHDOG_S = 100                    # CTest's TIMEOUT is 120
_children = []                      # every ring_peer / python child we started


def cleanup() -> None:
    for child in _children:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdin, child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    for path in glob.glob(f"/dev/shm/framering.{INSTANCE}.*"):
        os.unlink(path)


def on_watchdog(signum, frame):
    sys.stderr.write(f"test_reader: watchdog: no end after {WATCHDOG_S} s\n")
    faulthandler.dump_traceback(all_threads=True)
    cleanup()
    os._exit(1)


def expected_pattern(sequence: int, height: int, width: int, bits: int) -> np.ndarray:
    """The sequence pattern (common/src/sequence_pattern.cpp): (sequence + x + 3*y) & (2^bits - 1),
    with sequence taken modulo 2^32 as the C++ does."""
    y, x = np.mgrid[0:height, 0:width].astype(np.int64)
    return ((sequence % (1 << 32)) + x + 3 * y) & ((1 << bits) - 1)


def wait_until(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.001)


def produce(ring: str, *args: str) -> subprocess.Popen:
    child = subprocess.Popen([RING_PEER, "produce", "--instance", INSTANCE, "--ring", ring, *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _children.append(child)
    return child


def finish(child: subprocess.Popen, timeout_s: float = 30) -> dict:
    """Waits for a ring_peer (SIGTERM first if it is still producing) and returns its JSON."""
    try:
        out, err = child.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        child.terminate()
        out, err = child.communicate(timeout=10)
    assert child.returncode == 0, f"ring_peer exit {child.returncode}: {err}"
    return json.loads(out.strip().splitlines()[-1])


class LayoutMatchesCpp(unittest.TestCase):
    def test_constants_match_the_static_asserts_in_ring_layout_hpp(self):
        header = os.path.join(SOURCE_DIR, "common/include/framering/common/ring_layout.hpp")
        with open(header) as f:
            text = f.read()
        fields = {
            "SegmentHeader": {k: v[0] for k, v in fr.SEGMENT_HEADER_FIELDS.items()},
            "ProducerControl": fr.PRODUCER_CONTROL_BLOCKS,
            "ConsumerEntry": fr.CONSUMER_ENTRY_BLOCKS,
            "ConsumerEntry::Identity": {"name": fr.CONSUMER_ENTRY_FIELDS["name"][0]
                                        - fr.CONSUMER_ENTRY_BLOCKS["identity"],
                                        "latency": fr.CONSUMER_ENTRY_FIELDS["latency_p50_ns"][0]
                                        - fr.CONSUMER_ENTRY_BLOCKS["identity"]},
            "FrameHeader": {k: v[0] for k, v in fr.FRAME_HEADER_FIELDS.items()},
        }
        sizes = {"SegmentHeader": fr.SEGMENT_HEADER_BYTES, "ProducerControl": fr.PRODUCER_CONTROL_BYTES,
                 "ConsumerEntry": fr.CONSUMER_ENTRY_BYTES, "FrameHeader": fr.FRAME_HEADER_BYTES,
                 "ConsumerEntry::Identity": 128}
        offsets = re.findall(r"offsetof\(([\w:]+),\s*(\w+)\)\s*==\s*(\d+)", text)
        sizeofs = re.findall(r"sizeof\(([\w:]+)\)\s*==\s*(\d+)", text)
        self.assertGreaterEqual(len(offsets), 18, "could not find the offsetof static_asserts")
        self.assertGreaterEqual(len(sizeofs), 5, "could not find the sizeof static_asserts")
        for struct_name, field, value in offsets:
            self.assertEqual(fields[struct_name][field], int(value), f"offsetof({struct_name}, {field})")
        for struct_name, value in sizeofs:
            self.assertEqual(sizes[struct_name], int(value), f"sizeof({struct_name})")
        constants = dict(re.findall(r"inline constexpr std::\w+ (k\w+) = (\w+?)(?:ULL)?;", text))
        self.assertEqual(int(constants["kMagic"], 16), fr.MAGIC)
        self.assertEqual(fr.MAGIC.to_bytes(8, "little"), b"FRAMERNG")
        self.assertEqual(int(constants["kLayoutVersion"]), fr.LAYOUT_VERSION)
        self.assertEqual(int(constants["kMaxConsumers"]), fr.MAX_CONSUMERS)
        self.assertEqual(int(constants["kNameBytes"]), fr.NAME_BYTES)
        self.assertEqual(int(constants["kConsumerNameBytes"]), fr.CONSUMER_NAME_BYTES)
        with open(os.path.join(SOURCE_DIR, "common/include/framering/common/pixel_format.hpp")) as f:
            pfnc = f.read()
        codes = {name: int(code, 16) for name, code in re.findall(r"\b((?:Mono|RGB|BGR|Bayer)\w*\d+) = (0x[0-9A-Fa-f]+)", pfnc)}
        self.assertEqual(codes, {name: code for code, (name, _) in fr.PIXEL_FORMATS.items()})

    def test_layout_of_segments_written_by_cpp_matches_compute_layout(self):
        shapes = [  # width, height, slots, max consumers, format, group access
            (64, 48, 8, 16, "Mono16", False),
            (33, 7, 3, 1, "Mono8", False),
            (100, 10, 2, 64, "Mono12", False),
            (1, 1, 2, 5, "Mono16", True),
            (37, 5, 4, 4, "RGB8", False),
            (20, 6, 4, 4, "BayerRG8", False),
            (20, 6, 4, 4, "BayerGB12", False),
        ]
        for n, (width, height, slots, consumers, fmt, group) in enumerate(shapes):
            ring = f"layout{n}"
            args = ["--width", str(width), "--height", str(height), "--slots", str(slots),
                    "--max-consumers", str(consumers), "--format", fmt, "--frames", "3"]
            finish(produce(ring, *args + (["--group-access"] if group else [])))
            with self.subTest(shape=(width, height, slots, consumers, fmt)), fr.Ring.open(INSTANCE, ring) as r:
                bpp = {"Mono8": 1, "RGB8": 3, "BayerRG8": 1}.get(fmt, 2)
                samples = 3 if fmt == "RGB8" else 1
                self.assertEqual(r.samples_per_pixel, samples)
                self.assertEqual(r.header["samples_per_pixel"], samples, "offset 156 says it too")
                want = fr.compute_layout(max_consumers=consumers, slot_count=slots,
                                         stride_bytes=width * bpp, height=height)
                for key, value in want.items():
                    self.assertEqual(r.header[key], value, key)
                self.assertEqual(r.header["consumer_entry_bytes"], 320)
                self.assertEqual(r.header["frame_header_bytes"], 64)
                self.assertEqual(r.header["header_bytes"], 256)
                self.assertEqual(r.header["slot_alignment_bytes"], 4096)
                self.assertEqual(r.pixel_format_name, fmt)
                self.assertEqual(r.frame_bytes, width * bpp * height)
                self.assertEqual(r.slots_offset % 4096, 0)
                self.assertEqual(os.stat(r.path).st_size, r.segment_bytes)
                mode = 0o660 if group else 0o600
                self.assertEqual(r.permissions, mode)
                self.assertEqual(os.stat(r.path).st_mode & 0o777, mode)
                self.assertEqual(r.published(), 3)
                with r.attach_newest("layout") as reader:
                    frame = reader.read(timeout_s=5)
                    self.assertIsNotNone(frame)
                    self.assertEqual(frame.sequence, 2)       # the newest of the three
                    self.assertEqual(frame.pixels.dtype, np.uint8 if bpp // samples == 1 else np.dtype("<u2"))
                    bits = fr.PIXEL_FORMATS[r.pixel_format][1]
                    if samples == 3:  # sample c of a pixel: the pattern + 85c
                        self.assertEqual(frame.pixels.shape, (height, width, 3))
                        want = np.stack([(expected_pattern(2, height, width, bits) + 85 * c) & 0xFF
                                         for c in range(3)], axis=-1)
                        np.testing.assert_array_equal(frame.pixels, want)
                    else:
                        self.assertEqual(frame.pixels.shape, (height, width))
                        np.testing.assert_array_equal(frame.pixels, expected_pattern(2, height, width, bits))
                    self.assertTrue(frame.release())
                    self.assertIsNone(reader.read(timeout_s=0.01))


class NewestReaderAgainstLiveProducer(unittest.TestCase):
    def test_reads_verified_zero_copy_frames_next_to_a_cpp_newest_consumer(self):
        producer = produce("raw", "--width", "64", "--height", "48", "--slots", "8",
                           "--frames", "2000", "--rate-hz", "500")
        ring = fr.Ring.open(INSTANCE, "raw", wait_s=10, expect={"width": 64, "height": 48,
                                                                "pixel_format": "Mono16", "slot_count": 8})
        self.addCleanup(ring.close)
        self.assertEqual(ring.dtype, np.dtype("<u2"))
        cpp = subprocess.Popen([RING_PEER, "newest", "--instance", INSTANCE, "--ring", "raw", "--name", "cpp",
                                "--until-sequence", "1200", "--frames", "1000000", "--verify"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _children.append(cpp)
        reader = ring.attach_newest("py")
        self.assertFalse(reader.resumed)
        start_cursor = reader.cursor
        expected_skipped = 0
        previous = None
        read = torn = 0
        deadline = time.monotonic() + 20
        while read < 300:
            self.assertLess(time.monotonic(), deadline, "too slow: fewer than 300 frames in 20 s")
            frame = reader.read(timeout_s=2.0)
            self.assertIsNotNone(frame, "no frame for 2 s from a 500 Hz producer")
            want_from = start_cursor if previous is None else previous + 1
            self.assertGreaterEqual(frame.sequence, want_from)
            expected_skipped += frame.sequence - want_from
            self.assertEqual(frame.seqlock, 2 * frame.sequence + 2)
            self.assertEqual(frame.slot, frame.sequence % 8)
            self.assertEqual(frame.camera_frame_id, 1000 + frame.sequence)
            self.assertLess(abs(frame.timestamp_ns - fr.realtime_ns()), 10_000_000_000)
            self.assertLessEqual(frame.publish_monotonic_ns, fr.monotonic_ns())
            pixels_ok = np.array_equal(frame.pixels, expected_pattern(frame.sequence, 48, 64, 16))
            if frame.release():
                self.assertTrue(pixels_ok, f"frame {frame.sequence} intact but with wrong pixels")
                read += 1
            else:
                torn += 1
            previous = frame.sequence
        # Zero-copy and read-only: the array is the slot itself.
        frame = reader.read(timeout_s=2.0)
        self.assertIsNotNone(frame)
        expected_skipped += frame.sequence - (previous + 1)
        address = frame.pixels.__array_interface__["data"][0]
        self.assertEqual(address, ring.base_address + ring.slots_offset + frame.slot * ring.slot_stride_bytes)
        self.assertEqual(address % 4096, 0)
        self.assertTrue(np.shares_memory(frame.pixels, ring.slot_pixels(frame.slot)))
        self.assertFalse(frame.pixels.flags.owndata)
        base = frame.pixels
        while not isinstance(base, memoryview):
            base = base.base
        self.assertIs(base.obj, ring._mm)
        self.assertFalse(frame.pixels.flags.writeable)
        with self.assertRaises(ValueError):
            frame.pixels[0, 0] = 1
        with self.assertRaises(ValueError):
            frame.pixels.setflags(write=True)
        copy = frame.copy()
        self.assertIsNotNone(copy)
        self.assertTrue(copy.flags.owndata and copy.flags.writeable)
        np.testing.assert_array_equal(copy, expected_pattern(frame.sequence, 48, 64, 16))
        read += 1
        # Torn: wait until the producer has rewritten this frame's slot with a later frame.
        wait_until(lambda: ring.published() >= frame.sequence + 8 + 1, 10, "the producer to lap the slot")
        self.assertFalse(frame.is_intact())
        frame2 = reader.read(timeout_s=2.0)
        stale = frame2.sequence                       # the slot of frame2 is about to be lapped too
        wait_until(lambda: ring.published() >= stale + 8 + 1, 10, "the producer to lap the slot")
        self.assertIsNone(frame2.copy())
        torn += 1
        expected_skipped += frame2.sequence - (frame.sequence + 1)

        # The entry holds what this reader did, as the C++ would have stored it.
        counters = reader.counters()
        self.assertEqual(counters, {"frames_read": read, "frames_skipped": expected_skipped, "frames_torn": torn})
        entry = ring.consumer_entry(reader.index)
        self.assertEqual((entry["state"], entry["kind"], entry["pid"], entry["name"]),
                         (fr.STATE_ACTIVE, fr.KIND_NEWEST, os.getpid(), "py"))
        self.assertEqual(entry["start_time_ticks"], fr.process_start_ticks(os.getpid()))
        self.assertEqual(entry["cursor"], frame2.sequence + 1)
        self.assertGreater(entry["wake_word"], 0, "the producer never woke this reader through its futex")
        self.assertEqual(entry["ready"], 0)
        with fr.Ring.open(INSTANCE, "raw", writable=False) as inspect:
            status = inspect.status()
            mine = [c for c in status["consumers"] if c["name"] == "py"]
            self.assertEqual(len(mine), 1)
            self.assertEqual((mine[0]["kind"], mine[0]["state"], mine[0]["alive"]), ("newest", "active", True))
            self.assertEqual(mine[0]["frames_read"], read)
            self.assertTrue(status["producer"]["alive"])
            self.assertEqual(status["permissions"], "0600")
            with self.assertRaises(PermissionError):
                inspect.attach_newest("nope")

        print(f"\n  python newest consumer: read {read}, skipped {expected_skipped}, torn {torn}, "
              f"futex wakes by the producer {entry['wake_word']}", file=sys.stderr, flush=True)
        # The C++ newest consumer on the same ring saw only intact, correct frames.
        result = finish(cpp)
        self.assertEqual((result["bad_content"], result["torn_shown"], result["out_of_order"]), (0, 0, 0), result)
        self.assertGreaterEqual(result["last"], 1200)

        index = reader.index
        reader.close()
        self.assertEqual(ring.consumer_entry(index)["state"], fr.STATE_FREE)
        self.assertEqual(ring.consumer_entry(index)["pid"], 0)

        # Producer finished: the newest frame is read once, then read() times out.
        result = finish(producer)
        self.assertEqual(result["published"], 2000)
        with ring.attach_newest("py") as again:
            last = again.read(timeout_s=1.0)
            self.assertEqual(last.sequence, 1999)
            np.testing.assert_array_equal(last.copy(), expected_pattern(1999, 48, 64, 16))
            started = time.monotonic()
            self.assertIsNone(again.read(timeout_s=0.2))
            self.assertGreaterEqual(time.monotonic() - started, 0.19)
            self.assertLess(time.monotonic() - started, 2.0)

    def test_a_restarted_reader_resumes_its_dead_entry_and_a_live_one_is_refused(self):
        finish(produce("resume", "--frames", "5"))
        child = subprocess.Popen(
            ["/usr/bin/python3", "-c",
             "import os, sys; sys.path.insert(0, sys.argv[1]); import framering_ring as fr\n"
             "r = fr.Ring.open(sys.argv[2], 'resume').attach_newest('again')\n"
             "print(r.index, flush=True); sys.stdin.readline(); os._exit(0)  # dies without closing",
             os.path.dirname(HERE), INSTANCE],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        _children.append(child)
        index = int(child.stdout.readline())
        with fr.Ring.open(INSTANCE, "resume") as ring:
            with self.assertRaisesRegex(ValueError, f"in use by live pid {child.pid}"):
                ring.attach_newest("again")
            child.stdin.write("\n")
            child.stdin.flush()
            child.wait(timeout=10)
            with ring.attach_newest("again") as reader:
                self.assertTrue(reader.resumed)
                self.assertEqual(reader.index, index)
                self.assertEqual(ring.consumer_entry(index)["attach_count"], 2)
                self.assertEqual(reader.read(timeout_s=1).sequence, 4)
                with self.assertRaisesRegex(ValueError, "in use by this process"):
                    ring.attach_newest("again")
            with self.assertRaisesRegex(ValueError, "not valid"):
                ring.attach_newest("x" * 32)
            with self.assertRaisesRegex(ValueError, "not valid"):
                ring.attach_newest("bad name")


class OpenRejectsWhatItCannotTrust(unittest.TestCase):
    def make_segment(self, ring: str, data: bytes) -> str:
        path = f"/dev/shm/framering.{INSTANCE}.{ring}"
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.write(fd, data)
        os.close(fd)
        return path

    def real_header(self) -> bytearray:
        finish(produce("genuine", "--frames", "1"))
        with open(f"/dev/shm/framering.{INSTANCE}.genuine", "rb") as f:
            return bytearray(f.read())

    def test_a_missing_ring_names_its_path(self):
        with self.assertRaisesRegex(FileNotFoundError, f"/dev/shm/framering.{INSTANCE}.absent.*no producer"):
            fr.Ring.open(INSTANCE, "absent")
        started = time.monotonic()
        with self.assertRaises(FileNotFoundError):
            fr.Ring.open(INSTANCE, "absent", wait_s=0.1)
        self.assertGreaterEqual(time.monotonic() - started, 0.1)

    def test_bad_magic_names_the_segment_and_both_values(self):
        path = self.make_segment("badmagic", b"NOTARING" + bytes(4096 - 8))
        with self.assertRaises(ValueError) as caught:
            fr.Ring.open(INSTANCE, "badmagic", writable=False)
        message = str(caught.exception)
        self.assertIn(path, message)
        self.assertIn(f"0x{int.from_bytes(b'NOTARING', 'little'):016x}", message)
        self.assertIn("0x474e52454d415246", message)
        self.assertIn("not a framering ring", message)

    def test_another_layout_version_names_both_versions(self):
        data = self.real_header()
        other = fr.LAYOUT_VERSION + 1
        data[8:12] = other.to_bytes(4, "little")
        path = self.make_segment("otherversion", bytes(data))
        with self.assertRaisesRegex(ValueError,
                                    f"{path} has layout version {other} .* reads layout version {fr.LAYOUT_VERSION}"):
            fr.Ring.open(INSTANCE, "otherversion")

    def test_truncated_and_inconsistent_segments_are_refused(self):
        data = self.real_header()
        path = self.make_segment("short", bytes(data[:100]))
        with self.assertRaisesRegex(ValueError, f"{path} is truncated: 100 B"):
            fr.Ring.open(INSTANCE, "short")
        path = self.make_segment("cut", bytes(data[:8192]))
        with self.assertRaisesRegex(ValueError, f"{path} is truncated: 8192 B, but its header says"):
            fr.Ring.open(INSTANCE, "cut")
        bad = bytearray(data)
        bad[128:136] = (1 << 40).to_bytes(8, "little")      # frame_headers_offset far outside
        path = self.make_segment("inconsistent", bytes(bad))
        with self.assertRaisesRegex(ValueError, f"{path} has an inconsistent header .*frame_headers_offset"):
            fr.Ring.open(INSTANCE, "inconsistent")
        path = self.make_segment("stale", bytes(4096))      # magic never set
        with self.assertRaisesRegex(ValueError, "never finished initialising"):
            fr.Ring.open(INSTANCE, "stale")

    def test_unexpected_geometry_and_bad_names(self):
        finish(produce("geometry", "--frames", "1"))
        with self.assertRaisesRegex(ValueError, "holds 64x48 Mono16 .* expected width 640"):
            fr.Ring.open(INSTANCE, "geometry", expect={"width": 640})
        for instance, ring in (("", "raw"), ("a/b", "raw"), (INSTANCE, "r" * 48), (INSTANCE, "a.b")):
            with self.assertRaisesRegex(ValueError, "name .* is not valid"):
                fr.Ring.open(instance, ring)


def main() -> int:
    if not RING_PEER or not os.access(RING_PEER, os.X_OK):
        sys.stderr.write(f"test_reader: RING_PEER={RING_PEER!r} is not an executable ring_peer\n")
        return 2
    signal.signal(signal.SIGALRM, on_watchdog)
    signal.alarm(WATCHDOG_S)
    print(f"numpy {np.__version__}, libatomic fence {fr.HAS_SEQ_CST_FENCE}, futex {fr.HAS_FUTEX}, "
          f"instance {INSTANCE}", flush=True)
    try:
        result = unittest.main(exit=False, verbosity=2).result
    finally:
        cleanup()
        signal.alarm(0)
    left = glob.glob(f"/dev/shm/framering.{INSTANCE}.*")
    if left:
        sys.stderr.write(f"test_reader: segments left behind: {left}\n")
        return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
