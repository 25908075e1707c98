"""remot's training items: a source frame (the appearance, "the target photo") and a short window of driving
frames of the same video (:class:`reenactor.data.pairs.FramePairs`; REMOT sec. 3.3: "an earlier frame of a
video as the source, that video as the driving").

The window is T = k + window consecutive frames ending at the pair's target frame (frame numbers clamped at
0): the first k are history (the real previous poses, layouts and frames that the first generated frame is fed,
vid2vid's teacher forcing), the last ``window`` are generated one after another, each fed the outputs before it.
Items are compact (S = ``cfg.size``; float32 unless said)::

    source_image   (3, S, S) uint8   the source frame
    source_layout  (S, S) uint8      its REMOT6 classes
    pose_<name>    (T, K, 3)         the window's keypoints (body, face, hands: the arrays all clips have), in
                                     pixels of the S x S frame
    layouts        (T, S, S) uint8   their REMOT6 classes (the Layout GAN's target; the Region GAN's input)
    frames         (T, 3, S, S) uint8  the frames;  backgrounds (T, 3, S, S) uint8 their background plates
    face_theta     (T, 2, 3)         each frame's face box for ``affine_grid``;  face_valid (T,) 1 where it has one
    cold           ()                1: the window's first frame gets no history (as transfer's first frame)
    parts          (window, 4, S, S) uint8  with ``composition.warp: parts`` only: the source frame moved part by
                                     part onto each generated frame's keypoints (:func:`.maps.part_warped`; the
                                     source's MediaPipe mask, as pose_warp's photo)

and :func:`prepare_batch` turns a collated batch into what the networks read, on the training device
(:meth:`reenactor.methods.base.Method.prepare_batch`): ``poses`` (B, T, 3, S, S), the stick figures in [-1, 1]
drawn by the renderer transfer draws with (:func:`.maps.stick_figures`); the images in [-1, 1]
(:func:`reenactor.nn.convert.unit_from_uint8`, the values of :func:`~reenactor.nn.convert.to_unit`); the class
maps as int64; ``parts`` as the person in [-1, 1] (:func:`.maps.part_warped_unit`).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from ...data.pairs import FramePair, FramePairs, PairOptions
from ...nn.convert import unit_from_uint8
from . import maps
from .config import RemotConfig

POSE = "pose_"  # item keys of the window's keypoint arrays: pose_body, pose_face, ...
IMAGES = ("source_image", "frames", "backgrounds")
CLASSES = ("source_layout", "layouts")


def prepare_batch(batch: dict[str, torch.Tensor], size: int) -> dict[str, torch.Tensor]:
    """A collated batch of :class:`RemotPairs` items, on the training device -> what the networks read: the
    ``pose_*`` keypoints ``(B, T, K, 3)`` drawn as ``poses`` ``(B, T, 3, S, S)`` in [-1, 1], the uint8 images as
    [-1, 1] float32, the class maps as int64; other keys pass through."""
    out = dict(batch)
    kp = {k[len(POSE) :]: out.pop(k) for k in batch if k.startswith(POSE)}
    n, t = next(iter(kp.values())).shape[:2]
    out["poses"] = maps.stick_figures({k: v.flatten(0, 1) for k, v in kp.items()}, size).unflatten(0, (n, t))
    out.update({k: unit_from_uint8(out[k]) for k in IMAGES})
    out.update({k: out[k].long() for k in CLASSES})
    if "parts" in out:
        out["parts"] = maps.part_warped_unit(out["parts"])
    return out


class RemotPairs(FramePairs):
    """Source frame + driving window pairs (see the module docstring)."""

    def __init__(self, clips: list, pairs: PairOptions | None, cfg: RemotConfig):
        super().__init__(clips, pairs, size=cfg.size)
        self.cfg = cfg
        self.n_frames = cfg.k + cfg.window
        parts = ("mask",) if cfg.composition.warp == "parts" else ()
        self.require(("layout", "background", *parts), "remot")
        self._warpers: OrderedDict[tuple[int, int], Any] = OrderedDict()

    #: source frames whose part warper (its part segmentation and layers: 4-33 ms at 64-256 px, the moves 1-5 ms)
    #: is kept per process, least recently used dropped first
    WARPERS = 128

    def warper(self, clip: int, t: int):
        """The :class:`~reenactor.pose.part_warp.PoseWarper` of source frame ``t`` of ``clip`` (its frame,
        MediaPipe mask and keypoints), cached."""
        from ...pose.part_warp import PoseWarper

        key = (clip, t)
        if key in self._warpers:
            self._warpers.move_to_end(key)
            return self._warpers[key]
        w = PoseWarper(self.frame(clip, t), self.image(clip, "mask", t), self.keypoints(clip, t))
        self._warpers[key] = w
        if len(self._warpers) > self.WARPERS:
            self._warpers.popitem(last=False)
        return w

    def __getstate__(self) -> dict[str, Any]:  # each DataLoader worker fills its own cache
        state = super().__getstate__()
        state["_warpers"] = OrderedDict()
        return state

    @property
    def s(self) -> int:
        return int(self.size[0])

    def layout(self, clip: int, t: int) -> np.ndarray:
        """(S, S) LAYOUT labels of frame ``t``."""
        return self.labels(clip, "layout", t)

    def background(self, clip: int, t: int) -> np.ndarray:
        return self.image(clip, "background", t)

    def item(self, p: FramePair) -> dict[str, torch.Tensor]:
        s, c = self.s, p.clip
        times = [max(p.target_t - (self.n_frames - 1) + j, 0) for j in range(self.n_frames)]
        poses: dict[str, list[np.ndarray]] = {k: [] for k in self.keypoint_names}
        layouts, frames, bgs, thetas, valid, kps = [], [], [], [], [], []
        for t in times:
            lay, kp = self.layout(c, t), self.keypoints(c, t)
            kps.append(kp)
            box = maps.face_box(lay, kp.get("face"), self.cfg.face_pad)
            for k, v in kp.items():
                poses[k].append(v)
            layouts.append(maps.classes(lay))
            frames.append(self.frame(c, t).transpose(2, 0, 1))
            bgs.append(self.background(c, t).transpose(2, 0, 1))
            thetas.append(maps.box_theta(box, s))
            valid.append(float(box is not None))
        src_lay = maps.classes(self.layout(p.source_clip, p.source_t))
        src = self.frame(p.source_clip, p.source_t)
        cold = float(np.random.random_sample() < self.cfg.layout.cold_prob)
        extra = {}
        if self.cfg.composition.warp == "parts":
            warper = self.warper(p.source_clip, p.source_t)
            extra["parts"] = torch.from_numpy(
                np.stack([maps.part_warped(warper, kp) for kp in kps[self.cfg.k :]])
            )
        return {
            **extra,
            "source_image": torch.from_numpy(src.transpose(2, 0, 1).copy()),
            "source_layout": torch.from_numpy(src_lay),
            **{POSE + k: torch.from_numpy(np.stack(v)) for k, v in poses.items()},
            "layouts": torch.from_numpy(np.stack(layouts)),
            "frames": torch.from_numpy(np.stack(frames)),
            "backgrounds": torch.from_numpy(np.stack(bgs)),
            "face_theta": torch.from_numpy(np.stack(thetas)),
            "face_valid": torch.tensor(valid, dtype=torch.float32),
            "cold": torch.tensor(cold),
        }
