"""Recordings written by ``framering record``, read as numpy arrays without copying the files.

A recording is a folder (see ``framering record --help`` and record/include/framering/record/
recording.hpp): ``part-000001.tif`` ... multi-page TIFF files, ``index.csv`` (one row per frame:
part, page, sequence, timestamp_ns, camera_frame_id, source_frames_lost, settings_generation),
``recording.json``
(ring and geometry) and, once closed, ``manifest.json`` (frames, gaps, the verdict).

Every page of a part is laid out alike (record/include/framering/record/tiff_stack_writer.hpp):
page k starts at k * page_bytes, page_bytes = 4096 + frame bytes rounded up to 4096, and its
pixels (packed rows) start 4096 bytes in. So the parts, mapped end to end into one address
range, are one strided (N, height, width) array ((N, height, width, 3) for RGB8): that is ``Recording.frames``. tifffile reads
the same files page by page (and ImageJ opens each part as a stack).
"""
from __future__ import annotations

import json
import os
from typing import Optional

import numpy as np

from ._framering import map_pages

_IFD_BLOCK_BYTES = 4096
_INDEX_DTYPE = np.dtype([("part", "<u4"), ("page", "<u8"), ("sequence", "<u8"), ("timestamp_ns", "<u8"),
                         ("camera_frame_id", "<u8"), ("source_frames_lost", "<u8"),
                         ("settings_generation", "<u4")])


class Recording:
    """One recording folder, opened read-only.

    Attributes:
        path: the folder.
        description: recording.json as a dict (instance, ring, consumer, geometry, tiff, ...).
        manifest: manifest.json as a dict, or None while the recording is not closed (its
            recorder still running, killed, or given up).
        index: structured array, one row per recorded frame in recording order, fields
            part, page, sequence, timestamp_ns (CLOCK_REALTIME ns), camera_frame_id,
            source_frames_lost, settings_generation (the run's live settings that made the
            frame: docs/http-api.md; 0 in recordings made before it was kept).
        frames: (N, height, width) read-only array of the recorded frames, uint16 (uint8 for
            the 8-bit formats), (N, height, width, 3) uint8 for RGB8 (R, G, B), the files mapped
            (no copy); frames[i] is index[i]'s frame. Valid as long as any view of it lives (the
            mapping goes with the last one). A Bayer recording's frames are the raw mosaic.
        samples_per_pixel: 3 for RGB8, else 1.
        cfa_pattern: a Bayer recording's colour filter array from its top-left pixel, row by
            row ("RGGB", "GRBG", "GBRG", "BGGR"); "" for the others.
    """

    def __init__(self, path: str):
        self.path = os.fspath(path)
        if not os.path.isdir(self.path):
            raise FileNotFoundError(f"{self.path}: not a recording folder (expected a folder with "
                                    f"recording.json, index.csv and part-*.tif)")
        self.description = _read_json(os.path.join(self.path, "recording.json"), required=True)
        self.manifest = _read_json(os.path.join(self.path, "manifest.json"), required=False)
        self.index = _read_index(os.path.join(self.path, "index.csv"))
        geometry = self.description.get("geometry", {})
        try:
            self.width = int(geometry["width"])
            self.height = int(geometry["height"])
            self.pixel_format = str(geometry["pixel_format"])
            bytes_per_sample = int(geometry["bits_per_sample"]) // 8
            self.samples_per_pixel = int(geometry.get("samples_per_pixel", 1))
        except (KeyError, ValueError) as e:
            raise ValueError(f"{self.path}/recording.json: geometry lacks {e}") from None
        self.cfa_pattern = str(geometry.get("cfa_pattern", ""))
        frame_bytes = self.width * self.height * bytes_per_sample * self.samples_per_pixel
        page_bytes = _IFD_BLOCK_BYTES + (frame_bytes + _IFD_BLOCK_BYTES - 1) // _IFD_BLOCK_BYTES * _IFD_BLOCK_BYTES
        files, pages = [], []
        for part in _ordered_unique(self.index["part"]):
            rows = self.index["page"][self.index["part"] == part]
            if not np.array_equal(rows, np.arange(len(rows), dtype=rows.dtype)):
                raise ValueError(f"{self.path}/index.csv: the pages of part {part} are not 0, 1, 2, ... in order; "
                                 f"`framering inspect {self.path}` says what is wrong")
            files.append(os.path.join(self.path, f"part-{int(part):06d}.tif"))
            pages.append(len(rows))
        if list(self.index["part"]) != sorted(self.index["part"]):
            raise ValueError(f"{self.path}/index.csv: parts are not in order")
        self.frames = map_pages(files, pages, page_bytes, _IFD_BLOCK_BYTES, self.width, self.height, bytes_per_sample,
                                self.samples_per_pixel)

    @property
    def closed(self) -> bool:
        """Whether its recorder closed it (manifest.json exists)."""
        return self.manifest is not None

    @property
    def complete(self) -> bool:
        """The verdict, as ``framering inspect`` gives it: closed after a normal stop, and every
        frame published in the recorded span is in it. An open recording never is."""
        return bool(self.manifest and self.manifest.get("complete") and
                    self.manifest.get("stop", {}).get("reason") != "error")

    @property
    def gaps(self) -> list:
        """The manifest's gaps ([{cause, first, last, count, unit}, ...]); [] while open."""
        return list(self.manifest.get("gaps", [])) if self.manifest else []

    def __len__(self) -> int:
        return len(self.index)

    def __repr__(self) -> str:
        state = "complete" if self.complete else "closed, INCOMPLETE" if self.closed else "open"
        return (f"<Recording {self.path}: {len(self)} frames {self.width}x{self.height} {self.pixel_format}, "
                f"{state}>")


def open_recording(path) -> Recording:
    """Opens the recording folder ``path`` read-only (see Recording). Raises FileNotFoundError
    when it is not a folder or lacks recording.json or index.csv, ValueError when its files
    disagree (run ``framering inspect PATH``), framering.Error (the C++ message, naming the
    file) when a part is missing, shorter than its index says, or cannot be mapped."""
    return Recording(path)


def _read_json(path: str, required: bool) -> Optional[dict]:
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        if required:
            raise FileNotFoundError(f"{path}: missing (not a framering recording?)") from None
        return None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON: {e}") from None


def _read_index(path: str) -> np.ndarray:
    try:
        with open(path) as f:
            lines = [line for line in f if line.strip() and not line.startswith("#")]
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: missing (not a framering recording?)") from None
    if not lines or not lines[0].startswith("part,"):
        raise ValueError(f"{path}: expected the header part,page,sequence,timestamp_ns,camera_frame_id,"
                         f"source_frames_lost")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.strip().split(",")
        if len(fields) == 6:  # written before the settings generation was kept: generation 0
            fields.append("0")
        if len(fields) != 7:
            raise ValueError(f"{path} line {number}: expected 7 fields (6 in older recordings), got {len(fields)}")
        rows.append(tuple(int(v) for v in fields))
    return np.array(rows, dtype=_INDEX_DTYPE)


def _ordered_unique(values) -> list:
    seen, out = set(), []
    for v in values:
        if int(v) not in seen:
            seen.add(int(v))
            out.append(int(v))
    return out
