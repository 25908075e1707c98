"""The images the two generators see (Liu et al. 2019, Fig. 1 stage 2): the UBKP image (upper-body stick figure),
the face-landmark crop (the 68 points around the face anchor) and the UBKP-FL pair (UBKP image and the
landmark crop pasted where the body keypoints put the face). Batched torch operations on the keypoints' device,
drawn by :func:`reenactor.pose.render_torch.draw_pose_batch`: one code path for training batches
(:func:`.dataset.prepare_window_batch`) and the synthesizer, so the two can never drift apart.

Face anchor: the mean of the rigid 68-point landmarks (nose 27-35 and eyes 36-47). The landmark crop is the
``crop`` x ``crop`` square centred on it, at model scale. At synthesis the crop is pasted with its centre at
``body nose + offset``, ``offset`` being the target's median (anchor - nose) over its training frames, so
the face follows the (normalized) body keypoints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ...pose.render_torch import draw_pose_batch
from ...pose.skeleton import N_BODY, UPPER_BODY_JOINTS

RIGID_FACE = slice(27, 48)
NOSE = 0
#: keypoint arrays the UBKP image draws (the hands only with ``hands``)
UBKP_PARTS = ("body", "hand_left", "hand_right")


def face_anchors(face: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The anchors of faces ``(N, 68, 3)``: ``(N, 2)`` the mean of each face's valid (confidence > 0) rigid
    landmarks, and ``(N,)`` bool, whether at least 4 of them are valid (where not, there is no anchor: 0)."""
    pts = face[:, RIGID_FACE]
    ok = pts[..., 2] > 0
    n = ok.sum(1)
    total = torch.where(ok[..., None], pts[..., :2], 0.0).sum(1)
    return total / n.clamp_min(1)[:, None].to(total.dtype), n >= 4


def landmark_crops(face: torch.Tensor, crop: int, unit: bool = True) -> torch.Tensor:
    """Face-landmark images of faces ``(N, 68, 3)`` (model pixels): ``(N, 3, crop, crop)`` float32 in [-1, 1],
    the 68 points drawn (face contours only) around the anchor at the crop's centre; all background where the
    face has no anchor (:func:`face_anchors`). ``unit=False``: uint8 as drawn instead (background 0)."""
    anchor, ok = face_anchors(face)
    xy = face[..., :2] - anchor[:, None] + crop / 2.0
    conf = face[..., 2:] * ok[:, None, None].to(face.dtype)
    return draw_pose_batch(
        {"face": torch.cat([xy, conf], -1)}, (crop, crop), body=False, hands=False, unit=unit
    )


def ubkp_images(
    pose: Mapping[str, torch.Tensor], size: Sequence[int], hands: bool = True, unit: bool = True
) -> torch.Tensor:
    """UBKP images of poses ``{"body": (N, 25, 3), "hand_left" / "hand_right": (N, 21, 3)}`` (model pixels; a
    missing hand is not drawn): ``(N, 3, H, W)`` float32 in [-1, 1], the upper-body joints (and, with ``hands``,
    the hands) as a stick figure. ``unit=False``: uint8 as drawn instead."""
    body = pose["body"]
    keep = torch.zeros(N_BODY, 3, dtype=body.dtype, device=body.device)
    keep[:, :2] = 1.0
    keep[list(UPPER_BODY_JOINTS), 2] = 1.0
    kp = {"body": body * keep}
    if hands:
        kp.update({k: pose[k] for k in UBKP_PARTS[1:] if k in pose})
    return draw_pose_batch(kp, size, face=False, hands=hands, unit=unit)


def face_centre(body: np.ndarray, offset: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Where the landmark crop goes: body nose (25, 3) + offset, or ``fallback`` when the nose is missing."""
    if body[NOSE, 2] > 0:
        return body[NOSE, :2] + offset
    return np.asarray(fallback, np.float32)


def paste(crops: torch.Tensor, centre: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Crops ``(N, C, c, c)`` pasted onto background canvases ``(N, C, H, W)`` (-1; 0 for uint8 crops) with their
    centres at ``centre`` ``(N, 2)`` (x, y): top-left corner ``round(centre - c / 2)`` (half to even, in float64),
    clipped at the borders. One scatter, no host sync; differentiable in ``crops``."""
    n, ch, c = crops.shape[0], crops.shape[1], crops.shape[-1]
    h, w = int(size[0]), int(size[1])
    x0, y0 = torch.round(centre.double() - c / 2.0).long().unbind(-1)
    d = torch.arange(c, device=crops.device)
    xs, ys = x0[:, None] + d, y0[:, None] + d  # (N, c)
    inside = ((ys >= 0) & (ys < h))[:, :, None] & ((xs >= 0) & (xs < w))[:, None, :]
    where = torch.where(inside, ys[:, :, None] * w + xs[:, None, :], h * w)  # outside: one spare pixel
    canvas = crops.new_full((n, ch, h * w + 1), -1 if crops.is_floating_point() else 0)
    canvas = canvas.scatter(2, where.flatten(1)[:, None].expand(n, ch, c * c), crops.flatten(2))
    return canvas[..., : h * w].unflatten(-1, (h, w))


def ubkp_fl(
    pose: Mapping[str, torch.Tensor],
    crops: torch.Tensor,
    centre: torch.Tensor,
    size: Sequence[int],
    hands: bool = True,
) -> torch.Tensor:
    """UBKP-FL inputs ``(N, 6, H, W)``: the UBKP images of ``pose`` (:func:`ubkp_images`), then the landmark
    images ``crops`` ``(N, 3, c, c)`` pasted at ``centre`` ``(N, 2)`` (:func:`paste`); float32 in [-1, 1] for
    float crops in [-1, 1] (the landmark generator's), uint8 as drawn for uint8 crops (:func:`landmark_crops`'
    ``unit=False``: training batches draw in uint8, a quarter of the memory traffic, and convert once)."""
    unit = crops.is_floating_point()
    fl = paste(crops.float() if unit else crops, centre, size)
    return torch.cat([ubkp_images(pose, size, hands, unit), fl], 1)
