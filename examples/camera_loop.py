#!/usr/bin/python3
"""camera_loop.py: a Python camera loop as the producer of a framering ring.

Each frame is written straight into the claimed ring slot (`claim().pixels`), then published:
the frame crosses memory once. The "camera" is simulated by default: the sequence pattern
pixel(x, y) = (sequence + x + 3y) & 0xFFFF, so any consumer can verify every pixel (see
`framering acquire --help`). With --video PATH it reads a video file or device with OpenCV
(python3-opencv) instead, converted to Mono16 grey.

Under `framering run` (examples/camera-loop.toml) it learns from the environment
(docs/stages.md): FRAMERING_INSTANCE, FRAMERING_PRODUCES (its ring), FRAMERING_WAIT_FOR_CONSUMERS
(publish nothing until that many consumers are attached, so a bounded run loses no first frame)
and FRAMERING_FRAMES (publish that many, then exit 0). SIGINT/SIGTERM end it with exit 0.
Killed, it is restarted and continues the ring's sequence.
"""
import argparse
import sys
import time

import numpy as np

import framering


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--rate-hz", type=float, default=30.0, help="frames per second (0: as fast as possible)")
    parser.add_argument("--slots", type=int, default=16)
    parser.add_argument("--video", help="read frames from this video file or device with OpenCV instead")
    args = parser.parse_args()

    env = framering.stage_environment()
    produces = env.produces or ["raw"]
    if len(produces) != 1:
        print(f"camera_loop: expected one ring in FRAMERING_PRODUCES, got {produces}", file=sys.stderr)
        return 2
    frames, wait_for = env.frames, env.wait_for_consumers

    capture = None
    if args.video:
        import cv2

        capture = cv2.VideoCapture(args.video)
        if not capture.isOpened():
            print(f"camera_loop: cannot open video {args.video!r}", file=sys.stderr)
            return 2
        args.width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        args.height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))

    stop = framering.StopSignal()

    writer = framering.RingWriter(env.instance, produces[0], width=args.width, height=args.height,
                                  pixel_format="Mono16", slots=args.slots)
    if wait_for > 0 and not writer.wait_for_consumers(wait_for, timeout_s=30):
        print(f"camera_loop: only some of {wait_for} consumers came in 30 s; producing anyway", file=sys.stderr)
    y, x = np.mgrid[0:args.height, 0:args.width]
    base = (x + 3 * y).astype(np.uint32)
    period = 1.0 / args.rate_hz if args.rate_hz > 0 else 0.0
    next_tick = time.monotonic()
    published = 0
    while not stop and (frames == 0 or published < frames):
        if period:
            next_tick += period
            delay = next_tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # pacing the simulated camera, not synchronisation
        grabbed = None
        if capture is not None:
            ok, image = capture.read()
            if not ok:
                break
            grabbed = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        try:
            claim = writer.claim(timeout_s=1.0)
        except TimeoutError:
            writer.count_dropped(1)  # an every consumer held the slot: this frame is dropped, and counted
            continue
        with claim as frame:
            if grabbed is None:
                np.bitwise_and(base + frame.sequence, 0xFFFF, out=frame.pixels, casting="unsafe")
            else:
                np.left_shift(grabbed, 8, out=frame.pixels, casting="unsafe")  # 8-bit grey into 16 bits
            frame.camera_frame_id = frame.sequence
        published += 1
    writer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
