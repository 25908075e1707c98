"""Frame pairs of one identity over many clips: the training items of reference methods.

A reference method learns to redraw a person seen in one frame (the *source*: the appearance) in the pose of
another frame of the same person (the *target*: pose and ground truth). :class:`FramePairs` has one item per
usable target frame (``person`` true) over all clips; for each it draws a source frame:

* from the target's own clip, among its usable frames at most ``max_distance`` frames away (0: any frame
  of the clip; the single-shot paper pairs frames of one video at most 250 frames apart);
* with ``across_clips``, also from every usable frame of the other clips of the same identity (frame
  numbers of two clips are unrelated, so the distance bound applies within the target's clip only);
* never the target frame itself while another candidate exists (a photo clip, one frame, with no other clip
  of its identity pairs with itself);
* never a *held-out* frame (``holdout``): the last ``holdout`` frames of every clip long enough to spare them
  (at least ``2 * holdout + 1`` frames) are neither targets nor sources; :attr:`FramePairs.heldout` lists them,
  each block with the last frame before it as its photo, for fitting what a method calibrates after training
  (:meth:`reenactor.methods.base.Method.calibrated_options`; the single-image protocol's shape: a photo, then the
  frames that follow it).

Pairs never cross identities. The draw uses NumPy's global RNG at item time only, so under the trainer
(which seeds it from the sample's position in the run, ``reenactor.train.trainer._PositionedDataset``) the
pairs depend on the position alone: the same in every run with the same seed, and after a ``--resume``.

Items (:meth:`FramePairs.item`; S = the stored frame size, or ``size``), all tensors::

    source_frame, target_frame   (3, S, S) uint8 RGB: :func:`unit_frames` turns them into float32 in [-1, 1]
                                 on the training device (a method's ``prepare_batch``), four times less to
                                 collate and copy than floats
    source_<kp>, target_<kp>     (K, 3) float32 [x, y, conf] in pixels of the S x S frame, for each keypoint
                                 array all clips have (body (25), face (68), hand_left / hand_right (21))
    clip, source_clip            () int64 index into ``clips`` of the target's / the source's clip
    target_t, source_t           () int64 frame numbers in those clips

A method adds what it needs by subclassing and overriding :meth:`FramePairs.item` (or wrapping an instance
and calling :meth:`FramePairs.pair`); any further randomness (augmentations) also comes from NumPy's global
RNG (or ``random`` / torch's default generator, seeded the same way) inside ``item``::

    class MyPairs(FramePairs):
        def item(self, p: FramePair) -> dict[str, torch.Tensor]:
            out = super().item(p)
            out["source_mask"] = torch.from_numpy(self.array(p.source_clip, "mask", p.source_t).copy())
            return out

    def build_dataset(self, clips: list[TrainingClip], pairs: PairOptions = PairOptions()) -> MyPairs:
        return MyPairs(clips, pairs, size=self.cfg.size)

    def prepare_batch(self, batch):  # on the training device: the frames as the networks read them
        return unit_frames(batch)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import cv2
import numpy as np
import torch

from ..errors import InputError
from ..nn.convert import unit_from_uint8
from ..pose.skeleton import KEYPOINT_ARRAYS
from .clips import TrainingClip

#: the uint8 frames of a :class:`FramePairs` item (:func:`unit_frames` converts them)
FRAME_KEYS = ("source_frame", "target_frame")


@dataclass(frozen=True)
class PairOptions:
    """How :class:`FramePairs` draws a source frame for a target frame (``data.pair_*`` of the run config)."""

    max_distance: int = 250  # frames between source and target within one clip at most (0 = any frame)
    across_clips: bool = False  # also draw sources from the other clips of the same identity
    # the last this many frames of each clip are kept out of training (0 = none; see the module docstring)
    holdout: int = 0


class HeldOut(NamedTuple):
    """Frames of one clip kept out of training: ``photo`` (the last usable frame before them) and ``start ..
    stop - 1``, the frames that follow it, all in clip ``clip`` of the run (:attr:`FramePairs.clips`)."""

    clip: int
    photo: int
    start: int
    stop: int


class FramePair(NamedTuple):
    """One training pair: the target frame ``target_t`` of clip ``clip`` and the source frame ``source_t`` of
    clip ``source_clip`` (the same clip unless :attr:`PairOptions.across_clips`; always the same identity)."""

    clip: int
    source_t: int
    target_t: int
    source_clip: int


class FramePairs(torch.utils.data.Dataset):
    """Source/target frame pairs of one identity over many clips (see the module docstring).

    clips:  the run's clips (:func:`reenactor.data.clips.open_clips`).
    pairs:  how sources are drawn (:class:`PairOptions`; default: same clip, at most 250 frames apart).
    size:   resize frames to ``size`` x ``size`` (keypoints scaled alike); None: the clips' stored size,
            which must then be the same for every clip.
    """

    def __init__(self, clips: list[TrainingClip], pairs: PairOptions | None = None, size: int | None = None):
        self.clips = list(clips)
        self.options = pairs or PairOptions()
        if self.options.max_distance < 0:
            raise ValueError("max_distance must be >= 0 (0 = any frame of the clip)")
        if self.options.holdout < 0:
            raise ValueError("holdout must be >= 0 (0 = no frame held out)")
        if not self.clips:
            raise InputError("no training clips", fix="pass --clips CLIP_DIR|CLIPS_FOLDER|LIST.txt")
        sizes = {c.store.size for c in self.clips}
        if size is None and len(sizes) > 1:
            by = ", ".join(f"{c.path} {c.store.size[0]}x{c.store.size[1]}" for c in self.clips[:4])
            raise InputError(
                f"the clips have different frame sizes ({by}{', ...' if len(self.clips) > 4 else ''})",
                fix="re-extract them with one --size (reenactor extract --size S), or let the method "
                "resize them",
            )
        self.size: tuple[int, int] = (size, size) if size is not None else next(iter(sizes))
        #: per clip: the sorted frame numbers that show the person, (U_c,) int64
        self.usable = [np.flatnonzero(c.store.person_present()).astype(np.int64) for c in self.clips]
        #: the frames kept out of training (:class:`HeldOut`, one block per clip that spares them)
        self.heldout: list[HeldOut] = []
        h = self.options.holdout
        for i, c in enumerate(self.clips):
            n = c.store.n_frames
            if h and n >= 2 * h + 1:
                u = self.usable[i]
                kept = u[u < n - h]
                if len(kept):
                    self.heldout.append(HeldOut(i, int(kept[-1]), n - h, n))
                self.usable[i] = kept
        self.starts = np.concatenate([[0], np.cumsum([len(u) for u in self.usable])]).astype(np.int64)
        if self.starts[-1] == 0:
            raise InputError(
                "no clip has a frame with a person (`person` is false everywhere)",
                self.clips[0].path,
                "extract clips of footage where the person is visible",
            )
        self.keypoint_names = [k for k in KEYPOINT_ARRAYS if all(c.store.has(k) for c in self.clips)]
        # clips of each identity, for across-clip sources
        by_id: dict[str, list[int]] = {}
        for i, c in enumerate(self.clips):
            by_id.setdefault(c.identity, []).append(i)
        self.partners = [
            [j for j in by_id[c.identity] if j != i and len(self.usable[j])] for i, c in enumerate(self.clips)
        ]
        self._arrays: dict[tuple[int, str], np.ndarray] = {}

    # ------------------------------------------------------------------ pairs
    def __len__(self) -> int:
        return int(self.starts[-1])

    def target(self, i: int) -> tuple[int, int]:
        """``(clip index, frame number)`` of item ``i``'s target frame (no randomness)."""
        if not 0 <= i < len(self):
            raise IndexError(i)
        c = int(np.searchsorted(self.starts, i, side="right")) - 1
        return c, int(self.usable[c][i - self.starts[c]])

    def candidates(self, c: int, t: int) -> tuple[int, int, int]:
        """``(lo, hi, k)``: the usable frames of clip ``c`` in the distance window around ``t`` are
        ``usable[c][lo:hi]``, and ``t`` itself is ``usable[c][k]``."""
        u, d = self.usable[c], self.options.max_distance
        lo, hi = (
            (int(np.searchsorted(u, t - d, "left")), int(np.searchsorted(u, t + d, "right")))
            if d
            else (0, len(u))
        )
        return lo, hi, int(np.searchsorted(u, t))

    def pair(self, i: int) -> FramePair:
        """Item ``i``'s pair: its target frame and a source frame drawn with NumPy's global RNG (one draw)."""
        c, t = self.target(i)
        lo, hi, k = self.candidates(c, t)
        n_same = hi - lo - 1  # the window without the target itself
        others = self.partners[c] if self.options.across_clips else []
        n_other = [len(self.usable[j]) for j in others]
        total = n_same + sum(n_other)
        if total == 0:
            return FramePair(c, t, t, c)
        r = int(np.random.randint(total))
        if r < n_same:
            j = lo + r
            return FramePair(c, int(self.usable[c][j + (j >= k)]), t, c)
        r -= n_same
        for j, n in zip(others, n_other):
            if r < n:
                return FramePair(c, int(self.usable[j][r]), t, j)
            r -= n
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ per-frame data
    def array(self, clip: int, name: str, t: int) -> np.ndarray:
        """Frame ``t`` of the clip's array ``name`` at its stored size (read-only, memory-mapped)."""
        key = (clip, name)
        if key not in self._arrays:
            self._arrays[key] = self.clips[clip].store.load(name)
        return self._arrays[key][t]

    def image(self, clip: int, name: str, t: int) -> np.ndarray:
        """Frame ``t`` of the (T, H, W, 3) uint8 array ``name`` (``frames``, ``background``...) resized to
        :attr:`size` (a writable copy)."""
        f = np.array(self.array(clip, name, t))
        h, w = self.size
        if f.shape[:2] != (h, w):
            interp = cv2.INTER_AREA if f.shape[0] > h else cv2.INTER_LINEAR
            f = cv2.resize(f, (w, h), interpolation=interp)
        return f

    def frame(self, clip: int, t: int) -> np.ndarray:
        """(S, S, 3) uint8 RGB frame, resized to :attr:`size` (a writable copy)."""
        return self.image(clip, "frames", t)

    def labels(self, clip: int, name: str, t: int) -> np.ndarray:
        """Frame ``t`` of the (T, H, W) label array ``name`` (e.g. ``layout``) at :attr:`size`, nearest
        neighbour (square frames)."""
        from ..parsing.labels import resize_labels

        return resize_labels(self.array(clip, name, t), int(self.size[0]))

    def require(self, names: list[str] | tuple[str, ...], method: str) -> None:
        """One clear error if a clip lacks an array the ``method`` trains on (the clip stages make them), or the
        clips have no body keypoints."""
        for c in self.clips:
            for name in names:
                if not c.store.has(name):
                    raise InputError(
                        f"clip has no `{name}` array, which {method} trains on",
                        c.path,
                        f"train through `reenactor train` (it makes the `{name}` stage), or import a parsing "
                        "with `reenactor layout CLIP --from DIR`",
                    )
        if "body" not in self.keypoint_names:
            raise InputError("the clips have no body keypoints", self.clips[0].path, "re-extract them")

    def keypoints(self, clip: int, t: int) -> dict[str, np.ndarray]:
        """``{name: (K, 3) float32 [x, y, conf]}`` in pixels of the :attr:`size` frame (missing joints stay 0)."""
        sh, sw = self.clips[clip].store.size
        scale = np.array([self.size[1] / sw, self.size[0] / sh, 1.0], np.float32)
        return {k: np.asarray(self.array(clip, k, t), np.float32) * scale for k in self.keypoint_names}

    def item(self, p: FramePair) -> dict[str, torch.Tensor]:
        """The tensors of pair ``p`` (see the module docstring); subclasses extend this."""
        out: dict[str, torch.Tensor] = {
            "clip": torch.tensor(p.clip),
            "source_clip": torch.tensor(p.source_clip),
            "target_t": torch.tensor(p.target_t),
            "source_t": torch.tensor(p.source_t),
        }
        for side, c, t in (("source", p.source_clip, p.source_t), ("target", p.clip, p.target_t)):
            out[f"{side}_frame"] = torch.from_numpy(np.ascontiguousarray(self.frame(c, t).transpose(2, 0, 1)))
            for k, v in self.keypoints(c, t).items():
                out[f"{side}_{k}"] = torch.from_numpy(v)
        return out

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.item(self.pair(i))

    def __getstate__(self) -> dict[str, Any]:  # DataLoader workers reopen the memory maps themselves
        state = dict(self.__dict__)
        state["_arrays"] = {}
        return state


def unit_frames(
    batch: dict[str, torch.Tensor], keys: tuple[str, ...] = FRAME_KEYS
) -> dict[str, torch.Tensor]:
    """A collated batch of :class:`FramePairs` items on the training device with its uint8 frames ``keys``
    (B, 3, S, S) as float32 in [-1, 1], the values of :func:`reenactor.nn.convert.to_unit` exactly
    (:func:`~reenactor.nn.convert.unit_from_uint8`); other keys, and frames already in floats, pass through."""
    out = dict(batch)
    for k in keys:
        if k in out and out[k].dtype == torch.uint8:
            out[k] = unit_from_uint8(out[k])
    return out


__all__ = ["FRAME_KEYS", "FramePair", "FramePairs", "PairOptions", "unit_frames"]
