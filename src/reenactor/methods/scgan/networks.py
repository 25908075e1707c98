"""SCGAN's generators (§3.3-3.4, Fig. 4): image encoder + pose encoder -> residual blocks -> interpolation +
convolution decoder; G1 and G2 share their pose encoders' last convolution layer."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...nn.blocks import ConvBlock, ResnetBlock
from ...pose.heatmaps import N_COCO
from .config import SCGANConfig


def _chans(cfg: SCGANConfig) -> list[int]:
    return [min(cfg.ngf * 2**i, cfg.max_ch) for i in range(cfg.n_down)]


def shared_pose_layer(cfg: SCGANConfig) -> ConvBlock:
    """The last pose-encoder convolution, one module held by both G1 and G2 (the "yellow block")."""
    c = _chans(cfg)
    return ConvBlock(c[-2] if len(c) > 1 else N_COCO, c[-1], 4, stride=2, padding=1, norm="instance")


class FrameGenerator(nn.Module):
    """G(I_t0, P) -> I (eqs. 4-5).

    forward(image (B, 3, S, S) in [-1, 1], pose (B, 18, S, S) heatmaps in [0, 1]) -> (B, 3, S, S) in [-1, 1].
    ``pose_last``: the shared last pose-encoder layer (:func:`shared_pose_layer`). With ``blend`` (ours) the
    last layer draws a frame z and a mask m and returns m z + (1 - m) image; :meth:`parts` returns (z, m).
    """

    def __init__(self, cfg: SCGANConfig, pose_last: nn.Module):
        super().__init__()
        c = _chans(cfg)
        self.skips = cfg.skips
        self.img = nn.ModuleList(
            ConvBlock(cin, co, 4, stride=2, padding=1, norm="instance") for cin, co in zip([3, *c[:-1]], c)
        )
        self.pose = nn.Sequential(
            *[
                ConvBlock(cin, co, 4, stride=2, padding=1, norm="instance")
                for cin, co in zip([N_COCO, *c[:-2]], c[:-1])
            ]
        )
        self.pose_last = pose_last
        self.join = ConvBlock(2 * c[-1], c[-1], 3, norm="instance")
        self.blocks = nn.Sequential(*[ResnetBlock(c[-1], pad_mode="replicate") for _ in range(cfg.n_blocks)])
        self.pose_skips = cfg.skips and cfg.pose_skips
        outs = [*reversed(c[:-1]), cfg.ngf]
        ins = [c[-1]] + [o * (3 if self.pose_skips else 2 if cfg.skips else 1) for o in outs[:-1]]
        self.up = nn.ModuleList(ConvBlock(i, o, 3, norm="instance") for i, o in zip(ins, outs))
        self.blend = cfg.blend
        self.out = ConvBlock(
            cfg.ngf, 4 if cfg.blend else 3, 3, norm="none", act="none" if cfg.blend else "tanh"
        )

    def forward(self, image: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        z, m = self.parts(image, pose)
        return z if m is None else m * z + (1 - m) * image

    def parts(self, image: torch.Tensor, pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(drawn frame z in [-1, 1], mask m in [0, 1] or None without ``blend``)."""
        feats, h = [], image
        for layer in self.img:
            h = layer(h)
            feats.append(h)
        pfeats, p = [], pose
        for layer in self.pose:
            p = layer(p)
            pfeats.append(p)
        p = self.pose_last(p)
        h = self.blocks(self.join(torch.cat([h, p], 1)))
        skips = list(reversed(feats[:-1]))
        pskips = list(reversed(pfeats))
        for i, layer in enumerate(self.up):
            h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
            h = layer(h)
            if self.skips and i < len(skips):
                h = torch.cat([h, skips[i], pskips[i]] if self.pose_skips else [h, skips[i]], 1)
        h = self.out(h)
        if not self.blend:
            return h, None
        return torch.tanh(h[:, :3]), torch.sigmoid(h[:, 3:])
