"""A dense-pose **substitute** from keypoints: per pixel a body-part index I and two coordinates U (along the
part) and V (across it), the IUV slot of the single-shot method's P2B input (Gafni et al. 2021, sec. 3.1, where
it comes from DensePose, Güler et al. 2018).

No DensePose model ships with anything reenactor can install, so this is **not DensePose**: it is geometry drawn
from the BODY_25 keypoints (and the hand landmarks when the clip has them), the "pseudo-IUV" of
``notes-single-shot.md`` sec. 2. What it shares with DensePose is the format:

* ``I`` uses DensePose-COCO's 24 part indices (0 background); see :data:`PART_NAMES`. Which of a pair is the
  front and which the back is our choice (the first of each pair is the back). Head 23/24 is the head's right/left
  half, as in DensePose.
* ``U`` in [0, 1] is the position along the part's bone, 0 at the joint nearer the torso (shoulder, elbow, hip,
  knee, wrist, heel; the neck for the head, the neck level for the torso), 1 at the far joint.
* ``V`` in [0, 1] is the offset across it: 0.5 on the bone, 0 and 1 at the capsule's two edges, increasing
  towards the person's left.

What it is not: DensePose's U, V are coordinates on the SMPL surface charts, ours are capsule coordinates; its
parts follow the silhouette, ours are capsules whose radii are fixed fractions of the body size (estimated from
bone lengths: the longest of torso length, shoulder width / 0.75 and hip width / 0.38, or of the limbs when the
trunk is not seen), so the part shapes carry little of the person's build (the notes' reason: less body-shape
leakage from the driving video). Front or back is one decision per frame from the shoulder order along the
person's left-right axis (and from the face's visibility when the shoulders are side-on), so a limb is front or
back with the whole body.

Painting order (what covers what): torso, then legs and feet, then head (with neck), then arms and hands;
within each group a pixel belongs to the part whose bone is nearest relative to its radius (so elbows and knees
split between the two segments). With a ``mask`` (the clip's person mask) every part pixel outside it is
cleared: nothing outside the mask; without one (``mask=None``) the capsules are kept whole, the keypoints-only
version a method may prefer at driving time. Person pixels no capsule reaches (hair, loose clothes) stay 0.

:func:`add_densepose_stage` stores ``iuv.npy`` (T, S, S, 3) uint8 = (I, round(255 U), round(255 V)) with stage
``densepose`` in the clip store.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import InputError
from ..pose.skeleton import J

STAGE = "densepose"
ARRAY = "iuv"

#: DensePose-COCO's 24 part indices (0 background); of each front/back pair the first is the back (our choice)
PART_NAMES: tuple[str, ...] = (
    "background",
    "torso_back", "torso_front", "right_hand", "left_hand", "left_foot", "right_foot",
    "upper_leg_right_back", "upper_leg_left_back", "upper_leg_right_front", "upper_leg_left_front",
    "lower_leg_right_back", "lower_leg_left_back", "lower_leg_right_front", "lower_leg_left_front",
    "upper_arm_left_back", "upper_arm_right_back", "upper_arm_left_front", "upper_arm_right_front",
    "lower_arm_left_back", "lower_arm_right_back", "lower_arm_left_front", "lower_arm_right_front",
    "head_right", "head_left",
)  # fmt: skip
N_PARTS = len(PART_NAMES) - 1
P = {n: i for i, n in enumerate(PART_NAMES)}

#: radius of each capsule as a fraction of the body size L (about the neck-to-mid-hip length)
RADII = {
    "upper_arm": 0.11,
    "lower_arm": 0.085,
    "hand": 0.085,
    "upper_leg": 0.16,
    "lower_leg": 0.11,
    "foot": 0.065,
    "head": 0.17,
}
#: hand length (wrist to finger tips) as a fraction of L, used when the clip has no hand landmarks
HAND_LENGTH = 0.36
#: a keypoint with confidence at or below this is missing
DEFAULT_THRESH = 0.1

# Body-size estimates: bone -> its typical length as a fraction of L (adult proportions, rounded).
_TRUNK = (("Neck", "MidHip", 1.0), ("RShoulder", "LShoulder", 0.75), ("RHip", "LHip", 0.38))
_LIMBS = (
    ("RShoulder", "RElbow", 0.6), ("LShoulder", "LElbow", 0.6), ("RElbow", "RWrist", 0.5),
    ("LElbow", "LWrist", 0.5), ("RHip", "RKnee", 0.8), ("LHip", "LKnee", 0.8), ("RKnee", "RAnkle", 0.78),
    ("LKnee", "LAnkle", 0.78),
)  # fmt: skip
_HEAD = (("REar", "LEar", 0.25), ("Nose", "Neck", 0.42))


def _colours() -> np.ndarray:
    # one hue family per body region, the front of a pair brighter than its back; neighbours differ
    return np.array(
        [
            (0, 0, 0),
            (20, 40, 160),
            (60, 120, 255),  # torso back, front
            (255, 210, 0),
            (255, 130, 0),  # right, left hand
            (120, 70, 20),
            (190, 130, 60),  # left, right foot
            (0, 120, 60),
            (110, 140, 0),
            (0, 200, 110),
            (170, 230, 0),  # upper legs: R back, L back, R/L front
            (0, 110, 130),
            (70, 110, 70),
            (0, 215, 215),
            (130, 210, 130),  # lower legs, same order
            (140, 0, 140),
            (140, 0, 50),
            (235, 70, 235),
            (235, 40, 110),  # upper arms: L back, R back, L/R front
            (150, 90, 200),
            (170, 70, 60),
            (200, 160, 255),
            (255, 120, 100),  # lower arms, same order
            (250, 220, 150),
            (170, 120, 80),  # head right, left half
        ],
        np.uint8,
    )


#: one colour per part index (background black)
PART_COLOURS: np.ndarray = _colours()


def colourize_parts(index: np.ndarray) -> np.ndarray:
    """(..., ) part indices -> (..., 3) uint8 RGB in :data:`PART_COLOURS`."""
    return PART_COLOURS[np.asarray(index, np.int64).clip(0, N_PARTS)]


# ------------------------------------------------------------------------------------------ the body frame
def _ok(body: np.ndarray, name: str, thresh: float) -> bool:
    return bool(body[J[name], 2] > thresh)


def _xy(body: np.ndarray, name: str) -> np.ndarray:
    return body[J[name], :2].astype(np.float64)


def _unit(v: np.ndarray) -> np.ndarray | None:
    n = float(np.hypot(*v))
    return v / n if n > 1e-6 else None


def body_size(body: np.ndarray, thresh: float = DEFAULT_THRESH) -> float | None:
    """The body size L in pixels (about the neck-to-mid-hip length) from bone lengths; None without any bone."""
    for table in (_TRUNK, _LIMBS, _HEAD):
        est = [
            float(np.hypot(*(_xy(body, a) - _xy(body, b)))) / f
            for a, b, f in table
            if _ok(body, a, thresh) and _ok(body, b, thresh)
        ]
        est = [e for e in est if e > 1e-3]
        if est:
            return max(est)
    return None


def _mid_hip(body: np.ndarray, thresh: float) -> np.ndarray | None:
    if _ok(body, "MidHip", thresh):
        return _xy(body, "MidHip")
    if _ok(body, "RHip", thresh) and _ok(body, "LHip", thresh):
        return (_xy(body, "RHip") + _xy(body, "LHip")) / 2
    return None


def body_axes(body: np.ndarray, thresh: float = DEFAULT_THRESH) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(down, left, front)``: unit vectors (image x, y) along the trunk from the neck towards the hips and
    towards the person's left, and whether the person faces the camera."""
    down = None
    if _ok(body, "Neck", thresh):
        hip = _mid_hip(body, thresh)
        if hip is not None:
            down = _unit(hip - _xy(body, "Neck"))
        elif _ok(body, "Nose", thresh):
            down = _unit(_xy(body, "Neck") - _xy(body, "Nose"))
    if down is None:
        down = np.array([0.0, 1.0])
    facing_left = np.array([down[1], -down[0]])  # the person's left, in the image, for a person facing us
    face = _ok(body, "Nose", thresh) and (_ok(body, "REye", thresh) or _ok(body, "LEye", thresh))
    if _ok(body, "RShoulder", thresh) and _ok(body, "LShoulder", thresh):
        sh = _xy(body, "LShoulder") - _xy(body, "RShoulder")
        n = float(np.hypot(*sh))
        c = float(sh @ facing_left) / max(n, 1e-6)
        front = c > 0 if abs(c) > 0.25 else face
    else:
        front = face
    left = facing_left if front else -facing_left
    return down, left, bool(front)


# ------------------------------------------------------------------------------------------ geometry
class _Canvas:
    """The output image and the per-group best normalised distance."""

    def __init__(self, h: int, w: int):
        self.h, self.w = h, w
        self.I = np.zeros((h, w), np.uint8)
        self.U = np.zeros((h, w), np.float32)
        self.V = np.zeros((h, w), np.float32)
        self._group()

    def _group(self) -> None:
        self.gd = np.full((self.h, self.w), np.inf, np.float32)
        self.gI = np.zeros((self.h, self.w), np.uint8)
        self.gU = np.zeros((self.h, self.w), np.float32)
        self.gV = np.zeros((self.h, self.w), np.float32)

    def window(self, pts: list[np.ndarray], pad: float):
        p = np.stack(pts)
        x0 = max(int(np.floor(p[:, 0].min() - pad)), 0)
        y0 = max(int(np.floor(p[:, 1].min() - pad)), 0)
        x1 = min(int(np.ceil(p[:, 0].max() + pad)) + 1, self.w)
        y1 = min(int(np.ceil(p[:, 1].max() + pad)) + 1, self.h)
        if x1 <= x0 or y1 <= y0:
            return None
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        return (slice(y0, y1), slice(x0, x1)), xx, yy

    def offer(self, win, dn: np.ndarray, part: np.ndarray | int, u: np.ndarray, v: np.ndarray) -> None:
        """Pixels of ``win`` with ``dn < 1`` (inside) and nearer than the group's best take this part."""
        sl = win[0]
        take = (dn < 1) & (dn < self.gd[sl])
        self.gd[sl][take] = dn[take]
        self.gI[sl][take] = part[take] if isinstance(part, np.ndarray) else part
        self.gU[sl][take] = u[take]
        self.gV[sl][take] = v[take]

    def paint(self) -> None:
        """The group just offered covers what was painted before; start the next group."""
        m = self.gI > 0
        self.I[m], self.U[m], self.V[m] = self.gI[m], self.gU[m], self.gV[m]
        self._group()


def _capsule(
    cv: _Canvas, a: np.ndarray, b: np.ndarray, r: float, left: np.ndarray, part, u_axis=None
) -> None:
    """Offer the capsule of radius ``r`` around segment a -> b: U along it (0 at a, 1 at b; or along
    ``u_axis = (origin, unit direction, length)``), V across. ``part``: an index, or a function of the signed
    distance across the bone (towards the person's left) giving one per pixel."""
    win = cv.window([a, b], r + 1)
    if win is None or r <= 0:
        return
    d = b - a
    ln = float(np.hypot(*d))
    if ln < 1e-6:
        d, ln = np.array([0.0, 1.0]), 1e-6
    dx, dy = d / ln
    nx, ny = -dy, dx  # unit normal
    if nx * left[0] + ny * left[1] < 0:
        nx, ny = -nx, -ny
    _, xx, yy = win
    rx, ry = xx - a[0], yy - a[1]
    t = (rx * dx + ry * dy) / ln
    tc = np.clip(t, 0.0, 1.0)
    dist = np.hypot(rx - tc * dx * ln, ry - tc * dy * ln)
    across = rx * nx + ry * ny
    if u_axis is None:
        u = tc
    else:
        o, e, n = u_axis
        u = np.clip(((xx - o[0]) * e[0] + (yy - o[1]) * e[1]) / n, 0.0, 1.0)
    v = np.clip((across / r + 1) / 2, 0.0, 1.0)
    if callable(part):
        part = part(across)
    cv.offer(win, dist / r, part, u, v)


def _torso(cv: _Canvas, body: np.ndarray, thresh: float, L: float, down, left, front: bool) -> None:
    if not _ok(body, "Neck", thresh):
        return
    neck = _xy(body, "Neck")
    hip = _mid_hip(body, thresh)
    length = float((hip - neck) @ down) if hip is not None else L
    length = max(length, 0.3 * L)
    sh = _ok(body, "RShoulder", thresh) and _ok(body, "LShoulder", thresh)
    w_top = abs(float((_xy(body, "LShoulder") - _xy(body, "RShoulder")) @ left)) / 2 if sh else 0.0
    w_top = max(w_top, 0.3 * L)
    hips = _ok(body, "RHip", thresh) and _ok(body, "LHip", thresh)
    if hips:
        w_bot = abs(float((_xy(body, "LHip") - _xy(body, "RHip")) @ left)) / 2 + RADII["upper_leg"] * L
    else:
        w_bot = 0.85 * w_top
    bottom = length + 0.1 * L
    corners = [neck - left * w_top, neck + left * w_top, neck + down * bottom - left * w_bot]
    corners.append(neck + down * bottom + left * w_bot)
    corners.append(neck - down * 0.1 * L)
    win = cv.window(corners, 1)
    if win is None:
        return
    _, xx, yy = win
    rx, ry = xx - neck[0], yy - neck[1]
    along = rx * down[0] + ry * down[1]
    across = rx * left[0] + ry * left[1]
    # the top edge follows the shoulder line (raised a little: the trapezius sits above the joints)
    if sh:
        rs, ls = _xy(body, "RShoulder") - neck, _xy(body, "LShoulder") - neck
        ra, la = float(rs @ left), float(ls @ left)
        rd, ld = float(rs @ down), float(ls @ down)
        k = (ld - rd) / (la - ra) if abs(la - ra) > 1e-6 else 0.0
        top = rd + k * (across - ra) - 0.06 * L
        top = np.minimum(top, 0.0)  # never below the neck joint
    else:
        top = np.full_like(along, -0.05 * L)
    frac = np.clip(along / length, 0.0, 1.0)
    half = w_top + (w_bot - w_top) * frac
    inside = (along >= top) & (along <= bottom) & (np.abs(across) <= half)
    u = frac
    v = np.clip((across / half + 1) / 2, 0.0, 1.0)
    dn = np.where(inside, np.abs(across) / half * 0.999, np.inf).astype(np.float32)
    cv.offer(win, dn, P["torso_front"] if front else P["torso_back"], u, v)


def _head(cv: _Canvas, body: np.ndarray, thresh: float, L: float, down, left) -> None:
    ears = _ok(body, "REar", thresh) and _ok(body, "LEar", thresh)
    pts = [n for n in ("Nose", "REye", "LEye", "REar", "LEar") if _ok(body, n, thresh)]
    if not pts:
        return
    centre = (_xy(body, "REar") + _xy(body, "LEar")) / 2 if ears else np.mean([_xy(body, n) for n in pts], 0)
    r = RADII["head"] * L
    if ears:
        r = max(r, 0.65 * float(np.hypot(*(_xy(body, "LEar") - _xy(body, "REar")))))
    neck = _xy(body, "Neck") if _ok(body, "Neck", thresh) else centre + down * 1.6 * r
    up = _unit(centre - neck)
    if up is None:
        up = -down
    chin, crown = centre - up * 0.35 * r, centre + up * 0.55 * r
    span = float((crown - neck) @ up) + r  # neck -> top of the skull

    def side(across: np.ndarray) -> np.ndarray:  # across > 0: the person's left half
        return np.where(across > 0, P["head_left"], P["head_right"]).astype(np.uint8)

    axis = (neck, up, span)
    _capsule(cv, neck, chin, 0.55 * r, left, side, axis)
    _capsule(cv, chin, crown, r, left, side, axis)


def _hand(cv: _Canvas, body: np.ndarray, hand: np.ndarray | None, side: str, thresh: float, L: float, left):
    part = P[f"{side}_hand"]
    s = side[0].upper()
    r = RADII["hand"] * L
    if hand is not None and (hand[:, 2] > thresh).sum() >= 5 and hand[0, 2] > thresh:
        ok = hand[:, 2] > thresh
        wrist = hand[0, :2].astype(np.float64)
        tips = [hand[i, :2] for i in (4, 8, 12, 16, 20) if ok[i]]
        far = np.mean(tips, 0) if tips else hand[ok, :2].mean(0)
        if ok[5] and ok[17]:
            r = max(0.6 * float(np.hypot(*(hand[5, :2] - hand[17, :2]))), 0.5 * r)
        _capsule(cv, wrist, far.astype(np.float64), r, left, part)
        return
    if not (_ok(body, f"{s}Wrist", thresh) and _ok(body, f"{s}Elbow", thresh)):
        return
    wrist = _xy(body, f"{s}Wrist")
    d = _unit(wrist - _xy(body, f"{s}Elbow"))
    if d is not None:
        _capsule(cv, wrist, wrist + d * HAND_LENGTH * L, r, left, part)


def _limb(cv, body, thresh, a: str, b: str, r: float, left, part) -> None:
    if _ok(body, a, thresh) and _ok(body, b, thresh):
        _capsule(cv, _xy(body, a), _xy(body, b), r, left, part)


def _foot(cv, body, thresh, side: str, L: float, left) -> None:
    s = side[0].upper()
    toes = [n for n in (f"{s}BigToe", f"{s}SmallToe") if _ok(body, n, thresh)]
    back = f"{s}Heel" if _ok(body, f"{s}Heel", thresh) else f"{s}Ankle"
    if toes and _ok(body, back, thresh):
        tip = np.mean([_xy(body, n) for n in toes], 0)
        _capsule(cv, _xy(body, back), tip, RADII["foot"] * L, left, P[f"{side}_foot"])


def densepose_from_keypoints(
    body: np.ndarray,
    mask: np.ndarray | None = None,
    size: tuple[int, int] | None = None,
    hands: dict[str, np.ndarray] | None = None,
    thresh: float = DEFAULT_THRESH,
    mask_thresh: int = 128,
) -> tuple[np.ndarray, np.ndarray]:
    """The pseudo-IUV of one frame (see the module docstring).

    body: (25, 3) BODY_25 ``[x, y, conf]`` in pixels; mask: (H, W) person mask (uint8 0..255, or bool / float
    0..1), or None for the capsules alone; size: ``(H, W)`` when there is no mask; hands: optional
    ``{"hand_left": (21, 3), "hand_right": (21, 3)}`` landmarks for the hands' axes and widths.
    Returns ``(I (H, W) uint8 in 0..24, UV (H, W, 2) float16 in [0, 1])``, zero where I is 0.
    """
    if mask is not None:
        mask = np.asarray(mask)
        h, w = mask.shape[:2]
    elif size is not None:
        h, w = int(size[0]), int(size[1])
    else:
        raise ValueError("densepose_from_keypoints needs a mask or a size")
    body = np.asarray(body, np.float64).reshape(-1, 3)
    cv = _Canvas(h, w)
    L = body_size(body, thresh)
    if L is not None and L > 1:
        down, left, front = body_axes(body, thresh)
        hands = hands or {}
        fb = 1 if front else 0  # the second index of a back/front pair is the front

        # torso
        _torso(cv, body, thresh, L, down, left, front)
        cv.paint()
        # legs and feet
        for side in ("right", "left"):
            s = side[0].upper()
            _limb(cv, body, thresh, f"{s}Hip", f"{s}Knee", RADII["upper_leg"] * L, left,
                  P[f"upper_leg_{side}_back"] + 2 * fb)  # fmt: skip
            _limb(cv, body, thresh, f"{s}Knee", f"{s}Ankle", RADII["lower_leg"] * L, left,
                  P[f"lower_leg_{side}_back"] + 2 * fb)  # fmt: skip
            _foot(cv, body, thresh, side, L, left)
        cv.paint()
        _head(cv, body, thresh, L, down, left)
        cv.paint()
        for side in ("right", "left"):
            s = side[0].upper()
            _limb(cv, body, thresh, f"{s}Shoulder", f"{s}Elbow", RADII["upper_arm"] * L, left,
                  P[f"upper_arm_{side}_back"] + 2 * fb)  # fmt: skip
            _limb(cv, body, thresh, f"{s}Elbow", f"{s}Wrist", RADII["lower_arm"] * L, left,
                  P[f"lower_arm_{side}_back"] + 2 * fb)  # fmt: skip
            hk = hands.get(f"hand_{side}")
            _hand(cv, body, None if hk is None else np.asarray(hk, np.float64), side, thresh, L, left)
        cv.paint()
    parts, U, V = cv.I, cv.U, cv.V
    if mask is not None:
        if mask.dtype == bool:
            m = mask
        elif mask.dtype.kind == "f":
            m = mask >= mask_thresh / 255.0
        else:
            m = mask >= mask_thresh
        parts[~m] = 0
    off = parts == 0
    U[off] = 0
    V[off] = 0
    return parts, np.stack([U, V], -1).astype(np.float16)


def to_iuv8(index: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """(H, W) I and (H, W, 2) UV -> (H, W, 3) uint8 (I, round(255 U), round(255 V)), the stored form."""
    q = np.clip(np.round(np.asarray(uv, np.float32) * 255), 0, 255).astype(np.uint8)
    return np.concatenate([np.asarray(index, np.uint8)[..., None], q], -1)


def from_iuv8(iuv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The stored (..., 3) uint8 -> ``(I uint8, UV float32 in [0, 1])``."""
    iuv = np.asarray(iuv)
    return iuv[..., 0], iuv[..., 1:].astype(np.float32) / 255.0


# ------------------------------------------------------------------------------------------ the stage
def add_densepose_stage(
    clip, force: bool = False, progress: bool = False, thresh: float = DEFAULT_THRESH, use_mask: bool = True
) -> np.ndarray:
    """Compute and store ``iuv`` (T, S, S, 3) uint8 in clip store ``clip`` (stage ``densepose``): per frame
    :func:`densepose_from_keypoints` of the clip's ``body`` inside its person ``mask`` (hand landmarks when
    present). Frames without a person are all zero. Skipped when done with the same options; atomic writes.
    Returns the array (memory-mapped when cached)."""
    from tqdm.auto import tqdm

    if not clip.has("body"):
        raise InputError("clip has no `body` keypoints", clip.root, "re-run `reenactor extract` on the video")
    if use_mask and not clip.has("mask"):
        raise InputError(
            "clip has no person `mask` (needed to keep the parts inside the person)",
            clip.root,
            "re-extract the clip with `reenactor extract`",
        )
    t = clip.n_frames
    h, w = clip.size
    want = (t, h, w, 3)
    opts = {"thresh": float(thresh), "use_mask": bool(use_mask)}
    if not force and clip.stage_done(STAGE) and clip.has(ARRAY):
        cached = clip.load(ARRAY)
        st = clip.stage(STAGE)
        if tuple(cached.shape) == want and all(st.get(k) == v for k, v in opts.items()):
            return cached
    t0 = time.perf_counter()
    clip.manifest["stages"].pop(STAGE, None)  # no fields left from an earlier run with other options
    clip.set_stage(STAGE, status="running", **opts)
    body = np.asarray(clip.load("body", mmap=False), np.float32)
    masks = clip.load("mask") if use_mask else None
    person = clip.person_present() if clip.has("person") else np.ones(t, bool)
    hands = {k: np.asarray(clip.load(k, mmap=False)) for k in ("hand_left", "hand_right") if clip.has(k)}
    n_front = n_drawn = 0
    covered = []
    with clip.writer(ARRAY, want, np.uint8, stage=STAGE, write_manifest=False) as out:
        for i in tqdm(
            range(t), desc=f"densepose {clip.name}", unit="frame", disable=not progress, leave=False
        ):
            if not person[i]:
                out[i] = 0
                continue
            m = np.asarray(masks[i]) if masks is not None else None
            index, uv = densepose_from_keypoints(
                body[i], m, (h, w), hands={k: v[i] for k, v in hands.items()}, thresh=thresh
            )
            out[i] = to_iuv8(index, uv)
            if index.any():
                n_drawn += 1
                n_front += int(body_axes(body[i].astype(np.float64), thresh)[2])
            if m is not None and (m >= 128).any():
                covered.append(float((index > 0).sum() / (m >= 128).sum()))
    clip.set_stage(
        STAGE,
        status="done",
        **opts,
        parts="densepose-coco 24 (substitute: keypoint capsules, not a DensePose model)",
        frames_with_parts=n_drawn,
        frames_front=n_front,
        frames_back=n_drawn - n_front,
        mask_covered_mean=round(float(np.mean(covered)), 4) if covered else None,
        seconds=round(time.perf_counter() - t0, 2),
    )
    return clip.load(ARRAY)


__all__ = [
    "PART_NAMES",
    "PART_COLOURS",
    "N_PARTS",
    "RADII",
    "densepose_from_keypoints",
    "add_densepose_stage",
    "body_size",
    "body_axes",
    "colourize_parts",
    "to_iuv8",
    "from_iuv8",
]
