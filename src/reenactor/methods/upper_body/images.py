"""The images the two generators see (Liu et al. 2019, Fig. 1 stage 2): the UBKP image (upper-body stick figure),
the face-landmark crop (the 68 points around the face anchor) and the UBKP-FL pair (UBKP image and the
landmark crop pasted where the body keypoints put the face). One module for training and inference, drawn
with reenactor.pose.render so the two can never drift apart.

Face anchor: the mean of the rigid 68-point landmarks (nose 27-35 and eyes 36-47). The landmark crop is the
``crop`` x ``crop`` square centred on it, at model scale. At synthesis the crop is pasted with its centre at
``body nose + offset``, ``offset`` being the target's median (anchor - nose) over its training frames, so
the face follows the (normalized) body keypoints.
"""

from __future__ import annotations

import numpy as np

from ...pose.render import draw_pose
from ...pose.skeleton import N_BODY, UPPER_BODY_JOINTS

RIGID_FACE = np.arange(27, 48)
NOSE = 0


def face_anchor(face: np.ndarray) -> np.ndarray | None:
    """(2,) mean of the valid rigid 68-point landmarks of ``face`` (68, 3), or None if fewer than 4 are valid."""
    pts = face[RIGID_FACE]
    ok = pts[:, 2] > 0
    if ok.sum() < 4:
        return None
    return pts[ok, :2].mean(0)


def unit(img: np.ndarray) -> np.ndarray:
    """(C, H, W) uint8 -> float32 in [-1, 1] (the arithmetic of :func:`to_unit`, without the transpose)."""
    return img.astype(np.float32) / 127.5 - 1.0


def landmark_crop_u8(face: np.ndarray, crop: int) -> np.ndarray:
    """The face-landmark image as drawn: (3, crop, crop) uint8, the 68 points drawn around the anchor (all
    background, 0, when the face is missing). :func:`landmark_crop` is it in [-1, 1]."""
    a = face_anchor(face)
    if a is None:
        return np.zeros((3, crop, crop), np.uint8)
    f = face.copy()
    f[:, :2] = f[:, :2] - a + crop / 2.0
    return np.ascontiguousarray(
        draw_pose((crop, crop), {"face": f}, body=False, hands=False).transpose(2, 0, 1)
    )


def landmark_crop(face: np.ndarray, crop: int) -> np.ndarray:
    """The face-landmark image: (3, crop, crop) float32 in [-1, 1] (:func:`landmark_crop_u8`)."""
    return unit(landmark_crop_u8(face, crop))


def ubkp_image_u8(pose: dict[str, np.ndarray], size: tuple[int, int], hands: bool = True) -> np.ndarray:
    """The UBKP image as drawn: (3, H, W) uint8, the upper-body joints (and hands) as a stick figure."""
    body = np.array(pose["body"], np.float32, copy=True)
    keep = np.zeros(N_BODY, bool)
    keep[list(UPPER_BODY_JOINTS)] = True
    body[~keep, 2] = 0.0
    kp = {"body": body}
    if hands:
        for k in ("hand_left", "hand_right"):
            if k in pose:
                kp[k] = pose[k]
    return np.ascontiguousarray(draw_pose(size, kp, face=False, hands=hands).transpose(2, 0, 1))


def ubkp_image(pose: dict[str, np.ndarray], size: tuple[int, int], hands: bool = True) -> np.ndarray:
    """The UBKP image: (3, H, W) float32 in [-1, 1] (:func:`ubkp_image_u8`)."""
    return unit(ubkp_image_u8(pose, size, hands))


def face_centre(body: np.ndarray, offset: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Where the landmark crop goes: body nose (25, 3) + offset, or ``fallback`` when the nose is missing."""
    if body[NOSE, 2] > 0:
        return body[NOSE, :2] + offset
    return np.asarray(fallback, np.float32)


def paste(crop_img: np.ndarray, centre: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Paste a (C, c, c) crop (numpy or torch) onto a background (-1; 0 for a uint8 crop) canvas (C, H, W) with
    its centre at ``centre`` (x, y), clipped at the borders. Torch in, torch out (differentiable)."""
    c = crop_img.shape[-1]
    h, w = size
    x0 = int(round(float(centre[0]) - c / 2.0))
    y0 = int(round(float(centre[1]) - c / 2.0))
    sx0, sy0 = max(0, -x0), max(0, -y0)
    dx0, dy0 = max(0, x0), max(0, y0)
    dx1, dy1 = min(w, x0 + c), min(h, y0 + c)
    if hasattr(crop_img, "new_full"):
        canvas = crop_img.new_full((crop_img.shape[0], h, w), -1.0)
    elif crop_img.dtype == np.uint8:  # as drawn: background 0 (-1 in [-1, 1])
        canvas = np.zeros((crop_img.shape[0], h, w), np.uint8)
    else:
        canvas = np.full((crop_img.shape[0], h, w), -1.0, np.float32)
    if dx1 > dx0 and dy1 > dy0:
        canvas[:, dy0:dy1, dx0:dx1] = crop_img[:, sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0]
    return canvas
