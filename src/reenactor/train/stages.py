"""Clip-store stages a method's dataset reads, made before training where a clip lacks them.

A method declares the stages it needs (:attr:`reenactor.methods.base.Method.clip_stages`, e.g. ``("layout",
"background")``); :func:`ensure_clip_stages` runs each missing one on each training clip, with one logged note
per stage. Every stage is resumable and cached in the clip store (a stage already done is not run again), and
cheap next to training. The table maps a stage name to the function that makes it and to the array whose
presence means it is done; a new stage is one line here, never a method's name in the train path.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import ReenactorError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClipStage:
    """How one stage is made: ``func`` ("module:function", called as ``function(store)``), the ``array`` it writes
    into the clip store, and what it is, for the printed note."""

    func: str
    array: str
    what: str


#: stage name -> how it is made
CLIP_STAGES: dict[str, ClipStage] = {
    "flow": ClipStage("reenactor.data.flow:add_flow_stage", "flow", "optical flow (OpenCV DIS)"),
    "layout": ClipStage(
        "reenactor.parsing.layout:add_layout_stage",
        "layout",
        "body-part layout, estimated from keypoints, mask and skin colour (import a parser's PNGs instead "
        "with `reenactor layout CLIP --from DIR`)",
    ),
    "densepose": ClipStage(
        "reenactor.parsing.densepose:add_densepose_stage", "iuv", "pseudo-DensePose IUV from the keypoints"
    ),
    "background": ClipStage(
        "reenactor.data.background:add_background_stage", "background", "per-frame background plates"
    ),
}


def stage_function(name: str) -> Callable:
    """The function that makes stage ``name``; a clear error for an unknown or unavailable one."""
    if name not in CLIP_STAGES:
        raise ReenactorError(
            f"unknown clip stage {name!r} (known: {', '.join(sorted(CLIP_STAGES))})",
            fix="declare stages listed in reenactor.train.stages.CLIP_STAGES",
        )
    mod, fn = CLIP_STAGES[name].func.split(":")
    try:
        return getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError) as e:
        raise ReenactorError(
            f"clip stage {name!r} is not available in this reenactor ({type(e).__name__}: {e})",
            fix="update reenactor",
        ) from None


def missing_stages(stores: Sequence, names: Sequence[str]) -> dict[str, list]:
    """``{stage: [stores that lack its array]}`` for the stages ``names`` (only stages some store lacks)."""
    out: dict[str, list] = {}
    for name in names:
        if name not in CLIP_STAGES:
            stage_function(name)  # raises the unknown-stage error
        lacking = [s for s in stores if not s.has(CLIP_STAGES[name].array)]
        if lacking:
            out[name] = lacking
    return out


def ensure_clip_stages(
    stores: Sequence, names: Sequence[str], log: Callable[[str], None] | None = None
) -> int:
    """Run every stage of ``names`` on every clip store of ``stores`` that lacks it (in the order named), with
    one note per stage through ``log`` (default: this module's logger, INFO). Returns the number of (stage,
    clip) runs."""
    log = log or logger.info
    runs = 0
    for name, lacking in missing_stages(stores, names).items():
        func = stage_function(name)
        few = ", ".join(s.root.name for s in lacking[:3]) + (", ..." if len(lacking) > 3 else "")
        log(
            f"[train] note: {len(lacking)} clip(s) lack the `{name}` stage ({CLIP_STAGES[name].what}); "
            f"making it now, cached in each clip store: {few}"
        )
        for store in lacking:
            func(store)
            runs += 1
    return runs


__all__ = ["CLIP_STAGES", "ClipStage", "ensure_clip_stages", "missing_stages", "stage_function"]
