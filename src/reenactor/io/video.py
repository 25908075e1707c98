"""Streaming video and image I/O on PyAV.

Frames are numpy arrays ``(H, W, 3) uint8 RGB``. Reading is an iterator (the whole video is never held in
memory); writing is H.264 yuv420p mp4, which browsers play, at the source fps. A still image is a one-frame
clip.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from .atomic import atomic_path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
DEFAULT_IMAGE_FPS = 25.0


@dataclass(frozen=True)
class MediaInfo:
    """What a video or image file holds. ``n_frames`` may be an estimate for streams without a count."""

    path: Path
    width: int
    height: int
    fps: float
    n_frames: int
    is_image: bool
    frames_exact: bool = False  # n_frames comes from the container's frame count (not a duration estimate)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError("file not found", path, "check the path; `reenactor samples` lists bundled footage")
    if path.is_dir():
        raise InputError("is a folder, not a video or image file", path, "pass a video (.mp4, .mov, ...) or an image")
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
        raise InputError("PyAV is not installed, so this video cannot be read or written", path,
                         "pip install av (or `make install`)") from None
    return av


def probe(path: str | Path) -> MediaInfo:
    """Open ``path`` and report its size, fps and frame count; raise :class:`InputError` on bad input."""
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
                raise InputError("video stream cannot be decoded (corrupt header or unknown codec)", path,
                                 "re-encode the video (e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`) or re-download it")
            fps = float(st.average_rate or st.guessed_rate or DEFAULT_IMAGE_FPS)
            n = st.frames
            exact = bool(n)
            if not n and st.duration and st.time_base:
                n = int(round(float(st.duration * st.time_base) * fps))
            w, h = st.codec_context.width, st.codec_context.height
    except InputError:
        raise
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as e:
        # Maybe an image with an unusual suffix.
        try:
            img = _read_image(path)
        except InputError:
            raise InputError(f"not a video or image file ({e.__class__.__name__})", path,
                             "pass an mp4/mov/avi video or a PNG/JPEG image") from None
        return MediaInfo(path, img.shape[1], img.shape[0], DEFAULT_IMAGE_FPS, 1, True)
    if w <= 0 or h <= 0:
        raise InputError("video stream has no frame size", path, "re-encode the video (e.g. with ffmpeg)")
    return MediaInfo(path, w, h, fps, int(n or 0), False, exact)


def iter_frames(path: str | Path, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
    """Yield RGB uint8 frames ``(H, W, 3)`` of a video (or the single frame of an image), decoding as it goes.

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
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                if stop is not None and i >= stop:
                    break
                if i >= start:
                    yield frame.to_ndarray(format="rgb24")
                i += 1
    except av.error.FFmpegError as e:
        raise InputError(f"corrupt video stream at frame {i}: {e}", path,
                         "re-encode or re-download the video; frames before the error were readable") from None
    if i == 0:
        raise InputError("no frame could be decoded", path, "the file is truncated or not a video; re-export it")


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

    def __init__(self, path: str | Path, fps: float, crf: int = 20, preset: str = "veryfast", threads: int = 0,
                 background: bool = False):
        self.path = Path(path)
        self.background = bool(background)
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
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
        self._container = self._av.open(str(self._tmp), mode="w", format="mp4", options={"movflags": "+faststart"})
        return self

    def _open_stream(self, h: int, w: int) -> None:
        rate = Fraction(self.fps).limit_denominator(1001)
        st = self._container.add_stream("libx264", rate=rate)
        st.width, st.height = w + (w % 2), h + (h % 2)
        st.pix_fmt = "yuv420p"
        st.options = {"crf": str(self.crf), "preset": self.preset, **({"threads": str(self.threads)} if self.threads else {})}
        self._stream = st

    def write(self, frame: np.ndarray) -> None:
        """Append one ``(H, W, 3) uint8 RGB`` frame; all frames must share the first frame's size."""
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
        h, w = frame.shape[:2]
        if self._stream is None:
            self._open_stream(h, w)
        if (h + h % 2, w + w % 2) != (self._stream.height, self._stream.width):
            raise ValueError(f"frame size {w}x{h} differs from the video's {self._stream.width}x{self._stream.height}")
        if h % 2 or w % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        if not self.background:
            self._encode(frame)
            return
        if self._error is not None:
            raise self._error
        if self._thread is None:
            self._queue = queue.Queue(maxsize=32)
            self._thread = threading.Thread(target=self._encoder_loop, daemon=True)
            self._thread.start()
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


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write an RGB uint8 image atomically (format from the suffix)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        ok, buf = cv2.imencode(path.suffix or ".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if not ok:
            raise ValueError(f"could not encode {path}")
        tmp.write_bytes(buf.tobytes())


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 ``(H, W, 3)``."""
    path = Path(path)
    _check_file(path)
    return _read_image(path)


__all__ = ["MediaInfo", "probe", "iter_frames", "VideoWriter", "write_video", "write_image", "read_image",
           "file_hash", "is_image_path", "IMAGE_SUFFIXES"]

