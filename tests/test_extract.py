"""Extraction on real footage: carphone, astronaut; determinism and resume after SIGKILL; gaps, crops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from reenactor.extract import choose_crop, crop_resize, extract, fill_gaps
from reenactor.pose import smoothing
from reenactor.pose.skeleton import J

PER_FRAME = {
    "frames": ((128, 128, 3), np.uint8),
    "body": ((25, 3), np.float32),
    "face": ((68, 3), np.float32),
    "hand_left": ((21, 3), np.float32),
    "hand_right": ((21, 3), np.float32),
    "mask": ((128, 128), np.uint8),
    "face_box": ((4,), np.float32),
    "person": ((), np.bool_),
    "detected": ((), np.bool_),
    "pose_raw": ((33, 4), np.float32),
    "face_raw": ((478, 3), np.float32),
    "hand_left_raw": ((21, 3), np.float32),
    "hand_right_raw": ((21, 3), np.float32),
}


def test_carphone_clip_contents(carphone_clip):
    clip = carphone_clip
    assert clip.n_frames == 120 and clip.size == (128, 128)
    for name, (shape, dtype) in PER_FRAME.items():
        a = clip.load(name)
        assert a.shape == (120, *shape), name
        assert a.dtype == dtype, name
    person = clip.person_present()
    assert person.sum() >= 115
    body = clip.load("body")[person]
    for j in ("Nose", "RShoulder", "LShoulder"):
        pts = body[:, J[j]]
        assert (pts[:, 2] > 0.5).mean() > 0.95, j
        inside = (pts[:, 0] >= 0) & (pts[:, 0] < 128) & (pts[:, 1] >= 0) & (pts[:, 1] < 128)
        assert inside.all(), j
    face = clip.load("face")
    assert face.shape[1] == 68 and (face[person][:, :, 2] > 0).all()
    # The face points lie inside the face box and the nose sits on the person mask and the face box.
    fb = clip.load("face_box")[person]
    f = face[person]
    assert (f[:, :, 0] >= fb[:, None, 0] - 1e-3).all() and (f[:, :, 0] <= fb[:, None, 2] + 1e-3).all()
    nose = body[:, J["Nose"], :2].round().astype(int)
    mask = clip.load("mask")[person]
    assert np.mean(mask[np.arange(len(nose)), nose[:, 1], nose[:, 0]] > 128) > 0.95
    # Anatomy: eyes above the mouth, the subject's right eye on the image's left (frontal talking head).
    assert (f[:, 36, 1] < f[:, 62, 1]).all() and (f[:, 36, 0] < f[:, 45, 0]).mean() > 0.95
    m = clip.manifest
    assert m["fps"] == pytest.approx(29.97, abs=0.01)
    assert m["crop"]["mode"] == "person" and len(m["crop"]["box"]) == 4
    st = m["stages"]["extract"]
    assert st["status"] == "done" and st["frames"] == 120
    assert st["frames_detected"] + st["frames_interpolated"] + st["frames_flagged"] == 120
    assert m["backend"] == "mediapipe-holistic" and m["source_sha256"]
    # Frames are the real video, cropped: not blank, and they vary over time.
    frames = clip.frames()
    assert frames[0].std() > 20 and np.abs(frames[0].astype(int) - frames[-1]).mean() > 2


def test_rerun_is_skipped(carphone_clip, carphone_path):
    before = (carphone_clip.root / "body.npy").stat().st_mtime_ns
    msgs = []
    store = extract(carphone_path, carphone_clip.root, size=128, progress=False, log=msgs.append)
    assert "nothing to do" in msgs[0]
    assert (store.root / "body.npy").stat().st_mtime_ns == before


def test_other_options_need_force(carphone_clip, carphone_path):
    from reenactor.errors import InputError

    with pytest.raises(InputError, match="--force"):
        extract(carphone_path, carphone_clip.root, size=64, progress=False)


def test_mediapipe_is_bit_deterministic(carphone_path):
    from reenactor.io.video import iter_frames
    from reenactor.pose.holistic import HolisticExtractor

    frames = list(iter_frames(carphone_path, stop=6))
    runs = []
    for _ in range(2):
        with HolisticExtractor(static_image_mode=False) as ex:
            runs.append([ex.process(f) for f in frames])
    with HolisticExtractor(static_image_mode=False) as ex:  # reset() == a fresh extractor
        ex.process(frames[3])
        ex.reset()
        runs.append([ex.process(f) for f in frames])
    for r in runs[1:]:
        for a, b in zip(runs[0], r):
            for k in ("pose_raw", "face_raw", "mask", "body", "face"):
                assert np.array_equal(a[k], b[k]), k


_KILLER = """
import os, signal, sys
import reenactor.extract as E
orig = E._save_chunk
count = [0]
def save_then_die(path, recs):
    orig(path, recs)
    count[0] += 1
    if count[0] == 2:
        os.kill(os.getpid(), signal.SIGKILL)
E._save_chunk = save_then_die
E.extract(sys.argv[1], sys.argv[2], size=64, chunk=16, progress=False, workers=2)
"""


@pytest.mark.slow
def test_killed_run_resumes_to_identical_arrays_whatever_the_threads(tmp_path, carphone_path):
    killed = tmp_path / "killed"
    p = subprocess.run(
        [sys.executable, "-c", _KILLER, str(carphone_path), str(killed)], capture_output=True, timeout=120
    )
    assert p.returncode == -signal.SIGKILL
    partial = tmp_path / "killed.partial"
    assert not killed.exists() and partial.is_dir()
    saved = sorted((partial / ".chunks").glob("chunk_*.npz"))
    assert len(saved) == 2  # two detection threads: which two chunks finished first may vary
    # Drop the lower one, so that the resumed run must redo an early chunk and skip a later finished one.
    saved[0].unlink()
    msgs = []
    t0 = time.time()
    resumed = extract(carphone_path, killed, size=64, chunk=16, progress=False, log=msgs.append, workers=1)
    assert any("resuming" in m for m in msgs)
    assert not partial.exists() and not (killed / ".chunks").exists()
    fresh = extract(
        carphone_path, tmp_path / "fresh", size=64, chunk=16, progress=False, log=lambda *_: None, workers=3
    )
    assert time.time() - t0 < 100
    assert resumed.arrays() == fresh.arrays()
    for name in fresh.arrays():
        assert np.array_equal(resumed.load(name), fresh.load(name)), name
    a, b = (
        json.loads((killed / "manifest.json").read_text()),
        json.loads((tmp_path / "fresh/manifest.json").read_text()),
    )
    assert a["crop"] == b["crop"] and a["stages"]["extract"]["frames"] == b["stages"]["extract"]["frames"]


def test_image_static_mode_with_smoothing_keeps_raw(tmp_path):
    from reenactor.samples import sample_path

    clip = extract(
        sample_path("astronaut"),
        tmp_path / "astro",
        size=64,
        smoothing="one_euro",
        crop="full",
        progress=False,
        log=lambda *_: None,
    )
    assert clip.n_frames == 1 and clip.manifest["is_image"]
    assert clip.person_present().all()
    assert clip.manifest["crop"]["box"] == [0, 0, 512, 512]
    assert clip.has("body_unsmoothed") and clip.has("face_unsmoothed")
    body = clip.load("body")
    nose = body[0, J["Nose"]]
    assert nose[2] > 0.5 and 10 < nose[0] < 54 and 5 < nose[1] < 40
    # --force replaces the clip with one of other options.
    clip2 = extract(
        sample_path("astronaut"),
        tmp_path / "astro",
        size=32,
        crop="full",
        force=True,
        progress=False,
        log=lambda *_: None,
    )
    assert clip2.size == (32, 32) and not clip2.has("body_unsmoothed")
    assert np.allclose(clip2.load("body")[0, :, :2], body[0, :, :2] / 2, atol=1e-3)
    assert not any(p.name.startswith("astro.") for p in tmp_path.iterdir())


# ------------------------------------------------------------------------------------ pure functions
def test_fill_gaps_interpolates_short_and_flags_long():
    t = 14
    present = np.ones(t, bool)
    present[[3, 4]] = False  # short gap: filled
    present[7:12] = False  # 5 frames: longer than max_gap=3
    present[0] = False  # leading: cannot interpolate
    kp = np.zeros((t, 2, 3), np.float32)
    kp[present, :, 0] = np.arange(t, dtype=np.float32)[present, None] * 2
    kp[present, :, 2] = 1
    mask = np.zeros((t, 2, 2), np.uint8)
    mask[present] = 200
    out = fill_gaps(present, [kp, mask], max_gap=3)
    assert out[3] and out[4] and not out[0] and not out[7:12].any()
    assert kp[3, 0, 0] == pytest.approx(6.0) and kp[4, 1, 0] == pytest.approx(8.0)
    assert kp[3, 0, 2] == 1.0 and mask[4, 0, 0] == 200
    assert (kp[8] == 0).all()
    assert not fill_gaps(present, [kp.copy()], max_gap=0)[3]


def test_choose_crop_and_crop_resize():
    # Person box that fits: the square with margin is moved inside the frame.
    x0, y0, side = choose_crop((100, 200), np.array([150.0, 20, 190, 80]), "person", 0.25)
    assert side == 90 and x0 == 200 - 90 and 0 <= y0 <= 10
    # Margin would exceed the short side but the box fits: shrink to the short side.
    x0, y0, side = choose_crop((100, 200), np.array([60.0, 5, 140, 95]), "person", 0.25)
    assert side == 100 and y0 == 0
    # Full: letterbox square around the frame.
    assert choose_crop((100, 200), None, "full", 0.1) == (0, -50, 200)
    img = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
    sq = crop_resize(img, 0, -1, 8, 8)
    assert sq.shape == (8, 8, 3) and (sq[0] == 0).all() and (sq[7] == 0).all()
    assert np.array_equal(sq[1:7], img)
    assert crop_resize(img, 2, 1, 4, 2).shape == (2, 2, 3)


def test_smoothing_reduces_jitter_and_respects_gaps():
    rng = np.random.default_rng(0)
    t = 60
    truth = np.stack([np.linspace(10, 50, t), np.full(t, 30.0)], -1)
    kp = np.zeros((t, 1, 3), np.float32)
    kp[:, 0, :2] = truth + rng.normal(0, 1.5, (t, 2))
    kp[:, 0, 2] = 1
    kp[30:33] = 0  # a gap: never pulled towards (0, 0)
    for method in ("one_euro", "savgol"):
        sm = smoothing.smooth(kp, method, fps=30)
        ok = kp[:, 0, 2] > 0
        err_raw = np.abs(kp[ok, 0, :2] - truth[ok]).mean()
        err_sm = np.abs(sm[ok, 0, :2] - truth[ok]).mean()
        assert err_sm < 0.8 * err_raw, method
        assert (sm[30:33] == 0).all() and np.array_equal(sm[:, :, 2], kp[:, :, 2])
    with pytest.raises(ValueError):
        smoothing.smooth(kp, "kalman")


def test_extract_help_lists_every_option():
    out = subprocess.run(
        [sys.executable, "-m", "reenactor", "extract", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert out.returncode == 0
    for opt in (
        "--size",
        "--crop",
        "--max-gap",
        "--smoothing",
        "--mode",
        "--force",
        "--chunk",
        "--margin",
        "--workers",
    ):
        assert opt in out.stdout


def test_every_bundled_sample_resolves_to_a_readable_file():
    """`sample:NAME` works offline for every listed sample (they ship inside installed wheels); unknown is an error."""
    from reenactor.errors import InputError
    from reenactor.io.video import read_image
    from reenactor.samples import SAMPLES, resolve_input

    for name in SAMPLES:
        path = resolve_input(f"sample:{name}")
        assert path.is_file() and path.stat().st_size > 0, name
        if path.suffix in (".png", ".jpg"):
            assert read_image(path).shape[2] >= 3, name
    assert resolve_input("hopper").name == "grace_hopper.jpg"  # a bare name works when no such file exists
    with pytest.raises(InputError, match="unknown sample"):
        resolve_input("sample:nobody")
