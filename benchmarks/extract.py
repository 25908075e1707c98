"""Benchmark: `reenactor extract` frames/s at 512x512 against bare MediaPipe Holistic on the same frames.

The bundled carphone clip (120 frames, 176x144) is scaled to 512x512 and written to an mp4. In the same
process and run, alternating over ROUNDS rounds:

* bare:    ``mp.solutions.holistic.Holistic(...).process(frame)`` over the 120 frames already decoded in
           memory, same settings as reenactor (model_complexity=1, refined face, segmentation, tracking);
           nothing else (no conversion, no storage);
* extract: ``reenactor.extract.extract(mp4, clip, size=256)`` end to end: hashing, decoding (twice), MediaPipe,
           conversion to BODY_25/face68, chunk files, gap filling, crop, resize, writing the clip store, with
           its default detection threads (one MediaPipe graph per core, chunks side by side: MediaPipe
           releases the GIL and one graph keeps only ~1.3 cores busy);
* extract, 1 thread: the same with ``workers=1`` (one graph, as bare), to show the pipeline's own overhead.

Prints a table (median over rounds) and, on the last line, the headline: extract fps and its ratio to bare.
Target on 2 CPU cores: >= 30 fps and >= 0.9 x bare.
"""

from __future__ import annotations

import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from reenactor.extract import default_workers, extract  # noqa: E402
from reenactor.io.video import iter_frames, write_video  # noqa: E402
from reenactor.pose.holistic import quiet_native_stderr  # noqa: E402
from reenactor.samples import sample_path  # noqa: E402

SIZE = 512
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def bare_fps(frames: list[np.ndarray]) -> tuple[float, float]:
    """(frames per wall-clock second, frames per CPU-second of this process, all threads)."""
    import mediapipe as mp

    with quiet_native_stderr():
        h = mp.solutions.holistic.Holistic(
            static_image_mode=False,
            model_complexity=1,
            smooth_landmarks=True,
            enable_segmentation=True,
            smooth_segmentation=True,
            refine_face_landmarks=True,
        )
        t, c = time.perf_counter(), time.process_time()
        for f in frames:
            h.process(f)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        h.close()
    return len(frames) / dt, len(frames) / dc


def extract_fps(video: Path, work: Path, n: int, workers: int = 0) -> tuple[float, float, dict]:
    clip_dir = work / "clip"
    shutil.rmtree(clip_dir, ignore_errors=True)
    t, c = time.perf_counter(), time.process_time()
    clip = extract(video, clip_dir, size=256, progress=False, log=lambda *_: None, workers=workers)
    dt, dc = time.perf_counter() - t, time.process_time() - c
    assert clip.n_frames == n
    return n / dt, n / dc, clip.stage("extract")


def main() -> int:
    frames = [
        cv2.resize(f, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
        for f in iter_frames(sample_path("carphone"))
    ]
    n = len(frames)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        video = work / f"carphone_{SIZE}.mp4"
        write_video(video, frames, fps=29.97)
        bare, ext, bare_cpu, ext_cpu, stages, ext1 = [], [], [], [], [], []
        load0 = os.getloadavg()[0]
        for _ in range(ROUNDS):
            f, fc = bare_fps(frames)
            bare.append(f)
            bare_cpu.append(fc)
            f, fc, st = extract_fps(video, work, n)
            ext.append(f)
            ext_cpu.append(fc)
            stages.append(st)
            ext1.append(extract_fps(video, work, n, workers=1)[0])
        load1 = os.getloadavg()[0]
    b, e = statistics.median(bare), statistics.median(ext)
    bc, ec = statistics.median(bare_cpu), statistics.median(ext_cpu)
    det = statistics.median(s["seconds_detect"] for s in stages)
    store = statistics.median(s["seconds_store"] for s in stages)
    print(
        f"carphone scaled to {SIZE}x{SIZE}, {n} frames, tracking mode, {os.cpu_count()} CPU cores, "
        f"{ROUNDS} rounds (median); 1-min load average {load0:.1f} -> {load1:.1f}"
        + (
            "  (machine busy: wall-clock figures are low; compare the ratios)"
            if max(load0, load1) > 1.5
            else ""
        )
    )
    print(f"{'what':<44}{'frames/s':>10}{'rounds':>28}")
    print(
        f"{'bare MediaPipe Holistic (frames in memory)':<44}{b:>10.1f}{'  '.join(f'{x:.1f}' for x in bare):>28}"
    )
    print(
        f"{'reenactor extract (end to end, size 256)':<44}{e:>10.1f}{'  '.join(f'{x:.1f}' for x in ext):>28}"
    )
    e1 = statistics.median(ext1)
    print(
        f"{'reenactor extract, 1 detection thread':<44}{e1:>10.1f}{'  '.join(f'{x:.1f}' for x in ext1):>28}"
    )
    print(
        f"  default: {default_workers()} detection threads; of which detection pass {det:.2f} s ({n / det:.1f} frames/s), store pass {store:.2f} s"
    )
    print(f"{'frames per CPU-second: bare':<44}{bc:>10.1f}{'  '.join(f'{x:.1f}' for x in bare_cpu):>28}")
    print(f"{'frames per CPU-second: extract':<44}{ec:>10.1f}{'  '.join(f'{x:.1f}' for x in ext_cpu):>28}")
    print(f"CPU-time ratio extract / bare: {ec / bc:.2f}; 1 thread / bare: {e1 / b:.2f}")
    print(
        f"extract {e:.1f} fps at {SIZE}x{SIZE} = {e / b:.2f} x bare MediaPipe ({b:.1f} fps); "
        f"targets: >= 30 fps {'met' if e >= 30 else 'NOT met'}, >= 0.9 x bare {'met' if e / b >= 0.9 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the library logs its progress
    sys.exit(main())
