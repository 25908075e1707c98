"""Procedural actions (reenactor.synthetic.actions) animated from the real carphone rest poses, and the action
data layout (reenactor.data.actions)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reenactor.data.actions import open_actions
from reenactor.errors import InputError
from reenactor.pose.skeleton import J
from reenactor.synthetic.actions import (
    ACTIONS,
    PLACED,
    RANGES,
    Variation,
    animate,
    draw_variation,
    procedural_sequences,
    rest_poses_from_clip,
    write_action_data,
)


@pytest.fixture(scope="module")
def rests(carphone_clip):
    r = rest_poses_from_clip(carphone_clip)
    assert len(r) >= 2 and all(p.size == (128, 128) for p in r)
    return r


def _rest(r):
    return {"body": r.body, "face": r.face}


def test_at_least_six_actions():
    assert {"wave", "raise", "clap", "nod", "bend", "jump"} <= set(ACTIONS)


def test_deterministic_per_seed(rests):
    a = procedural_sequences(rests, 2, 12, seed=3)
    b = procedural_sequences(rests, 2, 12, seed=3)
    c = procedural_sequences(rests, 2, 12, seed=4)
    for (_, sa, _), (_, sb, _) in zip(a, b):
        np.testing.assert_array_equal(sa.arrays["body"], sb.arrays["body"])
    diff = [
        np.abs(sa.arrays["body"][..., :2] - sc.arrays["body"][..., :2]).max()
        for (_, sa, _), (_, sc, _) in zip(a, c)
    ]
    assert min(diff) > 0.5  # another seed: other speed, amplitude, proportions, placement
    assert all(s.source.startswith("procedural action") for _, s, _ in a)


def test_actions_are_distinct(rests):
    seqs = {a: animate(a, _rest(rests[1]), 16, rests[1].size)["body"] for a in ACTIONS}
    placed = np.abs(rests[1].body[:, :2]).sum(-1) > 0
    for i, a in enumerate(ACTIONS):
        for b in ACTIONS[i + 1 :]:
            # positions are kept for off-frame joints (confidence 0): compare every placed joint
            d = np.linalg.norm(seqs[a][..., placed, :2] - seqs[b][..., placed, :2], axis=-1).mean()
            assert d > 2.0, f"{a} and {b} barely differ ({d:.2f} px)"
    for a in ACTIONS:  # every action moves
        assert np.abs(np.diff(seqs[a][..., :2], axis=0)).max() > 3.0, a


@pytest.mark.parametrize("action", ["wave", "nod", "jump", "bend"])
def test_amplitude_scales_the_motion(rests, action):
    rest = _rest(rests[1])
    ext = []
    for amp in (RANGES["amplitude"][0], 1.0, RANGES["amplitude"][1]):
        body = animate(action, rest, 16, rests[1].size, Variation(amplitude=amp))["body"][..., :2]
        ext.append(np.linalg.norm(body - body[:1], axis=-1).max())
    assert ext[0] < ext[1] < ext[2]
    assert 0.5 < ext[0] / ext[1] < 1.0 < ext[2] / ext[1] < 1.6


def test_variation_in_range():
    rng = np.random.default_rng(0)
    for _ in range(200):
        v = draw_variation(rng, (128, 128))
        for k in ("speed", "amplitude", "arm", "shoulder", "scale", "phase"):
            lo, hi = RANGES[k]
            assert lo <= getattr(v, k) <= hi
        assert all(abs(s) <= 0.05 * 128 for s in v.shift)


def test_confidences_honest(rests):
    r = rests[1].framed(0.5)  # the tight carphone crop zoomed out, so raised arms come into view
    seq = animate("raise", _rest(r), 16, r.size)["body"]
    xy, c = seq[..., :2], seq[..., 2]
    outside = (xy[..., 0] < 0) | (xy[..., 0] > 127) | (xy[..., 1] < 0) | (xy[..., 1] > 127)
    assert (c[outside] == 0).all()
    unplaced = np.abs(r.body[:, :2]).sum(-1) == 0
    assert (c[:, unplaced] == 0).all()
    # legs of the upper-body footage stay off-frame (not invented); raised wrists come into view as PLACED
    assert (c[:, J["RAnkle"]] == 0).all() and (c[:, J["LAnkle"]] == 0).all()
    low = r.body[:, 2] < 0.5
    assert set(np.unique(c[:, low])) <= {0.0, PLACED}
    assert (c[:, J["RWrist"]] > 0).any()


def test_write_and_open_action_data(rests, tmp_path):
    root = write_action_data(tmp_path / "acts", rests, per_action=2, frames=10, seed=1)
    info = json.loads((root / "ACTIONS.json").read_text())
    assert info["procedural"] is True and info["actions"] == list(ACTIONS) and info["zoom"] == 0.5
    data = open_actions([root], log=lambda *_: None)
    assert data.actions == sorted(ACTIONS) and len(data.samples) == 2 * len(ACTIONS)
    assert data.procedural == [str(root)] and "procedural" in data.describe() and data.zoom == 0.5
    assert data.samples[0].keypoints["body"].shape == (10, 25, 3)
    # written again into the same folder: numbered after the files it holds
    write_action_data(root, rests, per_action=2, frames=10, seed=2)
    assert sorted(p.name for p in (root / "wave").iterdir()) == [f"{k:04d}.poses.npz" for k in range(4)]
    with pytest.raises(InputError, match="no action data"):
        open_actions([tmp_path / "acts" / "wave"], log=lambda *_: None)  # pose files, not action folders


def test_expressions_ramp_neutral_to_apex(rests):
    from reenactor.synthetic.actions import EXPRESSIONS

    r = rests[1]
    seqs = {e: animate(e, _rest(r), 12, r.size) for e in EXPRESSIONS}
    for e, s in seqs.items():
        f, b = s["face"], s["body"]
        assert f.shape == (12, 68, 3) and (np.abs(np.diff(b[..., :2], axis=0)) == 0).all()  # body still
        step = np.linalg.norm(f[1:, :, :2] - f[:-1, :, :2], axis=-1).max(1)
        dist = np.linalg.norm(f[:, :, :2] - f[:1, :, :2], axis=-1).max(1)
        assert dist[0] == 0 and dist[-1] > 1.0, e  # neutral first, apex moved
        assert (np.diff(dist[: int(12 * 0.7)]) >= -1e-4).all(), e  # ramps monotonically towards the apex
        assert step.max() < 0.6 * dist.max()  # smooth, no jump
    apex = {e: s["face"][-1, :, :2] for e, s in seqs.items()}
    names = list(apex)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert np.abs(apex[a] - apex[b]).max() > 0.5, (a, b)


def test_poses_actions_command(carphone_clip, tmp_path, capsys):
    """`reenactor poses actions` writes the folder-per-action layout psgan trains on, from a clip's rest poses;
    a non-empty output folder is refused without --force."""
    from reenactor.cli import main

    out = tmp_path / "actions"
    args = ["poses", "actions", "--from", str(carphone_clip.root), "-o", str(out), "--per-action", "1"]
    assert main([*args, "--frames", "8"]) == 0
    assert "procedural actions" in capsys.readouterr().out
    assert {p.name for p in out.iterdir() if p.is_dir()} == set(ACTIONS)
    assert json.loads((out / "ACTIONS.json").read_text())["procedural"] is True
    assert all(len(list((out / a).glob("*.poses.npz"))) == 1 for a in ACTIONS)
    assert main([*args, "--frames", "8"]) == 2
    assert "--force" in capsys.readouterr().err
    # --force replaces the folder (written under a temporary name and renamed: nothing half-written is left)
    assert main([*args, "--frames", "6", "--seed", "2", "--force", "-q"]) == 0
    assert json.loads((out / "ACTIONS.json").read_text())["seed"] == 2
    assert all(len(list((out / a).glob("*.poses.npz"))) == 1 for a in ACTIONS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["actions"]
