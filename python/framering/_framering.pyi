"""Type stubs of the compiled part of `framering` (python/src/framering_module.cpp), for editors.

Shapes are (height, width); dtypes uint16 little-endian ('<u2') for Mono10..Mono16 and uint8 for
Mono8. Times: timestamp_ns is CLOCK_REALTIME ns since the Unix epoch, *_monotonic_ns is
CLOCK_MONOTONIC ns. Every wait releases the GIL; Ctrl-C interrupts it (KeyboardInterrupt).
"""
from types import TracebackType
from typing import Iterator, Optional, Tuple, Type

import numpy as np

class Error(RuntimeError):
    """Any framering error; the message is the C++ one (it names the ring, the file, both sides)."""

# Also ValueError: a closed handle, a second claim before the first is done, publish after
# publish or abandon, a negative timeout, an unknown reader kind.

class RingError(Error):
    """A ring that cannot be used: no such ring, wrong geometry, another live producer, a consumer
    name in use, a full consumer table, permission denied, a foreign or damaged segment."""

class ConfigError(Error):
    """An impossible request: zero or oversized width/height, an unknown pixel format, too few slots."""

class Claim:
    """A slot claimed by a RingWriter: write `pixels`, then publish (leaving `with` does it).

    Use as a context manager: leaving the block normally publishes; an exception abandons the
    slot (nothing is published; the next claim gets the same slot and sequence)."""

    pixels: np.ndarray
    """Writable (height, width) view of the slot itself, 4096-byte aligned. Write the frame here
    (or have your camera read into it). Do not touch it after publish or abandon."""
    sequence: int
    """The sequence this frame will be published as (frames published before it, over the ring's life)."""
    slot: int
    """sequence % slot_count."""
    timestamp_ns: Optional[int]
    """When the frame was acquired, CLOCK_REALTIME ns; None (the default) means: when published."""
    camera_frame_id: Optional[int]
    """The source's own frame counter; None (the default) means: the sequence."""
    source_frames_lost: int
    """Frames your source lost just before this one (a camera's frame-id gap); counted in status."""
    settings_generation: int
    """The live settings generation stamped on the frame, default 0 (a stage passes on its input's)."""
    done: bool
    """Published or abandoned."""
    def publish(self) -> None: ...
    def abandon(self) -> None: ...
    def __enter__(self) -> "Claim": ...
    def __exit__(self, t: Optional[Type[BaseException]], v: Optional[BaseException],
                 tb: Optional[TracebackType]) -> bool: ...

class RingWriter:
    """The producer of ring `ring` of `instance` (/dev/shm/framering.<instance>.<ring>).

    Creates the ring, or re-attaches to a compatible one left by an earlier producer and
    continues its sequence. One producer per ring: RingError if another live process produces
    it, or if a live ring has another geometry. Private to your user (0600) unless group_access."""

    def __init__(self, instance: str, ring: str, *, width: int, height: int, pixel_format: str = "Mono16",
                 slots: int = 16, stride_bytes: int = 0, group_access: bool = False) -> None: ...
    def claim(self, timeout_s: float = 1.0) -> Claim:
        """The next slot, waiting up to timeout_s while an every consumer still holds it (it is
        evicted once dead or stalled past its timeout). TimeoutError if none came free. One
        claim at a time: publish or abandon it before the next."""
    def wait_for_consumers(self, count: int, timeout_s: float = 30.0) -> bool:
        """Waits until `count` consumers are attached; False at the timeout."""
    def count_dropped(self, frames: int) -> None:
        """Counts frames your source discarded (shown as dropped in status)."""
    next_sequence: int
    reattached: bool
    ring: str
    segment: str
    width: int
    height: int
    slot_count: int
    pixel_format: str
    def close(self) -> None:
        """Detaches (the ring stays for its consumers and a later producer)."""
    def __enter__(self) -> "RingWriter": ...
    def __exit__(self, t: Optional[Type[BaseException]], v: Optional[BaseException],
                 tb: Optional[TracebackType]) -> bool: ...

class Frame:
    """A frame read in place. Released by the next read of its reader, by release(), or by
    leaving `with frame:`. See the package docstring for what `pixels` may be trusted for."""

    pixels: np.ndarray
    """Read-only (height, width) view of the slot, 4096-byte aligned, rows stride_bytes apart."""
    sequence: int
    timestamp_ns: int
    publish_monotonic_ns: int
    camera_frame_id: int
    source_frames_lost: int
    settings_generation: int
    """The generation of the run's live settings that produced it (0: as the stages started)."""
    slot: int
    width: int
    height: int
    stride_bytes: int
    pixel_format: str
    gap: Optional[Tuple[int, int]]
    """Every readers: (first, last) sequences lost just before this frame (this reader was
    evicted), else None."""
    released: bool
    def is_intact(self) -> bool:
        """Whether the producer has not overwritten the slot since it was read (newest readers can
        be lapped; an every reader's frame stays intact until released)."""
    def copy(self) -> Optional[np.ndarray]:
        """A private copy of the pixels, or None if the frame was overwritten while copying or
        was already released (its slot may hold a later frame by then)."""
    def release(self) -> bool:
        """Ends the read; True if the frame was intact for the whole read. Every readers: lets
        the producer reuse the slot."""
    def __enter__(self) -> "Frame": ...
    def __exit__(self, t: Optional[Type[BaseException]], v: Optional[BaseException],
                 tb: Optional[TracebackType]) -> bool: ...

class RingReader:
    """A consumer of ring `ring` of `instance`.

    kind="newest": always the newest frame, never slows the producer, frames passed over are
    counted as skipped. kind="every": every frame in order; the producer waits for you, and
    evicts you if you stall past stall_timeout_s or stay dead past dead_timeout_s (the next
    frame then carries the gap). A reader with the same name as a dead one resumes its place
    (an every reader at its cursor). wait_s: how long to wait for the ring to be created."""

    def __init__(self, instance: str, ring: str, *, kind: str = "newest", name: str = "",
                 stall_timeout_s: float = 10.0, dead_timeout_s: float = 2.0, wait_s: float = 0.0) -> None: ...
    def read(self, timeout_s: float = 1.0) -> Optional[Frame]:
        """The next frame (releasing the previous one), or None after timeout_s."""
    def __iter__(self) -> Iterator[Frame]:
        """Frames until the producer has exited and nothing new arrives for 0.5 s."""
    def __next__(self) -> Frame: ...
    name: str
    kind: str
    resumed: bool
    cursor: int
    """Every readers: the next sequence it will read (frames below it are released)."""
    published: int
    """Frames the producer has published so far (the newest is published - 1)."""
    ring: str
    producer_alive: bool
    counters: dict
    """frames_read, frames_skipped, frames_torn, gaps, frames_lost, evictions."""
    def close(self) -> None:
        """Detaches (releasing the current frame)."""
    def __enter__(self) -> "RingReader": ...
    def __exit__(self, t: Optional[Type[BaseException]], v: Optional[BaseException],
                 tb: Optional[TracebackType]) -> bool: ...

def status_json(instance: str) -> str: ...
def list_rings(instance: str) -> list[str]: ...
def map_pages(files: list[str], pages: list[int], page_bytes: int, pixel_offset: int, width: int, height: int,
              bytes_per_sample: int, samples_per_pixel: int = 1) -> np.ndarray: ...
def realtime_ns() -> int: ...
def monotonic_ns() -> int: ...
