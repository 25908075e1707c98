"""Model files and resumable training checkpoints.

*Exported model* (what inference loads): ONE safetensors file holding the generator weights (and any tensor
the method's inference needs) plus metadata strings ``format``, ``method``, ``config`` (the method's model
config as JSON), ``meta`` (the method's JSON meta: skeleton, frame size, normalization statistics, ...) and
``run`` (how it was trained: steps, precision, EMA, feature nets). :func:`save_model` writes it atomically;
:func:`load_model` reads it back with one clear :class:`~reenactor.errors.CheckpointError` for a missing,
corrupt, foreign or other-method file; :func:`load_synthesizer` rebuilds the method's inference object.

*Training checkpoint* (what ``--resume`` reads): a folder ``RUN_DIR/checkpoints/step_NNNNNNN/`` with
``model.safetensors`` (as above, so any checkpoint can be used for inference) and ``state.pt`` (networks,
optimizers, grad scalers, EMA, step, RNG states, the run config; ``torch.save`` of plain tensors/containers,
loaded with ``torch.load(weights_only=True)``). The folder is written under a temporary name and renamed, so
a run killed at any moment leaves only complete checkpoints.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError
from ..io.atomic import atomic_path, json_default

FORMAT = "reenactor-model"
FORMAT_VERSION = "1"
CKPT_RE = re.compile(r"^step_(\d{7,})$")


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


def save_model(path: str | Path, method_name: str, config_dict: dict[str, Any], tensors: dict[str, torch.Tensor],
               meta: dict[str, Any] | None = None, run: dict[str, Any] | None = None) -> Path:
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
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, "method": method_name,
                "config": _json(config_dict, "config"), "meta": _json(meta or {}, "meta"),
                "run": _json(run or {}, "run info")}
    with atomic_path(path) as tmp:
        save_file(clean, str(tmp), metadata=metadata)
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    """The raw metadata strings of a model file (cheap: tensors are not read)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise CheckpointError("model file not found", path,
                              "pass RUN_DIR/model.safetensors written by `reenactor train`")
    if path.is_dir():
        cand = path / "model.safetensors"
        if cand.exists():
            return read_metadata(cand)
        raise CheckpointError("is a folder without model.safetensors", path, "pass the model file itself")
    try:
        with safe_open(str(path), framework="pt") as f:
            md = f.metadata() or {}
    except Exception as e:  # noqa: BLE001 - any read failure means a corrupt/foreign file
        raise CheckpointError(f"not a readable safetensors model file ({type(e).__name__}: {e})", path,
                              "re-export it with `reenactor train` (the file may be truncated)") from None
    if md.get("format") != FORMAT:
        raise CheckpointError("not a reenactor model file (no reenactor metadata)", path,
                              "pass a model written by `reenactor train`")
    return md


def load_model(path: str | Path, expect_method: str | None = None, device: torch.device | str = "cpu"
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
        raise CheckpointError(f"this model was trained with method {method!r}, not {expect_method!r}", path,
                              f"use --method {method} or a model trained with {expect_method}")
    try:
        config = json.loads(md.get("config", "{}"))
        meta = json.loads(md.get("meta", "{}"))
        run = json.loads(md.get("run", "{}"))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"model metadata is corrupt ({e})", path, "re-export the model") from None
    try:
        tensors = load_file(str(path), device=str(device))
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(f"model tensors are unreadable ({type(e).__name__}: {e})", path,
                              "re-export the model (the file may be truncated)") from None
    return LoadedModel(method=method, config=config, tensors=tensors, meta=meta, run=run, path=path)


def load_synthesizer(path: str | Path, device: torch.device | str = "cpu", expect_method: str | None = None):
    """Rebuild the inference :class:`~reenactor.methods.base.Synthesizer` of an exported model file."""
    from ..config import from_dict
    from ..errors import ConfigError, ReenactorError
    from ..methods import get_method

    loaded = load_model(path, expect_method=expect_method)
    try:
        cls = get_method(loaded.method)
    except ReenactorError as e:
        raise CheckpointError(f"model needs method {loaded.method!r}, which this reenactor does not have ({e})",
                              loaded.path) from None
    try:
        cfg = from_dict(cls.Config, loaded.config)
    except ConfigError as e:
        raise CheckpointError(f"model config does not match method {loaded.method!r}: {e}", loaded.path,
                              "re-train with this version of reenactor") from None
    return cls.synthesizer(cfg, loaded.tensors, loaded.meta, device)


# ------------------------------------------------------------------------------------------ training checkpoints
def checkpoint_dir(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step_{step:07d}"


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints of a run, oldest first: [(step, folder)]."""
    root = Path(run_dir) / "checkpoints"
    out = []
    if root.is_dir():
        for p in root.iterdir():
            m = CKPT_RE.match(p.name)
            if m and p.is_dir() and (p / "state.pt").is_file():
                out.append((int(m.group(1)), p))
    return sorted(out)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    ck = list_checkpoints(run_dir)
    return ck[-1][1] if ck else None


def write_checkpoint(run_dir: str | Path, step: int, state: dict[str, Any], model_args: dict[str, Any] | None,
                     keep: int = 2) -> Path:
    """Write ``state`` (torch.save) and, if given, an exported model (``save_model(**model_args)``) into
    ``checkpoints/step_NNNNNNN/`` atomically (temporary folder + rename); keep only the newest ``keep``."""
    final = checkpoint_dir(run_dir, step)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        torch.save(state, tmp / "state.pt")
        if model_args is not None:
            save_model(tmp / "model.safetensors", **model_args)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # stale partial folders from killed runs, and old checkpoints beyond `keep`
    for p in final.parent.glob(".step_*.partial"):
        shutil.rmtree(p, ignore_errors=True)
    if keep > 0:
        for _, old in list_checkpoints(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def read_checkpoint(folder: str | Path, map_location: torch.device | str = "cpu") -> dict[str, Any]:
    """Load ``state.pt`` of a checkpoint folder with ``torch.load(weights_only=True)``."""
    folder = Path(folder)
    p = folder / "state.pt" if folder.is_dir() else folder
    if not p.is_file():
        raise CheckpointError("checkpoint state not found", p, "resume from a run folder written by `reenactor train`")
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(f"checkpoint is unreadable ({type(e).__name__}: {e})", p,
                              "delete this checkpoint folder to resume from the previous one") from None
