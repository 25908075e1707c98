"""Sound (issue 23): ``transfer`` carries the driving video's soundtrack into the result, in sync and trimmed to
the frames rendered (``audio="driving"``, the default); ``audio="none"``, a driver without sound and a driver
that cannot have any (a photo) give a silent result. :func:`reenactor.io.video.mux_audio` copies AAC as it is
and re-encodes what an mp4 should not hold (PCM) to AAC.

The driving videos are made here with PyAV: carphone's first frames (so MediaPipe finds a person) over a
frequency sweep (a pure tone would match itself shifted by a period; a sweep shows any shift)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from reenactor.io.video import iter_frames, mux_audio, probe, write_video

FPS = Fraction(30000, 1001)
RATE = 44100
AAC_FRAME = 1024  # samples per AAC frame: copied packets cut the end to within one


def sweep(n: int, rate: int) -> np.ndarray:
    """(n,) float32: a sine rising from 200 Hz by 1500 Hz a second."""
    t = np.arange(n) / rate
    return (0.4 * np.sin(2 * np.pi * np.cumsum(200 + 1500 * t) / rate)).astype(np.float32)


def make_driving(
    path: Path, frames: np.ndarray, audio: str | None = "aac", rate: int = RATE, seconds: float = 2.0
) -> np.ndarray | None:
    """Write ``frames`` at 29.97 fps with ``seconds`` of :func:`sweep` (``audio``: aac, mono, in mp4;
    pcm_s16le, stereo, in mov; None: no sound). Returns the sweep."""
    fmt = "mov" if path.suffix == ".mov" else "mp4"
    x = sweep(int(seconds * rate), rate) if audio else None
    with av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.height, vs.width = frames.shape[1:3]
        vs.pix_fmt = "yuv420p"
        packets = [p for f in frames for p in vs.encode(av.VideoFrame.from_ndarray(f, format="rgb24"))]
        packets += vs.encode()
        if audio:
            layout = "mono" if audio == "aac" else "stereo"
            st = out.add_stream(audio, rate=rate)
            st.layout = layout
            for i in range(0, len(x), 1000):
                seg = x[None, i : i + 1000]
                if audio == "aac":
                    fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(seg), format="fltp", layout=layout)
                else:  # packed 16-bit stereo: (1, 2 * n) interleaved
                    seg = np.round(np.repeat(seg, 2, 0).T.reshape(1, -1) * 32767).astype(np.int16)
                    fr = av.AudioFrame.from_ndarray(seg, format="s16", layout=layout)
                fr.sample_rate, fr.pts = rate, i
                packets += st.encode(fr)
            packets += st.encode()
        for p in sorted(packets, key=lambda p: float(p.dts * p.time_base)):
            out.mux(p)
    return x


def decoded_audio(path: Path) -> tuple[np.ndarray, int, str] | None:
    """The first channel of ``path``'s audio as float64 samples, its rate and codec; None without audio."""
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        st = c.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=st.codec_context.sample_rate)
        parts = [rf.to_ndarray()[0] for f in c.decode(st) for rf in resampler.resample(f)]
        return np.concatenate(parts).astype(np.float64), st.codec_context.sample_rate, st.codec_context.name


def best_lag(x: np.ndarray, ref: np.ndarray, max_lag: int = 300) -> int:
    """The delay (samples) of ``x`` against ``ref`` with the highest cross-correlation: 0 when in sync."""
    n = min(len(x), len(ref))
    c = np.fft.irfft(np.fft.rfft(x[:n], 2 * n) * np.conj(np.fft.rfft(ref[:n], 2 * n)), 2 * n)
    return int(np.argmax(np.concatenate([c[-max_lag:], c[: max_lag + 1]]))) - max_lag


def assert_in_sync(path: Path, ref: np.ndarray, duration: float, rate: int = RATE, start: int = 0) -> str:
    """``path``'s audio is ``ref[start:]`` for ``duration`` seconds (to within one AAC frame), unshifted."""
    got = decoded_audio(path)
    assert got is not None, f"{path.name} has no audio stream"
    x, got_rate, codec = got
    assert got_rate == rate
    assert abs(len(x) / rate - duration) <= AAC_FRAME / rate + 1e-9, (len(x) / rate, duration)
    ref = ref[start:]
    n = min(len(x), len(ref))
    assert np.corrcoef(x[:n], ref[:n])[0, 1] > 0.95
    assert abs(best_lag(x, ref)) <= 1
    return codec


@pytest.fixture(scope="module")
def carphone_frames(carphone_path) -> np.ndarray:
    return np.stack([f for _, f in zip(range(45), iter_frames(carphone_path))])


@pytest.fixture(scope="module")
def driving_with_sound(tmp_path_factory, carphone_frames) -> tuple[Path, np.ndarray]:
    path = tmp_path_factory.mktemp("audio") / "talk.mp4"
    return path, make_driving(path, carphone_frames)


def test_transfer_carries_the_driving_sound_in_sync_trimmed_to_the_frames(
    tmp_path, driving_with_sound, logged
):
    from reenactor.transfer import transfer

    driving, ref = driving_with_sound
    out = tmp_path / "out.mp4"
    res = transfer(
        None, driving, out, method="pose_warp", target_image="sample:astronaut", max_frames=20, progress=False
    )
    assert res.n_frames == 20 and "audio" in res.seconds
    assert "[transfer] audio: aac, 44100 Hz, mono, copied from talk.mp4" in logged()
    assert assert_in_sync(out, ref, 20 / float(FPS)) == "aac"
    info = probe(out)
    assert info.n_frames == 20 and info.fps == pytest.approx(float(FPS))
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "h264" and len(c.streams.audio) == 1
    data = out.read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")  # still plays while downloading
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "out.mp4",
        "out.normalizer.json",
    ]  # no temporary left


def test_no_audio_when_asked_or_when_the_driver_has_none(tmp_path, driving_with_sound, carphone_frames):
    from reenactor.errors import InputError
    from reenactor.samples import sample_path
    from reenactor.transfer import transfer

    run = dict(method="pose_warp", target_image="sample:astronaut", size=64, progress=False)
    driving, _ = driving_with_sound
    res = transfer(None, driving, tmp_path / "none.mp4", max_frames=5, audio="none", **run)
    assert res.n_frames == 5 and decoded_audio(tmp_path / "none.mp4") is None
    silent = tmp_path / "silent.mp4"
    make_driving(silent, carphone_frames[:8], audio=None)
    res = transfer(None, silent, tmp_path / "from_silent.mp4", max_frames=5, **run)
    assert res.n_frames == 5 and decoded_audio(tmp_path / "from_silent.mp4") is None
    res = transfer(None, sample_path("astronaut"), tmp_path / "photo.mp4", hold=3, **run)  # a held photo
    assert res.n_frames == 3 and decoded_audio(tmp_path / "photo.mp4") is None
    with pytest.raises(InputError, match="--audio"):
        transfer(None, driving, tmp_path / "bad.mp4", audio="music", **run)
    assert not (tmp_path / "bad.mp4").exists()


def test_cli_audio_flag_notes_a_driver_without_sound(tmp_path, capsys):
    from reenactor.cli import build_parser, main
    from reenactor.samples import sample_path

    assert (
        build_parser().parse_args(["transfer", "--driving", "d.mp4", "-o", "o.mp4"]).audio is None
    )  # = driving
    with pytest.raises(SystemExit) as e:
        main(["transfer", "--driving", "d.mp4", "-o", str(tmp_path / "o.mp4"), "--audio", "music"])
    assert e.value.code == 2 and "--audio" in capsys.readouterr().err
    base = [
        "transfer",
        "--method",
        "pose_warp",
        "--target-image",
        "sample:astronaut",
        "--size",
        "64",
        "--driving",
        str(sample_path("astronaut")),
        "--no-progress",
        "--device",
        "cpu",
    ]
    assert main([*base, "-o", str(tmp_path / "a.mp4")]) == 0
    assert "note: --audio" not in capsys.readouterr().out  # the default: silent, no message
    assert main([*base, "-o", str(tmp_path / "b.mp4"), "--audio", "driving"]) == 0
    out = capsys.readouterr().out
    assert out.count("note: --audio driving") == 1 and "is a photo, which has no sound" in out
    assert decoded_audio(tmp_path / "b.mp4") is None


def test_mux_audio_reencodes_pcm_and_keeps_sync_from_an_offset(tmp_path, carphone_frames):
    video = tmp_path / "video.mp4"
    write_video(video, carphone_frames[:20], fps=float(FPS))
    pcm = tmp_path / "talk.mov"
    ref = make_driving(pcm, carphone_frames, audio="pcm_s16le", rate=48000)
    what = mux_audio(video, pcm, tmp_path / "pcm.mp4")
    assert what == "pcm_s16le, 48000 Hz, stereo, re-encoded to AAC (48000 Hz, stereo)"
    assert assert_in_sync(tmp_path / "pcm.mp4", ref, 20 / float(FPS), rate=48000) == "aac"
    # the audio from 0.5 s of the source on: copied AAC packets (the first one starts before it) and re-encoded
    # PCM both line up to the sample
    aac = tmp_path / "talk.mp4"
    ref_aac = make_driving(aac, carphone_frames)
    assert mux_audio(video, aac, tmp_path / "late.mp4", duration=0.6, offset=0.5).endswith("copied")
    assert_in_sync(tmp_path / "late.mp4", ref_aac, 0.6, start=int(0.5 * RATE))
    mux_audio(video, pcm, tmp_path / "late_pcm.mp4", duration=0.6, offset=0.5)
    assert_in_sync(tmp_path / "late_pcm.mp4", ref, 0.6, rate=48000, start=24000)
    # replacing the video in place; nothing to carry: None and nothing written
    assert mux_audio(video, aac).endswith("copied") and decoded_audio(video) is not None
    assert mux_audio(video, tmp_path / "pcm.mp4", tmp_path / "x.mp4", offset=5.0) is None
    silent = tmp_path / "silent.mp4"
    write_video(silent, carphone_frames[:3], fps=10)
    assert mux_audio(video, silent, tmp_path / "y.mp4") is None
    assert not (tmp_path / "x.mp4").exists() and not (tmp_path / "y.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]
