"""``reenactor train`` as a library call: resolve the run config, open the clips, build the method and its
dataset, and hand them to the :class:`~reenactor.train.trainer.Trainer` (single process or torchrun/DDP)."""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

from ..config import from_dict, load_yaml, merge, method_defaults, to_dict
from ..data.clips import LIST_SUFFIXES
from ..errors import ConfigError
from ..methods.base import PER_PERSON, POSE_SEQUENCE, REFERENCE
from .config import RunConfig, build_run_config, method_config

logger = logging.getLogger(__name__)

#: the resolved clip list of a many-clip run, kept in the run folder so that --resume trains on the same clips
CLIPS_FILE = "clips.json"

#: trainer keys that may change on --resume without breaking the exact continuation
RESUME_FREE_KEYS = {
    "steps",
    "max_seconds",
    "log_every",
    "image_every",
    "checkpoint_every",
    "keep_checkpoints",
    "progress",
    "tensorboard",
    "num_workers",
    "compile",
    "compile_mode",
    "channels_last",
    "device",
}


def default_run_dir(cfg: RunConfig) -> Path:
    """``runs/METHOD-NAME``: NAME is the first target clip's folder name, or for a many-clip run the first
    ``data.clips`` entry's name (a clip folder, a folder of clips, or a clip list without its suffix)."""
    if cfg.data.target:
        name = Path(cfg.data.target[0]).name
    elif cfg.data.clips:
        first = Path(cfg.data.clips[0])
        name = (first.stem if first.suffix.lower() in LIST_SUFFIXES else first.name) or "clips"
    else:
        name = "run"
    return Path("runs") / f"{cfg.method}-{name}"


def check_data(cfg: RunConfig, cls: type) -> None:
    """The data a method of ``cls.kind`` trains on must be given, and only that: ``data.target`` (+
    ``data.unpaired``) for a per-person method, ``data.clips`` for a method trained on many people (reference
    and pose-sequence methods). One :class:`ConfigError` naming the flag and the fix otherwise."""
    name, kind = cfg.method, cls.kind
    if kind == REFERENCE and not cls.needs_training:
        raise ConfigError(
            f"method {name!r} has nothing to train: it works on one photo of the target, given at "
            "transfer time",
            fix=f"reenactor transfer --method {name} --target-image PHOTO --driving VIDEO -o out.mp4",
        )
    if kind == PER_PERSON:
        if cfg.data.clips:
            raise ConfigError(
                f"--clips (data.clips) is for methods trained on many people; {name!r} is a "
                "per-person method, trained on the target person's own clips",
                fix="pass the target's clip folder(s) with --target CLIP_DIR instead of --clips",
            )
        if not cfg.data.target:
            raise ConfigError(
                "no target clip given", fix="pass --target CLIP_DIR (made by `reenactor extract`)"
            )
        return
    # A many-clip method is refused --target rather than taking it as clips: --target names the one person a
    # per-person model learns to render, which a general model has no notion of; silently reading it as
    # training clips would give `--target` two meanings and train a "general" model on one person unnoticed.
    wrong = [
        flag
        for flag, given in (
            ("--target (data.target)", cfg.data.target),
            ("--unpaired (data.unpaired)", cfg.data.unpaired),
        )
        if given
    ]
    if wrong:
        raise ConfigError(
            f"{' and '.join(wrong)} do{'es' * (len(wrong) == 1)} not apply to {name!r}, a {kind} "
            "method trained on many people's clips (the target photo is given at transfer time)",
            fix="pass the training clips with --clips CLIP_DIR|CLIPS_FOLDER|LIST.txt (one person's "
            "clip works too: --clips CLIP_DIR)",
        )
    if not cfg.data.clips and kind == POSE_SEQUENCE:
        raise ConfigError(
            f"no action data given for {name!r}, a {kind} method",
            fix="pass --clips ACTIONS_DIR: a folder with one sub-folder per action name holding .poses.npz "
            "files or clip stores (see reenactor.data.actions)",
        )
    if not cfg.data.clips:
        raise ConfigError(
            f"no training clips given for {name!r}, a {kind} method trained on many people",
            fix="pass --clips CLIP_DIR ..., a folder of clip stores (`reenactor extract VIDEOS_DIR "
            "-o CLIPS_DIR` makes one) or a .txt list of `CLIP_PATH [IDENTITY]` lines",
        )


def _resolve(
    data: dict[str, Any], overrides: list[str], cls: type | None, size: int | None
) -> tuple[RunConfig, type, Any]:
    from ..methods import get_method

    cfg = build_run_config(data, overrides)
    if not cfg.method:
        raise ConfigError("no method given", fix="pass --method NAME (see `reenactor train --help`)")
    cls = cls or get_method(cfg.method)
    if size is not None:
        if "size" not in {f.name for f in dataclasses.fields(cls.Config)}:
            raise ConfigError(f"method {cfg.method!r} has no `size` setting, so --size does not apply")
        cfg.model = {**cfg.model, "size": size}
    model_cfg = method_config(cls, cfg.model)
    cls.check_config(model_cfg)
    cfg.model = to_dict(model_cfg)
    return cfg, cls, model_cfg


def run_training(
    data: dict[str, Any],
    overrides: list[str] | None = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    size: int | None = None,
    method_cls: type | None = None,
    callbacks: list | None = None,
) -> Path | None:
    """Train a method from a run-config mapping (YAML + flags) and ``--set`` overrides; returns the exported
    model path (rank 0; None on other ranks). ``method_cls`` bypasses the registry (tests)."""
    import torch

    from ..data.clipstore import ClipStore
    from .trainer import Trainer, init_distributed, seed_everything

    overrides = list(overrides or [])
    saved: dict[str, Any] | None = None
    if resume and run_dir is not None and (Path(run_dir) / "config.yaml").exists():
        saved = load_yaml(Path(run_dir) / "config.yaml")
        data = merge(saved, _given(data))
    if saved is None and data.get("method"):
        # defaults < the method's shipped configs/<method>/default.yaml < --config < flags < --set
        defaults = method_defaults(data["method"])
        if defaults:
            data = merge(defaults, data)
            if os.environ.get("RANK", "0") == "0":
                logger.info(f"[train] starting from the shipped configs/{data['method']}/default.yaml")
    cfg, cls, model_cfg = _resolve(data, overrides, method_cls, size)
    if run_dir is None:
        run_dir = default_run_dir(cfg)
        if resume and saved is None and (run_dir / "config.yaml").exists():
            saved = load_yaml(run_dir / "config.yaml")
            cfg, cls, model_cfg = _resolve(merge(saved, _given(data)), overrides, method_cls, size)
    run_dir = Path(run_dir)
    from .checkpoint import latest_checkpoint

    has_ckpt = latest_checkpoint(run_dir) is not None
    if saved is not None:
        _check_resume_compatible(from_dict(RunConfig, saved), cfg, run_dir / "config.yaml", cls)
    elif not resume and has_ckpt:
        # the same command re-run on its own folder continues it; only a changed config needs --resume
        on_disk = load_yaml(run_dir / "config.yaml") if (run_dir / "config.yaml").exists() else None
        if on_disk is None or not _same_run(from_dict(RunConfig, on_disk), cfg, cls):
            raise ConfigError(
                "this run folder already holds a training run with another config",
                run_dir,
                "pass --resume to continue it with its saved config, or -o NEW_DIR to start a new one",
            )
        resume = True
        logger.info(f"[train] {run_dir} holds this run (same config): continuing from its newest checkpoint")
    check_data(cfg, cls)

    dist = init_distributed(cfg.trainer.device)
    main = dist.is_main
    try:
        if main:
            logger.info(
                f"[train] method {cfg.method}, run folder {run_dir}, {dist.world} process(es)"
                f"{' (' + dist.backend + ')' if dist.backend else ''}, precision {cfg.trainer.precision}"
            )
            if resume and not has_ckpt:
                logger.info("[train] --resume: no checkpoint in the run folder yet, starting from step 0")
        if cls.kind == PER_PERSON:
            targets = [ClipStore.open(p) for p in cfg.data.target]
            _make_clip_stages(cls, targets, dist)
            unpaired = [ClipStore.open(p) for p in cfg.data.unpaired]
            if unpaired and cfg.data.flow:
                from ..data.flow import add_flow_stage

                if main:
                    for c in unpaired:
                        add_flow_stage(c)
                dist.barrier()
                unpaired = [ClipStore.open(p) for p in cfg.data.unpaired]
            seed_everything(cfg.trainer.seed)
            method = cls(model_cfg)
            dataset = method.build_dataset(targets, unpaired or None)
        elif cls.kind == POSE_SEQUENCE:
            # pose-sequence methods train on action data: data.clips names folders of action folders
            # (reenactor.data.actions), not clip stores of people
            from ..data.actions import open_actions

            actions = open_actions(cfg.data.clips, log=logger.info if main else lambda *_: None)
            if main:
                logger.info(f"[train] data: {actions.describe()}")
            seed_everything(cfg.trainer.seed)
            method = cls(model_cfg)
            dataset = method.build_dataset(actions)
        else:
            from ..data.clips import describe, open_clips
            from ..data.pairs import PairOptions

            clips = open_clips(cfg.data.clips, log=logger.info if main else lambda *_: None)
            if main:
                logger.info(f"[train] data: {describe(clips)}")
                _record_clips(run_dir, clips, check=has_ckpt)
            dist.barrier()
            _make_clip_stages(cls, [c.store for c in clips], dist)
            seed_everything(cfg.trainer.seed)
            method = cls(model_cfg)
            # many-clip methods get the clips with their identities, and how the run pairs their frames
            # (data.pair_*; reenactor.data.pairs.FramePairs draws the pairs)
            dataset = method.build_dataset(
                clips,
                pairs=PairOptions(cfg.data.pair_max_distance, cfg.data.pair_across_clips, cfg.data.holdout),
            )
            held = getattr(dataset, "heldout", None)
            if main and held:
                n = sum(b.stop - b.start for b in held)
                logger.info(
                    f"[train] data.holdout {cfg.data.holdout}: {n} frames (the last of {len(held)} clip(s)) kept out "
                    "of training, to fit the model's calibrated inference options on after it"
                )
        full = None
        if cls.kind == REFERENCE and getattr(dataset, "heldout", None) and cfg.data.holdout_until < 1:
            # the same pairs without held-out frames, for the rest of the run once they have been calibrated on
            full = method.build_dataset(
                clips, pairs=PairOptions(cfg.data.pair_max_distance, cfg.data.pair_across_clips, 0)
            )
        trainer = Trainer(method, cfg, run_dir, dist=dist, callbacks=callbacks)
        path = trainer.fit(dataset, resume=resume, full_dataset=full)
        if main and path is not None:
            logger.info(f"[train] done: {trainer.step} steps; model -> {path}")
        return path
    finally:
        if dist.distributed and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _make_clip_stages(cls: type, stores: list, dist) -> None:
    """Make the clip-store stages ``cls`` declares (:attr:`Method.clip_stages`) where a training clip lacks
    them (:func:`reenactor.train.stages.ensure_clip_stages`): rank 0 writes, every rank then re-reads the
    manifests."""
    if not cls.clip_stages:
        return
    from ..data.clipstore import ClipStore
    from .stages import ensure_clip_stages

    if dist.is_main:
        ensure_clip_stages(stores, cls.clip_stages)
    dist.barrier()
    for s in stores:
        s.manifest = ClipStore.open(s.root).manifest


def _record_clips(run_dir: Path, clips: list, check: bool) -> None:
    """Write ``RUN_DIR/clips.json`` (each clip's resolved path, identity and frame count). With ``check`` (a
    resumed run with checkpoints) the clips must be those the run started with: a folder of clips or a clip
    list that changed since would silently change the data (and the pairs) of the continuation."""
    import json

    from ..io.atomic import write_json

    record = [
        {"path": str(c.path.resolve()), "identity": c.identity, "frames": c.store.n_frames} for c in clips
    ]
    path = run_dir / CLIPS_FILE
    if check and path.exists():
        try:
            before = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            before = None
        if before is not None and before != record:
            old = {r["path"] for r in before}
            new = {r["path"] for r in record}
            what = (
                f"{len(new - old)} added, {len(old - new)} gone"
                if old != new
                else "identities or frame counts differ"
            )
            raise ConfigError(
                f"the clips named by data.clips changed since the run started ({what})",
                path,
                "restore the original clips (the file lists them) or start a new run folder (-o NEW_DIR)",
            )
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(path, record)


def _given(data: dict[str, Any]) -> dict[str, Any]:
    """Drop empty CLI-derived entries so they do not replace the saved run's values on --resume."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict):
            sub = _given(v)
            if sub:
                out[k] = sub
        elif v not in (None, [], ""):
            out[k] = v
    return out


def _same_run(saved: RunConfig, new: RunConfig, cls: type | None) -> bool:
    """Whether ``new`` is the run ``saved`` describes (method, data, model and trainer alike; the trainer keys
    that may change on a resume aside)."""
    if saved.method != new.method or to_dict(saved.data) != to_dict(new.data):
        return False
    sm = to_dict(method_config(cls, saved.model)) if cls is not None else saved.model
    if sm != new.model:
        return False
    st, nt = to_dict(saved.trainer), to_dict(new.trainer)
    return all(st[k] == nt[k] for k in st if k not in RESUME_FREE_KEYS)


def _check_resume_compatible(saved: RunConfig, new: RunConfig, path: Path, cls: type | None = None) -> None:
    """Refuse a --resume whose method, data or model config differs from the saved run's. With the method class
    ``cls``, the saved model section is completed with the method's defaults first, so a key added by a later
    version of reenactor (at its default) does not block resuming a run started before it existed."""
    if saved.method != new.method:
        raise ConfigError(
            f"the run was started with method {saved.method!r}, not {new.method!r}",
            path,
            "drop --method or start a new run folder (-o NEW_DIR)",
        )
    if to_dict(saved.data) != to_dict(new.data):
        raise ConfigError(
            "--resume with different data (clips) than the run was started with",
            path,
            "use the original --target/--unpaired/--clips data or start a new run folder",
        )
    sm, nm = saved.model, new.model
    if cls is not None:
        sm = to_dict(method_config(cls, sm))
    changed = sorted(k for k in set(sm) | set(nm) if sm.get(k) != nm.get(k))
    if changed:
        raise ConfigError(
            f"--resume with a different model config (model.{', model.'.join(changed)})",
            path,
            "drop those overrides or start a new run folder (-o NEW_DIR)",
        )
    st, nt = to_dict(saved.trainer), to_dict(new.trainer)
    diff = sorted(k for k in st if st[k] != nt[k] and k not in RESUME_FREE_KEYS)
    if diff:
        logger.info(
            f"[train] note: resuming with changed trainer keys ({', '.join(diff)}): the run continues but is "
            "no longer an exact continuation"
        )
