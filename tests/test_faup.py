"""FAUP (facial action units + head pose, reenactor.face.faup / headpose): identity cancels, neutral is ~0,
units respond to the right geometry, head pose recovers a known rotation, the clip-store stage resumes."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from reenactor.data.clipstore import ClipStore
from reenactor.face import faup as F
from reenactor.face.headpose import euler_to_rotation, head_pose

EXPR = slice(0, F.N_AU)


@pytest.fixture(scope="module")
def meshes(carphone_clip) -> np.ndarray:
    """(T, 478, 3) carphone face meshes (stored-frame pixels), frames with a face only."""
    raw = np.asarray(carphone_clip.load("face_raw", mmap=False), np.float32)
    raw = raw[F.has_face(raw)]
    assert len(raw) >= 60, "the carphone fixture should have a face in most frames"
    return raw


def _neutral_index(meshes: np.ndarray) -> int:
    """The clip's most neutral frame: the smallest total action-unit intensity."""
    seq = F.faup_sequence(meshes)
    return int(seq["faup"][:, EXPR].sum(1).argmin())


def _reshape_identity(mesh: np.ndarray, seed: int = 0) -> np.ndarray:
    """Another "person" making the same expression: the same mesh made in the frontal frame with a wider
    mouth, higher brows, a longer nose-to-lip distance and a stretched, rescaled, moved face."""
    _, R = head_pose(mesh)
    c = mesh.mean(0)
    p = (mesh - c) @ R  # frontal
    q = p.copy()
    mouth = [61, 291, 0, 17, 13, 14, 78, 308, 40, 270, 91, 321, 37, 267, 84, 314]
    mc = p[[61, 291]].mean(0)
    q[mouth, 0] = mc[0] + 1.12 * (p[mouth, 0] - mc[0])  # a wider mouth at rest
    brows = [107, 55, 70, 46, 105, 52, 65, 66, 63, 53, 336, 285, 300, 276, 334, 282, 295, 296, 293, 283]
    iod = np.linalg.norm(p[263] - p[33])
    q[brows, 1] -= 0.05 * iod  # brows sit higher
    q[:, 0] *= 1.10  # a broader face
    q[:, 1] *= 0.93  # a shorter face
    q = q @ R.T * 1.6 + c + np.array([15.0, -8.0, 0.0])  # bigger and elsewhere in the frame
    return q.astype(np.float32)


def test_same_expression_two_faces_close_faup_different_landmarks(meshes):
    other = np.stack([_reshape_identity(m) for m in meshes])
    a = F.faup_sequence(meshes)
    b = F.faup_sequence(other)

    # the landmarks differ a lot (in IOD units, after removing translation and scale)
    def shape(x):
        x = x[:, :, :2] - x[:, :, :2].mean(1, keepdims=True)
        return x / np.linalg.norm(x[:, 263, :2] - x[:, 33, :2], axis=-1)[:, None, None]

    landmark_gap = float(np.abs(shape(meshes) - shape(other)).mean())
    assert landmark_gap > 0.03
    # ... while the expression units agree (each identity measured against its own neutral)
    diff = np.abs(a["faup"][:, EXPR] - b["faup"][:, EXPR])
    assert diff.mean() < 0.08, diff.mean(0)
    assert np.percentile(diff, 95) < 0.35
    # and the expression signal itself is much larger than the difference
    assert a["faup"][:, EXPR].std(0).mean() > 3 * diff.mean()
    # head pose: the same within a few degrees
    assert np.degrees(np.abs(a["pose"] - b["pose"])).mean() < 4.0
    # the raw measures (before the neutral reference) do NOT agree: the reference is what cancels identity
    raw_gap = np.abs(a["measures"] - b["measures"]).mean()
    assert raw_gap > 3 * np.abs((a["measures"] - a["neutral"]) - (b["measures"] - b["neutral"])).mean()


def test_neutral_frame_is_near_zero(meshes):
    i = _neutral_index(meshes)
    seq = F.faup_sequence(meshes)
    assert np.all(seq["faup"][i, EXPR] < 0.25), dict(zip(F.AU_NAMES, seq["faup"][i, EXPR].round(2)))
    assert seq["faup"][i, EXPR].mean() < 0.06
    # the neutral reference itself has exactly zero expression, whatever its head pose
    f = F.faup_from_measures(seq["neutral"], np.array([0.3, -0.1, 0.2], np.float32), seq["neutral"])
    assert np.all(f[EXPR] == 0) and np.allclose(f[F.N_AU :], [0.3, -0.1, 0.2])
    # expressive frames are not near zero: the clip moves its mouth and brows
    assert seq["faup"][:, F.AU_NAMES.index("AU25")].max() > 0.5
    assert seq["faup"][:, EXPR].max(0).mean() > 0.5


def _perturb(mesh: np.ndarray, ids: list[int], dy_iod: float) -> np.ndarray:
    """Move mesh points ``ids`` by ``dy_iod`` inter-ocular distances along the face's own down axis."""
    _, R = head_pose(mesh)
    c = mesh.mean(0)
    p = (mesh - c) @ R
    p[ids, 1] += dy_iod * np.linalg.norm(p[263] - p[33])
    return ((p @ R.T) + c).astype(np.float32)


def test_units_respond_to_their_geometry(meshes):
    base = meshes[_neutral_index(meshes)]
    neutral = F.faup_sequence(meshes)["neutral"]
    f0 = F.faup_from_mesh(base, neutral)
    lower = [14, 87, 178, 88, 95, 317, 402, 318, 324, 17, 84, 314, 181, 405, 91, 321, 152, 148, 377, 176, 400]
    opened = F.faup_from_mesh(_perturb(base, lower, 0.25), neutral)
    i25, i26 = F.AU_NAMES.index("AU25"), F.AU_NAMES.index("AU26")
    assert opened[i25] > f0[i25] + 0.5 and opened[i26] > f0[i26] + 0.5
    brows = [107, 55, 70, 46, 105, 52, 65, 66, 63, 53, 336, 285, 300, 276, 334, 282, 295, 296, 293, 283]
    raised = F.faup_from_mesh(_perturb(base, brows, -0.08), neutral)
    i1, i2 = F.AU_NAMES.index("AU1"), F.AU_NAMES.index("AU2")
    assert raised[i1] > f0[i1] + 0.5 and raised[i2] > f0[i2] + 0.5
    # raising the brows does not open the mouth
    assert abs(raised[i25] - f0[i25]) < 0.05
    upper_lids = [
        159,
        158,
        160,
        386,
        385,
        387,
        157,
        161,
        384,
        388,
        56,
        28,
        27,
        29,
        30,
        257,
        258,
        259,
        260,
        286,
    ]
    closed = F.faup_from_mesh(_perturb(base, upper_lids, 0.08), neutral)
    i45 = F.AU_NAMES.index("AU45")
    assert closed[i45] > f0[i45] + 0.5


@pytest.mark.parametrize("angles", [(0.3, 0.0, 0.0), (0.0, -0.25, 0.0), (0.0, 0.0, 0.4), (-0.2, 0.15, -0.1)])
def test_head_pose_recovers_a_known_rotation(meshes, angles):
    base = meshes[_neutral_index(meshes)]
    a0, R0 = head_pose(base)
    c = base.mean(0)
    frontal = (base - c) @ R0
    R = euler_to_rotation(*angles)
    rotated = (frontal @ R.T + c).astype(np.float32)
    got, _ = head_pose(rotated)
    np.testing.assert_allclose(got, angles, atol=np.radians(2.0))
    # the expression units do not change with head pose
    f_base = F.faup_from_mesh(base)
    f_rot = F.faup_from_mesh(rotated)
    assert np.abs(f_base[EXPR] - f_rot[EXPR]).max() < 0.1


def test_faup_from_mesh_no_face_is_zero():
    assert np.all(F.faup_from_mesh(np.zeros((478, 3), np.float32)) == 0)
    assert F.faup_from_mesh(np.zeros((478, 3))).shape == (F.FAUP_DIM,) == (20,)


def test_faup_image_centre_layout():
    v = np.arange(F.FAUP_DIM, dtype=np.float32) + 1
    img = F.faup_image(v, (32, 40), cell=2)
    assert img.shape == (1, 32, 40)
    nz = np.argwhere(img[0] != 0)
    assert nz[:, 0].min() == 12 and nz[:, 0].max() == 19 and nz[:, 1].min() == 15 and nz[:, 1].max() == 24
    assert img[0, 12, 15] == 1 and img[0, 19, 24] == 20
    batch = F.faup_image(np.stack([v, 2 * v]), (32, 40))
    assert batch.shape == (2, 1, 32, 40) and np.allclose(batch[1], 2 * img)
    with pytest.raises(ValueError):
        F.faup_image(v, (6, 8))


def test_faup_stage_is_stored_and_resumable(carphone_clip, tmp_path):
    root = tmp_path / "clip"
    shutil.copytree(carphone_clip.root, root)
    clip = ClipStore.open(root)
    if clip.stage("faup"):  # the shared fixture may have run it already: start clean
        clip.manifest["stages"].pop("faup")
        clip.manifest["arrays"].pop("faup", None)
        clip.write_manifest()
    faup = F.add_faup_stage(clip)
    assert faup.shape == (clip.n_frames, F.FAUP_DIM)
    again = ClipStore.open(root)
    assert again.stage_done("faup") and again.has("faup") and again.has("faup_measures")
    assert len(again.stage("faup")["neutral"]) == len(F.MEASURES)
    mtime = again.path("faup").stat().st_mtime_ns
    np.testing.assert_array_equal(F.add_faup_stage(again), faup)
    assert again.path("faup").stat().st_mtime_ns == mtime  # skipped, not recomputed
    np.testing.assert_allclose(F.clip_neutral(again), again.stage("faup")["neutral"])


def test_running_neutral_converges_to_clip_reference(meshes):
    seq = F.faup_sequence(meshes)
    run = F.RunningNeutral(prior_frames=10)
    for m in seq["measures"]:
        ref = run.update(m)
    assert np.abs(ref - seq["neutral"]).mean() < np.abs(F.DEFAULT_NEUTRAL - seq["neutral"]).mean() + 0.02
    run.reset()
    first = run.update(seq["measures"][0])
    np.testing.assert_allclose(first, F.DEFAULT_NEUTRAL, atol=0.05)  # the prior dominates at the start
    # a held photo (the same measures every frame) is one face: it never becomes its own neutral
    smile = seq["measures"][0].copy()
    smile[F.M["corner_elev"]] += 0.2
    run.reset()
    held = [F.faup_from_measures(smile, seq["pose"][0], run.update(smile)) for _ in range(40)]
    au12 = F.AU_NAMES.index("AU12")
    assert held[0][au12] > 0.5 and held[-1][au12] == held[0][au12]


# ----------------------------------------------------------------------------- expression transfer metric
def test_expression_metric_tells_the_real_expression_from_a_wrong_one(carphone_clip):
    """reenactor.metrics.expression on real carphone frames: the frames themselves score 0 error and r = 1, a
    slightly blurred copy keeps the expressions (high r), the same faces in reverse order (right identity,
    wrong expression at each frame) and a constant face score far lower."""
    import cv2

    from reenactor.metrics.expression import expression_errors, faup_of_frames

    frames = [np.asarray(f) for f in carphone_clip.frames()][40:100]
    neutral = F.clip_neutral(carphone_clip)
    ref, valid = faup_of_frames(frames, neutral)
    assert valid.mean() > 0.9
    same = expression_errors(ref, ref, valid)
    assert same["au_mae"] == 0.0 and same["au_corr"] == pytest.approx(1.0) and same["pose_mae_deg"] == 0.0
    blur, vb = faup_of_frames([cv2.GaussianBlur(f, (0, 0), 1.0) for f in frames], neutral)
    blurred = expression_errors(blur, ref, vb & valid)
    rev, vr = faup_of_frames(frames[::-1], neutral)
    reversed_ = expression_errors(rev, ref, vr & valid)
    const = expression_errors(np.median(ref[valid], 0), ref, valid)
    assert blurred["au_corr"] > 0.5 and blurred["pose_mae_deg"] < 3.0
    assert reversed_["au_corr"] < blurred["au_corr"] - 0.3
    assert reversed_["au_mae"] > 1.5 * blurred["au_mae"]
    assert const["au_corr"] == 0.0 and const["au_mae"] > 1.3 * blurred["au_mae"]
    assert set(same["per_au_mae"]) == set(F.AU_NAMES)
    none = expression_errors(ref, ref, np.zeros(len(ref), bool))
    assert np.isnan(none["au_mae"]) and none["face_detected"] == 0.0
