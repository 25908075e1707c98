"""Expression augmentation (not in the papers): a smooth warp of the face, driven by its 68 landmarks, that
gives a training frame an expression its person never made (lip corners lifted or lowered, the jaw dropped,
the brows raised or lowered) while the landmarks, the face mesh and so the FAUP move with it.

Why: a per-person generator trained on a few seconds of video sees only the expressions its target made. The
upper-body method then copes with the target's own frames but not with a driver's smile the target never
showed (issue 6: AU12 0.46 driven, 0.02 generated). Warping frame and landmarks together shows the frame
generator that the face's pixels follow the landmark lines, and gives the landmark generator (FAUP ->
landmarks) FAUP it would otherwise never see, with the landmarks that belong to them.

The warp. Three modes, each a displacement of some of the 68 points in the face's own frame (x along the
eye line, y down it), in units of the inter-ocular distance ``IOD``:

* ``smile``: the lip corners (48, 54) up and out by ``a``, the lip points between them and the lip centre by
  0.65 and 0.3 of it (``a < 0``: down and in);
* ``jaw``: the lower lip and the chin down by ``j >= 0``, the lip corners by 0.4 ``j``;
* ``brow``: the ten brow points up by ``b`` (``b < 0``: down).

Every other point stays (nose, eyes, the upper face outline and the lip centre pin the field). The dense
displacement at a pixel ``p`` is a normalized Gaussian blend of the points' displacements with a zero
background term, ``d(p) = sum_i g_i(p) d_i / (sum_i g_i(p) + g_0)``, ``g_i = exp(-|p - c_i|^2 / 2 sigma^2)``,
``g_0 = exp(-2)``, ``g_i`` cut to 0 beyond 3 sigma (so ``d`` fades out and is exactly 0 away from the face). Points (landmarks, mesh vertices) move
forward by ``d`` at their own position, so they sit exactly where the warp takes the pixel under them; the
image is resampled backward, the inverse of ``p -> p + d(p)`` found by three fixed-point steps on the
field's pixel grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

R_EYE68, L_EYE68 = np.arange(36, 42), np.arange(42, 48)
BROWS68 = np.arange(17, 27)
G0 = float(np.exp(-2.0))


@dataclass
class ExpressionWarpConfig:
    """Random expression warps of training windows (not in the papers; :mod:`reenactor.face.expression_warp`).
    Amplitudes are fractions of the face's inter-ocular distance; ``prob: 0`` trains as the paper does."""

    prob: float = 0.0  # share of training windows warped (0 = off)
    smile: float = 0.25  # largest lip-corner lift (up and out); a lowering of up to half of it is drawn too
    jaw: float = 0.25  # largest jaw drop (lower lip and chin down)
    brow: float = 0.10  # largest brow raise; a lowering of up to half of it is drawn too
    sigma: float = 0.30  # width of the Gaussian that spreads a point's displacement over the pixels around it


def _modes() -> dict[str, dict[int, tuple[float, float]]]:
    """Per mode: 68-point index -> unit displacement (x along the eye line, y down)."""
    smile = {
        48: (-0.5, -1.0),
        54: (0.5, -1.0),
    }  # the lip line bends up towards the corners: the nearer, the more
    smile |= {i: (-0.3, -0.65) for i in (49, 59, 60)} | {i: (0.3, -0.65) for i in (53, 55, 64)}
    smile |= {i: (-0.1, -0.3) for i in (50, 58, 61, 67)} | {i: (0.1, -0.3) for i in (52, 56, 63, 65)}
    jaw = {i: (0.0, 1.0) for i in (56, 57, 58, 65, 66, 67, 7, 8, 9)}
    jaw |= {i: (0.0, 0.8) for i in (55, 59)} | {i: (0.0, 0.7) for i in (6, 10)}
    jaw |= {i: (0.0, 0.4) for i in (48, 54, 60, 64, 5, 11)}
    brow = {int(i): (0.0, -1.0) for i in BROWS68}
    return {"smile": smile, "jaw": jaw, "brow": brow}


MODES = _modes()


def draw_expression(
    cfg: ExpressionWarpConfig, rng: np.random.RandomState | None = None
) -> dict[str, float] | None:
    """Random mode amplitudes for one window (None with probability ``1 - cfg.prob``), from NumPy's global
    generator (the trainer seeds it per sample position, so a resumed run draws the same warps) or ``rng``."""
    r = np.random if rng is None else rng
    if cfg.prob <= 0 or r.random_sample() >= cfg.prob:
        return None
    return {
        "smile": float(r.uniform(-0.5, 1.0)) * cfg.smile,
        "jaw": float(r.uniform(0.0, 1.0)) * cfg.jaw,
        "brow": float(r.uniform(-0.5, 1.0)) * cfg.brow,
    }


class ExpressionField:
    """The displacement field of one face (68, 3) pixel landmarks (confidence > 0 = valid) for mode amplitudes
    ``amp`` (see :func:`draw_expression`). ``ok`` is False (and every method the identity) when the eyes are
    missing."""

    def __init__(self, face68: np.ndarray, amp: dict[str, float], sigma: float = 0.30):
        face68 = np.asarray(face68, np.float32)
        valid = face68[:, 2] > 0
        self.ok = bool(valid[R_EYE68].all() and valid[L_EYE68].all())
        if not self.ok:
            return
        er, el = face68[R_EYE68, :2].mean(0), face68[L_EYE68, :2].mean(0)
        axis = el - er
        self.iod = float(np.hypot(*axis))
        ex = axis / max(self.iod, 1e-6)
        ey = np.array([-ex[1], ex[0]], np.float32)  # image y (down) when the eye line is level
        disp = np.zeros((68, 2), np.float32)
        for name, pts in MODES.items():
            a = float(amp.get(name, 0.0)) * self.iod
            for i, (u, v) in pts.items():
                disp[i] += a * (u * ex + v * ey)
        self.centres = face68[valid, :2].astype(np.float32)
        self.disp = disp[valid]
        self.sigma = max(float(sigma) * self.iod, 1e-3)

    def at(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) displacement at (N, 2) pixel positions."""
        xy = np.asarray(xy, np.float32).reshape(-1, 2)
        if not self.ok:
            return np.zeros_like(xy)
        c = self.centres
        d2 = (xy * xy).sum(1, keepdims=True) + (c * c).sum(1)[None] - 2.0 * (xy @ c.T)
        g = np.exp(-np.maximum(d2, 0.0) / (2.0 * self.sigma**2))
        g[d2 > (3.0 * self.sigma) ** 2] = 0.0  # cut at 3 sigma: pixels away from the face stay exactly
        return (g @ self.disp) / (g.sum(1, keepdims=True) + G0)

    def move_points(self, kp: np.ndarray) -> np.ndarray:
        """Keypoints (..., K, >=2) moved forward by the field (confidences and further columns kept)."""
        out = np.array(kp, np.float32, copy=True)
        flat = out.reshape(-1, out.shape[-1])
        flat[:, :2] += self.at(flat[:, :2])
        return out

    def warp_image(self, img: np.ndarray) -> np.ndarray:
        """(H, W, C) image warped by the field (backward resampling through its inverse; edges replicated)."""
        if not self.ok:
            return img
        h, w = img.shape[:2]
        # only pixels within 3 sigma of a moving point move (and land at most max |d| further): resample inside
        # the bounding box of the moving points + that
        moving = np.abs(self.disp).sum(1) > 0
        if not moving.any():
            return img
        pad = 3.0 * self.sigma + float(np.abs(self.disp).max())
        x0, y0 = np.floor(self.centres[moving].min(0) - pad).astype(int)
        x1, y1 = np.ceil(self.centres[moving].max(0) + pad).astype(int)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 <= x0 or y1 <= y0:
            return img
        gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
        field = self.at(np.stack([gx.ravel(), gy.ravel()], 1)).reshape(*gx.shape, 2)
        # inverse of p -> p + d(p): q = p - d(q), by fixed-point steps sampling the field grid (0 outside it)
        qx, qy = gx - field[..., 0], gy - field[..., 1]
        for _ in range(2):
            d = cv2.remap(
                field,
                (qx - x0).astype(np.float32),
                (qy - y0).astype(np.float32),
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0,
            )
            qx, qy = gx - d[..., 0], gy - d[..., 1]
        mx, my = np.ascontiguousarray(qx, np.float32), np.ascontiguousarray(qy, np.float32)
        out = np.array(img, copy=True)
        out[y0:y1, x0:x1] = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return out


# ----------------------------------------------------------------------------- expression transfer (transfer time)
#: Columns of a target's expression basis: (mode, signed fraction of the mode's configured largest amplitude).
#: Lifting and lowering are separate columns because they move different units (AU12 up, AU15 down).
BASIS_COLUMNS: tuple[tuple[str, float], ...] = (
    ("smile", 1.0),
    ("smile", -0.5),
    ("jaw", 1.0),
    ("brow", 1.0),
    ("brow", -0.5),
)


def column_amplitudes(cfg: ExpressionWarpConfig, columns=BASIS_COLUMNS) -> list[dict[str, float]]:
    """The mode amplitudes of each column (default :data:`BASIS_COLUMNS`) at its full extent: the fraction times
    the mode's largest amplitude in ``cfg`` (the training warps' range)."""
    return [{str(mode): float(frac) * float(getattr(cfg, str(mode)))} for mode, frac in columns]


def fit_expression(
    basis: np.ndarray, delta: np.ndarray, cfg: ExpressionWarpConfig, columns=BASIS_COLUMNS
) -> dict[str, float]:
    """Mode amplitudes whose FAUP change best matches ``delta``.

    ``basis`` (D, K): the FAUP change of each of the K ``columns`` at full extent on the target's face
    (:meth:`UpperBodyDataset.expression_basis`); ``delta`` (D,): the driver's FAUP minus the target's typical
    FAUP (both identity-normalized, so they compare). Least squares with each column's weight in [0, 1]: the
    amplitudes stay inside the range the warp was built and checked for. Returns one amplitude per mode."""
    from scipy.optimize import lsq_linear

    basis = np.asarray(basis, np.float64)
    delta = np.asarray(delta, np.float64)
    amp = {mode: 0.0 for mode in MODES}
    if not np.isfinite(delta).all() or not np.abs(basis).sum():
        return amp
    w = lsq_linear(basis, delta, bounds=(0.0, 1.0), method="bvls").x  # exact active set: a few columns
    for wi, col in zip(w, column_amplitudes(cfg, columns)):
        for mode, a in col.items():
            amp[mode] += float(wi) * a
    return amp
