"""Background plates: a synthetic clip with a moving square 'person' (the plates recover the true background
wherever some frame shows it), a frame the plate does not match, the stage's resume, and carphone."""

from __future__ import annotations

import numpy as np
import pytest

from reenactor.data import background as B
from reenactor.data.clipstore import ClipStore

T, H, W = 8, 48, 64


def _scene(seed: int = 0) -> np.ndarray:
    """A smooth, textured background (H, W, 3) uint8."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    rng = np.random.default_rng(seed)
    bg = np.stack(
        [
            60 + 2.0 * xx + 10 * np.sin(yy / 5),
            40 + 3.0 * yy + 8 * np.cos(xx / 7),
            120 + 30 * np.sin((xx + yy) / 9) + rng.normal(0, 2, (H, W)),
        ],
        -1,
    )
    return np.clip(bg, 0, 255).astype(np.uint8)


def _synthetic(tmp_path, always=True):
    """A white square moving left to right over the scene, and (``always``) a small block the person
    holds still in every frame (magenta) (never uncovered: only inpainting can fill it)."""
    bg = _scene()
    frames = np.repeat(bg[None], T, 0)
    masks = np.zeros((T, H, W), np.uint8)
    for t in range(T):
        x = 2 + t * 7
        frames[t, 14:30, x : x + 12] = 255
        masks[t, 14:30, x : x + 12] = 255
        if always:
            frames[t, 36:42, 28:34] = (255, 0, 255)
            masks[t, 36:42, 28:34] = 255
    clip = ClipStore.create(tmp_path / "clip", n_frames=T, fps=10.0, size=[H, W])
    clip.save("frames", frames, stage="extract")
    clip.save("mask", masks, stage="extract")
    clip.set_stage("extract", status="done")
    return clip, bg, frames, masks


def test_plates_recover_the_true_background_where_seen(tmp_path):
    clip, bg, frames, masks = _synthetic(tmp_path)
    per_frame, plate = B.add_background_stage(clip)
    assert per_frame.shape == (T, H, W, 3) and per_frame.dtype == np.uint8 and plate.shape == (H, W, 3)
    covers = np.stack([B.person_cover(m) for m in masks])
    seen = (~covers).any(0)
    assert 0.9 < seen.mean() < 1.0
    # the clip plate is the scene wherever some frame shows it
    assert np.array_equal(plate[seen], bg[seen])
    # each frame: the person gone, the scene where any frame showed it (including under this frame's person)
    for t in range(T):
        assert np.abs(per_frame[t][seen].astype(int) - bg[seen]).max() <= 1
        assert not (per_frame[t][masks[t] > 0] == 255).all(-1).any()  # no white person pixel left
    # never seen: inpainted, close to the smooth scene (far closer than the magenta block it replaces)
    err = np.abs(per_frame[:, ~seen].astype(int) - bg[~seen]).mean()
    block = np.abs(frames[:, ~seen].astype(int) - bg[~seen]).mean()
    assert err < 20 and err < block / 3
    st = ClipStore.open(clip.root).stage("background")
    assert st["status"] == "done" and st["frames_from_plate"] == T and st["frames_inpainted"] == 0
    assert st["seen_fraction"] == pytest.approx(seen.mean(), abs=1e-3)


def test_a_frame_the_plate_does_not_match_is_inpainted_on_its_own(tmp_path):
    clip, bg, frames, masks = _synthetic(tmp_path, always=False)
    frames = frames.copy()
    frames[5] = np.clip(frames[5].astype(int) + 60, 0, 255).astype(np.uint8)  # the light changed
    clip.save("frames", frames, stage="extract")
    per_frame, plate = B.add_background_stage(clip)
    st = clip.stage("background")
    assert st["frames_inpainted"] == 1 and st["frames_from_plate"] == T - 1
    # frame 5's plate keeps its own (brighter) light, around and under the person
    out5 = per_frame[5].astype(int)
    far = ~B.person_cover(masks[5])
    assert np.array_equal(out5[far], frames[5][far].astype(int))
    assert out5[masks[5] > 0].mean() > plate[masks[5] > 0].astype(int).mean() + 30
    # without a person a frame is its own plate; with no plate at all a frame is inpainted
    img, how, _ = B.frame_plate(frames[0], np.zeros((H, W), bool), plate)
    assert how == "frame" and np.array_equal(img, frames[0])
    img, how, _ = B.frame_plate(frames[0], B.person_cover(masks[0]), None)
    assert how == "inpaint" and not (img[masks[0] > 0] == 255).all(-1).any()


def test_stage_resumes_and_force_recomputes(tmp_path, monkeypatch):
    clip, *_ = _synthetic(tmp_path)
    first = [np.asarray(a).copy() for a in B.add_background_stage(clip)]

    def boom(*a, **k):
        raise AssertionError("recomputed")

    monkeypatch.setattr(B, "frame_plate", boom)
    again = B.add_background_stage(ClipStore.open(clip.root))  # done: the cached arrays
    assert all(np.array_equal(a, b) for a, b in zip(again, first, strict=True))
    with pytest.raises(AssertionError, match="recomputed"):
        B.add_background_stage(clip, force=True)
    # the interrupted forced run left the stage "running" and the old arrays in place: a plain run redoes it
    assert clip.stage("background")["status"] == "running" and clip.has("background")
    monkeypatch.undo()
    redo = B.add_background_stage(ClipStore.open(clip.root))
    assert all(np.array_equal(a, b) for a, b in zip(redo, first, strict=True))
    # other options: recomputed
    B.add_background_stage(clip, grow=0.1)
    assert clip.stage("background")["grow_px"] == B.grow_kernel((H, W), 0.1)


def test_background_plate_is_the_same_in_bands(monkeypatch):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (5, 20, 24, 3), dtype=np.uint8)
    masks = (rng.random((5, 20, 24)) < 0.5).astype(np.uint8) * 255
    whole = B.background_plate(frames, masks)
    monkeypatch.setattr(B, "_BAND_BYTES", 5 * 24 * 3 * 4 * 3)  # three rows per band
    banded = B.background_plate(frames, masks)
    assert np.array_equal(whole[0], banded[0]) and np.array_equal(whole[1], banded[1])


def test_stage_on_carphone(clip_copy):
    clip = clip_copy
    per_frame, plate = B.add_background_stage(clip)
    t, h, w = clip.n_frames, *clip.size
    assert per_frame.shape == (t, h, w, 3) and plate.shape == (h, w, 3)
    st = clip.stage("background")
    assert 0.3 < st["seen_fraction"] < 0.9 and st["frames_from_plate"] == t
    assert st["plate_mismatch_median"] < 0.1 and st["frames_inpainted"] == 0
    frames, masks = np.asarray(clip.load("frames")), np.asarray(clip.load("mask"))
    for f in (0, t // 2, t - 1):
        cover = B.person_cover(masks[f])
        # the frame itself away from the person; something else where the person was
        assert np.array_equal(per_frame[f][~cover], frames[f][~cover])
        person = masks[f] >= 128
        assert np.abs(per_frame[f][person].astype(int) - frames[f][person]).mean() > 20


def test_layout_command_runs_the_plates_stage(clip_copy, capsys):
    from reenactor.cli import main

    root = str(clip_copy.root)
    assert main(["layout", root, "--plates", "-q"]) == 0
    out = capsys.readouterr().out
    assert "background: computed" in out and "densepose" not in out and "layout:" not in out
    assert ClipStore.open(root).stage_done("background") and not ClipStore.open(root).stage("densepose")
    assert main(["layout", root, "--plates", "-q"]) == 0
    assert "background: done" in capsys.readouterr().out
    # --from makes the layout: asking only for the plates with it is a mistake, said before any work
    assert main(["layout", root, "--plates", "--from", root, "-q"]) == 2
    assert "--parsing" in capsys.readouterr().err


def test_clip_reference_uses_the_stored_plate(clip_copy):
    """``--background target`` with a CLIP:INDEX target composites over the background stage's plate of that
    frame (the scene seen behind the person in other frames), not over a one-frame inpainting."""
    from reenactor.reference import background_from_mask, load_reference

    clip = clip_copy
    before = load_reference(f"{clip.root}:40", clip.size[0])
    per_frame, _ = B.add_background_stage(clip)
    after = load_reference(f"{clip.root}:40", clip.size[0])
    assert np.array_equal(after.background, per_frame[40])
    assert np.array_equal(before.background, background_from_mask(before.image, before.mask))
    assert not np.array_equal(after.background, before.background)
