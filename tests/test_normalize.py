"""Pose normalization: every kind recovers a known scale and translation; EDN matches a hand-worked example."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reenactor.errors import CheckpointError, InputError
from reenactor.pose.normalize import Normalizer, auto_kind, edn_frame_stats, fit_normalizer, layout_box
from reenactor.pose.skeleton import J


def standing(cx: float, toe: float, height: float, arm: float = 0.0) -> np.ndarray:
    """A full-body BODY_25 pose ``(25, 3)``: feet at y = ``toe``, nose ``height`` above, arms at angle ``arm``."""
    u = height / 8.0
    b = np.zeros((25, 3))
    pts = {
        "Nose": (0, -8),
        "Neck": (0, -7),
        "RShoulder": (-1, -7),
        "LShoulder": (1, -7),
        "MidHip": (0, -4),
        "RHip": (-0.5, -4),
        "LHip": (0.5, -4),
        "RKnee": (-0.5, -2),
        "LKnee": (0.5, -2),
        "RAnkle": (-0.5, -0.3),
        "LAnkle": (0.5, -0.3),
        "RHeel": (-0.6, -0.1),
        "LHeel": (0.6, -0.1),
        "RBigToe": (-0.8, 0),
        "LBigToe": (0.8, 0),
        "RSmallToe": (-0.9, 0),
        "LSmallToe": (0.9, 0),
        "REye": (-0.2, -8.2),
        "LEye": (0.2, -8.2),
        "REar": (-0.4, -8.0),
        "LEar": (0.4, -8.0),
    }
    for name, (x, y) in pts.items():
        b[J[name]] = (cx + x * u, toe + y * u, 1.0)
    for side, sx in (("R", -1), ("L", 1)):
        sh = b[J[f"{side}Shoulder"], :2]
        d = np.array([sx * np.cos(arm), np.sin(arm)]) * 1.5 * u
        b[J[f"{side}Elbow"]] = (*(sh + d), 1.0)
        b[J[f"{side}Wrist"]] = (*(sh + 2 * d), 1.0)
    return b


def with_extras(body: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A keypoint dict: body plus a face and hands near the head/wrists, some points missing."""
    t = len(body)
    face = np.concatenate(
        [body[:, J["Nose"], None, :2] + rng.normal(0, 3, (t, 68, 2)), np.ones((t, 68, 1))], -1
    )
    face[:, 5:9, 2] = 0  # missing points keep conf 0
    hl = np.concatenate(
        [body[:, J["LWrist"], None, :2] + rng.normal(0, 2, (t, 21, 2)), np.ones((t, 21, 1))], -1
    )
    hr = np.zeros((t, 21, 3))  # right hand never seen
    return {"body": body, "face": face, "hand_left": hl, "hand_right": hr}


def similarity(kp: dict[str, np.ndarray], s: float, tx: float, ty: float) -> dict[str, np.ndarray]:
    out = {}
    for k, v in kp.items():
        v = v.copy()
        ok = v[..., 2] > 0
        v[..., 0] = np.where(ok, s * v[..., 0] + tx, v[..., 0])
        v[..., 1] = np.where(ok, s * v[..., 1] + ty, v[..., 1])
        out[k] = v
    return out


def assert_kp_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray], atol: float = 1e-9) -> None:
    for k in b:
        np.testing.assert_allclose(a[k], b[k], atol=atol, err_msg=k)


# --------------------------------------------------------------------------------------------- EDN
def test_edn_hand_worked_example():
    """Only the nose and the two ankles are visible; feet level, so foot mean = toe and height = toe - nose.

    Source (5 frames; toe, height): (100, 50) (90, 42) (80, 35) (94, 46) (88, 40).
      close = max toe = 100; median = 90; d = median - toe = [-10, 0, 10, -4, 2]; median_frac 0.5 keeps
      0 < d < 0.5 (100 - 90) = 5 -> d = 2 -> far = 90 - 2 = 88.  Range 12.
    Target (7 frames; toe, height): (62, 80) (50, 55) (30, 30) (56, 68) (46, 48) (60, 75) (48, 50).
      close = 62; median = 50; d = [-12, 0, 20, -6, 4, -10, 2]; keep 0 < d < 6 -> d = 4, 2 -> far = 46.
      Range 16 > 12, so it is re-centred on its midpoint 54 with the source half-range 6: close 60, far 48.
    Heights: windows are 5 % of the range (0.6 px). Source close 100 -> frame 0, h 50; far 88 -> frame 4, h 40.
      Target close 60 -> frame 5, h 75; far 48 -> frame 6, h 50. Global maxima: 50 = 50 (source) and
      80 < 1.1 * 75 = 82.5 (target): no reset. scale_close = 75 / 50 = 1.5, scale_far = 50 / 40 = 1.25.
    Anchor: source image 200 px wide -> x 100; lower foot of the first valid frame -> y 100.
    Source frame 3 (toe 94): p = (94 - 88) / 12 = 0.5; target position 48 + 0.5 * 12 = 54; dy = 54 - 94 = -40;
      s = 1.25 + 0.5 * 0.25 = 1.375; x' = 1.375 x + 100 (1 - 1.375) = 1.375 x - 37.5;
      y' = 1.375 y + 100 (1 - 1.375) - 40 = 1.375 y - 77.5. Nose (120, 48) -> (127.5, -11.5);
      ankle (110, 94) -> (113.75, 51.75): 2.25 px above 54 = (s - 1)(toe - anchor y), as the released code does.
    Source frame 0 (toe 100): p = 1, s = 1.5, dy = 60 - 100 = -40: y' = 1.5 y - 50 - 40; ankle 100 -> 60 exactly.
    """

    def clip(rows: list[tuple[float, float]]) -> np.ndarray:
        b = np.zeros((len(rows), 25, 3))
        for i, (toe, h) in enumerate(rows):
            b[i, J["Nose"]] = (120, toe - h, 1)
            b[i, J["RAnkle"]] = (110, toe, 1)
            b[i, J["LAnkle"]] = (130, toe, 1)
        return b

    src = clip([(100, 50), (90, 42), (80, 35), (94, 46), (88, 40)])
    tgt = clip([(62, 80), (50, 55), (30, 30), (56, 68), (46, 48), (60, 75), (48, 50)])
    norm = fit_normalizer("edn", {"body": src}, {"body": tgt}, source_size=(150, 200))
    p = norm.params
    assert (p["source_close"], p["source_far"]) == (100, 88)
    assert (p["target_close"], p["target_far"]) == (60, 48)
    assert p["scale_close"] == pytest.approx(1.5) and p["scale_far"] == pytest.approx(1.25)
    assert p["anchor"] == [100.0, 100.0]
    out = norm.apply({"body": src})["body"]
    np.testing.assert_allclose(out[3, J["Nose"], :2], (127.5, -11.5))
    np.testing.assert_allclose(out[3, J["RAnkle"], :2], (113.75, 51.75))
    np.testing.assert_allclose(out[0, J["RAnkle"], 1], 60.0)
    np.testing.assert_allclose(norm.frame_params(src)[3], (1.375, -37.5, -77.5))
    assert np.all(out[:, J["MidHip"]] == 0)  # missing joints stay missing and untouched


def test_edn_recovers_scale_and_translation_at_constant_depth():
    """Feet at one depth (close = far): EDN recovers a scale about the anchor plus a vertical shift exactly."""
    src = np.stack([standing(90 + 3 * i, 180, 120, arm=0.3 * i) for i in range(9)])
    kp = with_extras(src, np.random.default_rng(0))
    s, ty, ax, ay = 0.7, -12.0, 100.0, 180.0  # anchor: image centre x (200 px wide), first frame's feet
    tgt = similarity(kp, s, ax * (1 - s), ay * (1 - s) + ty)
    norm = fit_normalizer("edn", kp, tgt, source_size=(240, 200))
    assert norm.params["scale_close"] == pytest.approx(s) and norm.params["scale_far"] == pytest.approx(s)
    assert_kp_equal(norm.apply(kp), tgt)


def test_edn_recovers_translation_with_depth_motion():
    """Person walking towards the camera (toes 150..190), target shifted down 15 px and left 0: exact."""
    src = np.stack([standing(100, 150 + 5 * i, 80 + 2 * i, arm=0.1 * i) for i in range(9)])
    kp = with_extras(src, np.random.default_rng(1))
    tgt = similarity(kp, 1.0, 0.0, 15.0)
    norm = fit_normalizer("edn", kp, tgt, source_size=(240, 200))
    assert norm.params["scale_close"] == pytest.approx(1.0)
    assert_kp_equal(norm.apply(kp), tgt, atol=1e-9)


def test_edn_scale_with_depth_motion_has_the_released_code_offset():
    """Target = source scaled by s about the anchor: scales recovered exactly; the toe lands off by
    (s - 1)(toe - anchor_y), the documented behaviour of EDN's released implementation."""
    src = np.stack([standing(100, 150 + 5 * i, 80 + 2 * i) for i in range(9)])
    s, ax, ay = 0.8, 100.0, 150.0
    tgt = similarity({"body": src}, s, ax * (1 - s), ay * (1 - s))
    norm = fit_normalizer("edn", {"body": src}, tgt, source_size=(240, 200))
    assert norm.params["scale_close"] == pytest.approx(s) and norm.params["scale_far"] == pytest.approx(s)
    out = norm.apply({"body": src})["body"]
    _, toe_s, _ = edn_frame_stats(src)
    _, toe_o, _ = edn_frame_stats(out)
    _, toe_t, _ = edn_frame_stats(tgt["body"])
    np.testing.assert_allclose(toe_o - toe_t, (s - 1) * (toe_s - ay), atol=1e-9)


def test_edn_frames_without_feet_reuse_previous_transform_and_streaming_matches():
    src = np.stack([standing(100, 150 + 4 * i, 80 + i) for i in range(8)])
    tgt = np.stack([standing(60, 100 + 2 * i, 50 + i) for i in range(8)])
    norm = fit_normalizer("edn", {"body": src}, {"body": tgt}, source_size=(240, 200))
    drv = src.copy()
    drv[
        4,
        [
            J["RAnkle"],
            J["LAnkle"],
            J["RHeel"],
            J["LHeel"],
            J["RBigToe"],
            J["LBigToe"],
            J["RSmallToe"],
            J["LSmallToe"],
        ],
        2,
    ] = 0
    fp = norm.frame_params(drv)
    np.testing.assert_allclose(fp[4], fp[3])
    seq = norm.apply({"body": drv})["body"]
    norm.reset()
    one = np.stack([norm.apply({"body": drv[t]})["body"] for t in range(len(drv))])
    np.testing.assert_allclose(one, seq)
    assert not np.allclose(fp[2], fp[3])  # the transform really varies with depth


def test_edn_without_feet_is_a_clear_error_and_auto_picks_upper():
    full = np.stack([standing(100, 150 + i, 80) for i in range(5)])
    upper = full.copy()
    upper[
        :,
        [
            J[n]
            for n in (
                "RKnee",
                "LKnee",
                "RAnkle",
                "LAnkle",
                "RHeel",
                "LHeel",
                "RBigToe",
                "LBigToe",
                "RSmallToe",
                "LSmallToe",
            )
        ],
        2,
    ] = 0
    assert auto_kind({"body": full}, {"body": full}) == "edn"
    assert auto_kind({"body": upper}, {"body": full}) == "edn_upper"
    with pytest.raises(InputError, match="edn_upper"):
        fit_normalizer("edn", {"body": upper}, {"body": full})
    with pytest.raises(InputError, match="unknown normalization kind"):
        fit_normalizer("bogus", {"body": full}, {"body": full})


# --------------------------------------------------------------------------------------------- others
def upper_body_clip(rng: np.random.Generator, n: int = 12, hips: bool = False) -> np.ndarray:
    base = standing(88, 200, 160)
    b = np.repeat(base[None], n, 0)
    b[..., :2] += rng.normal(0, 2.0, (n, 25, 2))
    keep = [
        J[k]
        for k in (
            "Nose",
            "Neck",
            "RShoulder",
            "LShoulder",
            "RElbow",
            "LElbow",
            "RWrist",
            "LWrist",
            "REye",
            "LEye",
            "REar",
            "LEar",
        )
    ] + ([J["MidHip"], J["RHip"], J["LHip"]] if hips else [])
    mask = np.zeros(25, bool)
    mask[keep] = True
    b[:, ~mask] = 0
    b[3, J["Neck"], 2] = 0  # one frame without a neck: anchor falls back to mid-shoulders
    return b


@pytest.mark.parametrize("hips", [False, True])
def test_edn_upper_recovers_scale_and_translation(hips):
    rng = np.random.default_rng(2)
    kp = with_extras(upper_body_clip(rng, hips=hips), rng)
    tgt = similarity(kp, 1.6, -30.0, 12.5)
    norm = fit_normalizer("edn_upper", kp, tgt)
    assert norm.params["measure"] == ("torso" if hips else "shoulders")
    assert norm.params["scale"] == pytest.approx(1.6)
    assert_kp_equal(norm.apply(kp), tgt, atol=1e-8)
    assert auto_kind(kp, tgt) == "edn_upper"


def test_first_frame_recovers_scale_and_translation():
    rng = np.random.default_rng(3)
    src = np.stack([standing(100 + 4 * i, 180, 120, arm=0.2 * i) for i in range(6)])
    src[0] = 0  # first frame without a person: the first usable one is frame 1
    kp = with_extras(src, rng)
    tgt = similarity(kp, 0.55, 20.0, -7.0)
    tgt = {
        k: v[2:] for k, v in tgt.items()
    }  # the target is another clip: its first usable frame = src frame 2
    tgt["body"][0] = similarity({"body": src[1:2]}, 0.55, 20.0, -7.0)["body"][0]
    norm = fit_normalizer("first_frame", kp, tgt)
    assert norm.params["source_frame"] == 1 and norm.params["target_frame"] == 0
    assert norm.params["scale"] == pytest.approx(0.55) and norm.params["rms_residual"] < 1e-9
    assert_kp_equal(norm.apply(kp), similarity(kp, 0.55, 20.0, -7.0), atol=1e-9)


def test_first_frame_least_squares_on_noisy_torso():
    """With noise the fit is the least-squares one: residual of any other scale is larger."""
    rng = np.random.default_rng(4)
    src = standing(100, 180, 120)[None]
    tgt = similarity({"body": src}, 1.3, 5, 5)["body"]
    tgt[..., :2] += rng.normal(0, 1.0, tgt[..., :2].shape)
    norm = fit_normalizer("first_frame", {"body": src}, {"body": tgt})
    joints = norm.params["joints"]

    def sse(s: float) -> float:
        x, y = src[0, joints, :2], tgt[0, joints, :2]
        t = y.mean(0) - s * x.mean(0)
        return float(((s * x + t - y) ** 2).sum())

    s = norm.params["scale"]
    assert sse(s) < sse(s * 1.01) and sse(s) < sse(s * 0.99)


def test_global_alignment_recovers_scale_and_translation_from_masks():
    """Layouts: rows 10..29 / cols 20..29 (height 20, centre (25, 20)) -> rows 5..44 / cols 40..59 (40, (50, 25))."""
    src_mask = np.zeros((3, 64, 64), np.uint8)
    src_mask[:, 10:30, 20:30] = 255
    tgt_mask = np.zeros((48, 80), np.uint8)
    tgt_mask[5:45, 40:60] = 255
    h, c = layout_box(tgt_mask)
    assert h[0] == 40 and tuple(c[0]) == (50.0, 25.0)
    src = with_extras(
        np.stack([standing(25, 30, 20, arm=0.4 * i) for i in range(3)]), np.random.default_rng(5)
    )
    src["mask"] = src_mask
    norm = fit_normalizer("global_alignment", src, {"body": np.zeros((1, 25, 3)), "mask": tgt_mask})
    s, tx, ty = 2.0, 50 - 2 * 25, 25 - 2 * 20
    assert (norm.params["scale"], norm.params["tx"], norm.params["ty"]) == (s, tx, ty)
    out = norm.apply(src)
    assert_kp_equal(
        out, similarity({k: src[k] for k in ("body", "face", "hand_left", "hand_right")}, s, tx, ty)
    )
    assert out["mask"] is src["mask"]  # images/masks pass through


def test_global_alignment_part_label_layout_and_missing_layout_error():
    lab = np.zeros((32, 32), np.uint8)
    lab[4:12, 8:16] = 3  # label ids, not a 0..255 mask: any label > 0 is person
    lab[12:20, 10:14] = 7
    norm = fit_normalizer(
        "global_alignment",
        {"body": np.zeros((25, 3)), "layout": lab},
        {"body": np.zeros((25, 3)), "layout": np.roll(lab, 8, axis=0)},
    )
    assert norm.params["source_height"] == 16  # both labels count (a 0..255 mask threshold would see none)
    assert (norm.params["scale"], norm.params["tx"], norm.params["ty"]) == (1.0, 0.0, 8.0)
    with pytest.raises(InputError, match="layout"):
        fit_normalizer("global_alignment", {"body": np.zeros((25, 3))}, {"body": np.zeros((25, 3))})


# --------------------------------------------------------------------------------------------- interface
def test_roundtrip_json_and_extras_transform():
    rng = np.random.default_rng(6)
    src = np.stack([standing(100, 150 + 4 * i, 80 + i) for i in range(8)])
    tgt = np.stack([standing(60, 100 + 2 * i, 50 + i) for i in range(8)])
    for kind in ("edn", "edn_upper", "first_frame"):
        norm = fit_normalizer(kind, {"body": src}, {"body": tgt}, source_size=(240, 200))
        back = Normalizer.from_dict(json.loads(json.dumps(norm.to_dict())))
        assert back.kind == kind
        kp = with_extras(src, rng)
        kp["face_box"] = np.tile([10.0, 20.0, 30.0, 40.0], (8, 1))
        kp["face_box"][2] = 0
        kp["face_raw"] = rng.normal(50, 10, (8, 478, 3))
        a, b = norm.apply(kp), back.apply(kp)
        assert_kp_equal(a, b)
        fp = norm.frame_params(src)
        s, tx, ty = fp[5]
        np.testing.assert_allclose(a["face_box"][5], [s * 10 + tx, s * 20 + ty, s * 30 + tx, s * 40 + ty])
        assert np.all(a["face_box"][2] == 0)
        np.testing.assert_allclose(a["face_raw"][5, :, 2], s * kp["face_raw"][5, :, 2])
        np.testing.assert_allclose(a["face"][5, 10, :2], s * kp["face"][5, 10, :2] + [tx, ty])
        np.testing.assert_array_equal(a["face"][:, 5:9], kp["face"][:, 5:9])  # missing stay missing
        np.testing.assert_array_equal(a["hand_right"], kp["hand_right"])
        m = norm.affine(src[5])
        np.testing.assert_allclose(m, [[s, 0, tx], [0, s, ty]])
    with pytest.raises(CheckpointError):
        Normalizer.from_dict({"kind": "edn", "params": {}})
    with pytest.raises(CheckpointError):
        Normalizer.from_dict({"kind": "warp9", "params": {}})
    ident = Normalizer.from_dict(Normalizer.identity().to_dict())
    np.testing.assert_array_equal(ident.apply({"body": src})["body"], src)


def test_soft_confidence_feet_are_not_visible():
    """Off-screen feet with MediaPipe visibilities ~1e-5 must not trigger full-body EDN."""
    body = np.stack([standing(100, 150 + i, 80) for i in range(5)])
    feet = [
        J[n] for n in ("RAnkle", "LAnkle", "RHeel", "LHeel", "RBigToe", "LBigToe", "RSmallToe", "LSmallToe")
    ]
    body[:, feet, 2] = 2e-5
    assert auto_kind({"body": body}, {"body": body}) == "edn_upper"
    assert auto_kind({"body": body}, {"body": body}, conf_thresh=0.0) == "edn"
    moved = fit_normalizer("edn_upper", {"body": body}, similarity({"body": body}, 2.0, 1.0, 1.0)).apply(
        {"body": body}
    )
    np.testing.assert_allclose(moved["body"][:, feet, :2], 2 * body[:, feet, :2] + 1)  # still moved along
