"""Streaming video and image I/O on PyAV.

Frames are numpy arrays ``(H, W, 3) uint8 RGB``. Reading is an iterator (the whole video is never held in
memory); writing is H.264 yuv420p mp4, which browsers play, at the source fps. A still image is a one-frame
clip.

Videos are read as people see them: a container's display rotation (the display matrix a phone writes for a
portrait video, or the legacy ``rotate`` tag) is applied to every frame, as players do, and :func:`probe`
reports the displayed size and the rotation applied (:attr:`MediaInfo.rotation`). Photos are turned upright
by their EXIF orientation (OpenCV's decoder). :func:`mux_audio` carries a source's soundtrack into a written
video.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import math
import queue
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..threads import Background
from .atomic import atomic_path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
DEFAULT_IMAGE_FPS = 25.0
#: clockwise display rotation (degrees) -> the OpenCV rotation that turns a stored frame upright
_ROTATE_CODES = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
#: audio codecs :func:`mux_audio` copies into an mp4 as they are (browsers play them); others are re-encoded
COPY_AUDIO_CODECS = frozenset({"aac", "mp3"})
#: sample rates the AAC encoder takes; another source rate is resampled to 48 kHz
AAC_RATES = frozenset(
    {96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}
)


@dataclass(frozen=True)
class MediaInfo:
    """What a video or image file holds. ``n_frames`` may be an estimate for streams without a count.

    ``width`` and ``height`` are the displayed size: a video stored landscape with a 90 or 270 degree display
    rotation (a portrait phone video) reports its portrait size, the size :func:`iter_frames` yields."""

    path: Path
    width: int
    height: int
    fps: float
    n_frames: int
    is_image: bool
    frames_exact: bool = False  # n_frames comes from the container's frame count (not a duration estimate)
    rotation: int = 0  # clockwise degrees (0, 90, 180, 270) the stored frames are turned to show them upright


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError("file not found", path, "check the path; `reenactor samples` lists bundled footage")
    if path.is_dir():
        raise InputError(
            "is a folder, not a video or image file", path, "pass a video (.mp4, .mov, ...) or an image"
        )
    if path.stat().st_size == 0:
        raise InputError("file is empty (0 bytes)", path, "re-copy or re-export the video")


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _read_image(path: Path) -> np.ndarray:
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise InputError("not a readable image", path, "pass a PNG or JPEG image, or a video file")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _av(path: Path | None = None):
    """PyAV, imported on first use: only reading and writing video files need it (training, images and clip
    stores do not, so a training machine without it, e.g. a GPU image, still trains)."""
    try:
        import av
    except ImportError:
        raise InputError(
            "PyAV is not installed, so this video cannot be read or written",
            path,
            "pip install av (or `make install`)",
        ) from None
    return av


def _display_rotation(stream, frame) -> int:
    """The clockwise rotation (0, 90, 180 or 270 degrees) a player applies to ``stream``'s stored frames.

    Read from the display matrix FFmpeg attaches to each decoded ``frame`` (``VideoFrame.rotation``,
    counter-clockwise degrees), else the stream's side data (older PyAV), else the legacy ``rotate`` metadata
    tag (clockwise degrees: older FFmpeg exported the matrix so, Matroska keeps it as a tag). Angles between
    the quarter turns are rounded to the nearest one; mirroring in the matrix is not applied."""
    ccw = getattr(frame, "rotation", None) if frame is not None else None
    if not ccw:
        with contextlib.suppress(AttributeError, TypeError, ValueError):
            ccw = dict(stream.side_data).get("DISPLAYMATRIX")
    cw = None
    with contextlib.suppress(TypeError, ValueError):
        if ccw and math.isfinite(float(ccw)):
            cw = -float(ccw)
    if cw is None:
        tags = {str(k).lower(): v for k, v in dict(stream.metadata or {}).items()}
        try:
            cw = float(tags.get("rotate", 0))
        except ValueError:
            cw = 0.0
    if not math.isfinite(cw):
        return 0
    return int(round(cw / 90.0)) % 4 * 90


def _first_frame(container, stream):
    """The first decodable frame of ``stream`` (None if there is none or decoding fails: :func:`iter_frames`
    reports a corrupt stream with the frame index)."""
    av = _av()
    try:
        return next(container.decode(stream), None)
    except (av.error.FFmpegError, ValueError):
        return None


def probe(path: str | Path) -> MediaInfo:
    """Open ``path`` and report its displayed size, fps, frame count and display rotation; raise
    :class:`InputError` on bad input. The first frame is decoded to read the display rotation."""
    path = Path(path)
    _check_file(path)
    if is_image_path(path):
        img = _read_image(path)
        return MediaInfo(path, img.shape[1], img.shape[0], DEFAULT_IMAGE_FPS, 1, True)
    av = _av(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError("has no video stream", path, "pass a video file or an image")
            st = container.streams.video[0]
            if st.codec_context is None:
                raise InputError(
                    "video stream cannot be decoded (corrupt header or unknown codec)",
                    path,
                    "re-encode the video (e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`) or re-download it",
                )
            fps = float(st.average_rate or st.guessed_rate or DEFAULT_IMAGE_FPS)
            n = st.frames
            exact = bool(n)
            if not n and st.duration and st.time_base:
                n = int(round(float(st.duration * st.time_base) * fps))
            w, h = st.codec_context.width, st.codec_context.height
            rotation = _display_rotation(st, _first_frame(container, st))
            if rotation in (90, 270):
                w, h = h, w
    except InputError:
        raise
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as e:
        # Maybe an image with an unusual suffix.
        try:
            img = _read_image(path)
        except InputError:
            raise InputError(
                f"not a video or image file ({e.__class__.__name__})",
                path,
                "pass an mp4/mov/avi video or a PNG/JPEG image",
            ) from None
        return MediaInfo(path, img.shape[1], img.shape[0], DEFAULT_IMAGE_FPS, 1, True)
    if w <= 0 or h <= 0:
        raise InputError("video stream has no frame size", path, "re-encode the video (e.g. with ffmpeg)")
    return MediaInfo(path, w, h, fps, int(n or 0), False, exact, rotation)


def iter_frames(path: str | Path, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
    """Yield RGB uint8 frames ``(H, W, 3)`` of a video (or the single frame of an image), decoding as it goes.

    Frames come upright, as players show them: the container's display rotation (:attr:`MediaInfo.rotation`)
    is applied, so their size is :func:`probe`'s ``height`` x ``width``.
    ``start``/``stop`` select frame indices ``[start, stop)``; frames before ``start`` are decoded and dropped.
    A corrupt stream raises :class:`InputError` naming the file and the frame index.
    """
    path = Path(path)
    info = probe(path)
    if info.is_image:
        if start == 0 and (stop is None or stop > 0):
            yield _read_image(path)
        return
    i = 0
    av = _av(path)
    turn = _ROTATE_CODES.get(info.rotation)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                if stop is not None and i >= stop:
                    break
                if i >= start:
                    rgb = frame.to_ndarray(format="rgb24")
                    yield rgb if turn is None else cv2.rotate(rgb, turn)
                i += 1
    except av.error.FFmpegError as e:
        raise InputError(
            f"corrupt video stream at frame {i}: {e}",
            path,
            "re-encode or re-download the video; frames before the error were readable",
        ) from None
    if i == 0:
        raise InputError(
            "no frame could be decoded", path, "the file is truncated or not a video; re-export it"
        )


def file_hash(path: str | Path, limit: int | None = None) -> str:
    """sha256 of the file (first ``limit`` bytes if given), hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        remaining = limit
        while True:
            chunk = f.read(1 << 20 if remaining is None else min(1 << 20, remaining))
            if not chunk:
                break
            h.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
                if remaining <= 0:
                    break
    return h.hexdigest()


class VideoWriter:
    """Write RGB uint8 frames to an H.264 yuv420p mp4, atomically (temp name, renamed on close).

    Odd frame sizes are padded by one pixel (yuv420p needs even sizes). Use as a context manager; on an
    exception nothing is left at ``path``. ``threads``: x264 threads (0: x264's choice). ``background``: frames
    are checked and copied by :meth:`write`, then converted and encoded in one background thread (so a caller
    that computes frames overlaps with the encoder); an encoder error is raised by the next :meth:`write` or on
    closing.

    >>> with VideoWriter("out.mp4", fps=25) as w:
    ...     for frame in frames: w.write(frame)
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        crf: int = 20,
        preset: str = "veryfast",
        threads: int = 0,
        background: bool = False,
    ):
        self.path = Path(path)
        self.background = bool(background)
        self._queue: queue.Queue | None = None
        self._thread: Background | None = None
        self._error: BaseException | None = None
        self.threads = int(threads)  # x264 threads; 0 = x264's choice (1.5 x cores)
        self.fps = fps
        self.crf = crf
        self.preset = preset
        self._ctx: contextlib.AbstractContextManager | None = None
        self._container = None
        self._stream = None
        self.n_frames = 0

    def __enter__(self) -> VideoWriter:
        self._av = _av(self.path)
        self._ctx = atomic_path(self.path, suffix=".mp4")
        self._tmp = self._ctx.__enter__()
        self._container = self._av.open(
            str(self._tmp), mode="w", format="mp4", options={"movflags": "+faststart"}
        )
        return self

    def _open_stream(self, h: int, w: int) -> None:
        rate = Fraction(self.fps).limit_denominator(1001)
        st = self._container.add_stream("libx264", rate=rate)
        st.width, st.height = w + (w % 2), h + (h % 2)
        st.pix_fmt = "yuv420p"
        st.options = {
            "crf": str(self.crf),
            "preset": self.preset,
            **({"threads": str(self.threads)} if self.threads else {}),
        }
        self._stream = st

    def write(self, frame: np.ndarray) -> None:
        """Append one ``(H, W, 3) uint8 RGB`` frame; all frames must share the first frame's size."""
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
        h, w = frame.shape[:2]
        if self._stream is None:
            self._open_stream(h, w)
        if (h + h % 2, w + w % 2) != (self._stream.height, self._stream.width):
            raise ValueError(
                f"frame size {w}x{h} differs from the video's {self._stream.width}x{self._stream.height}"
            )
        if h % 2 or w % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        if not self.background:
            self._encode(frame)
            return
        if self._error is not None:
            raise self._error
        if self._thread is None:
            self._queue = queue.Queue(maxsize=32)
            self._thread = Background(self._encoder_loop)
        frame = np.array(frame, copy=True)  # the caller may reuse its array
        while True:
            try:
                self._queue.put(frame, timeout=0.1)
                return
            except queue.Full:
                if self._error is not None:
                    raise self._error from None

    def _encode(self, frame: np.ndarray) -> None:
        vf = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        for packet in self._stream.encode(vf):
            self._container.mux(packet)
        self.n_frames += 1

    def _encoder_loop(self) -> None:
        try:
            while (frame := self._queue.get()) is not None:
                if self._error is None:
                    self._encode(frame)
        except BaseException as e:  # raised in the writing thread
            self._error = e
            while self._queue.get() is not None:  # drain so that a blocked put() returns
                pass

    def _join_encoder(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._join_encoder()
            if exc_type is None:
                if self._error is not None:
                    raise self._error
                if self._stream is None:
                    raise ValueError(f"{self.path}: no frames were written")
                for packet in self._stream.encode():
                    self._container.mux(packet)
        except BaseException as e:
            exc_type, exc, tb = type(e), e, e.__traceback__
            raise
        finally:
            self._container.close()
            if exc_type is None:
                self._ctx.__exit__(None, None, None)
            else:
                self._ctx.__exit__(exc_type, exc, tb)


def write_video(path: str | Path, frames, fps: float) -> int:
    """Write an iterable of RGB frames; return the number written."""
    with VideoWriter(path, fps) as w:
        for f in frames:
            w.write(f)
    return w.n_frames


def _packet_time(packet) -> float:
    """A packet's decoding time in seconds (its presentation time if it has no dts)."""
    ts = packet.dts if packet.dts is not None else packet.pts
    return float(ts * packet.time_base) if ts is not None else 0.0


def _copied_audio(container, stream, out_stream, start: float, end: float) -> Iterator:
    """``stream``'s packets that overlap ``[start, end)`` seconds, shifted so that ``start`` is 0, plus the one
    packet before the first (a decoder's preroll, e.g. AAC's priming frame; the mp4 edit list hides it)."""
    tb = stream.time_base
    shift = int(round(start / tb))
    prev = None
    started = False
    for packet in container.demux(stream):
        if packet.pts is None or packet.dts is None:
            continue
        t = float(packet.pts * tb)
        if t >= end:
            break
        if t + float((packet.duration or 0) * tb) <= start:
            prev = packet
            continue
        for p in (prev, packet) if not started and prev is not None else (packet,):
            p.pts -= shift
            p.dts -= shift
            p.stream = out_stream
            yield p
        started = True


def _encoded_audio(container, stream, out_stream, start: float, end: float) -> Iterator:
    """``stream`` decoded, cut to ``[start, end)`` seconds (sample-exact, ``start`` becomes 0) and encoded by
    ``out_stream``'s encoder."""
    av = _av()
    rate, layout = out_stream.codec_context.sample_rate, out_stream.codec_context.layout.name
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
    first: int | None = None  # the source's first sample, in output samples
    done = 0  # samples resampled so far
    a, b = int(round(start * rate)), int(round(end * rate))  # the window, in source-time output samples
    for frame in container.decode(stream):
        if first is None:
            first = int(round((frame.time or 0.0) * rate))
        for rf in resampler.resample(frame):
            x = rf.to_ndarray()
            k0 = first + done
            done += x.shape[1]
            lo, hi = max(a, k0), min(b, k0 + x.shape[1])
            if hi > lo:
                out = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(x[:, lo - k0 : hi - k0]), format="fltp", layout=layout
                )
                out.sample_rate = rate
                out.pts = lo - a
                out.time_base = Fraction(1, rate)
                yield from out_stream.encode(out)
        if first + done >= b:
            break
    yield from out_stream.encode(None)


class _NoAudio(Exception):
    """The audio source holds no audio within the window: nothing to carry."""


def _remux_with_audio(
    video_path: Path, audio_source: Path, out_path: Path, start: float, end: float, copy: bool
) -> str:
    """Write ``out_path`` (mp4): ``video_path``'s video stream copied, plus ``audio_source``'s first audio stream
    over ``[start, end)`` seconds of its timeline, copied (``copy``) or re-encoded to AAC; packets interleaved
    by time. Returns a description of the audio written."""
    av = _av(out_path)
    with (
        av.open(str(video_path)) as vin,
        av.open(str(audio_source)) as ain,
        av.open(str(out_path), mode="w", format="mp4", options={"movflags": "+faststart"}) as out,
    ):
        vst, ast = vin.streams.video[0], ain.streams.audio[0]
        ovs = out.add_stream_from_template(vst)
        src = ast.codec_context
        what = f"{src.name}, {src.sample_rate} Hz, {src.layout.name}"
        if copy:
            oas = out.add_stream_from_template(ast)  # ValueError when mp4 cannot hold the codec
            audio = _copied_audio(ain, ast, oas, start, end)
            what += ", copied"
        else:
            rate = src.sample_rate if src.sample_rate in AAC_RATES else 48000
            oas = out.add_stream("aac", rate=rate)
            oas.layout = "mono" if src.channels == 1 else "stereo"
            audio = _encoded_audio(ain, ast, oas, start, end)
            what += f", re-encoded to AAC ({rate} Hz, {oas.layout.name})"

        def video() -> Iterator:
            for packet in vin.demux(vst):
                if packet.dts is not None:
                    packet.stream = ovs
                    yield packet

        n_audio = 0
        for packet in heapq.merge(video(), audio, key=_packet_time):
            out.mux(packet)
            n_audio += packet.stream is oas
    if not n_audio:
        raise _NoAudio
    return what


def mux_audio(
    video_path: str | Path,
    audio_source: str | Path,
    out_path: str | Path | None = None,
    duration: float | None = None,
    offset: float | None = None,
) -> str | None:
    """Carry ``audio_source``'s soundtrack (its first audio stream) into the video ``video_path``, in sync and
    trimmed to the video, and write the result to ``out_path`` (default: replace ``video_path``) atomically:
    a temporary file renamed over it, so nothing half-written is ever there.

    The video stream is copied (no re-encode). The audio is taken from ``offset`` seconds of the source's
    timeline on (default: the time of the source's first video frame, so a video rendered frame by frame
    from the source's frames stays in sync) for ``duration`` seconds (default: ``video_path``'s frame count
    / fps). AAC and MP3 packets are copied, so the end is cut to within one audio frame (about 20 ms); other
    codecs (PCM, Opus, Vorbis, ...) are decoded, cut to the sample and re-encoded to AAC, which every
    browser plays.

    Returns a description of the audio written (codec, rate, layout, how), or ``None`` when
    ``audio_source`` has no audio stream or the window holds no audio (then nothing is written). Raises
    :class:`InputError` naming the file when the audio cannot be read.
    """
    video_path, audio_source = Path(video_path), Path(audio_source)
    out_path = video_path if out_path is None else Path(out_path)
    _check_file(video_path)
    _check_file(audio_source)
    av = _av(audio_source)
    try:
        with av.open(str(audio_source)) as c:
            if not c.streams.audio:
                return None
            ast = c.streams.audio[0]
            if ast.codec_context is None or not ast.codec_context.sample_rate:
                raise InputError(
                    "audio stream cannot be decoded (unknown codec or corrupt header)",
                    audio_source,
                    "re-encode its audio (e.g. `ffmpeg -i IN -c:v copy -c:a aac OUT.mp4`), or leave "
                    "the audio out",
                )
            codec = ast.codec_context.name
            if offset is None:
                frame = _first_frame(c, c.streams.video[0]) if c.streams.video else None
                offset = float(frame.time) if frame is not None and frame.time is not None else 0.0
    except (av.error.FFmpegError, UnicodeDecodeError) as e:
        raise InputError(
            f"not a readable media file ({e.__class__.__name__}: {e})",
            audio_source,
            "pass a video or audio file that plays, or leave the audio out",
        ) from None
    if duration is None:
        info = probe(video_path)
        duration = info.n_frames / info.fps if info.fps else 0.0
    if duration <= 0:
        return None
    start, end = float(offset), float(offset) + float(duration)
    failure: Exception | None = None
    for copy in (True, False) if codec in COPY_AUDIO_CODECS else (False,):
        try:
            with atomic_path(out_path, suffix=".mp4") as tmp:
                what = _remux_with_audio(video_path, audio_source, tmp, start, end, copy)
            return what
        except _NoAudio:
            return None
        except (av.error.FFmpegError, ValueError) as e:  # a copy the mp4 muxer refuses is re-encoded
            failure = e
    raise InputError(
        f"its audio could not be carried into {out_path.name} ({failure.__class__.__name__}: {failure})",
        audio_source,
        "re-encode its audio (e.g. `ffmpeg -i IN -c:v copy -c:a aac OUT.mp4`), or leave the audio out",
    )


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write an RGB uint8 image atomically (format from the suffix)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        ok, buf = cv2.imencode(path.suffix or ".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if not ok:
            raise ValueError(f"could not encode {path}")
        tmp.write_bytes(buf.tobytes())


def write_contact_sheet(path: str | Path, rows: list[list[np.ndarray]], across: int = 5) -> None:
    """A contact sheet: one row per sequence of equally sized RGB frames (the first often the real ones),
    ``across`` frames picked evenly over the sequence's length."""
    n = min(len(r) for r in rows)
    pick = np.linspace(0, n - 1, min(across, n)).round().astype(int)
    write_image(path, np.concatenate([np.concatenate([r[i] for i in pick], 1) for r in rows], 0))


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 ``(H, W, 3)``."""
    path = Path(path)
    _check_file(path)
    return _read_image(path)


__all__ = [
    "write_contact_sheet",
    "MediaInfo",
    "probe",
    "iter_frames",
    "VideoWriter",
    "write_video",
    "write_image",
    "read_image",
    "file_hash",
    "is_image_path",
    "mux_audio",
    "IMAGE_SUFFIXES",
    "COPY_AUDIO_CODECS",
]
