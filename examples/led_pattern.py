#!/usr/bin/python3
"""led_pattern.py: an LED-screen pattern written in numpy, as the producer of a framering ring.

The pattern is skyscreen's droplet: rings expanding from the centre of the disc, a new one every
--period-s seconds, each a Gaussian ridge (width --ridge-px) fading as it grows. Frames are
--size x --size Mono16, written straight into the claimed slot. `framering led` samples the
disc on the screen's polar grid (examples/led-pattern.toml). The pattern runs in its own process:
a crash in it never takes the LED stage down, and `framering run` restarts it.

Environment (docs/stages.md): FRAMERING_INSTANCE, FRAMERING_PRODUCES (its ring),
FRAMERING_WAIT_FOR_CONSUMERS, FRAMERING_FRAMES. SIGINT/SIGTERM end it with exit 0.
Under `framering run --http`, period_s and ridge_px change live
(PATCH /api/v1/stages/<name>/params, framering.LiveParams); each frame carries the settings
generation that drew it.
"""
import argparse
import sys
import time

import numpy as np

import framering


def droplet(t_s: float, r: np.ndarray, period_s: float, ridge_px: float, radius_px: float) -> np.ndarray:
    """Intensity in [0, 1] at distances r (pixels from the centre) and time t_s (seconds)."""
    out = np.zeros_like(r)
    age = t_s % period_s
    for k in range(3):  # the newest ring and the two before it, still fading out
        ring_age = age + k * period_s
        radius = radius_px * ring_age / (3 * period_s)
        fade = 1.0 - ring_age / (3 * period_s)
        out = np.maximum(out, fade * np.exp(-((r - radius) / ridge_px) ** 2))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=576, help="frame width and height in pixels")
    parser.add_argument("--rate-hz", type=float, default=40.0)
    parser.add_argument("--period-s", type=float, default=1.5, help="seconds between new rings")
    parser.add_argument("--ridge-px", type=float, default=12.0)
    args = parser.parse_args()

    env = framering.stage_environment()
    ring = (env.produces or ["pattern"])[0]
    frames, wait_for = env.frames, env.wait_for_consumers
    stop = framering.StopSignal()

    params = framering.LiveParams({
        "period_s": framering.Param(args.period_s, min=0.1, max=60.0, units="s", doc="seconds between new rings"),
        "ridge_px": framering.Param(args.ridge_px, min=1.0, max=args.size / 2.0, units="px", doc="ring width"),
    })
    with framering.RingWriter(env.instance, ring, width=args.size, height=args.size, slots=8) as writer:
        if wait_for > 0:
            writer.wait_for_consumers(wait_for, timeout_s=30)
        y, x = np.mgrid[0:args.size, 0:args.size]
        c = (args.size - 1) / 2.0
        r = np.hypot(x - c, y - c).astype(np.float32)
        start = time.monotonic()
        next_tick = start
        published = 0
        while not stop and (frames == 0 or published < frames):
            next_tick += 1.0 / args.rate_hz
            delay = next_tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # the pattern's frame clock
            params.poll()  # live changes, between frames
            image = droplet(time.monotonic() - start, r, params["period_s"], params["ridge_px"], args.size / 2.0)
            with writer.claim(timeout_s=1.0) as frame:
                np.multiply(image, 65535.0, out=frame.pixels, casting="unsafe")
                frame.settings_generation = params.generation
                sequence = frame.sequence
            params.took_effect(sequence, ring)
            published += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
