"""Temporal coherence: backward warping with ``grid_sample`` and the eq.-4 loss of
Aberman et al. 2019,

    L_tc(G) = E || alpha(y_{i+1}) * ( W(G(y_i), f_i) - G(y_{i+1}) ) ||_1          (4)

where W warps a frame by an optical flow field with bilinear interpolation and alpha is a spatial weight map
(a Gaussian falloff around the limbs, :func:`limb_weight_map`). Flow comes from OpenCV DIS cached in the clip
store (:mod:`reenactor.data.flow`, forward flow t -> t+1 in pixels).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F


def _base_grid(h: int, w: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    ys, xs = torch.meshgrid(
        torch.arange(h, device=device, dtype=dtype),
        torch.arange(w, device=device, dtype=dtype),
        indexing="ij",
    )
    return torch.stack([xs, ys], 0)  # (2, H, W) [x, y]


def warp(
    img: torch.Tensor, flow: torch.Tensor, return_valid: bool = False
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Backward warping: ``out[:, :, y, x] = img[:, :, y + v, x + u]`` (bilinear, border padding).

    img (B, C, H, W); flow (B, 2, H, W) in pixels, channel 0 = u (x), 1 = v (y).
    With ``return_valid`` also returns (B, 1, H, W) float: 1 where the sample fell inside the image.
    To align frame t+1 with frame t, use the forward flow t -> t+1: ``warp(frame_t1, flow_t_t1) ~ frame_t``.
    """
    b, _, h, w = img.shape
    if flow.shape[0] != b or flow.shape[1] != 2 or flow.shape[-2:] != (h, w):
        raise ValueError(f"flow must be (B, 2, H, W) = ({b}, 2, {h}, {w}), got {tuple(flow.shape)}")
    flow = flow.float()
    pos = _base_grid(h, w, img.device, torch.float32)[None] + flow
    gx = 2.0 * pos[:, 0] / max(w - 1, 1) - 1.0
    gy = 2.0 * pos[:, 1] / max(h - 1, 1) - 1.0
    grid = torch.stack([gx, gy], -1)
    out = F.grid_sample(img.float(), grid, mode="bilinear", padding_mode="border", align_corners=True)
    out = out.to(img.dtype)
    if not return_valid:
        return out
    valid = ((gx >= -1) & (gx <= 1) & (gy >= -1) & (gy <= 1)).float()[:, None]
    return out, valid


def temporal_warp_loss(
    prev: torch.Tensor,
    nxt: torch.Tensor,
    flow: torch.Tensor,
    weight: torch.Tensor | None = None,
    flow_direction: Literal["forward", "backward"] = "forward",
    eps: float = 1e-6,
) -> torch.Tensor:
    """Eq. 4 of Aberman et al. 2019: weighted L1 between one generated frame warped by the driving
    video's optical flow and the next generated frame.

    prev, nxt: G(y_i), G(y_{i+1}) (B, C, H, W); flow (B, 2, H, W) pixels; weight: alpha (B, 1, H, W) or None.
    flow_direction:
      ``"forward"`` (what the clip store caches, f_i = flow i -> i+1): ``nxt`` is backward-warped into frame i
      and compared with ``prev`` — exact for backward warping; ``weight`` is then alpha in frame i (alpha(y_i)).
      ``"backward"`` (flow i+1 -> i): ``prev`` is warped into frame i+1 and compared with ``nxt``, literally
      eq. 4 with alpha(y_{i+1}).
    Pixels whose flow points outside the frame are ignored. Normalized by the weight's total (mean weighted
    error per pixel and channel).
    """
    if flow_direction == "forward":
        warped, valid = warp(nxt, flow, return_valid=True)
        ref = prev
    elif flow_direction == "backward":
        warped, valid = warp(prev, flow, return_valid=True)
        ref = nxt
    else:
        raise ValueError("flow_direction must be 'forward' or 'backward'")
    wmap = valid if weight is None else valid * weight.float()
    diff = (warped.float() - ref.float()).abs() * wmap
    return diff.sum() / (wmap.expand_as(diff).sum() + eps)


def limb_weight_map(
    keypoints: np.ndarray | torch.Tensor,
    size: tuple[int, int],
    limbs: Sequence[tuple[int, int]] | None = None,
    sigma: float = 4.0,
    floor: float = 0.0,
    thresh: float = 0.05,
) -> torch.Tensor:
    """alpha(y) of eq. 4: a Gaussian falloff from the limbs (segments between confident joints).

    keypoints: (K, 3) or (B, K, 3) [x, y, conf] in pixels; size: (H, W); limbs: joint index pairs
    (default: BODY_25 limbs of :mod:`reenactor.pose.skeleton`); sigma: falloff in pixels; floor: minimum
    weight everywhere (0 = only near the skeleton). Returns (B, 1, H, W) float32 in [floor, 1]; a pose with
    no confident limb gives the floor everywhere (or ones when floor is 0, so the loss still applies).
    """
    if limbs is None:
        from ..pose.skeleton import BODY_LIMBS

        limbs = BODY_LIMBS
    kp = torch.as_tensor(
        np.asarray(keypoints) if not isinstance(keypoints, torch.Tensor) else keypoints, dtype=torch.float32
    )
    if kp.dim() == 2:
        kp = kp[None]
    h, w = size
    grid = _base_grid(h, w, kp.device, torch.float32).permute(1, 2, 0)  # (H, W, 2)
    out = torch.zeros(kp.shape[0], 1, h, w)
    for bi in range(kp.shape[0]):
        d2 = torch.full((h, w), float("inf"))
        for a, b in limbs:
            if a >= kp.shape[1] or b >= kp.shape[1]:
                continue
            if kp[bi, a, 2] <= thresh or kp[bi, b, 2] <= thresh:
                continue
            pa, pb = kp[bi, a, :2], kp[bi, b, :2]
            seg = pb - pa
            t = ((grid - pa) @ seg / seg.dot(seg).clamp_min(1e-6)).clamp(0, 1)
            closest = pa + t[..., None] * seg
            d2 = torch.minimum(d2, ((grid - closest) ** 2).sum(-1))
        if torch.isinf(d2).all():
            out[bi, 0] = 1.0 if floor == 0 else floor
        else:
            out[bi, 0] = floor + (1 - floor) * torch.exp(-d2 / (2 * sigma**2))
    return out
