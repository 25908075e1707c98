"""Fitting a model's calibrated inference options on frames held out of its training.

A method may declare inference options whose best value a training run cannot learn by itself
(:meth:`reenactor.methods.base.Method.calibrated_options`), e.g. how far to trust a flow that the network learned
on the very frames it now recalls. With ``data.holdout: N`` the run keeps the last N frames of each training clip
out of training (:class:`reenactor.data.pairs.FramePairs`); after the last step, :func:`calibrate` renders each
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
    with tempfile.TemporaryDirectory(prefix="reenactor-calibrate-") as tmp:
        for name, values in declared:
            errors[name] = {}
            for v in values:
                tm = inference_model(cls, cfg, tensors, meta, device, options={**chosen, name: v})
                err = []
                for b in blocks:
                    store = clips[b.clip].store
                    real = np.asarray(store.load("frames")[b.start : b.stop])
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
                    err += [_l1(p, r) for p, r in zip(pred, real)]
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


def _l1(pred: np.ndarray, real: np.ndarray) -> float:
    """Mean absolute error of two uint8 frames, the real one resized to the rendered size where they differ."""
    import cv2

    if real.shape != pred.shape:
        real = cv2.resize(real, (pred.shape[1], pred.shape[0]), interpolation=cv2.INTER_AREA)
    return float(np.abs(pred.astype(np.float32) - real.astype(np.float32)).mean())
