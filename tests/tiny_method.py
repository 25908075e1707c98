"""A tiny Method for the trainer tests (never registered in the package): a small GlobalGenerator and a
two-scale PatchGAN over frames of a clip store, with L1 + LSGAN + feature matching, a random augmentation in
the dataset (exercises per-sample seeding) and dropout in G (exercises RNG state on resume)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from reenactor.data.clipstore import ClipStore
from reenactor.losses import feature_matching, gan_loss_d, gan_loss_g, l1
from reenactor.methods.base import Method, StepOutput, Synthesizer
from reenactor.nn import GlobalGenerator, MultiscaleDiscriminator


@dataclass
class TinyConfig:
    size: int = 32  # frame size
    ngf: int = 4  # generator width
    ndf: int = 4  # discriminator width
    dropout: float = 0.2  # dropout on G's input (randomness inside the step)
    lambda_l1: float = 10.0
    lambda_fm: float = 2.0
    gan_mode: str = "lsgan"
    norm: str = "instance"


class FrameDataset(torch.utils.data.Dataset):
    """Items: cond (4, S, S) = grey frame + noise channels; image (3, S, S) in [-1, 1]."""

    def __init__(self, clips: list, size: int):
        import cv2

        frames = []
        for c in clips:
            store = c if isinstance(c, ClipStore) else ClipStore.open(c)
            for f in np.asarray(store.load("frames")):
                frames.append(cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA))
        self.frames = np.stack(frames)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        img = torch.from_numpy(self.frames[i]).permute(2, 0, 1).float() / 127.5 - 1
        grey = img.mean(0, keepdim=True)
        noise = torch.randn(3, *img.shape[1:]) * 0.1 + float(np.random.rand())  # random augmentation
        return {"cond": torch.cat([grey, noise], 0), "image": img}


class TinyMethod(Method):
    name = "tiny"
    Config = TinyConfig

    def __init__(self, cfg: TinyConfig):
        super().__init__(cfg)
        self.G = GlobalGenerator(4, 3, ngf=cfg.ngf, n_downsampling=2, n_blocks=1, norm=cfg.norm)
        self.D = MultiscaleDiscriminator(7, ndf=cfg.ndf, n_layers=2, num_D=2, norm=cfg.norm)
        self.drop = nn.Dropout(cfg.dropout)
        self.fitted = 0

    def build_dataset(self, clips: list, unpaired: list | None = None) -> FrameDataset:
        return FrameDataset(clips, self.cfg.size)

    def fit_data(self, dataset) -> None:
        self.fitted = len(dataset)

    def generator_parameters(self) -> list[nn.Parameter]:
        return list(self.G.parameters())

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return list(self.D.parameters())

    def generator_step(self, batch: dict[str, torch.Tensor], step: int) -> StepOutput:
        c = self.cfg
        cond, real = batch["cond"], batch["image"]
        fake = self.G(self.drop(cond))
        d_fake = self.D(torch.cat([cond, fake], 1))
        d_real = self.D(torch.cat([cond, real], 1))
        losses = {
            "l1": c.lambda_l1 * l1(fake, real),
            "gan": gan_loss_g(d_fake, c.gan_mode),
            "fm": c.lambda_fm * feature_matching(d_real, d_fake),
        }
        return StepOutput(
            losses, visuals={"cond": cond[:, :1], "fake": fake, "real": real}, cache={"fake": fake.detach()}
        )

    def discriminator_step(
        self, batch: dict[str, torch.Tensor], step: int, cache: dict[str, Any]
    ) -> dict[str, torch.Tensor]:
        cond, real = batch["cond"], batch["image"]
        return {
            "d": gan_loss_d(
                self.D(torch.cat([cond, real], 1)),
                self.D(torch.cat([cond, cache["fake"]], 1)),
                self.cfg.gan_mode,
            )
        }

    def inference_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return (
            {f"G.{k}": v for k, v in self.G.state_dict().items()},
            {"size": [self.cfg.size, self.cfg.size], "fitted": self.fitted},
        )

    @classmethod
    def synthesizer(
        cls,
        cfg: TinyConfig,
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        options: dict[str, Any] | None = None,
    ) -> Synthesizer:
        return TinySynth(cfg, tensors, device)


class TinySynth(Synthesizer):
    def __init__(self, cfg: TinyConfig, tensors: dict[str, torch.Tensor], device):
        self.G = GlobalGenerator(4, 3, ngf=cfg.ngf, n_downsampling=2, n_blocks=1, norm=cfg.norm)
        self.G.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")})
        self.G.to(device).eval()
        self.size = (cfg.size, cfg.size)
        self.device = device

    @torch.no_grad()
    def step(self, pose: dict[str, np.ndarray], extras: dict[str, Any] | None = None) -> np.ndarray:
        cond = torch.zeros(1, 4, *self.size, device=self.device)
        out = self.G(cond)[0].permute(1, 2, 0).cpu().numpy()
        return ((out + 1) * 127.5).clip(0, 255).astype(np.uint8)


def make_clip(root: str | Path, n: int = 8, size: int = 32, seed: int = 0) -> ClipStore:
    """A clip store with ``n`` frames of a real photo (skimage astronaut) panning slowly."""
    import cv2

    from reenactor.io.video import read_image
    from reenactor.samples import sample_path

    img = np.asarray(read_image(sample_path("astronaut")))[..., :3]
    big = cv2.resize(img, (size + 2 * n, size + 2 * n), interpolation=cv2.INTER_AREA)
    frames = np.stack([big[i : i + size, 2 * i : 2 * i + size] for i in range(n)])
    store = ClipStore.create(root, n_frames=n, fps=25.0, size=[size, size])
    store.save("frames", frames, stage="extract")
    return store


def patch_registry(monkeypatch=None) -> None:
    """Make `reenactor train --method tiny` find TinyMethod (test processes only)."""
    import reenactor.methods as methods

    orig = methods.get_method

    def get_method(name: str):
        return TinyMethod if name == "tiny" else orig(name)

    if monkeypatch is not None:
        monkeypatch.setattr(methods, "get_method", get_method)
    else:
        methods.get_method = get_method
