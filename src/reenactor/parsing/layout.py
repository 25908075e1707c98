"""Body-part layouts estimated from what extraction measured: the person mask, BODY_25, the 478-point face
mesh and the hands (no parsing network ships in any wheel we can install; see ``docs/layouts.md``).

:func:`estimate_layout` labels one frame with :data:`reenactor.parsing.labels.LAYOUT` labels;
:func:`add_layout_stage` labels every frame of a clip store (the resumable ``layout`` stage, ``layout.npy``
(T, S, S) uint8).

How a frame is labelled (Gafni et al. 2021 condition on a 22-label parsing; this is its offline substitute):

1. **Parts** are painted as geometry on a part canvas, later parts over earlier ones: the torso (the
   shoulder-hip polygon, extended along the body when the hips are missing or off-frame, as in upper-body
   footage, plus a neck capsule up to the chin), legs (hip-knee-ankle capsules), shoes (ankle, heel and toe
   hull), hair (a head ellipse sized from the face, cut off above the chin; its band beside the face is the
   ears' part), arms (shoulder-elbow-wrist capsules), the face (the filled hull of the mesh's face oval,
   :data:`FACE_OVAL`) and hands (the hull of the 21 hand landmarks, grown by a finger's half width;
   MediaPipe pose's wrist/index/pinky/thumb points when the hand model found none). Capsule radii are
   fractions of a body *unit*, the shoulder width estimated from the shoulders, the torso length, the face
   width and the ear distance (the largest: projections only shrink). Without a face mesh the head is a hair
   disc from the ears, eyes and nose with a face ellipse around the nose and eyes. Joints below
   :data:`MIN_CONF` are not used.
2. **Every person pixel** (mask >= :data:`MASK_THRESHOLD`, MediaPipe's segmentation probability >= 0.5) that
   no part claimed takes the part of the nearest claimed pixel (a labelled distance transform over the
   person's box); pixels outside the mask are background (0), whatever the geometry said.
3. **Skin or clothing** (:class:`SkinModel`): a Gaussian over (Cr, Cb) fitted to the face's own skin (the
   face oval shrunk, less eyes, brows and lips, outliers trimmed) with a luma range, or without a face a
   generic skin wedge; near-grey chroma is never skin. It splits torso pixels into torso_skin (10) /
   upper_clothes (5), arm pixels into left/right_arm (14/15) / upper_clothes (sleeves, as CIHP labels
   them), leg pixels into left/right_leg (16/17) / pants (9), and the ears' band into face (skin lit like
   the face) / hair. Hands and shoes keep their label whatever the colour.

Left and right are the person's (BODY_25's ``L*`` joints -> ``left_*`` labels). Labels hat, glove,
sunglasses, dress, coat, socks, scarf and skirt (1, 3, 4, 6, 7, 8, 11, 12) are never produced; they are kept
for imported parsings. The result is a deterministic function of its inputs (numpy and OpenCV only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .labels import LAYOUT

#: a pixel belongs to the person when the stored mask (0..255, MediaPipe's segmentation probability x 255)
#: is at least this (probability >= 0.5)
MASK_THRESHOLD = 128
#: body joints below this confidence are not used for geometry (MediaPipe's visibility; off-frame joints
#: of upper-body footage are extrapolated with 0.2..0.4 and still place the arms usefully)
MIN_CONF = 0.2

#: MediaPipe face mesh: the face oval in order (forehead 10, down the person's left side, chin 152, back up)
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
#: face mesh eyes with brows (each side) and lips: left out of the skin sample
MESH_EYES = (
    (7, 33, 133, 144, 145, 153, 154, 155, 157, 158, 159, 160, 161, 163, 173, 246,
     46, 52, 53, 55, 63, 65, 66, 70, 105, 107),
    (249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388, 390, 398, 466,
     276, 282, 283, 285, 293, 295, 296, 300, 334, 336),
)  # fmt: skip
MESH_LIPS = (
    0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181, 185, 191, 267, 269,
    270, 291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415,
)  # fmt: skip
MESH_FOREHEAD, MESH_CHIN, MESH_RIGHT_CHEEK, MESH_LEFT_CHEEK = 10, 152, 234, 454

# BODY_25 joints
NOSE, NECK, RSH, REL, RWR, LSH, LEL, LWR, MIDHIP, RHIP, RKNEE, RANK, LHIP, LKNEE, LANK = range(15)
REYE, LEYE, REAR, LEAR, LBIGTOE, LSMALLTOE, LHEEL, RBIGTOE, RSMALLTOE, RHEEL = range(15, 25)
# MediaPipe pose (pose_raw) hand points per side: wrist, pinky, index, thumb
POSE_HAND = {"left": (15, 17, 19, 21), "right": (16, 18, 20, 22)}

# Part canvas ids (painted geometry, before the skin split)
P_NONE, P_TORSO, P_LARM, P_RARM, P_LLEG, P_RLEG, P_LSHOE, P_RSHOE = range(8)
P_HAIR, P_FACE, P_LHAND, P_RHAND, P_EARS = range(8, 13)
_L = LAYOUT.index
#: part -> LAYOUT label where the pixel is skin / is not skin
PART_SKIN = np.array(
    [0, _L("torso_skin"), _L("left_arm"), _L("right_arm"), _L("left_leg"), _L("right_leg"), _L("left_shoe"),
     _L("right_shoe"), _L("hair"), _L("face"), _L("left_hand"), _L("right_hand"), _L("face")], np.uint8,
)  # fmt: skip
PART_CLOTH = np.array(
    [0, _L("upper_clothes"), _L("upper_clothes"), _L("upper_clothes"), _L("pants"), _L("pants"),
     _L("left_shoe"), _L("right_shoe"), _L("hair"), _L("face"), _L("left_hand"), _L("right_hand"),
     _L("hair")], np.uint8,
)  # fmt: skip

#: (part * 2 + is_skin) -> LAYOUT label
_LUT = np.stack([PART_CLOTH, PART_SKIN], 1).ravel()
# Sizes as fractions of the body unit (the shoulder width, joint to joint)
R_UPPER_ARM, R_FOREARM, R_THIGH, R_CALF, R_NECK, R_SHOE = 0.17, 0.14, 0.24, 0.17, 0.2, 0.1
TORSO_NO_HIPS = 1.6  # torso length (x unit) drawn from the shoulders when the hips are missing
HIP_WIDEN = 0.12  # hip joints sit inside the body: the torso polygon is widened by this at the hips
# Head geometry as fractions of the face-oval height H (forehead 10 to chin 152) and width W
HAIR_UP, HAIR_AXIS_H, HAIR_AXIS_W, HAIR_BELOW_CHIN = 0.15, 0.72, 0.68, 0.22
#: the ears' band beside the face: from/to these fractions of the face height above the chin, reaching this
#: fraction of the face width beyond the oval's sides
EAR_BAND, EAR_WIDTH = (0.22, 0.62), 0.25
#: skin is never neutral: chroma closer than this to grey (Cr = Cb = 128) is not skin, whatever the face's
#: colour (a face in a dark or washed-out frame is nearly grey, and so are black and white clothes)
MIN_SKIN_SATURATION = 4.0
#: skin blobs on torso, arms and legs smaller than (this x the body unit)^2 pixels are clothes (buttons,
#: folds, prints)
SKIN_MIN_BLOB = 0.07
#: at most this many face pixels go into a skin fit
FIT_PIXELS = 1500


@dataclass(frozen=True, eq=False)
class SkinModel:
    """Which colours are skin: a chroma test (a (256, 256) bool table over (Cb, Cr)) and a luma range,
    in YCrCb as OpenCV computes it from RGB (0..255). Make one with :meth:`fit` (a Gaussian over the face's
    chroma, Mahalanobis d^2 < 9.21, chi^2 with 2 degrees of freedom at 99 %) or :meth:`generic`."""

    table: np.ndarray = field(repr=False)  # (256, 256) bool, [Cb, Cr]
    y_min: float
    y_max: float
    y_mean: float = 150.0  # the sample's mean luma and its spread (the face's, when fitted)
    y_sd: float = 40.0
    fitted: bool = True
    mean: tuple[float, float] = (150.0, 110.0)  # Cr, Cb (the Gaussian's mean; informative only)

    @classmethod
    def gaussian(cls, mean, cov, y_min: float, y_max: float, max_d2: float = 9.21, **kw) -> SkinModel:
        """Chroma within Mahalanobis ``d^2 < max_d2`` of ``mean`` (Cr, Cb) under ``cov`` (2 x 2), and at
        least :data:`MIN_SKIN_SATURATION` from grey; the table is evaluated over the ellipse's bounding box."""
        cov = np.asarray(cov, np.float64)
        inv = np.linalg.inv(cov)
        m = np.asarray(mean, np.float64)
        reach = np.sqrt(max_d2 * np.diag(cov))  # the ellipse's half extent per axis
        lo = np.clip(np.floor(m - reach), 0, 255).astype(int)
        hi = np.clip(np.ceil(m + reach), 0, 255).astype(int)
        cr = np.arange(lo[0], hi[0] + 1, dtype=np.float64)[None] - m[0]
        cb = np.arange(lo[1], hi[1] + 1, dtype=np.float64)[:, None] - m[1]
        d2 = inv[0, 0] * cr**2 + 2 * inv[0, 1] * cb * cr + inv[1, 1] * cb**2
        sat = np.hypot(cr + (m[0] - 128.0), cb + (m[1] - 128.0))
        table = np.zeros((256, 256), bool)
        table[lo[1] : hi[1] + 1, lo[0] : hi[0] + 1] = (d2 < max_d2) & (sat >= MIN_SKIN_SATURATION)
        return cls(table, float(y_min), float(y_max), mean=(float(m[0]), float(m[1])), **kw)

    @classmethod
    def generic(cls) -> SkinModel:
        """Skin of any tone under ordinary light, for frames without a face to fit on: chroma in the skin
        wedge (hue angle of (Cr - 128, Cb - 128) between -75 and -10 degrees, saturation 8..60 levels:
        greys, whites and blacks are out) and luma 40..250."""
        return _GENERIC

    @classmethod
    def fit(cls, ycrcb: np.ndarray, sample: np.ndarray, min_pixels: int = 24) -> SkinModel | None:
        """Fit to the pixels of ``ycrcb`` (H, W, 3) uint8 where ``sample`` (H, W) bool (at most
        :data:`FIT_PIXELS` of them, evenly strided); outliers (hair, shadow, beard, glasses, teeth) are
        trimmed in two rounds of median +- 2.5 MAD. None when fewer than ``min_pixels`` remain."""
        idx = np.flatnonzero(sample)
        if len(idx) < min_pixels:
            return None
        x = ycrcb.reshape(-1, 3)[idx[:: -(-len(idx) // FIT_PIXELS)]].astype(np.float32)
        keep = x
        for _ in range(2):
            med = np.median(keep, 0)
            mad = np.median(np.abs(keep - med), 0) * np.float32(1.4826) + np.array(
                [4.0, 1.5, 1.5], np.float32
            )
            keep = x[(np.abs(x - med) <= 2.5 * mad).all(1)]
            if len(keep) < min_pixels:
                return None
        xs = keep.astype(np.float64)
        y_mean, y_sd = float(xs[:, 0].mean()), max(float(xs[:, 0].std()), 8.0)
        cov = np.cov(xs[:, 1:].T) + np.eye(2) * 2.0**2  # floor: a few levels of noise and compression
        y_lo, y_hi = y_mean - 2.5 * y_sd - 15.0, y_mean + 3.0 * y_sd + 40.0
        return cls.gaussian(xs[:, 1:].mean(0), cov, y_lo, y_hi, y_mean=y_mean, y_sd=y_sd)

    def classify(self, ycrcb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) uint8 YCrCb -> ``(skin, face_lit)`` (H, W) uint8 0/1: ``skin`` is the model's test;
        ``face_lit`` is skin no darker than 1.5 sd below the face's mean luma, which tells ears and bare neck
        beside the face from hair (hair's chroma is often skin-like, but it is darker)."""
        ycc = np.ascontiguousarray(ycrcb, np.uint8)
        crcb = np.ascontiguousarray(ycc[..., 1:]).view("<u2")[..., 0]  # Cr + 256 Cb
        y = np.ascontiguousarray(ycc[..., 0])
        skin = np.take(self.table.view(np.uint8).ravel(), crcb)
        skin &= cv2.inRange(y, float(np.ceil(self.y_min)), float(np.floor(self.y_max))) >> 7
        lit = skin & (cv2.inRange(y, float(np.ceil(self.y_mean - 1.5 * self.y_sd)), 255.0) >> 7)
        return skin, lit

    def is_skin(self, ycrcb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 YCrCb -> (H, W) bool."""
        return self.classify(ycrcb)[0].astype(bool)


def _generic_table() -> np.ndarray:
    cb, cr = np.mgrid[0:256, 0:256].astype(np.float64) - 128.0
    sat = np.hypot(cr, cb)
    hue = np.degrees(np.arctan2(cb, cr))
    return (sat >= 8) & (sat <= 60) & (hue >= -75) & (hue <= -10)


_GENERIC = SkinModel(_generic_table(), 40.0, 250.0, fitted=False, mean=(150.0, 110.0))


def _ok(kp: np.ndarray | None, i: int, min_conf: float) -> bool:
    return kp is not None and kp[i, 2] >= min_conf and np.isfinite(kp[i, :2]).all()


def _mesh_ok(face_raw: np.ndarray | None) -> bool:
    return (
        face_raw is not None and np.asarray(face_raw).shape[0] >= 468 and bool(np.abs(face_raw[:, :2]).sum())
    )


def _pts(p: np.ndarray, size: int) -> np.ndarray:
    """Float points -> OpenCV fixed-point (shift 2) int32, clipped far outside the frame."""
    return np.round(np.clip(np.asarray(p, np.float64), -4 * size, 5 * size) * 4).astype(np.int32)


def _capsule(canvas: np.ndarray, a, b, radius: float, part: int) -> None:
    s = max(canvas.shape)
    pa, pb = _pts(a, s), _pts(b, s)
    cv2.line(canvas, tuple(map(int, pa)), tuple(map(int, pb)), part, max(1, round(2 * radius)), cv2.LINE_8, 2)


def _poly(canvas: np.ndarray, pts, part: int, grow: float = 0.0) -> None:
    s = max(canvas.shape)
    hull = cv2.convexHull(_pts(np.asarray(pts, np.float64).reshape(-1, 2), s).reshape(-1, 1, 2))
    cv2.fillConvexPoly(canvas, hull, part, cv2.LINE_8, 2)
    if grow >= 0.5:
        cv2.polylines(canvas, [hull], True, part, max(1, round(2 * grow)), cv2.LINE_8, 2)


def body_unit(
    body: np.ndarray, face_raw: np.ndarray | None = None, min_conf: float = MIN_CONF
) -> float | None:
    """The body's scale in pixels: the shoulder width (joint to joint), estimated from the shoulders, the
    torso length (/1.4), the face-oval width (/0.45) and the ear distance (/0.45), the largest of those
    available (a projection only shrinks a length). None when none is available."""
    b = np.asarray(body, np.float64)
    est = []

    def dist(i, j):
        return float(np.hypot(*(b[i, :2] - b[j, :2])))

    if _ok(b, RSH, min_conf) and _ok(b, LSH, min_conf):
        est.append(dist(RSH, LSH))
    if _ok(b, NECK, min_conf) and _ok(b, MIDHIP, min_conf):
        est.append(dist(NECK, MIDHIP) / 1.4)
    if _ok(b, REAR, min_conf) and _ok(b, LEAR, min_conf):
        est.append(dist(REAR, LEAR) / 0.45)
    if _mesh_ok(face_raw):
        f = np.asarray(face_raw, np.float64)
        est.append(float(np.hypot(*(f[MESH_RIGHT_CHEEK, :2] - f[MESH_LEFT_CHEEK, :2]))) / 0.45)
    est = [e for e in est if e > 0.5]
    return max(est) if est else None


def _down(b: np.ndarray, min_conf: float) -> np.ndarray:
    """Unit vector from the shoulders towards the hips: along neck -> mid-hip when known, else perpendicular
    to the shoulder line pointing away from the nose, else image down."""
    if _ok(b, NECK, min_conf) and _ok(b, MIDHIP, min_conf):
        d = b[MIDHIP, :2] - b[NECK, :2]
        n = np.hypot(*d)
        if n > 1e-6:
            return d / n
    if _ok(b, RSH, min_conf) and _ok(b, LSH, min_conf):
        s = b[LSH, :2] - b[RSH, :2]
        n = np.hypot(*s)
        if n > 1e-6:
            d = np.array([-s[1], s[0]]) / n
            ref = (
                b[NOSE, :2] - (b[RSH, :2] + b[LSH, :2]) / 2
                if _ok(b, NOSE, min_conf)
                else np.array([0.0, -1.0])
            )
            return -d if d @ ref > 0 else d
    return np.array([0.0, 1.0])


def _paint_torso(canvas, b, unit, min_conf, face) -> None:
    rs, ls = _ok(b, RSH, min_conf), _ok(b, LSH, min_conf)
    if not (rs or ls):
        return
    neck = b[NECK, :2] if _ok(b, NECK, min_conf) else None
    if rs and ls:
        r_sh, l_sh = b[RSH, :2], b[LSH, :2]
    elif neck is not None:  # one shoulder: mirror it across the neck
        r_sh = b[RSH, :2] if rs else 2 * neck - b[LSH, :2]
        l_sh = b[LSH, :2] if ls else 2 * neck - b[RSH, :2]
    else:
        return
    rh, lh = _ok(b, RHIP, min_conf), _ok(b, LHIP, min_conf)
    if rh and lh:
        r_hip, l_hip = b[RHIP, :2], b[LHIP, :2]
        across = l_hip - r_hip
        n = np.hypot(*across)
        if n > 1e-6:
            r_hip, l_hip = r_hip - across / n * HIP_WIDEN * unit, l_hip + across / n * HIP_WIDEN * unit
    else:
        d = _down(b, min_conf) * TORSO_NO_HIPS * unit
        r_hip, l_hip = r_sh + d, l_sh + d
    _poly(canvas, [r_sh, l_sh, l_hip, r_hip], P_TORSO)
    if neck is not None:  # the neck, up to the chin (or most of the way to the nose)
        if face is not None:
            top = face[MESH_CHIN, :2]
        elif _ok(b, NOSE, min_conf):
            top = neck + 0.6 * (b[NOSE, :2] - neck)
        else:
            top = neck
        _capsule(canvas, neck, top, R_NECK * unit, P_TORSO)


def _paint_limbs(canvas, b, unit, min_conf, chains, radii) -> None:
    for part, joints in chains:
        for (i, j), r in zip(zip(joints[:-1], joints[1:]), radii):
            if _ok(b, i, min_conf) and _ok(b, j, min_conf):
                _capsule(canvas, b[i, :2], b[j, :2], r * unit, part)


def _paint_shoes(canvas, b, unit, min_conf) -> None:
    for part, joints in (
        (P_LSHOE, (LANK, LHEEL, LBIGTOE, LSMALLTOE)),
        (P_RSHOE, (RANK, RHEEL, RBIGTOE, RSMALLTOE)),
    ):
        pts = [b[j, :2] for j in joints if _ok(b, j, min_conf)]
        if len(pts) >= 2 and _ok(b, joints[0], min_conf):
            _poly(canvas, pts, part, grow=R_SHOE * unit)


def _clip_half_plane(poly: np.ndarray, point: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """The part of convex polygon ``poly`` (N, 2) where ``(p - point) . normal >= 0`` (Sutherland-Hodgman)."""
    side = (poly - point) @ normal
    out = []
    for i in range(len(poly)):
        j = (i + 1) % len(poly)
        if side[i] >= 0:
            out.append(poly[i])
        if (side[i] >= 0) != (side[j] >= 0):
            out.append(poly[i] + (poly[j] - poly[i]) * (side[i] / (side[i] - side[j])))
    return np.asarray(out, np.float64).reshape(-1, 2)


def _paint_hair(canvas: np.ndarray, face: np.ndarray) -> None:
    """Head region around a face mesh: an ellipse along the face's axis (forehead 10 - chin 152), cut off a
    little above the chin, painted as hair (the face oval goes over it); its band beside the face from
    :data:`EAR_BAND` of the face height above the chin is the ears' part (face where the colour is the face's
    skin, hair otherwise)."""
    top, chin = face[MESH_FOREHEAD, :2].astype(np.float64), face[MESH_CHIN, :2].astype(np.float64)
    up = top - chin
    h = float(np.hypot(*up))
    if h < 1e-3:
        return
    up /= h
    w = float(np.hypot(*(face[MESH_LEFT_CHEEK, :2] - face[MESH_RIGHT_CHEEK, :2])))
    centre = (top + chin) / 2 + up * HAIR_UP * h
    ah, aw = HAIR_AXIS_H * h, max(HAIR_AXIS_W * h, 0.75 * w)
    ang = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    across = np.array([-up[1], up[0]])
    ell = centre + np.cos(ang)[:, None] * aw * across + np.sin(ang)[:, None] * ah * up
    poly = _clip_half_plane(ell, chin + up * HAIR_BELOW_CHIN * h, up)
    if len(poly) < 3:
        return
    s = max(canvas.shape)
    cv2.fillConvexPoly(canvas, _pts(poly, s).reshape(-1, 1, 2), P_HAIR, cv2.LINE_8, 2)
    mid = (top + chin) / 2
    half = 0.5 * w + EAR_WIDTH * w
    lo, hi = chin + up * EAR_BAND[0] * h, chin + up * EAR_BAND[1] * h
    band = np.array([lo - across * half, lo + across * half, hi + across * half, hi - across * half])
    band -= across * float((mid - chin) @ across)  # centred on the face's axis
    buf = np.zeros_like(canvas)
    cv2.fillConvexPoly(buf, _pts(band, s).reshape(-1, 1, 2), 1, cv2.LINE_8, 2)
    canvas[(buf == 1) & (canvas == P_HAIR)] = P_EARS


def _head_keypoints(b, unit, min_conf) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Without a face mesh, the head from the nose, eyes and ears: ``(centre, up, width)`` or None."""
    pts = [b[j, :2] for j in (NOSE, REYE, LEYE, REAR, LEAR) if _ok(b, j, min_conf)]
    if not pts:
        return None
    if _ok(b, REAR, min_conf) and _ok(b, LEAR, min_conf):
        width = float(np.hypot(*(b[REAR, :2] - b[LEAR, :2])))
        centre = (b[REAR, :2] + b[LEAR, :2]) / 2
    else:
        width, centre = 0.0, np.mean(pts, 0)
    if unit is not None:
        width = max(width, 0.42 * unit)
    if width <= 0.5:
        return None
    up = np.array([0.0, -1.0])
    if _ok(b, NECK, min_conf):
        d = centre - b[NECK, :2]
        n = np.hypot(*d)
        up = d / n if n > 1e-6 else up
    return centre, up, width


def _paint_head_keypoints(canvas, head) -> None:
    """Without a face mesh: hair is a disc over the head (0.65 x its width around a point 0.1 x width above
    the ears' middle)."""
    centre, up, width = head
    c = _pts(centre + up * 0.1 * width, max(canvas.shape))
    cv2.circle(canvas, (int(c[0]), int(c[1])), max(1, round(0.65 * width * 4)), P_HAIR, -1, cv2.LINE_8, 2)


def _paint_face_keypoints(canvas, b, head, min_conf) -> None:
    """Without a face mesh: the face is an ellipse (0.45 x 0.6 head widths) around the middle of the nose
    and the eyes, drawn only when the nose and an eye are seen (a head seen from behind is all hair)."""
    eyes = [b[j, :2] for j in (REYE, LEYE) if _ok(b, j, min_conf)]
    if not (_ok(b, NOSE, min_conf) and eyes):
        return
    _, up, width = head
    c = _pts((b[NOSE, :2] + np.mean(eyes, 0)) / 2, max(canvas.shape))
    axes = (max(1, round(0.45 * width * 4)), max(1, round(0.6 * width * 4)))
    angle = float(np.degrees(np.arctan2(up[1], up[0]))) + 90.0
    cv2.ellipse(canvas, (int(c[0]), int(c[1])), axes, angle, 0, 360, P_FACE, -1, cv2.LINE_8, 2)


def _paint_hands(canvas, b, unit, min_conf, hands, pose_raw) -> None:
    for side, part, kp in (("left", P_LHAND, hands[0]), ("right", P_RHAND, hands[1])):
        if kp is not None and (np.asarray(kp)[:, 2] > 0).sum() >= 5:
            k = np.asarray(kp, np.float64)
            pts = k[k[:, 2] > 0, :2]
            span = float(np.hypot(*(pts.max(0) - pts.min(0))))
            _poly(canvas, pts, part, grow=max(0.5, 0.09 * span))
            for i in range(1, 21, 4):  # fingers: the hull misses a bent finger's side
                chain = [0, i, i + 1, i + 2, i + 3]
                for a, c in zip(chain[:-1], chain[1:]):
                    if k[a, 2] > 0 and k[c, 2] > 0:
                        _capsule(canvas, k[a, :2], k[c, :2], max(0.5, 0.06 * span), part)
        elif pose_raw is not None and unit is not None:
            p = np.asarray(pose_raw, np.float64)
            idx = POSE_HAND[side]
            if p.shape[0] > max(idx) and (p[list(idx), 3] >= max(min_conf, 0.5)).all():
                _poly(canvas, p[list(idx), :2], part, grow=0.06 * unit)


def skin_sample(shape: tuple[int, int], face_raw: np.ndarray) -> np.ndarray:
    """Where the face's own skin is: the face oval shrunk by 15 % towards its centre, less the eyes with
    brows and the lips (grown by 5 % of the face width), as (H, W) bool."""
    f = np.asarray(face_raw, np.float64)
    w = float(np.hypot(*(f[MESH_LEFT_CHEEK, :2] - f[MESH_RIGHT_CHEEK, :2])))
    oval = f[list(FACE_OVAL), :2]
    c = oval.mean(0)
    m = np.zeros(shape, np.uint8)
    _poly(m, c + (oval - c) * 0.85, 1)
    for group in (*MESH_EYES, MESH_LIPS):
        _poly(m, f[list(group), :2], 0, grow=0.05 * w)
    return m.astype(bool)


def fit_skin(
    image: np.ndarray, mask: np.ndarray | None, face_raw: np.ndarray | None, ycrcb: np.ndarray | None = None
) -> SkinModel:
    """The skin model of one frame: fitted on the face (:func:`skin_sample` inside the mask), or
    :meth:`SkinModel.generic` when there is no face mesh or too little skin is seen. ``ycrcb``: the image
    already converted (OpenCV RGB -> YCrCb), to save converting it again."""
    if _mesh_ok(face_raw):
        if ycrcb is None:
            ycrcb = cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2YCrCb)
        sample = skin_sample(ycrcb.shape[:2], face_raw)
        if mask is not None:
            sample &= np.asarray(mask) >= MASK_THRESHOLD
        model = SkinModel.fit(ycrcb, sample)
        if model is not None:
            return model
    return SkinModel.generic()


def paint_parts(
    shape: tuple[int, int],
    body: np.ndarray,
    face_raw: np.ndarray | None = None,
    hand_left: np.ndarray | None = None,
    hand_right: np.ndarray | None = None,
    pose_raw: np.ndarray | None = None,
    min_conf: float = MIN_CONF,
    unit: float | None = None,
) -> np.ndarray:
    """The part geometry alone (no mask, no colour): (H, W) uint8 part ids ``P_*`` (0: no part). ``unit``:
    the body unit when already known (:func:`body_unit`)."""
    canvas = np.zeros(shape, np.uint8)
    b = np.asarray(body, np.float64).reshape(-1, 3)
    face = np.asarray(face_raw, np.float64) if _mesh_ok(face_raw) else None
    unit = unit if unit is not None else body_unit(b, face, min_conf)
    if unit is not None:
        _paint_torso(canvas, b, unit, min_conf, face)
        legs = ((P_LLEG, (LHIP, LKNEE, LANK)), (P_RLEG, (RHIP, RKNEE, RANK)))
        _paint_limbs(canvas, b, unit, min_conf, legs, (R_THIGH, R_CALF))
        _paint_shoes(canvas, b, unit, min_conf)
    head = _head_keypoints(b, unit, min_conf) if face is None else None
    if face is not None:
        _paint_hair(canvas, face)
    elif head is not None:
        _paint_head_keypoints(canvas, head)
    if unit is not None:
        arms = ((P_LARM, (LSH, LEL, LWR)), (P_RARM, (RSH, REL, RWR)))
        _paint_limbs(canvas, b, unit, min_conf, arms, (R_UPPER_ARM, R_FOREARM))
    if face is not None:
        _poly(canvas, face[list(FACE_OVAL), :2], P_FACE)
    elif head is not None:
        _paint_face_keypoints(canvas, b, head, min_conf)
    _paint_hands(canvas, b, unit, min_conf, (hand_left, hand_right), pose_raw)
    return canvas


def _fill_nearest(parts: np.ndarray, person: np.ndarray, default: int = P_TORSO) -> np.ndarray:
    """Person pixels without a part take the part of the nearest pixel that has one (Euclidean; pixels of the
    given window only)."""
    todo = person & (parts == 0)
    if not todo.any():
        return parts
    claimed = parts != 0
    if not claimed.any():
        out = parts.copy()
        out[todo] = default  # no geometry at all: the person is "body", split into skin / clothing
        return out
    _, idx = cv2.distanceTransformWithLabels(
        (~claimed).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    seeds = parts[claimed]  # raster order = the order of DIST_LABEL_PIXEL's labels
    out = parts.copy()
    out[todo] = seeds[idx[todo] - 1]
    return out


def _drop_specks(is_skin: np.ndarray, parts: np.ndarray, min_area: float) -> np.ndarray:
    """Skin blobs smaller than ``min_area`` pixels on parts that can be clothed (torso, arms, legs) are not
    skin. ``is_skin`` (H, W) uint8 0/1."""
    clothable = (parts >= P_TORSO) & (parts <= P_RLEG)
    cand = (is_skin & clothable).view(np.uint8)
    if min_area < 2 or not cand.any():
        return is_skin
    x, y, w, h = cv2.boundingRect(cand)
    _, lab, stats, _ = cv2.connectedComponentsWithStats(cand[y : y + h, x : x + w], connectivity=8)
    small = stats[:, cv2.CC_STAT_AREA] < min_area
    small[0] = False
    if not small.any():
        return is_skin
    out = is_skin.copy()
    out[y : y + h, x : x + w][small[lab]] = 0
    return out


def fit_to_mask(layout: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A layout made for another mask (e.g. resized) fitted to ``mask``: labels outside it dropped, person
    pixels without a label given the nearest label. (H, W) uint8."""
    lay = np.asarray(layout, np.uint8)
    person = np.asarray(mask) >= MASK_THRESHOLD
    out = _fill_nearest(np.where(person, lay, 0).astype(np.uint8), person, default=0)
    out[~person] = 0
    return out


def estimate_layout(
    image: np.ndarray,
    mask: np.ndarray,
    body: np.ndarray,
    face_raw: np.ndarray | None = None,
    hand_left: np.ndarray | None = None,
    hand_right: np.ndarray | None = None,
    pose_raw: np.ndarray | None = None,
    *,
    min_conf: float = MIN_CONF,
    skin: SkinModel | None = None,
) -> np.ndarray:
    """One frame's :data:`LAYOUT` labels (see the module docstring for how).

    image (H, W, 3) uint8 RGB; mask (H, W) uint8 0..255 (person where >= :data:`MASK_THRESHOLD`); body
    (25, 3) BODY_25 [x, y, conf]; face_raw (478, 3) MediaPipe face mesh [x, y, z] (zeros or None: no face);
    hand_left/right (21, 3) [x, y, conf] (the person's left/right; conf 0 or None: no hand); pose_raw
    (33, 4) MediaPipe pose [x, y, z, visibility] (hands from its finger points when the hand model found
    none). All in pixels of ``image``. ``skin``: a skin model to use instead of fitting one on the face.

    Returns (H, W) uint8: every person pixel has a label > 0, every other pixel 0.
    """
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] < 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {img.shape}")
    h, w = img.shape[:2]
    m = np.asarray(mask)
    if m.shape != (h, w):
        raise ValueError(f"mask shape {m.shape} does not match the image {(h, w)}")
    person = m >= MASK_THRESHOLD
    if not person.any():
        return np.zeros((h, w), np.uint8)
    face = face_raw if _mesh_ok(face_raw) else None
    unit = body_unit(body, face, min_conf)
    parts = paint_parts((h, w), body, face, hand_left, hand_right, pose_raw, min_conf, unit=unit)
    # the fill and the colour work only inside the person's box (grown by the median filter's reach)
    k = 5 if min(h, w) >= 192 else 3
    x, y, bw, bh = cv2.boundingRect(person.view(np.uint8))
    y0, y1, x0, x1 = max(0, y - k), min(h, y + bh + k), max(0, x - k), min(w, x + bw + k)
    box = (slice(y0, y1), slice(x0, x1))
    p = _fill_nearest(parts[box], person[box])
    if skin is None and face is not None:  # the face must be converted too, wherever it is
        ycc = cv2.cvtColor(np.ascontiguousarray(img[..., :3], np.uint8), cv2.COLOR_RGB2YCrCb)
        skin = fit_skin(img, m, face, ycc)
        ycc = ycc[box]
    else:
        ycc = cv2.cvtColor(np.ascontiguousarray(img[box][..., :3], np.uint8), cv2.COLOR_RGB2YCrCb)
        skin = skin if skin is not None else SkinModel.generic()
    is_skin, face_lit = skin.classify(ycc)
    is_skin = cv2.medianBlur(is_skin, k)
    if unit is not None:  # skin specks on clothes (buttons, folds, prints) are clothes
        is_skin = _drop_specks(is_skin, p, (SKIN_MIN_BLOB * unit) ** 2)
    ears = p == P_EARS
    if ears.any():  # ears and skin beside the oval are face; hair is darker than the face
        is_skin = np.where(ears, cv2.medianBlur(face_lit, k) if skin.fitted else 0, is_skin)
    out = np.zeros((h, w), np.uint8)
    out[box] = _LUT[p * np.uint8(2) + is_skin]
    out[~person] = 0
    return out


STAGE = "layout"
#: bumped when the estimate changes, so a clip's stored estimate is redone
ESTIMATOR_VERSION = 1


def add_layout_stage(clip, force: bool = False, progress: bool = False):
    """Estimate and store ``layout`` (T, S, S) uint8 :data:`LAYOUT` labels for every frame of ``clip`` (a
    :class:`reenactor.data.clipstore.ClipStore`); returns the clip.

    The manifest's ``layout`` stage records ``source: estimated``, the estimator version, frame counts and
    each label's share of the person pixels. Resumable: a clip whose ``layout`` stage is done with a layout of
    the right shape is skipped, an imported layout (``source: imported``) included, unless ``force``; a run
    killed half-way leaves no half-written file and is simply run again.
    """
    from tqdm.auto import tqdm

    frames = clip.load("frames")
    t, h, w = frames.shape[:3]
    want = (t, h, w)
    if not force and clip.stage_done(STAGE) and clip.has(STAGE):
        st = clip.stage(STAGE) or {}
        if tuple(clip.load(STAGE).shape) == want and (
            st.get("source") != "estimated" or st.get("version") == ESTIMATOR_VERSION
        ):
            return clip
    masks = clip.load("mask")
    body = np.asarray(clip.load("body"), np.float32)
    opt = {k: np.asarray(clip.load(k), np.float32) if clip.has(k) else None
           for k in ("face_raw", "hand_left", "hand_right", "pose_raw")}  # fmt: skip
    clip.set_stage(STAGE, status="running", source="estimated", version=ESTIMATOR_VERSION)
    counts = np.zeros(len(LAYOUT), np.int64)
    with_face = with_person = 0
    with clip.writer(STAGE, want, np.uint8, stage=STAGE, write_manifest=False) as out:
        for i in tqdm(range(t), desc=f"layout {clip.name}", unit="frame", disable=not progress, leave=False):
            face = opt["face_raw"][i] if opt["face_raw"] is not None else None
            with_face += _mesh_ok(face)
            lab = estimate_layout(
                frames[i],
                masks[i],
                body[i],
                face,
                *(opt[k][i] if opt[k] is not None else None for k in ("hand_left", "hand_right", "pose_raw")),
            )
            out[i] = lab
            frame_counts = np.bincount(lab.ravel(), minlength=len(LAYOUT))
            counts += frame_counts
            with_person += bool(frame_counts[1:].any())
    person = int(counts[1:].sum())
    clip.set_stage(
        STAGE,
        status="done",
        source="estimated",
        version=ESTIMATOR_VERSION,
        n_frames=t,
        frames_with_person=with_person,
        frames_with_face_mesh=int(with_face),
        label_share={
            LAYOUT.labels[k]: round(float(counts[k]) / max(person, 1), 4)
            for k in range(1, len(LAYOUT))
            if counts[k]
        },
    )
    return clip


__all__ = [
    "estimate_layout",
    "add_layout_stage",
    "paint_parts",
    "fit_skin",
    "skin_sample",
    "body_unit",
    "SkinModel",
    "FACE_OVAL",
    "MASK_THRESHOLD",
    "MIN_CONF",
]
