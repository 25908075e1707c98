"""Videos as people see them (issue 23): a portrait phone video stores its frames landscape with a display
rotation that every player honours. Reading honours it at every angle: ``probe`` gives the displayed size and
the rotation applied, ``iter_frames`` upright frames, and extraction an upright person with the rotation in the
clip's manifest.

The rotated videos are made here with PyAV: carphone's first frames turned the other way and re-encoded with a
display matrix (``VideoStream.set_display_rotation``) that turns them back, so what a player shows is carphone
itself."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from reenactor.io.video import iter_frames, probe

N_FRAMES = 30  # extraction has no frame limit: the tagged copies are cut short

# writing a display matrix needs VideoStream.set_display_rotation (PyAV >= 18.1, pinned in pyproject.toml); reading
# works with older versions too. No skip: a missing method fails the tests that write one, loudly.


@pytest.fixture(scope="module")
def carphone_frames(carphone_path) -> np.ndarray:
    """carphone's first frames as a player shows them: (N_FRAMES, 144, 176, 3) uint8."""
    frames = np.stack([f for _, f in zip(range(N_FRAMES), iter_frames(carphone_path))])
    assert frames.shape == (N_FRAMES, 144, 176, 3)
    return frames


def _portrait_copy(frames: np.ndarray, path: Path, ccw: int = 0, rotate_tag: str | None = None) -> Path:
    """Write ``frames`` as a phone would store them, with the tag that shows them as they are: stored turned
    ``ccw`` degrees clockwise under a display matrix that turns them ``ccw`` degrees counter-clockwise (PyAV's
    convention, ``VideoFrame.rotation`` on reading), or (``rotate_tag``) stored turned counter-clockwise under
    the legacy ``rotate`` metadata tag (clockwise degrees; kept as a tag by Matroska)."""
    turns = -ccw // 90 if rotate_tag is None else int(rotate_tag) // 90
    stored = np.ascontiguousarray(np.rot90(frames, k=turns, axes=(1, 2)))
    fmt = "matroska" if path.suffix == ".mkv" else "mp4"
    with av.open(str(path), "w", format=fmt) as out:
        st = out.add_stream("libx264", rate=Fraction(30000, 1001))
        st.height, st.width = stored.shape[1:3]
        st.pix_fmt = "yuv420p"
        st.options = {"crf": "12", "preset": "veryfast"}
        if rotate_tag is None:
            st.set_display_rotation(ccw)
        else:
            st.metadata["rotate"] = rotate_tag
        for f in stored:
            for packet in st.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in st.encode():
            out.mux(packet)
    return path


@pytest.mark.parametrize("ccw, rotation", [(-90, 90), (90, 270), (180, 180), (270, 90), (0, 0)])
def test_display_rotation_is_applied_at_every_angle(tmp_path, carphone_frames, ccw, rotation):
    path = _portrait_copy(carphone_frames, tmp_path / f"rot{ccw}.mp4", ccw)
    with av.open(str(path)) as c:  # the file really is stored turned, with a display matrix
        st = c.streams.video[0]
        stored_hw = st.codec_context.height, st.codec_context.width
        assert -next(c.decode(st)).rotation % 360 == rotation  # PyAV reads counter-clockwise degrees
    assert stored_hw == ((176, 144) if rotation in (90, 270) else (144, 176))
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (176, 144, rotation)  # the displayed size
    assert info.n_frames == N_FRAMES and info.frames_exact
    back = np.stack(list(iter_frames(path)))
    assert back.shape == carphone_frames.shape
    assert (
        np.abs(back.astype(np.int16) - carphone_frames).mean() < 3
    )  # codec noise only: upright, not mirrored
    part = list(iter_frames(path, start=5, stop=7))
    assert len(part) == 2 and np.array_equal(part[0], back[5])


def test_legacy_rotate_tag_is_honoured(tmp_path, carphone_frames):
    """Older FFmpeg exported the display rotation as a ``rotate`` metadata tag (clockwise degrees); a container
    that keeps such a tag (Matroska) is read upright too."""
    path = _portrait_copy(carphone_frames[:6], tmp_path / "tagged.mkv", rotate_tag="90")
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (176, 144, 90)
    back = np.stack(list(iter_frames(path)))
    assert np.abs(back.astype(np.int16) - carphone_frames[:6]).mean() < 3


def test_extraction_of_a_portrait_phone_video_is_upright(tmp_path, carphone_frames):
    """The phone case: frames stored landscape, shown after a quarter turn clockwise (ffprobe: "rotation of
    -90 degrees"). The extracted person stands upright (nose above the neck) and the manifest records it."""
    from reenactor.data.clipstore import ClipStore
    from reenactor.extract import extract

    path = _portrait_copy(carphone_frames, tmp_path / "phone.mp4", ccw=-90)
    logs: list[str] = []
    store = extract(path, tmp_path / "clip", size=128, progress=False, log=logs.append, workers=1)
    m = ClipStore.open(tmp_path / "clip").manifest
    assert m["source_rotation"] == 90 and m["extract_params"]["source_rotation"] == 90
    assert m["source_size"] == [144, 176]  # height, width as shown
    assert any("turned 90 degrees clockwise" in line for line in logs)
    body = store.load("body")
    assert len(body) == N_FRAMES
    nose, neck = body[:, 0], body[:, 1]
    seen = (nose[:, 2] > 0) & (neck[:, 2] > 0)
    assert seen.sum() >= N_FRAMES // 2
    upright = (nose[seen, 1] < neck[seen, 1]) & (
        np.abs(nose[seen, 0] - neck[seen, 0]) < neck[seen, 1] - nose[seen, 1]
    )
    assert upright.mean() > 0.9, (nose[seen], neck[seen])  # y grows downwards: the nose above the neck
    # the same frames stored unrotated give the same person, where the clip store stores it
    plain = extract(
        _portrait_copy(carphone_frames, tmp_path / "plain.mp4"),
        tmp_path / "plain",
        size=128,
        progress=False,
        log=lambda *_: None,
        workers=1,
    )
    assert (
        plain.manifest["source_rotation"] == 0 and "source_rotation" not in plain.manifest["extract_params"]
    )
    both = seen & (plain.load("body")[:, 0, 2] > 0)
    assert np.median(np.abs(plain.load("body")[both, 0, :2] - nose[both, :2])) < 4  # pixels at 128 px
