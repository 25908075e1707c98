"""Checks of a layout against what extraction measured: no labels outside the person mask, the face label
over the face-mesh oval, elbows and wrists inside the arm or hand label of their own side, and frame-to-frame
stability under optical flow. None of these needs ground truth, so none of them is an accuracy number: they
catch misplaced, swapped or flickering parts (a hand-drawn ground truth is the only accuracy measure).

Every function takes a layout sequence ``(T, H, W)`` uint8 :data:`reenactor.parsing.labels.LAYOUT` labels
(an ``(H, W)`` frame is a one-frame sequence) and arrays of the clip store's shapes (``mask`` (T, H, W) uint8,
``body`` (T, 25, 3), ``face_raw`` (T, 478, 3), ``frames`` (T, H, W, 3) uint8).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .labels import LAYOUT
from .layout import FACE_OVAL, MASK_THRESHOLD

#: a body joint is visible when its confidence is at least this and it lies inside the frame
VISIBLE_CONF = 0.5
#: per-label IoUs are taken for labels covering more than this share of the frame
MIN_LABEL_AREA = 0.01
#: a frame pair whose previous frame, warped by the flow, still differs by more than this mean absolute
#: colour error (0..255) is a scene cut or a flow failure, and is left out of the stability measure
MAX_WARP_ERROR = 30.0

_ARM_JOINTS = {  # BODY_25 index -> (name, labels that count as the joint's own side)
    3: ("RElbow", (LAYOUT.index("right_arm"), LAYOUT.index("right_hand"))),
    4: ("RWrist", (LAYOUT.index("right_arm"), LAYOUT.index("right_hand"))),
    6: ("LElbow", (LAYOUT.index("left_arm"), LAYOUT.index("left_hand"))),
    7: ("LWrist", (LAYOUT.index("left_arm"), LAYOUT.index("left_hand"))),
}
_OTHER_SIDE = {
    3: (LAYOUT.index("left_arm"), LAYOUT.index("left_hand")),
    4: (LAYOUT.index("left_arm"), LAYOUT.index("left_hand")),
    6: (LAYOUT.index("right_arm"), LAYOUT.index("right_hand")),
    7: (LAYOUT.index("right_arm"), LAYOUT.index("right_hand")),
}


def _seq(a: np.ndarray, frame_ndim: int) -> np.ndarray:
    a = np.asarray(a)
    return a[None] if a.ndim == frame_ndim else a


def outside_mask(layouts: np.ndarray, masks: np.ndarray, threshold: int = MASK_THRESHOLD) -> int:
    """Labelled pixels (label > 0) where the mask is below ``threshold``, over all frames."""
    lay, m = _seq(layouts, 2), _seq(masks, 2)
    return int(np.count_nonzero((lay > 0) & (m < threshold)))


def oval_mask(shape: tuple[int, int], face_raw: np.ndarray) -> np.ndarray:
    """(H, W) bool: the filled convex hull of the face mesh's oval (:data:`FACE_OVAL`)."""
    pts = np.round(np.asarray(face_raw, np.float64)[list(FACE_OVAL), :2] * 4).astype(np.int32)
    m = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(m, cv2.convexHull(pts.reshape(-1, 1, 2)), 1, cv2.LINE_8, 2)
    return m.astype(bool)


def face_coverage(layouts: np.ndarray, face_raw: np.ndarray) -> np.ndarray:
    """(T,) float: the share of the face-mesh oval's pixels labelled face; NaN where there is no mesh (or
    the oval is empty)."""
    lay, fr = _seq(layouts, 2), _seq(face_raw, 2)
    out = np.full(len(lay), np.nan)
    face = LAYOUT.index("face")
    for t in range(len(lay)):
        if not np.abs(fr[t][:, :2]).sum():
            continue
        oval = oval_mask(lay.shape[1:], fr[t])
        if oval.any():
            out[t] = float(np.count_nonzero(lay[t][oval] == face)) / float(np.count_nonzero(oval))
    return out


@dataclass
class LimbHits:
    """Visible elbows and wrists and where they landed. ``per_joint[name] = [visible, hit]``."""

    visible: int = 0
    hit: int = 0  # in the arm or hand label of the joint's own side
    other_side: int = 0  # in the other side's arm or hand label (a left/right swap)
    clothes: int = 0  # in upper clothes (a sleeve)
    background: int = 0  # outside the person mask (the mask and the keypoint disagree)
    per_joint: dict[str, list[int]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.hit / self.visible if self.visible else float("nan")


def limb_hits(layouts: np.ndarray, body: np.ndarray, min_conf: float = VISIBLE_CONF) -> LimbHits:
    """Where the visible elbows and wrists (confidence >= ``min_conf``, inside the frame) fall: the label at
    the keypoint's pixel (rounded) against the arm and hand labels of its side."""
    lay, b = _seq(layouts, 2), _seq(body, 2)
    h, w = lay.shape[1:]
    res = LimbHits(per_joint={name: [0, 0] for name, _ in _ARM_JOINTS.values()})
    clothes = LAYOUT.index("upper_clothes")
    for j, (name, own) in _ARM_JOINTS.items():
        x, y, c = b[:, j, 0], b[:, j, 1], b[:, j, 2]
        xi, yi = np.round(x).astype(np.int64), np.round(y).astype(np.int64)
        vis = (c >= min_conf) & (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        ts = np.nonzero(vis)[0]
        lab = lay[ts, yi[ts], xi[ts]]
        hit = int(np.isin(lab, own).sum())
        res.per_joint[name] = [len(ts), hit]
        res.visible += len(ts)
        res.hit += hit
        res.other_side += int(np.isin(lab, _OTHER_SIDE[j]).sum())
        res.clothes += int((lab == clothes).sum())
        res.background += int((lab == 0).sum())
    return res


@dataclass
class Stability:
    """Frame-to-frame IoUs: one per (frame pair, label covering > ``MIN_LABEL_AREA`` of the frame)."""

    ious: np.ndarray  # (N,) float
    labels: np.ndarray  # (N,) int, the label of each IoU
    pairs: int  # frame pairs measured
    skipped: int  # pairs left out (no person in one of them, or a scene cut)

    @property
    def median(self) -> float:
        return float(np.median(self.ious)) if len(self.ious) else float("nan")

    def per_label(self) -> dict[str, float]:
        return {
            LAYOUT.labels[k]: float(np.median(self.ious[self.labels == k])) for k in np.unique(self.labels)
        }


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))


def warp_previous(prev_layout: np.ndarray, back_flow: np.ndarray, grid=None) -> np.ndarray:
    """The previous frame's layout moved into the current frame: ``back_flow`` (H, W, 2) is the flow from the
    current frame to the previous one (pixel (x, y) of the current frame is at (x + u, y + v) in the
    previous); nearest-neighbour sampling, 0 outside."""
    gx, gy = grid if grid is not None else _grid(*prev_layout.shape)
    return cv2.remap(
        np.ascontiguousarray(prev_layout),
        gx + back_flow[..., 0],
        gy + back_flow[..., 1],
        cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def flow_stability(
    layouts: np.ndarray,
    frames: np.ndarray,
    min_area: float = MIN_LABEL_AREA,
    max_warp_error: float = MAX_WARP_ERROR,
    preset: str = "medium",
) -> Stability:
    """Per consecutive frame pair and per label covering more than ``min_area`` of the frame (in either
    layout), the IoU between the frame's layout and the previous layout warped by the optical flow (OpenCV
    DIS from the frame to the previous one, :func:`reenactor.data.flow.dis_flow`). Pairs where either layout
    is empty, or whose warped previous frame differs from the frame by more than ``max_warp_error`` (a cut),
    are skipped."""
    from ..data.flow import dis_flow

    lay = np.asarray(layouts)
    n = len(lay)
    h, w = lay.shape[1:]
    min_px = min_area * h * w
    gx, gy = grid = _grid(h, w)
    ious, labs, pairs, skipped = [], [], 0, 0
    for t in range(1, n):
        prev_l, cur_l = np.asarray(lay[t - 1]), np.asarray(lay[t])
        if not prev_l.any() or not cur_l.any():
            skipped += 1
            continue
        cur_f, prev_f = np.asarray(frames[t]), np.asarray(frames[t - 1])
        back = dis_flow(cur_f, prev_f, preset)
        warped_f = cv2.remap(prev_f, gx + back[..., 0], gy + back[..., 1], cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        if np.abs(warped_f.astype(np.float32) - cur_f).mean() > max_warp_error:
            skipped += 1
            continue
        pairs += 1
        warped = warp_previous(prev_l, back, grid)
        ca = np.bincount(cur_l.ravel(), minlength=len(LAYOUT))
        wa = np.bincount(warped.ravel(), minlength=len(LAYOUT))
        for k in range(1, len(LAYOUT)):
            if max(ca[k], wa[k]) <= min_px:
                continue
            a, b = cur_l == k, warped == k
            ious.append(np.count_nonzero(a & b) / np.count_nonzero(a | b))
            labs.append(k)
    return Stability(np.asarray(ious, np.float64), np.asarray(labs, np.int64), pairs, skipped)


@dataclass
class LayoutQuality:
    """The four checks of a layout sequence (see the module docstring)."""

    frames: int
    outside_mask: int
    face_frames: int  # frames with a face mesh
    face_coverage_median: float
    face_ok_share: float  # share of face frames whose oval is covered >= 95 %
    limbs: LimbHits
    stability: Stability | None

    def row(self) -> dict[str, float | int]:
        return {
            "frames": self.frames,
            "outside_mask": self.outside_mask,
            "face_frames": self.face_frames,
            "face_coverage_median": self.face_coverage_median,
            "face_ok_share": self.face_ok_share,
            "limb_visible": self.limbs.visible,
            "limb_hit_rate": self.limbs.rate,
            "limb_other_side": self.limbs.other_side,
            "limb_in_clothes": self.limbs.clothes,
            "stability_median": self.stability.median if self.stability else float("nan"),
            "stability_pairs": self.stability.pairs if self.stability else 0,
        }


def layout_quality(
    layouts: np.ndarray,
    masks: np.ndarray,
    body: np.ndarray,
    face_raw: np.ndarray | None = None,
    frames: np.ndarray | None = None,
    face_min: float = 0.95,
) -> LayoutQuality:
    """All four checks at once; stability needs ``frames`` and at least two of them."""
    lay = _seq(layouts, 2)
    cov = face_coverage(lay, face_raw) if face_raw is not None else np.full(len(lay), np.nan)
    has = ~np.isnan(cov)
    stab = flow_stability(lay, _seq(frames, 3)) if frames is not None and len(lay) > 1 else None
    return LayoutQuality(
        frames=len(lay),
        outside_mask=outside_mask(lay, masks),
        face_frames=int(has.sum()),
        face_coverage_median=float(np.median(cov[has])) if has.any() else float("nan"),
        face_ok_share=float((cov[has] >= face_min).mean()) if has.any() else float("nan"),
        limbs=limb_hits(lay, body),
        stability=stab,
    )


__all__ = [
    "outside_mask",
    "oval_mask",
    "face_coverage",
    "limb_hits",
    "LimbHits",
    "warp_previous",
    "flow_stability",
    "Stability",
    "layout_quality",
    "LayoutQuality",
    "VISIBLE_CONF",
    "MIN_LABEL_AREA",
]
