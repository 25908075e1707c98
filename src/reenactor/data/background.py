"""A clip's background plate: the scene behind the person, estimated from the frames and person masks.

Per pixel, the median over the frames in which the person mask leaves that pixel uncovered; pixels the person
covers in every frame are filled by OpenCV's Telea inpainting from the seen background around them. Used to
composite a moved person over the scene (pose augmentation of :mod:`reenactor.methods.cloning`) and available
to any method that needs a background image.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np

#: mask value (0..1) under which a pixel counts as background
BACKGROUND_THRESH = 0.2


def background_plate(
    frames: np.ndarray, masks: np.ndarray, thresh: float = BACKGROUND_THRESH, inpaint_radius: float = 5.0
) -> tuple[np.ndarray, np.ndarray]:
    """``frames`` (T, H, W, 3) uint8 and ``masks`` (T, H, W) uint8 0..255 (or float 0..1) -> ``(plate (H, W, 3)
    uint8, seen (H, W) bool)``: ``seen`` marks the pixels some frame shows as background (the rest is inpainted).
    """
    frames = np.asarray(frames)
    masks = np.asarray(masks)
    if frames.ndim != 4 or masks.shape != frames.shape[:3]:
        raise ValueError(
            f"frames (T, H, W, 3) and masks (T, H, W) expected, got {frames.shape} and {masks.shape}"
        )
    m = masks.astype(np.float32) / (255.0 if masks.dtype == np.uint8 else 1.0)
    bg = m < thresh  # (T, H, W)
    seen = bg.any(axis=0)
    vals = np.where(bg[..., None], frames.astype(np.float32), np.nan)
    with warnings.catch_warnings():  # all-NaN pixels (never seen) warn; they are inpainted below
        warnings.simplefilter("ignore", RuntimeWarning)
        plate = np.nanmedian(vals, axis=0)
    plate = np.nan_to_num(plate, nan=0.0)
    plate = np.clip(np.round(plate), 0, 255).astype(np.uint8)
    if not seen.all():
        hole = (~seen).astype(np.uint8) * 255
        if seen.any():
            plate = cv2.inpaint(plate, hole, inpaint_radius, cv2.INPAINT_TELEA)
        else:  # never any background: the mean frame is the best guess there is
            plate = np.clip(np.round(frames.astype(np.float32).mean(0)), 0, 255).astype(np.uint8)
    return plate, seen
