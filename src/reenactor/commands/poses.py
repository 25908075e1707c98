"""``reenactor poses``: pose-sequence files (driving poses without frames)."""

from __future__ import annotations

import argparse

EPILOG = """\
A pose file (.poses.npz) holds a clip's keypoints (BODY_25 body, 68 face points, hands, MediaPipe's raw arrays),
its fps and frame size, and the skeleton: the format is documented in reenactor.pose.posefile.
  reenactor poses export clips/carphone -o talk.poses.npz --start 80
  reenactor render talk.poses.npz -o talk_pose.mp4
  reenactor transfer --method pose_warp --target-image sample:astronaut --driving talk.poses.npz -o out.mp4
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ._args import add_force, add_output, nonneg_int, positive_int

    p = sub.add_parser(
        "poses",
        help="pose-sequence files: export a clip's poses (driving without frames)",
        description="Driving poses without frames, in one documented file format (.poses.npz).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    e = verbs.add_parser(
        "export",
        help="write a clip store's poses to a .poses.npz file",
        description="Write the keypoints of a clip store (frames START..STOP) to a pose file that "
        "`reenactor transfer --driving` and `reenactor render` read.",
    )
    e.add_argument("clip", metavar="CLIP_DIR", help="a clip folder made by `reenactor extract`")
    add_output(e, required=True, metavar="OUT.poses.npz", help="pose file to write (must end in .poses.npz)")
    e.add_argument(
        "--start", type=nonneg_int, default=0, metavar="N", help="first frame, 0 or more (default: 0)"
    )
    e.add_argument(
        "--stop",
        type=positive_int,
        default=None,
        metavar="N",
        help="one past the last frame, 1 or more (default: the clip's end)",
    )
    add_force(e, help="replace an existing output file")
    e.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from ..pose.posefile import SUFFIX, export_clip
    from ._output import check_output_file

    out = check_output_file(args.output, (SUFFIX,), args.force, "pose file")
    seq = export_clip(args.clip, out, args.start, args.stop)
    print(
        f"wrote {out} ({seq.n_frames} frames at {seq.fps:g} fps, {seq.size[1]}x{seq.size[0]} px, "
        f"arrays: {', '.join(sorted(seq.arrays))})"
    )
    return 0
