"""single_shot's training pairs: a source frame A (the appearance, "the target photo") and a target frame B (pose
and ground truth) of one identity (:class:`reenactor.data.pairs.FramePairs`; the paper pairs frames of one
video at most 250 frames apart, sec. 3.1).

Items hold what the stages being trained read (S = ``cfg.size``; all float32 unless said):

P2B (sec. 3.1; input layout from A, pose and ground truth from B)::

    p2b_layout     (S, S) uint8   layout of A
    p2b_pose_<kp>  (K, 3)         B's keypoints (the arrays all clips have) in pixels of the S x S frame
    p2b_iuv        (3, S, S)      pseudo-IUV of B in [0, 1] (with ``p2b.densepose``)
    p2b_target     (S, S) int64   layout of B

  and :func:`prepare_p2b_batch` makes P2B's input on the training device from a collated batch
  (:meth:`reenactor.methods.base.Method.prepare_batch`): ``p2b_in`` (22 + 3 [+ 3], S, S), the one-hot layout of
  A, the stick figure of B in [-1, 1] (drawn by the renderer inference draws with, :func:`.maps.stick_figures`)
  and the pseudo-IUV. One random rotation / scale moves A's layout, B's layout and B's pose together; the
  squeeze / stretch moves the two layouts only, never the pose (the body-shape augmentation of sec. 3.1 and
  Fig. 12b).

B2F (sec. 3.2; appearance from A, layout and ground truth from B) and FR (sec. 3.3)::

    crops        (4, 3, C, C)  t_2..t_5 of A (upper clothes, lower clothes, shoes, skin) in [-1, 1]
    face_desc    (128,)        dlib descriptor of A's face (t_1), zeros without a face
    seg_labels   (S, S) uint8  layout of B;  face_parts (5, S, S) uint8  the five face parts of B's landmarks
    image        (3, S, S) uint8  frame B;  background (3, S, S) uint8 its background plate
    face_theta   (2, 3)        B's face box for ``affine_grid``;  face_valid () 1 when B has a face
    source_face  (3, F, F)     A's aligned face crop c_I in [-1, 1] (FR's identity term; only when fr.lambda_id > 0)

  :func:`prepare_pairs` (on the training device) turns them into what the networks read: ``seg`` (22 [+ 5], S, S)
  the one-hot layout [+ face parts], ``image`` / ``background`` in [-1, 1], ``mask`` (1, S, S) = layout > 0 (the
  person: eq. 17's target, and what every B2F loss sees).

  B is randomly resized, shifted and mirrored (sec. 3.2); with ``hue_prob`` the clothes of A and B turn hue by
  the same angle, so the colour the network draws must come from e_z.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from ...data.augment import affine_keypoints
from ...data.pairs import FramePair, FramePairs, PairOptions
from ...nn.convert import to_unit, unit_from_uint8
from . import maps
from .appearance import FACE_DIM, FaceEmbedder
from .config import SingleShotConfig, face_side

KEYS = ("body", "face", "hand_left", "hand_right")
P2B_POSE = "p2b_pose_"  # item keys of B's keypoint arrays: p2b_pose_body, p2b_pose_face, ...


def prepare_p2b_batch(batch: dict[str, torch.Tensor], size: int) -> dict[str, torch.Tensor]:
    """A collated batch of items, on the training device -> P2B's input ``p2b_in`` (B, 22 + 3 [+ 3], S, S) from
    ``p2b_layout``, the ``p2b_pose_*`` keypoints and ``p2b_iuv`` (see the module docstring); other keys pass
    through (a batch without P2B items as it is)."""
    if "p2b_layout" not in batch:
        return batch
    out = dict(batch)
    kp = {k[len(P2B_POSE) :]: out.pop(k) for k in batch if k.startswith(P2B_POSE)}
    iuv = [out.pop("p2b_iuv")] if "p2b_iuv" in out else []
    target = out["p2b_target"]
    x = target.new_zeros(len(target), maps.N_LABELS + 3 + 3 * len(iuv), size, size, dtype=torch.float32)
    x[:, : maps.N_LABELS].scatter_(1, out.pop("p2b_layout")[:, None].long(), 1.0)  # one-hot
    x[:, maps.N_LABELS : maps.N_LABELS + 3] = maps.stick_figures(kp, size)
    if iuv:
        x[:, maps.N_LABELS + 3 :] = iuv[0]
    out["p2b_in"] = x
    return out


class SingleShotPairs(FramePairs):
    """Pairs for the stages ``stages`` (a subset of {"p2b", "b2f", "fr"}); see the module docstring."""

    def __init__(
        self,
        clips: list,
        pairs: PairOptions | None,
        cfg: SingleShotConfig,
        stages: set[str],
        embedder: FaceEmbedder | None = None,
    ):
        super().__init__(clips, pairs, size=cfg.size)
        self.cfg = cfg
        self.stages = set(stages)
        self.appearance = bool(self.stages & {"b2f", "fr"})
        need = ["layout"] + (["background"] if self.appearance else [])
        self.require(need, "single_shot")
        self.embedder = embedder or FaceEmbedder()
        self._desc: list[np.ndarray] = (
            [self._clip_descriptors(ci) for ci in range(len(self.clips))] if self.appearance else []
        )

    # ------------------------------------------------------------------ per-frame arrays at the model size
    @property
    def s(self) -> int:
        return int(self.size[0])

    def layout(self, clip: int, t: int) -> np.ndarray:
        return self.labels(clip, "layout", t)

    def background(self, clip: int, t: int) -> np.ndarray:
        return self.image(clip, "background", t)

    def describe(self, clip: int, t: int) -> np.ndarray:
        """t_1 -> dlib descriptor of frame ``t`` of clip ``clip`` at the model size, computed (~75 ms; what
        :meth:`face_desc` reads from the cache)."""
        box = maps.face_box(self.layout(clip, t), self.keypoints(clip, t).get("face"), pad=1.0)
        return self.embedder.embed(self.frame(clip, t), maps.dlib_box(box))

    def _clip_descriptors(self, ci: int) -> np.ndarray:
        """(T, 128) descriptors of every usable frame of clip ``ci`` (zeros elsewhere), cached in its clip store
        as ``face_desc_<S>``: dlib runs once per frame and size, not per item (at ~75 ms a descriptor it was most
        of an item's time, and each DataLoader worker kept its own cache). The stored spec (size, the embedder,
        the layout file's size and time) is checked on every start, so a re-imported layout computes them again."""
        from tqdm.auto import tqdm

        store = self.clips[ci].store
        name = f"face_desc_{self.s}"
        lay = store.path("layout").stat()
        spec = {
            "size": self.s,
            "embedder": self.embedder.description,
            "layout": [lay.st_size, lay.st_mtime_ns],
        }
        done = store.stage(name) or {}
        if store.has(name) and done.get("spec") == spec:
            return np.asarray(store.load(name, mmap=False), np.float32)
        out = np.zeros((store.n_frames, FACE_DIM), np.float32)
        frames = self.usable[ci]
        bar = tqdm(frames, desc=f"face descriptors {store.root.name}", unit="frame", leave=False)
        for t in bar:
            out[t] = self.describe(ci, int(t))
        store.save(name, out, stage=name, write_manifest=False)
        store.set_stage(name, spec=spec)
        return out

    def face_desc(self, clip: int, t: int) -> np.ndarray:
        """t_1 -> dlib descriptor of frame ``t`` (cached per clip: the clothes' hue turn never touches the face)."""
        return self._desc[clip][t]

    # ------------------------------------------------------------------ augmentations (NumPy's global RNG)
    def _rotate_scale(self) -> np.ndarray | None:
        c = self.cfg.p2b
        if c.aug_prob <= 0 or np.random.random_sample() >= c.aug_prob:
            return None
        angle = float(np.random.uniform(-c.rotate, c.rotate))
        s = 1.0 + float(np.random.uniform(-c.scale, c.scale))
        return cv2.getRotationMatrix2D(((self.s - 1) / 2.0, (self.s - 1) / 2.0), angle, s).astype(np.float32)

    def _stretch(self) -> float:
        c = self.cfg.p2b
        if c.stretch <= 1.0 or c.stretch_prob <= 0 or np.random.random_sample() >= c.stretch_prob:
            return 1.0
        return float(np.exp(np.random.uniform(-np.log(c.stretch), np.log(c.stretch))))

    def _resize_flip(self) -> tuple[np.ndarray | None, bool]:
        c = self.cfg.b2f
        m = None
        if c.aug_prob > 0 and np.random.random_sample() < c.aug_prob:
            s = 1.0 + float(np.random.uniform(-c.scale, c.scale))
            tx, ty = np.random.uniform(-c.shift, c.shift, 2) * self.s
            o = (self.s - 1) / 2.0
            m = np.array([[s, 0, (1 - s) * o + tx], [0, s, (1 - s) * o + ty]], np.float32)
        flip = bool(c.flip) and np.random.random_sample() < 0.5
        if flip:
            mirror = np.array([[-1, 0, self.s - 1], [0, 1, 0], [0, 0, 1]], np.float32)
            base = np.vstack([m if m is not None else np.eye(2, 3, dtype=np.float32), [0, 0, 1]])
            m = (mirror @ base)[:2]
        return m, flip

    def _colour(self) -> tuple[float, np.ndarray]:
        """The clothes' hue turn (degrees) and Lab shift of one pair (:func:`maps.recolour`)."""
        c = self.cfg.b2f
        if c.hue_prob <= 0 or np.random.random_sample() >= c.hue_prob:
            return 0.0, np.zeros(3, np.float32)
        deg = float(np.random.uniform(-c.hue_jitter, c.hue_jitter)) if c.hue_jitter > 0 else 0.0
        shift = np.random.uniform(-c.colour_shift, c.colour_shift, 3) if c.colour_shift > 0 else np.zeros(3)
        return deg, shift.astype(np.float32)

    # ------------------------------------------------------------------ items
    def p2b_item(self, lay_a: np.ndarray, lay_b: np.ndarray, pose_b: dict[str, np.ndarray]) -> dict:
        m = self._rotate_scale()
        if m is not None:
            lay_a, lay_b = maps.warp_labels(lay_a, m), maps.warp_labels(lay_b, m)
            pose_b = {k: affine_keypoints(v, m) for k, v in pose_b.items()}
        k = self._stretch()
        lay_a, lay_b = maps.stretch_layout(lay_a, k), maps.stretch_layout(lay_b, k)
        out = {"p2b_layout": torch.tensor(lay_a), "p2b_target": torch.from_numpy(lay_b.astype(np.int64))}
        out.update({P2B_POSE + n: torch.from_numpy(np.asarray(v, np.float32)) for n, v in pose_b.items()})
        if self.cfg.p2b.densepose:
            out["p2b_iuv"] = torch.from_numpy(maps.iuv_map(pose_b, self.s))
        return out

    def b2f_item(self, p: FramePair, lay_a: np.ndarray, lay_b: np.ndarray, kp_a: dict, kp_b: dict) -> dict:
        img_a, img_b = self.frame(p.source_clip, p.source_t), self.frame(p.clip, p.target_t)
        desc = self.face_desc(p.source_clip, p.source_t)
        deg, shift = self._colour()
        if deg or shift.any():
            img_a, img_b = maps.recolour(img_a, lay_a, deg, shift), maps.recolour(img_b, lay_b, deg, shift)
        crops, _ = maps.appearance_crops(img_a, lay_a, self.cfg.b2f.crop)
        bg = self.background(p.clip, p.target_t)
        face_b = kp_b.get("face")
        m, flip = self._resize_flip()
        if m is not None:
            warp = dict(dsize=(self.s, self.s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            img_b, bg = cv2.warpAffine(img_b, m, **warp), cv2.warpAffine(bg, m, **warp)
            lay_b = maps.warp_labels(lay_b, m)
            if flip:
                lay_b = maps.FLIP_LABELS[lay_b]
            face_b = None if face_b is None else affine_keypoints(face_b, m)
        box_b = maps.face_box(lay_b, face_b, self.cfg.face_pad)
        out = {
            "crops": torch.from_numpy(crops),
            "face_desc": torch.from_numpy(desc),
            # a copy: the stored layout is read-only
            "seg_labels": torch.from_numpy(np.array(lay_b, np.uint8)),
            "image": torch.from_numpy(np.ascontiguousarray(img_b.transpose(2, 0, 1))),
            "background": torch.from_numpy(np.ascontiguousarray(bg.transpose(2, 0, 1))),
            "face_theta": torch.from_numpy(maps.box_theta(box_b, self.s)),
            "face_valid": torch.tensor(float(box_b is not None)),
        }
        if self.cfg.b2f.region_colour:
            out["colours"] = torch.from_numpy(maps.region_colours(img_a, lay_a))
        if self.cfg.fr.lambda_id > 0:  # eq. 18's identity term is the only reader of A's face crop
            box_a = maps.face_box(lay_a, kp_a.get("face"), self.cfg.face_pad)
            out["source_face"] = torch.from_numpy(to_unit(maps.box_crop(img_a, box_a, face_side(self.cfg))))
        if self.cfg.b2f.face_parts:
            out["face_parts"] = torch.from_numpy(maps.face_parts(face_b, self.s).astype(np.uint8))
        return out

    def item(self, p: FramePair) -> dict[str, torch.Tensor]:
        lay_a, lay_b = self.layout(p.source_clip, p.source_t), self.layout(p.clip, p.target_t)
        kp_b = self.keypoints(p.clip, p.target_t)
        out: dict[str, torch.Tensor] = {}
        if "p2b" in self.stages:
            out.update(self.p2b_item(lay_a, lay_b, kp_b))
        if self.appearance:
            kp_a = self.keypoints(p.source_clip, p.source_t)
            out.update(self.b2f_item(p, lay_a, lay_b, kp_a, kp_b))
        return out


def prepare_pairs(batch: dict[str, torch.Tensor], size: int) -> dict[str, torch.Tensor]:
    """A collated batch of :class:`SingleShotPairs` items on the training device -> what the networks read, in
    batched torch operations (see the module docstring): P2B's ``p2b_in`` (:func:`prepare_p2b_batch`), and from
    B2F's compact items (``seg_labels``, uint8 ``image`` / ``background``, ``face_parts``) ``seg``, ``mask`` and
    [-1, 1] images, the values the per-item NumPy path drew (``maps.one_hot``, ``to_unit``) exactly."""
    out = prepare_p2b_batch(batch, size)
    if "seg_labels" not in out:
        return out
    out = dict(out)
    lab = out.pop("seg_labels").long()[:, None]  # (B, 1, S, S)
    parts = out.pop("face_parts", None)
    n = maps.N_LABELS + (0 if parts is None else parts.shape[1])
    seg = torch.zeros((lab.shape[0], n, *lab.shape[2:]), dtype=torch.float32, device=lab.device)
    seg.scatter_(1, lab, 1.0)  # the one-hot layout: zeros, and a one per pixel (no full-size compare)
    if parts is not None:
        seg[:, maps.N_LABELS :] = parts
    out["seg"] = seg
    out["mask"] = (lab > 0).to(torch.float32)
    for k in ("image", "background"):
        out[k] = unit_from_uint8(out[k])
    return out
