"""``reenactor train``: train any registered method with the one trainer (single process or torchrun DDP)."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
config: the run config has four sections - `method`, `model` (the method's own settings, see
configs/<method>/*.yaml), `trainer` and `data` (every key documented in configs/trainer.yaml). Precedence:
defaults < --config YAML < command-line flags < --set overrides. Unknown keys are an error. The resolved config
is written to RUN_DIR/config.yaml and into every checkpoint.

data: a per-person method trains on --target (its target person's clips, + --unpaired for some); a reference
method (a general model, given one photo at transfer time) trains on --clips, pairs of frames of one person.

outputs (RUN_DIR, default runs/METHOD-CLIP):
  model.safetensors       the exported generator (EMA weights when trainer.ema > 0) + config + meta
  checkpoints/step_N/     resumable checkpoints (state.pt + model.safetensors), every trainer.checkpoint_every steps
  tb/                     TensorBoard scalars and image grids (tensorboard --logdir RUN_DIR/tb)
  samples/step_N.png      image grids;  config.yaml, run.json  (feature nets used, precision, status)
  clips.json              (--clips runs) the resolved clips and identities; --resume checks they did not change

examples:
  reenactor train --method pix2pix --target clips/me --steps 2000 -o runs/me
  reenactor train --method cloning --target clips/me --unpaired clips/dancer --set trainer.lr=1e-4
  reenactor train --method METHOD --clips clips/people -o runs/general   # reference method: a folder of clip stores
  reenactor train --method METHOD --clips people.txt -o runs/general     # lines `CLIP_PATH [IDENTITY]`
  reenactor train -o runs/me --resume                       # continue exactly where it stopped
  torchrun --nproc_per_node=2 -m reenactor train --method pix2pix --target clips/me   # DDP (gloo on CPU, nccl on GPU)
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..methods import method_names
    from ._args import (
        PRECISION_TRAINING_NOTE,
        add_device,
        add_force,
        add_output,
        add_precision,
        add_progress,
        frame_size,
        positive_float,
        positive_int,
    )

    names = ", ".join(method_names()) or "(none registered)"
    p = sub.add_parser(
        "train",
        help="train a method on clip stores (checkpoints, resume, bf16, TensorBoard, DDP via torchrun)",
        description=f"Train a method on one target person's clip store(s) (per-person methods, --target) or on "
        f"many people's (reference methods, --clips). Methods: {names}.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--method", help=f"method to train (one of: {names}); optional with --resume")
    p.add_argument(
        "--target",
        nargs="+",
        metavar="CLIP",
        help="clip folder(s) of the target person (from `reenactor extract`)",
    )
    p.add_argument(
        "--unpaired",
        nargs="+",
        metavar="CLIP",
        default=None,
        help="clip folder(s) of other people for methods with an unpaired branch (their optical flow "
        "is computed once and cached)",
    )
    p.add_argument(
        "--clips",
        nargs="+",
        metavar="CLIPS",
        default=None,
        help="training data of methods trained on many people (reference methods; per-person methods "
        "take --target): clip folders, folders of clip folders (`reenactor extract VIDEOS_DIR -o "
        "CLIPS_DIR` makes one), or .txt files of `CLIP_PATH [IDENTITY]` lines. A clip's identity "
        "(the person it shows; pairs of frames are drawn within one identity, at most "
        "data.pair_max_distance frames apart) is its folder name unless a list names it",
    )
    p.add_argument(
        "--size",
        type=frame_size,
        default=None,
        metavar="PX",
        help="square frame size the model trains at, at least 16 (sets model.size; default: the "
        "method's, 128)",
    )
    p.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        metavar="N",
        help="optimizer steps, at least 1 (trainer.steps, default 2000)",
    )
    p.add_argument(
        "--budget",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="wall-clock budget of this run in seconds, more than 0 (trainer.max_seconds): it stops "
        "there, saves a checkpoint and exports the model; `--resume` continues it (default: none)",
    )
    add_output(
        p,
        metavar="RUN_DIR",
        help="run folder for checkpoints, logs and the exported model (default runs/METHOD-CLIP); the same "
        "command re-run on its own run folder continues it",
    )
    p.add_argument(
        "--config",
        metavar="YAML",
        default=None,
        help="run config file (sections method/model/trainer/data; see configs/trainer.yaml), or a shipped "
        "one by name: cloning/default, pix2pix/default, upper_body/small, ...",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key, e.g. --set trainer.lr=1e-4 --set model.generator.ngf=32 (repeatable)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in RUN_DIR from its newest checkpoint (exact continuation)",
    )
    add_precision(
        p,
        "autocast precision (trainer.precision; bf16 is ~1.8x faster on a CPU with native bf16)",
        default=None,
        default_text="the config's, fp32",
        note=PRECISION_TRAINING_NOTE,
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="global batch per step, at least 1 (trainer.batch_size, default 4)",
    )
    add_device(
        p,
        what="training device (trainer.device)",
        note="; without --device the config's trainer.device, itself auto unless set; under torchrun each "
        "process takes cuda:LOCAL_RANK",
    )
    add_force(
        p,
        help="write into a RUN_DIR that exists and holds other files (not a run folder); a run folder "
        "is continued (same config) or needs --resume, never replaced",
    )
    add_progress(p)
    p.set_defaults(func=run, resumable=True)


def _is_run_folder(p: Path) -> bool:
    """A folder `reenactor train` made: continued or refused by the trainer itself (reenactor.train.run)."""
    return any(
        (p / n).exists()
        for n in ("config.yaml", "checkpoints", "run.json", "model.safetensors", "clips.json")
    )


def run(args: argparse.Namespace) -> int:
    from ..config import load_yaml, merge
    from ..train.run import run_training
    from ._args import given
    from ._output import check_output_dir

    if args.output is not None:
        check_output_dir(args.output, args.force, what="run folder", own=_is_run_folder)

    data = load_yaml(args.config) if args.config else {}
    flags: dict = {"trainer": {}, "data": {}}
    if args.method:
        flags["method"] = args.method
    if args.target:
        flags["data"]["target"] = args.target
    if args.unpaired:
        flags["data"]["unpaired"] = args.unpaired
    if args.clips:
        flags["data"]["clips"] = args.clips
    if args.steps is not None:
        flags["trainer"]["steps"] = args.steps
    if args.budget is not None:
        flags["trainer"]["max_seconds"] = args.budget
    if args.precision:
        flags["trainer"]["precision"] = args.precision
    if args.batch_size is not None:
        flags["trainer"]["batch_size"] = args.batch_size
    if given(args.device):  # the default (auto) leaves the config's trainer.device as it is
        flags["trainer"]["device"] = args.device
    if args.no_progress:
        flags["trainer"]["progress"] = False
    data = merge(data, flags)
    run_dir = args.output
    if run_dir is None and args.resume and not (args.method and (args.target or args.clips)):
        from ..errors import ConfigError

        raise ConfigError("--resume needs the run folder", fix="pass -o RUN_DIR")
    run_training(data, args.overrides, run_dir=run_dir, resume=args.resume, size=args.size)
    return 0
