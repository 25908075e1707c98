"""The model file: what ``reenactor train`` exports and what transfer, evaluate, info and the benchmarks load.

ONE safetensors file holds the generator weights (and any tensor the method's inference needs, such as the
training poses under ``train_pose.*``) plus metadata strings ``format``, ``method``, ``config`` (the method's
model config as JSON), ``meta`` (the method's JSON meta: skeleton, frame size, normalization statistics, ...)
and ``run`` (how it was trained: steps, precision, EMA, feature nets, data). :func:`save_model` writes it
atomically; :func:`load_model` reads it back with one clear :class:`~reenactor.errors.CheckpointError` for a
missing, corrupt, foreign or other-method file.

:func:`open_model` is the one loader of an *inference* model: a model file, or a method with nothing to train
(``pose_warp``) by name, rebuilt into an :class:`InferenceModel` (method class, kind, config, synthesizer with
its precision and declared inference options, stored training poses). :func:`model_info` describes a file for
``reenactor info``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import CheckpointError, InputError
from .io.atomic import atomic_path, json_default

FORMAT = "reenactor-model"
FORMAT_VERSION = "1"


@dataclass
class LoadedModel:
    """Contents of an exported model file. ``config`` is the method's model config as a plain dict (build the
    typed one with ``reenactor.config.from_dict(MethodClass.Config, config)``)."""

    method: str
    config: dict[str, Any]
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]
    run: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def _json(obj: Any, what: str) -> str:
    try:
        return json.dumps(obj, sort_keys=False, default=json_default)
    except TypeError as e:
        raise CheckpointError(f"model {what} is not JSON-serialisable ({e})") from None


def save_model(
    path: str | Path,
    method_name: str,
    config_dict: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    meta: dict[str, Any] | None = None,
    run: dict[str, Any] | None = None,
) -> Path:
    """Write ONE safetensors file: ``tensors`` (moved to CPU, made contiguous, shared storage copied) and the
    metadata ``method``, ``config``, ``meta``, ``run`` as JSON strings. Atomic (temporary name + rename)."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise CheckpointError("a model file must end in .safetensors", path)
    clean: dict[str, torch.Tensor] = {}
    for k, v in tensors.items():
        if not isinstance(v, torch.Tensor):
            raise CheckpointError(f"model tensor {k!r} is a {type(v).__name__}, not a tensor")
        clean[k] = v.detach().to("cpu").contiguous().clone()
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "method": method_name,
        "config": _json(config_dict, "config"),
        "meta": _json(meta or {}, "meta"),
        "run": _json(run or {}, "run info"),
    }
    with atomic_path(path) as tmp:
        save_file(clean, str(tmp), metadata=metadata)
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    """The raw metadata strings of a model file (cheap: tensors are not read)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise CheckpointError(
            "model file not found", path, "pass RUN_DIR/model.safetensors written by `reenactor train`"
        )
    if path.is_dir():
        cand = path / "model.safetensors"
        if cand.exists():
            return read_metadata(cand)
        raise CheckpointError("is a folder without model.safetensors", path, "pass the model file itself")
    try:
        with safe_open(str(path), framework="pt") as f:
            md = f.metadata() or {}
    except Exception as e:  # noqa: BLE001 - any read failure means a corrupt/foreign file
        raise CheckpointError(
            f"not a readable safetensors model file ({type(e).__name__}: {e})",
            path,
            "re-export it with `reenactor train` (the file may be truncated)",
        ) from None
    if md.get("format") != FORMAT:
        raise CheckpointError(
            "not a reenactor model file (no reenactor metadata)",
            path,
            "pass a model written by `reenactor train`",
        )
    return md


def load_model(
    path: str | Path, expect_method: str | None = None, device: torch.device | str = "cpu"
) -> LoadedModel:
    """Read an exported model file; :class:`CheckpointError` if it is missing, corrupt, not a reenactor model,
    or (with ``expect_method``) trained by another method."""
    from safetensors.torch import load_file

    path = Path(path)
    if path.is_dir():
        path = path / "model.safetensors"
    md = read_metadata(path)
    method = md.get("method", "")
    if expect_method is not None and method != expect_method:
        raise CheckpointError(
            f"this model was trained with method {method!r}, not {expect_method!r}",
            path,
            f"use --method {method} or a model trained with {expect_method}",
        )
    try:
        config = json.loads(md.get("config", "{}"))
        meta = json.loads(md.get("meta", "{}"))
        run = json.loads(md.get("run", "{}"))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"model metadata is corrupt ({e})", path, "re-export the model") from None
    try:
        tensors = load_file(str(path), device=str(device))
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(
            f"model tensors are unreadable ({type(e).__name__}: {e})",
            path,
            "re-export the model (the file may be truncated)",
        ) from None
    return LoadedModel(method=method, config=config, tensors=tensors, meta=meta, run=run, path=path)


# ------------------------------------------------------------------------------------------ inference models
@dataclass
class InferenceModel:
    """A model ready for inference: a loaded model file (``path``) or a method with nothing to train (``path``
    None). ``train_poses``: the target's stored training keypoints per key (per-person methods), else empty."""

    path: Path | None
    method: str
    method_cls: type
    cfg: Any
    meta: dict[str, Any]
    run: dict[str, Any]
    synthesizer: Any
    precision: str = "fp32"
    options: dict[str, Any] = field(default_factory=dict)
    train_poses: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.method_cls.kind

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.synthesizer.size)

    @property
    def name(self) -> str:
        """What to call it in messages: the file, or ``method NAME``."""
        return str(self.path) if self.path is not None else f"method {self.method}"


def method_class(name: str, where: Path | None = None) -> type:
    """The registered Method class ``name``; a model needing an unknown method is a CheckpointError."""
    from .errors import ReenactorError
    from .methods import get_method

    try:
        return get_method(name)
    except ReenactorError as e:
        if where is None:
            raise InputError(str(e), fix="see `reenactor train --help` for the methods") from None
        raise CheckpointError(
            f"model needs method {name!r}, which this reenactor does not have ({e})",
            where,
            "pass a model trained by `reenactor train` with a registered method",
        ) from None


def untrained_methods() -> list[str]:
    """Registered methods with nothing to train (usable by name, without a model file)."""
    from .methods import get_method, method_names

    return [n for n in method_names() if not get_method(n).needs_training]


def check_precision(cls: type, precision: str) -> None:
    """One message when ``cls`` does not honour ``precision`` (its declared :attr:`Method.precisions`)."""
    if precision not in cls.precisions:
        raise InputError(
            f"method {cls.name} runs in {' or '.join(cls.precisions)} only, not {precision}",
            fix=f"pass --precision {cls.precisions[0]} (or leave --precision out)",
        )


def model_options(cls: type, given: dict[str, Any] | None, meta: dict[str, Any]) -> dict[str, Any]:
    """The inference options of a model of method ``cls``: ``given`` ones, else the values the model was
    calibrated to after training (meta ``calibrated``: :func:`reenactor.train.calibrate.calibrate`), else the
    declared defaults (:func:`reenactor.methods.base.resolve_options`)."""
    from .methods.base import resolve_options

    opts = resolve_options(cls, given)
    for k, v in (meta.get("calibrated") or {}).items():
        if k in opts and (given or {}).get(k) is None:
            opts[k] = v
    return opts


def inference_model(
    cls: type,
    cfg: Any,
    tensors: dict[str, torch.Tensor],
    meta: dict[str, Any],
    device: torch.device | str = "cpu",
    options: dict[str, Any] | None = None,
) -> InferenceModel:
    """An :class:`InferenceModel` of method ``cls`` from a model's contents in memory (what a model file would
    hold; e.g. the trainer's own weights, for calibrating them before the export): fp32, no file."""
    opts = model_options(cls, options, meta)
    synth = cls.synthesizer(cfg, tensors, meta, device, precision="fp32", options=opts)
    return InferenceModel(None, cls.name, cls, cfg, dict(meta), {}, synth, "fp32", opts)


def open_model(
    model: str | Path | None = None,
    method: str | None = None,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    options: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
) -> InferenceModel:
    """Load an inference model: the model file ``model`` (with ``method``: it must be of that method), or the
    untrained method ``method`` itself (only a method with ``needs_training = False``).

    ``precision`` must be one the method declares; ``options`` are its inference options
    (:func:`reenactor.methods.base.resolve_options`). ``config``: settings of an untrained method's config
    (e.g. ``{"size": 128}``; a model file's config is the one it was trained with). Every failure is one :class:`CheckpointError` /
    :class:`InputError` naming the file or method and the fix.
    """
    from .config import from_dict, with_legacy
    from .errors import ConfigError
    from .methods.base import resolve_options

    if model is None:
        if method is None:
            raise InputError(
                "no model given",
                fix="pass --model RUN_DIR/model.safetensors, or --method NAME for "
                f"a method with nothing to train ({', '.join(untrained_methods())})",
            )
        cls = method_class(method)
        if cls.needs_training:
            raise InputError(
                f"method {method} must be trained first: --method alone works only for a method "
                f"with nothing to train ({', '.join(untrained_methods())})",
                fix=f"train it with `reenactor train --method {method} ...` and pass --model "
                "RUN_DIR/model.safetensors",
            )
        check_precision(cls, precision)
        cfg = from_dict(cls.Config, config or {}, prefix="model.")
        opts = resolve_options(cls, options)
        synth = cls.synthesizer(cfg, {}, {}, device, precision=precision, options=opts)
        return InferenceModel(None, cls.name, cls, cfg, {}, {}, synth, precision, opts)
    if config:
        raise InputError(
            "a model file keeps the config it was trained with",
            model,
            f"drop the config settings ({', '.join(sorted(config))})",
        )
    loaded = load_model(model, expect_method=method)
    where = loaded.path or Path(model)
    cls = method_class(loaded.method, where)
    try:
        cfg = from_dict(cls.Config, with_legacy(cls.Config, loaded.config))
    except ConfigError as e:
        raise CheckpointError(
            f"model config does not match method {loaded.method!r}: {e}",
            where,
            "re-train with this version of reenactor",
        ) from None
    check_precision(cls, precision)
    opts = model_options(cls, options, loaded.meta)
    try:
        synth = cls.synthesizer(cfg, loaded.tensors, loaded.meta, device, precision=precision, options=opts)
    except (KeyError, RuntimeError, ValueError) as e:
        raise CheckpointError(
            f"model weights do not fit method {loaded.method!r} ({type(e).__name__}: {e})",
            where,
            "re-export the model with `reenactor train`",
        ) from None
    poses = {
        k.split(".", 1)[1]: v.float().numpy()
        for k, v in loaded.tensors.items()
        if k.startswith("train_pose.")
    }
    return InferenceModel(
        Path(where),
        loaded.method,
        cls,
        cfg,
        dict(loaded.meta),
        dict(loaded.run),
        synth,
        precision,
        opts,
        poses,
    )


def model_info(model: str | Path | None = None, method: str | None = None) -> dict[str, Any]:
    """What ``reenactor info`` prints: method, kind, frame size, config, training data summary, inference
    options and precisions, tensor count and size (JSON-able)."""
    if model is None:
        cls = method_class(method or "")
        from .config import to_dict

        cfg, meta, run, tensors = to_dict(cls.Config()), {}, {}, {}
        path = None
    else:
        loaded = load_model(model, expect_method=method)
        cls = method_class(loaded.method, loaded.path)
        cfg, meta, run, tensors, path = loaded.config, loaded.meta, loaded.run, loaded.tensors, loaded.path
    size = meta.get("size") or cfg.get("size")
    train = {k.split(".", 1)[1]: list(v.shape) for k, v in tensors.items() if k.startswith("train_pose.")}
    return {
        "file": str(path) if path else None,
        "method": cls.name,
        "kind": cls.kind,
        "needs_training": bool(cls.needs_training),
        "frame_size": size,
        "training": {
            "steps": run.get("step"),
            "precision": run.get("precision"),
            "ema": run.get("ema"),
            "device": run.get("device"),
            "world_size": run.get("world_size"),
            "data": (run.get("run_config") or {}).get("data"),
        }
        if run
        else None,
        "training_poses": train,
        "precisions": list(cls.precisions),
        "inference_options": [
            {"flag": o.flag, "default": o.default, "help": o.help} for o in cls.inference_options
        ],
        # options fitted on held-out frames after training (reenactor.train.calibrate): value, mean L1 per value tried
        "calibrated": {
            k: {"value": v, "l1": (meta.get("calibration") or {}).get(k)}
            for k, v in (meta.get("calibrated") or {}).items()
        },
        "tensors": len(tensors),
        "parameters": int(sum(v.numel() for k, v in tensors.items() if not k.startswith("train_pose."))),
        "config": cfg,
    }


def load_stage_networks(
    path: str | Path, nets: dict[str, torch.nn.Module], method: str, fit_hint: str
) -> set[str]:
    """For a method trained in stages (``model.init_from``): load ``nets`` (export name -> module) from a model
    file of the same method; returns the stages its metadata says were trained. Another method's model, or
    networks that do not fit this run's config (``fit_hint`` says which settings to match): one CheckpointError.
    """
    loaded = load_model(path)
    if loaded.method != method:
        raise CheckpointError(
            f"model.init_from is a model of method {loaded.method!r}, not {method!r}",
            loaded.path,
            f"pass a model file written by `reenactor train --method {method}`",
        )
    for name, net in nets.items():
        state = {k[len(name) + 1 :]: v for k, v in loaded.tensors.items() if k.startswith(name + ".")}
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as e:
            first = str(e).strip().splitlines()[0][:160]
            raise CheckpointError(
                f"model.init_from: its {name} network does not fit this run's config ({first})",
                loaded.path,
                fit_hint,
            ) from None
    return set(loaded.meta.get("stages", []))
