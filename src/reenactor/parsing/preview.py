"""Pictures of a clip's layout and pseudo-IUV for people to look at (``reenactor render --layout /
--densepose``): panels side by side, the same height as the frame."""

from __future__ import annotations

import cv2
import numpy as np

from .labels import LAYOUT

#: OpenCV colour map for U and V (turbo where this OpenCV has it)
_CMAP = getattr(cv2, "COLORMAP_TURBO", cv2.COLORMAP_JET)


def layout_overlay(frame: np.ndarray, layout: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """(H, W, 3) uint8 frame with the layout's palette colours blended over its labelled pixels."""
    frame = np.asarray(frame, np.uint8)
    layout = np.asarray(layout)
    col = LAYOUT.colourize(layout).astype(np.float32)
    a = (layout > 0)[..., None] * np.float32(alpha)
    out = frame.astype(np.float32) * (1 - a) + col * a
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def layout_panels(frame: np.ndarray, layout: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """frame | palette overlay | label map: (H, 3 W, 3) uint8."""
    frame = np.asarray(frame, np.uint8)
    return np.concatenate([frame, layout_overlay(frame, layout, alpha), LAYOUT.colourize(layout)], axis=1)


def _coordinate(c: np.ndarray, inside: np.ndarray) -> np.ndarray:
    img = cv2.applyColorMap(np.ascontiguousarray(c.astype(np.uint8)), _CMAP)[..., ::-1]
    return img * inside[..., None]


def iuv_panels(iuv: np.ndarray) -> np.ndarray:
    """The stored (H, W, 3) uint8 pseudo-IUV -> I in part colours | U | V in a colour map (0 blue .. 1 red,
    black off the body): (H, 3 W, 3) uint8."""
    from .densepose import colourize_parts

    iuv = np.asarray(iuv, np.uint8)
    inside = iuv[..., 0] > 0
    return np.concatenate(
        [colourize_parts(iuv[..., 0]), _coordinate(iuv[..., 1], inside), _coordinate(iuv[..., 2], inside)],
        axis=1,
    )


__all__ = ["layout_overlay", "layout_panels", "iuv_panels"]
