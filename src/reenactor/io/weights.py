"""Reading user-given network weight files (never pickle: ``.safetensors`` or ``torch.load(weights_only=True)``).

One loader for every place that takes a state-dict file from the user (VGG19 for perceptual losses, the
AlexNet/VGG16 LPIPS backbones, Inception-v3 for FID), so the accepted formats and the error messages are the
same everywhere.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError

logger = logging.getLogger(__name__)

__all__ = ["load_state_dict_file", "load_matching_state", "optional_weights_file"]


def load_state_dict_file(path: str | Path, what: str, fix: str) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a ``.pth``/``.pt`` (``torch.load(weights_only=True)``), on CPU.

    Unwraps ``{"state_dict": ...}`` and strips ``module.`` prefixes. ``what`` names the network in messages
    (``"VGG19"``), ``fix`` tells the user what to give instead. Raises :class:`CheckpointError` naming ``path``
    when the file is missing, unreadable, or not a mapping of names to tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} weights file not found", path, fix)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise CheckpointError(f"cannot read {what} weights ({type(e).__name__}: {e})", path, fix) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"not a {what} state dict (expected a mapping of names to tensors)", path, fix)
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state.items()}


def load_matching_state(
    module: nn.Module, state: dict[str, torch.Tensor], path: str | Path, what: str, fix: str
) -> None:
    """Load the entries of ``state`` whose names ``module`` has (others, e.g. a classifier, are ignored),
    strictly: every key of ``module.state_dict()`` must be there and fit. :class:`CheckpointError` naming
    ``path`` otherwise (the first missing keys, or the shape mismatch)."""
    own = module.state_dict()
    ours = {k: v for k, v in state.items() if k in own}
    missing = sorted(set(own) - set(ours))
    if missing:
        article = "an" if what[:1].lower() in "aeiou" else "a"
        raise CheckpointError(
            f"not {article} {what} state dict: missing {', '.join(missing[:4])}"
            f"{' ...' if len(missing) > 4 else ''}",
            path,
            fix,
        )
    try:
        module.load_state_dict(ours, strict=True)
    except RuntimeError as e:
        raise CheckpointError(
            f"{what} weights do not fit ({str(e).splitlines()[-1].strip()})", path, fix
        ) from None


def optional_weights_file(
    weights: str | Path | None, tag: str, option: str, fallback: str, verbose: bool = True
) -> Path | None:
    """``Path(weights)`` when that file exists; else ``None`` after logging ``[tag] <why>; <fallback>`` (when
    ``verbose``), where why is "no OPTION file given" or "OPTION file WEIGHTS not found". For metrics that
    report a clearly named variant when their reference network's weights are absent (never downloaded)."""
    if weights is not None and Path(weights).exists():
        return Path(weights)
    if verbose:
        why = f"no {option} file given" if weights is None else f"{option} file {weights} not found"
        logger.info(f"[{tag}] {why}; {fallback}")
    return None
