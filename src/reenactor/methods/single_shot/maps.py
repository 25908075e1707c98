"""The images and label maps single_shot's networks see, drawn by one module for training and inference.

* the target's layout ``p^M*`` and the generated / real layouts ``P^M`` as 22-channel one-hots of
  :data:`reenactor.parsing.labels.LAYOUT` (Gafni et al. 2021, sec. 3.1: 20 VIP/CIHP labels + 2 hands);
* the driving stick figure ``P^S`` (body, face and hands), drawn batched on the poses' device
  (:func:`reenactor.pose.render_torch.draw_pose_batch`, the renderer of training batches and of inference);
* the dense-pose substitute ``P^D``: a pseudo-IUV drawn from the body keypoints alone
  (:func:`reenactor.parsing.densepose.densepose_from_keypoints`, no silhouette, so the driver's body shape does
  not leak in), the same call in training and at transfer;
* the five face-part labels B2F is also conditioned on (sec. 3.2: eyebrows, eyes, nose, lips, inner mouth),
  filled from the driving 68-point landmarks;
* the body-shape augmentation of sec. 3.1 (squeeze / stretch of a layout about its vertical axis);
* the five appearance crops ``t_1..t_5 = l(I, p^M*)`` (sec. 3.2, eq. 4) and the face box of a layout (the face
  label's box, sec. 3.3: "the semantic segmentation maps ... specify the face areas").

All arrays are NumPy except the stick figures (torch); images are (H, W, 3) uint8 RGB, layouts (H, W) uint8
LAYOUT labels, keypoints (K, 3) float32 ``[x, y, conf]`` in pixels of the image they go with.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np
import torch

from ...nn.convert import to_unit
from ...parsing.labels import (
    LAYOUT,
)
from ...pose.render_torch import draw_pose_batch

N_LABELS = len(LAYOUT)  # 22
FACE_LABEL = LAYOUT.index("face")
#: the five appearance crops of eq. 4, as groups of layout labels (t_1 .. t_5); gloves go with the clothes
CROP_GROUPS: dict[str, tuple[str, ...]] = {
    "face_hair": ("hat", "hair", "sunglasses", "face"),
    "upper_clothes": ("upper_clothes", "dress", "coat", "scarf", "glove"),
    "lower_clothes": ("pants", "skirt"),
    "shoes": ("socks", "left_shoe", "right_shoe"),
    "skin": ("torso_skin", "left_arm", "right_arm", "left_leg", "right_leg", "left_hand", "right_hand"),
}
CROP_IDS: dict[str, np.ndarray] = {k: np.array([LAYOUT.index(n) for n in v]) for k, v in CROP_GROUPS.items()}
#: t_2 .. t_5: the crops that go through the ImageNet network (t_1 goes through the face descriptor)
BODY_CROPS = ("upper_clothes", "lower_clothes", "shoes", "skin")
#: (4, 22) membership of each layout label in the groups of :data:`BODY_CROPS` (the region colours' paint; the
#: face and hair keep the paper's path, the face descriptor)
GROUP_MATRIX = np.stack(
    [np.isin(np.arange(len(LAYOUT)), CROP_IDS[name]).astype(np.float32) for name in BODY_CROPS]
)
#: labels whose hue the appearance augmentation turns (the clothes, never skin or face)
CLOTHES_IDS = np.concatenate([CROP_IDS["upper_clothes"], CROP_IDS["lower_clothes"], CROP_IDS["shoes"]])
#: label permutation of a horizontal flip (the person's left and right swap)
_PAIRS = [
    ("left_arm", "right_arm"),
    ("left_leg", "right_leg"),
    ("left_shoe", "right_shoe"),
    ("left_hand", "right_hand"),
]
FLIP_LABELS = np.arange(N_LABELS, dtype=np.uint8)
for _a, _b in _PAIRS:
    FLIP_LABELS[LAYOUT.index(_a)], FLIP_LABELS[LAYOUT.index(_b)] = LAYOUT.index(_b), LAYOUT.index(_a)
#: the five face parts (sec. 3.2) from the 68-point landmarks: (points, filled)
FACE_PARTS: tuple[tuple[tuple[tuple[int, ...], ...], bool], ...] = (
    ((tuple(range(17, 22)), tuple(range(22, 27))), False),  # eyebrows
    ((tuple(range(36, 42)), tuple(range(42, 48))), True),  # eyes
    ((tuple(range(27, 31)), tuple(range(31, 36))), False),  # nose (bridge, nostrils)
    ((tuple(range(48, 60)),), True),  # lips (outer contour, filled; the inner mouth is drawn over it)
    ((tuple(range(60, 68)),), True),  # inner mouth
)
N_FACE_PARTS = len(FACE_PARTS)
CONF = 0.05  # a keypoint with confidence at or below this is missing


# ------------------------------------------------------------------------------------------ layouts


def one_hot(layout: np.ndarray) -> np.ndarray:
    """(H, W) LAYOUT labels -> (22, H, W) float32 one-hot."""
    lab = np.asarray(layout, np.int64)
    return (np.arange(N_LABELS)[:, None, None] == lab[None]).astype(np.float32)


def colourize(layout: np.ndarray) -> np.ndarray:
    """(H, W) LAYOUT labels -> (H, W, 3) uint8 in the LIP/CIHP palette (the side-by-side panel)."""
    return LAYOUT.colourize(layout)


def warp_labels(layout: np.ndarray, m: np.ndarray) -> np.ndarray:
    """A label map through a (2, 3) affine ``m`` (nearest neighbour; outside: background)."""
    h, w = layout.shape
    return cv2.warpAffine(
        np.asarray(layout, np.uint8), m, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT
    )


def layout_axis(layout: np.ndarray) -> float:
    """x of the person's vertical axis in a layout: the mean column of its labelled pixels (the centre column
    when it is empty)."""
    cols = np.nonzero(np.asarray(layout) > 0)[1]
    return float(cols.mean()) if len(cols) else (layout.shape[1] - 1) / 2.0


def stretch_matrix(factor: float, cx: float) -> np.ndarray:
    """(2, 3) affine that scales x by ``factor`` about column ``cx`` (y unchanged): sec. 3.1's squeeze
    (factor < 1) and stretch (> 1) of a body structure."""
    return np.array([[factor, 0.0, cx * (1.0 - factor)], [0.0, 1.0, 0.0]], np.float32)


def stretch_layout(layout: np.ndarray, factor: float) -> np.ndarray:
    """Squeeze / stretch a layout horizontally by ``factor`` about its own axis (:func:`layout_axis`)."""
    if factor == 1.0:
        return np.asarray(layout, np.uint8)
    return warp_labels(layout, stretch_matrix(factor, layout_axis(layout)))


# ------------------------------------------------------------------------------------------ pose maps
def stick_figures(poses: Mapping[str, torch.Tensor], size: int) -> torch.Tensor:
    """P^S of a batch of poses ``{name: (B, K, 3)}`` (keypoint arrays in pixels of the S x S frame): the
    OpenPose-style stick figures with face and hands, (B, 3, S, S) float32 in [-1, 1] on the poses' device."""
    return draw_pose_batch(poses, (size, size), thresh=CONF, unit=True)


def iuv_map(pose: Mapping[str, np.ndarray], size: int) -> np.ndarray:
    """P^D: the pseudo-IUV of a pose's body keypoints (and hands, for their axes), (3, S, S) float32 in [0, 1]
    (part index / 24, U, V), zeros without a body. Drawn from the keypoints alone (no silhouette), in training
    and at transfer alike (:func:`reenactor.parsing.densepose.densepose_from_keypoints` with ``mask=None``)."""
    from ...parsing.densepose import densepose_from_keypoints

    body = pose.get("body")
    if body is None or not (np.asarray(body)[:, 2] > CONF).any():
        return np.zeros((3, size, size), np.float32)
    hands = {k: np.asarray(pose[k], np.float32) for k in ("hand_left", "hand_right") if k in pose}
    out = densepose_from_keypoints(np.asarray(body, np.float32), None, (size, size), hands=hands or None)
    return _iuv_channels(out, size)


def _iuv_channels(out, size: int) -> np.ndarray:
    """The pseudo-DensePose output, as (I (H, W) uint8, UV (H, W, 2)) or one (H, W, 3) IUV array, -> (3, S, S)
    float32 in [0, 1] (I / 24, U, V; uint8 UV / 255)."""
    if isinstance(out, tuple):
        i, uv = out
        i = np.asarray(i, np.float32) / 24.0
        uv = np.asarray(uv)
        uv = uv.astype(np.float32) / (255.0 if uv.dtype == np.uint8 else 1.0)
        arr = np.concatenate([i[..., None], uv.reshape(*i.shape, 2)], -1)
    else:
        a = np.asarray(out)
        arr = a.astype(np.float32)
        if a.dtype == np.uint8:
            arr = arr / np.array([24.0, 255.0, 255.0], np.float32)
    arr = np.clip(arr, 0.0, 1.0)
    if arr.shape[:2] != (size, size):
        arr = cv2.resize(arr, (size, size), interpolation=cv2.INTER_NEAREST)
    return np.ascontiguousarray(arr.transpose(2, 0, 1), np.float32)


def face_parts(face: np.ndarray | None, size: int) -> np.ndarray:
    """The five face-part labels of sec. 3.2 (eyebrows, eyes, nose, lips, inner mouth) from 68-point landmarks
    (68, 3) in pixels of the S x S frame: (5, S, S) float32 in {0, 1}; a part with a missing point is not drawn,
    a missing face gives zeros."""
    out = np.zeros((N_FACE_PARTS, size, size), np.uint8)
    if face is None:
        return out.astype(np.float32)
    face = np.asarray(face, np.float32)
    t = max(1, int(round(size / 128)))
    for c, (contours, filled) in enumerate(FACE_PARTS):
        for idx in contours:
            pts = face[list(idx)]
            if (pts[:, 2] <= CONF).any():
                continue
            xy = np.round(pts[:, :2]).astype(np.int32)[None]
            if filled:
                cv2.fillPoly(out[c], xy, 1)
                cv2.polylines(out[c], xy, True, 1, t)
            else:
                cv2.polylines(out[c], xy, False, 1, t)
    return out.astype(np.float32)


# ------------------------------------------------------------------------------------------ boxes and crops
def face_box(
    layout: np.ndarray, face: np.ndarray | None = None, pad: float = 1.4, min_half: float = 2.0
) -> np.ndarray | None:
    """The square face box ``(cx, cy, half)`` in pixels: the face label's bounding box (else the valid 68-point
    landmarks' box), ``pad`` times its longer side; None when neither exists."""
    ys, xs = np.nonzero(np.asarray(layout) == FACE_LABEL)
    if len(xs) >= 4:
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    elif face is not None and (np.asarray(face)[:, 2] > CONF).sum() >= 4:
        p = np.asarray(face)[np.asarray(face)[:, 2] > CONF, :2]
        x0, y0 = p.min(0)
        x1, y1 = p.max(0)
    else:
        return None
    half = max(pad * max(x1 - x0, y1 - y0) / 2.0, min_half)
    return np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0, half], np.float32)


def box_theta(box: np.ndarray | None, size: int) -> np.ndarray:
    """The (2, 3) ``affine_grid`` matrix (``align_corners=False``) that samples the square ``box`` (cx, cy, half)
    of an S x S frame into a crop; the centre quarter of the frame when there is no box."""
    if box is None:
        box = np.array([(size - 1) / 2.0, (size - 1) / 2.0, size / 8.0], np.float32)
    cx, cy, half = (float(v) for v in box)
    a = 2.0 * half / size
    return np.array([[a, 0.0, (2 * cx + 1) / size - 1], [0.0, a, (2 * cy + 1) / size - 1]], np.float32)


def box_crop(image: np.ndarray, box: np.ndarray | None, crop: int) -> np.ndarray:
    """The square ``box`` of an image resampled to (crop, crop, 3) uint8 (edges replicated); the same
    sampling as :func:`box_theta` with ``grid_sample``."""
    theta = box_theta(box, image.shape[0])
    s = image.shape[0]
    # crop pixel (u, v) centre -> normalized -> frame pixel: x = ((a * un + b) + 1) * s / 2 - 0.5
    a, bx, by = theta[0, 0], theta[0, 2], theta[1, 2]
    k = a * s / crop
    m = np.array(
        [
            [k, 0.0, (bx + 1) * s / 2 - 0.5 - k * (crop - 1) / 2],
            [0.0, k, (by + 1) * s / 2 - 0.5 - k * (crop - 1) / 2],
        ],
        np.float32,
    )
    return cv2.warpAffine(
        image, m, (crop, crop), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )


def dlib_box(box: np.ndarray | None) -> tuple[int, int, int, int] | None:
    """A face box (cx, cy, half) as integer (left, top, right, bottom) for dlib, or None."""
    if box is None:
        return None
    cx, cy, half = (float(v) for v in box)
    return int(round(cx - half)), int(round(cy - half)), int(round(cx + half)), int(round(cy + half))


def appearance_crops(image: np.ndarray, layout: np.ndarray, crop: int) -> tuple[np.ndarray, np.ndarray]:
    """t_2 .. t_5 of eq. 4: per group of :data:`BODY_CROPS`, the group's pixels (others set to grey) in the
    square around their bounding box, resized to (crop, crop). Returns ``(crops (4, 3, crop, crop) float32 in
    [-1, 1], area (4,) float32)``, ``area`` the group's share of the frame (an absent group: a grey crop, 0)."""
    h, w = layout.shape
    out = np.zeros((len(BODY_CROPS), 3, crop, crop), np.float32)
    area = np.zeros(len(BODY_CROPS), np.float32)
    unit = to_unit(np.asarray(image, np.uint8))  # (3, H, W)
    for i, name in enumerate(BODY_CROPS):
        sel = np.isin(layout, CROP_IDS[name])
        n = int(sel.sum())
        if n == 0:
            continue
        area[i] = n / float(h * w)
        ys, xs = np.nonzero(sel)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        side = max(y1 - y0, x1 - x0)
        cy, cx = (y0 + y1) / 2.0, (x0 + x1) / 2.0
        ya, xa = int(np.floor(cy - side / 2.0)), int(np.floor(cx - side / 2.0))
        canvas = np.zeros((3, side, side), np.float32)
        sy0, sx0 = max(ya, 0), max(xa, 0)
        sy1, sx1 = min(ya + side, h), min(xa + side, w)
        part = unit[:, sy0:sy1, sx0:sx1] * sel[sy0:sy1, sx0:sx1][None]
        canvas[:, sy0 - ya : sy1 - ya, sx0 - xa : sx1 - xa] = part
        interp = cv2.INTER_AREA if side > crop else cv2.INTER_LINEAR
        out[i] = cv2.resize(canvas.transpose(1, 2, 0), (crop, crop), interpolation=interp).transpose(2, 0, 1)
    return out, area


def rotate_hue(
    image: np.ndarray, layout: np.ndarray, degrees: float, ids: np.ndarray = CLOTHES_IDS
) -> np.ndarray:
    """``image`` with the hue of the pixels labelled ``ids`` (default: the clothes) turned by ``degrees``."""
    sel = np.isin(layout, ids)
    if not sel.any() or degrees % 360 == 0:
        return image
    hsv = cv2.cvtColor(np.ascontiguousarray(image, np.uint8), cv2.COLOR_RGB2HSV_FULL)
    hue = hsv[..., 0].astype(np.int32)
    shift = int(round(degrees / 360.0 * 256)) % 256
    hsv[..., 0] = ((hue + shift) % 256).astype(np.uint8)
    out = np.array(image, np.uint8, copy=True)
    out[sel] = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL)[sel]  # other pixels keep their exact values
    return out


def region_colours(image: np.ndarray, layout: np.ndarray) -> np.ndarray:
    """The mean colour of each group of :data:`BODY_CROPS` (upper clothes, lower clothes, shoes, skin) in
    ``image``: (4, 3) float32 in [-1, 1]; 0 (mid grey) for a group the layout does not show."""
    lab = np.asarray(layout)
    unit = np.asarray(image, np.float32) / 127.5 - 1.0
    out = np.zeros((len(BODY_CROPS), 3), np.float32)
    for i, name in enumerate(BODY_CROPS):
        sel = np.isin(lab, CROP_IDS[name])
        if sel.any():
            out[i] = unit[sel].mean(0)
    return out


def recolour(
    image: np.ndarray, layout: np.ndarray, degrees: float, shift: np.ndarray, ids: np.ndarray = CLOTHES_IDS
) -> np.ndarray:
    """The colour augmentation of B2F's training pairs: the pixels labelled ``ids`` (the clothes) turned in hue by
    ``degrees`` (:func:`rotate_hue`), then moved by ``shift`` (dL, da, db) in OpenCV's 8-bit CIE Lab (clipped):
    a dark, nearly grey suit turned in hue stays nearly grey, a shift of a* / b* gives it a colour."""
    out = rotate_hue(image, layout, degrees, ids)
    sel = np.isin(layout, ids)
    if not sel.any() or not np.any(shift):
        return out
    lab = cv2.cvtColor(np.ascontiguousarray(out, np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)
    lab = np.clip(lab + np.asarray(shift, np.float32), 0, 255).astype(np.uint8)
    out = np.array(out, np.uint8, copy=True)
    out[sel] = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)[sel]
    return out
