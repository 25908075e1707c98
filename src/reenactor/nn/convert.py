"""Image <-> network value conversions shared by every method and metric: uint8 RGB images and float tensors in
[-1, 1] (the range every generator here outputs, tanh)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def to_unit(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [-1, 1]."""
    return img.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0


def unit_from_uint8(x: torch.Tensor) -> torch.Tensor:
    """uint8 images (any shape, e.g. ``(B, 3, H, W)``) -> float32 in [-1, 1] on their device, bit for bit the
    values of :func:`to_unit` (``x / 127.5 - 1`` in float32). The divisor is a tensor on ``x``'s device: CUDA turns
    a division by a Python scalar into a multiplication by its reciprocal, which can be one ulp off."""
    return x.float().div_(torch.full((), 127.5, device=x.device)).sub_(1.0)


def one_hot(labels: torch.Tensor, n: int, dim: int = 1, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Integer labels -> one-hot with the ``n`` classes on axis ``dim`` (``(B, H, W)`` -> ``(B, n, H, W)`` for
    the default ``dim=1``), on the labels' device: zeros and a scatter, so no host read (``F.one_hot`` reads the
    largest label back to check it: a synchronization per call on a GPU). Labels must lie in ``[0, n)``."""
    idx = labels.long().unsqueeze(dim)
    shape = list(idx.shape)
    shape[dim] = n
    return torch.zeros(shape, dtype=dtype, device=labels.device).scatter_(dim, idx, 1.0)


def frames_to_tensor(
    frames: Sequence[np.ndarray] | np.ndarray, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """(B, H, W, 3) uint8 frames (a list or an array) -> (B, 3, H, W) float32 in [-1, 1] on ``device``."""
    x = torch.from_numpy(
        np.ascontiguousarray(np.stack(list(frames)) if not isinstance(frames, np.ndarray) else frames)
    )
    return unit_from_uint8(x.to(device).permute(0, 3, 1, 2))


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> contiguous (B, H, W, 3) uint8, rounded half up: (x + 1) * 127.5 + 0.5 truncated,
    in place on a float copy (one pass each; half the time of clamp/shift/scale/round as separate tensors)."""
    y = x.float() if x.dtype != torch.float32 else x.clone()
    y = y.mul_(127.5).add_(128.0).clamp_(0.0, 255.0).to(torch.uint8)
    return y.permute(0, 2, 3, 1).contiguous().cpu().numpy()


__all__ = ["to_unit", "unit_from_uint8", "one_hot", "frames_to_tensor", "to_uint8"]
