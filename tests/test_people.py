"""Several people in one video (reenactor.pose.people): tracks, the choice of one, extraction that follows it.

The real two-person video is carphone beside a copy of itself 30 frames ahead (352 x 144, 60 frames): the same
man on each half, so a pose found on the wrong person is caught by the half its keypoints lie on. Extraction on
whole frames (before the people pass) followed the left man up to frame 31 and the right one from frame 32, where
its second chunk of 32 began with a fresh tracker.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from reenactor.errors import InputError, NoPersonError
from reenactor.pose import people as P

N_FRAMES = 60
HALF = 176  # carphone's width: the left person is x < 176, the right one x >= 176


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def two_people(tmp_path_factory, carphone_path):
    """carphone | carphone 30 frames ahead, 60 frames at 29.97 fps."""
    from reenactor.io.video import iter_frames, write_video

    fr = list(iter_frames(carphone_path))
    frames = [
        np.ascontiguousarray(np.concatenate([fr[i], fr[(i + 30) % len(fr)]], 1)) for i in range(N_FRAMES)
    ]
    path = tmp_path_factory.mktemp("two") / "two_people.mp4"
    write_video(path, frames, fps=29.97)
    return path


def _extract(src, out, person, **kw):
    from reenactor.extract import extract

    return extract(src, out, size=64, chunk=32, person=person, progress=False, log=lambda *_: None, **kw)


@pytest.fixture(scope="module")
def side_clips(tmp_path_factory, two_people):
    """{"left": clip, "right": clip}, extracted with --person left / right, chunks of 32."""
    return {
        side: _extract(two_people, tmp_path_factory.mktemp(side) / "clip", side) for side in ("left", "right")
    }


@pytest.fixture(scope="module")
def left_clip(side_clips):
    return side_clips["left"]


def _source_x(clip, arr: np.ndarray) -> np.ndarray:
    """Stored x -> x in source pixels (the clip's crop box and scale)."""
    c = clip.manifest["crop"]
    return arr / c["scale"] + c["box"][0]


def _on_half(clip, side: str) -> tuple[float, float]:
    """(fraction of frames with a detected person, fraction of those whose nose and face are on ``side``)."""
    det = clip.load("detected")
    body, face = clip.load("body"), clip.load("face")
    nose = _source_x(clip, body[:, 0, 0])
    fx = _source_x(clip, face[:, :, 0].mean(1))
    has_face = face[:, 0, 2] > 0
    right = (nose >= HALF) & (~has_face | (fx >= HALF))
    ok = right if side == "right" else (nose < HALF) & (~has_face | (fx < HALF))
    return float(det.mean()), float(ok[det].mean()) if det.any() else 0.0


# ---------------------------------------------------------------------------------------------- real footage
def test_people_pass_finds_both(two_people):
    people = P.find_people(two_people)
    assert people.n_frames == N_FRAMES and len(people.tracks) == 2
    s = [people.summary(t) for t in people.tracks]
    assert s[0]["mean_centre"][0] < HALF <= s[1]["mean_centre"][0]
    assert all(x["coverage"] >= 0.95 and not x["static"] for x in s)
    # deterministic: the same video gives the same tracks
    again = P.find_people(two_people)
    assert json.dumps(again.to_json()["tracks"]) == json.dumps(people.to_json()["tracks"])


@pytest.mark.parametrize("side", ["left", "right"])
def test_extract_follows_the_chosen_person(side, side_clips):
    clip = side_clips[side]
    found, on_side = _on_half(clip, side)
    assert found >= 0.95 and on_side >= 0.95, (found, on_side)
    # no switch: every detected frame (both chunks of 32) is on the chosen half
    assert on_side == 1.0
    m = clip.manifest["person"]
    assert m["mode"] == side and m["following"] == (1 if side == "left" else 2)
    assert m["how"] == "crop around the track" and m["people_found"] == 2 and m["coverage"] >= 0.95
    for key in ("frames_without_box", "frames_not_found", "frames_flagged", "frames_other_person"):
        assert isinstance(m[key], list)
    assert clip.manifest["extract_params"]["person"] == side


def test_crop_mode_resumes_identically(two_people, left_clip, tmp_path, monkeypatch):
    """A run killed after its first chunk, re-run, gives the arrays of an uninterrupted run."""
    import reenactor.extract as E

    real = E._save_chunk

    def save(path, recs):
        if path.name.endswith("00001.npz"):
            raise KeyboardInterrupt
        real(path, recs)

    monkeypatch.setattr(E, "_save_chunk", save)
    with pytest.raises(KeyboardInterrupt):
        _extract(two_people, tmp_path / "clip", "left", workers=1)
    work = tmp_path / "clip.partial"
    assert (work / "people.json").exists() and (work / ".chunks" / "chunk_00000.npz").exists()
    monkeypatch.setattr(E, "_save_chunk", real)
    msgs = []
    from reenactor.extract import extract

    clip = extract(
        two_people, tmp_path / "clip", size=64, chunk=32, person="left", progress=False, log=msgs.append
    )
    assert any("resuming" in m for m in msgs)
    for k in ("body", "face", "hand_left", "pose_raw", "mask", "frames", "detected"):
        assert np.array_equal(clip.load(k), left_clip.load(k)), k


def test_auto_on_two_people_follows_the_largest_and_says_so(two_people, side_clips, tmp_path):
    """auto bets on one person while the people pass runs alongside; with two it stops, says which one it
    follows (once) and extracts it on crops: the arrays of --person with that track."""
    from reenactor.extract import extract

    msgs = []
    clip = extract(two_people, tmp_path / "clip", size=64, chunk=32, progress=False, log=msgs.append)
    said = [m for m in msgs if m.startswith("people:")]
    m = clip.manifest["person"]
    assert m["mode"] == "auto" and m["following"] in (1, 2) and m["how"] == "crop around the track"
    assert len(said) == 1 and "2 people found" in said[0] and f"following track {m['following']}" in said[0]
    same = side_clips["left" if m["following"] == 1 else "right"]
    for k in ("body", "face", "pose_raw", "mask", "frames", "detected"):
        assert np.array_equal(clip.load(k), same.load(k)), k


def test_bad_track_id_is_a_clear_error(two_people, tmp_path, capsys):
    with pytest.raises(InputError, match=r"--person 7: no such track; the tracks found are 1, 2"):
        _extract(two_people, tmp_path / "clip", "7")
    assert not (tmp_path / "clip").exists() and not (tmp_path / "clip.partial").exists()
    from reenactor.cli import main

    rc = main(["extract", str(two_people), "-o", str(tmp_path / "c2"), "--person", "9", "-q"])
    assert rc == 2 and "no such track" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["extract", str(two_people), "-o", str(tmp_path / "c3"), "--person", "middle"])
    assert "--person: must be one of auto" in capsys.readouterr().err


def test_people_command(two_people, tmp_path, capsys):
    from reenactor.cli import main
    from reenactor.io.video import read_image

    out = tmp_path / "people"
    assert main(["people", str(two_people), "-o", str(out), "-q", "--per-track", "4"]) == 0
    text = capsys.readouterr().out
    assert "2 track(s)" in text and "auto:" in text
    tracks = json.loads((out / "tracks.json").read_text())
    assert [t["id"] for t in tracks["tracks"]] == [1, 2] and tracks["auto"] in (1, 2)
    for t in tracks["tracks"]:
        assert t["frames_present"] >= 0.95 * N_FRAMES and len(t["mean_centre"]) == 2
        sheet = read_image(out / t["contact_sheet"])
        assert sheet.ndim == 3 and sheet.shape[1] > 3 * sheet.shape[0] // 2  # several crops side by side
    assert read_image(out / "overview.png").shape[:2] == (144, 2 * HALF)
    # the same folder again needs --force
    assert main(["people", str(two_people), "-o", str(out), "-q"]) == 2
    assert "pass --force" in capsys.readouterr().err


def test_nobody(blank_video, tmp_path, capsys):
    from reenactor.cli import main

    assert main(["people", str(blank_video), "-o", str(tmp_path / "p"), "-q"]) == 2
    assert "no person found" in capsys.readouterr().err
    with pytest.raises(NoPersonError, match="people detector found no person"):
        _extract(blank_video, tmp_path / "clip", "left")


def test_single_person_auto_is_unchanged(carphone_clip, carphone_path, tmp_path, monkeypatch):
    """carphone (one person) under auto: no crop, and the arrays of an extraction without the people pass (the
    behaviour before it existed) - identical, tolerance 0."""
    m = carphone_clip.manifest["person"]
    assert m["mode"] == "auto" and m["following"] is None and m["how"] == "whole frame"
    assert m["people_found"] == 1 and "person" not in carphone_clip.manifest["extract_params"]
    import reenactor.extract as E

    def no_people_pass(src, info, work, opts, progress, log, ram, workers):  # as before the people pass
        ppl = P.People(info.n_frames, info.height, info.width, info.fps, 1, [])
        return P.Selection(ppl, "auto", None, "none", None), -1

    monkeypatch.setattr(E, "_people_alongside", no_people_pass)
    from reenactor.extract import extract

    before = extract(carphone_path, tmp_path / "clip", size=128, progress=False, log=lambda *_: None)
    for k in ("frames", "body", "face", "hand_left", "hand_right", "mask", "face_box", "person", "detected"):
        assert np.array_equal(before.load(k), carphone_clip.load(k)), k
    for k in ("pose_raw", "face_raw", "hand_left_raw", "hand_right_raw"):
        assert np.array_equal(before.load(k), carphone_clip.load(k)), k


def test_driving_video_follows_the_person(two_people):
    from reenactor.driving import open_driving

    src = open_driving(str(two_people), max_frames=24, person="right")
    try:
        src.prepare(progress=False)
        b = src.bodies()
        seen = b[:, 0, 2] > 0
        assert seen.mean() >= 0.95 and (b[seen, 0, 0] >= HALF).all()
        assert src.selection.track.id == 2
        frame, rec = next(iter(src.iter_frames(keys=["body"])))
        assert frame.shape == (144, 2 * HALF, 3) and "rejected" not in rec
    finally:
        src.close()


def test_transfer_and_extract_take_the_option():
    import argparse

    from reenactor.commands import extract as ce
    from reenactor.commands import transfer as ct
    from reenactor.transfer import TransferOptions

    assert TransferOptions().person == "auto"
    for mod in (ce, ct):
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        mod.add_parser(sub, **({"detailed": False} if mod is ct else {}))
        args = parser.parse_args(
            [
                mod.__name__.rsplit(".", 1)[1],
                *(["x"] if mod is ce else ["--driving", "x"]),
                "-o",
                "y.mp4",
                "--person",
                "center",
            ]
        )
        assert args.person == "centre"


# ---------------------------------------------------------------------------------------------- no MediaPipe
def _track(tid, frames, box, static=False):
    f = np.asarray(frames)
    boxes = np.tile(np.asarray(box, float), (len(f), 1))
    heads = boxes.copy()
    heads[:, 3] = heads[:, 1] + (heads[:, 3] - heads[:, 1]) / 4
    return P.Track(tid, f, boxes, heads, np.full(len(f), 0.9), static=static)


def _people(*tracks, n=60, hw=(144, 352)):
    return P.People(n_frames=n, height=hw[0], width=hw[1], fps=30.0, stride=6, tracks=list(tracks))


def test_parse_person():
    assert [P.parse_person(v) for v in ("AUTO", "center", "left", " 3 ")] == ["auto", "centre", "left", "3"]
    for bad in ("0", "-1", "middle", ""):
        with pytest.raises(ValueError):
            P.parse_person(bad)


def test_choose_track_modes():
    a = _track(1, range(0, 60, 6), [10, 20, 90, 140])  # left, 120 tall, whole clip
    b = _track(2, range(0, 60, 6), [250, 60, 300, 140])  # right, smaller
    c = _track(3, range(0, 12, 6), [150, 0, 250, 144])  # centre, tallest, briefly
    s = _track(4, range(0, 60, 6), [160, 100, 200, 140], static=True)
    ppl = _people(a, b, c, s)
    assert P.choose_track(ppl, "auto")[0].id == 1
    assert P.choose_track(ppl, "left")[0].id == 1 and P.choose_track(ppl, "right")[0].id == 2
    assert P.choose_track(ppl, "largest")[0].id == 1  # c is present too briefly to compete
    assert P.choose_track(ppl, "centre")[0].id == 2
    assert P.choose_track(ppl, "4")[0].id == 4  # a static track by its id
    with pytest.raises(InputError, match=r"tracks found are 1, 2, 3, 4 \(static\)"):
        P.choose_track(ppl, "5")
    assert P.choose_track(_people(a, s), "auto")[0] is None  # one person (and a static one): whole frame
    assert P.choose_track(_people(), "auto")[0] is None
    with pytest.raises(NoPersonError):
        P.choose_track(_people(), "largest")


def test_dense_boxes_interpolate_and_hold():
    t = P.Track(
        1,
        np.array([6, 12, 54]),
        np.array([[0, 0, 10, 10], [6, 0, 16, 10], [6, 0, 16, 10.0]]),
        np.zeros((3, 4)),
        np.ones(3),
    )
    boxes, _, observed = t.dense(60, stride=6, max_gap=12)
    assert observed.sum() == 3 and np.allclose(boxes[9], [3, 0, 13, 10])
    assert np.allclose(boxes[0], boxes[6])  # held to the start (closer than one stride)
    assert np.isnan(boxes[30, 0])  # 42 frames without it: not bridged
    assert not np.isnan(boxes[59, 0]) and P.ranges(np.isnan(boxes[:, 0])) == [[16, 50]]


def test_tracker_keeps_ids_through_a_crossing_and_a_gap():
    """Two people walking towards each other and past (box overlap, then apart), one unseen for a while."""
    hw, stride = (200, 400), 2
    tr = P.PeopleTracker(hw, fps=10.0, stride=stride)
    frame = np.zeros((*hw, 3), np.uint8)

    def det(cx):  # a detector row for a person centred at cx: head box and body circle
        r = 50.0
        return [0.9, cx - 8, 60, cx + 8, 76, cx, 110, cx, 110 - r, cx, 80, cx, 40]

    for t in range(0, 40, stride):
        a, b = 50 + 7 * t, 330 - 7 * t
        rows = [det(a)] + ([det(b)] if not 10 <= t < 16 else [])  # b unseen for 0.6 s
        tr.update(t, np.asarray(rows), frame)
    tracks = tr.finish()
    assert len(tracks) == 2
    first = {t.id: t.boxes[0][0] < 200 for t in tracks}
    for t in tracks:
        xs = (t.boxes[:, 0] + t.boxes[:, 2]) / 2
        assert (np.diff(xs) > 0).all() if first[t.id] else (np.diff(xs) < 0).all()  # never swapped


def test_crop_plan_maps_back_to_frame_pixels():
    me = _track(1, range(0, 60, 6), [40, 20, 120, 140])
    other = _track(2, range(0, 60, 6), [230, 20, 310, 140])
    plan = P.CropPlan(_people(me, other), me)
    frame = np.full((144, 352, 3), 200, np.uint8)
    img = plan.crop(frame, 10)
    assert img.shape == (plan.work, plan.work, 3)

    class Fake:  # "finds" a person whose nose is at the crop's centre, with a mask over the whole crop
        def __init__(self, nose_xy):
            self.nose = nose_xy

        def process(self, image):
            rec = P.empty_record(image.shape[:2])
            rec["person"] = True
            rec["body"][:, :2] = self.nose
            rec["body"][:, 2] = 0.9
            rec["pose_raw"][:, :2] = self.nose
            rec["mask"][:] = 255
            return rec

    c = plan.work / 2
    rec = plan.process(Fake((c, c)), P.CropItem(10, img), (72, 176))
    assert not rec["rejected"] and rec["person"]
    assert np.allclose(rec["body"][0, :2], [80, 80], atol=1.0)  # the box's centre, in frame pixels
    m = rec["mask"]
    assert m.shape == (72, 176) and m[40, 40] == 255
    assert m[:, 90:].max() == 0  # nothing where the crop does not reach
    # a pose whose head is on the other person: dropped
    s, x0, y0 = plan.scale(10), plan.x0[10], plan.y0[10]
    on_other = ((270 - x0) * s, (35 - y0) * s)
    rec = plan.process(Fake(on_other), P.CropItem(10, img), (72, 176))
    assert rec["rejected"] and not rec["person"] and not rec["body"].any()
    # no box for the track: no crop, an empty record
    assert plan.process(Fake((c, c)), P.CropItem(10, None), (72, 176))["person"] is False
