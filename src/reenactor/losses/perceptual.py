"""Perceptual loss over a pluggable frozen feature network (:mod:`reenactor.nn.backbones`):
``sum_i w_i * mean |phi_i(x) - phi_i(y)|`` over chosen layers (pix2pixHD's VGG loss; the single-shot dance reenactment paper's eq. 16).

Default network: efficientnet_lite0 with its packaged ImageNet weights (offline); VGG19 when the user gives
a weights file. Which one ran is printed when it is built and available as :attr:`PerceptualLoss.description`
(the trainer stores it with the run).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.backbones import FeatureNet, load_feature_net

#: pix2pixHD's VGG loss weights for relu1_1 ... relu5_1 (also used for the 5 EfficientNet taps)
DEFAULT_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)


class PerceptualLoss(nn.Module):
    """forward(pred (B, 3, H, W) in [-1, 1], target (B, 3, H, W) in [-1, 1], mask=None) -> scalar.

    net: a :class:`FeatureNet` (or None to build one from ``name`` / ``weights`` on ``device``).
    layers: indices into the network's feature list (default: all); weights: one per layer.
    mask (B, 1, H, W) optional: the images are multiplied by it first (e.g. a face-region loss).
    The target's features are computed without gradient.
    """

    def __init__(
        self,
        net: FeatureNet | None = None,
        layers: Sequence[int] | None = None,
        weights: Sequence[float] | None = None,
        name: str = "effnet",
        vgg_weights: str | Path | None = None,
        device: torch.device | str = "cpu",
    ):
        super().__init__()
        self.net = net if net is not None else load_feature_net(name, vgg_weights, device=device)
        n = len(self.net.channels)
        self.layers = list(range(n)) if layers is None else list(layers)
        if any(i < 0 or i >= n for i in self.layers):
            raise ValueError(f"perceptual layers {self.layers} out of range for {self.net.name} ({n} maps)")
        w = DEFAULT_WEIGHTS[-len(self.layers) :] if weights is None else tuple(weights)
        if len(w) != len(self.layers):
            raise ValueError("perceptual loss needs one weight per layer")
        self.weights = [float(v) for v in w]

    @property
    def description(self) -> str:
        return self.net.description

    def _features(
        self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        if mask is not None:
            pred, target = pred * mask, target * mask
        upto = max(self.layers)  # deeper maps are not computed (a first-block loss costs one block)
        fp = self.net(pred, upto=upto)
        with torch.no_grad():
            ft = self.net(target, upto=upto)
        return fp, ft

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        fp, ft = self._features(pred, target, mask)
        loss = pred.new_zeros((), dtype=torch.float32)
        for i, w in zip(self.layers, self.weights):
            loss = loss + w * F.l1_loss(fp[i].float(), ft[i].float())
        return loss

    def content_and_style(
        self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(content, style) from one pass of the network: the :meth:`forward` loss and the Gram-matrix style
        loss ``sum_i w_i * mean |G(phi_i(x)) - G(phi_i(y))|`` (Gatys et al. 2016; REMOT eq. 7), with
        :func:`gram_matrix` normalized by C x H x W so it does not grow with the image size."""
        fp, ft = self._features(pred, target, mask)
        content = pred.new_zeros((), dtype=torch.float32)
        style = pred.new_zeros((), dtype=torch.float32)
        for i, w in zip(self.layers, self.weights):
            content = content + w * F.l1_loss(fp[i].float(), ft[i].float())
            style = style + w * F.l1_loss(gram_matrix(fp[i]), gram_matrix(ft[i]))
        return content, style


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C) float32 Gram matrices ``F F^T / (C H W)``."""
    b, c, h, w = features.shape
    f = features.float().reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / float(c * h * w)
