"""``pose_warp``: a reference method with nothing to train.

The target is one photo (a :class:`~reenactor.reference.Reference`). Its person pixels are split into body
parts (torso, head, upper arms, forearms with hands, thighs, shins with feet) by the reference keypoints, and
each part is moved onto every driving pose (normalized onto the reference) by the affine / similarity map of its
joints (:mod:`.warp`), then composited over the chosen background. It is the "Pose Warping" baseline of the
single-shot dance reenactment paper's Table 1 (Gafni et al. 2021, single-shot freestyle dance reenactment): the floor
every single-image method must beat. No network, so no precision choice beyond fp32 and no training.

Use: ``reenactor transfer --method pose_warp --target-image PHOTO --driving VIDEO -o out.mp4``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...errors import ReenactorError
from ..base import REFERENCE, Method, StepOutput, Synthesizer


@dataclass
class PoseWarpConfig:
    """pose_warp's settings (configs/pose_warp/default.yaml)."""

    size: int = 256  # square output frame size; the reference photo is cropped around the person to it


class PoseWarpMethod(Method):
    """Declarations only: pose_warp has no networks, no dataset and nothing to export."""

    name = "pose_warp"
    Config = PoseWarpConfig
    kind = REFERENCE
    needs_training = False

    def _untrained(self) -> ReenactorError:
        return ReenactorError(
            "pose_warp has nothing to train",
            fix="run `reenactor transfer --method pose_warp --target-image PHOTO --driving VIDEO`",
        )

    def build_dataset(self, clips: list, unpaired: list | None = None) -> torch.utils.data.Dataset:
        raise self._untrained()

    def generator_parameters(self) -> list:
        return []

    def generator_step(self, batch: dict[str, torch.Tensor], step: int) -> StepOutput:
        raise self._untrained()

    def inference_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return {}, {"size": [self.cfg.size, self.cfg.size]}

    @classmethod
    def synthesizer(
        cls,
        cfg: PoseWarpConfig,
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        options: dict[str, Any] | None = None,
    ) -> Synthesizer:
        return PoseWarpSynthesizer(cfg)


class PoseWarpSynthesizer(Synthesizer):
    """Warps the reference person onto each driving pose and composites it over ``extras["background"]``
    (the reference's own background plate when none is given)."""

    def __init__(self, cfg: PoseWarpConfig):
        self.cfg = cfg
        self.size = (int(cfg.size), int(cfg.size))
        self.warper = None
        self.background: np.ndarray | None = None

    def set_reference(self, reference: Any) -> None:
        from ...pose.part_warp import PoseWarper

        if tuple(reference.size) != self.size:
            raise ReenactorError(f"reference is {reference.size}, pose_warp renders {self.size}")
        self.warper = PoseWarper(reference.image, reference.mask, reference.keypoints)
        self.background = reference.background

    def step(self, pose: dict[str, np.ndarray], extras: dict[str, Any] | None = None) -> np.ndarray:
        if self.warper is None:
            raise ReenactorError("pose_warp needs a reference before the first frame (set_reference)")
        rgb, alpha = self.warper.warp(pose)
        bg = (extras or {}).get("background")
        bg = self.background if bg is None else bg
        a = alpha[..., None]
        out = rgb.astype(np.float32) * a + bg.astype(np.float32) * (1.0 - a)
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)
