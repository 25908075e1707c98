"""pose_warp speed, end to end from a clip store, on this machine.

The astronaut photo (scikit-image) as the reference, carphone's poses (its clip store, extracted once into a
temporary folder) driving it; everything `reenactor transfer --method pose_warp` does per frame is timed: row
reads, normalization, the part warp, compositing over the background, H.264 encoding. Per size: the warp alone
(PoseWarper.warp on the normalized poses), the render stage of `transfer` (frames/s) and the whole call with
the reference set-up (MediaPipe on the photo, the background inpainting). ROUNDS rounds, medians.

Target (issue: pose_warp): >= 30 frames/s at 256x256 end to end from a clip store on the 2-core CPU.
Usage: python benchmarks/pose_warp.py [--clip CLIP_DIR] [--rounds 3] [--frames 120]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", help="driving clip store (default: carphone extracted at 256)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--frames", type=int, default=120, help="driving frames per run (the clip looped if shorter)"
    )
    args = ap.parse_args()

    from reenactor.data.clipstore import ClipStore
    from reenactor.driving import ClipSource
    from reenactor.extract import extract
    from reenactor.modelfile import open_model
    from reenactor.pose.part_warp import PoseWarper
    from reenactor.reference import load_reference
    from reenactor.samples import sample_path
    from reenactor.transfer import fit_reference_normalizer, transfer

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clip = (
            ClipStore.open(args.clip)
            if args.clip
            else extract(
                sample_path("carphone"), work / "carphone", size=256, progress=False, log=lambda *_: None
            )
        )
        n = min(args.frames, clip.n_frames)
        rows = []
        for size in (128, 256, 512):
            ref = load_reference("sample:astronaut", size)
            src = ClipSource(clip, max_frames=n)
            norm = fit_reference_normalizer("auto", src, src.bodies(), ref)
            poses = [
                norm.apply({k: rec[k] for k in ("body", "face", "hand_left", "hand_right") if k in rec})
                for _, rec in src.iter_frames(frames=False)
            ]
            src.close()
            warper = PoseWarper(ref.image, ref.mask, ref.keypoints)
            warp_ms, render_fps, total_fps = [], [], []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                for p in poses:
                    warper.warp(p)
                warp_ms.append((time.perf_counter() - t0) / len(poses) * 1e3)
                tm = open_model(method="pose_warp", config={"size": size})
                t0 = time.perf_counter()
                res = transfer(
                    tm,
                    ClipSource(clip, max_frames=n),
                    work / f"o{size}.mp4",
                    target_image="sample:astronaut",
                    progress=False,
                    save_normalizer=False,
                )
                total = time.perf_counter() - t0
                render_fps.append(res.render_fps)
                total_fps.append(res.n_frames / total)
            rows.append(
                (
                    size,
                    n,
                    statistics.median(warp_ms),
                    statistics.median(render_fps),
                    statistics.median(total_fps),
                )
            )
    print()
    print(
        "| size | frames | warp alone ms/frame | render frames/s | whole call frames/s (reference set-up included) |"
    )
    print("|---|---|---|---|---|")
    for size, n, w, r, t in rows:
        print(f"| {size} | {n} | {w:.2f} | {r:.1f} | {t:.1f} |")
    r256 = next(r for r in rows if r[0] == 256)
    print(
        f"pose_warp at 256x256 end to end from a clip store: {r256[3]:.1f} frames/s render "
        f"({r256[4]:.1f} frames/s including the reference set-up); target >= 30"
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the library logs its progress
    main()
