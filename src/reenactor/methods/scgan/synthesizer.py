"""SCGAN's inference: G1 (eq. 4) draws each frame from the reference image and the driving pose's heatmaps."""

from __future__ import annotations

import contextlib
from typing import Any

import cv2
import numpy as np
import torch

from ...errors import InputError
from ...nn.convert import to_uint8
from ...pose import heatmaps
from ..base import Synthesizer
from .config import SCGANConfig
from .networks import FrameGenerator, shared_pose_layer


class SCGANSynthesizer(Synthesizer):
    def __init__(self, cfg: SCGANConfig, G1: FrameGenerator, device="cpu", precision: str = "fp32"):
        self.cfg = cfg
        self.device = torch.device(device)
        self.precision = precision
        self.G1 = G1.to(self.device).eval()
        self.size = (cfg.size, cfg.size)
        self._image: torch.Tensor | None = None

    @classmethod
    def from_state(cls, cfg: SCGANConfig, tensors: dict[str, torch.Tensor], device="cpu", precision="fp32"):
        G1 = FrameGenerator(cfg, shared_pose_layer(cfg))
        G1.load_state_dict({k[3:]: v for k, v in tensors.items() if k.startswith("G1.")})
        return cls(cfg, G1, device, precision)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def set_reference(self, reference: Any) -> None:
        img = reference.image
        if img.shape[:2] != self.size:
            img = cv2.resize(img, self.size[::-1], interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(img.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
        self._image = x.to(self.device)

    @torch.no_grad()
    def step(self, pose: dict[str, np.ndarray], extras: dict[str, Any] | None = None) -> np.ndarray:
        if self._image is None:
            raise InputError("scgan needs the target image first", fix="pass --target-image PHOTO|CLIP:INDEX")
        s = self.cfg.size
        body = torch.from_numpy(np.asarray(pose["body"], np.float32)).to(self.device)
        maps = heatmaps.encode_torch(body[None], (s, s), s, self.cfg.radius)  # the training batches' renderer
        with self._autocast():
            out = self.G1(self._image, maps)
        return to_uint8(out.float())[0]
