"""PSGAN's inference: one pose + an action name -> a pose sequence (``reenactor poses generate``).

The pose is encoded as heatmaps (:mod:`reenactor.pose.heatmaps`), G generates T heatmap sets, each decodes to
BODY_25 keypoints (peak-region centroid, §4.2). Longer sequences chain: the last generated pose seeds the
next T (its first, a near copy of the seed, is dropped). A body model generates the body; the face points of
the given pose (when it has them) follow the generated head by the mean displacement of its seen points
(nose, eyes, ears) - a rigid carry, not generated motion. A face model (the expression variant,
``model.points: face``) generates the 68 face points inside a box around the given face and holds the body.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ...errors import InputError
from ...pose import heatmaps
from ..base import PoseGenerator
from .config import PSGANConfig
from .networks import PoseSequenceGenerator
from .points import decode_sequence, face_box, to_maps

HEAD = [0, 15, 16, 17, 18]


class PSGANGenerator(PoseGenerator):
    def __init__(self, cfg: PSGANConfig, G: PoseSequenceGenerator, meta: dict[str, Any], device="cpu"):
        self.cfg = cfg
        self.device = torch.device(device)
        self.G = G.to(self.device).eval()
        self.actions = list(meta.get("actions", []))
        self.fps = float(meta.get("fps", 25.0))
        fs = meta.get("frame_size") or [cfg.size * 4, cfg.size * 4]
        self.size = (int(fs[0]), int(fs[1]))
        self.procedural = bool(meta.get("procedural", False))
        self.zoom = float(meta.get("zoom", 1.0))

    @classmethod
    def from_state(
        cls, cfg: PSGANConfig, tensors: dict[str, torch.Tensor], meta: dict[str, Any], device="cpu"
    ):
        G = PoseSequenceGenerator(cfg)
        G.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")})
        return cls(cfg, G, meta, device)

    def check_action(self, action: str) -> int:
        if action not in self.actions:
            raise InputError(
                f"unknown action {action!r}; this model knows: {', '.join(self.actions) or '(none)'}",
                fix="pass --action with one of those names",
            )
        return self.actions.index(action)

    @torch.no_grad()
    def heatmap_sequence(self, init: np.ndarray, label: int, frames: int) -> np.ndarray:
        """(K, S, S) heatmaps of the first pose -> (frames, K, S, S), chaining T-long generations."""
        onehot = F.one_hot(torch.tensor([label]), self.cfg.n_actions).float().to(self.device)
        out, cur = [], init
        while sum(len(o) for o in out) < frames:
            x = torch.from_numpy(cur[None]).float().to(self.device)
            seq = self.G(x, onehot)[0].float().cpu().numpy()
            out.append(seq if not out else seq[1:])
            hm = (self.cfg.size,) * 2  # decoded and drawn again in heatmap pixels
            last = heatmaps.decode_points(seq[-1], hm, self.cfg.min_peak)
            cur = heatmaps.encode_points(last, hm, self.cfg.size, self.cfg.radius)
        return np.concatenate(out)[:frames]

    def decode(
        self,
        maps: np.ndarray,
        size: tuple[int, int],
        box: tuple[float, float, float] | None = None,
        smooth: str | None = None,
    ) -> np.ndarray:
        """(T, K, S, S) generated heatmaps -> (T, 25 | 68, 3) points in ``size`` pixels, filtered along time
        with ``smooth`` (None: the model's ``model.smooth``): what ``poses generate`` writes."""
        return decode_sequence(maps, self.cfg.points, size, self.cfg.min_peak, box, smooth or self.cfg.smooth)

    def generate(
        self,
        pose: dict[str, np.ndarray],
        size: tuple[int, int],
        action: str,
        frames: int,
        seed: int = 0,
        smooth: str | None = None,
    ) -> dict[str, np.ndarray]:
        label = self.check_action(action)
        if frames < 1:
            raise InputError(f"--frames must be at least 1, got {frames}")
        body0 = np.asarray(pose["body"], np.float32)
        if self.cfg.points == "face":
            return self._generate_face(pose, body0, size, label, frames, smooth)
        init = heatmaps.encode(zoomed(body0, size, self.zoom), size, self.cfg.size, self.cfg.radius)
        maps = self.heatmap_sequence(init, label, frames)
        body = zoomed(self.decode(maps, size, smooth=smooth), size, 1 / self.zoom)
        body[body[..., 2] <= 0] = 0  # a missing joint has no position
        out = {"body": body}
        if pose.get("face") is not None:
            out["face"] = carry_face(np.asarray(pose["face"], np.float32), body0, body)
        return out

    def _generate_face(
        self, pose, body0, size, label: int, frames: int, smooth: str | None = None
    ) -> dict[str, np.ndarray]:
        """The expression variant: the 68 face points generated in a box around the given face; the body held."""
        if pose.get("face") is None:
            raise InputError(
                "this psgan model generates facial expressions and the source has no face points",
                fix="pass a photo or clip frame where the face is found",
            )
        face0 = zoomed(np.asarray(pose["face"], np.float32), size, self.zoom)
        box = face_box(face0)
        init = to_maps(face0, "face", size, self.cfg.size, self.cfg.radius, box)
        maps = self.heatmap_sequence(init, label, frames)
        face = zoomed(self.decode(maps, size, box, smooth), size, 1 / self.zoom)
        face[face[..., 2] <= 0] = 0
        return {"body": np.repeat(body0[None], len(face), 0), "face": face}


def zoomed(kp: np.ndarray, size: tuple[int, int], zoom: float) -> np.ndarray:
    """(..., K, 3) keypoints as a camera zoomed by ``zoom`` about the centre of a ``size`` (H, W) frame sees
    them (the framing of the training data: :attr:`reenactor.data.actions.ActionData.zoom`)."""
    out = np.array(kp, np.float32)
    c = np.array([(size[1] - 1) / 2, (size[0] - 1) / 2], np.float32)
    out[..., :2] = c + zoom * (out[..., :2] - c)
    return out


def carry_face(face0: np.ndarray, body0: np.ndarray, body: np.ndarray) -> np.ndarray:
    """(68, 3) face of the first pose -> (T, 68, 3) moved by the mean displacement of the head points seen
    in both the first and each generated pose (missing where none is)."""
    out = np.repeat(face0[None], len(body), 0).copy()
    for t, b in enumerate(body):
        seen = [j for j in HEAD if body0[j, 2] > 0 and b[j, 2] > 0]
        if not seen:
            out[t, :, 2] = 0
            continue
        out[t, :, :2] += (b[seen, :2] - body0[seen, :2]).mean(0)
    return out
