"""Pose accuracy of a generated video: keypoints re-extracted from the generated frames with the same backend
(MediaPipe Holistic, :class:`reenactor.pose.holistic.HolisticExtractor`, video/tracking mode) against reference
keypoints — the driving keypoints after normalization, i.e. the pose the generator was asked to draw.

Per body part (BODY_25 groups below, plus ``face`` 68 points and ``hands`` 2x21 when the reference has them):

* **mean pixel error**: mean Euclidean distance (pixels of the generated frame) over keypoints present in
  both the reference and the re-extraction (confidence > ``conf_threshold``);
* **PCK@0.05**: share of reference keypoints whose re-extracted position lies within 0.05 x body height of the
  reference; a keypoint the extractor misses counts as wrong;
* **detected**: share of reference keypoints that the extractor found at all.

Body height of a frame is the vertical extent (max y − min y) of the reference frame's present BODY_25
keypoints — the full height for a full-body clip, the visible extent (e.g. nose to hips) for an upper-body one;
frames with fewer than 2 present body keypoints are left out of PCK.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError

BODY_PARTS: dict[str, tuple[int, ...]] = {
    "head": (0, 15, 16, 17, 18),
    "torso": (1, 2, 5, 8, 9, 12),
    "arms": (3, 4, 6, 7),
    "legs": (10, 11, 13, 14),
    "feet": (19, 20, 21, 22, 23, 24),
}
PCK_ALPHA = 0.05
CONF_THRESHOLD = 0.3

__all__ = ["BODY_PARTS", "body_height", "compare_keypoints", "load_pose_reference", "PoseAccumulator"]


def body_height(body: np.ndarray, conf_threshold: float = CONF_THRESHOLD) -> np.ndarray:
    """``(T, 25, 3)`` -> ``(T,)`` vertical extent of present keypoints; ``nan`` with fewer than 2."""
    body = np.asarray(body, np.float32)
    ok = body[..., 2] > conf_threshold
    y = np.where(ok, body[..., 1], np.nan)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            h = np.nanmax(y, axis=-1) - np.nanmin(y, axis=-1)
    h[ok.sum(-1) < 2] = np.nan
    return h


def _part_stats(pred: np.ndarray, ref: np.ndarray, height: np.ndarray, conf: float) -> dict:
    """pred, ref (T, K, 3); height (T,). Per-frame and overall error / PCK / detection rate."""
    ref_ok = ref[..., 2] > conf
    pred_ok = pred[..., 2] > conf
    both = ref_ok & pred_ok
    dist = np.linalg.norm(pred[..., :2] - ref[..., :2], axis=-1)
    thr = PCK_ALPHA * height[:, None]
    hit = both & (dist <= thr)
    pck_den = ref_ok & np.isfinite(thr)
    n_ref = int(ref_ok.sum())
    out = {
        "n_reference_points": n_ref,
        "mean_px_error": float(dist[both].mean()) if both.any() else None,
        "pck": float(hit[pck_den].mean()) if pck_den.any() else None,
        "detected": float(both.sum() / n_ref) if n_ref else None,
    }
    with np.errstate(all="ignore"):
        per_err = np.where(
            both.any(-1), np.where(both, dist, 0).sum(-1) / np.maximum(both.sum(-1), 1), np.nan
        )
        per_pck = np.where(pck_den.any(-1), (hit & pck_den).sum(-1) / np.maximum(pck_den.sum(-1), 1), np.nan)
    return out | {"_per_frame_error": per_err, "_per_frame_pck": per_pck}


def compare_keypoints(
    pred: dict[str, np.ndarray], ref: dict[str, np.ndarray], conf_threshold: float = CONF_THRESHOLD
) -> dict:
    """Pose accuracy of re-extracted ``pred`` against ``ref`` keypoints (dicts of ``(T, K, 3)`` arrays, same T,
    same pixel frame). Returns ``{"parts": {part: {mean_px_error, pck, detected, n_reference_points}},
    "body": {...}, "per_frame": {"pose_error": (T,), "pose_pck": (T,)}, "alpha": 0.05, ...}``."""
    if "body" not in ref or "body" not in pred:
        raise ValueError("pose accuracy needs a `body` array in both the reference and the prediction")
    rb, pb = np.asarray(ref["body"], np.float32), np.asarray(pred["body"], np.float32)
    if rb.shape != pb.shape:
        raise ValueError(f"reference body {rb.shape} and re-extracted body {pb.shape} differ")
    height = body_height(rb, conf_threshold)
    parts: dict[str, dict] = {}
    for name, idx in BODY_PARTS.items():
        st = _part_stats(pb[:, idx], rb[:, idx], height, conf_threshold)
        if st["n_reference_points"]:
            parts[name] = {k: v for k, v in st.items() if not k.startswith("_")}
    if "face" in ref and "face" in pred:
        st = _part_stats(
            np.asarray(pred["face"], np.float32), np.asarray(ref["face"], np.float32), height, conf_threshold
        )
        if st["n_reference_points"]:
            parts["face"] = {k: v for k, v in st.items() if not k.startswith("_")}
    if all(k in ref and k in pred for k in ("hand_left", "hand_right")):
        ph = np.concatenate([pred["hand_left"], pred["hand_right"]], axis=1).astype(np.float32)
        rh = np.concatenate([ref["hand_left"], ref["hand_right"]], axis=1).astype(np.float32)
        st = _part_stats(ph, rh, height, conf_threshold)
        if st["n_reference_points"]:
            parts["hands"] = {k: v for k, v in st.items() if not k.startswith("_")}
    body = _part_stats(pb, rb, height, conf_threshold)
    return {
        "body": {k: v for k, v in body.items() if not k.startswith("_")},
        "parts": parts,
        "per_frame": {"pose_error": body["_per_frame_error"], "pose_pck": body["_per_frame_pck"]},
        "alpha": PCK_ALPHA,
        "conf_threshold": conf_threshold,
        "body_height_median": float(np.nanmedian(height)) if np.isfinite(height).any() else None,
    }


def load_pose_reference(
    path: str | Path, frame_size: tuple[int, int] | None = None
) -> tuple[dict, list[str]]:
    """Reference keypoints from a clip store folder or an ``.npz`` with a ``body`` (T, 25, 3) array (optional
    ``face``, ``hand_left``, ``hand_right`` and ``size`` = (H, W) of the frame the pixels refer to).

    ``frame_size`` (H, W): the generated video's size; keypoints stored for another size are rescaled (a notice
    is returned). Returns ``(keypoints dict, notices)``.
    """
    from ..data.clipstore import ClipStore

    path = Path(path)
    notices: list[str] = []
    size = None
    if ClipStore.is_clip(path):
        clip = ClipStore.open(path)
        kp = clip.keypoints()
        size = clip.size
    elif path.is_file() and path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                kp = {
                    k: np.asarray(z[k], np.float32)
                    for k in ("body", "face", "hand_left", "hand_right")
                    if k in z
                }
                size = tuple(int(v) for v in z["size"]) if "size" in z else None
        except (ValueError, OSError) as e:
            raise InputError(
                f"cannot read the pose reference ({e})", path, "give an .npz with a `body` array"
            ) from None
    elif not path.exists():
        raise InputError(
            "pose reference not found", path, "give a clip folder or an .npz with a `body` array"
        )
    else:
        raise InputError(
            "pose reference must be a clip folder or an .npz file",
            path,
            "give a clip folder (reenactor extract) or an .npz with a `body` (T, 25, 3) array",
        )
    body = kp.get("body")
    if body is None or body.ndim != 3 or body.shape[1:] != (25, 3):
        raise InputError(
            f"pose reference has no `body` (T, 25, 3) array (got {None if body is None else body.shape})",
            path,
            "save the normalized driving keypoints as body=(T, 25, 3) [x, y, conf]",
        )
    if size is not None and frame_size is not None and tuple(size) != tuple(frame_size):
        sy, sx = frame_size[0] / size[0], frame_size[1] / size[1]
        for k, v in kp.items():
            v = v.copy()
            v[..., 0] *= sx
            v[..., 1] *= sy
            kp[k] = v
        notices.append(
            f"pose reference keypoints are for {size[1]}x{size[0]} frames; rescaled to the generated "
            f"video's {frame_size[1]}x{frame_size[0]}"
        )
    return kp, notices


class PoseAccumulator:
    """Re-extracts keypoints from generated frames one at a time (MediaPipe Holistic, tracking mode)."""

    def __init__(self, extractor=None):
        if extractor is None:
            from ..pose.holistic import HolisticExtractor, quiet_native_stderr

            with quiet_native_stderr():
                extractor = HolisticExtractor(static_image_mode=False, segmentation=False)
        self.extractor = extractor
        self.frames: dict[str, list[np.ndarray]] = {"body": [], "face": [], "hand_left": [], "hand_right": []}

    def update(self, pred_frame: np.ndarray) -> None:
        from ..pose.holistic import quiet_native_stderr

        with quiet_native_stderr():  # MediaPipe's C++ log lines would break the progress bar
            rec = self.extractor.process(pred_frame)
        for k in self.frames:
            self.frames[k].append(np.asarray(rec[k], np.float32))

    def result(self, ref: dict[str, np.ndarray]) -> dict:
        n = len(self.frames["body"])
        if ref["body"].shape[0] < n:
            raise InputError(
                f"pose reference has {ref['body'].shape[0]} frames, the generated video {n}",
                fix="give the normalized driving keypoints of the same clip the video was made from",
            )
        pred = {k: np.stack(v) for k, v in self.frames.items()}
        refn = {k: np.asarray(v[:n], np.float32) for k, v in ref.items()}
        return compare_keypoints(pred, refn)

    def close(self) -> None:
        close = getattr(self.extractor, "close", None)
        if close is not None:
            close()
