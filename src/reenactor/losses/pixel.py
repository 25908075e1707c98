"""Pixel-wise losses: L1, masked L1, cross-entropy (hard labels or soft targets)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error; pred, target (B, C, H, W) (any equal shapes)."""
    return F.l1_loss(pred.float(), target.float())


def masked_l1(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """L1 restricted to a (soft) mask, normalized by the mask's area.

    pred, target (B, C, H, W); mask (B, 1, H, W) or (B, C, H, W) in [0, 1] (weights).
    Returns sum(mask * |pred - target|) / sum(mask broadcast to pred's shape): the mean error inside the
    mask, so the value does not depend on how much of the frame the mask covers. An empty mask gives 0.
    """
    mask = mask.float()
    diff = (pred.float() - target.float()).abs() * mask
    denom = mask.expand_as(diff).sum()
    return diff.sum() / (denom + eps)


def cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None, ignore_index: int = -100
) -> torch.Tensor:
    """Per-pixel cross-entropy (e.g. a generated semantic map against the parsing, the single-shot dance reenactment paper's eq. 12).

    logits (B, C, H, W); target either (B, H, W) int64 class indices or (B, C, H, W) soft probabilities;
    weight: optional (C,) class weights.
    """
    if target.dtype in (torch.int64, torch.int32, torch.uint8, torch.int16):
        return F.cross_entropy(logits.float(), target.long(), weight=weight, ignore_index=ignore_index)
    return F.cross_entropy(logits.float(), target.float(), weight=weight)
