"""The datasets of performance cloning (Aberman et al. 2019, sections 3.1-3.2).

Paired items come from the target's clip(s): N consecutive pose volumes and the N frames they were extracted
from. When unpaired clips are given, every item also carries N consecutive pose volumes of another person,
roughly aligned onto the target (:func:`fit_alignment`), the driving clip's optical flow between them (cached
``flow`` array, forward flow t -> t+1, resampled by the same alignment) and the limb falloff alpha(y) of the
last pose, for the temporal-coherence loss (eq. 4).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ...data.augment import PersonMover, affine_keypoints, random_similarity
from ...data.clipstore import ClipStore
from ...errors import InputError
from ...losses import limb_weight_map
from ...nn.convert import unit_from_uint8
from ...pose.skeleton import BODY_LIMBS, scale_keypoints
from .config import CloningConfig
from .volumes import Alignment, VolumeEncoder, fit_alignment, volume_encoder

logger = logging.getLogger(__name__)


@dataclass
class _Clip:
    store: ClipStore
    body: np.ndarray  # (T, 25, 3) in pixels of `size` (aligned for unpaired clips)
    face: np.ndarray | None  # (T, 68, 3) likewise, when the volumes draw face channels
    starts: np.ndarray  # (M,) frame indices t such that t .. t+N-1 all show the person
    align: Alignment  # stored-frame pixels -> model pixels


def _starts(store: ClipStore, n: int) -> np.ndarray:
    t = store.n_frames
    person = store.person_present() if store.has("person") else np.ones(t, bool)
    ok = np.array([person[i : i + n].all() for i in range(max(t - n + 1, 0))], bool)
    return np.nonzero(ok)[0]


def _open(clip) -> ClipStore:
    return clip if isinstance(clip, ClipStore) else ClipStore.open(clip)


def limb_alpha(
    joints: torch.Tensor, encoder: VolumeEncoder, sigma: float, min_conf: float = 0.05
) -> torch.Tensor:
    """alpha(y) of eq. 4 for poses ``(..., K, J, 3)`` of the volume's joints (:meth:`VolumeEncoder.select`): the
    limb falloff of each, ``(..., K, S, S)``, over the limbs between the volume's joints whose two ends have
    confidence ``min_conf`` or more, on their device."""
    pos = {int(j): i for i, j in enumerate(encoder.index)}
    limbs = [(pos[a], pos[b]) for a, b in BODY_LIMBS if a in pos and b in pos]
    lead = joints.shape[:-2]
    a = limb_weight_map(
        joints.reshape(-1, *joints.shape[-2:]), encoder.size, limbs=limbs, sigma=sigma, thresh=min_conf
    )
    return a.reshape(*lead, *encoder.size)


def prepare_volume_batch(
    batch: dict[str, torch.Tensor],
    encoder: VolumeEncoder,
    alpha_sigma: float = 6.0,
    alpha_conf: float = 0.05,
) -> dict[str, torch.Tensor]:
    """A collated batch of compact items, on the training device -> what the networks read, in batched torch
    operations there (:meth:`VolumeEncoder.render`, the renderer inference uses too):

    ``pose``  (B, C*N, S, S)  N stacked pose volumes of the target (section 3.1), from ``joints`` (+ ``face``)
    ``image`` (B, 3*N, S, S)  the N target frames in [-1, 1], from ``frames`` (uint8)
    ``u_pose`` likewise from ``u_joints`` (+ ``u_face``), and ``u_alpha`` (B, N-1, S, S), eq. 4's limb falloff
    of its first N-1 poses; other keys pass through. A batch that already has
    ``pose`` (items rendered on the host, ``host_volumes=True``) is returned as it is."""
    if "pose" in batch:
        return batch
    out = dict(batch)

    def volumes(joints: torch.Tensor, face: torch.Tensor | None) -> torch.Tensor:
        v = encoder.render(joints, face)  # (B, N, C, S, S)
        return v.flatten(1, 2)

    out["pose"] = volumes(out.pop("joints"), out.pop("face", None))
    out["image"] = unit_from_uint8(out.pop("frames"))
    if "u_joints" in out:
        uj = out.pop("u_joints")
        out["u_pose"] = volumes(uj, out.pop("u_face", None))
        out["u_alpha"] = limb_alpha(
            uj[:, :-1], encoder, alpha_sigma, alpha_conf
        )  # eq. 4's weights, of the first N-1 poses
    return out


class PoseVolumeDataset(torch.utils.data.Dataset):
    """Compact items (S = ``cfg.size``, J joints, N = ``cfg.volume.frames``); :func:`prepare_volume_batch` turns
    a collated batch of them into pose volumes and images on the training device
    (:meth:`reenactor.methods.base.Method.prepare_batch`):

    ``joints`` (N, J, 3) float32  the target's N consecutive poses in model pixels (augmented), the volume's joints
    ``face``   (N, 68, 3)         its face landmarks, only when the volumes draw face channels
    ``frames`` (3*N, S, S) uint8  the N target frames
    and, with unpaired clips:
    ``u_joints`` (N, J, 3) (+ ``u_face``)  N consecutive poses of another person, aligned onto the target
    ``u_flow``  (2*(N-1), S, S) float32  forward optical flow between those consecutive driving frames, in pixels

    ``host_volumes=True``: the items carry the rendered ``pose`` / ``image`` (/ ``u_pose``) float32 tensors
    (and ``u_alpha`` (N-1, S, S), alpha(y_i) of eq. 4) instead, drawn per item by the NumPy encoder (the data path before batched rendering; kept
    for the test that both paths agree)."""

    def __init__(
        self, cfg: CloningConfig, clips: list, unpaired: list | None = None, host_volumes: bool = False
    ):
        self.cfg = cfg
        self.host_volumes = bool(host_volumes)
        self.n = int(cfg.volume.frames)
        self.size = (int(cfg.size), int(cfg.size))
        self.encoder = volume_encoder(cfg)
        if not clips:
            raise InputError("no target clip given", fix="pass --target CLIP_DIR")
        self.clips: list[_Clip] = []
        for c in clips:
            store = _open(c)
            body = scale_keypoints(store.load("body", mmap=False), store.size, self.size)
            face = self._face(store)
            face = None if face is None else scale_keypoints(face, store.size, self.size)
            self.clips.append(_Clip(store, body, face, _starts(store, self.n), Alignment()))
        self.index = [(ci, int(t)) for ci, c in enumerate(self.clips) for t in c.starts]
        if not self.index:
            raise InputError(
                f"no run of {self.n} consecutive frames with a person",
                self.clips[0].store.root,
                "extract a longer clip of the target person",
            )
        self.mover = PersonMover(cfg.augment, [c.store for c in self.clips], self.size, self.frame)
        target_body = np.concatenate([c.body for c in self.clips])
        self.unpaired: list[_Clip] = []
        if unpaired and cfg.unpaired and self.n >= 2:
            from ...data.flow import add_flow_stage

            for c in unpaired:
                store = _open(c)
                if not store.has("flow"):
                    logger.info(
                        f"unpaired clip {store.root}: computing its optical flow (cached in the clip store)"
                    )
                    add_flow_stage(store)
                body = store.load("body", mmap=False).astype(np.float32)
                if cfg.unpaired_align == "fit":
                    align = fit_alignment(body, target_body)
                else:  # as they are: only stored-frame pixels -> model pixels
                    align = Alignment(self.size[1] / store.size[1], 0.0, 0.0)
                face = self._face(store)
                face = None if face is None else align.apply(face)
                self.unpaired.append(_Clip(store, align.apply(body), face, _starts(store, self.n), align))
            self.u_index = [(ci, int(t)) for ci, c in enumerate(self.unpaired) for t in c.starts]
            if not self.u_index:
                raise InputError(
                    "the unpaired clips have no run of consecutive frames with a person",
                    self.unpaired[0].store.root,
                    "pass other --unpaired clips",
                )
        else:
            self.u_index = []

    @property
    def plates(self) -> list[np.ndarray | None]:
        """Each target clip's background plate for pose augmentation (None: none made)."""
        return self.mover.plates

    def _face(self, store: ClipStore) -> np.ndarray | None:
        if not self.encoder.face:
            return None
        if not store.has("face"):
            raise InputError(
                "clip has no `face` keypoints but the config draws face channels",
                store.root,
                "set model.volume.face=false or extract the clip with face landmarks",
            )
        return store.load("face", mmap=False).astype(np.float32)

    @property
    def has_unpaired(self) -> bool:
        return bool(self.u_index)

    def __len__(self) -> int:
        return len(self.index)

    def target_poses(self) -> np.ndarray:
        """(T, 25, 3) all target body poses in model pixels."""
        return np.concatenate([c.body for c in self.clips])

    def target_keypoints(self) -> dict[str, np.ndarray]:
        """All target keypoint arrays (body, face, hands), (T, K, 3) in model pixels."""
        out: dict[str, list[np.ndarray]] = {}
        for c in self.clips:
            for k, v in c.store.keypoints().items():
                out.setdefault(k, []).append(scale_keypoints(v, c.store.size, self.size))
        return {k: np.concatenate(v) for k, v in out.items()}

    def frame(self, ci: int, t: int) -> np.ndarray:
        """(S, S, 3) uint8 target frame."""
        f = np.asarray(self.clips[ci].store.frames()[t])
        if f.shape[:2] != self.size:
            f = cv2.resize(f, (self.size[1], self.size[0]), interpolation=cv2.INTER_AREA)
        return f

    def volumes(self, clip: _Clip, t: int) -> np.ndarray:
        """Frames t .. t+N-1 of ``clip`` -> (C*N, S, S) stacked pose volumes."""
        return np.concatenate(
            [
                self.encoder({"body": clip.body[k], "face": None if clip.face is None else clip.face[k]})
                for k in range(t, t + self.n)
            ]
        )

    def keypoints(self, clip: _Clip, t: int) -> dict[str, torch.Tensor]:
        """Frames t .. t+N-1 of ``clip`` -> ``{"joints": (N, J, 3)}`` (+ ``"face": (N, 68, 3)``), float32, as
        :meth:`VolumeEncoder.render` reads them."""
        out = {"joints": torch.from_numpy(self.encoder.select(clip.body[t : t + self.n]))}
        if self.encoder.face:
            if clip.face is None:
                raise RuntimeError("face channels without face keypoints")  # _face() refused this already
            out["face"] = torch.from_numpy(self.encoder.clean_face(clip.face[t : t + self.n]))
        return out

    def augmentation(self) -> np.ndarray | None:
        """A random similarity transform (2, 3) for one paired item (``cfg.augment``), or None
        (:func:`reenactor.data.augment.random_similarity`; the trainer seeds NumPy per sample position)."""
        return random_similarity(self.cfg.augment, self.size)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        ci, t = self.index[i]
        clip = self.clips[ci]
        frames = [self.frame(ci, t + k) for k in range(self.n)]
        m = self.mover.draw(ci)
        frames = self.mover.move(ci, frames, range(t, t + self.n), m)
        if m is not None:  # the same transform moves the poses and the frames
            clip = _Clip(
                clip.store,
                affine_keypoints(clip.body[t : t + self.n], m),
                None if clip.face is None else affine_keypoints(clip.face[t : t + self.n], m),
                clip.starts,
                clip.align,
            )
            t = 0
        stacked = np.concatenate([f.transpose(2, 0, 1) for f in frames])
        if self.host_volumes:
            item = {
                "pose": torch.from_numpy(self.volumes(clip, t)),
                "image": torch.from_numpy(stacked.astype(np.float32) / 127.5 - 1.0),
            }
        else:
            item = {"frames": torch.from_numpy(np.ascontiguousarray(stacked)), **self.keypoints(clip, t)}
        if self.u_index:
            uj = int(torch.randint(len(self.u_index), ()).item())
            ui, ut = self.u_index[uj]
            u = self.unpaired[ui]
            body = u.body[ut : ut + self.n]
            flow = u.store.load("flow")
            flows = [
                u.align.warp_flow(np.asarray(flow[ut + k]), self.size).transpose(2, 0, 1)
                for k in range(self.n - 1)
            ]
            if self.host_volumes:
                item["u_pose"] = torch.from_numpy(self.volumes(u, ut))
                joints = torch.from_numpy(self.encoder.select(body[:-1]))
                item["u_alpha"] = limb_alpha(
                    joints, self.encoder, self.cfg.loss.alpha_sigma, self.cfg.loss.alpha_conf
                )
            else:  # the device renders the volumes and alpha from the poses
                item.update({f"u_{k}": v for k, v in self.keypoints(u, ut).items()})
            item["u_flow"] = torch.from_numpy(np.concatenate(flows).astype(np.float32))
        return item
