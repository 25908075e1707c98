"""The label maps, pose images and boxes remot's networks see, drawn by one module for training and transfer.

* layouts: reenactor's 22-label :data:`~reenactor.parsing.labels.LAYOUT` merged into REMOT's six classes
  (:data:`~reenactor.parsing.labels.REMOT6`: background, head, top, bottom, shoes, limbs; sec. 3.1), as label
  maps (H, W) uint8 and one-hots (6, H, W);
* the driving pose P_t as the OpenPose-style stick figure, drawn batched on the poses' device
  (:func:`reenactor.pose.render_torch.draw_pose_batch`, the renderer of training batches and of transfer);
* the face box of a frame (the face label's box, else the face points), for the face discriminator;
* the photo moved part by part onto driving keypoints (``composition.warp: parts``);
* the Global Alignment Module's numbers (eq. 4) from two batches of layouts: the heights and centres of their
  person boxes (:func:`reenactor.pose.normalize.layout_edges_torch`) and the transform of
  :func:`reenactor.pose.normalize.alignment_numbers`, the same numbers the ``global_alignment``
  normalization computes for poses.

All arrays are NumPy except the stick figures and the GAM numbers (torch); images (H, W, 3) uint8 RGB, keypoints (K, 3) float32
``[x, y, conf]`` in pixels.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from ...parsing.labels import (
    LAYOUT,
    REMOT6,
)
from ...pose.normalize import alignment_numbers, box_of_edges, layout_box_torch, layout_edges_torch
from ...pose.render_torch import draw_pose_batch

N_CLASSES = len(REMOT6.classes)  # 6
REGIONS = REMOT6.classes[1:]  # the five regions the Region GAN draws (eq. 3)
N_REGIONS = len(REGIONS)
HEAD = REMOT6.classes.index("head")
FACE_LABEL = LAYOUT.index("face")
CONF = 0.05  # a keypoint with confidence at or below this is missing
#: a LAYOUT label per REMOT6 class, whose colour shows the class (the side-by-side panel)
_SHOW = np.array([LAYOUT.index(n) for n in ("background", "face", "upper_clothes", "pants", "left_shoe",
                                             "left_arm")])  # fmt: skip


def classes(layout: np.ndarray) -> np.ndarray:
    """(H, W) LAYOUT labels -> (H, W) uint8 REMOT6 classes."""
    return REMOT6.apply(layout)


def one_hot(labels6: np.ndarray) -> np.ndarray:
    """(H, W) REMOT6 classes -> (6, H, W) float32 one-hot."""
    lab = np.asarray(labels6, np.int64)
    return (np.arange(N_CLASSES)[:, None, None] == lab[None]).astype(np.float32)


def colourize(labels6: np.ndarray) -> np.ndarray:
    """(H, W) REMOT6 classes -> (H, W, 3) uint8 in the LIP/CIHP colours of a member label of each class."""
    return LAYOUT.colourize(_SHOW[np.asarray(labels6, np.int64).clip(0, N_CLASSES - 1)])


def stick_figures(poses: Mapping[str, torch.Tensor], size: int) -> torch.Tensor:
    """P_t of a batch of poses ``{name: (B, K, 3)}`` (keypoint arrays in pixels of the S x S frame): the stick
    figures with face and hands, (B, 3, S, S) float32 in [-1, 1] on the poses' device."""
    return draw_pose_batch(poses, (size, size), thresh=CONF, unit=True)


def face_box(
    layout: np.ndarray, face: np.ndarray | None = None, pad: float = 1.4, min_half: float = 2.0
) -> np.ndarray | None:
    """The square face box ``(cx, cy, half)`` in pixels of a LAYOUT map: the face label's box (else the valid
    68-point landmarks' box), ``pad`` times its longer side; None when neither exists."""
    ys, xs = np.nonzero(np.asarray(layout) == FACE_LABEL)
    if len(xs) >= 4:
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    elif face is not None and (np.asarray(face)[:, 2] > CONF).sum() >= 4:
        p = np.asarray(face)[np.asarray(face)[:, 2] > CONF, :2]
        (x0, y0), (x1, y1) = p.min(0), p.max(0)
    else:
        return None
    half = max(pad * max(x1 - x0, y1 - y0) / 2.0, min_half)
    return np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0, half], np.float32)


def box_theta(box: np.ndarray | None, size: int) -> np.ndarray:
    """The (2, 3) ``affine_grid`` matrix (``align_corners=False``) sampling the square ``box`` (cx, cy, half)
    of an S x S frame; the centre quarter of the frame when there is no box."""
    if box is None:
        box = np.array([size / 2.0, size / 2.0, size / 8.0], np.float32)
    cx, cy, half = (float(v) for v in box)
    a = 2.0 * half / size
    return np.array([[a, 0.0, 2 * cx / size - 1], [0.0, a, 2 * cy / size - 1]], np.float32)


def gam_numbers(source: torch.Tensor, target: torch.Tensor, edges: bool = False) -> torch.Tensor:
    """Eq. 4 per item: (B, H, W) class maps of the source and of the driving layout (> 0 is person) -> (B, 3)
    float32 ``(s, tx, ty)`` moving the source person onto the target's: s = h_target / h_source, t = c_target -
    s c_source (pixel-edge coordinates), from the person boxes (:func:`reenactor.pose.normalize.layout_edges_torch`) and
    :func:`reenactor.pose.normalize.alignment_numbers`; the identity where either layout is empty. Computed on
    the layouts' device, nothing read back to the host (it runs on every training step).

    ``edges`` (ours): a box side on the frame's border is where the frame cuts the person, not the person's
    edge (an upper body cut by the bottom of the frame, as carphone's: a head moving down shrinks its box and the
    paper's rule shrinks the source). Per axis, where either box touches the border, the scale comes from the
    other axis if neither box touches it there (else 1), and the alignment anchors on the side neither box
    touches (the top when the bottom is cut) instead of the centre, or on the head's centre where both sides are
    cut (carphone's shoulders fill the frame's width); with no border touched this is eq. 4."""
    es, et = layout_edges_torch(source > 0), layout_edges_torch(target > 0)  # (B, 4): r0, r1, c0, c1
    (hs, cs), (ht, ct) = box_of_edges(es), box_of_edges(et)
    ok = torch.isfinite(hs) & torch.isfinite(ht)
    if edges:
        h, w = source.shape[-2:]
        lo = (es[:, [0, 2]] <= 0) | (et[:, [0, 2]] <= 0)  # (B, 2) y, x: a box touches the top / left border
        hi = torch.stack([(es[:, 1] >= h) | (et[:, 1] >= h), (es[:, 3] >= w) | (et[:, 3] >= w)], 1)
        cut = lo | hi  # (B, 2): that axis is cut by the frame in either box
        ws, wt = es[:, 3] - es[:, 2], et[:, 3] - et[:, 2]
        scale = torch.where(~cut[:, 0], ht / hs, torch.where(~cut[:, 1], wt / ws, torch.ones_like(hs)))

        # anchors per axis (x, y): the centre, the low side when only the high side is cut, the high side when
        # only the low side is cut, the head's centre when both are (the head class: the part framing cuts last)
        head_s, head_t = layout_box_torch(source == HEAD)[1], layout_box_torch(target == HEAD)[1]
        heads = torch.isfinite(head_s).all(1, keepdim=True) & torch.isfinite(head_t).all(1, keepdim=True)
        cut_lo, cut_hi = lo[:, [1, 0]], hi[:, [1, 0]]

        def anchor(e: torch.Tensor, centre: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
            both = torch.where(heads, head, centre)
            return torch.where(
                cut_hi & ~cut_lo, e[:, [2, 0]], torch.where(cut_lo & ~cut_hi, e[:, [3, 1]], both)
            )

        cs, ct = anchor(es, cs, head_s), anchor(et, ct, head_t)
        hs, ht = torch.ones_like(hs), scale
    nums = alignment_numbers(hs, cs, ht, ct)
    identity = torch.tensor([1.0, 0.0, 0.0], dtype=nums.dtype, device=nums.device)
    return torch.where(ok[:, None], nums, identity).float()


def part_warped(warper, kp: Mapping[str, np.ndarray]) -> np.ndarray:
    """The photo of ``warper`` (a :class:`reenactor.pose.part_warp.PoseWarper`) moved part by part onto the
    keypoints ``kp`` -> (4, H, W) uint8: RGB and alpha x 255 (``composition.warp: parts``; compact for items)."""
    rgb, alpha = warper.warp(kp)
    a = np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.concatenate([rgb.transpose(2, 0, 1), a[None]], 0)


def part_warped_unit(x: torch.Tensor) -> torch.Tensor:
    """(..., 4, H, W) uint8 of :func:`part_warped` -> (..., 4, H, W) on ``x``'s device: the person in [-1, 1] at
    full strength where its alpha is above 0 and 0 where it is not (as the GAM-aligned source x_s M_s; not
    premultiplied by alpha, so that the soft seams keep their colour: the WCN's M decides the edge), then the
    alpha in [0, 1]."""
    from ...nn.convert import unit_from_uint8

    alpha = x[..., 3:, :, :].to(torch.float32) / 255.0
    return torch.cat([unit_from_uint8(x[..., :3, :, :]) * (alpha > 0).to(torch.float32), alpha], -3)
