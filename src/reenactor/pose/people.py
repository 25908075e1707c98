"""Several people in one video: find them, follow each one over time, pick one, and extract only that one.

Detection
    MediaPipe's BlazePose *person detector* (``pose_detection.tflite``, shipped inside the mediapipe wheel and run
    through mediapipe's own ``PoseDetectionCpu`` graph, so nothing is downloaded) on *keyframes*, about
    :data:`RATE_HZ` a second. It finds every person whose head is visible, at any position, and gives per
    person a head box plus the hip centre and the radius of the circle around the whole body, from which a body
    box is made (:func:`body_box`). Its input is 224 x 224, so people much smaller than a quarter of the frame
    are found on tiles: a *scan* (the whole frame, plus overlapping tiles when the frame is large) runs every
    :data:`SCAN_PERIOD_S` while it finds someone new, and ever less often (up to every :data:`SCAN_MAX_S`)
    while it does not; in between, one *focused* run per tracked person, on a square around where it is
    expected. A frame small enough for one run (at most ~240 px) is detected whole on every keyframe.
    Measured (docs/people.md): about 12 ms of CPU per run, whatever the region's size; carphone (176 x 144, a
    keyframe every 10th frame: 13 runs) costs about 4 % of its extraction's CPU time.

    (Also measured and not used: MediaPipe face detection, which finds several faces but misses the 10-pixel
    faces of a street scene, and whose person box must be guessed from the face; OpenCV's HOG people
    detector, absent from OpenCV 5; Holistic on crops as a verifier, which draws a whole person on a coat
    lying on the grass.)

Tracking
    Detections are associated with tracks on each keyframe by the overlap (IoU) of their body box with the
    track's predicted box (constant velocity), by an optimal assignment (Hungarian, scipy), so the result is
    deterministic. A track unseen for up to :data:`MAX_LOST_S` keeps its id when seen again (the gap is
    interpolated); longer, it ends, unless it is found again where it was lost within :data:`REVIVE_S`. Tracks seen on fewer than :data:`MIN_HITS` keyframes are dropped as false
    alarms. A track whose box and content never change (``static``: a poster, a coat on the grass that the
    detector takes for a person) is listed but never chosen automatically.

Selection (:func:`choose_track`)
    ``auto``: at most one (non-static) person: None, i.e. the whole frame as before; several: the one with the
    largest *coverage x mean height* (the largest, most present). ``largest``, ``centre``, ``left``, ``right``
    compare the mean body height / mean position of the tracks present in at least a quarter as many frames as
    the longest. ``N``: track id N (as listed by ``reenactor people``).

Following (:class:`CropPlan`)
    Per frame, a square around the chosen track's box (smoothed over time, grown by :data:`CROP_MARGIN` on each
    side) is cut out and resampled to a fixed working size; other tracks' boxes are greyed out where they do
    not overlap the chosen one; Holistic runs on that crop, and keypoints, raw arrays, face box and mask are
    mapped back to frame pixels. A result whose head is nearer another track's head than the chosen one's is
    dropped (``rejected``), and frames without a box for the track are not run at all: both are then frames
    without a person, interpolated or flagged like any other.

Everything here is deterministic: the detector is stateless (a region gives the same detections whatever ran
before it, on whichever thread), the association is an optimal assignment with fixed tie-breaks, and the tracks
are saved (``people.json``) and read back before any crop is made, so a resumed extraction crops as the first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import InputError, NoPersonError
from ..threads import prefetch

PERSON_MODES: tuple[str, ...] = ("auto", "largest", "centre", "left", "right")
#: keyframes (person detection runs) per second of video
RATE_HZ = 3.0
#: full scans (whole frame + tiles) at most this many seconds apart; focused runs in between
SCAN_PERIOD_S = 1.0
#: ... and, while scans find nobody new, ever further apart (doubling) up to this many seconds
SCAN_MAX_S = 4.0
#: a track unseen for longer than this ends; shorter gaps are interpolated
MAX_LOST_S = 1.0
#: a track lost for longer than MAX_LOST_S but at most this many seconds is taken up again by a detection
#: whose box overlaps its last box by at least REVIVE_IOU (someone who stood still, a static object); the gap
#: is not interpolated
REVIVE_S = 5.0
REVIVE_IOU = 0.5
#: keyframes a track must be seen on (fewer: a false alarm)
MIN_HITS = 3
#: minimum overlap (IoU) of a detection's body box with a track's predicted box to continue the track
MIN_IOU = 0.1
#: the crop around the chosen person: margin on each side, as a fraction of the box's long side
CROP_MARGIN = 0.25
#: temporal smoothing of the crop (Gaussian sigma, seconds)
SMOOTH_S = 0.2
#: a track is static when, over at least 2 s, what is at the place of its first box changes by less than this
#: (median mean absolute grey level difference from its first keyframe, 0..255) and its centre moves by less
#: than STATIC_MOVE of its height (std)
STATIC_CHANGE = 6.0
STATIC_MOVE = 0.1
#: the detection graph's input side (its detections are letterboxed into this)
DETECTOR_SIDE = 224
GREY = 128
PEOPLE_VERSION = 1

_GRAPH = """
input_stream: "image"
output_stream: "detections"
node {
  calculator: "PoseDetectionCpu"
  input_stream: "IMAGE:image"
  output_stream: "DETECTIONS:detections"
}
"""


def parse_person(text: str | int) -> str:
    """A ``--person`` value, checked: one of :data:`PERSON_MODES` (``center`` is ``centre``) or a track id
    ``N >= 1`` (as text). Raises ValueError with the allowed values."""
    s = str(text).strip().lower()
    if s == "center":
        s = "centre"
    if s in PERSON_MODES:
        return s
    if s.isdigit() and int(s) >= 1:
        return str(int(s))
    raise ValueError(f"must be one of {', '.join(PERSON_MODES)} or a track id N >= 1, got {text!r}")


# ---------------------------------------------------------------------------------------------- detector
class PersonDetector:
    """MediaPipe's BlazePose person detector on one RGB image at a time (stateless: each call is independent).

    :meth:`detect` returns ``(K, 13) float64`` rows ``[score, head x0, y0, x1, y1, hip x, y, body-circle x, y,
    shoulder x, y, upper-body-circle x, y]`` in pixels of the image given."""

    def __init__(self) -> None:
        from google.protobuf import text_format
        from mediapipe.framework import calculator_pb2
        from mediapipe.python import solution_base

        from .holistic import hold_interrupt, quiet_native_stderr

        self._g = None
        try:
            with hold_interrupt(), quiet_native_stderr():
                cfg = text_format.Parse(_GRAPH, calculator_pb2.CalculatorGraphConfig())
                self._g = solution_base.SolutionBase(graph_config=cfg, outputs=["detections"])
        except (
            BaseException
        ):  # e.g. Ctrl-C, deferred to the end of the making: the graph is closed, not orphaned
            self.close()
            raise
        self._fresh = 2

    def detect(self, image: np.ndarray) -> np.ndarray:
        from .holistic import quiet_native_stderr

        image = np.ascontiguousarray(image, dtype=np.uint8)
        h, w = image.shape[:2]
        if self._fresh:
            self._fresh -= 1
            with quiet_native_stderr():
                r = self._g.process({"image": image})
        else:
            r = self._g.process({"image": image})
        rows = []
        for d in r.detections or []:
            loc = d.location_data
            bb = loc.relative_bounding_box
            kp = [(k.x * w, k.y * h) for k in loc.relative_keypoints]
            if len(kp) < 4:
                continue
            rows.append(
                [
                    float(d.score[0]) if d.score else 0.0,
                    bb.xmin * w,
                    bb.ymin * h,
                    (bb.xmin + bb.width) * w,
                    (bb.ymin + bb.height) * h,
                    *[c for p in kp[:4] for c in p],
                ]
            )
        return np.asarray(rows, np.float64).reshape(-1, 13)

    def close(self) -> None:
        from .holistic import hold_interrupt

        if self._g is not None:
            with hold_interrupt():
                self._g.close()
                self._g = None

    def __enter__(self) -> PersonDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def body_box(det: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """A detection row -> the person's body box ``[x0, y0, x1, y1]`` clipped to the frame ``hw``.

    The detector gives the hip centre and a point on the circle around the whole body (its radius r is about
    half the standing height): the box spans the hips +- r vertically and +- 0.3 r horizontally around the
    body's axis (the shoulders' centre when the hips are outside the frame, as in a close-up), joined with the
    head box."""
    h, w = hw
    fx0, fy0, fx1, fy1, hx, hy, bx, by, sx, sy = det[1:11]
    r = math.hypot(bx - hx, by - hy)
    inside = 0 <= hx < w and 0 <= hy < h
    cx = 0.5 * (hx + sx) if inside else sx
    half = max(0.3 * r, 0.5 * (fx1 - fx0))
    box = np.array([min(cx - half, fx0), min(hy - r, fy0), max(cx + half, fx1), max(hy + r, fy1)])
    return _clip_box(box, hw)


def _clip_box(box: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    h, w = hw
    b = np.asarray(box, np.float64).copy()
    b[..., [0, 2]] = b[..., [0, 2]].clip(0, w)
    b[..., [1, 3]] = b[..., [1, 3]].clip(0, h)
    return b


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``(N, 4)`` and ``(M, 4)`` -> ``(N, M)``."""
    a = np.asarray(a, np.float64).reshape(-1, 4)[:, None]
    b = np.asarray(b, np.float64).reshape(-1, 4)[None]
    iw = (np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])).clip(0)
    ih = (np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])).clip(0)
    inter = iw * ih
    area = lambda x: (x[..., 2] - x[..., 0]).clip(0) * (x[..., 3] - x[..., 1]).clip(0)  # noqa: E731
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def scan_regions(hw: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """The regions ``(x0, y0, x1, y1)`` of a full scan: the whole frame, plus square tiles (side about the
    frame's short side / 2.25, at least 192 px, overlapping by a quarter) when the frame is larger than 1.25
    tiles."""
    h, w = hw
    regions = [(0, 0, w, h)]
    side = max(192, int(round(min(h, w) / 2.25)))
    if max(h, w) <= 1.25 * side:
        return regions
    step = 0.75 * side
    for y0 in _starts(h, side, step):
        for x0 in _starts(w, side, step):
            regions.append((x0, y0, min(w, x0 + side), min(h, y0 + side)))
    return regions


def _starts(length: int, side: int, step: float) -> list[int]:
    if length <= side:
        return [0]
    n = int(math.ceil((length - side) / step)) + 1
    return [int(round(v)) for v in np.linspace(0, length - side, n)]


def _focus_region(box: np.ndarray, hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """A square twice the box's long side around its centre, moved inside the frame (and cut to it)."""
    h, w = hw
    side = max(96.0, 2.0 * max(box[2] - box[0], box[3] - box[1]))
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x0 = int(round(min(max(cx - side / 2, 0), max(0, w - side))))
    y0 = int(round(min(max(cy - side / 2, 0), max(0, h - side))))
    return x0, y0, int(min(w, x0 + round(side))), int(min(h, y0 + round(side)))


def overlap_small(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over the smaller box's area, ``(N, 4)`` x ``(M, 4)`` -> ``(N, M)``."""
    a = np.asarray(a, np.float64).reshape(-1, 4)[:, None]
    b = np.asarray(b, np.float64).reshape(-1, 4)[None]
    iw = (np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])).clip(0)
    ih = (np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])).clip(0)
    area = lambda x: (x[..., 2] - x[..., 0]).clip(0) * (x[..., 3] - x[..., 1]).clip(0)  # noqa: E731
    return iw * ih / np.maximum(np.minimum(area(a), area(b)), 1e-9)


def _nms(dets: np.ndarray, thresh: float = 0.3) -> np.ndarray:
    """Keep the best-scoring of detections whose head boxes overlap by more than ``thresh`` of the smaller one
    (the same head seen from two regions gives boxes of different sizes)."""
    if len(dets) < 2:
        return dets
    order = np.lexsort((dets[:, 1], -dets[:, 0]))  # score, then x: deterministic
    dets = dets[order]
    ov = overlap_small(dets[:, 1:5], dets[:, 1:5])
    keep: list[int] = []
    for i in range(len(dets)):
        if all(ov[i, j] <= thresh for j in keep):
            keep.append(i)
    return dets[keep]


def _drop_parts(dets: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Drop a detection that is a part of a larger one: its head inside the other's body box, less than half
    the other's head size, and the two body boxes overlapping (IoU > 0.3). A tile of a close-up sees a person's
    face or chest as a small whole person; a small person far behind a near one has a body box of its own."""
    if len(dets) < 2:
        return dets
    bodies = np.stack([body_box(d, hw) for d in dets])
    heads = dets[:, 1:5]
    hsize = np.maximum(heads[:, 2] - heads[:, 0], heads[:, 3] - heads[:, 1])
    hc = (heads[:, :2] + heads[:, 2:]) / 2
    ov = iou(bodies, bodies)
    keep = np.ones(len(dets), bool)
    for b in range(len(dets)):
        for a in range(len(dets)):
            if a == b or not keep[a] or hsize[b] >= 0.5 * hsize[a] or ov[a, b] <= 0.3:
                continue
            x0, y0, x1, y1 = bodies[a]
            if x0 <= hc[b, 0] <= x1 and y0 <= hc[b, 1] <= y1:
                keep[b] = False
                break
    return dets[keep]


def _thumb(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    """A 12 x 24 grey thumbnail of a box (for telling a static object from a person)."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.zeros((24, 12), np.float32)
    g = cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    return cv2.resize(g, (12, 24), interpolation=cv2.INTER_AREA).astype(np.float32)


# ---------------------------------------------------------------------------------------------- tracks
@dataclass
class Track:
    """One person over time. ``frames``: the keyframes it was detected on, with its body box (``boxes``), head
    box (``heads``) and detection score there; :meth:`dense` gives per-frame boxes with short gaps
    interpolated. Ids count from 1 in order of first appearance."""

    id: int
    frames: np.ndarray  # (K,) int keyframes where detected
    boxes: np.ndarray  # (K, 4) body boxes [x0, y0, x1, y1], frame pixels
    heads: np.ndarray  # (K, 4) head boxes
    scores: np.ndarray  # (K,)
    change: float = 0.0  # median change of the content at its first box's place since then (grey levels)
    move: float = 0.0  # std of the box centre over the track / mean height
    static: bool = False
    _dense: dict = field(default_factory=dict, repr=False, compare=False)

    def dense(self, n: int, stride: int, max_gap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-frame ``(boxes (n, 4), heads (n, 4), observed (n,) bool)``; NaN boxes where unknown. Between two
        keyframes at most ``max_gap`` frames apart the boxes are interpolated; before the first and after the
        last detection, and on each side of a longer gap, they are held for ``stride // 2`` frames (to the clip's
        ends when closer than a keyframe step)."""
        key = (n, stride, max_gap)
        if key in self._dense:
            return self._dense[key]
        boxes = np.full((n, 4), np.nan)
        heads = np.full((n, 4), np.nan)
        observed = np.zeros(n, bool)
        f = self.frames
        for i, t in enumerate(f):
            if 0 <= t < n:
                boxes[t], heads[t], observed[t] = self.boxes[i], self.heads[i], True
        ext = stride // 2
        for i in range(len(f) - 1):
            a, b = int(f[i]), int(f[i + 1])
            if 1 < b - a <= max_gap and b < n:
                w = (np.arange(a + 1, b) - a)[:, None] / (b - a)
                boxes[a + 1 : b] = (1 - w) * self.boxes[i] + w * self.boxes[i + 1]
                heads[a + 1 : b] = (1 - w) * self.heads[i] + w * self.heads[i + 1]
            elif b - a > max_gap:  # a long gap: each side held for half a keyframe step
                boxes[a + 1 : a + 1 + ext], heads[a + 1 : a + 1 + ext] = self.boxes[i], self.heads[i]
                boxes[b - ext : b], heads[b - ext : b] = self.boxes[i + 1], self.heads[i + 1]
        if len(f):
            a = int(f[0])
            lo = 0 if a <= stride else a - ext
            boxes[lo:a], heads[lo:a] = self.boxes[0], self.heads[0]
            b = int(f[-1])
            hi = n if n - 1 - b < stride else min(n, b + ext + 1)
            boxes[b + 1 : hi], heads[b + 1 : hi] = self.boxes[-1], self.heads[-1]
        self._dense[key] = (boxes, heads, observed)
        return self._dense[key]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "frames": [int(v) for v in self.frames],
            "boxes": [[float(v) for v in b] for b in self.boxes],
            "heads": [[float(v) for v in b] for b in self.heads],
            "scores": [float(v) for v in self.scores],
            "change": float(self.change),
            "move": float(self.move),
            "static": bool(self.static),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Track:
        return cls(
            id=int(d["id"]),
            frames=np.asarray(d["frames"], np.int64),
            boxes=np.asarray(d["boxes"], np.float64).reshape(-1, 4),
            heads=np.asarray(d["heads"], np.float64).reshape(-1, 4),
            scores=np.asarray(d["scores"], np.float64),
            change=float(d.get("change", 0.0)),
            move=float(d.get("move", 0.0)),
            static=bool(d.get("static", False)),
        )


@dataclass
class People:
    """The tracks found in one video (``n_frames`` frames of ``height`` x ``width``, keyframes every
    ``stride`` frames)."""

    n_frames: int
    height: int
    width: int
    fps: float
    stride: int
    tracks: list[Track]
    seconds: float = 0.0
    runs: int = 0  # detector runs

    @property
    def max_gap(self) -> int:
        return max(self.stride, int(round(MAX_LOST_S * self.fps)) + self.stride)

    def dense(self, track: Track) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return track.dense(self.n_frames, self.stride, self.max_gap)

    def track(self, tid: int) -> Track | None:
        return next((t for t in self.tracks if t.id == tid), None)

    def summary(self, track: Track) -> dict[str, Any]:
        """What ``reenactor people`` lists: frames present, first/last, coverage, mean size and position."""
        boxes, _, observed = self.dense(track)
        ok = ~np.isnan(boxes[:, 0])
        b = boxes[ok]
        hgt = b[:, 3] - b[:, 1]
        return {
            "id": track.id,
            "frames_present": int(ok.sum()),
            "frames_detected": int(observed.sum()),
            "first_frame": int(np.flatnonzero(ok)[0]) if ok.any() else None,
            "last_frame": int(np.flatnonzero(ok)[-1]) if ok.any() else None,
            "coverage": round(float(ok.mean()), 4) if self.n_frames else 0.0,
            "mean_height": round(float(hgt.mean()), 1) if len(b) else 0.0,
            "mean_width": round(float((b[:, 2] - b[:, 0]).mean()), 1) if len(b) else 0.0,
            "mean_centre": [
                round(float(((b[:, 0] + b[:, 2]) / 2).mean()), 1),
                round(float(((b[:, 1] + b[:, 3]) / 2).mean()), 1),
            ]
            if len(b)
            else None,
            "mean_score": round(float(track.scores.mean()), 3) if len(track.scores) else 0.0,
            "static": track.static,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "version": PEOPLE_VERSION,
            "n_frames": self.n_frames,
            "height": self.height,
            "width": self.width,
            "fps": self.fps,
            "stride": self.stride,
            "seconds": round(self.seconds, 3),
            "runs": self.runs,
            "tracks": [t.to_json() for t in self.tracks],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> People:
        if d.get("version") != PEOPLE_VERSION:
            raise ValueError(f"people file version {d.get('version')} is not {PEOPLE_VERSION}")
        return cls(
            n_frames=int(d["n_frames"]),
            height=int(d["height"]),
            width=int(d["width"]),
            fps=float(d["fps"]),
            stride=int(d["stride"]),
            tracks=[Track.from_json(t) for t in d["tracks"]],
            seconds=float(d.get("seconds", 0.0)),
            runs=int(d.get("runs", 0)),
        )

    def save(self, path: str | Path) -> None:
        from ..io.atomic import write_json

        write_json(Path(path), self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> People:
        return cls.from_json(json.loads(Path(path).read_text()))


class _Live:
    """A track being built."""

    def __init__(self, tid: int, t: int, box: np.ndarray, det: np.ndarray, thumb: np.ndarray):
        self.id = tid
        self.frames = [t]
        self.boxes = [box]
        self.heads = [det[1:5].copy()]
        self.scores = [float(det[0])]
        self.thumbs = [thumb]  # content at the first box's place, at every keyframe the track is seen
        self.vel = np.zeros(2)

    def predict(self, t: int, max_pred: int) -> np.ndarray:
        dt = min(t - self.frames[-1], max_pred)
        b = self.boxes[-1].copy()
        b[[0, 2]] += self.vel[0] * dt
        b[[1, 3]] += self.vel[1] * dt
        return b

    def stats(self) -> tuple[float, float]:
        """``(change, move)``: the median change of the content at the first box's place since the first
        keyframe (grey levels), and the std of the box centre over the mean height."""
        boxes = np.stack(self.boxes)
        hgt = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        move = float(np.linalg.norm(centres.std(0)) / hgt.mean())
        diffs = [float(np.abs(a - self.thumbs[0]).mean()) for a in self.thumbs[1:]]
        return (float(np.median(diffs)) if diffs else 0.0), move

    def add(self, t: int, box: np.ndarray, det: np.ndarray, thumb: np.ndarray) -> None:
        dt = t - self.frames[-1]
        c_old = (self.boxes[-1][:2] + self.boxes[-1][2:]) / 2
        c_new = (box[:2] + box[2:]) / 2
        v = (c_new - c_old) / max(dt, 1)
        self.vel = v if len(self.frames) == 1 else 0.5 * self.vel + 0.5 * v
        self.frames.append(t)
        self.boxes.append(box)
        self.heads.append(det[1:5].copy())
        self.scores.append(float(det[0]))
        self.thumbs.append(thumb)


class PeopleTracker:
    """Associates keyframe detections into tracks (see the module docstring). Feed :meth:`update` with
    keyframes in order, then :meth:`finish`."""

    def __init__(
        self, hw: tuple[int, int], fps: float, stride: int, on_several: Callable[[], None] | None = None
    ):
        self.hw = hw
        self.on_several = on_several  # called once, as soon as two people that move are tracked
        self._moving: set[int] = set()
        self.fps = fps
        self.stride = stride
        self.max_lost = max(stride, int(round(MAX_LOST_S * fps)))
        self.max_pred = max(stride, int(round(0.5 * fps)))
        self.max_revive = max(self.max_lost, int(round(REVIVE_S * fps)))
        self.live: list[_Live] = []
        self.ended: list[_Live] = []
        self._next = 1
        self.keyframes = 0

    def active(self, t: int) -> list[_Live]:
        return [tr for tr in self.live if t - tr.frames[-1] <= self.max_lost]

    def expected(self, t: int) -> list[np.ndarray]:
        """Predicted body boxes at frame ``t`` of the tracks still alive (for focused runs)."""
        return [_clip_box(tr.predict(t, self.max_pred), self.hw) for tr in self.active(t)]

    def update(self, t: int, dets: np.ndarray, frame: np.ndarray) -> int:
        """Match keyframe ``t``'s detections to the tracks; returns how many new tracks they started."""
        from scipy.optimize import linear_sum_assignment

        self.keyframes += 1
        for tr in [tr for tr in self.live if t - tr.frames[-1] > self.max_lost]:
            self.live.remove(tr)
            self.ended.append(tr)
        boxes = [body_box(d, self.hw) for d in dets]
        matched: set[int] = set()
        if self.live and len(dets):
            pred = np.stack([_clip_box(tr.predict(t, self.max_pred), self.hw) for tr in self.live])
            sim = iou(pred, np.stack(boxes))
            rows, cols = linear_sum_assignment(-sim)
            for r, c in zip(rows, cols):
                if sim[r, c] >= MIN_IOU:
                    tr = self.live[r]
                    tr.add(t, boxes[c], dets[c], _thumb(frame, tr.boxes[0]))
                    matched.add(int(c))
        left = [c for c in range(len(dets)) if c not in matched]
        recent = [tr for tr in self.ended if t - tr.frames[-1] <= self.max_revive]
        if left and recent:  # found again where it was lost (someone standing, a static object): the same id
            sim = iou(np.stack([tr.boxes[-1] for tr in recent]), np.stack([boxes[c] for c in left]))
            rows, cols = linear_sum_assignment(-sim)
            for r, c in zip(rows, cols):
                if sim[r, c] >= REVIVE_IOU:
                    tr, c = recent[r], left[c]
                    self.ended.remove(tr)
                    self.live.append(tr)
                    tr.add(t, boxes[c], dets[c], _thumb(frame, tr.boxes[0]))
                    matched.add(int(c))
        for c in range(len(dets)):
            if c not in matched:
                self.live.append(_Live(self._next, t, boxes[c], dets[c], _thumb(frame, boxes[c])))
                self._next += 1
        new = len(dets) - len(matched)
        if self.on_several is not None and len(self._moving) < 2:
            for tr in self.live:
                if tr.id not in self._moving and len(tr.frames) >= MIN_HITS:
                    change, move = tr.stats()
                    if change >= STATIC_CHANGE or move >= STATIC_MOVE:
                        self._moving.add(tr.id)
            if len(self._moving) >= 2:
                self.on_several()
        return new

    def finish(self) -> list[Track]:
        """The confirmed tracks (seen on at least MIN_HITS keyframes, or on every keyframe of a short video),
        numbered 1.. by first appearance (then left to right)."""
        need = min(MIN_HITS, max(1, self.keyframes))
        done = [tr for tr in self.ended + self.live if len(tr.frames) >= need]
        done.sort(key=lambda tr: (tr.frames[0], (tr.boxes[0][0] + tr.boxes[0][2]) / 2, tr.id))
        out = []
        for i, tr in enumerate(done, 1):
            boxes = np.stack(tr.boxes)
            change, move = tr.stats()
            long_enough = (tr.frames[-1] - tr.frames[0]) >= 2 * self.fps and len(tr.frames) >= 2 * MIN_HITS
            out.append(
                Track(
                    id=i,
                    frames=np.asarray(tr.frames, np.int64),
                    boxes=boxes,
                    heads=np.stack(tr.heads),
                    scores=np.asarray(tr.scores),
                    change=change,
                    move=move,
                    static=bool(long_enough and change < STATIC_CHANGE and move < STATIC_MOVE),
                )
            )
        return out


def keyframe_stride(fps: float) -> int:
    """Frames between detection keyframes: about :data:`RATE_HZ` keyframes per second."""
    return max(1, int(round((fps or 25.0) / RATE_HZ)))


def _merge_regions(regs: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Focused regions, merged where two fit in one at most 1.25 times the larger's side (people walking
    together: one detector run)."""
    out: list[tuple[int, int, int, int]] = []
    for r in regs:
        for i, q in enumerate(out):
            u = (min(r[0], q[0]), min(r[1], q[1]), max(r[2], q[2]), max(r[3], q[3]))
            big = max(r[2] - r[0], r[3] - r[1], q[2] - q[0], q[3] - q[1])
            if max(u[2] - u[0], u[3] - u[1]) <= 1.25 * big:
                out[i] = u
                break
        else:
            out.append(r)
    return out


def _detect_regions(pool, frame: np.ndarray, regs: list[tuple[int, int, int, int]], hw) -> np.ndarray:
    """Detections of all ``regs`` of one frame (on the pool's detectors, side by side), in frame pixels, with
    duplicates removed. The same regions give the same rows whatever the thread that ran each."""

    def run(reg: tuple[int, int, int, int]) -> np.ndarray:
        x0, y0, x1, y1 = reg
        det = pool.get()
        try:
            d = det.detect(frame[y0:y1, x0:x1])
        finally:
            pool.put(det)
        if len(d):  # a head near a region's edge inside the frame may be cut: another region sees it whole
            ex = 0.5 * (d[:, 3] - d[:, 1])
            ey = 0.5 * (d[:, 4] - d[:, 2])
            cut = (
                ((d[:, 1] - ex < 0) & (x0 > 0))
                | ((d[:, 2] - ey < 0) & (y0 > 0))
                | ((d[:, 3] + ex > x1 - x0) & (x1 < hw[1]))
                | ((d[:, 4] + ey > y1 - y0) & (y1 < hw[0]))
            )
            d = d[~cut]
            d[:, 1::2] += x0
            d[:, 2::2] += y0
        return d

    if pool.qsize() > 1 and len(regs) > 1:
        found = list(pool.executor.map(run, regs))
    else:
        found = [run(r) for r in regs]
    found = [d for d in found if len(d)]
    dets = _drop_parts(_nms(np.concatenate(found)), hw) if found else np.zeros((0, 13))
    if len(dets):  # a head box mostly outside the frame, or a degenerate body circle: not a person
        hb = dets[:, 1:5]
        inside = overlap_small(hb, np.array([0, 0, hw[1], hw[0]]))[:, 0]
        r = np.hypot(dets[:, 7] - dets[:, 5], dets[:, 8] - dets[:, 6])
        dets = dets[(inside > 0.5) & (r > 2)]
    return dets


def find_people(
    path: str | Path,
    stop: int | None = None,
    progress: bool = False,
    frames: Iterable[np.ndarray] | None = None,
    keep: list | None = None,
    workers: int = 0,
    on_frame: Callable[[np.ndarray], None] | None = None,
    on_several: Callable[[], None] | None = None,
) -> People:
    """Detect and track the people of a video (or image) file in one pass over its frames (``stop``: only the
    first ``stop``). ``frames``: the decoded frames, if the caller has them (else the file is decoded);
    ``keep``: a list that receives every decoded frame. ``workers``: detectors running the regions of one
    keyframe side by side (0: one per core, at most 2); the result does not depend on it. ``on_frame`` sees
    every decoded frame, in order (after its keyframe detection, if it is one); ``on_several()`` is called once
    as soon as two tracks of people that move exist (early news that the video has several people).

    A small frame (no tiles: one detector run sees it all) is detected whole on every keyframe, so the
    keyframes do not depend on the tracks and run ahead on the detectors side by side; a larger one is scanned
    or searched around the tracks, keyframe after keyframe. Decoding runs in its own thread."""
    import collections
    import os
    import queue
    import time
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    from ..io.video import iter_frames, probe
    from .holistic import quiet_native_stderr

    t0 = time.perf_counter()
    info = probe(path)
    fps = info.fps or 25.0
    hw = (info.height, info.width)
    stride = 1 if info.is_image else keyframe_stride(fps)
    scan_every = max(1, int(round(SCAN_PERIOD_S * fps / stride)))
    scan_most = max(scan_every, int(round(SCAN_MAX_S * fps / stride)))
    scan = {"next": 0, "every": scan_every}  # keyframe of the next scan, current interval
    tracker = PeopleTracker(hw, fps, stride, on_several)
    regions = scan_regions(hw)
    total = info.n_frames if stop is None else min(info.n_frames or stop, stop)
    workers = workers or max(1, min(2, os.cpu_count() or 1))
    small = len(regions) == 1
    if small:  # one run per keyframe, far cheaper than the pose pass it goes with: a second graph costs more
        workers = 1
    runs = 0
    n = 0
    k = 0  # keyframe count
    last: tuple[int, np.ndarray] | None = None
    pool: queue.Queue = queue.Queue()

    ahead: collections.deque = collections.deque()  # small frames: (t, frame, future) in keyframe order

    def drain(upto: int) -> None:
        while ahead and (len(ahead) > upto or ahead[0][2].done()):
            t, frame, fut = ahead.popleft()
            tracker.update(t, fut.result(), frame)

    def key(t: int, frame: np.ndarray) -> None:
        nonlocal runs, k
        if frame.shape[:2] != hw:
            raise InputError(
                f"frame {t} is {frame.shape[1]}x{frame.shape[0]}, the video's header says {hw[1]}x{hw[0]}",
                path,
                "re-encode the video",
            )
        if small:
            runs += 1
            k += 1
            ahead.append((t, frame, executor.submit(_detect_regions, pool, frame, regions, hw)))
            drain(2 * workers)
            return
        scanning = k >= scan["next"]
        if scanning:
            regs = list(regions)
        else:
            regs = []
            for b in tracker.expected(t):
                r = _focus_region(b, hw)
                if (r[2] - r[0]) >= 0.8 * hw[1] and (r[3] - r[1]) >= 0.8 * hw[0]:
                    r = (0, 0, hw[1], hw[0])
                regs.append(r)
            regs = _merge_regions(regs)
        runs += len(regs)
        new = tracker.update(t, _detect_regions(pool, frame, regs, hw), frame)
        if scanning:  # someone new: scan again soon; nobody new: wait twice as long (up to SCAN_MAX_S)
            scan["every"] = scan_every if new else min(scan_most, 2 * scan["every"])
            scan["next"] = k + scan["every"]
        k += 1

    src = frames if frames is not None else prefetch(iter_frames(path, stop=stop))
    with (
        ThreadPoolExecutor(workers) as executor,
        quiet_native_stderr() as err,
        tqdm(total=total or None, desc="people", unit="frame", disable=not progress, file=err) as bar,
    ):
        pool.executor = executor  # type: ignore[attr-defined]
        dets = [PersonDetector() for _ in range(workers)]
        for d in dets:
            pool.put(d)
        try:
            for t, frame in enumerate(src):
                if stop is not None and t >= stop:
                    break
                if keep is not None:
                    keep.append(frame)
                if t % stride == 0:
                    key(t, frame)
                    last = None
                else:
                    last = (t, frame)
                if on_frame is not None:
                    on_frame(frame)
                n = t + 1
                bar.update(1)
            if last is not None:  # the last frame is always a keyframe
                key(*last)
            drain(0)
        finally:
            # detections run ahead in the executor: let the running ones finish before their graphs close (a
            # graph closed under a running detection, e.g. on Ctrl-C, aborts the process at exit)
            executor.shutdown(wait=True, cancel_futures=True)
            for d in dets:
                d.close()
    if n == 0:
        raise InputError(
            "no frame could be decoded", path, "the file is truncated or not a video; re-export it"
        )
    return People(
        n_frames=n,
        height=hw[0],
        width=hw[1],
        fps=float(fps),
        stride=stride,
        tracks=tracker.finish(),
        seconds=time.perf_counter() - t0,
        runs=runs,
    )


# ---------------------------------------------------------------------------------------------- selection
def _candidates(people: People) -> list[Track]:
    return [t for t in people.tracks if not t.static]


def choose_track(people: People, mode: str, path: str | Path | None = None) -> tuple[Track | None, str]:
    """The track ``mode`` picks (:func:`parse_person` values), and a sentence saying why. ``None``: follow no
    track, run on the whole frame as before (``auto`` with at most one person).

    Raises :class:`NoPersonError` when a mode other than ``auto`` finds nobody, and :class:`InputError` when
    ``N`` is not a track id (naming the valid ones)."""
    mode = parse_person(mode)
    cands = _candidates(people)
    listing = ", ".join(f"{t.id}{' (static)' if t.static else ''}" for t in people.tracks)  # for messages
    if mode.isdigit():
        tid = int(mode)
        tr = people.track(tid)
        if tr is None:
            if not people.tracks:
                raise NoPersonError(
                    f"--person {tid}: the people detector found no person in this video",
                    path,
                    "use --person auto (the whole frame, as without --person)",
                )
            raise InputError(
                f"--person {tid}: no such track; the tracks found are {listing}",
                path,
                "list them with their pictures: `reenactor people VIDEO -o DIR`, then pass one of those ids",
            )
        return tr, f"track {tid}, as asked"
    if not cands:
        if mode == "auto":
            return None, "no person found by the people detector: the whole frame, as before"
        raise NoPersonError(
            f"--person {mode}: the people detector found no person in this video"
            + (f" (only static tracks: {listing})" if people.tracks else ""),
            path,
            "use --person auto (the whole frame), or a track id from `reenactor people VIDEO -o DIR`",
        )
    summ = {t.id: people.summary(t) for t in cands}
    if mode == "auto":
        if len(cands) == 1:
            return None, "one person: the whole frame, as before"
        h = people.height

        def score(t: Track) -> float:
            return summ[t.id]["coverage"] * summ[t.id]["mean_height"] / h

        best = max(cands, key=lambda t: (score(t), -t.id))
        s = summ[best.id]
        ids = [str(t.id) for t in cands]
        shown = ", ".join(ids) if len(ids) <= 8 else ", ".join(ids[:6]) + f", ... {ids[-1]}"
        return best, (
            f"{len(cands)} people found (tracks {shown}); following track "
            f"{best.id}, the largest and most present ({s['coverage']:.0%} of frames, "
            f"{s['mean_height']:.0f} px tall): pick another with --person N (see `reenactor people`)"
        )
    longest = max(summ[t.id]["frames_present"] for t in cands)
    pool = [t for t in cands if summ[t.id]["frames_present"] >= 0.25 * longest]
    cx = {t.id: summ[t.id]["mean_centre"][0] for t in pool}
    cy = {t.id: summ[t.id]["mean_centre"][1] for t in pool}
    if mode == "largest":
        best = max(pool, key=lambda t: (summ[t.id]["mean_height"], -t.id))
    elif mode == "left":
        best = min(pool, key=lambda t: (cx[t.id], t.id))
    elif mode == "right":
        best = max(pool, key=lambda t: (cx[t.id], -t.id))
    else:  # centre
        best = min(
            pool, key=lambda t: (math.hypot(cx[t.id] - people.width / 2, cy[t.id] - people.height / 2), t.id)
        )
    return best, f"track {best.id} ({mode} of {len(pool)} people)"


# ---------------------------------------------------------------------------------------------- following
_RECORD_SHAPES = {
    "body": (25, 3),
    "face": (68, 3),
    "hand_left": (21, 3),
    "hand_right": (21, 3),
    "face_box": (4,),
    "pose_raw": (33, 4),
    "face_raw": (478, 3),
    "hand_left_raw": (21, 3),
    "hand_right_raw": (21, 3),
}


def empty_record(mask_hw: tuple[int, int]) -> dict[str, Any]:
    """A Holistic record with no person (what :meth:`HolisticExtractor.process` gives for an empty frame)."""
    rec: dict[str, Any] = {k: np.zeros(s, np.float32) for k, s in _RECORD_SHAPES.items()}
    rec["mask"] = np.zeros(mask_hw, np.uint8)
    rec["person"] = False
    return rec


@dataclass
class CropItem:
    """One frame as handed to the pose workers: its index, the crop (None: the track has no box here)."""

    t: int
    image: np.ndarray | None


def _smooth(values: np.ndarray, ok: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of ``values`` (n, d) within each run of ``ok`` frames."""
    from scipy.ndimage import gaussian_filter1d

    out = values.copy()
    if sigma <= 0:
        return out
    idx = np.flatnonzero(ok)
    if not len(idx):
        return out
    breaks = np.flatnonzero(np.diff(idx) > 1)
    for seg in np.split(idx, breaks + 1):
        if len(seg) > 1:
            out[seg] = gaussian_filter1d(values[seg], sigma, axis=0, mode="nearest")
    return out


class CropPlan:
    """Where to cut each frame to show Holistic only the chosen track (see the module docstring)."""

    def __init__(self, people: People, track: Track, margin: float = CROP_MARGIN):
        n = people.n_frames
        self.people, self.track, self.hw = people, track, (people.height, people.width)
        boxes, heads, observed = people.dense(track)
        self.boxes, self.heads, self.observed = boxes, heads, observed
        self.ok = ~np.isnan(boxes[:, 0])
        c = np.zeros((n, 3))
        c[self.ok, 0] = (boxes[self.ok, 0] + boxes[self.ok, 2]) / 2
        c[self.ok, 1] = (boxes[self.ok, 1] + boxes[self.ok, 3]) / 2
        c[self.ok, 2] = np.maximum(
            boxes[self.ok, 2] - boxes[self.ok, 0], boxes[self.ok, 3] - boxes[self.ok, 1]
        )
        c = _smooth(c, self.ok, SMOOTH_S * people.fps)
        self.side = np.maximum(c[:, 2] * (1 + 2 * margin), 32.0)
        self.x0 = c[:, 0] - self.side / 2
        self.y0 = c[:, 1] - self.side / 2
        big = float(self.side[self.ok].max()) if self.ok.any() else 256.0
        self.work = int(min(1024, max(128, 2 * math.ceil(big / 2))))
        others = [t for t in people.tracks if t.id != track.id]
        self.other_ids = [t.id for t in others]
        self.other_boxes = [people.dense(t)[0] for t in others]
        self.other_heads = [people.dense(t)[1] for t in others]

    def __len__(self) -> int:
        return self.people.n_frames

    def scale(self, t: int) -> float:
        return self.work / float(self.side[t])

    def crop(self, frame: np.ndarray, t: int) -> np.ndarray | None:
        """The working image of frame ``t`` (``work`` x ``work``), None where the track has no box."""
        if t >= len(self.ok) or not self.ok[t]:
            return None
        s, x0, y0 = self.scale(t), float(self.x0[t]), float(self.y0[t])
        m = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]])
        img = cv2.warpAffine(
            frame, m, (self.work, self.work), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        shown = [b[t] for b in self.other_boxes if not np.isnan(b[t, 0])]
        if shown:
            keep = self._rect(self.boxes[t], t)
            saved = img[keep[1] : keep[3], keep[0] : keep[2]].copy()
            for b in shown:
                r = self._rect(b, t)
                img[r[1] : r[3], r[0] : r[2]] = GREY
            img[keep[1] : keep[3], keep[0] : keep[2]] = saved
        return img

    def _rect(self, box: np.ndarray, t: int) -> tuple[int, int, int, int]:
        s, x0, y0 = self.scale(t), self.x0[t], self.y0[t]
        r = np.round([(box[0] - x0) * s, (box[1] - y0) * s, (box[2] - x0) * s, (box[3] - y0) * s])
        r = r.clip(0, self.work).astype(int)
        return int(r[0]), int(r[1]), int(r[2]), int(r[3])

    def items(
        self, frames: Iterable[np.ndarray], start: int = 0, keep: list | None = None
    ) -> Iterator[CropItem]:
        """The crops of ``frames`` (numbered from ``start``); ``keep`` receives the full frames, in order."""
        for i, frame in enumerate(frames, start):
            if keep is not None:
                keep.append(frame)
            yield CropItem(i, self.crop(frame, i))

    def process(self, ex, item: CropItem, mask_hw: tuple[int, int]) -> dict[str, Any]:
        """Holistic on one crop, mapped back to frame pixels (mask at ``mask_hw``), plus ``rejected``: True
        when what Holistic found is nearer another track than the chosen one (then the record is empty)."""
        if item.image is None:
            rec = empty_record(mask_hw)
            rec["rejected"] = False
            return rec
        r = ex.process(item.image)
        t = item.t
        s, x0, y0 = self.scale(t), float(self.x0[t]), float(self.y0[t])
        off = np.array([x0, y0], np.float32)
        present = {
            "body": bool(r["person"]),
            "face": bool(r["face"][0, 2] > 0),
            "hand_left": bool(r["hand_left"][0, 2] > 0),
            "hand_right": bool(r["hand_right"][0, 2] > 0),
        }
        groups = {
            "body": ("body", "pose_raw"),
            "face": ("face", "face_raw"),
            "hand_left": ("hand_left", "hand_left_raw"),
            "hand_right": ("hand_right", "hand_right_raw"),
        }
        for g, names in groups.items():
            for k in names:
                a = np.asarray(r[k], np.float32).copy()
                if present[g]:
                    a[..., :2] = a[..., :2] / s + off
                    if k.endswith("_raw"):
                        a[..., 2] /= s
                    else:
                        a *= a[..., 2:3] > 0
                else:
                    a[:] = 0
                r[k] = a
        fb = np.asarray(r["face_box"], np.float32)
        r["face_box"] = (
            (fb.reshape(2, 2) / s + off).reshape(4) if present["face"] else np.zeros(4, np.float32)
        )
        mh, mw = mask_hw
        ms = mw / self.hw[1]
        m = np.array([[ms / s, 0, x0 * ms], [0, ms / s, y0 * ms]])
        r["mask"] = cv2.warpAffine(
            np.asarray(r["mask"], np.uint8),
            m,
            (mw, mh),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
        )
        rejected = bool(r["person"]) and not self.owns(r, t)
        if rejected:
            r = empty_record(mask_hw)
        r["rejected"] = rejected
        return r

    def owns(self, rec: dict[str, Any], t: int) -> bool:
        """Whether the head Holistic found in frame ``t`` belongs to the chosen track: it is nearer the chosen
        track's head than any other track's, and within half the chosen box's height of it."""
        if rec["face"][0, 2] > 0:
            fb = rec["face_box"]
            p = np.array([(fb[0] + fb[2]) / 2, (fb[1] + fb[3]) / 2])
        elif rec["body"][0, 2] > 0.3:
            p = np.asarray(rec["body"][0, :2], np.float64)
        else:
            return True
        mine = self._head_dist(p, self.heads[t], self.boxes[t])
        if mine > 0.5:
            return False
        for hb, bb in zip(self.other_heads, self.other_boxes):
            if not np.isnan(hb[t, 0]) and self._head_dist(p, hb[t], bb[t]) < mine:
                return False
        return True

    @staticmethod
    def _head_dist(p: np.ndarray, head: np.ndarray, box: np.ndarray) -> float:
        c = np.array([(head[0] + head[2]) / 2, (head[1] + head[3]) / 2])
        hgt = max(float(box[3] - box[1]), float(head[3] - head[1]), 1.0)
        return float(np.hypot(*(p - c)) / hgt)

    def manifest(self) -> dict[str, Any]:
        """The plan's part of the clip manifest (frames are counted over the whole video)."""
        s = self.people.summary(self.track)
        return {
            **{
                k: s[k]
                for k in ("frames_present", "frames_detected", "first_frame", "last_frame", "coverage")
            },
            "frames_without_box": ranges(~self.ok),
            "box_interpolated_frames": int((self.ok & ~self.observed).sum()),
            "work_size": self.work,
        }


def ranges(mask: np.ndarray) -> list[list[int]]:
    """``[[first, last], ...]`` (inclusive) of the runs of True in a ``(T,)`` bool array."""
    m = np.asarray(mask, bool).astype(np.int8)
    if not m.any():
        return []
    d = np.diff(np.concatenate([[0], m, [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1
    return [[int(a), int(b)] for a, b in zip(starts, ends)]


# ---------------------------------------------------------------------------------------------- the plan
@dataclass
class Selection:
    """What :func:`plan_people` decided: the tracks, the mode, the chosen track (None: whole frame) and why."""

    people: People
    mode: str
    track: Track | None
    reason: str
    plan: CropPlan | None

    def manifest(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mode": self.mode,
            "people_found": len(_candidates(self.people)),
            "tracks": [t.id for t in self.people.tracks],
            "static_tracks": [t.id for t in self.people.tracks if t.static],
            "following": None if self.track is None else self.track.id,
            "how": "whole frame" if self.plan is None else "crop around the track",
            "reason": self.reason,
            "detector": f"mediapipe pose detection, a keyframe every {self.people.stride} frame(s)",
            "seconds_people": round(self.people.seconds, 2),
        }
        if self.plan is not None:
            out.update(self.plan.manifest())
        return out


def plan_people(
    path: str | Path,
    mode: str,
    stop: int | None = None,
    progress: bool = False,
    cache: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    keep: list | None = None,
    **hooks,
) -> Selection:
    """Find the people of ``path`` (or read them from ``cache``, a JSON file written on the first call), choose
    one with ``mode`` and say so through ``log`` when there were several (or when a mode other than auto
    chose). ``cache``: the tracks are always read back from that file, so a resumed run crops exactly as the
    first did. ``keep``: a list that receives the decoded frames (when the video is decoded); ``hooks``
    (``on_frame``, ``on_several``) go to :func:`find_people`."""
    mode = parse_person(mode)
    people: People | None = None
    if cache is not None and Path(cache).exists():
        try:
            people = People.load(cache)
        except (ValueError, KeyError, OSError, json.JSONDecodeError):
            people = None
    if people is None:
        people = find_people(path, stop=stop, progress=progress, keep=keep, **hooks)
        if cache is not None:
            people.save(cache)
            people = People.load(cache)
    track, reason = choose_track(people, mode, path)
    if log is not None and (track is not None or mode != "auto"):
        log(f"people: {reason}")
    plan = CropPlan(people, track) if track is not None else None
    return Selection(people, mode, track, reason, plan)


# ---------------------------------------------------------------------------------------------- contact sheets
def contact_sheets(
    path: str | Path, people: People, out_dir: str | Path, per_track: int = 6, height: int = 160
) -> dict[int, Path]:
    """One PNG per track, ``track_<id>.png``: a title line (id, frames) over ``per_track`` crops of that person
    spread over its frames (frame number under each), plus ``overview.png``: the frame where most tracks are
    present with every present track's box and id. Returns ``{id: path}``. One decoding pass."""
    from ..io.video import iter_frames, write_image

    out_dir = Path(out_dir)
    n = people.n_frames
    want: dict[int, list[tuple[int, int]]] = {}  # frame -> [(track id, slot)]
    dense = {t.id: people.dense(t)[0] for t in people.tracks}
    for t in people.tracks:
        ok = np.flatnonzero(~np.isnan(dense[t.id][:, 0]))
        if not len(ok):
            continue
        picks = np.unique(ok[np.linspace(0, len(ok) - 1, min(per_track, len(ok))).round().astype(int)])
        for slot, f in enumerate(picks):
            want.setdefault(int(f), []).append((t.id, slot))
    present = np.stack([~np.isnan(d[:, 0]) for d in dense.values()]) if dense else np.zeros((0, n), bool)
    best = int(np.argmax(present.sum(0))) if len(present) else 0
    tiles: dict[int, dict[int, np.ndarray]] = {}
    overview = None
    for f, frame in enumerate(iter_frames(path, stop=n)):
        for tid, slot in want.get(f, []):
            b = dense[tid][f]
            tiles.setdefault(tid, {})[slot] = _sheet_tile(frame, b, f, height)
        if f == best:
            overview = _overview(frame, {tid: d[f] for tid, d in dense.items()}, people)
        if f >= max(list(want) + [best]):
            break
    paths = {}
    for tid, got in tiles.items():
        row = np.concatenate([got[s] for s in sorted(got)], axis=1)
        sm = people.summary(people.track(tid))
        head = np.zeros((22, row.shape[1], 3), np.uint8)
        text = f"track {tid}: frames {sm['first_frame']}-{sm['last_frame']} ({sm['coverage']:.0%})"
        cv2.putText(
            head,
            text + (" static" if sm["static"] else ""),
            (4, 16),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (255, 255, 255),
            1,
        )
        row = np.concatenate([head, row], axis=0)
        p = out_dir / f"track_{tid}.png"
        write_image(p, row)
        paths[tid] = p
    if overview is not None:
        write_image(out_dir / "overview.png", overview)
    return paths


def _sheet_tile(frame: np.ndarray, box: np.ndarray, f: int, height: int) -> np.ndarray:
    bw, bh = box[2] - box[0], box[3] - box[1]
    side = max(bw, bh) * 1.2 + 8
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    s = height / side
    w = int(round(height * 0.75))
    m = np.array([[s, 0, w / 2 - cx * s], [0, s, height / 2 - cy * s]])
    tile = cv2.warpAffine(frame, m, (w, height), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT)
    out = np.zeros((height + 18, w + 2, 3), np.uint8)
    out[:height, 1 : w + 1] = tile
    cv2.putText(out, f"frame {f}", (4, height + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
    return out


_COLOURS = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180)]


def _overview(frame: np.ndarray, boxes: dict[int, np.ndarray], people: People) -> np.ndarray:
    img = frame.copy()
    th = max(1, int(round(max(img.shape[:2]) / 400)))
    for tid, b in boxes.items():
        if np.isnan(b[0]):
            continue
        tr = people.track(tid)
        col = (128, 128, 128) if tr is not None and tr.static else _COLOURS[(tid - 1) % len(_COLOURS)]
        x0, y0, x1, y1 = (int(round(v)) for v in b)
        cv2.rectangle(img, (x0, y0), (x1, y1), col, th)
        cv2.putText(
            img, str(tid), (x0 + 2, max(12, y0 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * th + 0.1, col, th
        )
    return img


__all__ = [
    "PERSON_MODES",
    "parse_person",
    "PersonDetector",
    "body_box",
    "iou",
    "scan_regions",
    "Track",
    "People",
    "PeopleTracker",
    "find_people",
    "choose_track",
    "empty_record",
    "CropItem",
    "CropPlan",
    "Selection",
    "plan_people",
    "ranges",
    "contact_sheets",
    "keyframe_stride",
]
