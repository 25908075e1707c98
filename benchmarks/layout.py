"""Estimated layouts (parsing.layout): speed next to extraction, and the four checks of parsing.quality on real
footage, on this machine.

Sources, each extracted at SIZE x SIZE (person crop) into a temporary folder: carphone (120 frames), bikes.mp4
(250 frames: cyclists and pedestrians, scene cuts, some skeletons on cars and bicycles), the cyclist shot of
bikes.mp4 alone (frames 104..136: one cyclist with bare arms, tracked throughout), the astronaut and Hopper
photos, and the first 200 frames of /work/data/vtest.avi (pedestrians far away) when it exists.

Speed: extraction ms/frame is `reenactor extract`'s wall time over the frames (MediaPipe Holistic with
segmentation, decoding, cropping, writing); layout ms/frame is estimate_layout alone on the frames already in
memory (ROUNDS rounds, the median). Checks (parsing.quality): labelled pixels outside the mask; the share of
face-mesh frames whose oval is >= 95 % face (and the median coverage); visible elbows and wrists (confidence
>= 0.5, inside the frame) in the arm or hand label of their own side, in upper clothes (a sleeve) and on the
other side; the median per-label IoU of each frame's layout with the previous one warped by DIS flow (labels
> 1 % of the frame, scene cuts left out).

With ``--images DIR``: overlay pictures of five real frames (frame | palette overlay | label map, with a
legend of the labels present) are written to DIR/layout_*.png (the ones in docs/img).

Usage: python benchmarks/layout.py [--size 256] [--rounds 3] [--vtest /work/data/vtest.avi] [--images DIR]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")

KEYS = ("frames", "mask", "body", "face_raw", "hand_left", "hand_right", "pose_raw")


def _arrays(clip) -> dict[str, np.ndarray]:
    return {k: np.asarray(clip.load(k)) for k in KEYS}


def _time_layout(a: dict[str, np.ndarray], rounds: int) -> tuple[np.ndarray, float]:
    from reenactor.parsing.layout import estimate_layout

    n = len(a["frames"])
    out, times = None, []
    for _ in range(max(rounds, -(-20 // n))):  # a photo: at least 20 rounds
        t0 = time.perf_counter()
        out = np.stack([estimate_layout(*(a[k][t] for k in KEYS)) for t in range(n)])
        times.append((time.perf_counter() - t0) / n * 1e3)
    return out, statistics.median(times)


#: (source name, frame index, file stem) of the overlay pictures
PICTURES = (
    ("carphone", 0, "carphone_0"),
    ("carphone", 80, "carphone_80"),
    ("astronaut (photo)", 0, "astronaut"),
    ("hopper (photo)", 0, "hopper"),
    ("bikes: cyclist 104-136", 16, "cyclist"),
)


def picture(frame: np.ndarray, layout: np.ndarray) -> np.ndarray:
    """frame | palette overlay (55 %) | label map, and below them a legend of the labels present."""
    import cv2

    from reenactor.parsing.labels import LAYOUT

    col = LAYOUT.colourize(layout)
    a = (layout > 0)[..., None] * 0.55
    over = np.round(frame * (1 - a) + col * a).astype(np.uint8)
    top = np.concatenate([frame, over, col], 1)
    present = [k for k in range(1, len(LAYOUT)) if (layout == k).any()]
    per_row, row_h = 4, 20
    legend = np.full((row_h * (-(-len(present) // per_row)) + 4, top.shape[1], 3), 255, np.uint8)
    cell = top.shape[1] // per_row
    for i, k in enumerate(present):
        x, y = (i % per_row) * cell + 6, (i // per_row) * row_h + 4
        cv2.rectangle(legend, (x, y + 2), (x + 14, y + 14), tuple(int(c) for c in LAYOUT.palette[k]), -1)
        cv2.rectangle(legend, (x, y + 2), (x + 14, y + 14), (0, 0, 0), 1)
        cv2.putText(legend, LAYOUT.labels[k], (x + 20, y + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1,
                    cv2.LINE_AA)  # fmt: skip
    return np.concatenate([top, legend], 0)


def _cut(src: Path, dst: Path, start: int, stop: int) -> Path:
    from reenactor.io.video import iter_frames, probe, write_video

    frames = list(itertools.islice(iter_frames(src), start, stop))
    write_video(dst, frames, fps=probe(src).fps or 25.0)
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--vtest", default="/work/data/vtest.avi", help="vtest.avi (skipped when missing)")
    ap.add_argument("--vtest-frames", type=int, default=200)
    ap.add_argument("--images", help="write the overlay pictures to this folder")
    args = ap.parse_args()

    from reenactor.errors import NoPersonError
    from reenactor.extract import extract
    from reenactor.parsing.quality import layout_quality
    from reenactor.samples import sample_path

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sources: list[tuple[str, Path, bool]] = [
            ("carphone", sample_path("carphone"), True),
            ("bikes", sample_path("bikes"), True),
            ("bikes: cyclist 104-136", _cut(sample_path("bikes"), work / "cyclist.mp4", 104, 137), True),
            ("astronaut (photo)", sample_path("astronaut"), False),
            ("hopper (photo)", sample_path("hopper"), False),
        ]
        if Path(args.vtest).exists():
            name = f"vtest first {args.vtest_frames}"
            sources.append((name, _cut(Path(args.vtest), work / "vtest.mp4", 0, args.vtest_frames), True))
        for i, (name, path, video) in enumerate(sources):
            t0 = time.perf_counter()
            try:
                clip = extract(path, work / f"c{i}", size=args.size, progress=False, log=lambda *_: None)
            except NoPersonError:
                rows.append((name, None, None, None, None))
                continue
            ext_ms = (time.perf_counter() - t0) / clip.n_frames * 1e3
            a = _arrays(clip)
            lay, lay_ms = _time_layout(a, args.rounds)
            q = layout_quality(lay, a["mask"], a["body"], a["face_raw"], a["frames"] if video else None)
            person = int((a["mask"].reshape(len(lay), -1) >= 128).any(1).sum())
            rows.append((name, q, lay_ms, ext_ms if video else None, person))
            for src, t, stem in PICTURES if args.images else ():
                if src == name:
                    from reenactor.io.video import write_image

                    Path(args.images).mkdir(parents=True, exist_ok=True)
                    write_image(Path(args.images) / f"layout_{stem}.png", picture(a["frames"][t], lay[t]))

    def pct(x: float) -> str:
        return "-" if x != x else f"{100 * x:.0f} %"

    print()
    print(
        f"| source ({args.size} x {args.size}) | frames (with a person) | layout ms/frame | extraction ms/frame "
        "| outside mask px | face frames: oval >= 95 % face (median cover) | elbows+wrists visible "
        "| in own arm/hand | in a sleeve | other side | flow IoU median (pairs) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, q, lay_ms, ext_ms, person in rows:
        if q is None:
            print(f"| {name} | no person found | | | | | | | | | |")
            continue
        lim = q.limbs
        face = (
            f"{q.face_frames}: {pct(q.face_ok_share)} ({pct(q.face_coverage_median)})"
            if q.face_frames
            else "0"
        )
        stab = "-"
        if q.stability and q.stability.pairs:
            st = q.stability
            stab = f"{st.median:.3f} ({st.pairs})" if len(st.ious) else f"no label > 1 % ({st.pairs})"
        print(
            f"| {name} | {q.frames} ({person}) | {lay_ms:.2f} | {'-' if ext_ms is None else f'{ext_ms:.1f}'} "
            f"| {q.outside_mask} | {face} | {lim.visible} | {pct(lim.rate)} "
            f"| {pct(lim.clothes / lim.visible if lim.visible else float('nan'))} | {lim.other_side} | {stab} |"
        )
    cp = next(r for r in rows if r[0] == "carphone")
    cy = next(r for r in rows if r[0].startswith("bikes: cyclist"))
    print(
        f"layout estimate at {args.size}x{args.size}: {cp[2]:.2f} ms/frame on carphone, "
        f"{100 * cp[2] / cp[3]:.0f} % of extraction's {cp[3]:.1f} ms/frame; carphone: {cp[1].outside_mask} px "
        f"outside the mask, face oval >= 95 % covered in {pct(cp[1].face_ok_share)} of frames, flow IoU median "
        f"{cp[1].stability.median:.2f}; cyclist elbows+wrists in their own arm/hand: {pct(cy[1].limbs.rate)}"
    )


if __name__ == "__main__":
    main()
