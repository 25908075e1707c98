"""Fitting a model's calibrated inference options on frames held out of its training.

A method may declare inference options whose best value a training run cannot learn by itself
(:meth:`reenactor.methods.base.Method.calibrated_options`), e.g. how far to trust a flow that the network learned
on the very frames it now recalls. With ``data.holdout: N`` the run keeps the last N frames of each training clip
out of training (:class:`reenactor.data.pairs.FramePairs`); after the last step (or, with ``data.holdout_until``
< 1, part-way, after which the held-out frames train too), :func:`calibrate` renders each
held-out block through the method's own transfer path (:func:`reenactor.transfer.transfer`, the defaults of
``reenactor transfer``), with the last frame before the block as the target photo, once per value tried, and keeps
the value with the lowest mean absolute error to the real frames (the first value listed wins a tie). Options are
fitted one after another, each with the ones before it at their fitted values. The trainer writes the values into
the model file's meta (``calibrated``), where they are the options' values at transfer unless one is given
(:func:`reenactor.modelfile.model_options`), and the errors per value into ``calibration`` (``reenactor info``
shows both).

The error is the mean L1 over whole frames, in 0..255: what the training losses weigh (an L1 of the composited
frame to the real one), not the benchmarks' metrics.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

logger = logging.getLogger(__name__)

#: held-out blocks rendered at most (evenly spaced over the run's clips): bounds the time a run spends here
MAX_BLOCKS = 8


def calibrate(
    cls: type,
    cfg: Any,
    tensors: dict[str, torch.Tensor],
    meta: dict[str, Any],
    clips: list,
    blocks: list,
    device: torch.device | str = "cpu",
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """``(chosen, errors)``: per option of ``cls.calibrated_options(cfg)``, the value kept and the mean L1 of
    every value tried (keys as ``str(value)``). ``clips``: the run's :class:`~reenactor.data.clips.TrainingClip`
    list; ``blocks``: their held-out frames (:attr:`reenactor.data.pairs.FramePairs.heldout`). Empty when the
    method declares nothing or no clip held frames out."""
    from ..driving import ClipSource
    from ..modelfile import inference_model
    from ..transfer import transfer

    declared = cls.calibrated_options(cfg)
    if not declared or not blocks:
        return {}, {}
    if len(blocks) > MAX_BLOCKS:
        blocks = [blocks[int(i)] for i in np.linspace(0, len(blocks) - 1, MAX_BLOCKS).round()]
    chosen: dict[str, Any] = {}
    errors: dict[str, dict[str, float]] = {}
    # the real frames of every block, read once and brought to the rendered size once (below)
    reals = [np.asarray(clips[b.clip].store.load("frames")[b.start : b.stop]) for b in blocks]
    sized: list[list[np.ndarray]] | None = None
    with tempfile.TemporaryDirectory(prefix="reenactor-calibrate-") as tmp:
        for name, values in declared:
            errors[name] = {}
            for v in values:
                tm = inference_model(cls, cfg, tensors, meta, device, options={**chosen, name: v})
                if sized is None:
                    sized = [[_at_size(r, tm.size) for r in rs] for rs in reals]
                err = []
                for b, real in zip(blocks, sized):
                    store = clips[b.clip].store
                    pred: list[np.ndarray] = []
                    transfer(
                        tm,
                        ClipSource(store, max_frames=b.stop - b.start, start=b.start),
                        Path(tmp) / "calibration.mp4",
                        target_image=f"{store.root}:{b.photo}",
                        progress=False,
                        save_normalizer=False,
                        audio="none",
                        frame_sink=pred.append,
                    )
                    err += [float(np.abs(p.astype(np.float32) - r).mean()) for p, r in zip(pred, real)]
                errors[name][str(v)] = float(np.mean(err))
            best = min(values, key=lambda v: errors[name][str(v)])  # min keeps the first of equal errors
            chosen[name] = best
            shown = ", ".join(f"{k} {e:.2f}" for k, e in errors[name].items())
            n_frames = sum(b.stop - b.start for b in blocks)
            logger.info(
                f"[train] calibrated {name} = {best} on {n_frames} held-out frames of {len(blocks)} clip(s) "
                f"(mean L1 per value: {shown})"
            )
    return chosen, errors


def _at_size(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A real uint8 frame as float32 at the rendered ``size`` (H, W), resized where it differs."""
    import cv2

    if frame.shape[:2] != tuple(size):
        frame = cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return frame.astype(np.float32)
