"""Pose rendering: colours, Gaussian maps, label maps, overlays."""

from __future__ import annotations

import numpy as np
import pytest

from reenactor.pose import render
from reenactor.pose.skeleton import BODY_COLORS, BODY_LIMBS, FACE_CONTOURS, J


def _toy_pose(h: int = 64, w: int = 64) -> dict[str, np.ndarray]:
    body = np.zeros((25, 3), np.float32)
    body[J["Nose"]] = (32, 10, 1)
    body[J["Neck"]] = (32, 20, 1)
    body[J["RShoulder"]] = (22, 20, 1)
    body[J["RElbow"]] = (16, 32, 1)
    body[J["LShoulder"]] = (42, 20, 1)
    body[J["MidHip"]] = (32, 44, 1)
    face = np.zeros((68, 3), np.float32)
    ang = np.linspace(0, np.pi, 17)
    face[:17, 0] = 32 + 6 * np.cos(ang)
    face[:17, 1] = 10 + 6 * np.sin(ang)
    face[:17, 2] = 1
    hand = np.zeros((21, 3), np.float32)
    hand[0] = (16, 40, 1)
    hand[1:5] = [(14 - i, 42 + i, 1) for i in range(4)]
    return {"body": body, "face": face, "hand_left": hand, "hand_right": np.zeros((21, 3), np.float32)}


def test_draw_pose_uses_openpose_colours():
    kp = _toy_pose()
    img = render.draw_pose((64, 64), kp, thickness=2)
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    # The neck -> mid-hip limb is drawn in the colour of joint 8 (MidHip) at its midpoint.
    assert tuple(img[32, 32]) == BODY_COLORS[J["MidHip"]]
    # Right shoulder -> right elbow limb in RElbow's colour.
    mid = ((22 + 16) // 2, (20 + 32) // 2)
    assert tuple(img[mid[1], mid[0]]) == BODY_COLORS[J["RElbow"]]
    # Face jaw drawn white, thumb in the thumb colour.
    assert tuple(img[16, 32]) == render.FACE_COLOR
    assert tuple(img[43, 13]) == render.FINGER_COLORS[0]
    # Missing joints draw nothing: bottom rows stay black.
    assert img[55:].max() == 0


def test_draw_pose_skips_low_confidence_and_keeps_canvas():
    kp = _toy_pose()
    kp["body"][:, 2] = 0.01
    kp["face"][:, 2] = 0
    kp["hand_left"][:, 2] = 0
    assert render.draw_pose((32, 48), kp).max() == 0
    canvas = np.full((64, 64, 3), 7, np.uint8)
    out = render.draw_pose(canvas, _toy_pose())
    assert (canvas == 7).all()  # not modified in place
    assert (out != 7).any()


def test_part_confidence_maps_gaussian_values():
    body = np.zeros((25, 3), np.float32)
    body[0] = (10, 5, 1)
    body[1] = (3.5, 20, 0.9)
    maps = render.part_confidence_maps(body, (24, 16), sigma=2.0)
    assert maps.shape == (25, 24, 16) and maps.dtype == np.float32
    assert maps[0, 5, 10] == pytest.approx(1.0)
    assert maps[0, 5, 12] == pytest.approx(np.exp(-4 / 4), rel=1e-6)
    assert maps[0, 7, 12] == pytest.approx(np.exp(-8 / 4), rel=1e-6)
    assert maps[1].argmax() == np.ravel_multi_index((20, 3), (24, 16))  # nearest pixel to x=3.5
    assert maps[2:].max() == 0.0  # missing joints are zero
    assert 0.0 <= maps.min() and maps.max() <= 1.0


def test_label_map_and_one_hot():
    kp = _toy_pose()
    lab = render.label_map((64, 64), kp, thickness=2)
    assert lab.shape == (64, 64) and lab.dtype == np.uint8
    limb = BODY_LIMBS.index((1, 8))
    assert lab[32, 32] == 1 + limb
    assert render.LABEL_NAMES[lab[32, 32]] == "limb_1_8"
    assert render.LABEL_NAMES[lab[16, 32]] == "face_0"
    assert render.LABEL_NAMES[lab[43, 13]] == "left_finger_0"
    assert lab.max() < render.N_LABELS
    assert render.N_LABELS == 1 + len(BODY_LIMBS) + len(FACE_CONTOURS) + 10
    oh = render.one_hot(lab)
    assert oh.shape == (render.N_LABELS, 64, 64)
    assert np.array_equal(oh.sum(0), np.ones((64, 64), np.float32))
    assert np.array_equal(oh.argmax(0), lab)


def test_overlay_blends_only_where_drawn():
    frame = np.full((64, 64, 3), 100, np.uint8)
    out = render.overlay(frame, _toy_pose(), alpha=0.5)
    assert out[60, 60].tolist() == [100, 100, 100]
    r, g, b = BODY_COLORS[J["MidHip"]]
    assert out[32, 32].tolist() == [round(0.5 * r + 50), round(0.5 * g + 50), round(0.5 * b + 50)]


def test_render_sequence_matches_per_frame():
    kp = _toy_pose()
    seq = {k: np.stack([v, v]) for k, v in kp.items()}
    out = render.render_sequence(seq, (64, 64))
    assert out.shape == (2, 64, 64, 3)
    assert np.array_equal(out[1], render.draw_pose((64, 64), kp))


def test_render_command_on_real_clip(carphone_clip, tmp_path):
    from reenactor.cli import main
    from reenactor.io.video import iter_frames, probe

    for flag, width in (([], 128), (["--overlay"], 128), (["--side-by-side"], 256), (["--labels"], 128)):
        out = tmp_path / f"pose{''.join(flag)}.mp4"
        assert main(["render", str(carphone_clip.root), "-o", str(out), "-q", *flag]) == 0
        info = probe(out)
        assert (info.n_frames, info.width, info.height) == (120, width, 128)
        assert info.fps == pytest.approx(carphone_clip.fps, abs=0.01)
    # The stick-figure video shows the clip's pose: the neck-mid-hip / shoulder limbs are coloured where
    # draw_pose puts them.
    first = next(iter_frames(tmp_path / "pose.mp4"))
    ref = render.draw_pose((128, 128), render.clip_frame_pose(carphone_clip, 0))
    assert np.abs(first.astype(int) - ref).mean() < 4
    assert (ref > 0).any(axis=2).mean() > 0.02


def test_demo_v1_writes_side_by_side(carphone_clip, tmp_path, monkeypatch):
    import shutil

    from reenactor.commands.demo import run_demo
    from reenactor.io.video import probe

    # Reuse the session clip (same source and options at 128 px): the demo's extract step is then skipped.
    (tmp_path / "clips").mkdir()
    shutil.copytree(carphone_clip.root, tmp_path / "clips" / "carphone")
    msgs = []
    out = run_demo(tmp_path, size=128, progress=False, log=msgs.append)
    assert any("nothing to do" in m for m in msgs)
    info = probe(out["pose_video"])
    assert (info.n_frames, info.width, info.height) == (120, 256, 128)
    # the single-photo part: the astronaut animated by carphone's poses through pose_warp, side by side
    photo = probe(out["photo_video"])
    assert (photo.n_frames, photo.width, photo.height) == (120, 3 * 256, 256)


def test_demo_action_step_one_photo_one_word(carphone_clip, tmp_path):
    """Demo step 6: psgan on procedural actions -> the astronaut's generated nod -> pose_warp; a re-run
    reuses the data and the finished training."""
    from reenactor.commands.demo import run_action_demo
    from reenactor.io.video import probe
    from reenactor.pose.posefile import load_poses

    msgs = []
    video = run_action_demo(tmp_path, carphone_clip, steps=2, progress=False, log=msgs.append, per_action=8)
    assert any("PROCEDURAL" in m for m in msgs)
    seq = load_poses(tmp_path / "astronaut_nod.poses.npz")
    assert seq.n_frames == 48 and "procedural" in seq.source and "nod" in seq.source
    info = probe(video)
    assert info.n_frames == 48 and info.width == 3 * info.height  # side by side
    stamp = (tmp_path / "runs" / "psgan" / "model.safetensors").stat().st_mtime_ns
    run_action_demo(tmp_path, carphone_clip, steps=2, progress=False, log=msgs.append, per_action=8)
    assert (tmp_path / "runs" / "psgan" / "model.safetensors").stat().st_mtime_ns == stamp
