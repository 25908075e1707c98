"""The nearest-neighbour baseline of Aberman et al. 2019 (section 5.2, Table 1): no learning at all.

"Training" stores the target's poses and frames; for each driving pose it returns the training frame whose
pose is nearest by the pose-to-pose metric of eq. 7 (mean over the 12 limbs of the distance between limb
displacement vectors, :mod:`reenactor.pose.metrics`). The exported model holds the stored poses and frames.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np
import torch
from torch import nn

from ..config import to_dict
from ..data.clipstore import ClipStore
from ..errors import CheckpointError, InputError
from ..pose.skeleton import scale_keypoints, skeleton_spec
from .base import Method, StepOutput, Synthesizer, export_tensors

logger = logging.getLogger(__name__)

STORED_KEYPOINTS = ("body", "face", "hand_left", "hand_right")


@dataclass
class NearestNeighborConfig:
    """Every key is commented in configs/nearest_neighbor/default.yaml."""

    size: int = 128  # square frame size the stored frames are resized to
    max_frames: int = 5000  # most training frames stored (evenly subsampled beyond that)


class FrameDataset(torch.utils.data.Dataset):
    """The target's frames (T, S, S, 3) uint8 and keypoints (T, K, 3) in model pixels, frames with a person."""

    def __init__(self, clips: list, size: int, max_frames: int):
        if not clips:
            raise InputError("no target clip given", fix="pass --target CLIP_DIR")
        frames, kps = [], {}
        s = (size, size)
        for c in clips:
            store = c if isinstance(c, ClipStore) else ClipStore.open(c)
            person = store.person_present() if store.has("person") else np.ones(store.n_frames, bool)
            keep = np.nonzero(person)[0]
            fr = store.frames()
            for t in keep:
                f = np.asarray(fr[t])
                frames.append(
                    f if f.shape[:2] == s else cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA)
                )
            for k, v in store.keypoints().items():
                kps.setdefault(k, []).append(scale_keypoints(v[keep], store.size, s))
        if not frames:
            raise InputError(
                "no frame with a person in the target clip(s)", fix="extract a clip of the target"
            )
        sel = np.arange(len(frames))
        if len(frames) > max_frames:
            sel = np.linspace(0, len(frames) - 1, max_frames).round().astype(int)
        self.frames = np.stack([frames[i] for i in sel])
        self.keypoints = {k: np.concatenate(v)[sel].astype(np.float32) for k, v in kps.items()}

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {
            "image": torch.from_numpy(self.frames[i]),
            "body": torch.from_numpy(self.keypoints["body"][i]),
        }


class NearestNeighborMethod(Method):
    """Non-learned baseline: ``needs_training = False``; :meth:`fit_data` stores the training set."""

    name = "nearest_neighbor"
    Config = NearestNeighborConfig
    needs_training: ClassVar[bool] = False

    def __init__(self, cfg: NearestNeighborConfig):
        super().__init__(cfg)
        self.frames: np.ndarray | None = None
        self.keypoints: dict[str, np.ndarray] = {}

    def build_dataset(self, clips: list, unpaired: list | None = None) -> FrameDataset:
        if unpaired:
            logger.info("[nearest_neighbor] --unpaired clips are not used by the nearest-neighbour baseline")
        return FrameDataset(clips, self.cfg.size, self.cfg.max_frames)

    def fit_data(self, dataset: FrameDataset) -> None:
        self.frames = dataset.frames
        self.keypoints = dataset.keypoints

    def generator_parameters(self) -> list[nn.Parameter]:
        return []

    def generator_step(self, batch: dict[str, torch.Tensor], step: int) -> StepOutput:
        raise RuntimeError("nearest_neighbor has no training step (needs_training = False)")

    def inference_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        if self.frames is None:
            raise RuntimeError("fit_data was not called: nothing to export")
        tensors = export_tensors({}, self.keypoints)
        tensors["frames"] = torch.from_numpy(np.ascontiguousarray(self.frames))
        meta = {
            "size": [self.cfg.size, self.cfg.size],
            "skeleton": skeleton_spec(),
            "train_poses": sorted(self.keypoints),
            "n_train_poses": int(len(self.frames)),
            "config": to_dict(self.cfg),
        }
        return tensors, meta

    @classmethod
    def synthesizer(
        cls,
        cfg: NearestNeighborConfig,
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        options: dict[str, Any] | None = None,
    ) -> Synthesizer:
        if "frames" not in tensors or "train_pose.body" not in tensors:
            raise CheckpointError(
                "nearest_neighbor model file lacks its stored frames/poses",
                fix="re-export it with `reenactor train --method nearest_neighbor`",
            )
        return NearestNeighborSynthesizer(tensors["frames"].numpy(), tensors["train_pose.body"].numpy())


class NearestNeighborSynthesizer(Synthesizer):
    """Returns the stored frame whose body pose is nearest (eq. 7) to the driving pose."""

    def __init__(self, frames: np.ndarray, bodies: np.ndarray):
        self.frames = frames
        self.bodies = np.asarray(bodies, np.float32)
        self.size = tuple(frames.shape[1:3])
        self.last_index: int = -1
        self.last_distance: float = float("nan")

    def nearest(self, body: np.ndarray) -> tuple[int, float]:
        """Index of the stored pose nearest to ``body`` (25, 3) by eq. 7, and its distance (pixels)."""
        from ..pose.metrics import nearest_pose

        return nearest_pose(np.asarray(body, np.float32), self.bodies)

    def step(self, pose: dict[str, np.ndarray], extras: dict[str, Any] | None = None) -> np.ndarray:
        self.last_index, self.last_distance = self.nearest(pose["body"])
        return np.array(self.frames[self.last_index])
