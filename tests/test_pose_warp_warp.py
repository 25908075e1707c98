"""pose_warp's warping core (reenactor.pose.part_warp): part segmentation and per-part warps.

Synthetic stick person (exact geometry, textured parts) and the bundled astronaut photo extracted with the
project's own pipeline: an unmoved warp gives back the reference, a global translation / scale of the pose moves
/ scales the person, a raised forearm changes pixels near that arm only, the segmentation labels exactly the
person pixels, and missing driving joints fall back to the parent part's transform.
"""

from __future__ import annotations

import numpy as np
import pytest

from reenactor.pose.part_warp import (
    DRAW_ORDER,
    PARENT,
    PARTS,
    PoseWarper,
    part_transforms,
    segment_parts,
)
from reenactor.pose.skeleton import J

S = 160  # synthetic frame size

# Synthetic person (BODY_25 joints in a 160 x 160 frame); person's right side is image left.
_JOINTS = {
    "Neck": (80, 44),
    "RShoulder": (58, 46),
    "LShoulder": (102, 46),
    "RElbow": (50, 76),
    "RWrist": (46, 104),
    "LElbow": (110, 76),
    "LWrist": (114, 104),
    "MidHip": (80, 100),
    "RHip": (69, 100),
    "LHip": (91, 100),
    "RKnee": (67, 128),
    "LKnee": (93, 128),
    "RAnkle": (66, 152),
    "LAnkle": (94, 152),
    "Nose": (80, 24),
    "REye": (75, 20),
    "LEye": (85, 20),
    "REar": (70, 22),
    "LEar": (90, 22),
}
_HEAD_C, _HEAD_R = (80.0, 22.0), 13.0
_LIMBS = (
    ("RShoulder", "RElbow"),
    ("RElbow", "RWrist"),
    ("LShoulder", "LElbow"),
    ("LElbow", "LWrist"),
    ("RHip", "RKnee"),
    ("RKnee", "RAnkle"),
    ("LHip", "LKnee"),
    ("LKnee", "LAnkle"),
)


def _face68(cx: float, cy: float, r: float) -> np.ndarray:
    """68 plausible iBUG face points inside a head circle: jaw arc, brows, nose, eyes, mouth."""
    pts = []
    for t in np.linspace(0.0, np.pi, 17):  # jaw: image-left ear -> chin (point 8) -> image-right ear
        pts.append((cx - 0.85 * r * np.cos(t), cy + 0.85 * r * np.sin(t)))
    pts += [(cx - 0.6 * r + 0.11 * r * i, cy - 0.45 * r) for i in range(5)]  # right brow
    pts += [(cx + 0.15 * r + 0.11 * r * i, cy - 0.45 * r) for i in range(5)]  # left brow
    pts += [(cx, cy - 0.3 * r + 0.12 * r * i) for i in range(4)]  # nose bridge
    pts += [(cx - 0.2 * r + 0.1 * r * i, cy + 0.25 * r) for i in range(5)]  # nostrils
    for ex in (cx - 0.35 * r, cx + 0.35 * r):  # eyes, 6 points each
        pts += [
            (ex + 0.15 * r * np.cos(a), cy - 0.2 * r + 0.07 * r * np.sin(a))
            for a in np.linspace(0, 2 * np.pi, 6, endpoint=False)
        ]
    pts += [
        (cx + 0.35 * r * np.cos(a), cy + 0.5 * r + 0.12 * r * np.sin(a))
        for a in np.linspace(0, 2 * np.pi, 12, endpoint=False)
    ]
    pts += [
        (cx + 0.25 * r * np.cos(a), cy + 0.5 * r + 0.05 * r * np.sin(a))
        for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)
    ]
    out = np.ones((68, 3), np.float32)
    out[:, :2] = np.asarray(pts, np.float32)
    return out


def synthetic_person(seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """``(image (S, S, 3) uint8, mask (S, S) uint8 with soft edges, keypoints)`` of a textured stick person."""
    import cv2

    rng = np.random.default_rng(seed)
    body = np.zeros((25, 3), np.float32)
    for name, (x, y) in _JOINTS.items():
        body[J[name]] = (x, y, 1.0)
    hard = np.zeros((S, S), np.uint8)
    pt = {n: (int(x), int(y)) for n, (x, y) in _JOINTS.items()}
    cv2.fillPoly(hard, [np.array([pt["RShoulder"], pt["LShoulder"], pt["LHip"], pt["RHip"]], np.int32)], 255)
    for a, b in _LIMBS:
        cv2.line(hard, pt[a], pt[b], 255, 11 if "Hip" in a or "Knee" in a else 9)
    cv2.line(hard, pt["Neck"], (80, 30), 255, 10)
    cv2.circle(hard, (int(_HEAD_C[0]), int(_HEAD_C[1])), int(_HEAD_R), 255, -1)
    mask = cv2.GaussianBlur(hard, (5, 5), 1.0)
    # smooth random texture on a per-region base colour (so warps are visible in the pixels)
    tex = cv2.resize(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8), (S, S), interpolation=cv2.INTER_CUBIC)
    img = np.full((S, S, 3), (40, 120, 60), np.uint8)
    img = (0.5 * img + 0.5 * tex).astype(np.uint8)
    img[mask > 0] = (0.4 * tex[mask > 0] + 0.6 * np.array([220, 150, 90])).astype(np.uint8)
    kp = {
        "body": body,
        "face": _face68(*_HEAD_C, _HEAD_R),
        "hand_left": np.zeros((21, 3), np.float32),
        "hand_right": np.zeros((21, 3), np.float32),
    }
    return img, mask, kp


def _moved(kp: dict[str, np.ndarray], fn) -> dict[str, np.ndarray]:
    """A copy of ``kp`` with ``fn`` applied to the (N, 2) coordinates of every array."""
    out = {}
    for k, v in kp.items():
        v = np.array(v, np.float32, copy=True)
        v[:, :2] = fn(v[:, :2])
        out[k] = v
    return out


def _bbox(a: np.ndarray, thresh: float = 0.5) -> np.ndarray:
    ys, xs = np.nonzero(a >= thresh)
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()], np.float64)


def _seg_dist(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = b - a
    t = np.clip(((p - a) @ d) / float(d @ d), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * d), axis=1)


@pytest.fixture(scope="module")
def synth():
    img, mask, kp = synthetic_person()
    return img, mask, kp, PoseWarper(img, mask, kp)


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory):
    """The astronaut photo through the project's extraction at 128 x 128: (image, mask, keypoints, warper)."""
    from reenactor.extract import extract
    from reenactor.samples import resolve_input

    clip = extract(
        resolve_input("sample:astronaut"),
        tmp_path_factory.mktemp("astro") / "clip",
        size=128,
        progress=False,
        log=lambda *_: None,
    )
    img = np.asarray(clip.frames()[0])
    mask = np.asarray(clip.load("mask")[0])
    kp = {k: v[0] for k, v in clip.keypoints().items()}
    return img, mask, kp, PoseWarper(img, mask, kp)


@pytest.fixture(params=["synth", "astronaut"])
def case(request):
    return request.getfixturevalue(request.param)


# ------------------------------------------------------------------------------------------------ API
def test_parts_and_order():
    assert len(PARTS) == 10 and set(DRAW_ORDER) == set(PARTS) and len(DRAW_ORDER) == len(PARTS)
    for part, parent in PARENT.items():
        if parent is not None:  # parents are drawn before (behind) their children
            assert DRAW_ORDER.index(parent) < DRAW_ORDER.index(part)
    assert DRAW_ORDER.index("torso") < DRAW_ORDER.index("upper_arm_r") and DRAW_ORDER[0] == "torso"


# ------------------------------------------------------------------------------------------------ (a)
def test_identity_warp_gives_back_reference(case):
    img, mask, kp, warper = case
    rgb, alpha = warper.warp(kp)
    assert rgb.shape == img.shape and rgb.dtype == np.uint8
    assert alpha.shape == mask.shape and alpha.dtype == np.float32
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    m = mask.astype(np.float32) / 255.0
    assert np.abs(alpha - m).mean() < 0.005
    assert np.abs(alpha - m).max() < 0.15  # only soft silhouette pixels next to a seam differ at all
    on = mask >= 128
    err = np.abs(rgb.astype(np.float32) - img.astype(np.float32))[on]
    assert err.mean() < 1.0 and np.percentile(err, 99) <= 3


# ------------------------------------------------------------------------------------------------ (b)
def test_translation_moves_the_person(case):
    img, mask, kp, warper = case
    h, w = mask.shape
    dx, dy = 9.0, -6.0
    _, alpha = warper.warp(_moved(kp, lambda p: p + (dx, dy)))
    ref = _bbox(mask / 255.0)
    want = np.clip(ref + (dx, dy, dx, dy), 0, (w - 1, h - 1, w - 1, h - 1))
    np.testing.assert_allclose(_bbox(alpha), want, atol=1.5)


def test_scale_scales_the_person(case):
    img, mask, kp, warper = case
    h, w = mask.shape
    c, s = np.array([w / 2, h / 2]), 0.7
    rgb, alpha = warper.warp(_moved(kp, lambda p: c + s * (p - c)))
    ref = _bbox(mask / 255.0)
    want = np.concatenate([c + s * (ref[:2] - c), c + s * (ref[2:] - c)])
    np.testing.assert_allclose(_bbox(alpha), want, atol=2.5)
    assert abs(float(alpha.sum()) - s * s * float(mask.sum()) / 255.0) < 0.04 * float(mask.sum()) / 255.0
    # every part map is the same similarity
    mats = warper.transforms(_moved(kp, lambda p: c + s * (p - c)))
    for part in warper.present:
        np.testing.assert_allclose(mats[part][:, :2], s * np.eye(2), atol=1e-3)


# ------------------------------------------------------------------------------------------------ (c)
def _raise_forearm(
    kp: dict[str, np.ndarray], side: str = "R", angle_deg: float = -110.0
) -> dict[str, np.ndarray]:
    out = {k: np.array(v, copy=True) for k, v in kp.items()}
    b = out["body"]
    e, wr = b[J[f"{side}Elbow"], :2].astype(np.float64), b[J[f"{side}Wrist"], :2].astype(np.float64)
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    b[J[f"{side}Wrist"], :2] = e + rot @ (wr - e)
    return out


def test_raised_forearm_changes_only_that_arm(case):
    img, mask, kp, warper = case
    drv = _raise_forearm(kp)
    rgb0, a0 = warper.warp(kp)
    rgb1, a1 = warper.warp(drv)
    pm0 = rgb0.astype(np.float32) * a0[..., None]
    pm1 = rgb1.astype(np.float32) * a1[..., None]
    changed = (np.abs(a1 - a0) > 0.02) | (np.abs(pm1 - pm0).max(axis=2) > 6)
    assert changed.sum() > 20
    # every changed pixel lies within the forearm's reach of the old or the new forearm bone
    e = kp["body"][J["RElbow"], :2].astype(np.float64)
    w_old = kp["body"][J["RWrist"], :2].astype(np.float64)
    w_new = drv["body"][J["RWrist"], :2].astype(np.float64)
    ys, xs = np.nonzero(warper.labels == PARTS.index("forearm_r") + 1)
    assert len(ys)
    # (+ the feather band and the soft silhouette edge beyond the labelled pixels)
    reach = _seg_dist(np.stack([xs, ys], 1).astype(np.float64), e, w_old).max() + warper.feather + 4.0
    ys, xs = np.nonzero(changed)
    p = np.stack([xs, ys], 1).astype(np.float64)
    near = np.minimum(_seg_dist(p, e, w_old), _seg_dist(p, e, w_new))
    assert near.max() <= reach, (near.max(), reach)
    # nothing far from that arm moved: the head and the other arm are untouched
    for part in ("head", "upper_arm_l"):
        sel = warper.labels == PARTS.index(part) + 1
        if sel.any():
            assert (sel & changed).sum() <= 0.02 * sel.sum()


# ------------------------------------------------------------------------------------------------ (d)
def test_segment_parts_labels_every_person_pixel(case):
    img, mask, kp, warper = case
    labels = segment_parts(mask, kp)
    assert labels.shape == mask.shape and labels.dtype == np.uint8
    on = mask >= 128
    assert (labels[~on] == 0).all()
    assert (labels[on] >= 1).all() and labels.max() <= len(PARTS)
    np.testing.assert_array_equal(labels, warper.labels)
    got = {PARTS[i - 1] for i in np.unique(labels[on])}
    assert got <= set(warper.present)
    assert {"torso", "head", "upper_arm_r", "upper_arm_l"} <= got


def test_segment_parts_synthetic_regions(synth):
    img, mask, kp, _ = synth
    labels = segment_parts(mask, kp)
    assert set(np.unique(labels[mask >= 128])) == set(range(1, len(PARTS) + 1))  # all ten parts
    at = lambda x, y: PARTS[labels[y, x] - 1]  # noqa: E731
    assert at(80, 15) == "head" and at(80, 70) == "torso"
    assert at(47, 94) == "forearm_r" and at(54, 62) == "upper_arm_r"
    assert at(113, 94) == "forearm_l" and at(67, 145) == "shin_r" and at(92, 114) == "thigh_l"


def test_hand_belongs_to_forearm(synth):
    import cv2

    img, mask, kp, _ = synth
    mask = mask.copy()
    cv2.line(mask, (46, 104), (56, 112), 255, 7)  # a hand bent in from the right wrist, next to the thigh
    cv2.circle(mask, (57, 113), 5, 255, -1)
    assert PARTS[segment_parts(mask, kp)[114, 57] - 1] == "thigh_r"  # without hand points: nearer the thigh
    hand = np.zeros((21, 3), np.float32)
    hand[:, :2] = np.array([56.0, 112.0]) + np.random.default_rng(0).uniform(-4, 4, (21, 2))
    hand[0, :2] = (47.0, 105.0)
    hand[:, 2] = 0.9
    for key in ("hand_right", "hand_left"):  # a swapped detector gives the same answer
        ref = {k: v.copy() for k, v in kp.items()}
        ref[key] = hand
        labels = segment_parts(mask, ref)
        assert PARTS[labels[114, 57] - 1] == "forearm_r"
        assert PARTS[labels[94, 113] - 1] == "forearm_l"


def test_missing_reference_joint_gives_no_pixels(synth):
    img, mask, kp, _ = synth
    ref = {k: v.copy() for k, v in kp.items()}
    ref["body"][J["RWrist"], 2] = 0.0
    labels = segment_parts(mask, ref)
    on = mask >= 128
    assert not (labels == PARTS.index("forearm_r") + 1).any()
    assert (labels[on] >= 1).all()
    warper = PoseWarper(img, mask, ref)
    assert "forearm_r" not in warper.present
    assert warper.transforms(kp)["forearm_r"] is None  # a part missing in the reference draws nothing
    _, alpha = warper.warp(kp)
    assert np.abs(alpha - mask / 255.0).mean() < 0.005  # its pixels went to the upper arm


# ------------------------------------------------------------------------------------------------ (e)
def test_missing_driving_joints_fall_back_to_parent(case):
    img, mask, kp, warper = case
    drv = _raise_forearm(kp, "L", 40.0)
    drv = {k: v.copy() for k, v in drv.items()}
    b = drv["body"]
    b[:, :2] += 3.0
    b[J["RWrist"], 2] = 0.0  # forearm_r -> upper_arm_r
    b[J["LElbow"], 2] = 0.0  # upper_arm_l and forearm_l -> torso
    mats = warper.transforms(drv)
    np.testing.assert_allclose(mats["forearm_r"], mats["upper_arm_r"])
    np.testing.assert_allclose(mats["upper_arm_l"], mats["torso"])
    np.testing.assert_allclose(mats["forearm_l"], mats["torso"])
    rgb, alpha = warper.warp(drv)
    assert np.isfinite(alpha).all() and alpha.max() > 0.99
    # no face and no head joints: the head follows the torso
    drv["face"][:, 2] = 0.0
    for j in ("Nose", "REye", "LEye", "REar", "LEar", "Neck"):
        b[J[j], 2] = 0.0
    mats = warper.transforms(drv)
    np.testing.assert_allclose(mats["head"], mats["torso"])
    warper.warp(drv)
    # an empty driving pose: everything stays put (identity), no error
    rgb, alpha = warper.warp({})
    assert np.abs(alpha - mask / 255.0).mean() < 0.005


def test_torso_without_hips_is_a_similarity(synth):
    img, mask, kp, warper = synth
    drv = {k: v.copy() for k, v in kp.items()}
    b = drv["body"]
    b[[J["MidHip"], J["RHip"], J["LHip"]], 2] = 0.0
    b[J["RShoulder"], :2] += (0.0, 8.0)  # shoulders tilt
    m = part_transforms(kp, drv)["torso"][:, :2]
    assert abs(m[0, 0] - m[1, 1]) < 1e-9 and abs(m[0, 1] + m[1, 0]) < 1e-9
    assert m[1, 0] < 0  # rotated with the shoulder line (right shoulder lowered: clockwise in image axes)


def test_degenerate_driving_pose_is_clipped(synth):
    img, mask, kp, warper = synth
    drv = {k: v.copy() for k, v in kp.items()}
    drv["body"][:, :2] = drv["body"][:, :2] * 50.0  # absurd: 50x larger
    drv["face"][:, :2] = 80.0  # all face points on one spot
    drv["body"][J["RWrist"], :2] = drv["body"][J["RElbow"], :2]  # zero-length bone
    mats = warper.transforms(drv)
    for part in warper.present:
        sv = np.linalg.svd(mats[part][:, :2], compute_uv=False)
        assert 0.33 - 1e-6 <= sv.min() and sv.max() <= 3.0 + 1e-6
    rgb, alpha = warper.warp(drv)
    assert np.isfinite(alpha).all()


def test_bad_inputs(synth):
    img, mask, kp, _ = synth
    with pytest.raises(ValueError):
        PoseWarper(img[..., 0], mask, kp)
    with pytest.raises(ValueError):
        PoseWarper(img, mask[:10], kp)
    with pytest.raises(ValueError):
        segment_parts(mask, {"body": np.zeros((18, 3), np.float32)})
