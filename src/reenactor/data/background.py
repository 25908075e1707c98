"""Background plates: the scene behind the person, estimated from the frames and person masks.

**Clip plate** (:func:`background_plate`): per pixel, the median over the frames in which the person mask leaves
that pixel uncovered; pixels the person covers in every frame are filled by OpenCV's Telea inpainting from the
seen background around them. Used to composite a moved person over the scene (pose augmentation of
:mod:`reenactor.methods.cloning`) and available to any method that needs a background image.

**Per-frame plates** (:func:`frame_plate`, stage :func:`add_background_stage`): each frame with the person
removed. The person mask is thresholded and grown (:data:`GROW` x the frame side, MediaPipe's soft edge leaves a
halo); the pixels it covers are taken from the clip plate, so a pixel some other frame showed uncovered gets
the real background seen there, and only pixels no frame ever showed are inpainted -- once, in the clip plate,
so the guess is the same in every frame (no flicker) and costs nothing per frame. The seam is feathered over a
few pixels outside the person. When the clip plate does not match a frame (more than :data:`PLATE_MISMATCH` of
the pixels in a band around the covered region differ from it by more than :data:`PLATE_TOLERANCE`: the camera
moved, the light changed, another shot), that frame's covered region is inpainted from the frame itself instead
(Telea), and the manifest counts such frames. The band leaves out the black padding an extraction adds outside
the source frame (it matches in every frame and would hide a mismatch).

The stage stores ``background.npy`` (T, S, S, 3) uint8 (per-frame plates) and ``plate.npy`` (S, S, 3) uint8 (the
clip plate, from up to :data:`PLATE_FRAMES` evenly spaced frames) under stage ``background``.
"""

from __future__ import annotations

import time
import warnings

import cv2
import numpy as np

from ..errors import InputError

#: mask value (0..1) under which a pixel counts as background
BACKGROUND_THRESH = 0.2
#: the person mask is grown by this fraction of the frame's longer side before it is removed
GROW = 0.04
#: a band pixel differs from the clip plate when its largest channel difference (0..255) is above this
PLATE_TOLERANCE = 24.0
#: a frame with more than this fraction of differing pixels in the band around its covered region is inpainted
#: from itself instead of filled from the clip plate (carphone: at most 0.11; bikes.mp4's moving camera: 0.36+)
PLATE_MISMATCH = 0.2
#: the clip plate is the median over at most this many evenly spaced frames
PLATE_FRAMES = 240
#: memory for one band of the median (bytes of float32 values)
_BAND_BYTES = 64 << 20

STAGE = "background"


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
    t, h, w = bg.shape
    plate = np.zeros((h, w, frames.shape[3]), np.float32)
    band = max(1, _BAND_BYTES // max(1, t * w * frames.shape[3] * 4))  # rows per band: bounded memory
    for y in range(0, h, band):
        vals = np.where(bg[:, y : y + band, :, None], frames[:, y : y + band].astype(np.float32), np.nan)
        with warnings.catch_warnings():  # all-NaN pixels (never seen) warn; they are inpainted below
            warnings.simplefilter("ignore", RuntimeWarning)
            plate[y : y + band] = np.nanmedian(vals, axis=0)
    plate = np.nan_to_num(plate, nan=0.0)
    plate = np.clip(np.round(plate), 0, 255).astype(np.uint8)
    if not seen.all():
        hole = (~seen).astype(np.uint8) * 255
        if seen.any():
            plate = cv2.inpaint(plate, hole, inpaint_radius, cv2.INPAINT_TELEA)
        else:  # never any background: the mean frame is the best guess there is
            plate = np.clip(np.round(frames.astype(np.float32).mean(0)), 0, 255).astype(np.uint8)
    return plate, seen


# ------------------------------------------------------------------------------------------ per-frame plates
def grow_kernel(hw: tuple[int, int], grow: float = GROW) -> int:
    """Odd side in pixels of the square that grows a person mask by ``grow`` x the longer frame side."""
    return max(3, int(round(grow * max(hw))) | 1)


def person_cover(mask: np.ndarray, grow: float = GROW, thresh: float = BACKGROUND_THRESH) -> np.ndarray:
    """(H, W) person mask (uint8 0..255 or float 0..1) -> (H, W) bool: the pixels to remove (the person and a
    margin of ``grow`` x the longer side)."""
    mask = np.asarray(mask)
    m = mask.astype(np.float32) / (255.0 if mask.dtype == np.uint8 else 1.0)
    k = grow_kernel(mask.shape[:2], grow)
    return cv2.dilate((m >= thresh).astype(np.uint8), np.ones((k, k), np.uint8)).astype(bool)


def frame_plate(
    frame: np.ndarray,
    cover: np.ndarray,
    plate: np.ndarray | None = None,
    tolerance: float = PLATE_TOLERANCE,
    mismatch: float = PLATE_MISMATCH,
    valid: np.ndarray | None = None,
    inpaint_radius: float = 5.0,
) -> tuple[np.ndarray, str, float]:
    """One frame with the person removed: ``frame`` (H, W, 3) uint8, ``cover`` (H, W) bool (see
    :func:`person_cover`), ``plate`` the clip plate (H, W, 3) uint8 or None, ``valid`` (H, W) bool the pixels
    inside the source frame (None: all).

    Returns ``(image, how, mismatch)``: ``how`` is ``"frame"`` (nothing covered), ``"plate"`` (covered pixels
    from the clip plate, seam feathered) or ``"inpaint"`` (no plate, or more than ``mismatch`` of the pixels
    in a band around the covered region differ from it by more than ``tolerance``: Telea inpainting of the
    frame); the returned ``mismatch`` is that fraction (NaN when not measured)."""
    frame = np.asarray(frame)
    cover = np.asarray(cover, bool)
    if not cover.any():
        return frame.copy(), "frame", float("nan")
    if cover.all():
        return (plate.copy() if plate is not None else np.zeros_like(frame)), "plate", float("nan")
    diff = float("nan")
    k = grow_kernel(cover.shape)
    if plate is not None:
        ring = (
            cv2.dilate(cover.astype(np.uint8), np.ones((2 * k + 1, 2 * k + 1), np.uint8)).astype(bool)
            & ~cover
        )
        if valid is not None:
            ring &= valid
        if ring.any():
            d = np.abs(frame[ring].astype(np.int16) - plate[ring].astype(np.int16)).max(-1)
            diff = float((d > tolerance).mean())
        if not diff > mismatch:  # NaN (no band to compare) also takes the plate
            # feather: alpha is 1 on the cover's inner part (the person and most of the margin), falls off
            # over its outer pixels only
            inner = cv2.erode(cover.astype(np.uint8), np.ones((k // 2 | 1, k // 2 | 1), np.uint8))
            alpha = cv2.blur(inner.astype(np.float32), (k // 2 | 1, k // 2 | 1))
            alpha = np.maximum(alpha, inner.astype(np.float32))[..., None] * cover[..., None]
            out = frame.astype(np.float32) * (1 - alpha) + plate.astype(np.float32) * alpha
            return np.clip(np.round(out), 0, 255).astype(np.uint8), "plate", diff
    img = cv2.inpaint(
        np.ascontiguousarray(frame), cover.astype(np.uint8) * 255, inpaint_radius, cv2.INPAINT_TELEA
    )
    return img, "inpaint", diff


def source_pixels(clip) -> np.ndarray | None:
    """(S, S) bool: the stored pixels that show the source frame (not the padding a crop reaching outside it
    adds), from the crop the extraction recorded; None when the manifest has none."""
    crop, src = clip.manifest.get("crop") or {}, clip.manifest.get("source_size")
    if not crop.get("box") or not src:
        return None
    h, w = clip.size
    x0, y0, x1, y1 = (float(v) for v in crop["box"])
    ys = y0 + (np.arange(h) + 0.5) * (y1 - y0) / h
    xs = x0 + (np.arange(w) + 0.5) * (x1 - x0) / w
    return ((ys >= 0) & (ys < src[0]))[:, None] & ((xs >= 0) & (xs < src[1]))[None, :]


def add_background_stage(
    clip,
    force: bool = False,
    progress: bool = False,
    grow: float = GROW,
    tolerance: float = PLATE_TOLERANCE,
    mismatch: float = PLATE_MISMATCH,
    max_frames: int = PLATE_FRAMES,
) -> tuple[np.ndarray, np.ndarray]:
    """Compute and store the clip's background plates (stage ``background``): ``plate`` (S, S, 3) uint8, the
    clip plate from up to ``max_frames`` evenly spaced frames with their person masks grown by ``grow``, and
    ``background`` (T, S, S, 3) uint8, every frame with the person removed (:func:`frame_plate`). Skipped when
    done with the same options; atomic writes. Returns ``(background, plate)`` (memory-mapped when cached)."""
    from tqdm.auto import tqdm

    for name in ("frames", "mask"):
        if not clip.has(name):
            raise InputError(
                f"clip has no `{name}` array (the background plates need the frames and person masks)",
                clip.root,
                "re-extract the clip with `reenactor extract`",
            )
    t = clip.n_frames
    h, w = clip.size
    opts = {
        "grow": float(grow),
        "tolerance": float(tolerance),
        "mismatch": float(mismatch),
        "max_frames": int(max_frames),
    }
    if not force and clip.stage_done(STAGE) and clip.has("background") and clip.has("plate"):
        bg, pl = clip.load("background"), clip.load("plate")
        st = clip.stage(STAGE)
        if tuple(bg.shape) == (t, h, w, 3) and all(st.get(k) == v for k, v in opts.items()):
            return bg, pl
    t0 = time.perf_counter()
    clip.manifest["stages"].pop(STAGE, None)  # no fields left from an earlier run with other options
    clip.set_stage(STAGE, status="running", **opts)
    frames, masks = clip.load("frames"), clip.load("mask")
    keep = np.unique(np.linspace(0, t - 1, min(t, max(1, max_frames))).round().astype(int))
    covers = np.stack([person_cover(masks[i], grow) for i in keep])
    plate, seen = background_plate(
        np.stack([np.asarray(frames[i]) for i in keep]), covers.astype(np.uint8) * 255
    )
    clip.save("plate", plate, stage=STAGE, write_manifest=False)
    valid = source_pixels(clip)
    counts = {"frame": 0, "plate": 0, "inpaint": 0}
    diffs = []
    with clip.writer("background", (t, h, w, 3), np.uint8, stage=STAGE, write_manifest=False) as out:
        for i in tqdm(
            range(t), desc=f"background {clip.name}", unit="frame", disable=not progress, leave=False
        ):
            cover = person_cover(masks[i], grow)
            img, how, d = frame_plate(np.asarray(frames[i]), cover, plate, tolerance, mismatch, valid)
            out[i] = img
            counts[how] += 1
            if d == d:
                diffs.append(d)
    clip.set_stage(
        STAGE,
        status="done",
        **opts,
        grow_px=grow_kernel((h, w), grow),
        plate_frames=len(keep),
        seen_fraction=round(float(seen.mean()), 4),
        frames_from_plate=counts["plate"],
        frames_inpainted=counts["inpaint"],
        frames_without_person=counts["frame"],
        plate_mismatch_median=round(float(np.median(diffs)), 3) if diffs else None,
        seconds=round(time.perf_counter() - t0, 2),
    )
    return clip.load("background"), clip.load("plate")
