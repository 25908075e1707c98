"""Training windows for the upper-body method (Liu et al. 2019, sections 4-5), from the target's clip store(s).

Each item is a window of L + 1 consecutive frames t-L .. t of the target (all with a person), the L inputs
before it (for the "past L source frames" of the first frames, zeros before the clip start), and per frame
the target's own FAUP image and face-landmark crop (the landmark generator's training pair, section 4).
FAUP comes from the clip store's ``faup`` stage (computed and cached on first use). Items carry the keypoints
the inputs and crops are drawn from; :func:`prepare_window_batch` draws them batched on the training device
with the synthesizer's renderer (:mod:`.images`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import cv2
import numpy as np
import torch

from ...data.augment import PersonMover, affine_keypoints
from ...data.clipstore import ClipStore
from ...errors import InputError
from ...face.expression_warp import BASIS_COLUMNS, ExpressionField, column_amplitudes, draw_expression
from ...face.faup import N_AU, add_faup_stage, clip_neutral, faup_from_mesh, faup_image
from ...nn.convert import unit_from_uint8
from ...pose.skeleton import N_BODY, N_FACE, N_HAND, J, scale_keypoints
from .config import UpperBodyConfig
from .images import NOSE, face_anchors, face_centre, landmark_crops, ubkp_fl

KEYPOINTS = ("body", "face", "hand_left", "hand_right")
#: body joints ``body_jitter`` leaves alone: nose, eyes, ears (the landmark crop is pasted from the nose)
HEAD_JOINTS = tuple(J[n] for n in ("Nose", "REye", "LEye", "REar", "LEar"))


def placement(body: np.ndarray, face: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The target's (offset (2,), fallback centre (2,)) of the landmark crop from its (T, 25, 3) body and
    (T, 68, 3) face in model pixels: median (face anchor - body nose) and median face anchor."""
    anchor, ok = (a.numpy() for a in face_anchors(torch.from_numpy(face)))
    if not ok.any():
        raise InputError(
            "the target clip has no frame with a face", fix="extract a clip where the face is visible"
        )
    nose = ok & (body[:, NOSE, 2] > 0)
    off = np.median(anchor[nose] - body[nose, NOSE, :2], 0) if nose.any() else np.zeros(2)
    return off.astype(np.float32), np.median(anchor[ok], 0).astype(np.float32)


#: item keys of the keypoint arrays the UBKP-FL inputs are drawn from: pose_body, pose_face, ...
POSE = "pose_"


def prepare_window_batch(batch: dict[str, torch.Tensor], cfg: UpperBodyConfig) -> dict[str, torch.Tensor]:
    """A collated batch of :class:`UpperBodyDataset` items, on the device -> what the networks read, drawn there
    in batched operations (:mod:`.images`; in uint8, converted once): the UBKP images of all B(2L+1) frames in
    one call, their landmark crops and those of ``lm_face`` in another, the crops pasted at ``paste_centre``;
    ``x`` (B, L+1, 6, S, S) and ``x_pre`` (B, L, 6, S, S) in [-1, 1] (``x_pre`` zero where ``pre_valid`` is
    False: before the clip start), ``lm`` (B, L+1, 3, c, c), ``centre`` (B, L+1, 2) the window's paste centres;
    ``image`` / ``image_src`` as [-1, 1] floats; other keys pass through."""
    out = dict(batch)
    out.update({k: unit_from_uint8(out[k]) for k in ("image", "image_src") if k in out})
    size, crop, L = (cfg.size, cfg.size), int(cfg.landmark.crop), int(cfg.frame.past)
    pose = {k[len(POSE) :]: out.pop(k).flatten(0, 1) for k in batch if k.startswith(POSE)}
    lm_face, valid = out.pop("lm_face"), out.pop("pre_valid")
    b, n = lm_face.shape[0], pose["body"].shape[0]
    crops = landmark_crops(torch.cat([pose.pop("face"), lm_face.flatten(0, 1)]), crop, unit=False)
    centre = out.pop("paste_centre")
    x = unit_from_uint8(ubkp_fl(pose, crops[:n], centre.flatten(0, 1), size, cfg.hands)).unflatten(0, (b, -1))
    x[:, :L] *= valid.to(x.dtype)[:, :, None, None, None]
    out["x"], out["x_pre"] = x[:, L:], x[:, :L]
    out["lm"] = unit_from_uint8(crops[n:]).unflatten(0, (b, -1))
    out["centre"] = centre[:, L:]
    return out


class UpperBodyDataset(torch.utils.data.Dataset):
    """Compact items (S = ``cfg.size``, c = ``cfg.landmark.crop``, L = ``cfg.frame.past``): the keypoints the
    UBKP-FL inputs are drawn from and uint8 frames; :func:`prepare_window_batch` draws and converts a collated
    batch into the networks' inputs on the training device (:meth:`reenactor.methods.base.Method.prepare_batch`).
    Pose augmentation, expression warps and body jitter move the keypoints here, before they are drawn.

    ``pose_body`` (2L+1, 25, 3), ``pose_hand_left`` / ``pose_hand_right`` (2L+1, 21, 3) (with ``cfg.hands``;
                    zeros for a clip without hands), ``pose_face`` (2L+1, 68, 3): the keypoints (model pixels)
                    of the UBKP-FL inputs of frames t-2L .. t: the L inputs before the window, then the
                    window's L+1 (zeros before the clip start)
    ``paste_centre`` (2L+1, 2)  where each input's landmark crop is pasted (body nose + offset)
    ``pre_valid`` (L,) bool     False for the inputs before the clip start (zeros in [-1, 1] once prepared)
    ``lm_face``  (L+1, 68, 3)   the faces of the landmark generator's targets ``lm`` (the window's, with their
                                expression warp, without the pose transform)
    ``image``    (L+1, 3, S, S) the target's frames t-L .. t, uint8
    ``faup``     (L+1, 1, c, c) FAUP images (section 4), float32
    ``image_src`` (L+1, 3, S, S) ``image`` before its expression warp (only with ``frame.face_refine`` and
                                ``frame.face_warp``: the face refiner's warp loss)
    """

    def __init__(self, cfg: UpperBodyConfig, clips: list):
        if not clips:
            raise InputError("no target clip given", fix="pass --target CLIP_DIR")
        self.cfg = cfg
        self.size = (int(cfg.size), int(cfg.size))
        self.L = int(cfg.frame.past)
        self.crop = int(cfg.landmark.crop)
        self.with_src = (
            cfg.frame.face_refine > 0 and cfg.frame.face_warp > 0
        )  # the refiner's warp loss needs them
        self.stores: list[ClipStore] = []
        self.kp: list[dict[str, np.ndarray]] = []
        self.faup: list[np.ndarray] = []
        self.meshes: list[
            np.ndarray
        ] = []  # (T, 478, 3) face meshes at clip size (expression warps recompute FAUP)
        self.neutral: list[np.ndarray] = []
        self.index: list[tuple[int, int]] = []
        for c in clips:
            store = c if isinstance(c, ClipStore) else ClipStore.open(c)
            if not store.has("face_raw"):
                raise InputError(
                    "clip has no `face_raw` array (the MediaPipe face mesh)",
                    store.root,
                    "re-run `reenactor extract` with this version of reenactor",
                )
            kp = {
                k: scale_keypoints(store.load(k, mmap=False), store.size, self.size)
                for k in KEYPOINTS
                if store.has(k)
            }
            if "body" not in kp or "face" not in kp:
                raise InputError("clip has no body/face keypoints", store.root, "re-run `reenactor extract`")
            ci = len(self.stores)
            self.stores.append(store)
            self.kp.append(kp)
            self.faup.append(np.asarray(add_faup_stage(store), np.float32))
            self.meshes.append(store.load("face_raw"))  # memory-mapped
            self.neutral.append(clip_neutral(store))
            T = store.n_frames
            person = store.person_present() if store.has("person") else np.ones(T, bool)
            for t in range(self.L, T):
                if person[t - self.L : t + 1].all():
                    self.index.append((ci, t))
        if not self.index:
            raise InputError(
                f"no run of {self.L + 1} consecutive frames with a person",
                self.stores[0].root,
                "extract a longer clip of the target person",
            )
        body = np.concatenate([k["body"] for k in self.kp])
        face = np.concatenate([k["face"] for k in self.kp])
        self.offset, self.fallback = placement(body, face)
        #: the keypoint arrays of an item (``pose_*``), and zeros of their shapes (a part a clip lacks, the
        #: inputs before the clip start)
        self.parts = KEYPOINTS if cfg.hands else ("body", "face")
        self.blank = {
            k: np.zeros((n, 3), np.float32) for k, n in zip(KEYPOINTS, (N_BODY, N_FACE, N_HAND, N_HAND))
        }
        self._frames: dict[int, np.ndarray] = {}  # each clip's memory-mapped frames, opened on first use
        self.mover = PersonMover(cfg.augment, self.stores, self.size, self._image)

    def __len__(self) -> int:
        return len(self.index)

    def target_keypoints(self) -> dict[str, np.ndarray]:
        """(T, K, 3) keypoints of all target clips in model pixels."""
        return {k: np.concatenate([kp[k] for kp in self.kp]) for k in self.kp[0]}

    def _image(self, ci: int, t: int) -> np.ndarray:
        """(S, S, 3) uint8 target frame at model size."""
        if ci not in self._frames:
            self._frames[ci] = self.stores[ci].frames()
        img = np.asarray(self._frames[ci][t])
        if img.shape[:2] != self.size:
            img = cv2.resize(img, (self.size[1], self.size[0]), interpolation=cv2.INTER_AREA)
        return img

    def __getstate__(self) -> dict[str, Any]:  # DataLoader workers reopen the memory maps themselves
        state = dict(self.__dict__)
        state["_frames"] = {}
        return state

    def _keypoints(
        self,
        ci: int,
        t: int,
        m: np.ndarray | None = None,
        field: ExpressionField | None = None,
        jitter: dict[str, np.ndarray] | None = None,
    ) -> dict[str, np.ndarray]:
        """Frame t's keypoints (model pixels), the face moved by the expression ``field``, the body joints and hands
        by the ``jitter`` offsets ((K, 2) per part) and then all of them by the affine ``m`` when given."""
        kp = {k: v[t] for k, v in self.kp[ci].items()}
        if field is not None:
            kp["face"] = field.move_points(kp["face"])
        for k, off in (jitter or {}).items():
            if k in kp:
                kp[k] = kp[k].copy()
                kp[k][:, :2] += off
        if m is not None:
            kp = {k: affine_keypoints(v, m) for k, v in kp.items()}
        return kp

    def _warped_faup(self, ci: int, t: int, field: ExpressionField) -> np.ndarray:
        """(20,) FAUP of frame t's face mesh moved by the expression ``field`` (given in model pixels)."""
        mesh = np.array(self.meshes[ci][t], np.float32, copy=True)
        if not np.abs(mesh[:, :2]).sum():
            return self.faup[ci][t]
        h, w = self.stores[ci].size
        k = np.array([self.size[1] / w, self.size[0] / h], np.float32)
        mesh[:, :2] += field.at(mesh[:, :2] * k) / k
        return faup_from_mesh(mesh, self.neutral[ci])

    def _draw_jitter(self) -> dict[str, np.ndarray] | None:
        """``body_jitter`` offsets for one window (None when off): per body joint except the head's (the landmark
        crop is placed from the nose), one per hand; from NumPy's global generator."""
        sd = float(self.cfg.body_jitter)
        if sd <= 0:
            return None
        body = np.random.normal(0.0, sd, (N_BODY, 2)).astype(np.float32)
        body[list(HEAD_JOINTS)] = 0.0
        return {
            "body": body,
            **{h: np.random.normal(0.0, sd, (1, 2)).astype(np.float32) for h in ("hand_left", "hand_right")},
        }

    def training_faup(self, max_warped: int = 2000) -> np.ndarray:
        """(N, 20) FAUP as the landmark generator meets them in training: every frame's own, plus, when expression
        warps are on (``prob`` p), p / (1 - p) as many warped ones (at most ``max_warped``; fixed seed, the global
        generator untouched), so their share matches training."""
        own = np.concatenate(self.faup)
        p = float(self.cfg.expression.prob)
        if p <= 0:
            return own
        rng, always = np.random.RandomState(0), dataclasses.replace(self.cfg.expression, prob=1.0)
        n = min(max_warped, int(round(len(own) * p / max(1.0 - p, 1e-6))))
        warped = []
        for _ in range(n):
            ci, t = self.index[rng.randint(len(self.index))]
            amp = draw_expression(always, rng)
            field = ExpressionField(self.kp[ci]["face"][t], amp, self.cfg.expression.sigma)
            warped.append(self._warped_faup(ci, t, field))
        return np.concatenate([own, np.asarray(warped, np.float32).reshape(-1, own.shape[1])])

    def expression_basis(self, n: int = 40) -> dict[str, Any]:
        """What the transfer-time expression warp needs about the target (``model.warp_expression``):

        ``ref`` (17,): the target's typical AU intensities (median over its frames); ``basis`` (17, K): the mean AU
        change of each of the K :data:`~reenactor.face.expression_warp.BASIS_COLUMNS` at full extent (the warp of
        :meth:`_warped_faup` on up to ``n`` evenly spaced frames with a face mesh); ``shape`` (68, 3): the typical
        68-point face about its anchor (model pixels, confidence 1 where the point is valid in most frames);
        ``columns``: the K (mode, fraction) pairs, so a model keeps fitting with the columns it was exported with."""
        own = np.concatenate(self.faup)[:, :N_AU]
        cols = column_amplitudes(self.cfg.expression)
        picks = [self.index[int(k)] for k in np.linspace(0, len(self.index) - 1, min(n, len(self.index)))]
        changes = []
        for ci, t in picks:
            if not np.abs(np.asarray(self.meshes[ci][t])[:, :2]).sum():
                continue
            fields = [ExpressionField(self.kp[ci]["face"][t], amp, self.cfg.expression.sigma) for amp in cols]
            if not fields[0].ok:
                continue
            base = self.faup[ci][t][:N_AU]
            changes.append(np.stack([self._warped_faup(ci, t, f)[:N_AU] - base for f in fields], 1))
        basis = np.mean(changes, 0) if changes else np.zeros((N_AU, len(cols)), np.float32)
        face = self.target_keypoints()["face"]
        anchor, ok = (a.numpy() for a in face_anchors(torch.from_numpy(face)))
        shape = np.zeros((68, 3), np.float32)
        if ok.any():
            shape[:, :2] = np.median(face[ok, :, :2] - anchor[ok, None], 0)
            shape[:, 2] = (np.mean(face[ok, :, 2] > 0, 0) > 0.5).astype(np.float32)
        return {
            "ref": np.median(own, 0).astype(np.float32),
            "basis": basis.astype(np.float32),
            "shape": shape,
            "columns": [[mode, frac] for mode, frac in BASIS_COLUMNS],
        }

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        ci, t = self.index[i]
        ts, pre_ts = range(t - self.L, t + 1), range(t - 2 * self.L, t - self.L)
        # one pose transform, expression and jitter for the window
        m = self.mover.draw(ci)
        amp = draw_expression(self.cfg.expression)
        jitter = self._draw_jitter()
        faces = self.kp[ci]["face"]
        fields = (
            {s: ExpressionField(faces[s], amp, self.cfg.expression.sigma) for s in (*pre_ts, *ts) if s >= 0}
            if amp is not None
            else {}
        )
        inputs = [self._keypoints(ci, s, m, fields.get(s), jitter) if s >= 0 else {} for s in (*pre_ts, *ts)]
        out = {POSE + k: np.stack([kp.get(k, self.blank[k]) for kp in inputs]) for k in self.parts}
        out["paste_centre"] = np.stack(
            [face_centre(kp["body"], self.offset, self.fallback) if kp else np.zeros(2) for kp in inputs]
        ).astype(np.float32)
        out["pre_valid"] = np.array([s >= 0 for s in pre_ts], bool)
        # the landmark generator's pair gets the expression but not the pose transform
        out["lm_face"] = np.stack([fields[s].move_points(faces[s]) if fields else faces[s] for s in ts])
        faup = [self._warped_faup(ci, s, fields[s]) if fields else self.faup[ci][s] for s in ts]
        out["faup"] = np.stack([faup_image(f, (self.crop, self.crop), self.cfg.landmark.cell) for f in faup])
        frames = src = [self._image(ci, s) for s in ts]
        if fields:
            frames = [fields[s].warp_image(f) for s, f in zip(ts, frames)]
        frames = self.mover.move(ci, frames, ts, m)  # m None: as they are, or over the plate (plate_all)
        src = self.mover.move(ci, src, ts, m) if self.with_src and fields else frames
        out["image"] = np.stack([f.transpose(2, 0, 1) for f in frames])
        if self.with_src:
            out["image_src"] = (
                out["image"] if src is frames else np.stack([f.transpose(2, 0, 1) for f in src])
            )
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in out.items()}
