"""Keypoint heatmaps: the 18 OpenPose-COCO body points as disc maps, and back (PSGAN, Yang et al. 2018 §3.2).

Each keypoint becomes one channel that is 1 within ``radius`` pixels of it and 0 elsewhere (the paper: radius
4 at 64 x 64). A heatmap decodes to the weighted centroid of its *peak region* (the connected pixels around
the maximum that reach half of it, §4.2), with the maximum as the confidence.

BODY_25 -> COCO-18: MidHip (8) and the feet (19-24) are dropped; decoding puts MidHip at the mean of the two
hips (when both are found) and leaves the feet missing.

Pixel convention: a coordinate is a pixel centre index (x = column). Frame pixels map to heatmap pixels by
``(x + 0.5) * S / W - 0.5`` (and likewise y), so a round trip loses nothing but the disc centroid's error.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

#: BODY_25 indices of the 18 OpenPose-COCO points, in COCO-18 order
COCO18_FROM_BODY25: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
N_COCO = len(COCO18_FROM_BODY25)


def to_heatmap_xy(xy: np.ndarray, frame: tuple[int, int], size: int) -> np.ndarray:
    """(..., 2) frame pixels of ``frame`` (H, W) -> heatmap pixels of ``size`` x ``size``."""
    scale = np.array([size / frame[1], size / frame[0]], np.float64)
    return (np.asarray(xy, np.float64) + 0.5) * scale - 0.5


def from_heatmap_xy(xy: np.ndarray, frame: tuple[int, int], size: int) -> np.ndarray:
    """Inverse of :func:`to_heatmap_xy`."""
    scale = np.array([frame[1] / size, frame[0] / size], np.float64)
    return (np.asarray(xy, np.float64) + 0.5) * scale - 0.5


def encode_points(
    kp: np.ndarray, frame: tuple[float, float], size: int = 64, radius: float = 4.0, thresh: float = 0.0
) -> np.ndarray:
    """Any points ``kp`` (..., K, 3) [x, y, conf] in pixels of ``frame`` (H, W) -> (..., K, size, size) float32
    discs of ``radius`` heatmap pixels (1 inside); a point with confidence <= ``thresh`` gives an empty map
    (the 68 face points of PSGAN's expression variant go through this as they are). Drawn by
    :func:`encode_points_torch`, the one disc renderer of training batches and inference."""
    kp = torch.from_numpy(np.ascontiguousarray(kp, np.float32))
    return encode_points_torch(kp, frame, size, radius, thresh).numpy()


def to_heatmap_xy_torch(
    kp: torch.Tensor, frame: tuple[float, float] | torch.Tensor, size: int
) -> torch.Tensor:
    """:func:`to_heatmap_xy` in torch (float64): ``kp`` (..., K, 2 | 3) -> (..., K, 2) heatmap pixels; ``frame``
    (H, W) for all, or a tensor (..., 2) per item broadcast over the K points."""
    kp = kp.to(torch.float64)
    if isinstance(frame, torch.Tensor):
        hw = frame.to(device=kp.device, dtype=torch.float64)[..., None, :]  # (..., 1, 2): per item
        scale = torch.stack([size / hw[..., 1], size / hw[..., 0]], -1)
    else:
        scale = torch.tensor(
            [size / float(frame[1]), size / float(frame[0])], dtype=torch.float64, device=kp.device
        )
    return (kp[..., :2] + 0.5) * scale - 0.5


def encode_points_torch(
    kp: torch.Tensor,
    frame: tuple[float, float] | torch.Tensor,
    size: int = 64,
    radius: float = 4.0,
    thresh: float = 0.0,
) -> torch.Tensor:
    """:func:`encode_points` for a batch in torch, on ``kp``'s device: ``kp`` (..., K, 3); ``frame`` (H, W) for
    all, or a tensor (..., 2) of each item's (H, W) broadcast over ``kp``'s leading dimensions (PSGAN's face boxes
    differ per sequence). Returns (..., K, size, size) float32.

    A disc touches at most (2R + 1)^2 pixels, R = floor(radius) + 1, around its centre: the maps are zeros with
    each point's patch scattered in (the same float64 test ``dx^2 <= r^2 - dy^2`` per pixel as a full-frame
    comparison, so the same pixels), not a test of every pixel of every map: at 256 x 256 a batch of maps is
    75 MB that need only be zeroed."""
    kp = kp.to(torch.float64)
    dev = kp.device
    lead = kp.shape[:-1]
    xy = to_heatmap_xy_torch(kp, frame, size).reshape(-1, 2)  # one row a point
    ok = (kp[..., 2] > thresh).reshape(-1)
    r = int(np.floor(radius)) + 1
    offs = torch.arange(-r, r + 1, device=dev)
    base = torch.floor(torch.nan_to_num(xy, nan=0.0).clamp(-2.0 * size, 3.0 * size)).long()  # (N, 2)
    px = base[:, 0:1] + offs  # (N, P) pixel columns of each point's patch
    py = base[:, 1:2] + offs  # (N, P) rows
    dx2 = (px.double() - xy[:, 0:1]) ** 2
    rem = radius * radius - (py.double() - xy[:, 1:2]) ** 2  # what dx^2 may reach on each row
    inside = torch.le(dx2[:, None, :], rem[:, :, None])  # (N, P, P)
    inside &= (
        ((px >= 0) & (px < size))[:, None, :] & ((py >= 0) & (py < size))[:, :, None] & ok[:, None, None]
    )
    idx = (py.clamp(0, size - 1)[:, :, None] * size + px.clamp(0, size - 1)[:, None, :]).reshape(len(xy), -1)
    out = torch.zeros(len(xy), size * size, dtype=torch.float32, device=dev)
    # amax: a clamped outside pixel (value 0) never clears a drawn one it lands on
    out.scatter_reduce_(1, idx, inside.reshape(len(xy), -1).to(torch.float32), "amax")
    return out.reshape(*lead, size, size)


def encode(
    body: np.ndarray, frame: tuple[int, int], size: int = 64, radius: float = 4.0, thresh: float = 0.0
) -> np.ndarray:
    """BODY_25 ``body`` (..., 25, 3) in pixels of ``frame`` (H, W) -> (..., 18, size, size) float32 discs of
    ``radius`` heatmap pixels (1 inside); a joint with confidence <= ``thresh`` gives an empty map."""
    body = np.asarray(body, np.float32)
    return encode_points(body[..., COCO18_FROM_BODY25, :], frame, size, radius, thresh)


def encode_torch(
    body: torch.Tensor,
    frame: tuple[float, float] | torch.Tensor,
    size: int = 64,
    radius: float = 4.0,
    thresh: float = 0.0,
) -> torch.Tensor:
    """:func:`encode` for a batch in torch: BODY_25 ``body`` (..., 25, 3) -> (..., 18, size, size) float32 on its
    device (:func:`encode_points_torch`)."""
    return encode_points_torch(body[..., list(COCO18_FROM_BODY25), :], frame, size, radius, thresh)


def _peak_centroid(h: np.ndarray) -> tuple[float, float, float]:
    """(x, y, peak value) of one (S, S) map: the weighted centroid of the peak region."""
    iy, ix = np.unravel_index(int(np.argmax(h)), h.shape)
    peak = float(h[iy, ix])
    if peak <= 0:
        return float(ix), float(iy), 0.0
    region, _ = ndimage.label(h >= 0.5 * peak, structure=np.ones((3, 3)))
    m = region == region[iy, ix]
    w = h * m
    ys, xs = np.nonzero(m)
    ww = w[ys, xs]
    return float((xs * ww).sum() / ww.sum()), float((ys * ww).sum() / ww.sum()), peak


def decode_points(maps: np.ndarray, frame: tuple[float, float], min_peak: float = 0.3) -> np.ndarray:
    """(..., K, S, S) heatmaps -> (..., K, 3) [x, y, conf] in pixels of ``frame`` (H, W): each point at its
    map's peak-region centroid, confidence = the peak (clipped to [0, 1]); a map whose peak is below
    ``min_peak`` is a missing point (zeros)."""
    maps = np.asarray(maps, np.float32)
    lead, k, size = maps.shape[:-3], maps.shape[-3], maps.shape[-1]
    flat = maps.reshape(-1, k, size, size)
    out = np.zeros((len(flat), k, 3), np.float32)
    for i, seq in enumerate(flat):
        for c in range(k):
            x, y, peak = _peak_centroid(seq[c])
            if peak >= min_peak:
                out[i, c, :2] = from_heatmap_xy(np.array([x, y]), frame, size)
                out[i, c, 2] = min(peak, 1.0)
    return out.reshape(*lead, k, 3)


def decode(maps: np.ndarray, frame: tuple[int, int], min_peak: float = 0.3) -> np.ndarray:
    """(..., 18, S, S) heatmaps -> BODY_25 (..., 25, 3) [x, y, conf] in pixels of ``frame`` (H, W)
    (:func:`decode_points` per map); MidHip = mean of the hips when both are found; feet missing."""
    pts = decode_points(maps, frame, min_peak)
    out = np.zeros((*pts.shape[:-2], 25, 3), np.float32)
    out[..., COCO18_FROM_BODY25, :] = pts
    hips = out[..., [9, 12], :]
    both = (hips[..., 2] > 0).all(-1)
    mid = np.concatenate([hips[..., :2].mean(-2), hips[..., 2].min(-1, keepdims=True)], -1)
    out[..., 8, :] = np.where(both[..., None], mid, 0)
    return out


__all__ = [
    "COCO18_FROM_BODY25",
    "N_COCO",
    "encode",
    "decode",
    "encode_points",
    "encode_torch",
    "encode_points_torch",
    "decode_points",
    "to_heatmap_xy",
    "from_heatmap_xy",
]
