"""``reenactor render CLIP_DIR -o pose.mp4``: draw a clip store's poses as a video; with ``--layout`` or
``--densepose`` its body-part layout or dense-pose substitute (from ``reenactor layout CLIP_DIR``)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ._args import add_force, add_min_confidence, add_output, add_progress

    p = sub.add_parser(
        "render",
        help="draw a clip's poses (stick figure, overlay, label map), layout or dense pose to an mp4",
        description="Render the keypoints stored in CLIP_DIR with the same drawing code that "
        "training and transfer use: OpenPose-coloured BODY_25 stick figure, white "
        "face contours, hands in per-finger colours. Writes H.264 mp4 at the clip's fps.",
    )
    p.add_argument(
        "clip",
        metavar="CLIP_DIR",
        help="a clip folder made by `reenactor extract`, or a pose file "
        "(.poses.npz: stick figure or labels only, it holds no frames)",
    )
    add_output(
        p, required=True, metavar="OUT.mp4", help="output video path (.mp4; reenactor writes mp4 only)"
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument("--overlay", action="store_true", help="draw the pose over the clip's frames")
    g.add_argument("--side-by-side", action="store_true", help="frame | frame with pose overlay")
    g.add_argument(
        "--labels", action="store_true", help="the part label map (one colour per limb/contour/finger)"
    )
    g.add_argument(
        "--layout",
        action="store_true",
        help="the clip's body-part layout: frame | palette overlay | label map (run `reenactor layout` first)",
    )
    g.add_argument(
        "--densepose",
        action="store_true",
        help="the clip's dense-pose substitute: part index I in colour | U | V (run `reenactor layout` first)",
    )
    add_min_confidence(
        p,
        default=0.05,
        hidden_aliases=("--thresh",),
        help="keypoints with confidence at or below this are not drawn",
    )
    add_force(p, help="replace an existing output file")
    add_progress(p, help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data.clipstore import ClipStore
    from ..pose.posefile import is_pose_file, load_poses
    from ..pose.render import write_pose_video
    from ._output import check_output_file

    check_output_file(args.output, (".mp4",), args.force)
    clip = load_poses(args.clip) if is_pose_file(args.clip) else ClipStore.open(args.clip)
    styles = ("overlay", "side_by_side", "labels", "layout", "densepose")  # one flag each, named as the style
    style = next((st for st in styles if getattr(args, st)), "pose")
    n = write_pose_video(
        clip, args.output, style=style, thresh=args.min_confidence, progress=not args.no_progress
    )
    print(f"wrote {args.output} ({n} frames, {style})")
    return 0
