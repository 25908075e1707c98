"""Streaming video / image I/O on PyAV: round trips, fps, sizes, browser-playable mp4, atomic writes."""

from __future__ import annotations

import av
import numpy as np
import pytest

from reenactor.errors import InputError
from reenactor.io import atomic
from reenactor.io.video import (
    VideoWriter,
    file_hash,
    iter_frames,
    probe,
    read_image,
    write_image,
    write_video,
)


def test_video_round_trip_keeps_fps_size_and_content(tmp_path, frames_maker):
    frames = frames_maker(10, 48, 64)
    path = tmp_path / "v.mp4"
    assert write_video(path, frames, fps=12.5) == 10
    info = probe(path)
    assert (info.width, info.height, info.n_frames, info.is_image) == (64, 48, 10, False)
    assert info.fps == pytest.approx(12.5) and info.frames_exact
    back = np.stack(list(iter_frames(path)))
    assert back.shape == frames.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - frames).mean() < 6  # lossy H.264, but the same pictures
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        assert st.codec_context.name == "h264" and st.codec_context.pix_fmt == "yuv420p"
    data = path.read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")  # faststart: plays while downloading


def test_iter_frames_is_a_stream_with_ranges(tmp_path, carphone_path):
    it = iter_frames(carphone_path)
    first = next(it)
    assert first.shape == (144, 176, 3)
    it.close()
    sel = list(iter_frames(carphone_path, start=5, stop=8))
    assert len(sel) == 3
    assert np.array_equal(sel[0], list(iter_frames(carphone_path, stop=6))[5])


def test_odd_sizes_are_padded_and_bad_frames_rejected(tmp_path, frames_maker):
    path = tmp_path / "odd.mp4"
    write_video(path, frames_maker(3, 33, 45), fps=5)
    assert (probe(path).width, probe(path).height) == (46, 34)
    with pytest.raises(ValueError):
        with VideoWriter(tmp_path / "bad.mp4", fps=5) as w:
            w.write(np.zeros((8, 8), np.uint8))
    assert not (tmp_path / "bad.mp4").exists()
    assert not list(tmp_path.glob(".bad.mp4*"))  # no temporary left behind


def test_background_encoding_gives_the_same_video_and_surfaces_errors(tmp_path, frames_maker):
    frames = frames_maker(12, 32, 48)
    for name, bg in (("fg.mp4", False), ("bg.mp4", True)):
        with VideoWriter(tmp_path / name, fps=10, background=bg, threads=1) as w:
            buf = np.empty_like(frames[0])
            for f in frames:
                buf[:] = f  # one reused array: the background writer must copy
                w.write(buf)
        assert w.n_frames == 12
    a, b = (np.stack(list(iter_frames(tmp_path / n))).astype(np.float32) for n in ("fg.mp4", "bg.mp4"))
    # The same frames in the same order: x264 is not bit-reproducible on every machine (CI decoded values
    # 2 apart), so compare the two videos by error, and each decoded frame against every source frame.
    assert np.abs(a - b).mean() < 1.5
    err = np.abs(b[:, None] - frames[None].astype(np.float32)).mean(axis=(2, 3, 4))  # (decoded, source)
    assert err.argmin(axis=1).tolist() == list(range(12)) and err.diagonal().max() < 4.5

    class Boom(RuntimeError):
        pass

    with pytest.raises(Boom):
        with VideoWriter(tmp_path / "err.mp4", fps=10, background=True) as w:
            w.write(frames[0])

            def fail(frame):
                raise Boom("encoder failed")

            w._encode = fail  # noqa: SLF001 - the next frame fails in the encoder thread
            for f in frames:
                w.write(f)
    assert not (tmp_path / "err.mp4").exists() and not list(tmp_path.glob(".err.mp4*"))
    with pytest.raises(ValueError, match="no frames"):
        with VideoWriter(tmp_path / "empty.mp4", fps=10, background=True):
            pass
    assert not (tmp_path / "empty.mp4").exists()


def test_image_is_a_one_frame_clip(tmp_path, frames_maker):
    img = frames_maker(1, 20, 30)[0]
    path = tmp_path / "a.png"
    write_image(path, img)
    assert np.array_equal(read_image(path), img)
    info = probe(path)
    assert info.is_image and info.n_frames == 1 and (info.width, info.height) == (30, 20)
    frames = list(iter_frames(path))
    assert len(frames) == 1 and np.array_equal(frames[0], img)


def test_probe_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="nope.mp4: file not found"):
        probe(tmp_path / "nope.mp4")
    with pytest.raises(InputError, match="folder"):
        probe(tmp_path)


def test_atomic_write_leaves_old_file_on_error(tmp_path):
    p = tmp_path / "x.npy"
    atomic.save_npy(p, np.arange(3))
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(p) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert np.array_equal(np.load(p), np.arange(3))
    assert [q.name for q in tmp_path.iterdir()] == ["x.npy"]
    assert file_hash(p) == file_hash(p) and len(file_hash(p, limit=10)) == 64


def test_json_default_numpy_paths_tuples_and_errors(tmp_path):
    import json

    obj = {
        "n": np.float32(0.5),
        "i": np.int64(3),
        "a": np.arange(3, dtype=np.uint8),
        "p": tmp_path / "x",
        "t": (1, np.int32(2)),
    }
    p = tmp_path / "o.json"
    atomic.write_json(p, obj)
    assert json.loads(p.read_text()) == {
        "n": 0.5,
        "i": 3,
        "a": [0, 1, 2],
        "p": str(tmp_path / "x"),
        "t": [1, 2],
    }
    with pytest.raises(TypeError, match="set is not JSON serialisable"):
        json.dumps({"s": {1}}, default=atomic.json_default)
    import torch

    from reenactor.errors import CheckpointError
    from reenactor.train.checkpoint import load_model, save_model

    m = save_model(
        tmp_path / "m.safetensors",
        "tiny",
        {"size": (32, 32)},
        {"w": torch.zeros(2)},
        meta={"loss": np.float64(0.25), "clip": tmp_path},
    )
    got = load_model(m)
    assert got.config == {"size": [32, 32]} and got.meta == {"loss": 0.25, "clip": str(tmp_path)}
    with pytest.raises(CheckpointError, match=r"model meta is not JSON-serialisable \(set is not"):
        save_model(tmp_path / "m2.safetensors", "tiny", {}, {"w": torch.zeros(2)}, meta={"s": {1}})


def test_atomic_files_get_umask_permissions_not_mkstemp_0600(tmp_path):
    import os

    from reenactor.io.atomic import write_text

    mask = os.umask(0o022)
    os.umask(mask)
    write_text(tmp_path / "a.txt", "x")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~mask


def test_without_pyav_images_still_work_and_video_names_the_missing_package(
    tmp_path, monkeypatch, carphone_path
):
    """PyAV is imported on first video use: training (images, clip stores) runs without it, e.g. on a GPU image."""
    import sys

    monkeypatch.setitem(sys.modules, "av", None)  # `import av` now fails as if not installed
    write_image(tmp_path / "a.png", np.zeros((4, 6, 3), np.uint8))
    assert read_image(tmp_path / "a.png").shape == (4, 6, 3)
    for name, call in (
        (carphone_path.name, lambda: probe(carphone_path)),
        ("v.mp4", lambda: VideoWriter(tmp_path / "v.mp4", 10).__enter__()),
    ):
        with pytest.raises(InputError, match="PyAV is not installed") as e:
            call()
        assert "pip install av" in str(e.value) and name in str(e.value)  # names the file and the fix
    assert not (tmp_path / "v.mp4").exists() and not list(tmp_path.glob("*.mp4*"))
