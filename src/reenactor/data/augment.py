"""Pose augmentation shared by the per-person methods (not in the papers): one random similarity transform
(rotation and scale about the frame centre, shift) moves a training item's keypoints and frames together, so a
generator learns to draw the person wherever the joints are instead of memorising the few positions of a short
reference video.

With ``background: plate`` only the person moves: the moved person (the clip's ``mask``) is laid over the
clip's still background plate (:mod:`reenactor.data.background`), as the scene stays put when a real person
moves; ``warp`` moves the whole frame, background too. Transforms are drawn from NumPy's global generator,
which the trainer seeds per sample position, so a resumed run draws the same ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

logger = logging.getLogger(__name__)

#: frames (evenly spaced) a background plate is estimated from
PLATE_FRAMES = 240


@dataclass
class AugmentConfig:
    """Random similarity transforms of the training items (not in the papers): the same rotation, scale and shift
    move the keypoints and the frames together. ``prob: 0`` trains as the papers do."""

    prob: float = 0.5  # share of training items that get a transform (0 = off)
    shift: float = 0.06  # largest translation, as a fraction of ``size`` (each axis, uniform)
    scale: float = 0.06  # largest relative scale change about the frame centre (uniform in 1 +- scale)
    rotate: float = 8.0  # largest rotation about the frame centre, degrees (uniform in +- rotate)
    background: Literal["plate", "warp"] = "plate"  # plate: the moved person (clip's `mask`) over the clip's
    # still background plate (reenactor.data.background); warp: the whole frame moves, background too
    # plate only: the items left where they are are laid over the plate too, so no training frame's background
    # varies with its pose (a shaking camera, scenery through a window) and G cannot learn to draw it from the pose
    plate_all: bool = False


def affine_keypoints(kp: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Keypoints ``(..., K, 3)`` through a (2, 3) affine matrix; confidences kept."""
    out = np.array(kp, dtype=np.float32, copy=True)
    xy = out[..., :2] @ np.asarray(m[:, :2], np.float32).T + np.asarray(m[:, 2], np.float32)
    out[..., :2] = xy
    return out


def random_similarity(cfg: AugmentConfig, size: tuple[int, int]) -> np.ndarray | None:
    """A random (2, 3) similarity transform for frames of ``size`` (H, W), or None (drawn with probability
    ``1 - cfg.prob``), from NumPy's global generator."""
    if cfg.prob <= 0 or np.random.random_sample() >= cfg.prob:
        return None
    h, w = size
    angle = float(np.random.uniform(-cfg.rotate, cfg.rotate))
    s = 1.0 + float(np.random.uniform(-cfg.scale, cfg.scale))
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, s)
    m[:, 2] += np.random.uniform(-cfg.shift, cfg.shift, 2) * np.array([w, h])
    return m


def over(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """``fg`` over ``bg`` with ``alpha`` (H, W) uint8 0..255 -> (H, W, 3) uint8."""
    a = alpha.astype(np.float32)[..., None] / 255.0
    return np.clip(fg * a + bg * (1.0 - a) + 0.5, 0, 255).astype(np.uint8)


class PersonMover:
    """Moves the person of a method's training frames (``cfg.background``), for clips ``stores`` whose frames
    the method reads at ``size`` (H, W) through ``frame(ci, t) -> (H, W, 3) uint8``.

    For ``plate`` it estimates each clip's background plate once (from up to :data:`PLATE_FRAMES` frames) and
    keeps its memory-mapped masks; a clip without person masks gets no augmentation, with a logged notice.
    """

    def __init__(
        self,
        cfg: AugmentConfig,
        stores: Sequence,
        size: tuple[int, int],
        frame: Callable[[int, int], np.ndarray],
    ):
        self.cfg = cfg
        self.size = (int(size[0]), int(size[1]))
        self.plates: list[np.ndarray | None] = [None] * len(stores)
        self.masks: list[np.ndarray | None] = [None] * len(stores)
        if (cfg.prob <= 0 and not cfg.plate_all) or cfg.background != "plate":
            return
        from .background import background_plate

        for ci, store in enumerate(stores):
            if not store.has("mask"):
                logger.warning(
                    f"[augment] NOTICE: {store.root} has no person masks (`mask`): no pose augmentation on its "
                    "frames (re-extract it with `reenactor extract`, or set model.augment.background=warp)"
                )
                continue
            masks = store.load("mask")  # memory-mapped; resized per item
            keep = np.unique(
                np.linspace(0, store.n_frames - 1, min(store.n_frames, PLATE_FRAMES)).round().astype(int)
            )
            self.plates[ci], seen = background_plate(
                np.stack([frame(ci, int(t)) for t in keep]), np.stack([self.mask(masks[t]) for t in keep])
            )
            self.masks[ci] = masks
            what = "pose augmentation" if cfg.prob > 0 else "no pose augmentation; every item"
            also = " (the unmoved items too)" if cfg.plate_all and cfg.prob > 0 else ""
            logger.info(
                f"[augment] {what} over a background plate of {store.root.name}{also}: "
                f"{seen.mean():.0%} of its pixels seen behind the person, the rest inpainted"
            )

    def mask(self, m: np.ndarray) -> np.ndarray:
        """A stored person mask resized to the model size."""
        h, w = self.size
        m = np.asarray(m)
        return m if m.shape == (h, w) else cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA)

    def draw(self, ci: int) -> np.ndarray | None:
        """The transform for one item of clip ``ci`` (None: leave it as it is)."""
        if self.plates[ci] is None and self.cfg.background != "warp":
            return None
        return random_similarity(self.cfg, self.size)  # None with probability 1 - prob

    def move(
        self, ci: int, frames: Sequence[np.ndarray], ts: Sequence[int], m: np.ndarray | None
    ) -> list[np.ndarray]:
        """Frames ``ts`` of clip ``ci`` (already read, at model size) moved by ``m``: warped whole (edges:
        replicated pixels), then, with a plate, the warped person laid over the still plate. ``m`` None (the
        item stays where it is): the frames as they are, or with ``plate_all`` their person over the plate."""
        plate = self.plates[ci]
        if m is None:
            if plate is None or not self.cfg.plate_all:
                return list(frames)
            return [over(f, self.mask(self.masks[ci][t]), plate) for f, t in zip(frames, ts)]
        h, w = self.size
        out = [
            cv2.warpAffine(f, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            for f in frames
        ]
        if plate is None:
            return out
        # The mask's edges are replicated as the frame's are: a person cut by the frame's edge (a body below the
        # bottom edge) continues beyond it, so moving them must not open a gap of plate between body and edge.
        alphas = [
            cv2.warpAffine(
                self.mask(self.masks[ci][t]),
                m,
                (w, h),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            for t in ts
        ]
        return [over(f, a, plate) for f, a in zip(out, alphas)]
