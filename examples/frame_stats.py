#!/usr/bin/python3
"""frame_stats.py: a Python stage of a framering pipeline (a `command = [...]` stage).

It is a *newest* consumer: it never slows the producer and may skip frames. For each frame it
takes it writes one CSV row, `sequence,camera_frame_id,mean,min,max` (counts), to the file
named by its first argument, or to stdout. It learns its instance, its consumer name and its
ring from the environment `framering run` gives every stage (docs/stages.md):

    FRAMERING_INSTANCE   the pipeline's instance
    FRAMERING_STAGE      this stage's name: used as its consumer name, so `status` and the run
                         summary attribute its counters to it
    FRAMERING_CONSUMES   "raw:newest": the ring it declared in the pipeline file

Run by hand too: FRAMERING_INSTANCE=default FRAMERING_CONSUMES=raw:newest examples/frame_stats.py
It ends at SIGINT/SIGTERM (exit 0), or after --frames N rows. Debian's interpreter,
/usr/bin/python3, sees python3-numpy.
"""
import argparse
import os
import sys

import framering


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", help="CSV file to write (default: stdout)")
    parser.add_argument("--frames", type=int, default=0, help="stop after this many rows (0: until stopped)")
    args = parser.parse_args()

    env = framering.stage_environment(default_name="frame_stats")
    consumes = env.consumes
    if len(consumes) != 1 or consumes[0][1] != "newest":
        print(f"frame_stats: expected one ring consumed as newest in FRAMERING_CONSUMES, got "
              f"{os.environ.get('FRAMERING_CONSUMES', '')!r}; declare consumes = "
              f"[{{ ring = \"raw\", kind = \"newest\" }}] in the pipeline", file=sys.stderr)
        return 2
    ring_name = consumes[0][0]

    stop = framering.StopSignal()

    out = open(args.out, "w", buffering=1) if args.out else sys.stdout
    out.write("sequence,camera_frame_id,mean,min,max\n")
    rows = 0
    with framering.RingReader(env.instance, ring_name, kind="newest", name=env.name, wait_s=30) as reader:
        while not stop and (args.frames == 0 or rows < args.frames):
            frame = reader.read(timeout_s=0.2)
            if frame is None:
                continue
            pixels = frame.pixels  # the slot itself: no copy
            mean, low, high = float(pixels.mean()), int(pixels.min()), int(pixels.max())
            if not frame.is_intact():  # lapped while we read: what we computed is not trusted
                continue
            out.write(f"{frame.sequence},{frame.camera_frame_id},{mean:.3f},{low},{high}\n")
            rows += 1
    if out is not sys.stdout:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
