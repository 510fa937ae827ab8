"""framering_ring: read framering shared-memory rings from Python, zero-copy, with numpy.

A ring is one POSIX shared-memory segment, /dev/shm/framering.<instance>.<ring>, written by
one C++ producer (docs/ring-layout.md has the layout byte by byte; this module follows it and
nothing else: no compiled code of ours). Two uses:

  * inspection, read-only:  ``Ring.open("lab", "raw", writable=False).status()``
  * a *newest* consumer:    ``ring.attach_newest("viewer")`` then ``reader.read(timeout_s)``,
    which returns the newest published frame as a read-only numpy view of the slot.

    with Ring.open("lab", "raw") as ring, ring.attach_newest("viewer") as reader:
        frame = reader.read(timeout_s=1.0)      # None on timeout
        if frame is not None:
            image = frame.copy()                # (height, width) array, or None if torn
            print(frame.sequence, frame.timestamp_ns, image.mean())

Consistency: pixels are read in place while the producer may lap the slot (a newest consumer
never slows it down). Every frame's metadata is checked by the slot's seqlock before it is
returned; its pixels are only known to be intact if ``frame.is_intact()`` is still true *after*
you have used them (``frame.copy()`` does copy-then-check for you). Torn reads are counted in
the consumer entry, as the C++ RingReader counts them.

Atomics: Python has no atomic instructions. Every shared field is naturally aligned and is read
or written with one 4- or 8-byte load or store (memoryview item access). On x86-64 (TSO) such
loads have acquire and such stores release semantics in hardware, so the only fence the protocol
needs is the seq_cst one between "ready = 1" and the re-check of ``published``; it comes from
libatomic's ``atomic_thread_fence`` when that library is present (on other CPUs it also supplies
the acquire/release fences). Without it a wake-up can be missed, which costs at most
``WAIT_SLICE_S`` because every futex wait is that short. Consumer-table changes (attach,
detach, reclaim) need no compare-and-swap: they happen under ``flock(LOCK_EX)`` on the segment
file, which the C++ takes for the same changes.

Requires Linux, a little-endian 64-bit CPU, numpy. Tested with Debian 12's python3-numpy.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import mmap
import os
import platform
import re
import struct
import sys
import time
import warnings
import weakref
from typing import Optional

import numpy as np

__all__ = [
    "Ring", "NewestReader", "Frame", "compute_layout", "segment_name", "segment_path",
    "is_process_alive", "process_start_ticks",
]

# ---- constants (common/include/framering/common/ring_layout.hpp, ring_geometry.hpp) ------------

MAGIC = 0x474E52454D415246          # b"FRAMERNG" read as a little-endian uint64
LAYOUT_VERSION = 2
MAX_CONSUMERS = 64
NAME_BYTES = 48                     # SegmentHeader.ring_name, NUL-terminated
CONSUMER_NAME_BYTES = 32            # ConsumerEntry.identity.name, NUL-terminated
PAGE_BYTES = 4096                   # slot alignment and slot stride unit
CACHE_LINE_BYTES = 64

SEGMENT_HEADER_BYTES = 256
PRODUCER_CONTROL_BYTES = 320
CONSUMER_ENTRY_BYTES = 320
FRAME_HEADER_BYTES = 64

SHM_DIR = "/dev/shm"
SEGMENT_PREFIX = "framering."
MAX_NAME_PART = 47                  # instance and ring: 1..47 bytes of [A-Za-z0-9_-]

# Field tables: name -> (byte offset inside the block, struct code). "Q" = uint64, "I" = uint32,
# "<n>s" = n bytes. All little-endian.
SEGMENT_HEADER_FIELDS = {
    "magic": (0, "Q"), "layout_version": (8, "I"), "header_bytes": (12, "I"),
    "segment_bytes": (16, "Q"), "segment_id": (24, "Q"), "created_realtime_ns": (32, "Q"),
    "width": (40, "I"), "height": (44, "I"), "pixel_format": (48, "I"), "bytes_per_pixel": (52, "I"),
    "pixel_format_name": (56, "16s"), "stride_bytes": (72, "Q"), "frame_bytes": (80, "Q"),
    "slot_count": (88, "I"), "max_consumers": (92, "I"), "slot_stride_bytes": (96, "Q"),
    "slot_alignment_bytes": (104, "Q"), "control_offset": (112, "Q"), "consumers_offset": (120, "Q"),
    "frame_headers_offset": (128, "Q"), "slots_offset": (136, "Q"), "consumer_entry_bytes": (144, "I"),
    "frame_header_bytes": (148, "I"), "permissions": (152, "I"), "samples_per_pixel": (156, "I"),
    "ring_name": (160, "48s"), "reserved": (208, "48s"),
}

# ProducerControl: five cache lines.
PRODUCER_CONTROL_BLOCKS = {"cursor": 0, "identity": 64, "space": 128, "stats": 192, "source": 256}
PRODUCER_CONTROL_FIELDS = {
    "published": (0, "Q"),
    "pid": (64, "I"), "attached": (68, "I"), "start_time_ticks": (72, "Q"), "heartbeat_ns": (80, "Q"),
    "attach_count": (88, "Q"),
    "space_word": (128, "I"), "producer_waiting": (132, "I"),
    "frames_dropped": (192, "Q"), "evictions": (200, "Q"), "blocked_ns": (208, "Q"),
    "rate_milli_fps": (216, "Q"),
    "source_frames_lost": (256, "Q"), "source_frames_incomplete": (264, "Q"), "source_frames_timed_out": (272, "Q"),
    "source_underruns": (280, "Q"), "source_packets_missing": (288, "Q"), "source_packets_resent": (296, "Q"),
    "source_outages": (304, "Q"), "source_connected": (312, "Q"),
}

# ConsumerEntry: five cache lines.
CONSUMER_ENTRY_BLOCKS = {"hot": 0, "identity": 64, "counters": 192, "producer_side": 256}
CONSUMER_ENTRY_FIELDS = {
    "cursor": (0, "Q"), "ready": (8, "I"), "wake_word": (12, "I"), "heartbeat_ns": (16, "Q"),
    "state": (64, "I"), "kind": (68, "I"), "pid": (72, "I"), "attach_count": (76, "I"),
    "start_time_ticks": (80, "Q"), "stall_timeout_ns": (88, "Q"), "dead_timeout_ns": (96, "Q"),
    "name": (104, "32s"), "latency_p50_ns": (136, "Q"), "latency_p99_ns": (144, "Q"), "latency_max_ns": (152, "Q"),
    "latency_frames": (160, "Q"), "identity_reserved": (168, "24s"),
    "frames_read": (192, "Q"), "frames_skipped": (200, "Q"), "frames_torn": (208, "Q"), "gaps": (216, "Q"),
    "frames_lost": (224, "Q"), "last_gap_first": (232, "Q"), "last_gap_last": (240, "Q"),
    "rate_milli_fps": (248, "Q"),
    "evictions": (256, "Q"), "evicted_at_cursor": (264, "Q"), "evicted_dead": (272, "Q"),
    "producer_side_reserved": (280, "Q"),
}

FRAME_HEADER_FIELDS = {
    "seqlock": (0, "Q"), "sequence": (8, "Q"), "timestamp_ns": (16, "Q"),
    "publish_monotonic_ns": (24, "Q"), "camera_frame_id": (32, "Q"), "width": (40, "I"),
    "height": (44, "I"), "pixel_format": (48, "I"), "settings_generation": (52, "I"),
    "source_frames_lost": (56, "Q"),
}

# ConsumerKind and ConsumerState.
KIND_NEWEST, KIND_EVERY = 1, 2
STATE_FREE, STATE_CLAIMING, STATE_ACTIVE, STATE_EVICTED = 0, 1, 2, 3
KIND_NAMES = {KIND_NEWEST: "newest", KIND_EVERY: "every"}
STATE_NAMES = {STATE_FREE: "free", STATE_CLAIMING: "attaching", STATE_ACTIVE: "active", STATE_EVICTED: "evicted"}

# GenICam PFNC code -> (name, significant bits per sample). Bytes per pixel = bits 16..23 of the
# code / 8; samples per pixel = 3 for RGB8/BGR8 (docs/ring-layout.md, "Pixel formats").
PIXEL_FORMATS = {
    0x01080001: ("Mono8", 8),
    0x01100003: ("Mono10", 10),
    0x01100005: ("Mono12", 12),
    0x01100025: ("Mono14", 14),
    0x01100007: ("Mono16", 16),
    0x02180014: ("RGB8", 8),
    0x02180015: ("BGR8", 8),
    0x01080008: ("BayerGR8", 8), 0x01080009: ("BayerRG8", 8), 0x0108000A: ("BayerGB8", 8), 0x0108000B: ("BayerBG8", 8),
    0x0110000C: ("BayerGR10", 10), 0x0110000D: ("BayerRG10", 10), 0x0110000E: ("BayerGB10", 10),
    0x0110000F: ("BayerBG10", 10),
    0x01100010: ("BayerGR12", 12), 0x01100011: ("BayerRG12", 12), 0x01100012: ("BayerGB12", 12),
    0x01100013: ("BayerBG12", 12),
    0x0110002E: ("BayerGR16", 16), 0x0110002F: ("BayerRG16", 16), 0x01100030: ("BayerGB16", 16),
    0x01100031: ("BayerBG16", 16),
}
COLOUR_FORMATS = {0x02180014, 0x02180015}  # three samples per pixel


def samples_per_pixel(code: int) -> int:
    """3 for RGB8 and BGR8, 1 for Mono and Bayer formats."""
    return 3 if code in COLOUR_FORMATS else 1

# The C++ RingReader's defaults for what it writes into a newest entry (unused by the producer
# for newest consumers, kept identical so that `framering status` shows the same thing).
DEFAULT_STALL_TIMEOUT_NS = 10_000_000_000
DEFAULT_DEAD_TIMEOUT_NS = 2_000_000_000

WAIT_SLICE_S = 0.010     # longest single futex wait: bounds the cost of a missed wake-up
_RATE_WINDOW_NS = 1_000_000_000

_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")

if sys.byteorder != "little" or struct.calcsize("P") != 8:
    raise ImportError("framering_ring needs a little-endian 64-bit CPU (the segment layout is "
                      "little-endian with 8-byte atomics)")


# ---- clocks --------------------------------------------------------------------------------------

def monotonic_ns() -> int:
    """CLOCK_MONOTONIC in ns: the clock of heartbeats and FrameHeader.publish_monotonic_ns."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def realtime_ns() -> int:
    """CLOCK_REALTIME in ns since the Unix epoch: the clock of FrameHeader.timestamp_ns."""
    return time.clock_gettime_ns(time.CLOCK_REALTIME)


# ---- fences and futex (ctypes, no compiled code of ours) ----------------------------------------

_X86_64 = platform.machine() in ("x86_64", "AMD64")
_ACQUIRE, _RELEASE, _SEQ_CST = 2, 3, 5       # C11 memory_order values


def _load_libatomic():
    path = ctypes.util.find_library("atomic")
    for candidate in ([path] if path else []) + ["libatomic.so.1"]:
        try:
            fence = ctypes.CDLL(candidate).atomic_thread_fence
        except (OSError, AttributeError):
            continue
        fence.argtypes = [ctypes.c_int]
        fence.restype = None
        return fence
    return None


_atomic_thread_fence = _load_libatomic()
HAS_SEQ_CST_FENCE = _atomic_thread_fence is not None
if _atomic_thread_fence is None and not _X86_64:
    warnings.warn("framering_ring: libatomic not found on a weakly ordered CPU: seqlock checks are "
                  "best effort", RuntimeWarning, stacklevel=2)


def _fence_acquire() -> None:
    # x86-64: a no-op in hardware, and the interpreter cannot reorder memory accesses across
    # the opaque C calls that make them.
    if not _X86_64 and _atomic_thread_fence is not None:
        _atomic_thread_fence(_ACQUIRE)


def _fence_release() -> None:
    if not _X86_64 and _atomic_thread_fence is not None:
        _atomic_thread_fence(_RELEASE)


def _fence_seq_cst() -> None:
    if _atomic_thread_fence is not None:
        _atomic_thread_fence(_SEQ_CST)


# SYS_futex by CPU; FUTEX_WAIT / FUTEX_WAKE without FUTEX_PRIVATE_FLAG: the words are shared
# between processes.
_SYS_FUTEX = {"x86_64": 202, "aarch64": 98, "arm64": 98, "riscv64": 98, "ppc64le": 221, "s390x": 238}
FUTEX_WAIT, FUTEX_WAKE = 0, 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _load_syscall():
    number = _SYS_FUTEX.get(platform.machine())
    if number is None:
        return None, None
    try:
        syscall = ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return None, None
    syscall.restype = ctypes.c_long
    return syscall, number


_syscall, _SYS_FUTEX_NR = _load_syscall()
HAS_FUTEX = _syscall is not None


def futex_wait(address: int, expected: int, timeout_s: float) -> None:
    """Sleeps while the uint32 at `address` equals `expected`, at most `timeout_s` seconds
    (FUTEX_WAIT, shared). Returns on a wake, a changed word, a signal or the timeout: the
    caller re-checks its condition. Without futex support it sleeps min(timeout_s, 1 ms)."""
    if timeout_s <= 0:
        return
    if _syscall is None:
        time.sleep(min(timeout_s, 0.001))
        return
    ns = int(timeout_s * 1e9)
    ts = _Timespec(ns // 1_000_000_000, ns % 1_000_000_000)
    _syscall(ctypes.c_long(_SYS_FUTEX_NR), ctypes.c_void_p(address), ctypes.c_long(FUTEX_WAIT),
             ctypes.c_long(expected & 0xFFFFFFFF), ctypes.byref(ts), ctypes.c_void_p(None), ctypes.c_long(0))


# ---- names, liveness, layout ---------------------------------------------------------------------

def _validate_name(what: str, value: str, limit: int) -> None:
    if not isinstance(value, str) or not value or len(value) > limit or not _NAME_RE.fullmatch(value):
        raise ValueError(f"{what} name {value!r} is not valid: expected 1 to {limit} characters of "
                         "A-Z, a-z, 0-9, '_' or '-'")


def segment_name(instance: str, ring: str) -> str:
    """'framering.<instance>.<ring>'; ValueError unless both are 1..47 chars of [A-Za-z0-9_-]."""
    _validate_name("instance", instance, MAX_NAME_PART)
    _validate_name("ring", ring, MAX_NAME_PART)
    return f"{SEGMENT_PREFIX}{instance}.{ring}"


def segment_path(instance: str, ring: str) -> str:
    """'/dev/shm/framering.<instance>.<ring>'."""
    return f"{SHM_DIR}/{segment_name(instance, ring)}"


def _read_stat(pid: int) -> Optional[tuple[str, int]]:
    """(state, start time in clock ticks) from /proc/<pid>/stat fields 3 and 22, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read(1023)
    except OSError:
        return None
    close = text.rfind(b")")              # field 2, the command, may hold spaces and ')'
    if close < 0:
        return None
    fields = text[close + 2:].split(b" ")  # fields[0] is field 3
    if len(fields) < 20:
        return None
    try:
        return fields[0].decode("ascii", "replace"), int(fields[19])
    except ValueError:
        return None


def process_start_ticks(pid: int) -> int:
    """Start time of `pid` in clock ticks since boot (/proc/<pid>/stat field 22); 0 if none."""
    stat = _read_stat(pid)
    return stat[1] if stat else 0


def is_process_alive(pid: int, start_ticks: int) -> bool:
    """Whether `pid` exists, is not a zombie, and started at `start_ticks` (0 = any start)."""
    if pid <= 0:
        return False
    stat = _read_stat(pid)
    if stat is None or stat[0] in ("Z", "X"):
        return False
    return start_ticks == 0 or stat[1] == start_ticks


def _round_up(value: int, unit: int) -> int:
    return (value + unit - 1) // unit * unit


def compute_layout(*, max_consumers: int, slot_count: int, stride_bytes: int, height: int) -> dict:
    """Block offsets of a segment, exactly as the C++ compute_layout (ring_geometry.cpp).

    Returns a dict of byte counts: control_offset, consumers_offset, frame_headers_offset,
    slots_offset (a multiple of 4096), slot_stride_bytes (frame bytes rounded up to 4096) and
    segment_bytes."""
    control = _round_up(SEGMENT_HEADER_BYTES, CACHE_LINE_BYTES)
    consumers = _round_up(control + PRODUCER_CONTROL_BYTES, CACHE_LINE_BYTES)
    frame_headers = _round_up(consumers + max_consumers * CONSUMER_ENTRY_BYTES, CACHE_LINE_BYTES)
    slots = _round_up(frame_headers + slot_count * FRAME_HEADER_BYTES, PAGE_BYTES)
    slot_stride = _round_up(stride_bytes * height, PAGE_BYTES)
    return {
        "control_offset": control, "consumers_offset": consumers, "frame_headers_offset": frame_headers,
        "slots_offset": slots, "slot_stride_bytes": slot_stride,
        "segment_bytes": slots + slot_count * slot_stride,
    }


def _unpack(fields: dict, buffer, base: int) -> dict:
    out = {}
    for name, (offset, code) in fields.items():
        value = struct.unpack_from("<" + code, buffer, base + offset)[0]
        out[name] = value
    return out


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")


def _describe(h: dict) -> str:
    name = PIXEL_FORMATS.get(h["pixel_format"], ("Unknown", 0))[0]
    return (f"{h['width']}x{h['height']} {name} (PFNC 0x{h['pixel_format']:08x}) stride "
            f"{h['stride_bytes']} B, {h['slot_count']} slots")


# ---- the ring --------------------------------------------------------------------------------------

class Ring:
    """One mapped, validated ring segment. Use ``Ring.open``; close with ``close()`` or ``with``.

    Geometry attributes (from the SegmentHeader): width, height (pixels), pixel_format (PFNC
    code), pixel_format_name ("Mono16"), bytes_per_pixel (1, 2 or 3), samples_per_pixel (3 for RGB8/BGR8,
    else 1), dtype (numpy, per sample: uint8 or '<u2'), frame_shape ((height, width), or
    (height, width, 3) for RGB8/BGR8),
    significant_bits, stride_bytes, frame_bytes, slot_count, max_consumers, slot_stride_bytes,
    slot_alignment_bytes, control_offset, consumers_offset, frame_headers_offset, slots_offset,
    segment_bytes, segment_id, permissions (mode bits, e.g. 0o600), created_realtime_ns,
    ring_name, path.
    """

    def __init__(self, *_args, **_kwargs):
        raise TypeError("use Ring.open(instance, ring)")

    @classmethod
    def open(cls, instance: str, ring: str, *, writable: bool = True, wait_s: float = 0.0,
             expect: Optional[dict] = None) -> "Ring":
        """Maps /dev/shm/framering.<instance>.<ring> and checks it as the C++ Segment::open does.

        writable: map read-write (needed to attach a consumer); False maps it read-only, enough
            for ``status()`` and ``published()`` (and for users with read access only).
        wait_s: how long to wait for a producer to create and initialise the segment.
        expect: optional dict of width, height, pixel_format (PFNC code or name), stride_bytes,
            slot_count the ring must have.
        Raises: ValueError for an invalid instance/ring name, a truncated segment, bad magic, another
            layout version, an inconsistent header or an unexpected geometry (each message names
            the segment path and both sides); FileNotFoundError when no producer created it
            (after wait_s); PermissionError and other OSError when it cannot be opened or mapped.
        """
        self = object.__new__(cls)
        self.path = segment_path(instance, ring)
        self.instance, self.ring_name, self.writable = instance, ring, writable
        self._fd = -1
        self._mm = None
        self._u32 = self._u64 = self._ro = self._bytes = None
        self._readers = weakref.WeakSet()
        try:
            self._map(wait_s)
            self._validate(expect)
        except BaseException:
            self.close()
            raise
        return self

    # -- opening ---------------------------------------------------------------------------------

    def _map(self, wait_s: float) -> None:
        deadline = monotonic_ns() + int(max(wait_s, 0.0) * 1e9)
        flags = os.O_RDWR if self.writable else os.O_RDONLY
        while True:
            try:
                self._fd = os.open(self.path, flags | os.O_CLOEXEC | os.O_NOFOLLOW)
            except FileNotFoundError as e:
                if monotonic_ns() >= deadline:
                    raise FileNotFoundError(
                        e.errno, f"cannot open ring segment {self.path}: {os.strerror(e.errno)} (no producer "
                        "has created it: start `framering acquire` or `framering run` first)", self.path) from None
                time.sleep(0.02)        # polling for a file to appear, within the deadline
                continue
            except PermissionError as e:
                raise PermissionError(
                    e.errno, f"cannot open ring segment {self.path} {'read-write' if self.writable else 'read-only'}: "
                    f"{os.strerror(e.errno)} (segments are private to the user that created them unless created "
                    "with group access)", self.path) from None
            size = os.fstat(self._fd).st_size
            # Between the creator's shm_open and ftruncate the file is 0 bytes long.
            if size >= SEGMENT_HEADER_BYTES:
                break
            os.close(self._fd)
            self._fd = -1
            if monotonic_ns() >= deadline:
                raise ValueError(f"ring segment {self.path} is truncated: {size} B, smaller than its "
                                 f"{SEGMENT_HEADER_BYTES} B header (a crashed or foreign creator)")
            time.sleep(0.02)
        prot = mmap.PROT_READ | (mmap.PROT_WRITE if self.writable else 0)
        self._mm = mmap.mmap(self._fd, size, flags=mmap.MAP_SHARED, prot=prot)
        self._size = size
        # magic == 0: the creator is still filling the header in; wait for it within the deadline.
        magic = struct.unpack_from("<Q", self._mm, 0)[0]
        while magic == 0 and monotonic_ns() < deadline:
            time.sleep(0.005)
            magic = struct.unpack_from("<Q", self._mm, 0)[0]
        _fence_acquire()                # pairs with the creator's release store of magic
        self._magic = magic

    def _validate(self, expect: Optional[dict]) -> None:
        if self._magic != MAGIC:
            why = ("its creator never finished initialising it (stale)" if self._magic == 0
                   else "it is not a framering ring")
            raise ValueError(f"ring segment {self.path} has magic 0x{self._magic:016x}, expected "
                             f"0x{MAGIC:016x} (\"FRAMERNG\"): {why}")
        h = _unpack(SEGMENT_HEADER_FIELDS, self._mm, 0)
        if (h["layout_version"] != LAYOUT_VERSION or h["header_bytes"] != SEGMENT_HEADER_BYTES
                or h["consumer_entry_bytes"] != CONSUMER_ENTRY_BYTES or h["frame_header_bytes"] != FRAME_HEADER_BYTES):
            raise ValueError(
                f"ring segment {self.path} has layout version {h['layout_version']} (header {h['header_bytes']} B, "
                f"consumer entry {h['consumer_entry_bytes']} B, frame header {h['frame_header_bytes']} B), this "
                f"reader reads layout version {LAYOUT_VERSION} (header {SEGMENT_HEADER_BYTES} B, consumer entry "
                f"{CONSUMER_ENTRY_BYTES} B, frame header {FRAME_HEADER_BYTES} B)")
        if self._size < h["segment_bytes"]:
            raise ValueError(f"ring segment {self.path} is truncated: {self._size} B, but its header says "
                             f"{h['segment_bytes']} B")
        fmt_info = PIXEL_FORMATS.get(h["pixel_format"])
        layout = compute_layout(max_consumers=h["max_consumers"], slot_count=h["slot_count"],
                                stride_bytes=h["stride_bytes"], height=h["height"])
        bpp = ((h["pixel_format"] >> 16) & 0xFF) // 8
        problems = []
        if fmt_info is None:
            problems.append(f"unknown pixel format 0x{h['pixel_format']:08x}")
        if not 1 <= h["width"] <= 65536 or not 1 <= h["height"] <= 65536:
            problems.append(f"size {h['width']}x{h['height']} out of 1..65536")
        if h["bytes_per_pixel"] != bpp or h["stride_bytes"] < h["width"] * bpp:
            problems.append(f"bytes_per_pixel {h['bytes_per_pixel']} / stride {h['stride_bytes']} B do not fit "
                            f"width {h['width']} of the format")
        if h["frame_bytes"] != h["stride_bytes"] * h["height"]:
            problems.append(f"frame_bytes {h['frame_bytes']} != stride x height")
        if not 2 <= h["slot_count"] <= 65536 or not 1 <= h["max_consumers"] <= MAX_CONSUMERS:
            problems.append(f"{h['slot_count']} slots / {h['max_consumers']} consumers out of range")
        if h["slot_alignment_bytes"] != PAGE_BYTES:
            problems.append(f"slot alignment {h['slot_alignment_bytes']} B, expected {PAGE_BYTES}")
        for key, value in layout.items():
            if h[key] != value:
                problems.append(f"{key} {h[key]}, computed {value}")
        if problems:
            raise ValueError(f"ring segment {self.path} has an inconsistent header ({_describe(h)}): corrupt or "
                             f"foreign: {'; '.join(problems)}")
        if expect:
            wanted = dict(expect)
            if isinstance(wanted.get("pixel_format"), str):
                names = {n: code for code, (n, _) in PIXEL_FORMATS.items()}
                wanted["pixel_format"] = names.get(wanted["pixel_format"], -1)
            wrong = {k: v for k, v in wanted.items() if k in h and v != h[k]}
            unknown = set(wanted) - set(h)
            if unknown:
                raise ValueError(f"expect: unknown keys {sorted(unknown)}")
            if wrong:
                raise ValueError(f"ring segment {self.path} holds {_describe(h)}, expected "
                                 + ", ".join(f"{k} {v}" for k, v in wrong.items()))

        self.header = h
        for key in ("width", "height", "pixel_format", "bytes_per_pixel", "stride_bytes", "frame_bytes",
                    "slot_count", "max_consumers", "slot_stride_bytes", "slot_alignment_bytes", "control_offset",
                    "consumers_offset", "frame_headers_offset", "slots_offset", "segment_bytes", "segment_id",
                    "permissions", "created_realtime_ns", "consumer_entry_bytes", "frame_header_bytes"):
            setattr(self, key, h[key])
        self.pixel_format_name = _cstr(h["pixel_format_name"])
        self.significant_bits = fmt_info[1]
        self.samples_per_pixel = samples_per_pixel(self.pixel_format)
        self.bytes_per_sample = self.bytes_per_pixel // self.samples_per_pixel
        self.dtype = np.dtype(np.uint8) if self.bytes_per_sample == 1 else np.dtype("<u2")
        # A frame's numpy shape and strides: (height, width), or (height, width, 3) for RGB8/BGR8.
        self.frame_shape = (self.height, self.width) + ((3,) if self.samples_per_pixel == 3 else ())
        self.frame_strides = (self.stride_bytes, self.bytes_per_pixel) + (
            (self.bytes_per_sample,) if self.samples_per_pixel == 3 else ())
        view = memoryview(self._mm)[: self.segment_bytes]
        self._u64 = view.cast("Q")              # the segment as uint64 words (one aligned load/store each)
        self._u32 = view.cast("I")
        self._ro = view.toreadonly()
        view.release()
        # What frames are made from: a uint8 array over a read-only memoryview, so that no view
        # of it can be made writeable again (an array over the mmap itself could).
        self._bytes = np.frombuffer(self._ro, dtype=np.uint8)
        self.base_address = self._bytes.ctypes.data     # where this process mapped the segment

    # -- word access -------------------------------------------------------------------------------

    def _load64(self, offset: int) -> int:
        return self._u64[offset >> 3]

    def _load32(self, offset: int) -> int:
        return self._u32[offset >> 2]

    def _store64(self, offset: int, value: int) -> None:
        self._u64[offset >> 3] = value & 0xFFFFFFFFFFFFFFFF

    def _store32(self, offset: int, value: int) -> None:
        self._u32[offset >> 2] = value & 0xFFFFFFFF

    def _entry_offset(self, index: int) -> int:
        return self.consumers_offset + index * CONSUMER_ENTRY_BYTES

    def _frame_header_offset(self, slot: int) -> int:
        return self.frame_headers_offset + slot * FRAME_HEADER_BYTES

    def _entry_name(self, index: int) -> str:
        start = self._entry_offset(index) + CONSUMER_ENTRY_FIELDS["name"][0]
        return _cstr(bytes(self._mm[start:start + CONSUMER_NAME_BYTES]))

    # -- public reads --------------------------------------------------------------------------------

    def published(self) -> int:
        """Frames published so far (ProducerControl.cursor.published); the newest is published-1."""
        value = self._load64(self.control_offset)
        _fence_acquire()
        return value

    def slot_pixels(self, slot: int) -> np.ndarray:
        """Slot `slot`'s pixels as a read-only (height, width) view, whatever frame it holds now
        (no seqlock check: use a reader for frames)."""
        if not 0 <= slot < self.slot_count:
            raise IndexError(f"slot {slot} out of 0..{self.slot_count - 1}")
        return np.ndarray(self.frame_shape, dtype=self.dtype, buffer=self._bytes,
                          offset=self.slots_offset + slot * self.slot_stride_bytes, strides=self.frame_strides)

    def frame_header(self, slot: int) -> dict:
        """Slot `slot`'s FrameHeader fields, unchecked (may be torn; readers check the seqlock)."""
        return _unpack(FRAME_HEADER_FIELDS, self._mm, self._frame_header_offset(slot))

    def consumer_entry(self, index: int) -> dict:
        """Consumer entry `index`'s fields, unchecked; name decoded, kind and state as numbers."""
        e = _unpack(CONSUMER_ENTRY_FIELDS, self._mm, self._entry_offset(index))
        e["name"] = _cstr(e["name"])
        return e

    def producer(self) -> dict:
        """ProducerControl fields plus 'alive' (attached and its pid is the process that attached)."""
        p = _unpack(PRODUCER_CONTROL_FIELDS, self._mm, self.control_offset)
        p["alive"] = p["attached"] != 0 and is_process_alive(p["pid"], p["start_time_ticks"])
        return p

    def status(self) -> dict:
        """The ring and its consumers, shaped like `framering status --json`: rates in frames/s,
        ages in s (CLOCK_MONOTONIC), every consumer entry that is not free."""
        now = monotonic_ns()
        age = lambda hb: 0.0 if hb == 0 or hb > now else (now - hb) / 1e9  # noqa: E731
        p = self.producer()
        published = p["published"]
        consumers = []
        for i in range(self.max_consumers):
            e = self.consumer_entry(i)
            if e["state"] == STATE_FREE:
                continue
            alive = is_process_alive(e["pid"], e["start_time_ticks"])
            consumers.append({
                "index": i, "name": e["name"], "kind": KIND_NAMES.get(e["kind"], "newest"),
                "state": STATE_NAMES.get(e["state"], "unknown"), "pid": e["pid"], "alive": alive,
                "cursor": e["cursor"], "lag": max(published - e["cursor"], 0),
                "frames_read": e["frames_read"], "frames_skipped": e["frames_skipped"],
                "frames_torn": e["frames_torn"], "gaps": e["gaps"], "frames_lost": e["frames_lost"],
                "last_gap": [e["last_gap_first"], e["last_gap_last"]] if e["gaps"] else None,
                "evictions": e["evictions"], "rate_fps": e["rate_milli_fps"] / 1000.0 if alive else 0.0,
                "heartbeat_age_s": age(e["heartbeat_ns"]),
                "latency_us": {"p50": e["latency_p50_ns"] / 1e3, "p99": e["latency_p99_ns"] / 1e3,
                               "max": e["latency_max_ns"] / 1e3, "frames": e["latency_frames"]}
                if e["latency_frames"] else None,
            })
        return {
            "ring": self.ring_name, "segment": self.path,
            "geometry": {"width": self.width, "height": self.height, "pixel_format": self.pixel_format_name,
                         "stride_bytes": self.stride_bytes, "slot_count": self.slot_count,
                         "slot_stride_bytes": self.slot_stride_bytes, "max_consumers": self.max_consumers},
            "segment_bytes": self.segment_bytes, "permissions": f"{self.permissions:04o}",
            "producer": {"pid": p["pid"], "alive": p["alive"], "attaches": p["attach_count"],
                         "published": published, "rate_fps": p["rate_milli_fps"] / 1000.0 if p["alive"] else 0.0,
                         "heartbeat_age_s": age(p["heartbeat_ns"]), "frames_dropped": p["frames_dropped"],
                         "evictions": p["evictions"], "blocked_s": p["blocked_ns"] / 1e9},
            "consumers": consumers,
        }

    # -- consumers --------------------------------------------------------------------------------

    def attach_newest(self, name: Optional[str] = None) -> "NewestReader":
        """Takes a consumer entry as a *newest* consumer, as the C++ RingReader::attach does.

        Under flock(LOCK_EX) on the segment file: the entry named `name` if its process is dead
        (resumed), else a free entry, else (table full) the entries of dead non-gating consumers
        are reclaimed and a free one is taken. name: 1..31 chars of [A-Za-z0-9_-]; default
        "newest-<pid>".
        Raises: ValueError for an invalid name, a name held by a live process (this one
        included) or by an *every* consumer; RuntimeError when the table is full of live
        consumers; OSError when the ring was opened read-only."""
        if not self.writable:
            raise PermissionError(errno.EACCES, f"ring segment {self.path} was opened read-only: open it with "
                                  "writable=True to attach a consumer", self.path)
        pid = os.getpid()
        name = name if name is not None else f"newest-{pid}"
        if not isinstance(name, str) or not name or len(name) >= CONSUMER_NAME_BYTES or not _NAME_RE.fullmatch(name):
            raise ValueError(f"ring {self.ring_name}: consumer name {name!r} is not valid: expected 1 to "
                             f"{CONSUMER_NAME_BYTES - 1} characters of A-Z, a-z, 0-9, '_' or '-'")
        start_ticks = process_start_ticks(pid)
        F = CONSUMER_ENTRY_FIELDS
        fcntl.flock(self._fd, fcntl.LOCK_EX)    # the consumer-table lock (Segment::TableLock)
        try:
            for attempt in range(200):
                busy = False
                # 1. Our name already has an entry: resume it if its process is gone.
                for i in range(self.max_consumers):
                    e = self._entry_offset(i)
                    state = self._load32(e + F["state"][0])
                    if state == STATE_FREE or self._entry_name(i) != name:
                        continue
                    old_pid = self._load32(e + F["pid"][0])
                    old_alive = is_process_alive(old_pid, self._load64(e + F["start_time_ticks"][0]))
                    if state == STATE_CLAIMING:
                        if old_alive:
                            busy = True     # a peer without the lock is attaching under this name
                            continue
                        # Its attacher died mid-attach (we hold the lock, so nobody is attaching).
                        self._init_entry(i, name, pid, start_ticks)
                        return self._new_reader(i, name, resumed=False)
                    if old_alive:
                        who = "this process" if old_pid == pid else f"live pid {old_pid}"
                        raise ValueError(f"ring {self.ring_name}: consumer name {name!r} is in use by {who}: "
                                         "choose another name")
                    kind = self._load32(e + F["kind"][0])
                    if kind != KIND_NEWEST:
                        raise ValueError(f"ring {self.ring_name}: consumer {name!r} was attached as a "
                                         f"{KIND_NAMES.get(kind, 'newest')} consumer, not newest: choose another name")
                    self._store32(e + F["pid"][0], pid)
                    self._store64(e + F["start_time_ticks"][0], start_ticks)
                    self._store64(e + F["stall_timeout_ns"][0], DEFAULT_STALL_TIMEOUT_NS)
                    self._store64(e + F["dead_timeout_ns"][0], DEFAULT_DEAD_TIMEOUT_NS)
                    self._store32(e + F["attach_count"][0], self._load32(e + F["attach_count"][0]) + 1)
                    self._store32(e + F["ready"][0], 0)
                    self._store64(e + F["heartbeat_ns"][0], monotonic_ns())
                    self._store64(e + F["cursor"][0], self._initial_cursor())
                    self._store_state(i, STATE_ACTIVE)
                    return self._new_reader(i, name, resumed=True)
                if busy:
                    time.sleep(0.001)
                    continue
                # 2. A free entry.
                for i in range(self.max_consumers):
                    if self._load32(self._entry_offset(i) + F["state"][0]) == STATE_FREE:
                        self._init_entry(i, name, pid, start_ticks)
                        return self._new_reader(i, name, resumed=False)
                # 3. The table is full: reclaim entries of dead processes that hold nothing the
                # producer waits for (newest consumers; evicted or stuck-claiming every consumers).
                reclaimed = False
                for i in range(self.max_consumers):
                    e = self._entry_offset(i)
                    state = self._load32(e + F["state"][0])
                    if state == STATE_FREE:
                        continue
                    gating = self._load32(e + F["kind"][0]) == KIND_EVERY and state == STATE_ACTIVE
                    if gating or is_process_alive(self._load32(e + F["pid"][0]),
                                                  self._load64(e + F["start_time_ticks"][0])):
                        continue
                    self._store_state(i, STATE_FREE)
                    reclaimed = True
                if not reclaimed and attempt > 0:
                    raise RuntimeError(f"ring {self.ring_name}: its consumer table is full ({self.max_consumers} "
                                       "entries, all held by live processes or by every-consumers the producer "
                                       "still waits for)")
            raise RuntimeError(f"ring {self.ring_name}: could not attach consumer {name!r}: its entry kept changing")
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _new_reader(self, index: int, name: str, resumed: bool) -> "NewestReader":
        reader = NewestReader(self, index, name, resumed)
        self._readers.add(reader)
        return reader

    def _initial_cursor(self) -> int:
        # Newest: "last read + 1" such that the newest existing frame is still new to it.
        published = self._load64(self.control_offset)
        return published - 1 if published > 0 else 0

    def _store_state(self, index: int, state: int) -> None:
        # seq_cst store in the C++: release fence, store, full fence.
        _fence_release()
        self._store32(self._entry_offset(index) + CONSUMER_ENTRY_FIELDS["state"][0], state)
        _fence_seq_cst()

    def _init_entry(self, index: int, name: str, pid: int, start_ticks: int) -> None:
        """Fills a free (or abandoned) entry for a new newest consumer; state Active last."""
        F = CONSUMER_ENTRY_FIELDS
        e = self._entry_offset(index)
        self._store_state(index, STATE_CLAIMING)
        self._store32(e + F["pid"][0], pid)
        self._store64(e + F["start_time_ticks"][0], start_ticks)
        self._store32(e + F["kind"][0], KIND_NEWEST)
        self._store32(e + F["attach_count"][0], 1)
        self._store64(e + F["stall_timeout_ns"][0], DEFAULT_STALL_TIMEOUT_NS)
        self._store64(e + F["dead_timeout_ns"][0], DEFAULT_DEAD_TIMEOUT_NS)
        name_at = e + F["name"][0]
        self._mm[name_at:name_at + CONSUMER_NAME_BYTES] = name.encode("ascii").ljust(CONSUMER_NAME_BYTES, b"\0")
        counters = e + CONSUMER_ENTRY_BLOCKS["counters"]
        self._mm[counters:counters + 128] = bytes(128)   # counters and producer_side lines
        self._store32(e + F["ready"][0], 0)
        self._store64(e + F["heartbeat_ns"][0], monotonic_ns())
        self._store64(e + F["cursor"][0], self._initial_cursor())
        self._store_state(index, STATE_ACTIVE)

    def _free_entry(self, index: int, pid: int) -> None:
        """Detach (C++ ~RingReader): under the table lock, if the entry is still ours."""
        F = CONSUMER_ENTRY_FIELDS
        e = self._entry_offset(index)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            if self._load32(e + F["pid"][0]) != pid:
                return
            self._store32(e + F["ready"][0], 0)
            self._store32(e + F["pid"][0], 0)
            self._store_state(index, STATE_FREE)
            # A newest entry never gates the producer: there is no space_word wake to give.
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    # -- closing -------------------------------------------------------------------------------------

    def close(self) -> None:
        """Closes this ring's readers (freeing their entries), unmaps (when no frame view is
        left; otherwise when the last one is garbage-collected) and closes the file. Never
        removes the segment. Idempotent."""
        for reader in list(self._readers):
            reader.close()
        self._bytes = None
        for name in ("_u64", "_u32", "_ro"):
            view = getattr(self, name, None)
            if view is not None:
                try:
                    view.release()
                except BufferError:
                    pass            # frame arrays still use it: they keep the mapping alive
                setattr(self, name, None)
        if self._mm is not None:
            try:
                self._mm.close()
            except BufferError:
                pass
            self._mm = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "Ring":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<Ring {self.path} {self.width}x{self.height} {self.pixel_format_name} "
                f"{self.slot_count} slots>" if self._mm is not None else f"<Ring {self.path} closed>")


class Frame:
    """One frame, read in place. Attributes:

    sequence (int, 0-based, never reused), timestamp_ns (CLOCK_REALTIME ns since the epoch, when
    acquired), publish_monotonic_ns (CLOCK_MONOTONIC ns at publication), camera_frame_id (the
    source's own counter), slot, seqlock (2*sequence+2), and pixels: a read-only numpy view of
    the slot, shape (height, width), dtype '<u2' (Mono10/12/14/16) or uint8 (Mono8), row stride
    ring.stride_bytes. The view stays mapped memory, but its *content* belongs to this frame
    only while ``is_intact()``: the producer may overwrite the slot once it laps the ring.
    """

    __slots__ = ("sequence", "timestamp_ns", "publish_monotonic_ns", "camera_frame_id", "slot", "seqlock",
                 "pixels", "_reader", "_released", "_intact")

    def __init__(self, reader, sequence, timestamp_ns, publish_monotonic_ns, camera_frame_id, slot, seqlock, pixels):
        self._reader = reader
        self.sequence, self.timestamp_ns = sequence, timestamp_ns
        self.publish_monotonic_ns, self.camera_frame_id = publish_monotonic_ns, camera_frame_id
        self.slot, self.seqlock, self.pixels = slot, seqlock, pixels
        self._released = False
        self._intact = None

    def is_intact(self) -> bool:
        """True when the slot still holds this frame, so every pixel read *before* this call was
        this frame's (seqlock re-check: acquire fence, then load)."""
        ring = self._reader.ring
        if ring._u64 is None:
            raise ValueError(f"ring segment {ring.path} is closed: frame {self.sequence} can no longer be checked")
        _fence_acquire()
        return ring._load64(ring._frame_header_offset(self.slot)) == self.seqlock

    def release(self) -> bool:
        """Ends the read: is_intact(), counted once in the entry as frames_read or frames_torn.
        ``reader.read()`` releases the previous frame itself if you did not."""
        if not self._released:
            self._intact = self.is_intact()
            self._released = True
            self._reader._count(self._intact)
        return self._intact

    def copy(self) -> Optional[np.ndarray]:
        """A private (height, width) copy of the pixels, or None when the producer overwrote the
        slot during or before the copy (a torn read, counted as such)."""
        out = np.array(self.pixels, copy=True)
        intact = self.is_intact()
        if not self._released:
            self._intact, self._released = intact, True
            self._reader._count(intact)
        return out if intact else None

    def __repr__(self) -> str:
        return f"<Frame sequence={self.sequence} slot={self.slot} camera_frame_id={self.camera_frame_id}>"


class NewestReader:
    """A *newest* consumer (DESIGN.md): each read returns the newest published frame newer than
    the last one returned; frames passed over count as skipped (not loss). It never slows the
    producer. One thread at a time. Close it (or use ``with``) to free its entry; a process that
    dies without closing leaves the entry for a later attach with the same name to resume.

    Attributes: ring, name, index (entry number), resumed (took over a dead process's entry),
    cursor (last sequence returned + 1)."""

    def __init__(self, ring: Ring, index: int, name: str, resumed: bool):
        self.ring, self.index, self.name, self.resumed = ring, index, name, resumed
        self._pid = os.getpid()
        e = ring._entry_offset(index)
        F = CONSUMER_ENTRY_FIELDS
        self._cursor_at, self._ready_at, self._wake_at = e + F["cursor"][0], e + F["ready"][0], e + F["wake_word"][0]
        self._heartbeat_at = e + F["heartbeat_ns"][0]
        self._read_at, self._skipped_at, self._torn_at = (
            e + F["frames_read"][0], e + F["frames_skipped"][0], e + F["frames_torn"][0])
        self._rate_at = e + F["rate_milli_fps"][0]
        self._wake_address = ring.base_address + self._wake_at
        self.cursor = ring._load64(self._cursor_at)
        self._pending: Optional[Frame] = None
        self._rate_start_ns = 0
        self._rate_frames = 0
        self._closed = False

    def read(self, timeout_s: float) -> Optional[Frame]:
        """The newest published frame with sequence >= cursor, waiting up to `timeout_s` seconds
        (Ready + futex wait) for one to be published. Returns a Frame whose metadata the seqlock
        verified (v1 == v2 == 2*sequence+2), or None at the timeout. Releases the previous frame."""
        if self._closed:
            raise ValueError(f"consumer {self.name!r} of ring {self.ring.ring_name} is closed")
        self._release_pending()
        ring = self.ring
        deadline = monotonic_ns() + int(max(timeout_s, 0.0) * 1e9)
        while True:
            published = ring.published()
            if published > self.cursor:
                newest = published - 1
                frame = self._try_view(newest)
                if frame is not None:
                    ring._store64(self._skipped_at, ring._load64(self._skipped_at) + newest - self.cursor)
                    self.cursor = newest + 1
                    ring._store64(self._cursor_at, self.cursor)
                    self._pending = frame
                    return frame
                continue        # the producer lapped that slot between our loads: take the newer frame
            now = monotonic_ns()
            ring._store64(self._heartbeat_at, now)
            if now >= deadline:
                return None
            self._wait_for_publication(self.cursor, deadline)

    def counters(self) -> dict:
        """frames_read, frames_skipped, frames_torn as stored in the entry."""
        ring = self.ring
        return {"frames_read": ring._load64(self._read_at), "frames_skipped": ring._load64(self._skipped_at),
                "frames_torn": ring._load64(self._torn_at)}

    def close(self) -> None:
        """Releases the last frame and frees the entry (under the table lock). Idempotent."""
        if self._closed:
            return
        self._release_pending()
        self._closed = True
        if self.ring._mm is not None and os.getpid() == self._pid:
            self.ring._free_entry(self.index, self._pid)

    def __enter__(self) -> "NewestReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown: the entry is reclaimed as dead later
            pass

    # -- internals ---------------------------------------------------------------------------------

    def _try_view(self, sequence: int) -> Optional[Frame]:
        ring = self.ring
        slot = sequence % ring.slot_count
        at = ring._frame_header_offset(slot)
        expected = 2 * sequence + 2
        v1 = ring._load64(at)               # acquire: pairs with the producer's release store of 2s+2
        if v1 != expected:
            return None
        _fence_acquire()
        seq, timestamp_ns, publish_ns, camera_id = struct.unpack_from("<4Q", ring._mm, at + 8)
        _fence_acquire()                    # the metadata loads happen before the re-check
        if ring._load64(at) != v1 or seq != sequence:
            return None
        pixels = np.ndarray(ring.frame_shape, dtype=ring.dtype, buffer=ring._bytes,
                            offset=ring.slots_offset + slot * ring.slot_stride_bytes, strides=ring.frame_strides)
        return Frame(self, seq, timestamp_ns, publish_ns, camera_id, slot, v1, pixels)

    def _wait_for_publication(self, after_published: int, deadline_ns: int) -> None:
        ring = self.ring
        word = ring._load32(self._wake_at)
        # Ready, then re-check (Dekker with the producer's seq_cst store of `published` and its
        # seq_cst load of `ready`): either it sees Ready and wakes us, or we see its frame here.
        ring._store32(self._ready_at, 1)
        _fence_seq_cst()
        if ring._load64(ring.control_offset) <= after_published:
            now = monotonic_ns()
            if deadline_ns > now:
                futex_wait(self._wake_address, word, min((deadline_ns - now) / 1e9, WAIT_SLICE_S))
        ring._store32(self._ready_at, 0)

    def _release_pending(self) -> None:
        if self._pending is not None:
            self._pending.release()
            self._pending = None

    def _count(self, intact: bool) -> None:
        ring = self.ring
        if ring._u64 is None:
            return
        at = self._read_at if intact else self._torn_at
        ring._store64(at, ring._load64(at) + 1)     # only this consumer writes its counters
        now = monotonic_ns()
        ring._store64(self._heartbeat_at, now)
        self._rate_frames += 1
        if self._rate_start_ns == 0:
            self._rate_start_ns, self._rate_frames = now, 0
        elif now - self._rate_start_ns >= _RATE_WINDOW_NS:
            ring._store64(self._rate_at, self._rate_frames * 1_000_000_000_000 // (now - self._rate_start_ns))
            self._rate_start_ns, self._rate_frames = now, 0
