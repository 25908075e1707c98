"""The dense-pose substitute: parts on the right side of a synthetic skeleton, U along the bone, V across it,
nothing outside the mask; the ``densepose`` stage on carphone, resumable; ``render --densepose``."""

from __future__ import annotations

import numpy as np
import pytest

from reenactor.data.clipstore import ClipStore
from reenactor.parsing import densepose as D
from reenactor.parsing.densepose import P, densepose_from_keypoints
from reenactor.pose.skeleton import J

SIZE = (160, 128)  # H, W


def _skeleton(facing: bool = True) -> np.ndarray:
    """An upright person, arms hanging out to the sides, facing the camera (the person's right on the image's
    left) or, mirrored, with the back to it."""
    pts = {
        "Nose": (64, 18), "Neck": (64, 36), "REye": (60, 14), "LEye": (68, 14), "REar": (56, 16), "LEar": (72, 16),
        "RShoulder": (46, 38), "LShoulder": (82, 38), "RElbow": (36, 62), "LElbow": (92, 62),
        "RWrist": (30, 84), "LWrist": (98, 84), "MidHip": (64, 88), "RHip": (55, 88), "LHip": (73, 88),
        "RKnee": (54, 118), "LKnee": (74, 118), "RAnkle": (54, 146), "LAnkle": (74, 146),
    }  # fmt: skip
    body = np.zeros((25, 3), np.float32)
    for name, (x, y) in pts.items():
        body[J[name]] = (x if facing else 128 - x, y, 1.0)
    if not facing:  # from behind the face is not seen
        body[[J["Nose"], J["REye"], J["LEye"]], 2] = 0
    return body


def _mid(body, a, b, f=0.5):
    p = body[J[a], :2] * (1 - f) + body[J[b], :2] * f
    return int(round(p[1])), int(round(p[0]))  # row, col


def test_parts_sit_on_the_right_limbs_front_and_back():
    body = _skeleton()
    index, uv = densepose_from_keypoints(body, None, SIZE)
    assert (
        index.shape == SIZE and index.dtype == np.uint8 and uv.shape == (*SIZE, 2) and uv.dtype == np.float16
    )
    assert index.max() <= 24
    expect = {
        ("RShoulder", "RElbow"): "upper_arm_right_front",
        ("LShoulder", "LElbow"): "upper_arm_left_front",
        ("RElbow", "RWrist"): "lower_arm_right_front",
        ("LElbow", "LWrist"): "lower_arm_left_front",
        ("RHip", "RKnee"): "upper_leg_right_front",
        ("LHip", "LKnee"): "upper_leg_left_front",
        ("RKnee", "RAnkle"): "lower_leg_right_front",
        ("LKnee", "LAnkle"): "lower_leg_left_front",
        ("Neck", "MidHip"): "torso_front",
    }
    for (a, b), part in expect.items():
        assert D.PART_NAMES[index[_mid(body, a, b)]] == part, (a, b)
    # hands beyond the wrists (no hand landmarks: along the forearm)
    assert D.PART_NAMES[index[_mid(body, "RElbow", "RWrist", 1.4)]] == "right_hand"
    assert D.PART_NAMES[index[_mid(body, "LElbow", "LWrist", 1.4)]] == "left_hand"
    # the head's halves: the person's right half is on the image's left when facing the camera
    assert index[16, 58] == P["head_right"] and index[16, 70] == P["head_left"]
    # the right arm is on the image's left, the left arm on its right
    assert (np.argwhere(np.isin(index, [16, 18, 20, 22]))[:, 1] < 64).all()
    assert (np.argwhere(np.isin(index, [15, 17, 19, 21]))[:, 1] > 64).all()

    back = _skeleton(facing=False)
    ib, _ = densepose_from_keypoints(back, None, SIZE)
    assert D.PART_NAMES[ib[_mid(back, "Neck", "MidHip")]] == "torso_back"
    assert D.PART_NAMES[ib[_mid(back, "RShoulder", "RElbow")]] == "upper_arm_right_back"
    assert D.PART_NAMES[ib[_mid(back, "LKnee", "LAnkle")]] == "lower_leg_left_back"
    assert not np.isin(ib, [2, 9, 10, 13, 14, 17, 18, 21, 22]).any()  # no front part


def test_u_runs_along_the_bone_and_v_across_it():
    body = _skeleton()
    index, uv = densepose_from_keypoints(body, None, SIZE)
    uv = uv.astype(np.float32)
    for a, b, part in (("RElbow", "RWrist", 22), ("LHip", "LKnee", 10), ("RKnee", "RAnkle", 13)):
        fs = np.linspace(0.1, 0.9, 9)
        px = [_mid(body, a, b, f) for f in fs]
        assert all(index[p] == part for p in px)
        u = np.array([uv[p][0] for p in px])
        assert (np.diff(u) > 0).all() and u[0] < 0.2 and u[-1] > 0.8, u
        np.testing.assert_allclose(u, fs, atol=0.06)
        assert all(abs(uv[p][1] - 0.5) < 0.1 for p in px)  # on the bone: V about one half
    # V grows towards the person's left: across the torso from the image's left to its right when facing us
    row = _mid(body, "Neck", "MidHip")[0]
    cols = [c for c in range(40, 90) if index[row, c] == P["torso_front"]]
    v = uv[row, cols, 1]
    assert len(cols) > 20 and (np.diff(v) >= 0).all() and v[0] < 0.1 and v[-1] > 0.9
    # U down the torso, 0 near the neck to 1 at the hips
    col = 64
    rows = [r for r in range(40, 88) if index[r, col] == P["torso_front"]]
    assert (np.diff(uv[rows, col, 0]) > 0).all()
    # U up the head: larger at the crown than at the chin
    assert uv[8, 62, 0] > uv[26, 62, 0] > 0


def test_nothing_outside_the_mask_and_empty_without_a_body():
    body = _skeleton()
    rng = np.random.default_rng(0)
    mask = np.zeros(SIZE, np.uint8)
    mask[10:120, 35:95] = 255
    mask[rng.random(SIZE) < 0.1] = 0  # holes
    index, uv = densepose_from_keypoints(body, mask)
    assert index.any() and not (index[mask < 128] > 0).any()
    assert not uv[index == 0].any()
    full, _ = densepose_from_keypoints(body, None, SIZE)
    inside = mask >= 128
    assert np.array_equal(index[inside], full[inside])  # the mask only clears, never moves, parts
    # bool and float masks read the same
    assert np.array_equal(densepose_from_keypoints(body, inside)[0], index)
    assert np.array_equal(densepose_from_keypoints(body, mask / 255.0)[0], index)
    none, uv0 = densepose_from_keypoints(np.zeros((25, 3), np.float32), mask)
    assert not none.any() and not uv0.any()
    with pytest.raises(ValueError):
        densepose_from_keypoints(body)
    assert D.to_iuv8(index, uv).shape == (*SIZE, 3)
    i2, uv2 = D.from_iuv8(D.to_iuv8(index, uv))
    assert np.array_equal(i2, index) and np.abs(uv2 - uv.astype(np.float32)).max() <= 0.5 / 255 + 1e-3


def test_body_size_and_hands():
    body = _skeleton()
    trunk = D.body_size(body)
    assert trunk == pytest.approx(max(52.0, 36 / 0.75, 18 / 0.38), rel=1e-3)
    arms_only = body.copy()
    arms_only[[J["Neck"], J["MidHip"], J["RHip"], J["LHip"], J["LShoulder"]], 2] = 0
    assert D.body_size(arms_only) > 0
    # hand landmarks: the hand capsule follows them (wrist -> finger tips), not the forearm's direction
    hand = np.zeros((21, 3), np.float32)
    wrist = body[J["RWrist"], :2]
    for k in range(21):
        hand[k] = (wrist[0] + 1.0 * (k % 4), wrist[1] + 0.9 * k, 1.0)  # fingers straight down
    index, _ = densepose_from_keypoints(body, None, SIZE, hands={"hand_right": hand})
    tip = hand[12, :2]
    assert index[int(tip[1]) - 2, int(tip[0])] == P["right_hand"]


def test_stage_on_carphone_resumable(clip_copy, monkeypatch, tmp_path):
    clip = clip_copy
    iuv = D.add_densepose_stage(clip)
    t, h, w = clip.n_frames, *clip.size
    assert iuv.shape == (t, h, w, 3) and iuv.dtype == np.uint8
    mask = np.asarray(clip.load("mask"))
    assert not (iuv[..., 0][mask < 128] > 0).any()  # nothing outside the person mask
    st = ClipStore.open(clip.root).stage("densepose")
    assert st["status"] == "done" and st["frames_with_parts"] == t and st["frames_front"] == t
    assert 0.6 < st["mask_covered_mean"] <= 1.0
    # the nose lies in the head in every frame, the shoulders' midpoints on torso or upper arm
    body = np.asarray(clip.load("body"))
    for f in range(t):
        x, y = body[f, J["Nose"], :2].round().astype(int)
        assert iuv[f, y, x, 0] in (P["head_left"], P["head_right"])
    # done: skipped (nothing recomputed); force recomputes the same array
    monkeypatch.setattr(D, "densepose_from_keypoints", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    again = D.add_densepose_stage(ClipStore.open(clip.root))
    assert np.array_equal(np.asarray(again), np.asarray(iuv))
    monkeypatch.undo()
    first = np.asarray(iuv).copy()
    assert np.array_equal(D.add_densepose_stage(clip, force=True), first)

    from reenactor.cli import main
    from reenactor.io.video import probe

    out = tmp_path / "dp.mp4"
    assert main(["render", str(clip.root), "--densepose", "-o", str(out), "-q"]) == 0
    info = probe(out)
    assert (info.n_frames, info.width, info.height) == (t, 3 * w, h)
