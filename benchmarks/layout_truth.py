"""Benchmark: estimated body-part layouts against the hand-drawn ground truth (per-label IoU).

The ground truth is ``tests/data/layout_gt/gt.json``: 9 frames (carphone 0/30/60/90/119, the astronaut and
Hopper photos, bikes 35/120) with coarse polygons drawn by eye on enlarged frames (see
:mod:`reenactor.evaluation.layout_truth` for how). Each frame is decoded at its original size, MediaPipe
Holistic runs on it in static mode, and :func:`reenactor.parsing.layout.estimate_layout` labels it. Prints
per-frame IoUs, their mean over the frames where a label is in the truth or the estimate (``mean``; a few stray
estimated pixels make a frame's IoU 0) and over the frames whose truth holds it (``mean in truth``), and the
pooled IoU (all frames' intersections over all frames' unions); the headline is the last line. Bare arms are
drawn in one frame only (the cyclist, bikes 120): its arm IoU is the arms' ``mean in truth``.

    .venv/bin/python benchmarks/layout_truth.py [--gt FILE] [--overlays DIR]
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import time
from pathlib import Path

import numpy as np

from reenactor.evaluation.layout_truth import (
    GT_PATH,
    entry_key,
    evaluate_estimator,
    format_table,
    load_ground_truth,
    rasterize,
)
from reenactor.parsing.labels import LAYOUT


def _over(img: np.ndarray, labels: np.ndarray, ignore: np.ndarray) -> np.ndarray:
    """The palette over the frame, half and half; ignored pixels greyed."""
    o = 0.5 * img.astype(np.float32) + 0.5 * LAYOUT.colourize(labels)
    o[ignore] = 0.5 * o[ignore] + 100
    return o.clip(0, 255).astype(np.uint8)


def write_overlays(result: dict, gt: list[dict], out: Path) -> None:
    """frame | ground truth | estimate, one PNG per frame."""
    import cv2

    out.mkdir(parents=True, exist_ok=True)
    for e in gt:
        key = entry_key(e)
        img = result["frames_rgb"][key]
        truth, ignore = rasterize(e)
        panel = np.concatenate(
            [img, _over(img, truth, ignore), _over(img, result["layouts"][key], ignore)], 1
        )
        cv2.imwrite(str(out / (key.replace(":", "_") + ".png")), cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gt", type=Path, default=GT_PATH, help=f"ground-truth file (default {GT_PATH})")
    ap.add_argument("--overlays", type=Path, help="write frame | truth | estimate PNGs here")
    args = ap.parse_args()
    gt = load_ground_truth(args.gt)
    t0 = time.perf_counter()
    res = evaluate_estimator(gt=gt, return_layouts=bool(args.overlays))
    dt = time.perf_counter() - t0
    print(f"hand-drawn layout ground truth: {len(gt)} frames from {args.gt}; {os.cpu_count()} CPU cores")
    print("per-label IoU (- : label in neither the truth nor the estimate of that frame)")
    print(format_table(res))
    print("frames with an IoU per label: " + ", ".join(f"{k} {v}" for k, v in res["counts"].items()))
    print(
        "frames whose truth holds the label: " + ", ".join(f"{k} {v}" for k, v in res["counts_truth"].items())
    )
    missed = [k for k, ok in res["person_found"].items() if not ok]
    if missed:
        print(f"no person found by MediaPipe in: {', '.join(missed)}")
    print(f"extraction + estimation: {dt:.1f} s for {len(gt)} frames")
    if args.overlays:
        write_overlays(res, gt, args.overlays)
        print(f"overlays written to {args.overlays}")
    m, mt, pooled = res["mean"], res["mean_truth"], res["pooled"]

    def f(v: float) -> str:
        return "n/a" if math.isnan(v) else f"{v:.2f}"

    print(
        f"layout vs hand-drawn truth ({len(gt)} frames), mean IoU: face {f(m['face'])}, hair {f(m['hair'])}, "
        f"upper_clothes {f(m['upper_clothes'])}, background {f(m['background'])}, person {f(m['person'])}; "
        f"arms {f(mt['arms'])} on the {res['counts_truth']['arms']} frame(s) with bare arms drawn, "
        f"{f(pooled['arms'])} pooled over all"
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the library logs its progress
    main()
