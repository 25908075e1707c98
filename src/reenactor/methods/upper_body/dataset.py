"""Training windows for the upper-body method (paper 000, sections 4-5), from the target's clip store(s).

Each item is a window of L + 1 consecutive frames t-L .. t of the target (all with a person), the L inputs
before it (for the "past L source frames" of the first frames, zeros before the clip start), and per frame
the target's own FAUP image and face-landmark crop (the landmark generator's training pair, section 4).
FAUP comes from the clip store's ``faup`` stage (computed and cached on first use).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from ...data.clipstore import ClipStore
from ...errors import InputError
from ...face.faup import add_faup_stage, faup_image
from .config import UpperBodyConfig
from .images import NOSE, face_anchor, face_centre, landmark_crop, paste, to_unit, ubkp_image

KEYPOINTS = ("body", "face", "hand_left", "hand_right")


def scale_kp(kp: np.ndarray, from_size: tuple[int, int], to_size: tuple[int, int]) -> np.ndarray:
    """Rescale pixel keypoints (..., K, 3) between frame sizes (H, W)."""
    out = np.array(kp, np.float32, copy=True)
    out[..., 0] *= to_size[1] / from_size[1]
    out[..., 1] *= to_size[0] / from_size[0]
    return out


def placement(body: np.ndarray, face: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The target's (offset (2,), fallback centre (2,)) of the landmark crop from its (T, 25, 3) body and
    (T, 68, 3) face in model pixels: median (face anchor - body nose) and median face anchor."""
    offs, anchors = [], []
    for b, f in zip(body, face):
        a = face_anchor(f)
        if a is None:
            continue
        anchors.append(a)
        if b[NOSE, 2] > 0:
            offs.append(a - b[NOSE, :2])
    if not anchors:
        raise InputError("the target clip has no frame with a face", fix="extract a clip where the face is visible")
    off = np.median(offs, 0) if offs else np.zeros(2)
    return off.astype(np.float32), np.median(anchors, 0).astype(np.float32)


class UpperBodyDataset(torch.utils.data.Dataset):
    """Items (float32 tensors; S = ``cfg.size``, c = ``cfg.landmark.crop``, L = ``cfg.frame.past``):

    ``x``      (L+1, 6, S, S)  UBKP-FL inputs of frames t-L .. t (UBKP image, then the real landmark crop
                               pasted at nose + offset), in [-1, 1]
    ``x_pre``  (L, 6, S, S)    the inputs of frames t-2L .. t-L-1 (zeros before the clip start)
    ``image``  (L+1, 3, S, S)  the target's frames t-L .. t, in [-1, 1]
    ``faup``   (L+1, 1, c, c)  FAUP images (section 4)
    ``lm``     (L+1, 3, c, c)  the target's real face-landmark crops, in [-1, 1]
    """

    def __init__(self, cfg: UpperBodyConfig, clips: list):
        if not clips:
            raise InputError("no target clip given", fix="pass --target CLIP_DIR")
        self.cfg = cfg
        self.size = (int(cfg.size), int(cfg.size))
        self.L = int(cfg.frame.past)
        self.crop = int(cfg.landmark.crop)
        self.stores: list[ClipStore] = []
        self.kp: list[dict[str, np.ndarray]] = []
        self.faup: list[np.ndarray] = []
        self.index: list[tuple[int, int]] = []
        for c in clips:
            store = c if isinstance(c, ClipStore) else ClipStore.open(c)
            if not store.has("face_raw"):
                raise InputError("clip has no `face_raw` array (the MediaPipe face mesh)", store.root,
                                 "re-run `reenactor extract` with this version of reenactor")
            kp = {k: scale_kp(store.load(k, mmap=False), store.size, self.size) for k in KEYPOINTS if store.has(k)}
            if "body" not in kp or "face" not in kp:
                raise InputError("clip has no body/face keypoints", store.root, "re-run `reenactor extract`")
            ci = len(self.stores)
            self.stores.append(store)
            self.kp.append(kp)
            self.faup.append(np.asarray(add_faup_stage(store), np.float32))
            T = store.n_frames
            person = store.person_present() if store.has("person") else np.ones(T, bool)
            for t in range(self.L, T):
                if person[t - self.L:t + 1].all():
                    self.index.append((ci, t))
        if not self.index:
            raise InputError(f"no run of {self.L + 1} consecutive frames with a person", self.stores[0].root,
                             "extract a longer clip of the target person")
        body = np.concatenate([k["body"] for k in self.kp])
        face = np.concatenate([k["face"] for k in self.kp])
        self.offset, self.fallback = placement(body, face)
        self._cache: dict[tuple[int, int], dict[str, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.index)

    def target_keypoints(self) -> dict[str, np.ndarray]:
        """(T, K, 3) keypoints of all target clips in model pixels."""
        return {k: np.concatenate([kp[k] for kp in self.kp]) for k in self.kp[0]}

    def _frame(self, ci: int, t: int) -> dict[str, np.ndarray]:
        key = (ci, t)
        if key in self._cache:
            return self._cache[key]
        kp = {k: v[t] for k, v in self.kp[ci].items()}
        lm = landmark_crop(kp["face"], self.crop)
        centre = face_centre(kp["body"], self.offset, self.fallback)
        x = np.concatenate([ubkp_image(kp, self.size, self.cfg.hands), paste(lm, centre, self.size)])
        img = self.stores[ci].frames()[t]
        if img.shape[:2] != self.size:
            img = cv2.resize(np.asarray(img), (self.size[1], self.size[0]), interpolation=cv2.INTER_AREA)
        rec = {"x": x, "lm": lm, "image": to_unit(np.asarray(img)), "centre": np.asarray(centre, np.float32),
               "faup": faup_image(self.faup[ci][t], (self.crop, self.crop), self.cfg.landmark.cell)}
        if len(self._cache) < 4096:
            self._cache[key] = rec
        return rec

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        ci, t = self.index[i]
        win = [self._frame(ci, s) for s in range(t - self.L, t + 1)]
        pre = [self._frame(ci, s)["x"] if s >= 0 else np.zeros((6, *self.size), np.float32)
               for s in range(t - 2 * self.L, t - self.L)]
        out = {k: torch.from_numpy(np.stack([w[k] for w in win])) for k in ("x", "image", "faup", "lm", "centre")}
        out["x_pre"] = torch.from_numpy(np.stack(pre)) if pre else torch.zeros(0, 6, *self.size)
        return out
