"""Pose normalization ("retargeting"): move driving keypoints into the target person's scale and position.

One interface for four transforms. Fit on the driving clip (``source``) and the target clip (``target``), then
apply to driving keypoints, one frame or a whole sequence::

    norm = fit_normalizer(auto_kind(driving_kp, target_kp), driving_kp, target_kp, source_size=(H, W))
    moved = norm.apply(driving_kp)          # {"body": (T,25,3), "face": (T,68,3), ...} -> same shapes
    json.dumps(norm.to_dict())              # saved with the model, restored by Normalizer.from_dict

Every kind is, per frame, a scale ``s`` and a translation ``(tx, ty)`` without rotation,
``x' = s x + tx, y' = s y + ty``; body, face and hands get the same transform, and so do ``face_box`` and the
x, y of the raw MediaPipe arrays (their z is multiplied by ``s``). A joint with confidence 0 is missing and
stays exactly as it was (confidence 0, coordinates untouched). For *measuring* (feet, torso, anchors) a joint
counts as visible only when its confidence exceeds ``conf_thresh`` (default :data:`VISIBLE` = 0.05, the
threshold :func:`reenactor.pose.render.draw_pose` draws with): MediaPipe reports soft visibilities, and
off-screen legs come back with confidences around 1e-5 at guessed positions. Images are never warped here; use
:meth:`Normalizer.affine` for the (2, 3) matrix of a frame.

Kinds
-----
``"edn"``
    Everybody Dance Now's global pose normalization (Chan et al. 2019, sec. 4 / appendix), following the
    authors' released ``graph_posenorm.py``: run side by side on the same keypoints, the two transforms agree to
    2e-13 px when both measure each frame alike. Five measuring rules differ on purpose, each where ours is
    better for MediaPipe's BODY_25 (the released code also fails outright on inputs handled here: no frame
    near a position, a clip whose feet never move):

    * foot point: the lowest of ankle, big toe, small toe and heel (released: the ankle alone), since the sole,
      not the ankle, touches the floor, and MediaPipe gives toes and heels;
    * height: vertical, feet to head (released: the distance from the head to the ankles' midpoint), so wide
      stances and leaning poses do not read as taller people;
    * head: the nose, else one visible ear suffices (released: both ears), so profile frames still count;
    * visibility: a joint counts above confidence 0.05 (released: above 0), since MediaPipe reports off-screen
      joints at guessed positions with confidences around 1e-5;
    * anchor x: the centre of the *source* frame (released: half the target's width), the frame the source
      coordinates live in; the two differ when driving and target frames have different widths.

    Per frame of each clip, with pixel y growing downwards:

    * height = (mean y of the two feet) - (head y), head = the nose, or the mean of the visible ears without
      a nose; each foot's y is the lowest visible point of {ankle, big toe, small toe, heel} of that side;
    * toe = the larger of the two foot y's (the foot nearer the camera's bottom edge).

    Frames need a head point and at least one foot. Per clip: ``close`` = max toe; ``far`` from the median
    toe ``m``: among frames with ``0 < m - toe < frac (close - m)`` (``median_frac``, default 0.5) the one
    furthest above the median. If the source's ``close - far`` is smaller than the target's, the target's
    range is re-centred on its midpoint with the source's half-range. The height at each position is the
    largest height among frames whose toe lies within 5 % of the clip's (close - far) of it (the nearest
    frame if none does — the released code divides by 0 there); the close height is replaced by the clip's
    global maximum height if that exceeds it by more than 10 % of the close height (the released code
    tests ``max - close > 0.1 max``; the issue's wording, followed here, is ``max > 1.1 close``).
    ``scale_close = h_close(target) / h_close(source)``, ``scale_far`` alike. Per source frame ``p = (toe - far_s)/(close_s - far_s)``
    (not clipped), ``dy = far_t + p (close_t - far_t) - toe``, ``s = scale_far + p (scale_close -
    scale_far)``, applied about the anchor ``(ax, ay)`` = (source image centre x, lower foot y of the first
    valid source frame): ``x' = s x + ax (1 - s)``, ``y' = s y + ay (1 - s) + dy``. As in the released code
    the toe lands on the interpolated target position exactly only when ``s = 1`` or ``toe = ay``; elsewhere
    it is off by ``(s - 1)(toe - ay)``. Frames without a head or feet reuse the previous valid frame's
    transform (leading ones the first valid frame's; a single frame before any, the transform at the
    source's median toe). A clip whose toes never move (``close = far``) uses ``p = 1`` (printed).
``"edn_upper"``
    Upper-body variant for clips without visible feet (e.g. carphone). Body size = neck-to-hip length
    (neck to MidHip, or to the mean of the visible hips) when hips are visible in at least half the frames
    of both clips, else shoulder width (RShoulder-LShoulder). ``s = median size(target) / median size(source)``;
    anchor = the neck (mid-shoulders when the neck is missing), ``x' = s (x - a_s) + a_t`` with ``a_s, a_t``
    the clips' per-coordinate median anchors. One transform for the whole clip.
``"first_frame"``
    Least-squares scale and translation of the first usable driving frame's torso keypoints (neck,
    shoulders, hips) onto the first usable target frame's — what single-image animation tools do:
    ``s = sum (x - x̄)·(y - ȳ) / sum |x - x̄|²``, ``t = ȳ - s x̄``. Head joints are added (printed) when
    fewer than 2 torso joints are shared.
``"global_alignment"``
    REMOT's Global Alignment Module (Yang et al. 2022, REMOT, eq. 4) for single-image targets:
    ``s = h_target / h_source`` from the heights of the two person layouts and the offset from their centres,
    ``x' = s (x - c_source) + c_target``. REMOT warps the *target's* image onto the driving layout; we move
    the driving *poses* onto the target layout, which is the inverse of the same transform. A layout is a
    person mask ``(H, W)`` / ``(T, H, W)`` (uint8 0..255: >= 128 is person) or a part-label map (> 0 is person)
    passed as ``source["mask"]`` / ``source["layout"]`` or ``source_layout=`` / ``target_layout=``; heights and
    centres come from the bounding box in pixel-edge coordinates (rows ``r0..r1`` span ``[r0, r1 + 1)``), and
    over a sequence from the median of the per-frame values (``layout_frame="median"``) or one frame (an int).

Plausibility
------------
:func:`check_fit` says when a fitted transform is plainly broken, in sentences that name the numbers. It judges
the outcome, not the fitted number (a small, far-away driver scaled up onto a close-up target, or a full-body
driver onto an upper-body model, is what normalization is for): the moved driving person's median size (the
longer side of the body joints' box) outside :data:`PLAUSIBLE_SCALE` (0.02 to 10 times the target frame's longer
side), or a translation that puts their median centre more than :data:`CENTRE_SLACK` frame sizes outside the
target frame. ``reenactor transfer`` refuses such a fit unless ``--force``, and separately refuses a driver most of
whose frames would render an empty pose (bikes.mp4, a montage with scene cuts, onto a carphone model).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError, InputError
from .skeleton import J

logger = logging.getLogger(__name__)

KINDS: tuple[str, ...] = ("edn", "edn_upper", "first_frame", "global_alignment")
#: the moved driving person's size (longer side of the body joints' box) as a share of the target frame's longer
#: side (see :func:`check_fit`): outside this range a fit is plainly broken
PLAUSIBLE_SCALE: tuple[float, float] = (0.02, 10.0)
#: the driving person's normalized median centre may lie at most this many frame sizes outside the frame
CENTRE_SLACK = 0.5
VISIBLE = 0.05  # confidence above which a joint counts as visible for measuring (render.draw_pose's default)
FORMAT_VERSION = 1

HEAD_EARS = (J["REar"], J["LEar"])
FOOT_R = (J["RAnkle"], J["RBigToe"], J["RSmallToe"], J["RHeel"])
FOOT_L = (J["LAnkle"], J["LBigToe"], J["LSmallToe"], J["LHeel"])
TORSO = (J["Neck"], J["RShoulder"], J["LShoulder"], J["MidHip"], J["RHip"], J["LHip"])
HEAD = (J["Nose"], J["REye"], J["LEye"], J["REar"], J["LEar"])
KEYPOINT_KEYS = ("body", "face", "hand_left", "hand_right")
RAW_KEYS = ("pose_raw", "face_raw", "hand_left_raw", "hand_right_raw")


def _say(msg: str) -> None:
    logger.info(f"[normalize] {msg}")


# ------------------------------------------------------------------------------------------ per-frame stats
def edn_frame_stats(
    body: np.ndarray, conf_thresh: float = VISIBLE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EDN's per-frame statistics of ``body (T, 25, 3)``.

    Returns ``height (T,)``, ``toe (T,)`` (pixels, y down) and ``valid (T,) bool``: frames with a head point
    (nose, else ear midpoint), at least one foot and a positive height. Invalid entries are NaN.
    """
    body = np.asarray(body, np.float64)
    if body.ndim == 2:
        body = body[None]
    y, ok = body[..., 1], body[..., 2] > conf_thresh
    nose_ok = ok[:, J["Nose"]]
    ears = np.where(ok[:, HEAD_EARS], y[:, HEAD_EARS], np.nan)
    with np.errstate(invalid="ignore"), _quiet():
        ear_mid = np.nanmean(ears, axis=1)
    head = np.where(nose_ok, y[:, J["Nose"]], ear_mid)

    def foot(idx: tuple[int, ...]) -> np.ndarray:
        v = np.where(ok[:, idx], y[:, idx], -np.inf).max(axis=1)
        return np.where(np.isfinite(v), v, np.nan)

    fr, fl = foot(FOOT_R), foot(FOOT_L)
    feet = np.stack([fr, fl], 1)
    with _quiet():
        feet_mean = np.nanmean(feet, axis=1)
        toe = np.nanmax(feet, axis=1)
    height = feet_mean - head
    valid = np.isfinite(height) & (height > 0)
    return np.where(valid, height, np.nan), np.where(valid, toe, np.nan), valid


class _quiet:
    """Silence numpy's 'mean of empty slice' warnings for all-NaN rows (they become NaN, which we handle)."""

    def __enter__(self) -> None:
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: Any) -> None:
        self._w.__exit__(*exc)


def feet_visible(body: np.ndarray, min_share: float = 0.5, conf_thresh: float = VISIBLE) -> bool:
    """True when at least ``min_share`` of the frames of ``body (T, 25, 3)`` have a head and a foot."""
    _, _, valid = edn_frame_stats(body, conf_thresh)
    return bool(valid.size and valid.mean() >= min_share)


def auto_kind(
    source: Mapping[str, np.ndarray], target: Mapping[str, np.ndarray], conf_thresh: float = VISIBLE
) -> str:
    """``"edn"`` when feet are visible in at least half the frames of both clips, else ``"edn_upper"``."""
    feet = feet_visible(_body(source, "source"), conf_thresh=conf_thresh) and feet_visible(
        _body(target, "target"), conf_thresh=conf_thresh
    )
    return "edn" if feet else "edn_upper"


def _body(kp: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    if "body" not in kp:
        raise InputError(f"{name} keypoints have no 'body' array", fix="pass the clip's keypoints() dict")
    b = np.asarray(kp["body"], np.float64)
    if b.ndim == 2:
        b = b[None]
    if b.ndim != 3 or b.shape[1:] != (25, 3):
        raise InputError(f"{name} body keypoints must be (T, 25, 3) BODY_25, got {b.shape}")
    return b


# ------------------------------------------------------------------------------------------ the transform
@dataclass
class Normalizer:
    """A fitted pose normalization: ``kind`` plus JSON-able ``params`` (floats and short lists)."""

    kind: str
    params: dict[str, Any]
    _last: tuple[float, float, float] | None = field(default=None, repr=False, compare=False)

    # ---- serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-able ``{"format", "kind", "params"}``; saved beside the model and reused at transfer time."""
        return {"format": FORMAT_VERSION, "kind": self.kind, "params": _jsonable(self.params)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Normalizer:
        """Inverse of :meth:`to_dict`; :class:`CheckpointError` when the record is not a normalizer."""
        if not isinstance(d, Mapping) or "kind" not in d or "params" not in d:
            raise CheckpointError(
                "saved pose normalizer is malformed (needs 'kind' and 'params')",
                fix="re-fit it: reenactor transfer fits one when the checkpoint has none",
            )
        if d.get("format", FORMAT_VERSION) != FORMAT_VERSION:
            raise CheckpointError(
                f"saved pose normalizer has format {d.get('format')}, this reenactor reads {FORMAT_VERSION}",
                fix="re-fit the normalizer with this version",
            )
        kind = d["kind"]
        if kind not in KINDS and kind != "identity":
            raise CheckpointError(f"unknown pose normalizer kind {kind!r} (known: {', '.join(KINDS)})")
        need = _REQUIRED[kind]
        missing = [k for k in need if k not in d["params"]]
        if missing:
            raise CheckpointError(f"saved {kind} normalizer lacks {missing}", fix="re-fit the normalizer")
        return cls(kind, dict(d["params"]))

    @classmethod
    def identity(cls) -> Normalizer:
        """A transform that leaves keypoints as they are (``--normalize none``)."""
        return cls("identity", {})

    def describe(self) -> str:
        """One line for logs: the kind and its main numbers."""
        p = self.params
        if self.kind == "edn":
            return (
                f"edn: scale far {p['scale_far']:.4f} close {p['scale_close']:.4f}; source toe far/close "
                f"{p['source_far']:.1f}/{p['source_close']:.1f} -> target {p['target_far']:.1f}/"
                f"{p['target_close']:.1f}; anchor ({p['anchor'][0]:.1f}, {p['anchor'][1]:.1f})"
            )
        if self.kind == "identity":
            return "identity (no normalization)"
        return f"{self.kind}: scale {p['scale']:.4f}, translation ({p['tx']:.2f}, {p['ty']:.2f})"

    # ---- per-frame parameters
    def frame_params(self, body: np.ndarray | None) -> np.ndarray:
        """Per-frame ``(T, 3)`` float64 ``[s, tx, ty]`` for ``body (T, 25, 3)`` (or ``(25, 3)`` -> ``(1, 3)``).

        Only ``"edn"`` depends on the frame (through its toe position); for a single frame without a head or
        feet it reuses the previous :meth:`apply` call's transform (streaming), see the module docstring.
        """
        p = self.params
        single = body is not None and np.ndim(body) == 2
        n = 1 if body is None or single else int(np.shape(body)[0])
        if self.kind == "identity":
            return np.tile([1.0, 0.0, 0.0], (n, 1))
        if self.kind != "edn":
            return np.tile([p["scale"], p["tx"], p["ty"]], (n, 1)).astype(np.float64)
        ax, ay = p["anchor"]
        if body is None:
            toe = np.full(n, np.nan)
        else:
            _, toe, _ = edn_frame_stats(np.asarray(body), p.get("conf_thresh", VISIBLE))
        valid = np.isfinite(toe)
        if not valid.any():
            fallback = (
                self._last if self._last is not None else self._edn_params(p["source_median_toe"], ax, ay)
            )
            out = np.tile(fallback, (n, 1))
            return out
        out = np.empty((n, 3))
        out[valid] = np.stack([self._edn_params(t, ax, ay) for t in toe[valid]])
        # invalid frames: previous valid frame's transform; leading ones the first valid frame's
        idx = np.where(valid, np.arange(n), -1)
        idx = np.maximum.accumulate(idx)
        first = int(np.argmax(valid))
        idx[idx < 0] = first
        out = out[idx]
        if single:
            self._last = tuple(out[-1])
        return out

    def _edn_params(self, toe: float, ax: float, ay: float) -> tuple[float, float, float]:
        p = self.params
        rng = p["source_close"] - p["source_far"]
        frac = (toe - p["source_far"]) / rng if rng > 0 else 1.0
        target_pos = p["target_far"] + frac * (p["target_close"] - p["target_far"])
        dy = target_pos - toe
        s = p["scale_far"] + frac * (p["scale_close"] - p["scale_far"])
        return float(s), float(ax * (1 - s)), float(ay * (1 - s) + dy)

    def affine(self, body: np.ndarray | None = None) -> np.ndarray:
        """``(T, 2, 3)`` (or ``(2, 3)`` for one frame) matrices ``[[s, 0, tx], [0, s, ty]]`` for image warping."""
        fp = self.frame_params(body)
        m = np.zeros((len(fp), 2, 3))
        m[:, 0, 0] = m[:, 1, 1] = fp[:, 0]
        m[:, 0, 2], m[:, 1, 2] = fp[:, 1], fp[:, 2]
        return m[0] if body is not None and np.ndim(body) == 2 else m

    def reset(self) -> None:
        """Forget the streaming state (the last frame's transform) before a new driving video."""
        self._last = None

    # ---- application
    def apply(self, kp: Mapping[str, Any]) -> dict[str, Any]:
        """Transform a keypoint dict: one frame (``body (25, 3)``) or a sequence (``body (T, 25, 3)``).

        ``body``, ``face``, ``hand_left``, ``hand_right`` (``(..., K, 3)`` [x, y, conf], conf 0 = missing and
        left untouched), ``face_box`` (``(..., 4)`` x0, y0, x1, y1; all-zero = none) and the raw MediaPipe
        arrays (``*_raw``: x, y moved, z scaled; all-zero rows untouched) get the same per-frame transform.
        Other entries (frames, masks, flags) are passed through unchanged. Returns a new dict.
        """
        body = kp.get("body")
        if body is not None:
            body = np.asarray(body)
        fp = self.frame_params(body)  # (T, 3)
        single = body is not None and body.ndim == 2
        out: dict[str, Any] = dict(kp)
        for key, val in kp.items():
            if val is None:
                continue
            if key in KEYPOINT_KEYS:
                out[key] = _apply_kp(np.asarray(val), fp, single)
            elif key == "face_box":
                out[key] = _apply_box(np.asarray(val), fp, single)
            elif key in RAW_KEYS:
                out[key] = _apply_raw(np.asarray(val), fp, single)
        return out


_REQUIRED: dict[str, tuple[str, ...]] = {
    "edn": (
        "scale_close",
        "scale_far",
        "source_close",
        "source_far",
        "target_close",
        "target_far",
        "anchor",
        "source_median_toe",
    ),
    "edn_upper": ("scale", "tx", "ty"),
    "first_frame": ("scale", "tx", "ty"),
    "global_alignment": ("scale", "tx", "ty"),
    "identity": (),
}


def _per_frame(fp: np.ndarray, arr: np.ndarray, single: bool, lead: int) -> tuple[np.ndarray, ...]:
    """Broadcast (T,) params against ``arr``; ``lead`` = number of trailing axes after the frame axis."""
    s, tx, ty = fp[:, 0], fp[:, 1], fp[:, 2]
    if single or arr.ndim == lead:
        return np.float64(s[-1]), np.float64(tx[-1]), np.float64(ty[-1])
    if len(s) == 1 and arr.shape[0] != 1:
        s, tx, ty = (np.repeat(v, arr.shape[0]) for v in (s, tx, ty))
    if len(s) != arr.shape[0]:
        raise InputError(f"keypoint arrays have {arr.shape[0]} frames but body has {len(s)}")
    shape = (-1,) + (1,) * (lead - 1)
    return s.reshape(shape), tx.reshape(shape), ty.reshape(shape)


def _apply_kp(arr: np.ndarray, fp: np.ndarray, single: bool) -> np.ndarray:
    out = np.array(arr, dtype=arr.dtype if arr.dtype.kind == "f" else np.float32, copy=True)
    s, tx, ty = _per_frame(fp, arr, single, lead=2)
    ok = arr[..., 2] > 0
    x = s * arr[..., 0] + tx
    y = s * arr[..., 1] + ty
    out[..., 0] = np.where(ok, x, arr[..., 0])
    out[..., 1] = np.where(ok, y, arr[..., 1])
    return out


def _apply_box(arr: np.ndarray, fp: np.ndarray, single: bool) -> np.ndarray:
    out = np.array(arr, dtype=arr.dtype if arr.dtype.kind == "f" else np.float32, copy=True)
    s, tx, ty = (np.reshape(v, -1) for v in _per_frame(fp, arr, single, lead=1))
    if out.ndim == 1:
        out = out[None]
    has = np.any(out != 0, axis=-1)
    for c, t in ((0, tx), (1, ty), (2, tx), (3, ty)):
        out[..., c] = np.where(has, s * out[..., c] + t, out[..., c])
    return out[0] if arr.ndim == 1 else out


def _apply_raw(arr: np.ndarray, fp: np.ndarray, single: bool) -> np.ndarray:
    out = np.array(arr, dtype=arr.dtype if arr.dtype.kind == "f" else np.float32, copy=True)
    s, tx, ty = _per_frame(fp, arr, single, lead=2)
    has = np.any(arr[..., :3] != 0, axis=-1)
    out[..., 0] = np.where(has, s * arr[..., 0] + tx, arr[..., 0])
    out[..., 1] = np.where(has, s * arr[..., 1] + ty, arr[..., 1])
    if arr.shape[-1] >= 3:
        out[..., 2] = np.where(has, s * arr[..., 2], arr[..., 2])
    return out


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj)
    if isinstance(obj, (np.integer, int)) and not isinstance(obj, bool):
        return int(obj)
    return obj


# ------------------------------------------------------------------------------------------ fitting
def fit_normalizer(
    kind: str, source: Mapping[str, Any], target: Mapping[str, Any], **opts: Any
) -> Normalizer:
    """Fit a :class:`Normalizer` that moves ``source`` (driving) keypoints onto ``target``'s scale and position.

    ``source`` / ``target``: keypoint dicts of ``(T, K, 3)`` arrays (``body`` required; a single image may be
    ``(25, 3)``), plus ``mask`` / ``layout`` for ``"global_alignment"``. ``kind``: one of :data:`KINDS` or
    ``"auto"`` (:func:`auto_kind`). Options: ``"edn"`` — ``median_frac`` (0.5), ``source_size`` ``(H, W)`` of the
    source frames (anchor x = W / 2; without it the first valid frame's body-box centre x is used, printed),
    ``close_window`` (0.05), ``max_height_slack`` (0.10); ``"edn_upper"`` — ``measure`` ("auto" | "torso" |
    "shoulders"); ``"first_frame"`` — ``source_frame`` / ``target_frame`` (first usable by default);
    ``"global_alignment"`` — ``source_layout``, ``target_layout``, ``layout_frame`` ("median" or an int),
    ``mask_threshold`` (128 for uint8 masks), ``source_boxes`` / ``target_boxes`` (per-frame heights and
    centres already measured with :func:`layout_box`, instead of the layouts). All keypoint kinds take ``conf_thresh`` (:data:`VISIBLE`).
    """
    if kind == "auto":
        kind = auto_kind(source, target, opts.get("conf_thresh", VISIBLE))
        _say(
            f"auto: using {kind!r} ({'feet visible' if kind == 'edn' else 'feet not visible in both clips'})"
        )
    if kind == "edn":
        return _fit_edn(_body(source, "source"), _body(target, "target"), **opts)
    if kind == "edn_upper":
        return _fit_edn_upper(_body(source, "source"), _body(target, "target"), **opts)
    if kind == "first_frame":
        return _fit_first_frame(_body(source, "source"), _body(target, "target"), **opts)
    if kind == "global_alignment":
        return _fit_global_alignment(source, target, **opts)
    if kind in ("none", "identity"):
        return Normalizer.identity()
    raise InputError(
        f"unknown normalization kind {kind!r}", fix=f"use one of: auto, {', '.join(KINDS)}, none"
    )


def _edn_positions(toe: np.ndarray, frac: float, name: str) -> tuple[float, float, float]:
    """``(close, far, median)`` toe positions of one clip (EDN). ``toe`` holds valid frames only."""
    close = float(toe.max())
    median = float(np.median(toe))
    d = median - toe
    sel = (d > 0) & (d < frac * (close - median))
    if sel.any():
        far = median - float(d[sel].max())
    else:
        far = median if median < close else close
        _say(
            f"{name}: no frame lies above the median toe within median_frac of it; far position = "
            f"{'median' if median < close else 'close (the feet never move in depth)'} ({far:.2f})"
        )
    return close, far, median


def _edn_height_at(toe: np.ndarray, height: np.ndarray, pos: float, window: float) -> float:
    """Largest height among frames whose toe is within ``window`` of ``pos`` (the nearest frames if none)."""
    dist = np.abs(toe - pos)
    sel = dist <= window + 1e-9
    if not sel.any():
        sel = dist <= dist.min() + 1e-9
    return float(height[sel].max())


def _fit_edn(
    src: np.ndarray,
    tgt: np.ndarray,
    median_frac: float = 0.5,
    source_size: Any = None,
    close_window: float = 0.05,
    max_height_slack: float = 0.10,
    conf_thresh: float = VISIBLE,
    **unused: Any,
) -> Normalizer:
    _no_unused("edn", unused)
    hs, ts, vs = edn_frame_stats(src, conf_thresh)
    ht, tt, vt = edn_frame_stats(tgt, conf_thresh)
    for name, v in (("source", vs), ("target", vt)):
        if not v.any():
            raise InputError(
                f"edn normalization: no {name} frame shows a head and a foot",
                fix="use --normalize edn_upper (upper-body clips) or first_frame",
            )
    hs, ts, ht, tt = hs[vs], ts[vs], ht[vt], tt[vt]
    s_close, s_far, s_med = _edn_positions(ts, median_frac, "source")
    t_close, t_far, _ = _edn_positions(tt, median_frac, "target")
    if s_close - s_far < t_close - t_far:  # re-centre the target's range with the source's half-range
        mid, half = 0.5 * (t_close + t_far), 0.5 * (s_close - s_far)
        t_close, t_far = mid + half, mid - half
    if s_close - s_far <= 0:
        _say("source feet never move in depth: every frame uses the close-position transform (p = 1)")

    def heights(toe: np.ndarray, h: np.ndarray, close: float, far: float) -> tuple[float, float]:
        win = close_window * (close - far)
        h_close = _edn_height_at(toe, h, close, win)
        h_far = _edn_height_at(toe, h, far, win)
        if h.max() > (1.0 + max_height_slack) * h_close:
            h_close = float(h.max())
        return h_close, h_far

    hs_close, hs_far = heights(ts, hs, s_close, s_far)
    ht_close, ht_far = heights(tt, ht, t_close, t_far)
    first = int(np.argmax(vs))
    ay = float(edn_frame_stats(src[first], conf_thresh)[1][0])
    if source_size is not None:
        ax = float(source_size[1]) / 2.0
    else:
        ok = src[first, :, 2] > conf_thresh
        xs = src[first, ok, 0]
        ax = 0.5 * float(xs.min() + xs.max())
        _say(
            f"edn: no source_size given; anchor x = body-box centre of the first valid frame ({ax:.1f}) "
            "instead of the image centre"
        )
    params = {
        "scale_close": ht_close / hs_close,
        "scale_far": ht_far / hs_far,
        "source_close": s_close,
        "source_far": s_far,
        "target_close": t_close,
        "target_far": t_far,
        "anchor": [ax, ay],
        "source_median_toe": s_med,
        "median_frac": median_frac,
        "conf_thresh": conf_thresh,
        "heights": {
            "source_close": hs_close,
            "source_far": hs_far,
            "target_close": ht_close,
            "target_far": ht_far,
        },
    }
    return Normalizer("edn", _jsonable(params))


def _torso_size(body: np.ndarray, measure: str, conf_thresh: float = VISIBLE) -> np.ndarray:
    """Per-frame body size ``(T,)`` (NaN where not measurable): neck-hip length or shoulder width."""
    xy, ok = body[..., :2], body[..., 2] > conf_thresh
    if measure == "torso":
        hips = np.where(ok[:, (J["RHip"], J["LHip"]), None], xy[:, (J["RHip"], J["LHip"])], np.nan)
        with _quiet():
            hip = np.where(ok[:, J["MidHip"], None], xy[:, J["MidHip"]], np.nanmean(hips, axis=1))
        d = np.linalg.norm(xy[:, J["Neck"]] - hip, axis=-1)
        return np.where(ok[:, J["Neck"]], d, np.nan)
    d = np.linalg.norm(xy[:, J["RShoulder"]] - xy[:, J["LShoulder"]], axis=-1)
    return np.where(ok[:, J["RShoulder"]] & ok[:, J["LShoulder"]], d, np.nan)


def _neck_anchor(body: np.ndarray, conf_thresh: float = VISIBLE) -> np.ndarray:
    """Per-frame anchor ``(T, 2)``: the neck, else the shoulders' midpoint (NaN if neither)."""
    xy, ok = body[..., :2], body[..., 2] > conf_thresh
    mid = np.where(
        (ok[:, J["RShoulder"]] & ok[:, J["LShoulder"]])[:, None],
        0.5 * (xy[:, J["RShoulder"]] + xy[:, J["LShoulder"]]),
        np.nan,
    )
    return np.where(ok[:, J["Neck"], None], xy[:, J["Neck"]], mid)


def _fit_edn_upper(
    src: np.ndarray, tgt: np.ndarray, measure: str = "auto", conf_thresh: float = VISIBLE, **unused: Any
) -> Normalizer:
    _no_unused("edn_upper", unused)
    if measure == "auto":
        ok_s = np.isfinite(_torso_size(src, "torso", conf_thresh)).mean()
        ok_t = np.isfinite(_torso_size(tgt, "torso", conf_thresh)).mean()
        measure = "torso" if min(ok_s, ok_t) >= 0.5 else "shoulders"
    if measure not in ("torso", "shoulders"):
        raise InputError(f"edn_upper: unknown measure {measure!r}", fix="use auto, torso or shoulders")
    size_s, size_t = _torso_size(src, measure, conf_thresh), _torso_size(tgt, measure, conf_thresh)
    a_s, a_t = _neck_anchor(src, conf_thresh), _neck_anchor(tgt, conf_thresh)
    for name, sz, a in (("source", size_s, a_s), ("target", size_t, a_t)):
        good = np.isfinite(sz) & (sz > 0)
        if not good.any() or not np.isfinite(a).all(axis=1).any():
            what = "neck-to-hip length" if measure == "torso" else "shoulder width"
            raise InputError(
                f"edn_upper normalization: no {name} frame shows the {what} and the neck",
                fix="check the clip has a visible person (reenactor extract) or use first_frame",
            )
    s = float(
        np.median(size_t[np.isfinite(size_t) & (size_t > 0)])
        / np.median(size_s[np.isfinite(size_s) & (size_s > 0)])
    )
    ms = np.median(a_s[np.isfinite(a_s).all(axis=1)], axis=0)
    mt = np.median(a_t[np.isfinite(a_t).all(axis=1)], axis=0)
    tx, ty = mt - s * ms
    return Normalizer(
        "edn_upper",
        _jsonable(
            {"scale": s, "tx": tx, "ty": ty, "measure": measure, "source_anchor": ms, "target_anchor": mt}
        ),
    )


def _first_usable(
    body: np.ndarray, joints: tuple[int, ...], frame: int | None, name: str, conf_thresh: float
) -> int:
    if frame is not None:
        if not -len(body) <= frame < len(body):
            raise InputError(f"first_frame: {name}_frame {frame} is outside the clip ({len(body)} frames)")
        return int(frame) % len(body)
    n_ok = (body[:, joints, 2] > conf_thresh).sum(axis=1)
    good = np.where(n_ok >= 2)[0]
    if not len(good):
        raise InputError(
            f"first_frame normalization: no {name} frame shows two torso joints",
            fix="check the clip has a visible person (reenactor extract)",
        )
    return int(good[0])


def _fit_first_frame(
    src: np.ndarray,
    tgt: np.ndarray,
    source_frame: int | None = None,
    target_frame: int | None = None,
    conf_thresh: float = VISIBLE,
    **unused: Any,
) -> Normalizer:
    _no_unused("first_frame", unused)
    i = _first_usable(src, TORSO + HEAD, source_frame, "source", conf_thresh)
    j = _first_usable(tgt, TORSO + HEAD, target_frame, "target", conf_thresh)
    c = conf_thresh
    joints = [k for k in TORSO if src[i, k, 2] > c and tgt[j, k, 2] > c]
    if len(joints) < 2:
        joints = [k for k in TORSO + HEAD if src[i, k, 2] > c and tgt[j, k, 2] > c]
        _say(f"first_frame: fewer than 2 torso joints shared; fitting on torso + head joints {joints}")
    if len(joints) < 2:
        raise InputError(
            "first_frame normalization: the two first frames share fewer than 2 torso/head joints",
            fix="choose other frames with source_frame= / target_frame=",
        )
    x, y = src[i, joints, :2], tgt[j, joints, :2]
    xm, ym = x.mean(0), y.mean(0)
    den = float(((x - xm) ** 2).sum())
    if den <= 0:
        raise InputError("first_frame normalization: the shared joints coincide", fix="choose other frames")
    s = float(((x - xm) * (y - ym)).sum() / den)
    tx, ty = ym - s * xm
    resid = float(np.sqrt(((s * x + [tx, ty] - y) ** 2).sum(-1).mean()))
    return Normalizer(
        "first_frame",
        _jsonable(
            {
                "scale": s,
                "tx": tx,
                "ty": ty,
                "joints": joints,
                "source_frame": i,
                "target_frame": j,
                "rms_residual": resid,
            }
        ),
    )


def layout_box(layout: np.ndarray, threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame person-layout heights ``(T,)`` and centres ``(T, 2)`` (x, y), NaN for empty frames.

    ``layout`` ``(H, W)`` or ``(T, H, W)``: a person mask or a part-label map. Person pixels: ``>= threshold``
    (default: 128 for masks with values above 1, 0.5 for float/bool masks in [0, 1]; pass 1 for label maps).
    Pixel-edge coordinates: rows ``r0..r1`` span ``[r0, r1 + 1)``, height ``r1 + 1 - r0``.
    """
    lay = np.asarray(layout)
    if lay.ndim == 2:
        lay = lay[None]
    if lay.ndim != 3:
        raise InputError(f"a layout must be (H, W) or (T, H, W), got {lay.shape}")
    if threshold is None:
        threshold = 128 if lay.dtype.kind in "iu" and lay.max(initial=0) > 1 else 0.5
    fg = lay >= threshold
    rows, cols = fg.any(axis=2), fg.any(axis=1)
    n = len(lay)
    heights, centres = np.full(n, np.nan), np.full((n, 2), np.nan)
    for t in range(n):
        r, c = np.where(rows[t])[0], np.where(cols[t])[0]
        if len(r):
            heights[t] = r[-1] + 1 - r[0]
            centres[t] = (0.5 * (c[0] + c[-1] + 1), 0.5 * (r[0] + r[-1] + 1))
    return heights, centres


def layout_edges_torch(fg: torch.Tensor) -> torch.Tensor:
    """The person boxes of a batch of masks ``fg`` (B, H, W) bool, in torch on their device with no read back
    to the host: (B, 4) float64 ``(r0, r1, c0, c1)`` in pixel-edge coordinates (rows ``[r0, r1)``); an empty
    mask gives r0 = H, c0 = W and r1 = c1 = 0."""
    h, w = fg.shape[-2:]
    dev = fg.device

    def span(hit: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.arange(n, device=dev)
        first = torch.where(hit, idx, n).amin(-1)
        last = torch.where(hit, idx, -1).amax(-1)
        return first.double(), last.double() + 1

    (r0, r1), (c0, c1) = span(fg.any(-1), h), span(fg.any(-2), w)
    return torch.stack([r0, r1, c0, c1], 1)


def layout_box_torch(fg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`layout_box` of a batch of person masks ``fg`` (B, H, W) bool, in torch on their device with no read
    back to the host (a training step's GAM runs on every step): heights (B,) and centres (B, 2) float64 in
    pixel-edge coordinates, NaN for an empty mask."""
    return box_of_edges(layout_edges_torch(fg))


def box_of_edges(edges: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 4) boxes of :func:`layout_edges_torch` -> their heights (B,) and centres (B, 2) (x, y), NaN where
    empty."""
    r0, r1, c0, c1 = edges.unbind(1)
    empty = r1 <= 0
    heights = torch.where(empty, torch.nan, r1 - r0)
    centres = torch.stack([0.5 * (c0 + c1), 0.5 * (r0 + r1)], -1)
    return heights, torch.where(empty[:, None], torch.nan, centres)


def _layout_of(d: Mapping[str, Any], override: Any, name: str) -> tuple[np.ndarray, float | None]:
    if override is not None:
        return np.asarray(override), None
    if d.get("layout") is not None:
        return np.asarray(d["layout"]), 1
    if d.get("mask") is not None:
        return np.asarray(d["mask"]), None
    raise InputError(
        f"global_alignment needs a {name} person layout ('mask' or 'layout' array)",
        fix="extract the clip with masks (reenactor extract) or pass source_layout=/target_layout=",
    )


def alignment_numbers(
    source_height: float, source_centre: Any, target_height: float, target_centre: Any
) -> tuple[float, float, float]:
    """The global-alignment transform (REMOT eq. 4) from two person boxes (:func:`layout_box`):
    ``s = h_target / h_source`` and ``(tx, ty) = c_target - s c_source``, so ``x' = s x + t`` maps the source
    layout's box onto the target's (pixel-edge coordinates). The one place these numbers are computed: the
    ``global_alignment`` normalization (poses) and REMOT's image warp share it. Given torch tensors (heights
    (B,), centres (B, 2), e.g. from :func:`layout_box_torch`) it returns their (B, 3) ``(s, tx, ty)`` batched,
    on their device (REMOT's training step: nothing read back to the host)."""
    if isinstance(target_height, torch.Tensor):
        s = target_height / source_height
        return torch.cat([s[:, None], target_centre - s[:, None] * source_centre], 1)
    s = float(target_height) / float(source_height)
    tx, ty = np.asarray(target_centre, np.float64) - s * np.asarray(source_centre, np.float64)
    return s, float(tx), float(ty)


def _fit_global_alignment(
    source: Mapping[str, Any],
    target: Mapping[str, Any],
    source_layout: Any = None,
    target_layout: Any = None,
    layout_frame: str | int = "median",
    mask_threshold: float | None = None,
    source_boxes: Any = None,
    target_boxes: Any = None,
    **unused: Any,
) -> Normalizer:
    unused.pop("conf_thresh", None)
    _no_unused("global_alignment", unused)
    stats = {}
    for name, d, ov, boxes in (
        ("source", source, source_layout, source_boxes),
        ("target", target, target_layout, target_boxes),
    ):
        if boxes is not None:  # per-frame (heights (T,), centres (T, 2)) already measured (layout_box)
            h, c = (
                np.atleast_1d(np.asarray(boxes[0], np.float64)),
                np.asarray(boxes[1], np.float64).reshape(-1, 2),
            )
        else:
            lay, thr = _layout_of(d, ov, name)
            h, c = layout_box(lay, mask_threshold if mask_threshold is not None else thr)
        good = np.isfinite(h)
        if not good.any():
            raise InputError(
                f"global_alignment: the {name} layout is empty in every frame",
                fix="check the person mask (reenactor extract) or the mask threshold",
            )
        if layout_frame == "median":
            stats[name] = (float(np.median(h[good])), np.median(c[good], axis=0))
        else:
            k = int(layout_frame)
            if not good[k % len(h)]:
                raise InputError(f"global_alignment: the {name} layout of frame {k} is empty")
            stats[name] = (float(h[k]), c[k])
    (hs, cs), (ht, ct) = stats["source"], stats["target"]
    s, tx, ty = alignment_numbers(hs, cs, ht, ct)
    return Normalizer(
        "global_alignment",
        _jsonable(
            {
                "scale": s,
                "tx": tx,
                "ty": ty,
                "source_height": hs,
                "target_height": ht,
                "source_centre": cs,
                "target_centre": ct,
            }
        ),
    )


# ------------------------------------------------------------------------------------------ plausibility
def body_extents(body: np.ndarray, conf_thresh: float = VISIBLE) -> np.ndarray:
    """Per-frame person size ``(T,)``: the longer side of the visible body joints' bounding box (pixels); NaN for a
    frame with fewer than two visible joints."""
    b = _body({"body": body}, "driving")
    vis = b[..., 2] > conf_thresh
    out = np.full(len(b), np.nan)
    for t in range(len(b)):
        if vis[t].sum() >= 2:
            p = b[t, vis[t], :2]
            out[t] = float((p.max(0) - p.min(0)).max())
    return out


def body_centres(body: np.ndarray, conf_thresh: float = VISIBLE) -> np.ndarray:
    """Per-frame person centre ``(T, 2)``: the mean of the visible torso joints (neck, shoulders, hips), else of
    all visible body joints; NaN for a frame without any."""
    b = _body({"body": body}, "driving")
    vis = b[..., 2] > conf_thresh
    out = np.full((len(b), 2), np.nan)
    torso = np.zeros(25, bool)
    torso[list(TORSO)] = True
    for t in range(len(b)):
        sel = vis[t] & torso if (vis[t] & torso).any() else vis[t]
        if sel.any():
            out[t] = b[t, sel, :2].mean(0)
    return out


def fit_numbers(norm: Normalizer, body: np.ndarray | None = None) -> tuple[float, float, float]:
    """``(scale, tx, ty)`` of a fitted normalizer: its own, or for ``edn`` (per frame) the medians over
    ``body``'s frames."""
    if norm.kind == "identity":
        return 1.0, 0.0, 0.0
    if norm.kind != "edn":
        return float(norm.params["scale"]), float(norm.params["tx"]), float(norm.params["ty"])
    fp = norm.frame_params(None if body is None else _body({"body": body}, "driving"))
    norm.reset()
    return tuple(float(v) for v in np.median(fp, axis=0))  # type: ignore[return-value]


def check_fit(
    norm: Normalizer,
    driving_body: np.ndarray,
    source_size: Any = None,
    target_size: Any = None,
    conf_thresh: float = VISIBLE,
    scale_range: tuple[float, float] = PLAUSIBLE_SCALE,
    centre_slack: float = CENTRE_SLACK,
) -> list[str]:
    """What is plainly wrong with ``norm`` fitted on ``driving_body (T, 25, 3)``: one sentence per problem,
    naming the numbers; ``[]`` when it is plausible (and always for ``identity``, a choice rather than a fit).

    ``source_size`` / ``target_size`` ``(H, W)``: the driving and the target frames. The scale is judged
    relative to them (``scale x max(source) / max(target)``: how much larger, relative to the frame, the
    driving person is drawn than the driving video shows them), against ``scale_range``; the driving person's
    median centre after the transform (:func:`body_centres`) must lie within ``centre_slack`` frame sizes of
    the target frame.
    """
    if norm.kind == "identity":
        return []
    body = _body({"body": driving_body}, "driving")
    problems: list[str] = []
    s, tx, ty = fit_numbers(norm, body)
    lo, hi = scale_range
    if not (np.isfinite(s) and s > 0):
        problems.append(f"scale {s:.3g} is not a usable scale")
        return problems
    if target_size is not None:
        h, w = float(target_size[0]), float(target_size[1])
        moved = norm.apply({"body": body})["body"]
        norm.reset()
        # the outcome, not the fitted number: how large the moved driving person is in the target frame (a small
        # far-away driver scaled up onto a close-up target is what normalization is for)
        size = body_extents(moved, conf_thresh) / max(h, w)
        ok_size = np.isfinite(size)
        if ok_size.any():
            rel = float(np.median(size[ok_size]))
            if not lo <= rel <= hi:
                problems.append(
                    f"scale {s:.3g} draws the driving person {rel:.3g} times the {int(w)}x{int(h)} frame's "
                    f"size (a plausible fit stays within {lo:g} to {hi:g})"
                )
        c = body_centres(moved, conf_thresh)
        ok = np.isfinite(c).all(1)
        if ok.any():
            cx, cy = np.median(c[ok], axis=0)
            if not (
                -centre_slack * w <= cx <= (1 + centre_slack) * w
                and -centre_slack * h <= cy <= (1 + centre_slack) * h
            ):
                problems.append(
                    f"translation ({tx:.0f}, {ty:.0f}) puts the driving person's median centre at "
                    f"({cx:.0f}, {cy:.0f}), far outside the {int(w)}x{int(h)} frame"
                )
    return problems


def _no_unused(kind: str, unused: Mapping[str, Any]) -> None:
    unused = {k: v for k, v in unused.items() if k not in ("source_size", "target_size")}  # shared options
    if unused:
        raise InputError(f"{kind} normalization got unknown options {sorted(unused)}")


__all__ = [
    "KINDS",
    "VISIBLE",
    "Normalizer",
    "fit_normalizer",
    "auto_kind",
    "edn_frame_stats",
    "feet_visible",
    "layout_box",
    "PLAUSIBLE_SCALE",
    "CENTRE_SLACK",
    "check_fit",
    "fit_numbers",
    "body_centres",
    "body_extents",
]
