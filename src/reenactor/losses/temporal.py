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
    pairs = [(a, b) for a, b in limbs if a < kp.shape[1] and b < kp.shape[1]]
    if not pairs:
        return torch.full((kp.shape[0], 1, h, w), 1.0 if floor == 0 else floor, device=kp.device)
    # every limb of every pose at once, on the keypoints' device (no per-limb host decisions)
    ia = torch.tensor([a for a, _ in pairs], device=kp.device)
    ib = torch.tensor([b for _, b in pairs], device=kp.device)
    pa, pb = kp[:, ia, :2], kp[:, ib, :2]  # (B, L, 2)
    ok = (kp[:, ia, 2] > thresh) & (kp[:, ib, 2] > thresh)  # (B, L)
    seg = pb - pa
    inv = 1.0 / (seg * seg).sum(-1).clamp_min(1e-6)  # (B, L)
    xs = torch.arange(w, dtype=torch.float32, device=kp.device)
    ys = torch.arange(h, dtype=torch.float32, device=kp.device)
    d2 = torch.full((kp.shape[0], h, w), float("inf"), device=kp.device)
    for li in range(len(pairs)):  # one limb at a time over the batch: (B, H, W) temporaries, not (B, L, H, W)
        ax, ay = pa[:, li, 0, None, None], pa[:, li, 1, None, None]
        sx, sy = seg[:, li, 0, None, None], seg[:, li, 1, None, None]
        dx, dy = xs[None, None, :] - ax, ys[None, :, None] - ay
        t = ((dx * sx + dy * sy) * inv[:, li, None, None]).clamp(0, 1)
        e2 = (dx - t * sx) ** 2 + (dy - t * sy) ** 2
        e2 = torch.where(ok[:, li, None, None], e2, torch.full_like(e2, float("inf")))
        d2 = torch.minimum(d2, e2)
    out = floor + (1 - floor) * torch.exp(-d2 / (2 * sigma**2))
    none = ~ok.any(
        1
    )  # no confident limb: the floor everywhere (ones when it is 0, so the loss still applies)
    out = torch.where(none[:, None, None], torch.full_like(out, 1.0 if floor == 0 else floor), out)
    return out[:, None]
