"""``reenactor info MODEL``: what a model file is and how it can be used."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        help="describe a model file (method, kind, size, training data, inference options)",
        description="Print a model file's method, kind (per-person / reference / pose-sequence), "
        "frame size, training run and data, stored training poses, the precisions and "
        "inference options `reenactor transfer` accepts for it, and its config.",
    )
    p.add_argument("model", nargs="?", metavar="MODEL", help="model file (RUN_DIR/model.safetensors)")
    p.add_argument(
        "--method",
        help="describe a method's defaults instead of a file (e.g. pose_warp, which needs no training, or "
        "single_shot before you train it)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def format_info(info: dict) -> str:
    """The text ``reenactor info`` prints."""
    import json

    kind_use = {
        "per-person": "draws the person it was trained on: reenactor transfer --model M --driving VIDEO",
        "reference": "animates one photo: reenactor transfer "
        + ("--model M" if info["file"] or info["needs_training"] else f"--method {info['method']}")
        + " --target-image PHOTO --driving VIDEO",
        "pose-sequence": "writes driving poses: reenactor poses generate --model M",
    }
    if info["file"]:
        file = info["file"]
    elif info["needs_training"]:
        file = f"(none: the method's defaults; make a model with reenactor train --method {info['method']})"
    else:
        file = "(none: a method with nothing to train)"
    lines = [
        f"file:        {file}",
        f"method:      {info['method']}",
        f"kind:        {info['kind']} ({kind_use.get(info['kind'], '')})",
        f"frame size:  {info['frame_size']}",
    ]
    tr = info.get("training")
    if tr:
        data = tr.get("data") or {}
        clips = ", ".join(data.get("target") or data.get("clips") or []) or "-"
        lines.append(
            f"training:    {tr.get('steps')} steps, {tr.get('precision')}, EMA {tr.get('ema')}, "
            f"{tr.get('world_size') or 1} process(es) on {tr.get('device')}; clips: {clips}"
        )
    elif info["needs_training"]:
        lines.append(
            "training:    (not recorded)" if info["file"] else "training:    needed (not trained yet)"
        )
    else:
        lines.append("training:    none needed")
    if info["training_poses"]:
        lines.append(
            "train poses: " + ", ".join(f"{k} {tuple(v)}" for k, v in info["training_poses"].items())
        )
    lines.append(f"precisions:  {', '.join(info['precisions'])}")
    if info["inference_options"]:
        for o in info["inference_options"]:
            lines.append(
                f"option:      {o['flag']} (default: {'the model setting' if o['default'] is None else o['default']})"
                f" - {o['help']}"
            )
    else:
        lines.append("options:     (none)")
    for name, c in info["calibrated"].items():
        tried = ", ".join(f"{v} {e:.2f}" for v, e in (c["l1"] or {}).items())
        lines.append(
            f"calibrated:  {name} = {c['value']}, fitted on frames held out of training (mean L1 per value: {tried})"
        )
    lines.append(f"tensors:     {info['tensors']} ({info['parameters']:,} values)")
    lines.append("config:      " + json.dumps(info["config"], sort_keys=True))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import json

    from ..errors import InputError
    from ..modelfile import model_info

    if args.model is None and args.method is None:
        raise InputError(
            "nothing to describe",
            fix="pass a model file (reenactor info RUN_DIR/model.safetensors) or --method NAME",
        )
    info = model_info(args.model, method=args.method)
    print(json.dumps(info, indent=2, default=str) if args.json else format_info(info))
    return 0
