"""Dense optical flow between consecutive stored frames (OpenCV DIS), cached once in the clip store.

The temporal coherence loss (Aberman et al. 2019 eq. 4, :func:`reenactor.losses.temporal_warp_loss`)
needs the flow of the *driving* (unpaired) frames; it is computed once at preprocessing by
:func:`add_flow_stage` and stored as ``flow.npy`` (T-1, H, W, 2) float32, where ``flow[t]`` is the forward
flow from frame t to frame t+1 in pixels: pixel (x, y) of frame t moves to (x + u, y + v) in frame t+1.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

#: name -> OpenCV DIS preset
DIS_PRESETS = {"ultrafast": 0, "fast": 1, "medium": 2}

STAGE = "flow"


def _gray(rgb: np.ndarray) -> np.ndarray:
    import cv2

    a = np.asarray(rgb)
    if a.ndim == 2:
        return np.ascontiguousarray(a.astype(np.uint8))
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise InputError(f"expected an (H, W, 3) RGB frame, got shape {a.shape}")
    return cv2.cvtColor(np.ascontiguousarray(a[..., :3].astype(np.uint8)), cv2.COLOR_RGB2GRAY)


def _dis(preset: str):
    import cv2

    if preset not in DIS_PRESETS:
        raise InputError(f"unknown DIS preset {preset!r}; choose one of {', '.join(DIS_PRESETS)}")
    return cv2.DISOpticalFlow_create(DIS_PRESETS[preset])


def dis_flow(prev_rgb: np.ndarray, next_rgb: np.ndarray, preset: str = "medium", _engine=None) -> np.ndarray:
    """Forward optical flow from ``prev_rgb`` to ``next_rgb`` (OpenCV DIS).

    prev_rgb, next_rgb: (H, W, 3) uint8 RGB (or (H, W) grey) of the same size.
    Returns (H, W, 2) float32 ``[u, v]`` in pixels: ``prev[y, x]`` is seen at ``next[y + v, x + u]``.
    """
    a, b = _gray(prev_rgb), _gray(next_rgb)
    if a.shape != b.shape:
        raise InputError(f"frames differ in size: {a.shape} vs {b.shape}")
    dis = _engine if _engine is not None else _dis(preset)
    flow = dis.calc(a, b, None)
    return np.asarray(flow, dtype=np.float32)


def add_flow_stage(clip, preset: str = "medium", force: bool = False, progress: bool = True) -> np.ndarray:
    """Compute and cache ``flow`` (T-1, H, W, 2) float32 in clip store ``clip`` (forward flow t -> t+1).

    Resumable: a clip whose ``flow`` stage is done (and whose cached array matches the frames) is skipped and
    the cached array returned; a run killed half-way leaves no half-written file (atomic saves) and is simply
    run again. Returns the flow array (memory-mapped when cached).
    """
    from tqdm.auto import tqdm

    frames = clip.load("frames")
    t, h, w = frames.shape[:3]
    if t < 2:
        raise InputError(
            "a clip needs at least 2 frames for optical flow", clip.root, "extract a longer clip"
        )
    want = (t - 1, h, w, 2)
    if not force and clip.stage_done(STAGE) and clip.has("flow"):
        cached = clip.load("flow")
        if tuple(cached.shape) == want and clip.stage(STAGE).get("preset") == preset:
            return cached
    clip.set_stage(STAGE, status="running", preset=preset)
    dis = _dis(preset)
    out = np.empty(want, np.float32)
    prev = _gray(frames[0])
    for i in tqdm(range(1, t), desc=f"flow {clip.name}", unit="frame", disable=not progress, leave=False):
        nxt = _gray(frames[i])
        out[i - 1] = dis.calc(prev, nxt, None)
        prev = nxt
    clip.save("flow", out, stage=STAGE, write_manifest=False)
    mag = np.linalg.norm(out, axis=-1)
    clip.set_stage(
        STAGE,
        status="done",
        preset=preset,
        n_pairs=t - 1,
        mean_magnitude=float(mag.mean()),
        max_magnitude=float(mag.max()),
    )
    return out
