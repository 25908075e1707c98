"""Pose metrics (Aberman et al. sec. 4): limb descriptor, eq. 7, eq. 8, coverage summary."""

from __future__ import annotations

import numpy as np
import pytest

from reenactor.pose.metrics import (
    LIMB_NAMES,
    LIMBS,
    N_LIMBS,
    coverage_summary,
    default_gamma,
    limb_descriptors,
    nearest_pose,
    pose_to_pose,
    pose_to_sequence,
)
from reenactor.pose.skeleton import J


def random_poses(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    b = np.zeros((n, 25, 3))
    b[..., :2] = rng.normal(64, 15, (n, 25, 2))
    b[..., 2] = 1
    return b


def rotate_forearm(body: np.ndarray, angle: float) -> np.ndarray:
    """Rotate the right wrist about the right elbow by ``angle`` radians."""
    b = body.copy()
    e, w = b[J["RElbow"], :2], b[J["RWrist"], :2]
    c, s = np.cos(angle), np.sin(angle)
    b[J["RWrist"], :2] = e + np.array([[c, -s], [s, c]]) @ (w - e)
    return b


def test_limbs_are_twelve_arm_and_leg_segments():
    assert N_LIMBS == 12 and len(LIMB_NAMES) == 12 and len(set(LIMBS)) == 12
    assert (J["RElbow"], J["RWrist"]) in LIMBS and (J["LKnee"], J["LAnkle"]) in LIMBS
    b = np.zeros((25, 3))
    b[J["RShoulder"]] = (10, 20, 1)
    b[J["RElbow"]] = (13, 24, 1)
    d = limb_descriptors(b)
    np.testing.assert_allclose(d[LIMB_NAMES.index("r_upper_arm")], (-3, -4))  # x1 - x2
    assert np.isnan(d[LIMB_NAMES.index("r_forearm")]).all()  # wrist missing


def test_pose_to_pose_golden_value_and_missing_limbs():
    a = random_poses(1)[0]
    b = a.copy()
    b[J["RWrist"], :2] += (3, 4)  # forearm displacement changes by 5 px, the other 11 limbs not at all
    assert pose_to_pose(a, b) == pytest.approx(5 / 12)
    per = pose_to_pose(a, b, per_limb=True)
    assert per[LIMB_NAMES.index("r_forearm")] == pytest.approx(5) and np.nansum(per) == pytest.approx(5)
    b[J["LKnee"], 2] = 0  # two limbs (thigh, shin) go missing: average over the 10 left
    assert pose_to_pose(a, b) == pytest.approx(5 / 10)
    assert np.isnan(pose_to_pose(np.zeros((25, 3)), b))


def test_identical_sequences_have_zero_distance():
    poses = random_poses(50, seed=1)
    res = pose_to_sequence(poses, poses, gamma=1.0)
    np.testing.assert_allclose(res.distance, 0, atol=1e-12)
    assert not res.flagged.any()
    # the nearest neighbour of each limb is a frame with the very same limb
    rows = np.arange(50)[:, None].repeat(12, 1)
    np.testing.assert_allclose(
        limb_descriptors(poses)[res.nearest, np.arange(12)], limb_descriptors(poses)[rows, np.arange(12)]
    )


def test_translation_invariance():
    ref = random_poses(30, seed=2)
    drv = ref[[3, 7, 11]].copy()
    drv[0, :, :2] += (40, -25)
    drv[1, :, :2] += (-100, 7.5)
    assert pose_to_pose(ref[3], drv[0]) == pytest.approx(0, abs=1e-12)
    res = pose_to_sequence(drv, ref, gamma=1.0)
    np.testing.assert_allclose(res.distance, 0, atol=1e-9)


def test_distance_grows_as_a_limb_rotates_and_only_that_limb_is_flagged():
    ref = random_poses(1, seed=3)  # a single reference pose
    angles = np.linspace(0, np.pi, 7)
    drv = np.stack([rotate_forearm(ref[0], a) for a in angles])
    res = pose_to_sequence(drv, ref, gamma=4.0)
    assert res.distance[0] == pytest.approx(0, abs=1e-9)
    assert np.all(np.diff(res.distance) > 0)
    k = LIMB_NAMES.index("r_forearm")
    ln = np.linalg.norm(limb_descriptors(ref[0])[k])
    np.testing.assert_allclose(res.limb_distance[:, k], 2 * ln * np.sin(angles / 2), atol=1e-9)  # chord
    np.testing.assert_allclose(res.distance, res.limb_distance[:, k] / 12, atol=1e-9)
    assert not np.delete(res.flagged, k, axis=1).any()
    assert res.flagged[-1, k] and not res.flagged[0, k]


def test_per_limb_nearest_neighbours_come_from_different_frames():
    """Eq. 8 takes each limb's neighbour separately: a pose mixing two reference frames is covered."""
    a, b = random_poses(2, seed=4)
    mixed = a.copy()
    for j in ("LShoulder", "LElbow", "LWrist"):  # left arm of frame b, translated to a's neck
        mixed[J[j], :2] = b[J[j], :2] - b[J["Neck"], :2] + a[J["Neck"], :2]
    res = pose_to_sequence(mixed[None], np.stack([a, b]), gamma=1.0)
    assert res.distance[0] == pytest.approx(0, abs=1e-9)
    assert set(res.nearest[0].tolist()) == {0, 1}
    assert res.nearest[0, LIMB_NAMES.index("l_forearm")] == 1
    assert nearest_pose(mixed, np.stack([a, b]))[1] > 0  # no single reference frame matches (eq. 7)


def test_missing_joints_rules():
    ref = random_poses(20, seed=5)
    legs = [J[n] for n in ("RKnee", "LKnee", "RAnkle", "LAnkle")]
    ref[:, legs, 2] = 0  # the reference never shows shins/thighs
    drv = random_poses(4, seed=6)
    drv[1, J["RWrist"], 2] = 0  # driving forearm missing in frame 1
    drv[2, :, 2] = 0  # no person in frame 2
    res = pose_to_sequence(drv, ref, gamma=5.0)
    never = [LIMB_NAMES.index(n) for n in ("r_thigh", "r_shin", "l_thigh", "l_shin")]
    assert np.isinf(res.limb_distance[0, never]).all() and res.flagged[0, never].all()
    assert res.n_limbs[0] == 8 and res.n_limbs[1] == 7 and res.n_limbs[2] == 0
    assert np.isnan(res.limb_distance[1, LIMB_NAMES.index("r_forearm")])
    assert not res.flagged[1, LIMB_NAMES.index("r_forearm")]
    assert np.isnan(res.distance[2]) and np.isfinite(res.distance[[0, 1, 3]]).all()
    assert res.nearest[0, never[0]] == -1
    s = coverage_summary(res, frame_index=np.arange(100, 104), worst=10)
    assert s["n_frames"] == 4 and s["n_frames_with_pose"] == 3
    assert s["never_seen_limbs"] == ["r_thigh", "r_shin", "l_thigh", "l_shin"]
    assert len(s["worst"]) == 3 and all(w["frame"] != 102 for w in s["worst"])
    assert s["share_all_limbs_covered"] == 0.0  # never-seen legs flag every frame
    rec = res.frame_record(0)
    assert rec["limb_distance"]["r_shin"] == "inf" and "r_shin" in rec["flagged_limbs"]


def test_kdtree_and_matrix_agree():
    ref, drv = random_poses(500, seed=7), random_poses(300, seed=8)
    ref[::7, J["LElbow"], 2] = 0
    a = pose_to_sequence(drv, ref, method="kdtree")
    b = pose_to_sequence(drv, ref, method="matrix")
    np.testing.assert_allclose(a.limb_distance, b.limb_distance, atol=1e-9)
    np.testing.assert_array_equal(a.nearest, b.nearest)


def test_summary_shares_and_gamma():
    ref = random_poses(1, seed=9)
    drv = np.stack([rotate_forearm(ref[0], a) for a in np.linspace(0, np.pi, 5)])
    res = pose_to_sequence(drv, ref, gamma=[2.0] * 12)
    s = coverage_summary(res, worst=2)
    expect = float((res.distance <= 2.0).mean())
    assert s["share_under_gamma"] == pytest.approx(expect) and 0 < expect < 1
    assert s["share_all_limbs_covered"] == pytest.approx(float((~res.flagged.any(1)).mean()))
    assert [w["row"] for w in s["worst"]] == [4, 3]
    assert s["limb_flag_share"]["r_forearm"] > 0 and s["limb_flag_share"]["l_forearm"] == 0
    assert default_gamma(256) == 8.0 and default_gamma(128) == 4.0
    with pytest.raises(ValueError):
        pose_to_sequence(drv, ref, gamma=[1.0, 2.0])


def test_soft_confidences_below_threshold_are_missing():
    """MediaPipe-style soft visibilities: off-screen joints with conf ~1e-5 do not count (threshold 0.05)."""
    ref = random_poses(10, seed=10)
    drv = random_poses(3, seed=11)
    drv[:, J["RKnee"], 2] = 1e-5
    res = pose_to_sequence(drv, ref)
    for name in ("r_thigh", "r_shin"):
        assert np.isnan(res.limb_distance[:, LIMB_NAMES.index(name)]).all()
    assert (res.n_limbs == 10).all()
    res0 = pose_to_sequence(drv, ref, conf_thresh=0.0)  # with threshold 0 they would count
    assert (res0.n_limbs == 12).all()


def test_limbs_entirely_off_screen_are_missing_with_a_frame_size():
    ref = random_poses(10, seed=12)
    drv = random_poses(2, seed=13)
    drv[0, J["RElbow"], :2] = (64, 200)  # elbow off a 128 px frame: upper arm still half visible
    drv[0, J["RWrist"], :2] = (70, 260)  # wrist too: the forearm is entirely off-screen
    res = pose_to_sequence(drv, ref, frame_size=(128, 128))
    k_fore, k_upper = LIMB_NAMES.index("r_forearm"), LIMB_NAMES.index("r_upper_arm")
    assert np.isnan(res.limb_distance[0, k_fore]) and np.isfinite(res.limb_distance[0, k_upper])
    assert np.isfinite(pose_to_sequence(drv, ref).limb_distance[0, k_fore])  # without frame_size: measured
    assert np.isfinite(res.limb_distance[1]).all()
