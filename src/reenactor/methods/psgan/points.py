"""What PSGAN's heatmaps carry: the body (18 OpenPose-COCO points over the whole frame, §3.2) or, for the
expression variant, the 68 face points inside a square box around the face (CK+ frames are face crops, so
the paper's face heatmaps span the face; ours span ``FACE_MARGIN`` x the face's extent of the first pose,
held for the sequence)."""

from __future__ import annotations

import numpy as np

from ...errors import InputError
from ...pose import heatmaps, smoothing

#: heatmap channels per kind of points
CHANNELS = {"body": heatmaps.N_COCO, "face": 68}
#: side of the face box over the face's larger extent (the brows to the chin fill ~60 % of the box)
FACE_MARGIN = 1.6


def channels(points: str) -> int:
    return CHANNELS[points]


def face_box(face: np.ndarray) -> tuple[float, float, float]:
    """(x0, y0, side) of the square box around the seen points of one (68, 3) face."""
    seen = np.asarray(face)[:, 2] > 0
    if seen.sum() < 3:
        raise InputError(
            "the pose has no face points to start an expression from",
            fix="pass a photo or clip frame where the face is found (reenactor extract finds 68 face points)",
        )
    xy = np.asarray(face, np.float64)[seen, :2]
    lo, hi = xy.min(0), xy.max(0)
    side = FACE_MARGIN * max(float((hi - lo).max()), 4.0)
    c = (lo + hi) / 2
    return float(c[0] - side / 2), float(c[1] - side / 2), side


def map_points(
    kp: np.ndarray,
    points: str,
    frame: tuple[int, int],
    box: tuple[float, float, float] | None = None,
) -> tuple[np.ndarray, tuple[float, float]]:
    """What :func:`to_maps` draws: ``(points (..., K, 3), (H, W))`` for
    :func:`reenactor.pose.heatmaps.encode_points` - the 18 COCO points of BODY_25 ``body`` over ``frame``, or the
    68 face points moved into ``box`` (:func:`face_box`) and the box's side."""
    if points == "body":
        k = np.asarray(kp, np.float32)[..., heatmaps.COCO18_FROM_BODY25, :]
        return k, (float(frame[0]), float(frame[1]))
    x0, y0, side = box
    k = np.array(kp, np.float32)
    k[..., 0] -= x0
    k[..., 1] -= y0
    return k, (float(side), float(side))


def to_maps(
    kp: np.ndarray,
    points: str,
    frame: tuple[int, int],
    size: int,
    radius: float,
    box: tuple[float, float, float] | None = None,
) -> np.ndarray:
    """Keypoints -> heatmaps: ``body`` (..., 25, 3) BODY_25 over ``frame``; ``face`` (..., 68, 3) inside
    ``box`` (:func:`face_box`)."""
    k, hw = map_points(kp, points, frame, box)
    return heatmaps.encode_points(k, hw, size, radius)


def from_maps(
    maps: np.ndarray,
    points: str,
    frame: tuple[int, int],
    min_peak: float,
    box: tuple[float, float, float] | None = None,
) -> np.ndarray:
    """Inverse of :func:`to_maps`: BODY_25 (..., 25, 3) in ``frame`` pixels, or (..., 68, 3) face points."""
    if points == "body":
        return heatmaps.decode(maps, frame, min_peak)
    x0, y0, side = box
    k = heatmaps.decode_points(maps, (side, side), min_peak)
    seen = k[..., 2] > 0
    k[..., 0] = np.where(seen, k[..., 0] + x0, 0)
    k[..., 1] = np.where(seen, k[..., 1] + y0, 0)
    return k


def decode_sequence(
    maps: np.ndarray,
    points: str,
    frame: tuple[int, int],
    min_peak: float,
    box: tuple[float, float, float] | None = None,
    smooth: str = "none",
) -> np.ndarray:
    """(T, K, S, S) generated heatmaps -> (T, 25 | 68, 3) points (:func:`from_maps`), then filtered along time
    with ``smooth`` (:mod:`reenactor.pose.smoothing`, the extraction's filters): each frame decodes on its
    own, so a generated disc whose shape wobbles from frame to frame moves a still joint by a pixel or two."""
    kp = from_maps(maps, points, frame, min_peak, box)
    return kp if smooth == "none" else smoothing.smooth(kp, smooth)
