"""PSGAN's training items: windows of T poses of a labelled sequence, as heatmaps (§3.2): the body's 18 points,
or the 68 face points in a box around the window's first face (the expression variant, ``model.points: face``)."""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch.utils.data import Dataset

from ...data.actions import ActionData
from ...pose import heatmaps
from . import points as pts

logger = logging.getLogger(__name__)


class ActionWindows(Dataset):
    """One item per sequence of ``data`` at least ``frames`` long: a window of ``frames`` consecutive poses
    starting at a random frame (drawn from NumPy's RNG, which the trainer seeds per sample position).

    item: ``points`` (T, K, 3) the window's K points (18 body points or 68 face points, ``points``) in pixels of
    ``frame`` (2,) float64 (H, W): :func:`prepare_windows` draws them as heatmaps on the training device;
    ``label`` () int64 index into ``data.actions``.
    """

    def __init__(self, data: ActionData, frames: int, size: int, radius: float, points: str = "body"):
        self.actions = list(data.actions)
        self.frames, self.size, self.radius, self.points = frames, size, radius, points
        if points == "face":
            faceless = [s for s in data.samples if s.keypoints.get("face") is None]
            if faceless:
                from ...errors import InputError

                raise InputError(
                    f"{len(faceless)} sequence(s) have no face points; the expression variant (model.points: "
                    "face) trains on 68-point faces",
                    faceless[0].path,
                    "extract the clips with faces, or write procedural expressions with "
                    "`reenactor poses actions --expressions`",
                )
        self.samples = [s for s in data.samples if len(s.keypoints[points]) >= frames]
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
        kp = s.keypoints[self.points]
        start = int(np.random.randint(0, len(kp) - self.frames + 1))
        win = kp[start : start + self.frames]
        box = pts.face_box(win[0]) if self.points == "face" else None
        k, hw = pts.map_points(win, self.points, s.size, box)
        return {
            "points": torch.from_numpy(np.ascontiguousarray(k)),
            "frame": torch.tensor(hw, dtype=torch.float64),
            "label": torch.tensor(self.actions.index(s.action), dtype=torch.int64),
        }


def prepare_windows(batch: dict[str, torch.Tensor], size: int, radius: float) -> dict[str, torch.Tensor]:
    """A collated batch of :class:`ActionWindows` items on the training device -> ``target`` (B, T, K, S, S)
    heatmaps in {0, 1} (:func:`reenactor.pose.heatmaps.encode_points_torch`, the discs inference draws, drawn
    batched), ``init`` (B, K, S, S), the first pose of each window, and ``centres`` (B, T, K, 2), each point in
    heatmap pixels (clamped to the map: the disc head's centres cannot leave it); ``label`` passes through."""
    out = dict(batch)
    if "points" in out:
        frame = out.pop("frame")[:, None]  # (B, 1, 2): one frame size per window
        points = out.pop("points")
        out["target"] = heatmaps.encode_points_torch(points, frame, size, radius)
        out["init"] = out["target"][:, 0]
        xy = heatmaps.to_heatmap_xy_torch(points, frame, size)
        out["centres"] = xy.clamp(0, size - 1).float()
    return out
