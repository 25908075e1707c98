"""Pose volumes (Aberman et al. 2019, section 3.1): per-joint part-confidence maps, one channel per joint, each channel
normalized to zero mean and unit variance; rough per-clip alignment (one scale + one translation per video).

All maps are drawn by :func:`reenactor.pose.render.part_confidence_maps`, the one renderer shared by training
and inference, so the two can never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ...pose.skeleton import UPPER_BODY_JOINTS, J

#: named joint subsets of BODY_25 a pose volume can use
JOINT_SETS: dict[str, tuple[int, ...]] = {
    "body": tuple(range(25)),
    "upper_body": tuple(UPPER_BODY_JOINTS),
}

#: confidence under which a joint counts as missing
CONF_THRESH = 0.1


def joint_indices(joints: str) -> tuple[int, ...]:
    """BODY_25 indices of a named joint set (``"body"`` = all 25, ``"upper_body"`` = 15, no legs)."""
    from ...errors import ConfigError

    if joints not in JOINT_SETS:
        raise ConfigError(f"unknown joint set {joints!r}; known: {', '.join(JOINT_SETS)}")
    return JOINT_SETS[joints]


def normalize_channels(maps: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Normalize each channel of ``maps`` (C, H, W) to zero mean and unit variance (section 3.1).

    A channel that is constant (a missing joint: all zeros) stays all zeros. Returns float32 (C, H, W).
    Two passes for the sums, one for the output: ~7x faster than mean/std/where.
    """
    maps = np.ascontiguousarray(maps, dtype=np.float32)
    c = maps.shape[0]
    flat = maps.reshape(c, -1)
    n = flat.shape[1]
    mean = flat.sum(axis=1).astype(np.float64) / n  # numpy's pairwise float32 sums: accurate enough here
    var = np.maximum((flat * flat).sum(axis=1).astype(np.float64) / n - mean * mean, 0.0)
    std = np.sqrt(var)
    ok = std > eps
    scale = np.where(ok, 1.0 / np.where(ok, std, 1.0), 0.0).astype(np.float32)
    out = flat - mean.astype(np.float32)[:, None]
    out *= scale[:, None]
    return out.reshape(maps.shape)


def standardized_profiles(
    body: np.ndarray, size: tuple[int, int], sigma: float, thresh: float = 0.05, eps: float = 1e-6
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The separable form of :func:`standardized_gaussian_maps`: ``(gy (K, H), gx (K, W), offset (K,))`` float32
    with map ``k = gy[k][:, None] * gx[k][None, :] - offset[k]`` (gy already carries the 1 / std scale).

    A joint's map is separable, ``g(y, x) = gy(y) gx(x)``, so its mean and variance over the image follow from
    the 1-D profiles (``mean = sum(gy) sum(gx) / HW``, ``E[g^2] = sum(gy^2) sum(gx^2) / HW``). Missing joints
    (confidence <= ``thresh``) get all-zero profiles.
    """
    body = np.asarray(body, np.float32)
    h, w = int(size[0]), int(size[1])
    ys = np.arange(h, dtype=np.float32)
    xs = np.arange(w, dtype=np.float32)
    gy = np.exp(-((ys[None, :] - body[:, 1:2]) ** 2) / np.float32(sigma**2))  # (K, H)
    gx = np.exp(-((xs[None, :] - body[:, 0:1]) ** 2) / np.float32(sigma**2))  # (K, W)
    n = float(h * w)
    mean = gy.sum(1, dtype=np.float64) * gx.sum(1, dtype=np.float64) / n
    m2 = (gy.astype(np.float64) ** 2).sum(1) * (gx.astype(np.float64) ** 2).sum(1) / n
    std = np.sqrt(np.maximum(m2 - mean * mean, 0.0))
    ok = (body[:, 2] > thresh) & (std > eps)
    scale = np.where(ok, 1.0 / np.where(ok, std, 1.0), 0.0)
    return gy * scale[:, None].astype(np.float32), gx, (mean * scale).astype(np.float32)


def standardized_gaussian_maps(
    body: np.ndarray,
    size: tuple[int, int],
    sigma: float,
    thresh: float = 0.05,
    eps: float = 1e-6,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``normalize_channels(part_confidence_maps(body, size, sigma, thresh))`` in one pass over the output.

    One outer product minus a constant per joint (:func:`standardized_profiles`): the same values as the
    two-step form to float32 rounding, ~10x faster; training and inference both use it (inference builds the
    same products in torch, bit-identical). ``out``: optional (K, H, W) float32 array to write into.
    """
    gy, gx, offset = standardized_profiles(body, size, sigma, thresh, eps)
    if out is None:
        out = np.empty((len(gy), int(size[0]), int(size[1])), np.float32)
    np.multiply(gy[:, :, None], gx[:, None, :], out=out)
    out -= offset[:, None, None]
    return out


def standardized_profiles_torch(
    body: torch.Tensor, size: tuple[int, int], sigma: float, thresh: float = 0.05, eps: float = 1e-6
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`standardized_profiles` for a batch, in torch on ``body``'s device: ``body (..., K, 3)`` float32 ->
    ``(gy (..., K, H), gx (..., K, W), offset (..., K))``, the same arithmetic (float32 profiles, float64 sums)."""
    body = body.float()
    h, w = int(size[0]), int(size[1])
    ys = torch.arange(h, dtype=torch.float32, device=body.device)
    xs = torch.arange(w, dtype=torch.float32, device=body.device)
    s2 = float(np.float32(sigma**2))
    gy = torch.exp(-((ys - body[..., 1:2]) ** 2) / s2)  # (..., K, H)
    gx = torch.exp(-((xs - body[..., 0:1]) ** 2) / s2)  # (..., K, W)
    n = float(h * w)
    mean = gy.sum(-1, dtype=torch.float64) * gx.sum(-1, dtype=torch.float64) / n
    m2 = (gy.double() ** 2).sum(-1) * (gx.double() ** 2).sum(-1) / n
    std = torch.sqrt(torch.clamp(m2 - mean * mean, min=0.0))
    ok = (body[..., 2] > thresh) & (std > eps)
    scale = torch.where(ok, 1.0 / torch.where(ok, std, torch.ones_like(std)), torch.zeros_like(std))
    return gy * scale[..., None].float(), gx, (mean * scale).float()


def normalize_channels_torch(maps: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """:func:`normalize_channels` over the last two dimensions of ``(..., C, H, W)`` (float64 statistics)."""
    flat = maps.flatten(-2)
    mean = flat.sum(-1, dtype=torch.float64) / flat.shape[-1]
    var = torch.clamp((flat.double() ** 2).sum(-1) / flat.shape[-1] - mean * mean, min=0.0)
    std = torch.sqrt(var)
    ok = std > eps
    scale = torch.where(ok, 1.0 / torch.where(ok, std, torch.ones_like(std)), torch.zeros_like(std)).float()
    return (maps - mean.float()[..., None, None]) * scale[..., None, None]


#: 68-point face landmark groups drawn as extra channels when ``face=True`` (not in the paper)
FACE_GROUPS: dict[str, tuple[int, ...]] = {
    "jaw": tuple(range(0, 17)),
    "brows": tuple(range(17, 27)),
    "nose": tuple(range(27, 36)),
    "eyes": tuple(range(36, 48)),
    "mouth": tuple(range(48, 68)),
}


class VolumeEncoder:
    """Turns a pose into a pose volume ``(C, H, W)``: one part-confidence map per body joint (section 3.1)
    and, with ``face=True``, one map per face-landmark group (the max of its points' Gaussians; an extension
    for talking-head footage, off by default).

    ``joints``: a :data:`JOINT_SETS` name; ``sigma`` / ``face_sigma``: Gaussian radii in pixels at ``size``.
    """

    def __init__(
        self,
        size: tuple[int, int],
        joints: str = "body",
        sigma: float = 3.0,
        face: bool = False,
        face_sigma: float = 1.5,
    ):
        self.size = (int(size[0]), int(size[1]))
        self.joints = joints
        self.index = np.asarray(joint_indices(joints), dtype=np.int64)
        self.sigma = float(sigma)
        self.face = bool(face)
        self.face_sigma = float(face_sigma)

    @property
    def n_channels(self) -> int:
        return len(self.index) + (len(FACE_GROUPS) if self.face else 0)

    def _body(self, pose: dict[str, np.ndarray] | np.ndarray) -> np.ndarray:
        body = pose["body"] if isinstance(pose, dict) else pose
        return self.select(np.asarray(body, dtype=np.float32))

    def select(self, body: np.ndarray) -> np.ndarray:
        """BODY_25 keypoints ``(..., 25, 3)`` -> the volume's joints ``(..., J, 3)`` float32, confidences under
        :data:`CONF_THRESH` set to 0 (what every channel is drawn from)."""
        out = np.asarray(body, dtype=np.float32)[..., self.index, :].copy()
        low = out[..., 2] < CONF_THRESH
        out[..., 2][low] = 0.0
        return out

    @staticmethod
    def clean_face(face: np.ndarray) -> np.ndarray:
        """Face landmarks ``(..., 68, 3)`` as the face channels read them (confidences under the threshold 0)."""
        out = np.asarray(face, dtype=np.float32).copy()
        out[..., 2][out[..., 2] < CONF_THRESH] = 0.0
        return out

    def render(self, joints: torch.Tensor, face: torch.Tensor | None = None) -> torch.Tensor:
        """Batched pose volumes in torch, on the keypoints' device - the one renderer of training batches
        (:meth:`reenactor.methods.base.Method.prepare_batch`) and of inference (:class:`PoseVolumeSynthesizer`).
        ``joints (..., J, 3)`` from :meth:`select`; ``face (..., 68, 3)`` from :meth:`clean_face` when the volumes
        draw face channels (None: all-zero face channels). Returns ``(..., C, H, W)`` float32, the values of
        :meth:`__call__` to float32 rounding."""
        gy, gx, off = standardized_profiles_torch(joints, self.size, self.sigma)
        # -offset + gy gx in one pass over the one full-size allocation (large ones cost page faults)
        body = torch.addcmul(-off[..., None, None], gy[..., :, None], gx[..., None, :])
        if not self.face:
            return body
        h, w = self.size
        lead = joints.shape[:-2]
        fm = torch.zeros(lead + (len(FACE_GROUPS), h, w), dtype=torch.float32, device=joints.device)
        if face is not None:
            for g, idx in enumerate(FACE_GROUPS.values()):
                pts = face[..., list(idx), :].float()
                s2 = float(self.face_sigma**2)
                ys = torch.arange(h, dtype=torch.float32, device=joints.device)
                xs = torch.arange(w, dtype=torch.float32, device=joints.device)
                gy = torch.exp(-((ys - pts[..., 1:2]) ** 2) / s2)  # (..., P, H)
                gx = torch.exp(-((xs - pts[..., 0:1]) ** 2) / s2)  # (..., P, W)
                gy = gy * (pts[..., 2:3] > 0.05)  # a missing point draws nothing
                fm[..., g, :, :] = (gy[..., :, :, None] * gx[..., :, None, :]).amax(-3)
        return torch.cat([body, normalize_channels_torch(fm)], dim=-3)

    def __call__(self, pose: dict[str, np.ndarray] | np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``{"body": (25, 3), "face": (68, 3)}`` (or a bare body array) -> (C, H, W) float32, zero mean / unit
        variance per channel (missing joints all zero). ``out``: optional (C, H, W) float32 array to fill."""
        from ...pose.render import part_confidence_maps

        body = self._body(pose)
        if out is None:
            out = np.empty((self.n_channels,) + self.size, np.float32)
        nb = len(self.index)
        standardized_gaussian_maps(body, self.size, self.sigma, out=out[:nb])
        if self.face:
            face = pose.get("face") if isinstance(pose, dict) else None
            fm = np.zeros((len(FACE_GROUPS),) + self.size, np.float32)
            if face is not None:
                face = np.asarray(face, np.float32).copy()
                face[face[:, 2] < CONF_THRESH, 2] = 0.0
                for g, idx in enumerate(FACE_GROUPS.values()):
                    fm[g] = part_confidence_maps(face[list(idx)], self.size, self.face_sigma).max(axis=0)
            out[nb:] = normalize_channels(fm)  # a max of Gaussians is not separable: the two-step form
        return out


def volume_encoder(cfg) -> VolumeEncoder:
    """The pose-volume encoder a :class:`~reenactor.methods.cloning.config.CloningConfig` describes (training
    batches and inference both build theirs here)."""
    v = cfg.volume
    return VolumeEncoder((cfg.size, cfg.size), v.joints, v.sigma, v.face, v.face_sigma)


@dataclass(frozen=True)
class Alignment:
    """One scale and one translation per video (section 3.1): ``x' = scale * x + (tx, ty)``."""

    scale: float = 1.0
    tx: float = 0.0
    ty: float = 0.0

    def apply(self, kp: np.ndarray) -> np.ndarray:
        """Map keypoints ``(..., K, 3)`` (confidence kept) into the target frame."""
        out = np.array(kp, dtype=np.float32, copy=True)
        out[..., 0] = out[..., 0] * self.scale + self.tx
        out[..., 1] = out[..., 1] * self.scale + self.ty
        return out

    def matrix(self) -> np.ndarray:
        """(2, 3) float64 affine matrix for :func:`cv2.warpAffine`."""
        return np.array([[self.scale, 0.0, self.tx], [0.0, self.scale, self.ty]], np.float64)

    def warp_flow(self, flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Resample a forward flow field (H0, W0, 2) in source pixels into the aligned frame (H, W, 2)."""
        h, w = size
        out = cv2.warpAffine(
            np.ascontiguousarray(flow, dtype=np.float32),
            self.matrix(),
            (w, h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        return (out * self.scale).astype(np.float32)


def _valid(body: np.ndarray, idx: int) -> np.ndarray:
    return body[:, idx, 2] >= CONF_THRESH


def body_scale(body: np.ndarray) -> tuple[float, str]:
    """Average hip width of a sequence ``(T, 25, 3)``, or shoulder width for upper-body footage (no hips seen
    in at least a quarter of the frames). Returns (length in pixels, which one); (0, "none") if neither."""
    for a, b, what in ((J["RHip"], J["LHip"], "hips"), (J["RShoulder"], J["LShoulder"], "shoulders")):
        ok = _valid(body, a) & _valid(body, b)
        if ok.mean() >= 0.25 if len(ok) else False:
            d = np.linalg.norm(body[ok, a, :2] - body[ok, b, :2], axis=-1)
            if np.median(d) > 1e-3:
                return float(np.median(d)), what
    return 0.0, "none"


def body_centre(body: np.ndarray) -> np.ndarray | None:
    """Average (over time) centre of the visible joints of ``(T, 25, 3)``; None if no joint is visible."""
    ok = body[..., 2] >= CONF_THRESH
    if not ok.any():
        return None
    return body[..., :2][ok].mean(axis=0)


def fit_alignment(source: np.ndarray, target: np.ndarray) -> Alignment:
    """Align the source sequence ``(T, 25, 3)`` onto the target ``(S, 25, 3)`` (section 3.1): the average
    centre of the character goes to the target's average centre, and the average hip width (shoulder width
    for upper-body footage: whichever both clips show) to the target's."""
    s_len, s_what = body_scale(source)
    t_len, t_what = body_scale(target)
    scale = 1.0
    if s_what != "none" and s_what == t_what:
        scale = t_len / s_len
    elif s_what != "none" and t_what != "none":  # one shows hips, the other not: compare shoulders
        sj = (J["RShoulder"], J["LShoulder"])
        ok_s = _valid(source, sj[0]) & _valid(source, sj[1])
        ok_t = _valid(target, sj[0]) & _valid(target, sj[1])
        if ok_s.any() and ok_t.any():
            ds = np.median(np.linalg.norm(source[ok_s, sj[0], :2] - source[ok_s, sj[1], :2], axis=-1))
            dt = np.median(np.linalg.norm(target[ok_t, sj[0], :2] - target[ok_t, sj[1], :2], axis=-1))
            scale = float(dt / max(ds, 1e-3))
    cs, ct = body_centre(source), body_centre(target)
    if cs is None or ct is None:
        return Alignment(scale, 0.0, 0.0)
    t = ct - scale * cs
    return Alignment(float(scale), float(t[0]), float(t[1]))
