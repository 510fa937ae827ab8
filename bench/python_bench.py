#!/usr/bin/python3
"""python_bench.py: the framering Python package against its C++ twin and against the design it
replaces, in one run, on this machine. Prints figures (and JSON with --json); asserts nothing.

    /usr/bin/python3 bench/python_bench.py [--seconds 3] [--width 1920 --height 1080] [--json]

Every measurement moves Mono16 frames between two processes through a 16-slot ring, losslessly
(the consumer gets every frame; the producer waits for it), and the per-frame work is the same
on both sides of each ratio: the producer copies a prepared frame into its slot (memcpy /
np.copyto), the consumer copies each frame out; in the python->python comparisons the producer
also writes the frame number into column 0 and the consumer checks it.

* producer: Python `RingWriter` (claim, np.copyto, publish) vs the C++ loop doing the same
  (`_framering._bench_produce`), each feeding the same C++ every consumer.
* every consumer: Python `RingReader(kind="every")` (read, np.copyto, release) vs the C++ loop
  (`_framering._bench_consume_every`), each fed by the same C++ producer.
* the live viewer the gist was written for: its Ready protocol (the display sends Ready over a
  Pipe, the main process answers with the newest frame's indexes, never waiting) against
  framering's newest reader, each with a producer writing flat out and a viewer copying the
  newest frame whenever it is ready; intact frames shown per second, and torn frames (shown
  unknowingly by the gist's display, detected and never shown by framering's).
* the design this replaces (shared/seeds: the live-viewer gist), measured two ways against
  framering's Python producer and Python every consumer:
  - as published: a `multiprocessing.shared_memory` circular buffer written with its `put`
    (a slice, or a list of indexes where a frame wraps the end), each frame's (start, stop)
    sent as a pickled message; for a consumer of every frame the gist's own advice, a
    `multiprocessing.Queue`. It has no backpressure and no seqlock: a consumer that falls 16
    frames behind copies a slot being overwritten and cannot tell. Every frame carries its
    number in column 0, so the bench counts those torn frames (the design does not); its
    figure is intact frames/s.
  - made lossless by hand: 16 slot-sized frames, each slot index sent over a `Pipe` and a
    credit returned over another, so that the producer never laps the consumer. It tears
    nothing, and is the fastest this design can be.
  framering's every consumer checks the same column: it never sees a torn frame.

Use Debian's interpreter (it sees python3-numpy). The package must be importable (the release
build after scripts/setup-deps.sh, or PYTHONPATH=build/release/python).
"""
import argparse
import json
import multiprocessing as mp
import os
import time
from multiprocessing import shared_memory

from dataclasses import dataclass

import numpy as np

import framering
from framering import _framering

SLOTS = 16


@dataclass(frozen=True)
class DataIndexes:
    """The gist's message: where the newest frame lies in the buffer (start may be negative)."""
    start: int
    stop: int


def frame_count(seconds: float, width: int, height: int) -> int:
    """Frames for about `seconds` at ~1 GB/s (this machine's order of magnitude), at least 200."""
    return max(200, int(seconds * 1e9 / (width * height * 2)))


def source_frame(width: int, height: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return ((x + 3 * y) & 0xFFFF).astype(np.uint16)


def stamp(frame: np.ndarray, n: int) -> None:
    """Writes frame number `n` into column 0 of every row."""
    frame[:, 0] = n & 0xFFFF


def torn(frame: np.ndarray, n: int) -> bool:
    """Whether column 0 of `frame` is not all frame number `n`: rows of another frame in it."""
    return bool((frame[:, 0] != (n & 0xFFFF)).any())


# ---- framering, each side in its own process ------------------------------------------------

def py_produce(instance, ring, frames, width, height, out, stamped=False):
    src = source_frame(width, height)
    with framering.RingWriter(instance, ring, width=width, height=height, slots=SLOTS) as w:
        w.wait_for_consumers(1, timeout_s=30)
        start = time.monotonic()
        for n in range(frames):
            if stamped:
                stamp(src, n)
            with w.claim(timeout_s=10) as f:
                np.copyto(f.pixels, src)
        out.put(time.monotonic() - start)


def cpp_produce(instance, ring, frames, width, height, out):
    out.put(_framering._bench_produce(instance, ring, frames, source_frame(width, height), SLOTS, 1))


def py_consume(instance, ring, frames, width, height, out, check=False):
    dst = np.empty((height, width), np.uint16)
    with framering.RingReader(instance, ring, kind="every", name="bench", wait_s=30) as r:
        start = None
        torn_frames = 0
        for n in range(frames):
            frame = r.read(timeout_s=10)
            if start is None:
                start = time.monotonic()
            np.copyto(dst, frame.pixels)
            torn_frames += check and torn(dst, frame.sequence)
        frame.release()
        out.put((time.monotonic() - start, torn_frames))


def cpp_consume(instance, ring, frames, width, height, out):
    out.put(_framering._bench_consume_every(instance, ring, "bench", frames))


def py_produce_stamped(instance, ring, frames, width, height, out):
    py_produce(instance, ring, frames, width, height, out, stamped=True)


def py_consume_checked(instance, ring, frames, width, height, out):
    py_consume(instance, ring, frames, width, height, out, check=True)


def pair(producer, consumer, frames, width, height) -> dict:
    instance = f"pybench{os.getpid()}"
    ring = f"r{time.monotonic_ns() % 1_000_000}"
    ctx = mp.get_context("fork")
    out_p, out_c = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=producer, args=(instance, ring, frames, width, height, out_p))
    c = ctx.Process(target=consumer, args=(instance, ring, frames, width, height, out_c))
    p.start()
    c.start()
    producer_s, consumer = out_p.get(timeout=300), out_c.get(timeout=300)
    consumer_s, torn_frames = consumer if isinstance(consumer, tuple) else (consumer, 0)
    p.join()
    c.join()
    path = f"/dev/shm/framering.{instance}.{ring}"
    if os.path.exists(path):
        os.unlink(path)
    return {"producer_frames_per_s": frames / producer_s, "consumer_frames_per_s": frames / consumer_s,
            "torn_frames": torn_frames, "intact_frames_per_s": (frames - torn_frames) / consumer_s}


# ---- the design it replaces: shared_memory + Pipe -------------------------------------------

def gist_put(buffer: np.ndarray, write_idx: int, src: np.ndarray) -> tuple:
    """The gist's SharedBuffer.put: `src` at the running index; a frame that wraps (or ends
    exactly at the end) is written through a list of indexes. Returns (start, next index)."""
    quotient, mod = divmod(write_idx + src.size, buffer.size)
    if quotient > 0:
        first, next_idx = write_idx - buffer.size, mod
        buffer[list(range(first, next_idx))] = np.ravel(src)
    else:
        first, next_idx = write_idx, write_idx + src.size
        buffer[first:next_idx] = np.ravel(src)
    return first, next_idx


def gist_get(buffer: np.ndarray, indexes: "DataIndexes", dst: np.ndarray) -> None:
    """The gist's display: the frame at `indexes` (a list of indexes when start < 0) into `dst`."""
    if indexes.start < 0:
        np.copyto(dst, buffer[list(range(indexes.start, indexes.stop))].reshape(dst.shape))
    else:
        np.copyto(dst, buffer[indexes.start:indexes.stop].reshape(dst.shape))


def gist_produce(name, frames, width, height, queue, out):
    """The gist's main process: put() each frame into the circular buffer, send its indexes."""
    shm = shared_memory.SharedMemory(name=name)
    buffer = np.ndarray((SLOTS * height * width,), np.uint16, buffer=shm.buf)
    src = source_frame(width, height)
    write_idx = 0
    start = time.monotonic()
    for n in range(frames):
        stamp(src, n)
        first, write_idx = gist_put(buffer, write_idx, src)
        queue.put(DataIndexes(first, write_idx))
    out.put(time.monotonic() - start)
    queue.put(None)
    del buffer
    shm.close()


def gist_consume(name, frames, width, height, queue, out):
    """The gist's saving process as its README advises: every message from a Queue, each frame copied."""
    shm = shared_memory.SharedMemory(name=name)
    buffer = np.ndarray((SLOTS * height * width,), np.uint16, buffer=shm.buf)
    dst = np.empty((height, width), np.uint16)
    torn_frames = 0
    start = None
    for n in range(frames):
        msg = queue.get()
        if start is None:
            start = time.monotonic()
        gist_get(buffer, msg, dst)
        torn_frames += torn(dst, n)
    out.put((time.monotonic() - start, torn_frames))
    while queue.get() is not None:
        pass
    del buffer
    shm.close()


def gist_pair(frames, width, height) -> dict:
    shm = shared_memory.SharedMemory(create=True, size=SLOTS * width * height * 2)
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    out_p, out_c = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=gist_produce, args=(shm.name, frames, width, height, queue, out_p))
    c = ctx.Process(target=gist_consume, args=(shm.name, frames, width, height, queue, out_c))
    p.start()
    c.start()
    producer_s, (consumer_s, torn_frames) = out_p.get(timeout=300), out_c.get(timeout=300)
    p.join()
    c.join()
    shm.close()
    shm.unlink()
    return {"producer_frames_per_s": frames / producer_s, "consumer_frames_per_s": frames / consumer_s,
            "torn_frames": torn_frames, "intact_frames_per_s": (frames - torn_frames) / consumer_s}


# ---- the live viewer: the gist's Ready protocol against framering's newest reader -------------

def live_seconds(seconds: float) -> float:
    return max(1.0, seconds)


def gist_live_produce(name, seconds, width, height, rx, tx, out):
    """The gist's main loop: put() every frame; when the display's Ready is waiting, send it the
    newest frame's indexes. Never waits for the display."""
    shm = shared_memory.SharedMemory(name=name)
    buffer = np.ndarray((SLOTS * height * width,), np.uint16, buffer=shm.buf)
    src = source_frame(width, height)
    write_idx = 0
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        stamp(src, n)
        first, write_idx = gist_put(buffer, write_idx, src)
        if rx.poll():
            rx.recv()
            tx.send((DataIndexes(first, write_idx), n))
        n += 1
    tx.send(None)
    out.put(n)
    del buffer
    shm.close()


def gist_live_consume(name, width, height, rx, tx, out):
    """The gist's display process (without matplotlib): Ready, then copy the frame it is sent."""
    shm = shared_memory.SharedMemory(name=name)
    buffer = np.ndarray((SLOTS * height * width,), np.uint16, buffer=shm.buf)
    dst = np.empty((height, width), np.uint16)
    shown = torn_frames = 0
    start = time.monotonic()
    while True:
        tx.send("READY")
        msg = rx.recv()
        if msg is None:
            break
        indexes, n = msg
        gist_get(buffer, indexes, dst)
        if torn(dst, n):
            torn_frames += 1  # shown anyway: the design cannot tell
        shown += 1
    out.put((time.monotonic() - start, shown, torn_frames))
    del buffer
    shm.close()


def gist_live_pair(seconds, width, height) -> dict:
    shm = shared_memory.SharedMemory(create=True, size=SLOTS * width * height * 2)
    ctx = mp.get_context("fork")
    to_display_rx, to_display_tx = ctx.Pipe(duplex=False)
    to_main_rx, to_main_tx = ctx.Pipe(duplex=False)
    out_p, out_c = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=gist_live_produce, args=(shm.name, seconds, width, height, to_main_rx, to_display_tx, out_p))
    c = ctx.Process(target=gist_live_consume, args=(shm.name, width, height, to_display_rx, to_main_tx, out_c))
    p.start()
    c.start()
    produced = out_p.get(timeout=300)
    consumer_s, shown, torn_frames = out_c.get(timeout=300)
    p.join()
    c.join()
    shm.close()
    shm.unlink()
    return {"produced": produced, "shown": shown, "torn_shown": torn_frames,
            "intact_shown_per_s": (shown - torn_frames) / consumer_s}


def py_live_produce(instance, ring, seconds, width, height, out):
    src = source_frame(width, height)
    n = 0
    with framering.RingWriter(instance, ring, width=width, height=height, slots=SLOTS) as w:
        w.wait_for_consumers(1, timeout_s=30)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            stamp(src, n)
            with w.claim(timeout_s=10) as f:
                np.copyto(f.pixels, src)
            n += 1
    out.put(n)


def py_live_consume(instance, ring, seconds, width, height, out):
    dst = np.empty((height, width), np.uint16)
    shown = discarded = 0
    with framering.RingReader(instance, ring, kind="newest", name="viewer", wait_s=30) as r:
        start = None
        end = None
        while True:
            frame = r.read(timeout_s=1)
            if frame is None:
                break  # the producer finished
            if start is None:
                start = time.monotonic()
                end = start + seconds
            np.copyto(dst, frame.pixels)
            sequence = frame.sequence
            if frame.release():
                shown += 1
                assert not torn(dst, sequence), "an intact read must hold one frame"
            else:
                discarded += 1  # detected torn: never shown
            if time.monotonic() > end:
                break
        out.put((time.monotonic() - start, shown, discarded))


def py_live_pair(seconds, width, height) -> dict:
    instance = f"pybench{os.getpid()}"
    ring = f"live{time.monotonic_ns() % 1_000_000}"
    ctx = mp.get_context("fork")
    out_p, out_c = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=py_live_produce, args=(instance, ring, seconds, width, height, out_p))
    c = ctx.Process(target=py_live_consume, args=(instance, ring, seconds, width, height, out_c))
    p.start()
    c.start()
    produced = out_p.get(timeout=300)
    consumer_s, shown, discarded = out_c.get(timeout=300)
    p.join()
    c.join()
    path = f"/dev/shm/framering.{instance}.{ring}"
    if os.path.exists(path):
        os.unlink(path)
    return {"produced": produced, "shown": shown, "torn_discarded": discarded, "intact_shown_per_s": shown / consumer_s}


def shm_produce(name, frames, width, height, slot_pipe, credit_pipe, out):
    shm = shared_memory.SharedMemory(name=name)
    slots = np.ndarray((SLOTS, height, width), np.uint16, buffer=shm.buf)
    src = source_frame(width, height)
    credits = SLOTS
    start = time.monotonic()
    for n in range(frames):
        stamp(src, n)
        while credits == 0:
            credit_pipe.recv()
            credits += 1
        np.copyto(slots[n % SLOTS], src)
        slot_pipe.send(n % SLOTS)
        credits -= 1
    out.put(time.monotonic() - start)
    del slots
    shm.close()


def shm_consume(name, frames, width, height, slot_pipe, credit_pipe, out):
    shm = shared_memory.SharedMemory(name=name)
    slots = np.ndarray((SLOTS, height, width), np.uint16, buffer=shm.buf)
    dst = np.empty((height, width), np.uint16)
    start = None
    torn_frames = 0
    for n in range(frames):
        i = slot_pipe.recv()
        if start is None:
            start = time.monotonic()
        np.copyto(dst, slots[i])
        torn_frames += torn(dst, n)
        credit_pipe.send(1)
    out.put((time.monotonic() - start, torn_frames))
    del slots
    shm.close()


def shm_pair(frames, width, height) -> dict:
    shm = shared_memory.SharedMemory(create=True, size=SLOTS * width * height * 2)
    ctx = mp.get_context("fork")
    slot_rx, slot_tx = ctx.Pipe(duplex=False)
    credit_rx, credit_tx = ctx.Pipe(duplex=False)
    out_p, out_c = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=shm_produce, args=(shm.name, frames, width, height, slot_tx, credit_rx, out_p))
    c = ctx.Process(target=shm_consume, args=(shm.name, frames, width, height, slot_rx, credit_tx, out_c))
    p.start()
    c.start()
    producer_s, (consumer_s, torn_frames) = out_p.get(timeout=300), out_c.get(timeout=300)
    p.join()
    c.join()
    shm.close()
    shm.unlink()
    return {"producer_frames_per_s": frames / producer_s, "consumer_frames_per_s": frames / consumer_s,
            "torn_frames": torn_frames}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="about how long each measurement runs")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args()
    w, h = args.width, args.height
    frames = frame_count(args.seconds, w, h)

    py_prod = pair(py_produce, cpp_consume, frames, w, h)
    cpp_prod = pair(cpp_produce, cpp_consume, frames, w, h)
    py_cons = pair(cpp_produce, py_consume, frames, w, h)
    cpp_cons = pair(cpp_produce, cpp_consume, frames, w, h)
    py_both = pair(py_produce_stamped, py_consume_checked, frames, w, h)
    shm = shm_pair(frames, w, h)
    gist = gist_pair(frames, w, h)
    live_s = live_seconds(args.seconds)
    gist_live = gist_live_pair(live_s, w, h)
    py_live = py_live_pair(live_s, w, h)
    result = {
        "geometry": f"{w}x{h} Mono16, {SLOTS} slots, {frames} frames per measurement",
        "python_producer_frames_per_s": py_prod["producer_frames_per_s"],
        "cpp_producer_frames_per_s": cpp_prod["producer_frames_per_s"],
        "producer_ratio": py_prod["producer_frames_per_s"] / cpp_prod["producer_frames_per_s"],
        "python_every_consumer_frames_per_s": py_cons["consumer_frames_per_s"],
        "cpp_every_consumer_frames_per_s": cpp_cons["consumer_frames_per_s"],
        "every_consumer_ratio": py_cons["consumer_frames_per_s"] / cpp_cons["consumer_frames_per_s"],
        "python_to_python_frames_per_s": py_both["consumer_frames_per_s"],
        "python_to_python_torn_frames": py_both["torn_frames"],
        "gist_as_published_frames_per_s": gist["consumer_frames_per_s"],
        "gist_as_published_torn_frames": gist["torn_frames"],
        "gist_as_published_intact_frames_per_s": gist["intact_frames_per_s"],
        "ratio_to_gist_as_published": py_both["intact_frames_per_s"] / gist["intact_frames_per_s"]
        if gist["intact_frames_per_s"] > 0 else None,
        "live_viewer_gist_ready_pipe": gist_live,
        "live_viewer_framering_newest": py_live,
        "live_viewer_ratio": py_live["intact_shown_per_s"] / gist_live["intact_shown_per_s"]
        if gist_live["intact_shown_per_s"] > 0 else None,
        "shared_memory_pipe_frames_per_s": shm["consumer_frames_per_s"],
        "ratio_to_shared_memory_pipe": py_both["consumer_frames_per_s"] / shm["consumer_frames_per_s"],
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"python bench: {result['geometry']}")
    print(f"  producer        python {result['python_producer_frames_per_s']:8.1f} frames/s   "
          f"C++ {result['cpp_producer_frames_per_s']:8.1f}   ratio {result['producer_ratio']:.2f}")
    print(f"  every consumer  python {result['python_every_consumer_frames_per_s']:8.1f} frames/s   "
          f"C++ {result['cpp_every_consumer_frames_per_s']:8.1f}   ratio {result['every_consumer_ratio']:.2f}")
    print(f"  python->python  framering {result['python_to_python_frames_per_s']:8.1f} frames/s, "
          f"{result['python_to_python_torn_frames']} torn")
    ratio = result["ratio_to_gist_as_published"]
    print(f"    vs the gist as published (Queue, no backpressure) {result['gist_as_published_frames_per_s']:8.1f} "
          f"frames/s, {result['gist_as_published_torn_frames']} of {frames} torn unknowingly, "
          f"{result['gist_as_published_intact_frames_per_s']:.1f} intact/s   "
          f"ratio {'inf' if ratio is None else f'{ratio:.2f}'} (intact frames/s)")
    lr = result["live_viewer_ratio"]
    print(f"  live viewer (producer flat out, viewer copies the newest frame when it is ready):")
    print(f"    framering newest reader {py_live['intact_shown_per_s']:8.1f} intact frames/s shown, "
          f"{py_live['torn_discarded']} torn reads detected and discarded")
    print(f"    the gist's Ready over Pipe {gist_live['intact_shown_per_s']:6.1f} intact frames/s shown, "
          f"{gist_live['torn_shown']} of {gist_live['shown']} shown torn unknowingly   "
          f"ratio {'inf' if lr is None else f'{lr:.2f}'}")
    print(f"    vs shared_memory+Pipe made lossless by hand {result['shared_memory_pipe_frames_per_s']:8.1f} frames/s   "
          f"ratio {result['ratio_to_shared_memory_pipe']:.2f}")


if __name__ == "__main__":
    main()
