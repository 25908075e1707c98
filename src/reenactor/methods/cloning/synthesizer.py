"""Inference of performance cloning / pix2pix: driving poses -> pose volumes -> G -> frames.

G sees N consecutive pose volumes (the previous N-1 driving poses and the current one; at the start of a video
the first pose is repeated) and its last 3 output channels are the current frame. G's input depends on the
poses only, so frames can be generated in batches (:meth:`PoseVolumeSynthesizer.step_batch`) with the same
result as frame by frame.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..base import Synthesizer
from .config import CloningConfig
from .volumes import VolumeEncoder


def build_generator(cfg: CloningConfig) -> nn.Module:
    """pix2pix's U-Net (reenactor.nn) over J*N input channels and 3*N output channels in [-1, 1]."""
    from ...nn import UNetGenerator

    g = cfg.generator
    n = cfg.volume.frames
    j = volume_encoder(cfg).n_channels
    return UNetGenerator(j * n, 3 * n, num_downs=g.num_downs, ngf=g.ngf, norm=g.norm, dropout=g.dropout)


def volume_encoder(cfg: CloningConfig) -> VolumeEncoder:
    """The pose-volume encoder a config describes."""
    v = cfg.volume
    return VolumeEncoder((cfg.size, cfg.size), v.joints, v.sigma, v.face, v.face_sigma)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8."""
    x = ((x.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


class PoseVolumeSynthesizer(Synthesizer):
    """Frames from poses (``body`` (25, 3), and ``face`` (68, 3) when the volumes draw it) in model pixels. ``precision``: "fp32" or "bf16" (autocast)."""

    def __init__(self, G: nn.Module, encoder: VolumeEncoder, frames: int, device: torch.device | str = "cpu",
                 precision: str = "fp32"):
        self.G = G.to(device).eval()
        self.encoder = encoder
        self.n = int(frames)
        self.device = torch.device(device)
        self.precision = precision
        self.size = encoder.size
        self._hist: deque[np.ndarray] = deque(maxlen=max(self.n - 1, 0))

    @classmethod
    def from_state(cls, cfg: CloningConfig, tensors: dict[str, torch.Tensor], device: torch.device | str = "cpu",
                   precision: str = "fp32") -> PoseVolumeSynthesizer:
        G = build_generator(cfg)
        state = {k[2:]: v for k, v in tensors.items() if k.startswith("G.")}
        G.load_state_dict(state, strict=True)
        return cls(G, volume_encoder(cfg), cfg.volume.frames, device, precision)

    def reset(self) -> None:
        self._hist.clear()

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _inputs(self, poses: Sequence[dict[str, np.ndarray]]) -> np.ndarray:
        """(B, C*N, H, W) generator inputs for consecutive poses, advancing the history."""
        out = []
        for pose in poses:
            vol = self.encoder(pose)
            hist = list(self._hist)
            prev = ([hist[0]] * (self.n - 1 - len(hist)) if hist else [vol] * (self.n - 1 - len(hist))) + hist
            out.append(np.concatenate(prev + [vol]) if self.n > 1 else vol)
            if self.n > 1:
                self._hist.append(vol)
        return np.stack(out)

    @torch.inference_mode()
    def generate(self, x: torch.Tensor) -> torch.Tensor:
        """(B, J*N, H, W) volumes -> (B, 3, H, W) in [-1, 1], the current (last) frame."""
        with self._autocast():
            y = self.G(x.to(self.device))
        return y[:, -3:].float()

    def prepare(self, poses: Sequence[dict[str, np.ndarray]]) -> torch.Tensor:
        """CPU half of a batch step: consecutive poses -> (B, C*N, H, W) generator input (advances the history).
        Call in frame order; :meth:`render` may run in another thread."""
        return torch.from_numpy(self._inputs(poses))

    def render(self, x: torch.Tensor) -> np.ndarray:
        """Network half of a batch step: (B, C*N, H, W) -> (B, H, W, 3) uint8."""
        return to_uint8(self.generate(x))

    def step_batch(self, poses: Sequence[dict[str, np.ndarray]]) -> np.ndarray:
        """Consecutive frames at once: list of pose dicts -> (B, H, W, 3) uint8 (same as repeated :meth:`step`)."""
        return self.render(self.prepare(poses))

    def step(self, pose: dict[str, np.ndarray], extras: dict[str, Any] | None = None) -> np.ndarray:
        return self.step_batch([pose])[0]
