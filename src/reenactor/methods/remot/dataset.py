"""remot's training items: a source frame (the appearance, "the target photo") and a short window of driving
frames of the same video (:class:`reenactor.data.pairs.FramePairs`; REMOT sec. 3.3: "an earlier frame of a
video as the source, that video as the driving").

The window is T = k + window consecutive frames ending at the pair's target frame (frame numbers clamped at
0): the first k are history (the real previous poses, layouts and frames that the first generated frame is fed,
vid2vid's teacher forcing), the last ``window`` are generated one after another, each fed the outputs before it.
Items (S = ``cfg.size``; float32 unless said)::

    source_image   (3, S, S)     the source frame in [-1, 1]
    source_layout  (S, S) int64  its REMOT6 classes
    poses          (T, 3, S, S)  stick figures of the window's frames in [-1, 1]
    layouts        (T, S, S) int64  their REMOT6 classes (the Layout GAN's target; the Region GAN's input)
    frames         (T, 3, S, S)  the frames in [-1, 1];  backgrounds (T, 3, S, S) their background plates
    face_theta     (T, 2, 3)     each frame's face box for ``affine_grid``;  face_valid (T,) 1 where it has one
    cold           ()            1: the window's first frame gets no history (as transfer's first frame)
"""

from __future__ import annotations

import numpy as np
import torch

from ...data.pairs import FramePair, FramePairs, PairOptions
from ...nn.convert import to_unit
from . import maps
from .config import RemotConfig


class RemotPairs(FramePairs):
    """Source frame + driving window pairs (see the module docstring)."""

    def __init__(self, clips: list, pairs: PairOptions | None, cfg: RemotConfig):
        super().__init__(clips, pairs, size=cfg.size)
        self.cfg = cfg
        self.n_frames = cfg.k + cfg.window
        self.require(("layout", "background"), "remot")

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
        poses, layouts, frames, bgs, thetas, valid = [], [], [], [], [], []
        for t in times:
            lay, kp = self.layout(c, t), self.keypoints(c, t)
            box = maps.face_box(lay, kp.get("face"), self.cfg.face_pad)
            poses.append(maps.stick_figure(kp, s))
            layouts.append(maps.classes(lay).astype(np.int64))
            frames.append(to_unit(self.frame(c, t)))
            bgs.append(to_unit(self.background(c, t)))
            thetas.append(maps.box_theta(box, s))
            valid.append(float(box is not None))
        src_lay = maps.classes(self.layout(p.source_clip, p.source_t)).astype(np.int64)
        cold = float(np.random.random_sample() < self.cfg.layout.cold_prob)
        return {
            "source_image": torch.from_numpy(to_unit(self.frame(p.source_clip, p.source_t))),
            "source_layout": torch.from_numpy(src_lay),
            "poses": torch.from_numpy(np.stack(poses)),
            "layouts": torch.from_numpy(np.stack(layouts)),
            "frames": torch.from_numpy(np.stack(frames)),
            "backgrounds": torch.from_numpy(np.stack(bgs)),
            "face_theta": torch.from_numpy(np.stack(thetas)),
            "face_valid": torch.tensor(valid, dtype=torch.float32),
            "cold": torch.tensor(cold),
        }
