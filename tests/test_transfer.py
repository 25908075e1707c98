"""reenactor.transfer: the streaming pipeline, its normalizer file, side-by-side, bad models and inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _cloning_fixtures import _one_torch_thread, export_untrained, make_clip  # noqa: F401 - autouse fixture
from reenactor.driving import NpyRows, _Spool
from reenactor.errors import CheckpointError, InputError, NoPersonError
from reenactor.io.video import iter_frames, probe, write_video
from reenactor.modelfile import open_model
from reenactor.transfer import transfer


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("transfer")
    return (
        root,
        make_clip(root / "target", n=12),
        make_clip(root / "driving", n=10, phase=1.0, scale=0.8, seed=1),
    )


@pytest.fixture(scope="module")
def cloning_model(clips):
    root, target, _ = clips
    return export_untrained("cloning", root / "cloning.safetensors", [target])


def test_transfer_clip_writes_video_and_reusable_normalizer(clips, cloning_model, tmp_path, logged):
    _, target, driving = clips
    got: list[np.ndarray] = []
    out = tmp_path / "out.mp4"
    res = transfer(
        cloning_model, driving.root, out, normalization="auto", progress=False, frame_sink=got.append
    )
    assert res.n_frames == driving.n_frames == len(got)
    assert probe(out).n_frames == driving.n_frames and (probe(out).width, probe(out).height) == (32, 32)
    saved = json.loads(res.normalizer_path.read_text())
    assert saved["normalizer"]["kind"] == "edn_upper"  # no feet in the synthetic clips
    # the driving figure is 0.8x the target's: the fitted scale undoes it
    assert saved["normalizer"]["params"]["scale"] == pytest.approx(1.25, rel=0.02)
    assert "coverage" in logged()
    # reusing the saved normalizer gives the same frames
    again: list[np.ndarray] = []
    transfer(
        cloning_model,
        driving.root,
        tmp_path / "again.mp4",
        normalizer=res.normalizer_path,
        progress=False,
        frame_sink=again.append,
    )
    assert all(np.array_equal(a, b) for a, b in zip(got, again))


def test_batched_equals_frame_by_frame(clips, cloning_model, tmp_path):
    _, _, driving = clips
    a: list[np.ndarray] = []
    b: list[np.ndarray] = []
    transfer(
        cloning_model, driving.root, tmp_path / "a.mp4", batch_size=4, progress=False, frame_sink=a.append
    )
    transfer(
        cloning_model, driving.root, tmp_path / "b.mp4", batch_size=1, progress=False, frame_sink=b.append
    )
    assert len(a) == len(b) == driving.n_frames
    assert max(int(np.abs(x.astype(int) - y.astype(int)).max()) for x, y in zip(a, b)) <= 1


def test_side_by_side_has_three_panels(clips, cloning_model, tmp_path):
    _, _, driving = clips
    out = tmp_path / "sbs.mp4"
    transfer(cloning_model, driving.root, out, side_by_side=True, normalization="none", progress=False)
    info = probe(out)
    assert (info.width, info.height) == (96, 32)
    first = next(iter_frames(out))
    assert first[:, 32:64].max() > 100  # the pose panel shows a coloured skeleton


def test_transfer_from_a_video_file_runs_pose_extraction(clips, cloning_model, tmp_path):
    from reenactor.samples import sample_path

    a: list[np.ndarray] = []
    b: list[np.ndarray] = []
    seen: list[tuple] = []
    res = transfer(
        cloning_model,
        sample_path("carphone"),
        tmp_path / "v.mp4",
        max_frames=6,
        progress=False,
        frame_sink=a.append,
    )  # batched: the keypoints come from the spool, no second decode
    assert res.n_frames == 6 and res.seconds["poses"] > 0
    transfer(
        cloning_model,
        sample_path("carphone"),
        tmp_path / "w.mp4",
        max_frames=6,
        progress=False,
        frame_sink=b.append,
        driving_sink=lambda fr, rec: seen.append((fr.shape, set(rec))),
    )
    assert max(int(np.abs(x.astype(int) - y.astype(int)).max()) for x, y in zip(a, b)) <= 1
    # a driving_sink gets every decoded frame with its whole record
    assert len(seen) == 6 and seen[0][0] == (144, 176, 3) and {"body", "face_raw", "pose_raw"} <= seen[0][1]


def test_video_poses_in_parallel_chunks_come_back_in_order(carphone_path, monkeypatch):
    """The driving video's poses: chunks on two MediaPipe graphs give the same records, in frame order, as one
    graph (each chunk starts from a fresh tracker either way), and as `reenactor extract` stores them."""
    import reenactor.driving as T

    monkeypatch.setattr(T, "POSE_CHUNK", 8)
    runs = []
    for workers in (1, 2):
        src = T.VideoSource(carphone_path, max_frames=20, workers=workers)
        try:
            src.prepare(progress=False)
            assert len(src) == 20
            runs.append((src.bodies(), np.stack([src._spool.record(t)["face_raw"] for t in range(20)])))  # noqa: SLF001
        finally:
            src.close()
    assert (
        np.array_equal(runs[0][0], runs[1][0]) and runs[0][0][:, 0, 2].min() > 0.5
    )  # nose seen in every frame
    assert (
        np.array_equal(runs[0][1], runs[1][1]) and np.abs(np.diff(runs[0][1][:, 1, 0])).max() < 10
    )  # in order


def test_video_without_a_person_is_one_clear_error(cloning_model, tmp_path):
    video = tmp_path / "blank.mp4"
    write_video(video, [np.full((64, 64, 3), 128, np.uint8)] * 4, fps=10)
    with pytest.raises(NoPersonError, match="no person"):
        transfer(cloning_model, video, tmp_path / "o.mp4", progress=False)
    assert not (tmp_path / "o.mp4").exists()


def test_corrupt_and_foreign_models_give_one_clear_error(clips, cloning_model, tmp_path):
    _, _, driving = clips
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(cloning_model.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        transfer(bad, driving.root, tmp_path / "o.mp4", progress=False)
    with pytest.raises(CheckpointError, match="trained with method 'cloning'"):
        open_model(cloning_model, method="nearest_neighbor")
    # a model file naming a method this reenactor does not have
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(cloning_model), framework="pt") as f:
        md = dict(f.metadata())
    md["method"] = "no_such_method"
    other = tmp_path / "other.safetensors"
    save_file(load_file(str(cloning_model)), str(other), metadata=md)
    with pytest.raises(CheckpointError, match="no_such_method"):
        transfer(other, driving.root, tmp_path / "o.mp4", progress=False)
    assert not (tmp_path / "o.mp4").exists()


def test_cli_reports_one_error_line(clips, cloning_model, tmp_path, capsys):
    from reenactor.cli import main

    _, _, driving = clips
    rc = main(
        [
            "transfer",
            "--model",
            str(tmp_path / "missing.safetensors"),
            "--driving",
            str(driving.root),
            "-o",
            str(tmp_path / "o.mp4"),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error:") and "missing.safetensors" in err and "Traceback" not in err
    rc = main(
        [
            "transfer",
            "--model",
            str(cloning_model),
            "--method",
            "pix2pix",
            "--driving",
            str(driving.root),
            "-o",
            str(tmp_path / "o.mp4"),
            "--no-progress",
        ]
    )
    assert rc == 2 and "cloning" in capsys.readouterr().err


def test_bad_normalization_and_driving(clips, cloning_model, tmp_path):
    with pytest.raises(InputError, match="normalization"):
        transfer(cloning_model, clips[2].root, tmp_path / "o.mp4", normalization="bogus", progress=False)
    with pytest.raises(InputError, match="not found"):
        transfer(cloning_model, tmp_path / "nope.mp4", tmp_path / "o.mp4", progress=False)


def test_row_readers_roundtrip(tmp_path):
    a = np.random.default_rng(0).normal(size=(7, 5, 3)).astype(np.float32)
    np.save(tmp_path / "a.npy", a)
    rows = NpyRows(tmp_path / "a.npy")
    assert len(rows) == 7 and all(np.array_equal(rows[t], a[t]) for t in range(7))
    rows.close()
    sp = _Spool(tmp_path)
    for t in range(7):
        sp.append({"body": a[t], "person": np.bool_(t % 2), "mask": np.zeros((9, 9), np.uint8)})
    sp.finish()
    assert "mask" not in sp.fields and np.array_equal(sp.column("body"), a)
    assert sp.record(3)["person"] and np.array_equal(sp.record(4)["body"], a[4])
    assert set(sp.record(2, keys=("body", "face"))) == {"body"}  # only the fields asked for (that exist)
    sp.close()


def test_pipelined_equals_serial_and_surfaces_errors(clips, cloning_model, tmp_path):

    _, _, driving = clips
    a: list[np.ndarray] = []
    b: list[np.ndarray] = []
    transfer(
        cloning_model,
        driving.root,
        tmp_path / "a.mp4",
        batch_size=3,
        pipeline=True,
        progress=False,
        frame_sink=a.append,
    )
    transfer(
        cloning_model,
        driving.root,
        tmp_path / "b.mp4",
        batch_size=3,
        pipeline=False,
        progress=False,
        frame_sink=b.append,
    )
    assert len(a) == len(b) == driving.n_frames and all(np.array_equal(x, y) for x, y in zip(a, b))

    def boom(_frame):
        raise RuntimeError("sink failed")

    tm = open_model(cloning_model)
    with pytest.raises(RuntimeError, match="sink failed"):
        transfer(tm, driving.root, tmp_path / "c.mp4", batch_size=2, progress=False, frame_sink=boom)
    assert not (tmp_path / "c.mp4").exists()


def test_body_target_plays_the_target_poses_whatever_the_driver(clips, cloning_model, tmp_path, logged):
    root, target, driving = clips
    held: dict[str, list[np.ndarray]] = {}
    for name, drv in (("a", driving), ("b", target)):
        held[name] = []
        res = transfer(
            cloning_model,
            drv.root,
            tmp_path / f"{name}.mp4",
            body="target",
            progress=False,
            frame_sink=held[name].append,
        )
        assert res.n_frames == drv.n_frames and res.normalizer_path is None
        assert not (tmp_path / f"{name}.normalizer.json").exists()
    out = logged()
    assert "target's own 12 training poses" in out and "coverage" not in out
    # cloning reads keypoints only: with the body held, two different drivers give the same frames (up to the
    # shorter video's last one, which has no next pose for the window mean to draw it again)
    n = min(len(held["a"]), len(held["b"])) - 1
    assert n > 2 and all(np.array_equal(x, y) for x, y in zip(held["a"][:n], held["b"][:n]))
    own: list[np.ndarray] = []
    transfer(cloning_model, driving.root, tmp_path / "own.mp4", progress=False, frame_sink=own.append)
    assert any(not np.array_equal(x, y) for x, y in zip(held["a"], own))
    with pytest.raises(InputError, match="body source"):
        transfer(cloning_model, driving.root, tmp_path / "o.mp4", body="nobody", progress=False)
