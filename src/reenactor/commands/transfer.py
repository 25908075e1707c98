"""``reenactor transfer``: drive a trained model, or a reference method given one photo, with a driving video
(clip store, or pose file) and write the result video."""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  reenactor transfer --model runs/me/model.safetensors --driving dance.mp4 -o out.mp4 --side-by-side
  reenactor transfer --method pose_warp --target-image sample:astronaut --driving sample:carphone -o out.mp4
  reenactor transfer --method pose_warp --target-image clips/me:80 --driving walk.poses.npz -o out.mp4
  reenactor transfer --model runs/me/model.safetensors --driving face.jpg --body target -o face.mp4

the model's kind decides what it needs (see `reenactor info MODEL`): a per-person model (cloning, pix2pix,
nearest_neighbor, upper_body) draws the person it was trained on; a reference method (pose_warp) animates the
photo given with --target-image.
"""


def add_parser(sub: argparse._SubParsersAction, detailed: bool = True) -> None:
    from ._args import (
        add_device,
        add_force,
        add_normalization,
        add_output,
        add_precision,
        add_progress,
        frame_size,
        positive_int,
    )

    p = sub.add_parser(
        "transfer",
        help="make the target perform a driving video's motion (writes an mp4)",
        description="Streaming motion transfer: read the driving poses (a video's are extracted with MediaPipe "
        "Holistic; a clip store's or a pose file's are used as they are), normalize them onto the "
        "target (the fitted normalizer is saved next to the output as OUT.normalizer.json), render "
        "every frame with the model and encode. Memory stays flat with the video's length.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model",
        help="exported model file (RUN_DIR/model.safetensors from `reenactor train`); leave "
        "out for a method with nothing to train (--method pose_warp)",
    )
    p.add_argument(
        "--method",
        help="with --model: expect a model of this method; without: run this method, which "
        "must have nothing to train (pose_warp)",
    )
    p.add_argument(
        "--target-image",
        metavar="PHOTO",
        help="reference methods: the target, as a photo (or sample:astronaut), CLIP_DIR:INDEX (a frame of "
        "a clip store) or VIDEO:INDEX (a frame of a video)",
    )
    p.add_argument(
        "--driving",
        required=True,
        help="driving video or image, a clip folder from `reenactor extract`, a pose file (.poses.npz from "
        "`reenactor poses export`), or a sample name (sample:carphone)",
    )
    add_output(
        p, required=True, metavar="OUT.mp4", help="output video path (.mp4; reenactor writes mp4 only)"
    )
    p.add_argument(
        "--side-by-side",
        action="store_true",
        help="write driving | pose | result side by side (pose: the generator's input as drawn, e.g. "
        "upper_body's generated face landmarks over its stick figure; a pose file's driving panel is its "
        "drawn pose)",
    )
    p.add_argument(
        "--background",
        metavar="WHAT",
        help="reference methods: what the person is composited over: target (the photo's own scene, the "
        "person inpainted away; default), driving (the driving frames as they are), an image file, or "
        "a colour #rrggbb",
    )
    add_normalization(
        p,
        help="how driving poses are moved onto the target. Per-person models: auto picks edn when "
        "feet are visible, else edn_upper. A reference: auto = first_frame (the first driving "
        "frame's torso onto the photo's, then the motion as it is), edn_upper (the driver's "
        "median torso size and neck onto the photo's), global_alignment (person-mask height and "
        "centre, REMOT eq. 4). none: as they are (default: auto)",
    )
    p.add_argument(
        "--normalizer",
        metavar="JSON",
        help="reuse a saved normalizer (the .normalizer.json a previous transfer wrote) instead of fitting one",
    )
    p.add_argument(
        "--size",
        type=frame_size,
        metavar="PX",
        help="a method with nothing to train (--method pose_warp): square output size in pixels, at least "
        "16 (default: the method's, 256); a model file renders at the size it was trained at",
    )
    # resolved when parsed: `auto` reaches the library as cuda or cpu
    add_device(p, what="torch device of the generator", resolve_when_parsed=True)
    add_precision(
        p,
        "generator precision (cloning and pix2pix declare bf16: autocast, faster on CPUs with "
        "AVX512-BF16/AMX)",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=8,
        metavar="N",
        help="frames generated per forward pass when the method allows it, at least 1 (default: 8)",
    )
    p.add_argument(
        "--max-frames", type=positive_int, metavar="N", help="stop after this many driving frames, at least 1"
    )
    p.add_argument(
        "--body",
        default="driver",
        choices=["driver", "target"],
        help="driver: the driving body poses, normalized onto the target (default); target (per-person "
        "models): the target's own training poses stored in the model, in order and looped, so the "
        "driver gives only what the method reads beyond keypoints (upper_body: the face's "
        "expression and head pose)",
    )
    p.add_argument(
        "--hold",
        type=positive_int,
        metavar="N",
        help="a photo as the driver: repeat it for N frames (default: with --body target one pass over the "
        "target's training poses, at most 120 frames; else 1). Ignored for a video",
    )
    p.add_argument(
        "--audio",
        choices=["driving", "none"],
        default=None,
        help="the result's sound. driving: the driving video's soundtrack, in sync and trimmed to the "
        "frames rendered (AAC/MP3 copied as they are, other codecs re-encoded to AAC); a driver "
        "without sound, and a clip store, pose file or photo, give a silent result. none: a silent "
        "result (default: driving)",
    )
    from .people import add_person

    add_person(p, what="only for a driving video (a clip store or pose file holds one person already)")
    add_force(p, help="replace an existing output file")
    add_progress(p)
    if detailed:
        add_method_options(p)
    p.set_defaults(func=run)


def add_method_options(p: argparse.ArgumentParser) -> None:
    """One flag per inference option the registered methods declare (``Method.inference_options``); a boolean
    option gets ``--NAME`` and ``--no-NAME``."""
    from ..methods import get_method, method_names

    seen: dict[str, list[str]] = {}
    opts = {}
    for name in method_names():
        for o in get_method(name).inference_options:
            seen.setdefault(o.name, []).append(name)
            opts.setdefault(o.name, o)
    if not opts:
        return
    g = p.add_argument_group(
        "method options", "declared by the methods; a method without the option ignores it (with a note)"
    )
    for key, o in opts.items():
        who = ", ".join(seen[key])
        if o.type is bool:
            g.add_argument(
                o.flag,
                dest=f"opt_{key}",
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{who}: {o.help}",
            )
        else:
            g.add_argument(o.flag, dest=f"opt_{key}", type=o.type, default=None, help=f"{who}: {o.help}")


def _silent_driver(driving: str) -> str | None:
    """What kind of soundless driver ``driving`` is (a clip store, a pose file, a photo), or None for a video
    (or a path that does not exist: the run itself reports that)."""
    from ..errors import InputError
    from ..io.video import is_image_path
    from ..pose.posefile import is_pose_file
    from ..samples import resolve_input

    try:
        p = resolve_input(str(driving))
    except InputError:  # an unknown sample name: the run itself reports it
        return None
    if p.is_dir():
        return "a clip store"
    if is_pose_file(p):
        return "a pose file"
    return "a photo" if is_image_path(p) and p.exists() else None


def run(args: argparse.Namespace) -> int:
    from ..transfer import TransferOptions, transfer
    from ._output import check_output_file

    check_output_file(args.output, (".mp4",), args.force)
    method_options = {k[4:]: v for k, v in vars(args).items() if k.startswith("opt_") and v is not None}
    opts = TransferOptions(
        side_by_side=args.side_by_side,
        normalization=args.normalization,
        normalizer=args.normalizer,
        device=args.device,
        precision=args.precision,
        batch_size=args.batch_size,
        max_frames=args.max_frames,
        size=args.size,
        progress=not args.no_progress,
        body=args.body,
        hold=args.hold,
        method=args.method,
        target_image=args.target_image,
        background=args.background,
        method_options=method_options,
        audio=args.audio or "driving",
        person=args.person,
        force=args.force,
    )
    if args.audio == "driving" and (kind := _silent_driver(args.driving)):
        print(f"note: --audio driving: {args.driving} is {kind}, which has no sound; the result is silent")
    res = transfer(args.model, args.driving, args.output, opts)
    print(
        f"wrote {res.out_path} ({res.n_frames} frames at {res.fps:g} fps; rendering ran at "
        f"{res.render_fps:.1f} frames/s)"
    )
    if res.normalizer_path:
        print(f"normalizer ({res.normalizer}) saved to {res.normalizer_path}")
    return 0
