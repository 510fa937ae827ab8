"""framering for Python: write frames into a ring, read every frame or the newest, read recordings.

A ring is a shared-memory segment of fixed-size, 4096-byte-aligned slots (docs/ring-layout.md)
shared by one producer and any number of consumers, each its own process. This package binds the
C++ ring itself (pybind11), so Python speaks exactly the protocol the C++ stages speak::

    import framering
    w = framering.RingWriter("lab", "raw", width=1920, height=1080, pixel_format="Mono16", slots=16)
    with w.claim(timeout_s=1.0) as frame:      # frame.pixels: writable (height, width) view of the slot
        frame.pixels[...] = image               # or camera.read_into(frame.pixels): no copy of ours
        frame.camera_frame_id = n               # optional (default: the sequence)
    # leaving the block publishes; an exception abandons the slot: nothing is published

    r = framering.RingReader("lab", "raw", kind="every", name="analysis")   # or kind="newest"
    for frame in r:                             # or r.read(timeout_s) -> Frame | None
        frame.sequence, frame.timestamp_ns, frame.camera_frame_id, frame.gap
        image = frame.copy()                    # a private copy, or None if the frame was torn

    rec = framering.open_recording("recordings/20261129T101500Z_raw")
    rec.frames                                  # (N, height, width), read-only, the files mapped
    framering.status("lab")                     # what `framering status --json` shows: a list of rings

A stage under ``framering run`` reads what it is told with ``framering.stage_environment()``
(instance, name, produces, consumes, frames, ...) and ends cleanly on SIGINT/SIGTERM with
``stop = framering.StopSignal()`` and ``while not stop: ...``; an *every* consumer ends with
``while not drain.finished(reader): ...`` (``drain = framering.Drain(stop)``), which first takes
what it owes (docs/stages.md, "Stops").

Clocks: ``timestamp_ns`` is CLOCK_REALTIME ns since the Unix epoch (when the frame was
acquired; by default when it was published); ``publish_monotonic_ns`` is CLOCK_MONOTONIC.

What a pixel view may be trusted for:

* A writer's ``claim().pixels`` is the slot itself until you publish or abandon it. After that
  the producer will reuse the slot: do not write to the view any more.
* A reader's ``frame.pixels`` is the slot itself, read-only, 4096-byte aligned (FFTW and numpy
  use it in place). For an *every* reader it is stable until the frame is released (the next
  ``read()``, the next loop iteration, ``frame.release()`` or leaving ``with frame:``); the
  producer never overwrites it before. For a *newest* reader the producer may overwrite it at
  any moment: whatever you computed from it is trustworthy only if ``frame.is_intact()`` is
  still True afterwards; ``frame.copy()`` copies and checks for you. After release, a view is
  still valid memory (never a crash) but its content belongs to a later frame.

Errors: ``RingError`` (no such ring, wrong geometry, name in use, table full, permission),
``ConfigError`` (impossible geometry, unknown pixel format), ``TimeoutError`` (no free slot in
time), all with the C++ messages; ``ValueError`` for misuse (a closed handle, a second claim
before the first is published or abandoned, an unknown reader kind). Waits release the GIL and
Ctrl-C interrupts them.

Use Debian's interpreter, ``/usr/bin/python3`` (it sees python3-numpy); scripts/setup-deps.sh
puts the package of the release build on its path.
"""
import json as _json

from ._framering import (  # noqa: F401  (re-exported)
    Claim,
    ConfigError,
    Error,
    Frame,
    RingError,
    RingReader,
    RingWriter,
    list_rings,
    monotonic_ns,
    realtime_ns,
)
from .recording import Recording, open_recording  # noqa: F401
from .stage import Drain, LiveParams, Param, StageEnvironment, StopSignal, stage_environment  # noqa: F401

__all__ = [
    "Claim", "ConfigError", "Drain", "Error", "Frame", "LiveParams", "Param", "Recording", "RingError", "RingReader", "RingWriter",
    "list_rings", "monotonic_ns", "open_recording", "realtime_ns", "stage_environment", "StageEnvironment", "status",
    "StopSignal",
]


def status(instance: str = "default") -> list:
    """What ``framering status --instance INSTANCE --json`` prints: one dict per ring of the
    instance, with its geometry, ``producer`` (pid, alive, published, rate_fps, frames_dropped,
    blocked_s, ...), ``source`` (a camera's loss counters), ``consumers`` (name, kind, state,
    cursor, lag, frames_read/skipped/torn/lost, gaps, ...), ``instance`` and ``stale``; or
    ``{"instance", "ring", "error"}`` for a ring that cannot be read. Read without attaching:
    nothing is written to the ring."""
    from ._framering import status_json

    return _json.loads(status_json(instance))
