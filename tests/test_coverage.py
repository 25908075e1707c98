"""``reenactor coverage``: JSON, summary and PNG on synthetic clips and on the real carphone clip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reenactor.cli import main
from reenactor.commands.coverage import parse_range
from reenactor.data.clipstore import ClipStore
from reenactor.errors import InputError
from reenactor.io.video import read_image
from reenactor.pose.skeleton import J


def upper_body(n: int, arm_angles: np.ndarray, size: int = 64) -> np.ndarray:
    """``(n, 25, 3)`` upper-body poses in a ``size`` px frame; the right forearm points at ``arm_angles``."""
    u = size / 16
    b = np.zeros((n, 25, 3), np.float32)
    c = size / 2
    pts = {
        "Nose": (0, -3),
        "Neck": (0, -1.5),
        "RShoulder": (-2, -1.5),
        "LShoulder": (2, -1.5),
        "RElbow": (-3, 1),
        "LElbow": (3, 1),
        "LWrist": (3.5, 3.5),
        "MidHip": (0, 5),
        "RHip": (-1, 5),
        "LHip": (1, 5),
    }
    for name, (x, y) in pts.items():
        b[:, J[name]] = (c + x * u, c + y * u, 1.0)
    el = b[:, J["RElbow"], :2]
    b[:, J["RWrist"], 0] = el[:, 0] + 2.5 * u * np.cos(arm_angles)
    b[:, J["RWrist"], 1] = el[:, 1] + 2.5 * u * np.sin(arm_angles)
    b[:, J["RWrist"], 2] = 1
    return b


def make_clip(root, body: np.ndarray, size: int = 64) -> ClipStore:
    n = len(body)
    clip = ClipStore.create(root, n_frames=n, fps=10.0, size=[size, size])
    frames = np.zeros((n, size, size, 3), np.uint8)
    frames[..., 2] = np.linspace(40, 120, size, dtype=np.uint8)[None, :, None]
    clip.save("frames", frames, stage="extract")
    clip.save("body", body.astype(np.float32), stage="extract")
    clip.save("face", np.zeros((n, 68, 3), np.float32), stage="extract")
    clip.set_stage("extract")
    return clip


def test_parse_range():
    assert parse_range(None, 120, "x") == (0, 120)
    assert parse_range(":2/3", 120, "x") == (0, 80)
    assert parse_range("2/3:", 120, "x") == (80, 120)
    assert parse_range("10:-10", 120, "x") == (10, 110)
    assert parse_range("0.5:", 120, "x") == (60, 120)
    for bad in ("5", "a:b", "80:40", "3/2:"):
        with pytest.raises(InputError):
            parse_range(bad, 120, "--driving-frames")


def test_coverage_command_flags_unseen_arm_poses(tmp_path, capsys):
    ref = make_clip(tmp_path / "ref", upper_body(40, np.linspace(1.2, 2.0, 40)))  # forearm hangs down
    drv_angles = np.concatenate([np.linspace(1.3, 1.9, 12), np.linspace(-0.5, 0.2, 6)])  # last 6: raised
    drv = make_clip(tmp_path / "drv", upper_body(18, drv_angles))
    out = tmp_path / "report"
    rc = main(
        [
            "coverage",
            "--reference",
            str(ref.root),
            "--driving",
            str(drv.root),
            "-o",
            str(out),
            "--max-distance",
            "1.0",
            "--worst",
            "3",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    verdict = (
        "33 % of the 18 driving frames (6 of 18) lie outside what the model has seen: expect artifacts there"
    )
    assert f"verdict: {verdict}" in printed and "edn_upper" in printed
    assert (
        "r_forearm" not in printed and len(max(printed.splitlines(), key=len)) < 300
    )  # limb detail: JSON only
    summary = json.loads((out / "summary.json").read_text())
    report = json.loads((out / "coverage.json").read_text())
    assert summary["verdict"] == verdict
    assert summary["n_frames"] == 18 and len(report["frames"]) == 18
    assert summary["counts"] == {"no_person": 0, "off_screen": 0, "no_limb": 0, "unseen": 6, "covered": 12}
    assert summary["share_under_gamma"] == pytest.approx(12 / 18)
    assert [f["status"] for f in report["frames"]] == ["covered"] * 12 + ["unseen"] * 6
    # the worst frames are at least len / (2 K) = 3 frames apart; the first two lie in the raised stretch
    rows = [w["frame"] for w in summary["worst"]]
    assert summary["worst_min_gap"] == 3 and all(abs(a - b) >= 3 for a in rows for b in rows if a != b)
    assert {rows[0], rows[1]} <= set(range(12, 18))
    assert all(w["flagged_limbs"] == ["r_forearm"] for w in summary["worst"][:2])
    assert report["frames"][0]["flagged_limbs"] == [] and report["frames"][17]["flagged_limbs"] == [
        "r_forearm"
    ]
    assert report["frames"][0]["distance"] < 0.5 < report["frames"][17]["distance"]
    assert summary["never_seen_limbs"] == []  # legs are missing in both clips: not counted
    img = read_image(out / "coverage.png")
    assert img.ndim == 3 and img.shape[0] >= 400 and img.shape[1] >= 600 and img.std() > 10
    # the old spelling of the limit still works, and the report folder is not overwritten without --force
    assert (
        main(
            [
                "coverage",
                "--reference",
                str(ref.root),
                "--driving",
                str(drv.root),
                "-o",
                str(out),
                "--gamma",
                "1.0",
            ]
        )
        == 2
    )
    assert "--force" in capsys.readouterr().err
    assert (
        main(
            [
                "coverage",
                "--reference",
                str(ref.root),
                "--driving",
                str(drv.root),
                "-o",
                str(out),
                "--gamma",
                "1.0",
                "--force",
            ]
        )
        == 0
    )
    assert json.loads((out / "summary.json").read_text())["verdict"] == verdict


def test_worst_frames_differ_in_time(tmp_path):
    """One long bad stretch and a short one: the worst frames are spread over both, not four neighbours."""
    angles = np.full(60, 1.5)
    angles[10:30] = np.linspace(-0.6, -0.4, 20)  # a long stretch of a raised forearm ...
    angles[45:48] = -0.3  # ... and a short one
    ref = make_clip(tmp_path / "ref", upper_body(40, np.linspace(1.2, 2.0, 40)))
    drv = make_clip(tmp_path / "drv", upper_body(60, angles))
    out = tmp_path / "r"
    assert (
        main(
            [
                "coverage",
                "--reference",
                str(ref.root),
                "--driving",
                str(drv.root),
                "-o",
                str(out),
                "--worst",
                "4",
            ]
        )
        == 0
    )
    s = json.loads((out / "summary.json").read_text())
    frames = [w["frame"] for w in s["worst"]]
    assert s["worst_min_gap"] == 60 // 8 and len(frames) == 4
    assert all(abs(a - b) >= s["worst_min_gap"] for a in frames for b in frames if a != b)
    assert any(45 <= f < 48 for f in frames) and sum(10 <= f < 30 for f in frames) >= 2


def test_off_screen_and_empty_frames_are_counted_and_said(tmp_path, capsys):
    """Frames without a person, or with one only outside the frame, are counted in the headline, not dropped."""
    body = upper_body(20, np.full(20, 1.5))
    body[:4, :, 2] = 0  # 4 frames without a person
    body[4:7, :, 0] += 400  # 3 frames whose person is far to the right of a 64 px frame
    drv = make_clip(tmp_path / "drv", body)
    ref = make_clip(tmp_path / "ref", upper_body(30, np.linspace(1.2, 2.0, 30)))
    out = tmp_path / "r"
    assert main(["coverage", "--reference", str(ref.root), "--driving", str(drv.root), "-o", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["counts"]["no_person"] == 4 and s["counts"]["off_screen"] == 3 and s["n_frames"] == 20
    assert s["verdict"].startswith("4 of 20 driving frames show no person; 3 more show a person only outside")
    assert "the rest (13 of 20) lie within what the model has seen" in s["verdict"]
    frames = json.loads((out / "coverage.json").read_text())["frames"]
    assert [f["status"] for f in frames[:8]] == ["no_person"] * 4 + ["off_screen"] * 3 + ["covered"]


def test_coverage_frame_ranges_of_one_clip_and_bad_input(tmp_path, capsys):
    angles = np.concatenate([np.linspace(1.2, 2.0, 20), np.linspace(-0.6, -0.2, 10)])
    clip = make_clip(tmp_path / "clip", upper_body(30, angles))
    out = tmp_path / "r"
    assert (
        main(
            [
                "coverage",
                "--reference",
                str(clip.root),
                "--driving",
                str(clip.root),
                "--reference-frames",
                ":2/3",
                "--driving-frames",
                "2/3:",
                "-o",
                str(out),
                "--normalize",
                "none",
                "--conf-thresh",
                "0.05",
            ]
        )
        == 0
    )  # the old spellings still work
    s = json.loads((out / "summary.json").read_text())
    assert s["reference_frames"] == [0, 20] and s["driving_frames"] == [20, 30]
    assert s["share_all_limbs_covered"] == 0.0
    frames = json.loads((out / "coverage.json").read_text())["frames"]
    assert frames[0]["frame"] == 20 and all(
        0 <= v < 20 for v in frames[0]["nearest_reference"].values() if v >= 0
    )
    assert main(["coverage", "--reference", str(clip.root), "--driving", str(tmp_path / "nope")]) != 0
    assert "clip folder not found" in capsys.readouterr().err
    assert (
        main(["coverage", "--reference", str(clip.root), "--driving", str(clip.root), "--gamma", "1,2"]) != 0
    )


@pytest.mark.slow
def test_coverage_carphone_last_third_against_first_two(carphone_clip, tmp_path, capsys):
    out = tmp_path / "carphone_coverage"
    rc = main(
        [
            "coverage",
            "--reference",
            str(carphone_clip.root),
            "--driving",
            str(carphone_clip.root),
            "--reference-frames",
            ":2/3",
            "--driving-frames",
            "2/3:",
            "-o",
            str(out),
        ]
    )
    assert rc == 0
    print(capsys.readouterr().out)
    s = json.loads((out / "summary.json").read_text())
    n = carphone_clip.n_frames
    assert s["driving_frames"] == [round(2 * n / 3), n] and s["n_frames_with_pose"] > 0.8 * s["n_frames"]
    assert s["distance_mean"] is not None and np.isfinite(s["distance_mean"])
    img = read_image(out / "coverage.png")
    assert img.ndim == 3 and img.shape[2] == 3 and img.shape[0] >= 400 and img.shape[1] >= 600
    assert img.std() > 10  # not blank
