"""Resumable training checkpoints (the exported model file itself is :mod:`reenactor.modelfile`).

*Training checkpoint* (what ``--resume`` reads): a folder ``RUN_DIR/checkpoints/step_NNNNNNN/`` with
``model.safetensors`` (an exported model file, so any checkpoint can be used for inference) and ``state.pt``
(networks, optimizers, grad scalers, EMA, step, RNG states, the run config; ``torch.save`` of plain
tensors/containers, loaded with ``torch.load(weights_only=True)``). The folder is written under a temporary
name and renamed, so a run killed at any moment leaves only complete checkpoints.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError
from ..modelfile import LoadedModel, load_model, read_metadata, save_model

__all__ = [
    "LoadedModel",
    "load_model",
    "read_metadata",
    "save_model",
    "checkpoint_dir",
    "list_checkpoints",
    "latest_checkpoint",
    "write_checkpoint",
    "read_checkpoint",
]

CKPT_RE = re.compile(r"^step_(\d{7,})$")


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


def write_checkpoint(
    run_dir: str | Path, step: int, state: dict[str, Any], model_args: dict[str, Any] | None, keep: int = 2
) -> Path:
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
        raise CheckpointError(
            "checkpoint state not found", p, "resume from a run folder written by `reenactor train`"
        )
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(
            f"checkpoint is unreadable ({type(e).__name__}: {e})",
            p,
            "delete this checkpoint folder to resume from the previous one",
        ) from None
