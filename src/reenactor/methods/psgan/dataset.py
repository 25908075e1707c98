"""PSGAN's training items: windows of T poses of a labelled sequence, as heatmaps (§3.2)."""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch.utils.data import Dataset

from ...data.actions import ActionData
from ...pose import heatmaps

logger = logging.getLogger(__name__)


class ActionWindows(Dataset):
    """One item per sequence of ``data`` at least ``frames`` long: a window of ``frames`` consecutive poses
    starting at a random frame (drawn from NumPy's RNG, which the trainer seeds per sample position).

    item: ``init`` (18, S, S) the window's first pose; ``label`` () int64 index into ``data.actions``;
    ``target`` (T, 18, S, S) the whole window (first pose included), heatmaps in {0, 1}.
    """

    def __init__(self, data: ActionData, frames: int, size: int, radius: float):
        self.actions = list(data.actions)
        self.frames, self.size, self.radius = frames, size, radius
        self.samples = [s for s in data.samples if len(s.keypoints["body"]) >= frames]
        short = len(data.samples) - len(self.samples)
        if short:
            logger.info(f"[psgan] note: {short} sequence(s) shorter than {frames} frames skipped")
        if not self.samples:
            from ...errors import InputError

            raise InputError(f"no action sequence has {frames} frames", fix="lower model.frames or add data")

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        s = self.samples[i]
        body = s.keypoints["body"]
        start = int(np.random.randint(0, len(body) - self.frames + 1))
        maps = heatmaps.encode(body[start : start + self.frames], s.size, self.size, self.radius)
        return {
            "init": torch.from_numpy(maps[0]),
            "label": torch.tensor(self.actions.index(s.action), dtype=torch.int64),
            "target": torch.from_numpy(maps),
        }
