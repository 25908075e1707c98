"""Discriminators: the PatchGAN (pix2pix / pix2pixHD) returning every intermediate feature map (for the
feature-matching loss, Gafni et al. 2021 eq. 11), its multi-scale version (pix2pixHD sec. 3.2), and a
space-time variant that judges N consecutive frames stacked on channels (vid2vid's temporal D; the
upper-body method's sequence D, Liu et al. 2019 Fig. 3).

Output convention (what :mod:`reenactor.losses` expects): a :class:`MultiscaleDiscriminator` returns a list
over scales, each a list of feature maps whose **last** element is the patch logits (B, 1, h, w).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ConvBlock


class NLayerDiscriminator(nn.Module):
    """PatchGAN: 4x4 convs (stride 2 for the first ``n_layers``, then stride 1), lrelu 0.2, norm on all but
    the first; a 4x4 conv to 1 channel (patch logits). Padding ceil(3/2) = 2 as in pix2pixHD.

    forward(x (B, input_nc, H, W)) -> list of n_layers + 2 maps: features..., logits (B, 1, h, w).
    """

    def __init__(
        self,
        input_nc: int,
        ndf: int = 64,
        n_layers: int = 3,
        norm: str = "instance",
        spectral: bool = False,
        max_ch: int = 512,
    ):
        super().__init__()
        pad = math.ceil(3 / 2)
        layers = [
            ConvBlock(
                input_nc,
                ndf,
                4,
                stride=2,
                padding=pad,
                norm="none",
                act="lrelu",
                bias=True,
                spectral=spectral,
            )
        ]
        c = ndf
        for n in range(1, n_layers + 1):
            c_out = min(c * 2, max_ch)
            stride = 2 if n < n_layers else 1
            layers.append(
                ConvBlock(c, c_out, 4, stride=stride, padding=pad, norm=norm, act="lrelu", spectral=spectral)
            )
            c = c_out
        layers.append(
            ConvBlock(c, 1, 4, stride=1, padding=pad, norm="none", act="none", bias=True, spectral=spectral)
        )
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        h = x
        for layer in self.layers:
            h = layer(h)
            feats.append(h)
        return feats


class MultiscaleDiscriminator(nn.Module):
    """``num_D`` PatchGANs on the input at 1, 1/2, 1/4, ... resolution (3x3 average pooling, stride 2).

    forward(x (B, input_nc, H, W)) -> list over scales (finest first) of lists of feature maps (last =
    logits). Inputs are usually ``cat([condition, image], 1)`` (conditional GAN).
    """

    def __init__(
        self,
        input_nc: int,
        ndf: int = 64,
        n_layers: int = 3,
        num_D: int = 3,  # noqa: N803
        norm: str = "instance",
        spectral: bool = False,
    ):
        super().__init__()
        self.nets = nn.ModuleList(
            [NLayerDiscriminator(input_nc, ndf, n_layers, norm, spectral) for _ in range(num_D)]
        )

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        out = []
        h = x
        for i, net in enumerate(self.nets):
            if i > 0:
                h = F.avg_pool2d(h, 3, stride=2, padding=1, count_include_pad=False)
            out.append(net(h))
        return out


class SpaceTimeDiscriminator(nn.Module):
    """Multi-scale PatchGAN over ``n_frames`` consecutive frames (and their conditions) stacked on channels,
    so it judges motion as well as appearance.

    frame_nc: channels per time step (e.g. 3 for RGB, or 3 + pose channels for a conditional D).
    forward(x (B, n_frames, frame_nc, H, W)) -> list over scales of lists of features (last = logits).
    """

    def __init__(
        self,
        frame_nc: int,
        n_frames: int = 3,
        ndf: int = 64,
        n_layers: int = 3,
        num_D: int = 2,  # noqa: N803
        norm: str = "instance",
        spectral: bool = False,
    ):
        super().__init__()
        self.n_frames = n_frames
        self.frame_nc = frame_nc
        self.net = MultiscaleDiscriminator(frame_nc * n_frames, ndf, n_layers, num_D, norm, spectral)

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        if x.dim() != 5 or x.shape[1] != self.n_frames or x.shape[2] != self.frame_nc:
            raise ValueError(
                f"SpaceTimeDiscriminator expects (B, {self.n_frames}, {self.frame_nc}, H, W), "
                f"got {tuple(x.shape)}"
            )
        return self.net(x.flatten(1, 2))
