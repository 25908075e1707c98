"""``reenactor poses``: pose-sequence files (driving poses without frames)."""

from __future__ import annotations

import argparse

EPILOG = """\
A pose file (.poses.npz) holds a clip's keypoints (BODY_25 body, 68 face points, hands, MediaPipe's raw arrays),
its fps and frame size, and the skeleton: the format is documented in reenactor.pose.posefile.
  reenactor poses export clips/carphone -o talk.poses.npz --start 80
  reenactor render talk.poses.npz -o talk_pose.mp4
  reenactor poses generate --model runs/psgan/model.safetensors --action wave --from sample:astronaut \
      --frames 32 -o wave.poses.npz
  reenactor transfer --method pose_warp --target-image sample:astronaut --driving talk.poses.npz -o out.mp4
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..pose.smoothing import METHODS as SMOOTHING_METHODS
    from ._args import add_device, add_force, add_output, add_progress, nonneg_int, positive_int
    from .benchmark import PSGAN_PER_ACTION as PER_ACTION

    p = sub.add_parser(
        "poses",
        help="pose-sequence files: export a clip's poses, or generate an action's (driving without frames)",
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

    a = verbs.add_parser(
        "actions",
        help="write procedural action data (a folder per action of pose files) to train psgan on",
        description="Write PROCEDURAL action sequences (wave, raise, clap, nod, bend, jump) animated from real "
        "rest poses: a folder per action of .poses.npz files plus ACTIONS.json, the layout "
        "`reenactor train --method psgan --clips DIR` reads. No action dataset ships offline; with your own "
        "data, make the same layout from your videos (a folder per action name of clips or pose files).",
    )
    a.add_argument(
        "--from",
        dest="sources",
        nargs="+",
        required=True,
        metavar="SOURCE",
        help="where the rest poses come from: clip folders (4 frames spread over each), CLIP_DIR:INDEX, "
        "photos or sample:astronaut / sample:hopper",
    )
    add_output(a, required=True, metavar="DIR", help="folder to write (must not exist unless --force)")
    a.add_argument(
        "--per-action",
        type=positive_int,
        default=PER_ACTION,
        metavar="N",
        help=f"samples per action (default: {PER_ACTION}; on `reenactor benchmark psgan`'s held-out poses 128 "
        "gave a keypoint error of 4.3 px against 5.4 px with 32)",
    )
    a.add_argument(
        "--frames", type=positive_int, default=32, metavar="N", help="poses per sample (default: 32)"
    )
    a.add_argument("--seed", type=nonneg_int, default=0, help="variation seed (default: 0)")
    a.add_argument(
        "--expressions",
        action="store_true",
        help="write the six CK+ facial expressions (happy, surprise, sad, angry, disgust, fear: the body "
        "held, the 68 face points ramped neutral -> apex, framed as measured) instead of the body actions; "
        "train the expression variant on them with `reenactor train --method psgan --config psgan/face`",
    )
    a.add_argument(
        "--size",
        type=positive_int,
        default=128,
        metavar="PX",
        help="frame size photos are measured at (default: 128)",
    )
    add_force(a, help="replace an existing folder")
    add_progress(a)
    a.set_defaults(func=run_actions)

    g = verbs.add_parser(
        "generate",
        help="generate a pose sequence of an action from one pose (a pose-sequence model such as psgan)",
        description="From one photo or clip frame and an action name, generate a pose sequence with a "
        "pose-sequence model (`reenactor train --method psgan --clips ACTIONS_DIR`) and write it as a pose "
        "file that `reenactor render` draws and `reenactor transfer --driving` follows.",
    )
    g.add_argument(
        "--model", required=True, metavar="MODEL", help="a pose-sequence model file (model.safetensors)"
    )
    g.add_argument("--action", required=True, metavar="NAME", help="action name the model was trained on")
    g.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="PHOTO|CLIP:INDEX",
        help="the first pose: a photo (or sample:astronaut), CLIP_DIR:INDEX or VIDEO:INDEX",
    )
    g.add_argument(
        "--frames", type=positive_int, default=32, metavar="N", help="poses to write (default: 32)"
    )
    g.add_argument(
        "--smooth",
        choices=SMOOTHING_METHODS,
        default=None,
        help="filter the generated points along time: none, savgol (Savitzky-Golay over 7 frames, no lag) or "
        "one_euro (the extraction's filters; each frame decodes from its own heatmaps, so still joints can "
        "wobble a pixel or two) (default: the model's model.smooth, none as shipped)",
    )
    add_output(g, required=True, metavar="OUT.poses.npz", help="pose file to write (must end in .poses.npz)")
    add_device(g)
    add_force(g, help="replace an existing output file")
    g.set_defaults(func=run_generate)


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


def run_generate(args: argparse.Namespace) -> int:
    from ..devices import resolve_device
    from ..pose.posefile import SUFFIX
    from ._output import check_output_file

    out = check_output_file(args.output, (SUFFIX,), args.force, "pose file")
    seq, procedural = generate_pose_file(
        args.model, args.source, args.action, args.frames, out, resolve_device(args.device), args.smooth
    )
    tag = " (trained on procedural action data)" if procedural else ""
    print(
        f"wrote {out} ({seq.n_frames} poses of {args.action!r} at {seq.fps:g} fps, {seq.size[1]}x{seq.size[0]} px"
        f"{tag})"
    )
    return 0


def generate_pose_file(
    model_path, source: str, action: str, frames: int, out, device: str = "cpu", smooth: str | None = None
):
    """``reenactor poses generate`` as a function: a pose-sequence model, the first pose from ``source`` (a
    photo, ``sample:NAME``, ``CLIP_DIR:INDEX`` or ``VIDEO:INDEX``) and an action -> ``out`` (.poses.npz);
    ``smooth``: the temporal filter of the points (None: the model's). Returns (the :class:`PoseSequence`,
    whether the model was trained on procedural data)."""
    from ..errors import InputError
    from ..methods.base import POSE_SEQUENCE
    from ..modelfile import open_model
    from ..pose.posefile import PoseSequence, save_poses
    from ..reference import load_reference

    model = open_model(model_path, device=device)
    if model.kind != POSE_SEQUENCE:
        raise InputError(
            f"method {model.method} is a {model.kind} model (it renders frames); `poses generate` needs a "
            "pose-sequence model",
            model.name,
            "pass a model trained with `reenactor train --method psgan --clips ACTIONS_DIR`, then drive "
            f"{model.method} with the pose file it writes (`reenactor transfer --driving OUT.poses.npz`)",
        )
    gen = model.synthesizer
    if action not in gen.actions:
        raise InputError(
            f"unknown action {action!r}; this model knows: {', '.join(gen.actions) or '(none)'}",
            model.name,
            "pass --action with one of those names",
        )
    ref = load_reference(source, max(gen.size))
    kp = ref.keypoints
    arrays = gen.generate(
        {"body": kp["body"], "face": kp.get("face")}, ref.size, action, frames, smooth=smooth
    )
    procedural = bool(model.meta.get("procedural"))
    tag = " (trained on procedural action data)" if procedural else ""
    seq = PoseSequence(
        arrays, gen.fps, ref.size, f"{model.method} {model.name}: action {action!r} from {source}{tag}"
    )
    save_poses(out, seq)
    return seq, procedural


def run_actions(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    from ..data.clipstore import ClipStore
    from ..errors import InputError
    from ..reference import load_reference
    from ..synthetic.actions import (
        EXPRESSIONS,
        rest_pose_from_reference,
        rest_poses_from_clip,
        write_action_data,
    )

    out = Path(args.output)
    if out.exists() and any(out.iterdir()) and not args.force:
        raise InputError("output folder exists and is not empty", out, "choose another -o, or pass --force")
    rests = []
    for src in args.sources:
        if ClipStore.is_clip(src):
            rests += rest_poses_from_clip(ClipStore.open(src))
        else:  # a photo, sample:NAME, CLIP_DIR:INDEX or VIDEO:INDEX
            rests.append(rest_pose_from_reference(load_reference(src, args.size)))
    if not rests:
        raise InputError(
            "no usable rest pose (a seen neck and both shoulders) in the sources",
            ", ".join(args.sources),
            "pass a clip or photo where the upper body is visible",
        )
    kw: dict = {}
    if args.expressions:
        faceless = [r.source for r in rests if r.face is None]
        if faceless:
            raise InputError(
                "no face points in the rest pose(s) of " + ", ".join(faceless),
                fix="pass clips or photos where the face is found",
            )
        kw = {"actions": tuple(EXPRESSIONS), "zoom": 1.0}
    # written under a temporary name and renamed: a killed command leaves no half-written folder
    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    write_action_data(
        tmp,
        rests,
        per_action=args.per_action,
        frames=args.frames,
        seed=args.seed,
        progress=not args.no_progress,
        **kw,
    )
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    tmp.rename(out)
    what, config = ("expressions", " --config psgan/face") if args.expressions else ("actions", "")
    print(
        f"wrote {out}: procedural {what} from {len(rests)} rest pose(s), {args.per_action} samples x "
        f"{args.frames} poses per {what[:-1]}; train with `reenactor train --method psgan{config} --clips {out}`"
    )
    return 0
