"""The inference pipeline: a trained model + a driving video (or clip) -> a video of the target doing the motion.

``reenactor transfer --model MODEL --driving VIDEO_OR_CLIP -o out.mp4`` runs, in bounded memory:

1. **poses** (first streaming pass): a driving *video* is decoded frame by frame through
   :class:`~reenactor.pose.holistic.HolisticExtractor` in tracking mode (chunks of ``POSE_CHUNK`` frames, each
   from a fresh tracker, on one graph per core: :mod:`reenactor.pose.chunked`); every per-frame record except the
   person mask is spooled to a temporary folder on disk (so memory does not grow with the video's length);
   a driving *clip store* already holds these arrays and is read row by row.
2. **normalization**: a :class:`~reenactor.pose.normalize.Normalizer` fitted between the driving body poses
   and the target's training poses stored in the model (``--normalization auto|edn|edn_upper|first_frame|none``,
   or reuse a saved one with ``--normalizer FILE``); saved next to the output as ``OUT.normalizer.json``.
3. **coverage** (paper 004, section 4, eq. 8): how well each normalized driving pose is covered by the
   training poses; a summary is printed, with a warning when many frames are poorly covered.
4. **render** (second streaming pass): decode again, normalize, ``Synthesizer.step`` (batched when the
   synthesizer offers ``step_batch``), optionally compose driving | pose | result, encode.

Memory: only the (T, 25, 3) driving body poses are held in memory (300 bytes per frame); frames, raw
MediaPipe arrays and outputs stream.

``--body target`` (face reenactment) skips 2-3: the target's own training poses stored in the model, in order
and looped, replace the driving keypoints, so only what a method reads from the driving record beyond the
keypoints comes from the driver (``upper_body``: the driver's face mesh -> FAUP -> the target's face).
A *photo* driven this way is held (``hold``, :class:`HeldSource`): by default for one pass over the training
poses (at most :data:`HOLD_DEFAULT` frames), so the result is a clip of the target making the photo's expression
rather than a single frame.
"""

from __future__ import annotations

import abc
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import InputError
from .io.atomic import write_json

KEYPOINT_KEYS = ("body", "face", "hand_left", "hand_right")
NORMALIZATIONS = ("auto", "edn", "edn_upper", "first_frame", "none")
#: frames per pose-detection chunk of a driving video (each from a fresh tracker, as `reenactor extract`'s)
POSE_CHUNK = 64
#: share of driving frames whose coverage distance is above the threshold that triggers a warning
POOR_COVERAGE_WARN = 0.25


# ---------------------------------------------------------------------------------------------- row readers
class NpyRows:
    """Read rows ``a[t]`` of a ``.npy`` file with ``os.pread`` (no memory map: reading a long array row by row
    does not grow the process's resident memory)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd = -1
        fmt = np.lib.format
        with open(self.path, "rb") as f:
            version = fmt.read_magic(f)
            read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, fortran, dtype = read(f)
            self.offset = f.tell()
        if fortran:
            raise InputError("array stored in Fortran order is not supported", self.path, "re-save it")
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.row_shape = self.shape[1:]
        self.row_bytes = int(np.prod(self.row_shape, dtype=np.int64)) * self.dtype.itemsize
        self._fd = os.open(self.path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, t: int) -> np.ndarray:
        buf = os.pread(self._fd, self.row_bytes, self.offset + int(t) * self.row_bytes)
        return np.frombuffer(buf, self.dtype).reshape(self.row_shape).copy()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()


class _Spool:
    """Per-frame records appended to one raw file per field in a temporary folder; read back row by row."""

    def __init__(self, root: Path):
        self.root = root
        self.fields: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        self._out: dict[str, Any] = {}
        self._in: dict[str, int] = {}
        self.n = 0

    def append(self, rec: dict[str, Any]) -> None:
        for k, v in rec.items():
            if k == "mask":  # frame-sized: not kept between the passes (bounded disk and memory)
                continue
            a = np.asarray(v)
            if a.dtype == object:
                continue
            if k not in self.fields:
                if self.n:
                    continue  # a field that appeared late: skip it for consistency
                self.fields[k] = (a.shape, a.dtype)
                self._out[k] = open(self.root / f"{k}.bin", "wb")  # noqa: SIM115
            shape, dtype = self.fields[k]
            self._out[k].write(np.ascontiguousarray(a, dtype=dtype).reshape(shape).tobytes())
        self.n += 1

    def finish(self) -> None:
        for f in self._out.values():
            f.close()
        self._out = {}
        self._in = {k: os.open(self.root / f"{k}.bin", os.O_RDONLY) for k in self.fields}

    def row(self, key: str, t: int) -> np.ndarray:
        shape, dtype = self.fields[key]
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        return np.frombuffer(os.pread(self._in[key], nbytes, t * nbytes), dtype).reshape(shape).copy()

    def record(self, t: int, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        return {k: self.row(k, t) for k in (self.fields if keys is None else [k for k in keys if k in self.fields])}

    def column(self, key: str) -> np.ndarray:
        shape, dtype = self.fields[key]
        return np.fromfile(self.root / f"{key}.bin", dtype=dtype).reshape((self.n,) + shape)

    def close(self) -> None:
        for f in self._out.values():
            f.close()
        for fd in self._in.values():
            os.close(fd)
        self._in = {}


# ---------------------------------------------------------------------------------------------- driving sources
class DrivingSource(abc.ABC):
    """Where driving frames and their poses come from. Call :meth:`prepare` (pass 1) once, then iterate
    :meth:`iter_frames` (pass 2) as often as needed; :meth:`close` at the end."""

    name: str
    fps: float

    @abc.abstractmethod
    def prepare(self, progress: bool = True) -> None:
        """Pass 1: make per-frame poses available (extract them for a video)."""

    @abc.abstractmethod
    def __len__(self) -> int:
        """Number of frames (after :meth:`prepare`)."""

    @abc.abstractmethod
    def bodies(self) -> np.ndarray:
        """(T, 25, 3) float32 driving body poses in driving-frame pixels."""

    @abc.abstractmethod
    def iter_frames(self, frames: bool = True, keys: Sequence[str] | None = None
                    ) -> Iterator[tuple[np.ndarray | None, dict[str, Any]]]:
        """Pass 2: ``(frame (H, W, 3) uint8, per-frame extraction record)`` in order. ``frames=False``: the
        frame is None (not read or decoded); ``keys``: only these record fields (those present), else all."""

    def close(self) -> None:  # noqa: B027 - optional
        pass


class ClipSource(DrivingSource):
    """A clip store: poses and frames are already there; rows are read from the ``.npy`` files one by one."""

    def __init__(self, clip, max_frames: int | None = None):
        from .data.clipstore import ClipStore

        self.store = clip if isinstance(clip, ClipStore) else ClipStore.open(clip)
        self.name = str(self.store.root)
        self.fps = self.store.fps
        self.n = self.store.n_frames if max_frames is None else min(self.store.n_frames, max_frames)
        skip = {"frames", "flow"}
        self._frames = NpyRows(self.store.path("frames"))
        self._fields = {}
        for k in self.store.arrays():
            if k in skip or not self.store.has(k):
                continue
            rows = NpyRows(self.store.path(k))
            if len(rows) == self.store.n_frames:
                self._fields[k] = rows
            else:
                rows.close()
        if "body" not in self._fields:
            raise InputError("driving clip has no `body` poses", self.store.root, "run `reenactor extract` on it")

    def prepare(self, progress: bool = True) -> None:
        pass

    def __len__(self) -> int:
        return self.n

    def bodies(self) -> np.ndarray:
        return np.asarray(self.store.load("body", mmap=False)[: self.n], np.float32)

    def record(self, t: int, keys: Sequence[str] | None = None) -> dict[str, Any]:
        fields = self._fields if keys is None else {k: self._fields[k] for k in keys if k in self._fields}
        return {k: r[t] for k, r in fields.items()}

    def iter_frames(self, frames: bool = True, keys: Sequence[str] | None = None
                    ) -> Iterator[tuple[np.ndarray | None, dict[str, Any]]]:
        for t in range(self.n):
            yield (self._frames[t] if frames else None), self.record(t, keys)

    def close(self) -> None:
        self._frames.close()
        for r in self._fields.values():
            r.close()


class VideoSource(DrivingSource):
    """A video (or image) file: pass 1 extracts poses (tracking mode, in chunks on ``workers`` MediaPipe graphs)
    into an on-disk spool, in frame order; pass 2 decodes the video again and pairs every frame with its
    spooled record."""

    def __init__(self, path: str | Path, max_frames: int | None = None, extractor_factory=None, workers: int = 0):
        from .io.video import probe

        self.path = Path(path)
        self.info = probe(self.path)
        self.name = str(self.path)
        self.fps = self.info.fps
        self.max_frames = max_frames
        self._factory = extractor_factory
        self.workers = workers  # MediaPipe graphs side by side (0: one per core, at most 4)
        self._tmp: Path | None = None
        self._spool: _Spool | None = None

    def prepare(self, progress: bool = True) -> None:
        from tqdm.auto import tqdm

        from .io.video import iter_frames

        if self._spool is not None:
            return
        from .pose.chunked import default_workers, detect_chunks
        from .pose.holistic import HolisticExtractor, quiet_native_stderr

        factory = self._factory or (lambda: HolisticExtractor(static_image_mode=self.info.is_image))
        self._tmp = Path(tempfile.mkdtemp(prefix="reenactor-transfer-"))
        self._spool = _Spool(self._tmp)
        total = self.info.n_frames or None
        if self.max_frames is not None and total:
            total = min(total, self.max_frames)
        # Chunks of POSE_CHUNK frames, each from a fresh tracker, on several MediaPipe graphs side by side (as
        # `reenactor extract` does); finished chunks are spooled in frame order, so at most a few chunks of
        # records (no masks) wait in memory.
        done: dict[int, list] = {}
        lock = threading.Lock()
        spool = self._spool
        state = {"next": 0}

        def on_chunk(c: int, recs: list) -> None:
            with lock:
                done[c] = recs
                while state["next"] in done:
                    for r in done.pop(state["next"]):
                        spool.append(r)
                    state["next"] += 1

        with quiet_native_stderr() as err, tqdm(total=total, desc="poses", unit="frame", disable=not progress,
                                                file=err) as bar:
            detect_chunks(iter_frames(self.path, stop=self.max_frames), factory, lambda ex, f: ex.process(f),
                          on_chunk, POSE_CHUNK, self.workers or default_workers(), progress=bar.update)
        if done:
            raise RuntimeError(f"pose chunks {sorted(done)} were not spooled")
        self._spool.finish()
        if self._spool.n == 0:
            raise InputError("no frame could be read", self.path, "pass a video with at least one frame")
        person = self._spool.column("person") if "person" in self._spool.fields else None
        if person is not None and not np.asarray(person).any():
            from .errors import NoPersonError

            raise NoPersonError("no person found in any driving frame", self.path,
                                "use a video that shows a person's body")

    def __len__(self) -> int:
        return 0 if self._spool is None else self._spool.n

    def bodies(self) -> np.ndarray:
        return self._spool.column("body").astype(np.float32)

    def iter_frames(self, frames: bool = True, keys: Sequence[str] | None = None
                    ) -> Iterator[tuple[np.ndarray | None, dict[str, Any]]]:
        from .io.video import iter_frames

        if not frames:  # the poses are spooled: no second decode
            for t in range(len(self)):
                yield None, self._spool.record(t, keys)
            return
        for t, frame in enumerate(iter_frames(self.path, stop=len(self))):
            yield frame, self._spool.record(t, keys)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


class HeldSource(DrivingSource):
    """The first frame of ``inner`` (a photo) repeated ``n`` times, record and all (``--hold``)."""

    def __init__(self, inner: DrivingSource, n: int):
        if n < 1:
            raise InputError(f"a photo cannot be held for {n} frames", inner.name, "give --hold N with N >= 1")
        self.inner, self.n = inner, int(n)
        self.name, self.fps = inner.name, inner.fps
        self.info = getattr(inner, "info", None)

    def prepare(self, progress: bool = True) -> None:
        self.inner.prepare(progress)

    def __len__(self) -> int:
        return self.n if len(self.inner) else 0

    def bodies(self) -> np.ndarray:
        return np.repeat(self.inner.bodies()[:1], self.n, 0)

    def iter_frames(self, frames: bool = True, keys: Sequence[str] | None = None
                    ) -> Iterator[tuple[np.ndarray | None, dict[str, Any]]]:
        it = self.inner.iter_frames(frames, keys)
        frame, rec = next(it)
        it.close()
        for _ in range(self.n):
            yield frame, {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in rec.items()}

    def close(self) -> None:
        self.inner.close()


#: frames a photo is held for with ``--body target`` when ``hold`` is not given (one pass over the training
#: poses, at most this many)
HOLD_DEFAULT = 120


def open_driving(driving: str | Path | DrivingSource, max_frames: int | None = None) -> DrivingSource:
    """A :class:`DrivingSource` from a clip folder, a video/image path, or a bundled sample name."""
    from .data.clipstore import ClipStore
    from .samples import resolve_input

    if isinstance(driving, DrivingSource):
        return driving
    p = Path(driving)
    if p.is_dir():
        return ClipSource(ClipStore.open(p), max_frames)
    return VideoSource(resolve_input(str(driving)), max_frames)


# ---------------------------------------------------------------------------------------------- model
@dataclass
class TransferModel:
    """A loaded model: method name, its config object, synthesizer, meta and the stored training poses."""

    path: Path
    method: str
    cfg: Any
    meta: dict[str, Any]
    synthesizer: Any
    train_poses: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.synthesizer.size)


def load_transfer_model(path: str | Path, device: str = "cpu", precision: str = "fp32",
                        expect_method: str | None = None) -> TransferModel:
    """Load an exported model file. A missing, truncated or foreign file, a model of another method than
    ``expect_method``, or one whose method/config this reenactor does not know raises one
    :class:`~reenactor.errors.CheckpointError` (via :func:`reenactor.train.checkpoint.load_model`)."""
    from .config import from_dict
    from .errors import CheckpointError, ConfigError, ReenactorError
    from .methods import get_method
    from .train.checkpoint import load_model

    loaded = load_model(path, expect_method=expect_method)
    where = loaded.path or Path(path)
    try:
        cls = get_method(loaded.method)
    except ReenactorError as e:
        raise CheckpointError(f"model needs method {loaded.method!r}, which this reenactor does not have ({e})",
                              where, "pass a model trained by `reenactor train` with a registered method") from None
    try:
        cfg = from_dict(cls.Config, loaded.config)
    except ConfigError as e:
        raise CheckpointError(f"model config does not match method {loaded.method!r}: {e}", where,
                              "re-train with this version of reenactor") from None
    try:
        synth = cls.synthesizer(cfg, loaded.tensors, loaded.meta, device)
    except (KeyError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"model weights do not fit method {loaded.method!r} ({type(e).__name__}: {e})",
                              where, "re-export the model with `reenactor train`") from None
    if precision != "fp32" and hasattr(synth, "precision"):
        synth.precision = precision
    poses = {k.split(".", 1)[1]: v.float().numpy() for k, v in loaded.tensors.items() if k.startswith("train_pose.")}
    return TransferModel(Path(where), loaded.method, cfg, dict(loaded.meta), synth, poses)


BODY_SOURCES = ("driver", "target")


def held_poses(model: TransferModel) -> dict[str, np.ndarray]:
    """The keypoints ``--body target`` plays: the model's stored training poses (model pixels), per key."""
    poses = {k: v for k, v in model.train_poses.items() if k in KEYPOINT_KEYS}
    if "body" not in poses or not len(poses["body"]):
        raise InputError("model has no stored training poses to hold the body at", model.path,
                         "use --body driver, or re-train with this version of reenactor")
    return poses


# ---------------------------------------------------------------------------------------------- normalization
def normalizer_path_for(out_path: str | Path) -> Path:
    """``out.mp4`` -> ``out.normalizer.json``."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.stem + ".normalizer.json")


def load_normalizer(path: str | Path):
    """A saved normalizer (the JSON ``reenactor transfer`` writes next to its output, or a bare to_dict)."""
    from .errors import CheckpointError
    from .pose.normalize import Normalizer

    path = Path(path)
    if not path.is_file():
        raise InputError("normalizer file not found", path, "pass the .normalizer.json a previous transfer wrote")
    try:
        d = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"normalizer file is not valid JSON ({e})", path, "re-fit it (omit --normalizer)") from None
    return Normalizer.from_dict(d.get("normalizer", d) if isinstance(d, dict) else d)


def fit_driving_normalizer(kind: str, driving_body: np.ndarray, model: TransferModel,
                           source_size: tuple[int, int] | None = None):
    """Fit the driving -> target normalizer on body poses (``kind`` as ``--normalization``)."""
    from .pose.normalize import Normalizer, fit_normalizer

    if kind == "none":
        return Normalizer.identity()
    if "body" not in model.train_poses:
        raise InputError(f"model has no stored training poses, cannot fit a {kind!r} normalization", model.path,
                         "pass --normalization none, or --normalizer FILE")
    opts = {"source_size": source_size} if kind in ("edn", "auto") and source_size is not None else {}
    try:
        return fit_normalizer(kind, {"body": driving_body}, {"body": model.train_poses["body"]}, **opts)
    except TypeError:  # kinds that take no source_size
        return fit_normalizer(kind, {"body": driving_body}, {"body": model.train_poses["body"]})


# ---------------------------------------------------------------------------------------------- coverage
def coverage(driving_body: np.ndarray, train_body: np.ndarray, frame_height: float, chunk: int = 2048
             ) -> dict[str, Any]:
    """Pose-to-sequence coverage (eq. 8, :mod:`reenactor.pose.metrics`) of the normalized driving poses
    (T, 25, 3) by the training poses (S, 25, 3), in chunks of driving frames; returns B's coverage summary plus
    ``share_poor`` (frames above the limb threshold gamma, scaled to the model's frame height)."""
    from .pose.metrics import CoverageResult, coverage_summary, default_gamma, pose_to_sequence

    gamma = default_gamma(frame_height)
    parts = [pose_to_sequence(driving_body[i:i + chunk], train_body, gamma=gamma)
             for i in range(0, len(driving_body), chunk)]
    res = CoverageResult(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                           ("distance", "limb_distance", "nearest", "flagged", "n_limbs")), parts[0].gamma)
    summary = coverage_summary(res)
    under = summary.get("share_under_gamma")
    summary["share_poor"] = None if under is None else 1.0 - under
    return summary


# ---------------------------------------------------------------------------------------------- composition
def _fit_height(img: np.ndarray, h: int) -> np.ndarray:
    if img.shape[0] == h:
        return img
    w = max(2, int(round(img.shape[1] * h / img.shape[0])))
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def side_by_side(driving: np.ndarray, pose_img: np.ndarray, result: np.ndarray) -> np.ndarray:
    """driving | pose | result, all at the result's height; (H, W1 + W2 + W3, 3) uint8."""
    h = result.shape[0]
    return np.concatenate([_fit_height(driving, h), _fit_height(pose_img, h), result], axis=1)


# ---------------------------------------------------------------------------------------------- transfer
@dataclass
class TransferResult:
    out_path: Path
    n_frames: int
    fps: float
    normalizer_path: Path | None
    normalizer: str
    coverage: dict[str, Any] | None
    seconds: dict[str, float]

    @property
    def render_fps(self) -> float:
        return self.n_frames / max(self.seconds.get("render", 0.0), 1e-9)


def transfer(model: str | Path | TransferModel, driving: str | Path | DrivingSource, out_path: str | Path,
             side_by_side_view: bool = False, normalization: str = "auto", normalizer: str | Path | None = None,
             device: str = "cpu", precision: str = "fp32", batch_size: int = 8, max_frames: int | None = None,
             progress: bool = True, save_normalizer: bool = True, check_coverage: bool = True,
             frame_sink=None, expect_method: str | None = None, pipeline: bool | None = None,
             driving_sink=None, body: str = "driver", hold: int | None = None,
             expression_warp: bool = True) -> TransferResult:
    """Drive ``model`` with ``driving`` and write ``out_path`` (H.264 mp4), streaming; see the module docstring.

    ``frame_sink``: optional callable receiving each generated frame (H, W, 3) uint8 (e.g. for metrics).
    ``driving_sink``: optional callable receiving each driving frame and its pose record (``face_raw`` etc.,
    before normalization), in the same order.
    ``body``: ``driver`` (the driving keypoints, normalized onto the target) or ``target`` (the target's stored
    training poses in order, looped: the driver gives only the face; see the module docstring).
    ``expression_warp=False``: a method that warps its output face by the driver's expression after its networks
    (upper_body's ``warp_expression``) leaves it out, so the networks' own frames are written.
    ``hold``: a single-frame driver (a photo) is repeated for this many frames (None: with ``body="target"`` one
    pass over the training poses, at most :data:`HOLD_DEFAULT`; else 1). A longer driver plays as it is.
    ``pipeline``: when the synthesizer splits a step into ``prepare`` (CPU: pose volumes) and ``render`` (the
    network), decoding + pose preparation and composing + encoding run in two threads around the network, so
    the three overlap (same frames, in order, bounded queues). ``None`` (default): only where there are cores
    to spare (:func:`pipeline_pays`); on a 2-core CPU whose two cores run the network, side threads slow the
    network more than they save (measured: 155 against 177 frames/s at 128x128, bf16).
    """
    from tqdm.auto import tqdm

    from .io.video import VideoWriter
    from .pose.render import draw_pose

    if normalization not in NORMALIZATIONS:
        raise InputError(f"unknown normalization {normalization!r}", fix=f"use one of: {', '.join(NORMALIZATIONS)}")
    if body not in BODY_SOURCES:
        raise InputError(f"unknown body source {body!r}", fix=f"use one of: {', '.join(BODY_SOURCES)}")
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    tm = model if isinstance(model, TransferModel) else load_transfer_model(model, device, precision, expect_method)
    times["load"] = time.perf_counter() - t0
    if not expression_warp and hasattr(tm.synthesizer, "warp_expression"):
        tm.synthesizer.warp_expression = False
        print("[transfer] expression warp off: the networks' own frames", flush=True)
    elif not expression_warp:
        print(f"[transfer] note: {tm.method} has no expression warp; --no-expression-warp changes nothing", flush=True)
    held = held_poses(tm) if body == "target" else None
    src = open_driving(driving, max_frames)
    out_path = Path(out_path)
    # The network's one-off first-call costs are paid in the background while the driving poses are read.
    warm = threading.Thread(target=tm.synthesizer.warm_up, args=(batch_size,), daemon=True)
    warm.start()
    try:
        t0 = time.perf_counter()
        src.prepare(progress)
        times["poses"] = time.perf_counter() - t0
        if len(src) == 1:  # a photo (or a one-frame video or clip)
            n_hold = hold if hold is not None else (min(len(held["body"]), HOLD_DEFAULT) if held is not None else 1)
            if n_hold != 1:
                src = HeldSource(src, n_hold)
                print(f"[transfer] the driving photo is held for {n_hold} frames" + (" (--hold)" if hold else
                      f" (one pass over the target's training poses, at most {HOLD_DEFAULT}; --hold N to change)"))
        elif hold is not None:
            print(f"[transfer] --hold applies to a single-frame driver (a photo); {src.name} has {len(src)} frames "
                  "and plays as it is")
        n = len(src)
        if n == 0:
            raise InputError("driving input has no frames", src.name)
        # ---- normalization
        t0 = time.perf_counter()
        driving_body = src.bodies() if held is None else None  # held poses need no driving body poses
        if held is not None:
            from .pose.normalize import Normalizer

            norm = Normalizer.identity()
            save_normalizer = check_coverage = False
            print(f"[transfer] body: the target's own {len(held['body'])} training poses, in order and looped "
                  "(--body target); the driving input gives the face only")
        elif normalizer is not None:
            norm = load_normalizer(normalizer)
            print(f"[transfer] normalization from {normalizer}: {norm.describe()}")
        else:
            size = getattr(src, "info", None)
            source_size = (size.height, size.width) if size is not None else getattr(src, "store", None) and src.store.size
            norm = fit_driving_normalizer(normalization, driving_body, tm, source_size)
            print(f"[transfer] normalization: {norm.describe()}")
        norm_path = None
        if save_normalizer:
            norm_path = normalizer_path_for(out_path)
            write_json(norm_path, {"normalizer": norm.to_dict(), "model": str(tm.path), "driving": src.name})
        times["normalize"] = time.perf_counter() - t0
        # ---- coverage (eq. 8)
        cov = None
        if check_coverage and "body" in tm.train_poses:
            t0 = time.perf_counter()
            moved = norm.apply({"body": driving_body})["body"]
            norm.reset()
            cov = coverage(moved, tm.train_poses["body"], tm.size[0])
            times["coverage"] = time.perf_counter() - t0
            _print_coverage(cov)
        del driving_body
        # ---- render
        t0 = time.perf_counter()
        warm.join()  # the network's one-off first-call costs, paid while the poses were read; not rendering
        times["warm_up_wait"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        synth = tm.synthesizer
        synth.reset()
        norm.reset()
        batched = hasattr(synth, "step_batch") and batch_size > 1
        if pipeline is None:
            pipeline = pipeline_pays(device)
        staged = pipeline and hasattr(synth, "prepare") and hasattr(synth, "render")
        per = batch_size if (batched or staged) else 1
        out_hw = tm.size
        bar = tqdm(total=n, desc="render", unit="frame", disable=not progress)
        written = 0

        # A batched synthesizer sees the normalized keypoints only: then the driving frame is read (or decoded)
        # only for --side-by-side or a driving_sink, and of each record only the keypoints (and all of it for a
        # driving_sink); step() gets the whole record and the frame.
        need_all = not batched or driving_sink is not None
        read_frames = need_all or side_by_side_view
        read_keys = None if need_all else KEYPOINT_KEYS

        def batches() -> Iterator[list[tuple[np.ndarray | None, dict, dict]]]:
            """Driving frames in groups of ``per``: (frame or None, record, normalized pose)."""
            pending: list[tuple[np.ndarray | None, dict, dict]] = []
            for i, (frame, rec) in enumerate(src.iter_frames(frames=read_frames, keys=read_keys)):
                if held is not None:
                    pose = {k: v[i % len(v)] for k, v in held.items()}
                else:
                    pose = norm.apply({k: rec[k] for k in KEYPOINT_KEYS if k in rec})
                pending.append((frame, rec, pose))
                if len(pending) >= per:
                    yield pending
                    pending = []
            if pending:
                yield pending

        def emit(writer, group, results) -> None:
            nonlocal written
            for (fr, rec, pose), res in zip(group, results):
                res = np.asarray(res)
                if frame_sink is not None:
                    frame_sink(res)
                if driving_sink is not None:
                    driving_sink(fr, rec)
                if side_by_side_view:
                    # one frame per step (per == 1): the synthesizer's own view of its last input, if it has one
                    view = synth.input_view() if per == 1 else None
                    res = side_by_side(fr, draw_pose(out_hw, pose) if view is None else view, res)
                writer.write(np.ascontiguousarray(res))
                written += 1
            bar.update(len(group))

        # On the CPU the encoder runs beside the generator on the same cores: one x264 thread spends the least
        # CPU per frame (0.38 ms against 0.63 ms with x264's own choice at 128x128). On a GPU, x264 picks.
        # Without the pipeline, encoding still runs in the writer's background thread (+3 % frames/s on 2 cores).
        with VideoWriter(out_path, fps=src.fps, threads=1 if str(device).startswith("cpu") else 0,
                         background=not staged) as writer:
            if staged:
                _run_pipelined(synth, batches(), lambda g, r: emit(writer, g, r))
            else:
                for group in batches():
                    if batched:
                        results = synth.step_batch([p for _, _, p in group])
                    else:
                        results = [synth.step(p, {**rec, "frame": fr}) for fr, rec, p in group]
                    emit(writer, group, results)
        bar.close()
        times["render"] = time.perf_counter() - t0
    finally:
        warm.join()
        src.close()
    return TransferResult(out_path, written, src.fps, norm_path, norm.kind, cov, times)


def pipeline_pays(device: str = "cpu") -> bool:
    """Whether overlapping pose preparation and encoding with the network in threads is faster: on an
    accelerator always; on the CPU when there is at least one core beyond torch's threads."""
    if not str(device).startswith("cpu"):
        return True
    import torch

    return (os.cpu_count() or 1) > torch.get_num_threads()


def _run_pipelined(synth, groups: Iterator[list], emit) -> None:
    """Three stages in three threads joined by bounded queues: ``groups`` -> ``synth.prepare`` (this reader
    thread), ``synth.render`` (the calling thread), ``emit`` (a writer thread). Order is kept; the first
    exception of any stage is re-raised here."""
    import queue
    import threading

    done = object()
    q_in: queue.Queue = queue.Queue(maxsize=2)
    q_out: queue.Queue = queue.Queue(maxsize=2)
    errors: list[BaseException] = []
    stop = threading.Event()

    def put(q: queue.Queue, item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def reader() -> None:
        try:
            for group in groups:
                if not put(q_in, (group, synth.prepare([p for _, _, p in group]))):
                    return
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            errors.append(e)
            stop.set()
        finally:
            put(q_in, done)

    def writer() -> None:
        try:
            while True:
                try:
                    item = q_out.get(timeout=0.1)
                except queue.Empty:
                    if stop.is_set():
                        return
                    continue
                if item is done:
                    return
                emit(*item)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
            stop.set()

    tr, tw = threading.Thread(target=reader, daemon=True), threading.Thread(target=writer, daemon=True)
    tr.start()
    tw.start()
    try:
        while not stop.is_set():
            try:
                item = q_in.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is done:
                break
            group, x = item
            y = synth.render(x)
            if hasattr(synth, "release"):
                synth.release(x)  # its buffer may be reused by the next prepare
            if not put(q_out, (group, y)):
                break
    except BaseException:
        stop.set()
        raise
    finally:
        put(q_out, done)  # returns at once when a stage failed (stop is set)
        tw.join()
        stop.set()  # release a reader still blocked on a full queue
        tr.join(timeout=5)
    if errors:
        raise errors[0]


def _print_coverage(cov: dict[str, Any]) -> None:
    """Print the coverage summary; warn when many driving poses are poorly covered by the training video."""
    poor = cov.get("share_poor")
    if poor is None:
        print("[transfer] coverage: no driving frame has a usable pose")
        return
    print(f"[transfer] coverage (eq. 8, gamma {cov['gamma'][0]:.1f} px): {1 - poor:.0%} of "
          f"{cov['n_frames_with_pose']} driving poses are covered by the training poses; distance mean "
          f"{cov['distance_mean']:.2f} px, median {cov['distance_median']:.2f}, max {cov['distance_max']:.2f}")
    if poor > POOR_COVERAGE_WARN:
        worst = ", ".join(f"{w['frame']} ({w['distance']:.1f} px: {'/'.join(w['flagged_limbs']) or '-'})"
                          for w in cov.get("worst", []))
        print(f"[transfer] WARNING: {poor:.0%} of the driving poses are poorly covered by the training video "
              f"(worst frames: {worst}); expect artifacts there - train on a video with more varied poses, or "
              "drive with motions closer to the training video's")
