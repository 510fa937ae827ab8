#!/usr/bin/python3
"""fft_filter.py: an FFT filter in Python (pyFFTW) on ring slots, from one ring into another.

An *every* consumer of its input ring (it gets every frame, in order, and the camera waits for
it) and the producer of its output ring. Per frame: the input slot (uint16, 4096-byte aligned)
is converted once into FFTW's aligned float32 input, r2c, the Fourier-plane mask, c2r, and the
result is clipped and converted straight into the claimed output slot. The slot itself is
never copied or re-aligned: FFTW's transforms work on float arrays, so the u16 -> float pass
is the one unavoidable write, and the plans are made once, FFTW_MEASURE, for these shapes.

Modes: identity (the output equals the input), lowpass (a Gaussian of --cutoff cycles/pixel at
half gain, as `framering process --mode lowpass`). The output frame's camera_frame_id is the
input frame's sequence, so a consumer can match them. Runs under `framering run`
(examples/fft-filter.toml); FRAMERING_CONSUMES names its input ("raw:every"),
FRAMERING_PRODUCES its output, FRAMERING_STAGE its consumer name.
"""
import argparse
import sys

import numpy as np
import pyfftw

import framering


def gaussian_lowpass(height: int, width: int, cutoff: float) -> np.ndarray:
    """The r2c half-plane mask (height, width//2+1) of a Gaussian with gain 1/2 at `cutoff` cycles/pixel."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    f2 = fx * fx + fy * fy
    return np.exp(-np.log(2.0) * f2 / (cutoff * cutoff)).astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["identity", "lowpass"], default="lowpass")
    parser.add_argument("--cutoff", type=float, default=0.05, help="lowpass: half-gain frequency, cycles/pixel")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    env = framering.stage_environment(default_name="fft_filter")
    consumes = env.consumes or [("raw", "every")]
    produces = env.produces or ["filtered"]
    if len(consumes) != 1 or consumes[0][1] != "every" or len(produces) != 1:
        print("fft_filter: declare consumes = [{ ring = \"raw\", kind = \"every\" }] and one ring in produces",
              file=sys.stderr)
        return 2
    stop = framering.StopSignal()

    reader = framering.RingReader(env.instance, consumes[0][0], kind="every", name=env.name, wait_s=30)
    first = reader.read(timeout_s=30)
    if first is None:
        print("fft_filter: no frame in 30 s", file=sys.stderr)
        return 2
    h, w = first.height, first.width
    spatial = pyfftw.empty_aligned((h, w), dtype="float32")
    spectrum = pyfftw.empty_aligned((h, w // 2 + 1), dtype="complex64")
    forward = pyfftw.FFTW(spatial, spectrum, axes=(0, 1), direction="FFTW_FORWARD", flags=("FFTW_MEASURE",),
                          threads=args.threads)
    backward = pyfftw.FFTW(spectrum, spatial, axes=(0, 1), direction="FFTW_BACKWARD", flags=("FFTW_MEASURE",),
                           threads=args.threads)
    mask = np.full((h, w // 2 + 1), 1.0, np.float32) if args.mode == "identity" else gaussian_lowpass(h, w, args.cutoff)
    mask /= h * w  # FFTW does not normalise: fold 1/N into the mask
    writer = framering.RingWriter(env.instance, produces[0], width=w, height=h, pixel_format=first.pixel_format)
    drain = framering.Drain(stop, env)  # at a stop, first take every frame it owes
    frame = first
    while True:
        if frame is None:
            if drain.finished(reader):
                break
            if not reader.producer_alive and reader.cursor >= reader.published:
                break  # the input's producer is gone and everything published was taken
            frame = reader.read(timeout_s=0.2)
            continue
        np.copyto(spatial, frame.pixels, casting="unsafe")  # the one u16 -> float pass, from the slot
        sequence, gap = frame.sequence, frame.gap
        frame.release()  # the input slot is free for the camera as soon as it has been read
        if gap is not None:
            print(f"fft_filter: frames {gap[0]}..{gap[1]} were lost before {sequence} (evicted)", file=sys.stderr)
        forward()
        spectrum *= mask
        backward(normalise_idft=False)
        with writer.claim(timeout_s=10) as out:
            np.rint(spatial, out=spatial)
            np.clip(spatial, 0, 65535, out=spatial)
            np.copyto(out.pixels, spatial, casting="unsafe")
            out.camera_frame_id = sequence
        frame = None
    writer.close()
    reader.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
