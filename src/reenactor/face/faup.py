"""FAUP: facial action units and head pose from a MediaPipe face mesh, identity-independent (paper section 3-4).

The paper (Liu et al., "Video synthesis of human upper body with realistic face") uses OpenFace's action-unit
intensities and head pose as the identity-free description of a face that drives the target's facial
landmarks. reenactor computes the same kind of vector offline and geometrically from the 478-point MediaPipe
face mesh that extraction already stores (``face_raw``), in three steps:

1. **Frontalize.** Head pose ``R`` comes from ``cv2.solvePnP`` on a canonical 3D face
   (:mod:`reenactor.face.headpose`); the mesh (x, y in pixels, z MediaPipe depth in the same pixel scale) is
   centred and rotated by ``R^T`` so every face looks straight at the camera (x right, y down, z away).
2. **Measure.** :data:`MEASURES` are dimensionless distances on the frontal mesh: horizontal ones divided by the
   frame's own inter-ocular distance ``IOD`` (eye centre to eye centre), vertical ones by the frame's own
   eye-centre-to-nose-tip 3D distance ``V``; both are rigid (expressions do not move them), so scale, distance to
   the camera and an anisotropic stretch of the whole face cancel.
3. **Neutral reference.** Each action unit is a signed change of one or two measures from the *same face's
   neutral value*, so that one person's thick lips or high brows do not read as an expression::

       AU_k = clip(sign_k * (m_k - neutral_k) / scale_k, 0, AU_MAX)

   ``neutral`` is taken per identity from a clip (:func:`neutral_reference`: per measure, the median over the
   clip's frames with a face, or the 10th / 25th percentile for the mouth-opening measures ``lip_gap`` /
   ``jaw``, since a talking mouth is open much of the time), or, for a single image, the fixed face-proportion
   constants :data:`DEFAULT_NEUTRAL` (the neutral reference of the bundled carphone clip extracted at 128 px,
   measured with this code). ``scale_k`` (:data:`AU_TABLE`) is the change that counts as a strong (intensity 1) activation.

Action units (FACS numbers, formula on the frontal mesh; mesh indices in brackets)::

    AU1  inner brow raiser   + brow_inner  (inner brow [107,55 | 336,285] height above the eye line) / V
    AU2  outer brow raiser   + brow_outer  (outer brow [70,46 | 300,276] height above the eye line) / V
    AU4  brow lowerer        mean of  -brow_inner  and  -brow_gap (inner brow distance [55-285] / IOD)
    AU5  upper lid raiser    + upper_lid   (upper lid [159 | 386] height above the eye corners) / V
    AU6  cheek raiser        + cheek       (cheek [50 | 280] height relative to the eye corners) / V
    AU7  lid tightener       + lower_lid   (lower lid [145 | 374] height relative to the eye corners) / V
    AU9  nose wrinkler       - ala         (nose wings [64 | 294] depth below the eye line) / V
    AU10 upper lip raiser    - upper_lip   (upper lip top [0] below subnasale [2]) / V
    AU12 lip corner puller   mean of  +corner_elev (corners [61,291] above the lip centre [13,14]) / V
                             and  +mouth_width ([61-291] / IOD)
    AU14 dimpler             + corner_depth (corners' depth behind the lip middle [0,17]) / IOD
    AU15 lip corner depress. - corner_elev
    AU17 chin raiser         - chin        (chin [152] below the lower lip [17]) / V
    AU20 lip stretcher       + mouth_width minus the part explained by AU12's corner elevation
    AU23 lip tightener       - lip_thick   (red-lip heights [0-13] + [14-17]) / V
    AU25 lips part           + lip_gap     (inner lip gap [13-14]) / V
    AU26 jaw drop            + jaw         (chin [152] below the nose tip [1]) / V
    AU45 blink               - upper_lid

Left and right measures are averaged. The FAUP vector (:data:`FAUP_NAMES`, D = 20) is the 17 intensities
(in [0, AU_MAX]) followed by yaw, pitch, roll in radians. :func:`faup_image` writes it into the centre of an
empty image for the landmark generator (section 4). :func:`add_faup_stage` stores ``faup`` (T, 20) and
``faup_measures`` (T, 15) in a clip store, resumably, with the neutral reference in the manifest.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .headpose import head_pose

# ----------------------------------------------------------------------------- mesh indices
R_EYE = {"outer": 33, "inner": 133, "upper": (159, 158, 160), "lower": (145, 153, 144)}
L_EYE = {"outer": 263, "inner": 362, "upper": (386, 385, 387), "lower": (374, 380, 373)}
R_BROW = {"inner": (107, 55), "outer": (70, 46)}
L_BROW = {"inner": (336, 285), "outer": (300, 276)}
NOSE_TIP, SUBNASALE, ALA = 1, 2, (64, 294)
MOUTH_R, MOUTH_L, LIP_TOP, LIP_IN_UP, LIP_IN_LO, LIP_BOTTOM, CHIN = 61, 291, 0, 13, 14, 17, 152
CHEEK = (50, 280)

#: dimensionless measures, in order (see the module docstring)
MEASURES: tuple[str, ...] = (
    "brow_inner",
    "brow_outer",
    "brow_gap",
    "upper_lid",
    "lower_lid",
    "cheek",
    "ala",
    "upper_lip",
    "mouth_width",
    "corner_elev",
    "corner_depth",
    "chin",
    "lip_thick",
    "lip_gap",
    "jaw",
)
M = {n: i for i, n in enumerate(MEASURES)}

#: percentile of the clip used as the neutral reference, per measure (50 = median)
NEUTRAL_PERCENTILE: dict[str, float] = {n: 50.0 for n in MEASURES} | {"lip_gap": 10.0, "jaw": 25.0}

#: action units: name -> list of (measure, sign, scale); several terms are averaged
AU_TABLE: dict[str, list[tuple[str, float, float]]] = {
    "AU1": [("brow_inner", +1, 0.10)],
    "AU2": [("brow_outer", +1, 0.10)],
    "AU4": [("brow_inner", -1, 0.08), ("brow_gap", -1, 0.06)],
    "AU5": [("upper_lid", +1, 0.05)],
    "AU6": [("cheek", +1, 0.06)],
    "AU7": [("lower_lid", +1, 0.04)],
    "AU9": [("ala", -1, 0.10)],
    "AU10": [("upper_lip", -1, 0.06)],
    "AU12": [("corner_elev", +1, 0.10), ("mouth_width", +1, 0.12)],
    "AU14": [("corner_depth", +1, 0.10)],
    "AU15": [("corner_elev", -1, 0.08)],
    "AU17": [("chin", -1, 0.15)],
    "AU20": [("mouth_width", +1, 0.12)],  # corrected for AU12's elevation in faup_from_measures
    "AU23": [("lip_thick", -1, 0.10)],
    "AU25": [("lip_gap", +1, 0.40)],
    "AU26": [("jaw", +1, 0.40)],
    "AU45": [("upper_lid", -1, 0.06)],
}
AU_NAMES: tuple[str, ...] = tuple(AU_TABLE)
POSE_NAMES: tuple[str, ...] = ("yaw", "pitch", "roll")
FAUP_NAMES: tuple[str, ...] = AU_NAMES + POSE_NAMES
N_AU = len(AU_NAMES)
FAUP_DIM = len(FAUP_NAMES)
AU_MAX = 3.0

#: neutral measures for a single image (no clip to take a per-identity reference from): the neutral
#: reference of the bundled carphone clip measured with this module (see the module docstring)
DEFAULT_NEUTRAL = np.array(
    [
        0.3183,
        0.2735,
        0.4764,
        0.0896,
        -0.0750,
        -0.5577,
        0.6915,
        0.2417,
        0.7944,
        0.0209,
        0.2701,
        0.5843,
        0.3174,
        0.0621,
        1.3764,
    ],
    dtype=np.float32,
)


def has_face(face_raw: np.ndarray) -> np.ndarray:
    """(...,) bool: the mesh is present (extraction stores zeros when no face was found)."""
    return np.abs(face_raw[..., :2]).sum(axis=(-1, -2)) > 0


def frontalize(face_raw: np.ndarray, R: np.ndarray) -> np.ndarray:
    """(N, 3) mesh centred on its centroid and rotated by ``R^T`` (x right, y down, z away, frontal)."""
    p = face_raw.astype(np.float64) - face_raw.mean(0, keepdims=True)
    return p @ R  # row-vector form of R^T p


def _mean(p: np.ndarray, ids: Any) -> np.ndarray:
    return p[list(ids) if isinstance(ids, (tuple, list)) else [ids]].mean(0)


def face_measures(face_raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dimensionless measures and head pose of one mesh.

    Args:
        face_raw: (478, 3) MediaPipe face mesh, x, y in pixels, z depth in the same pixel scale.

    Returns:
        (measures (15,) float32 in :data:`MEASURES` order, pose (3,) float32 [yaw, pitch, roll] radians).
    """
    face_raw = np.asarray(face_raw, dtype=np.float64)
    pose, R = head_pose(face_raw)
    p = frontalize(face_raw, R)
    x, y, z = 0, 1, 2
    out = np.zeros(len(MEASURES), np.float64)
    eyes = []
    for eye, brow in ((R_EYE, R_BROW), (L_EYE, L_BROW)):
        corners = (p[eye["outer"]] + p[eye["inner"]]) / 2
        eyes.append((corners, eye, brow))
    iod = float(np.linalg.norm(eyes[1][0][:2] - eyes[0][0][:2])) + 1e-6
    mid_eye = (eyes[0][0] + eyes[1][0]) / 2
    v = float(np.linalg.norm(p[NOSE_TIP] - mid_eye)) + 1e-6  # 3D, so pitch errors do not shrink it
    per_side = {k: [] for k in ("brow_inner", "brow_outer", "upper_lid", "lower_lid", "cheek", "ala")}
    for side, (corners, eye, brow) in enumerate(eyes):
        cy = corners[y]
        per_side["brow_inner"].append((cy - _mean(p, brow["inner"])[y]) / v)
        per_side["brow_outer"].append((cy - _mean(p, brow["outer"])[y]) / v)
        per_side["upper_lid"].append((cy - _mean(p, eye["upper"])[y]) / v)
        per_side["lower_lid"].append((cy - _mean(p, eye["lower"])[y]) / v)
        per_side["cheek"].append((cy - p[CHEEK[side]][y]) / v)
        per_side["ala"].append((p[ALA[side]][y] - cy) / v)
    for k, vals in per_side.items():
        out[M[k]] = np.mean(vals)
    out[M["brow_gap"]] = abs(_mean(p, L_BROW["inner"])[x] - _mean(p, R_BROW["inner"])[x]) / iod
    out[M["upper_lip"]] = (p[LIP_TOP][y] - p[SUBNASALE][y]) / v
    out[M["mouth_width"]] = abs(p[MOUTH_L][x] - p[MOUTH_R][x]) / iod
    lip_centre = (p[LIP_IN_UP] + p[LIP_IN_LO]) / 2
    corners = (p[MOUTH_L] + p[MOUTH_R]) / 2
    out[M["corner_elev"]] = (lip_centre[y] - corners[y]) / v
    out[M["corner_depth"]] = (corners[z] - (p[LIP_TOP][z] + p[LIP_BOTTOM][z]) / 2) / iod
    out[M["chin"]] = (p[CHIN][y] - p[LIP_BOTTOM][y]) / v
    out[M["lip_thick"]] = ((p[LIP_IN_UP][y] - p[LIP_TOP][y]) + (p[LIP_BOTTOM][y] - p[LIP_IN_LO][y])) / v
    out[M["lip_gap"]] = max(p[LIP_IN_LO][y] - p[LIP_IN_UP][y], 0.0) / v
    out[M["jaw"]] = (p[CHIN][y] - p[NOSE_TIP][y]) / v
    return out.astype(np.float32), pose


def neutral_reference(measures: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """(15,) per-identity neutral measures of a clip: per measure the :data:`NEUTRAL_PERCENTILE` over the
    frames with a face. ``measures``: (T, 15); ``valid``: (T,) bool or None. Falls back to
    :data:`DEFAULT_NEUTRAL` when no frame is valid."""
    measures = np.asarray(measures, np.float32)
    if valid is not None:
        measures = measures[np.asarray(valid, bool)]
    if len(measures) == 0:
        return DEFAULT_NEUTRAL.copy()
    q = np.array([NEUTRAL_PERCENTILE[n] for n in MEASURES])
    return np.array([np.percentile(measures[:, i], q[i]) for i in range(len(MEASURES))], np.float32)


def faup_from_measures(
    measures: np.ndarray, pose: np.ndarray, neutral: np.ndarray | None = None
) -> np.ndarray:
    """(..., 20) FAUP from (..., 15) measures and (..., 3) pose (see the module docstring's AU formulas)."""
    measures = np.asarray(measures, np.float32)
    neutral = DEFAULT_NEUTRAL if neutral is None else np.asarray(neutral, np.float32)
    delta = measures - neutral
    aus = []
    for name in AU_NAMES:
        terms = [np.clip(sign * delta[..., M[m]] / scale, 0.0, AU_MAX) for m, sign, scale in AU_TABLE[name]]
        aus.append(np.mean(terms, axis=0))
    au = np.stack(aus, -1)
    # AU20 (lip stretcher) is widening *without* the corners rising: remove AU12's elevation part
    elev = np.clip(delta[..., M["corner_elev"]] / AU_TABLE["AU12"][0][2], 0.0, AU_MAX)
    i20 = AU_NAMES.index("AU20")
    au[..., i20] = np.clip(au[..., i20] - elev, 0.0, AU_MAX)
    return np.concatenate([au, np.asarray(pose, np.float32)], -1).astype(np.float32)


def faup_from_mesh(face_raw: np.ndarray, neutral: np.ndarray | None = None) -> np.ndarray:
    """(20,) float32 FAUP of one face mesh (478, 3) (zeros when the mesh is all zeros, i.e. no face).

    ``neutral``: the identity's (15,) neutral measures (:func:`neutral_reference`), or None for the fixed
    :data:`DEFAULT_NEUTRAL` (single image)."""
    face_raw = np.asarray(face_raw, np.float32)
    if not has_face(face_raw):
        return np.zeros(FAUP_DIM, np.float32)
    m, pose = face_measures(face_raw)
    return faup_from_measures(m, pose, neutral)


def faup_sequence(face_raw: np.ndarray, neutral: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """FAUP of a clip of meshes (T, 478, 3) with the clip's own neutral reference.

    Frames without a face take the measures and pose of the nearest frame with one (held), so the sequence
    has no holes; ``valid`` says which were measured.

    Returns ``{"faup": (T, 20), "measures": (T, 15), "pose": (T, 3), "neutral": (15,), "valid": (T,) bool}``.
    """
    face_raw = np.asarray(face_raw, np.float32)
    T = face_raw.shape[0]
    valid = has_face(face_raw)
    meas = np.zeros((T, len(MEASURES)), np.float32)
    pose = np.zeros((T, 3), np.float32)
    for t in np.flatnonzero(valid):
        meas[t], pose[t] = face_measures(face_raw[t])
    if valid.any() and not valid.all():
        idx = np.flatnonzero(valid)
        nearest = idx[np.abs(np.arange(T)[:, None] - idx[None, :]).argmin(1)]
        meas, pose = meas[nearest], pose[nearest]
    if neutral is None:
        neutral = neutral_reference(meas, valid)
    faup = faup_from_measures(meas, pose, neutral)
    if not valid.any():
        faup[:] = 0.0
    return {
        "faup": faup,
        "measures": meas,
        "pose": pose,
        "neutral": np.asarray(neutral, np.float32),
        "valid": valid,
    }


class RunningNeutral:
    """Causal neutral reference for streaming a driving video frame by frame (transfer time).

    The reference is the :data:`NEUTRAL_PERCENTILE` of the measures seen so far, with ``prior_frames`` copies
    of :data:`DEFAULT_NEUTRAL` mixed in so that the first frames are not measured against themselves (a
    driver who starts smiling would otherwise read as neutral). Keeps at most ``window`` recent frames. A frame
    whose measures equal the previous frame's adds nothing: a held photo (``transfer --hold``) or a frozen video
    is one face, and would otherwise become its own neutral and read as expressionless.
    """

    def __init__(self, prior_frames: int = 10, window: int = 600):
        self.prior_frames = prior_frames
        self.window = window
        self.reset()

    def reset(self) -> None:
        self._seen: list[np.ndarray] = []

    def update(self, measures: np.ndarray) -> np.ndarray:
        """Add one frame's (15,) measures; return the current (15,) neutral reference."""
        m = np.asarray(measures, np.float32)
        if not (self._seen and np.array_equal(self._seen[-1], m)):
            self._seen.append(m)
            self._seen = self._seen[-self.window :]
        data = np.stack(self._seen + [DEFAULT_NEUTRAL] * self.prior_frames)
        return neutral_reference(data)


# ----------------------------------------------------------------------------- FAUP image (section 4)
def faup_image(faup: np.ndarray, size: tuple[int, int], cell: int = 2) -> np.ndarray:
    """Write FAUP vectors into the centre of an empty image (paper section 4, Fig. 2).

    The 20 values are laid out row-major on a 4 x 5 grid of ``cell`` x ``cell`` pixel squares centred in an
    otherwise zero image; action units keep their intensity (0..3), pose angles their radians.

    Args:
        faup: (20,) or (B, 20) float.
        size: (H, W) of the image; must hold the grid (4*cell x 5*cell).

    Returns:
        (1, H, W) or (B, 1, H, W) float32.
    """
    faup = np.asarray(faup, np.float32)
    single = faup.ndim == 1
    f = faup[None] if single else faup
    rows, cols = 4, 5
    h, w = size
    gh, gw = rows * cell, cols * cell
    if gh > h or gw > w:
        raise ValueError(f"FAUP image {size} too small for a {gh}x{gw} grid")
    img = np.zeros((f.shape[0], 1, h, w), np.float32)
    grid = f[:, : rows * cols].reshape(-1, rows, cols)
    grid = np.repeat(np.repeat(grid, cell, 1), cell, 2)
    y0, x0 = (h - gh) // 2, (w - gw) // 2
    img[:, 0, y0 : y0 + gh, x0 : x0 + gw] = grid
    return img[0] if single else img


# ----------------------------------------------------------------------------- clip-store stage
def add_faup_stage(clip, force: bool = False) -> np.ndarray:
    """The ``faup`` stage: compute ``faup`` (T, 20) and ``faup_measures`` (T, 15) from the clip's
    ``face_raw`` (T, 478, 3) and store them (atomic saves; the neutral reference and the count of frames with
    a face go into the manifest). Skipped, returning the stored array, when the stage is already done.

    Args:
        clip: a :class:`reenactor.data.clipstore.ClipStore` with a ``face_raw`` array.
    """
    if clip.stage_done("faup") and clip.has("faup") and not force:
        return np.asarray(clip.load("faup", mmap=False))
    face_raw = np.asarray(clip.load("face_raw", mmap=False), np.float32)
    res = faup_sequence(face_raw)
    clip.save("faup_measures", res["measures"], stage="faup", write_manifest=False)
    clip.save("faup", res["faup"], stage="faup", write_manifest=False)
    clip.set_stage(
        "faup",
        frames_with_face=int(res["valid"].sum()),
        neutral=[float(v) for v in res["neutral"]],
        names=list(FAUP_NAMES),
    )
    return res["faup"]


def clip_neutral(clip) -> np.ndarray:
    """(15,) neutral reference recorded by the ``faup`` stage of ``clip`` (runs the stage if needed)."""
    add_faup_stage(clip)
    return np.asarray(clip.stage("faup")["neutral"], np.float32)
