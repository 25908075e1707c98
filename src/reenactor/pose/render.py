"""Pose rendering: the one module that draws pose images for training *and* inference.

Every method that conditions on a rendered pose (Everybody Dance Now's stick figure, vid2vid's colour
label maps, part-confidence maps as in OpenPose / "Deformable GANs") calls these functions, so the images
a generator was trained on and the images it is driven with can never drift apart.

Inputs are keypoint dicts in reenactor's canonical layout (:mod:`reenactor.pose.skeleton`)::

    {"body": (25, 3), "face": (68, 3), "hand_left": (21, 3), "hand_right": (21, 3)}

float ``[x, y, conf]`` in pixels of the image being drawn; any key may be missing, and a point with
``conf <= thresh`` is not drawn.

* :func:`draw_pose` - OpenPose-coloured stick figure (BODY_25 limb colours), white face contours, hands in
  OpenPose's per-finger rainbow. ``(H, W, 3) uint8``.
* :func:`part_confidence_maps` - one Gaussian per joint, ``S_j(p) = exp(-|p - x_j|^2 / sigma^2)``
  (OpenPose, Cao et al. 2017, eq. 7), ``(K, H, W) float32`` in [0, 1], zero for missing joints.
* :func:`label_map` - an integer label image: 0 background, one label per limb, face contour and finger
  (see :data:`LABEL_NAMES`); :func:`one_hot` turns it into ``(N_LABELS, H, W)`` channels.
* :func:`overlay` - a pose drawn over its frame, for previews.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

import cv2
import numpy as np

from .skeleton import BODY_COLORS, BODY_LIMBS, FACE_CONTOURS, HAND_EDGES

# OpenPose hand colours: one hue per finger (thumb, index, middle, ring, pinky), RGB.
FINGER_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0),
    (255, 153, 0),
    (76, 255, 0),
    (0, 255, 204),
    (0, 102, 255),
)
FACE_COLOR = (255, 255, 255)

# Label-map layout: 0 background, then body limbs, face contours, then 5 fingers per hand.
LABEL_NAMES: tuple[str, ...] = (
    ("background",)
    + tuple(f"limb_{a}_{b}" for a, b in BODY_LIMBS)
    + tuple(f"face_{i}" for i in range(len(FACE_CONTOURS)))
    + tuple(f"{side}_finger_{f}" for side in ("left", "right") for f in range(5))
)
N_LABELS = len(LABEL_NAMES)
_LIMB_LABEL0 = 1
_FACE_LABEL0 = _LIMB_LABEL0 + len(BODY_LIMBS)
_HAND_LABEL0 = {
    "hand_left": _FACE_LABEL0 + len(FACE_CONTOURS),
    "hand_right": _FACE_LABEL0 + len(FACE_CONTOURS) + 5,
}


def _canvas(canvas_or_size: np.ndarray | Sequence[int]) -> np.ndarray:
    if isinstance(canvas_or_size, np.ndarray):
        if canvas_or_size.ndim != 3 or canvas_or_size.shape[2] != 3:
            raise ValueError(f"canvas must be (H, W, 3), got {canvas_or_size.shape}")
        return np.ascontiguousarray(canvas_or_size, dtype=np.uint8).copy()
    h, w = int(canvas_or_size[0]), int(canvas_or_size[1])
    return np.zeros((h, w, 3), np.uint8)


def _scale(size: tuple[int, int]) -> float:
    """Line widths scale with image size so 64 px and 512 px renders look alike (1.0 at 256 px)."""
    return min(size) / 256.0


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


def _finger(edge_index: int) -> int:
    """Finger index 0..4 of hand edge ``edge_index`` (4 edges per finger)."""
    return edge_index // 4


def _widths(size: Sequence[int], thickness: int | None) -> tuple[int, int]:
    """Line widths ``(body, face/hands)``: ``thickness`` or ``max(1, round(4 * min(H, W)/256))``, and half of it."""
    t_body = (
        thickness if thickness is not None else max(1, int(round(4 * _scale((int(size[0]), int(size[1]))))))
    )
    return t_body, max(1, int(round(t_body / 2)))


def _edges(part: str) -> tuple[tuple[int, int, int], ...]:
    """The edges of keypoint array ``part`` in drawing order, ``(group, a, b)`` with ``a``, ``b`` point indices:
    ``group`` is the limb index in ``BODY_LIMBS`` ("body"), the contour index in ``FACE_CONTOURS`` ("face") or
    the finger 0..4 ("hand_left" / "hand_right")."""
    if part == "body":
        edges: Iterable[tuple[int, int, int]] = ((i, a, c) for i, (a, c) in enumerate(BODY_LIMBS))
    elif part == "face":
        edges = ((ci, c[i], c[i + 1]) for ci, c in enumerate(FACE_CONTOURS) for i in range(len(c) - 1))
    else:
        edges = ((_finger(e), p, q) for e, (p, q) in enumerate(HAND_EDGES))
    return tuple(edges)


def _color(part: str, group: int) -> tuple[int, int, int]:
    """RGB colour of an edge of ``part`` in ``group`` (see :func:`_edges`): the limb's end joint's colour, white
    for the face, the finger's hue for hands."""
    if part == "body":
        return BODY_COLORS[BODY_LIMBS[group][1]]
    return FACE_COLOR if part == "face" else FINGER_COLORS[group]


def _joint_radius(t_body: int) -> int:
    """Radius of the filled circle :func:`draw_pose` puts on every confident body joint."""
    return max(1, int(round(t_body * 0.9)))


def _segments(
    kp: Mapping[str, np.ndarray], part: str, thresh: float
) -> Iterator[tuple[int, tuple[int, int], tuple[int, int]]]:
    """The drawable edges of ``kp[part]`` in drawing order: ``(group, p, q)`` with pixel end points, for every
    edge (:func:`_edges`) whose two ends have ``conf > thresh``. Shared by :func:`draw_pose` and
    :func:`label_map` so colours and labels always cover the same strokes."""
    pts = kp.get(part)
    if pts is None or not len(pts):
        return
    pts = np.asarray(pts, np.float32)
    for g, p, q in _edges(part):
        if pts[p, 2] > thresh and pts[q, 2] > thresh:
            yield g, _pt(pts[p]), _pt(pts[q])


def draw_pose(
    canvas_or_size: np.ndarray | Sequence[int],
    kp: Mapping[str, np.ndarray],
    thresh: float = 0.05,
    thickness: int | None = None,
    body: bool = True,
    face: bool = True,
    hands: bool = True,
    antialias: bool = False,
) -> np.ndarray:
    """Draw a stick figure; returns ``(H, W, 3) uint8`` RGB.

    ``canvas_or_size`` is either an image ``(H, W, 3) uint8`` to draw on (copied, not modified) or a size
    ``(H, W)`` for a black canvas. ``thickness`` defaults to ``max(1, round(4 * H/256))`` for limbs (face and
    hands are drawn thinner). ``antialias=False`` (default) keeps exact colours, which label-like
    conditioning inputs want.
    """
    img = _canvas(canvas_or_size)
    t_body, t_thin = _widths(img.shape[:2], thickness)
    lt = cv2.LINE_AA if antialias else cv2.LINE_8

    if body:
        for i, p, q in _segments(kp, "body", thresh):
            cv2.line(img, p, q, _color("body", i), t_body, lt)
        b = kp.get("body")
        if b is not None and len(b):
            b = np.asarray(b, np.float32)
            r = _joint_radius(t_body)
            for j in range(b.shape[0]):
                if b[j, 2] > thresh:
                    cv2.circle(img, _pt(b[j]), r, BODY_COLORS[j], -1, lt)
    for part in (("face",) if face else ()) + (("hand_left", "hand_right") if hands else ()):
        for g, p, q in _segments(kp, part, thresh):
            cv2.line(img, p, q, _color(part, g), t_thin, lt)
    return img


def part_confidence_maps(
    body: np.ndarray, size: Sequence[int], sigma: float = 6.0, thresh: float = 0.05
) -> np.ndarray:
    """Per-joint Gaussian confidence maps ``(K, H, W) float32`` in [0, 1].

    ``S_j(p) = exp(-||p - x_j||^2 / sigma^2)`` (Cao et al., OpenPose, eq. 7), with ``x_j`` in pixels of the
    ``size = (H, W)`` image and ``sigma`` in pixels; joints with ``conf <= thresh`` give an all-zero map.
    Vectorised: separable (rows x columns) outer products, no per-pixel loops.
    """
    body = np.asarray(body, np.float32)
    h, w = int(size[0]), int(size[1])
    k = body.shape[0]
    ys = np.arange(h, dtype=np.float32)
    xs = np.arange(w, dtype=np.float32)
    gy = np.exp(-((ys[None, :] - body[:, 1:2]) ** 2) / (sigma**2))  # (K, H)
    gx = np.exp(-((xs[None, :] - body[:, 0:1]) ** 2) / (sigma**2))  # (K, W)
    maps = gy[:, :, None] * gx[:, None, :]
    maps[body[:, 2] <= thresh] = 0.0
    return maps.reshape(k, h, w).astype(np.float32, copy=False)


def label_map(
    size: Sequence[int],
    kp: Mapping[str, np.ndarray],
    thresh: float = 0.05,
    thickness: int | None = None,
) -> np.ndarray:
    """Integer label image ``(H, W) uint8``: 0 background, else the index in :data:`LABEL_NAMES`.

    Body limbs are drawn first, then face contours, then fingers (later parts win where they overlap).
    Lines are drawn without anti-aliasing so every pixel has exactly one label.
    """
    out = np.zeros((int(size[0]), int(size[1])), np.uint8)
    t_body, t_thin = _widths(out.shape, thickness)
    for i, p, q in _segments(kp, "body", thresh):
        cv2.line(out, p, q, _LIMB_LABEL0 + i, t_body, cv2.LINE_8)
    for ci, p, q in _segments(kp, "face", thresh):
        cv2.line(out, p, q, _FACE_LABEL0 + ci, t_thin, cv2.LINE_8)
    for side, l0 in _HAND_LABEL0.items():
        for f, p, q in _segments(kp, side, thresh):
            cv2.line(out, p, q, l0 + f, t_thin, cv2.LINE_8)
    return out


def one_hot(labels: np.ndarray, n_labels: int = N_LABELS) -> np.ndarray:
    """``(H, W)`` integer labels -> ``(n_labels, H, W) float32`` one-hot channels."""
    return (labels[None, :, :] == np.arange(n_labels, dtype=labels.dtype)[:, None, None]).astype(np.float32)


def overlay(
    frame: np.ndarray, kp: Mapping[str, np.ndarray], alpha: float = 0.75, thresh: float = 0.05
) -> np.ndarray:
    """The pose drawn over ``frame`` ``(H, W, 3) uint8``: ``alpha`` blend where the figure has pixels."""
    frame = np.asarray(frame, np.uint8)
    fig = draw_pose(frame.shape[:2], kp, thresh=thresh)
    drawn = fig.any(axis=2, keepdims=True)
    out = np.where(drawn, (alpha * fig + (1 - alpha) * frame).round(), frame)
    return out.astype(np.uint8)


def render_sequence(
    kps: Mapping[str, np.ndarray], size: Sequence[int], frames: np.ndarray | None = None, **kwargs
) -> np.ndarray:
    """Draw every frame of ``(T, K, 3)`` keypoint arrays: ``(T, H, W, 3) uint8`` (over ``frames`` if given)."""
    n = next(iter(kps.values())).shape[0]
    out = np.empty((n, int(size[0]), int(size[1]), 3), np.uint8)
    for t in range(n):
        kp_t = {k: v[t] for k, v in kps.items()}
        out[t] = overlay(frames[t], kp_t) if frames is not None else draw_pose(size, kp_t, **kwargs)
    return out


def clip_frame_pose(clip, t: int) -> dict[str, np.ndarray]:
    """Keypoint dict of frame ``t`` of a clip store (arrays it lacks are left out)."""
    from .skeleton import KEYPOINT_ARRAYS

    return {k: np.asarray(clip.load(k)[t]) for k in KEYPOINT_ARRAYS if clip.has(k)}


def write_pose_video(clip, path, style: str = "pose", thresh: float = 0.05, progress: bool = True) -> int:
    """Render a clip store's poses to an H.264 mp4 at the clip's fps; returns the frame count.

    ``style``: ``"pose"`` stick figure on black, ``"overlay"`` drawn over the frames, ``"side_by_side"``
    frame | overlay, ``"labels"`` the label map in colour; from the clip's stages, ``"layout"`` frame | layout
    palette overlay | label map and ``"densepose"`` the pseudo-IUV's I in part colours | U | V
    (:mod:`reenactor.parsing.preview`). Frames without a person are drawn as they are (black / the bare frame).
    """
    from tqdm import tqdm

    from ..errors import InputError
    from ..io.video import VideoWriter

    styles = ("pose", "overlay", "side_by_side", "labels", "layout", "densepose")
    if style not in styles:
        raise ValueError(f"style must be one of {styles}, got {style!r}")
    stage_array = {"layout": "layout", "densepose": "iuv"}.get(style)
    if stage_array is not None and not clip.has(stage_array):
        raise InputError(
            f"the clip has no {style} (`{stage_array}` array)",
            getattr(clip, "root", None) or getattr(clip, "path", None),
            f"run `reenactor layout CLIP_DIR{' --densepose' if style == 'densepose' else ''}` first"
            + (" (a pose file has none: render a clip folder)" if not hasattr(clip, "root") else ""),
        )
    h, w = clip.size
    kps = {k: clip.load(k) for k in ("body", "face", "hand_left", "hand_right") if clip.has(k)}
    frames = clip.frames() if style in ("overlay", "side_by_side", "layout") else None
    palette = _label_palette()
    extra = clip.load(stage_array) if stage_array is not None else None
    with VideoWriter(path, fps=clip.fps) as vw:
        for t in tqdm(range(clip.n_frames), desc=f"render {clip.name}", unit="frame", disable=not progress):
            kp = {k: np.asarray(v[t]) for k, v in kps.items()}
            if style == "layout":
                from ..parsing.preview import layout_panels

                img = layout_panels(np.asarray(frames[t]), np.asarray(extra[t]))
            elif style == "densepose":
                from ..parsing.preview import iuv_panels

                img = iuv_panels(np.asarray(extra[t]))
            elif style == "pose":
                img = draw_pose((h, w), kp, thresh=thresh)
            elif style == "labels":
                img = palette[label_map((h, w), kp, thresh=thresh)]
            else:
                ov = overlay(np.asarray(frames[t]), kp, thresh=thresh)
                img = ov if style == "overlay" else np.concatenate([np.asarray(frames[t]), ov], axis=1)
            vw.write(img)
    return vw.n_frames


def _label_palette() -> np.ndarray:
    """``(N_LABELS, 3) uint8`` distinct colours for label maps (background black)."""
    import colorsys

    pal = np.zeros((256, 3), np.uint8)
    for i in range(1, N_LABELS):
        r, g, b = colorsys.hsv_to_rgb((i * 0.61803) % 1.0, 0.85, 1.0)
        pal[i] = (int(r * 255), int(g * 255), int(b * 255))
    return pal


__all__ = [
    "draw_pose",
    "part_confidence_maps",
    "label_map",
    "one_hot",
    "overlay",
    "render_sequence",
    "write_pose_video",
    "clip_frame_pose",
    "LABEL_NAMES",
    "N_LABELS",
    "FINGER_COLORS",
    "FACE_COLOR",
]
