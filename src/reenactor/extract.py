"""``reenactor extract``: a video (or image) -> a clip store of frames, keypoints, masks and face boxes; a
folder of them -> one clip store per file (:func:`extract_folder`).

Pipeline (all of it resumable, nothing half-written)::

    people  find the people of the video and follow each one over time (:mod:`reenactor.pose.people`; the
            tracks are saved as CLIP_DIR.partial/people.json); choose one with ``person``. Under ``auto``
            with one person pass 1 runs on the full frames as below, alongside the people pass (betting on
            one person; stopped and redone on crops if there are several); otherwise pass 1 runs on a crop
            around the chosen person in every frame, its results mapped back to frame pixels.
    pass 1  decode (background thread) -> MediaPipe Holistic on the full frames, in fixed chunks of
            ``chunk`` frames; each chunk starts from a fresh tracker state and is saved atomically to
            CLIP_DIR.partial/.chunks/chunk_NNNNN.npz. A re-run skips finished chunks. Because MediaPipe is
            bit-deterministic from a fresh state, a run killed half-way and re-run gives arrays identical to
            an uninterrupted run.
    assemble  gaps of at most ``max_gap`` frames without a person (face, hand) are linearly interpolated
            between the frames around them; longer gaps and the clip's ends stay flagged.
    crop    a square around the union of the person boxes over the clip (``crop="person"``, with ``margin``)
            or the whole frame letterboxed to a square (``crop="full"``); keypoints, raw arrays, face boxes
            and masks move into stored-frame pixels.
    pass 2  decode again, crop and resize frames and masks to ``size`` x ``size`` straight into memory-mapped
            arrays; optional keypoint smoothing (raw values kept); write the manifest; rename
            CLIP_DIR.partial -> CLIP_DIR.

Arrays in the clip store (T frames, S = ``size``):

=================  ==================  =======================================================
name               shape, dtype        meaning
=================  ==================  =======================================================
frames             (T, S, S, 3) uint8  RGB frames, cropped and resized
body               (T, 25, 3) float32  BODY_25 [x, y, conf] (smoothed if smoothing is on)
face               (T, 68, 3) float32  iBUG 68 [x, y, conf] (see pose.face68)
hand_left/right    (T, 21, 3) float32  hand [x, y, conf]
mask               (T, S, S) uint8     person mask 0..255
face_box           (T, 4) float32      x0, y0, x1, y1 of the face mesh; zeros if no face
person             (T,) bool           a person is detected or interpolated in this frame
detected           (T,) bool           a person was detected by MediaPipe (before gap filling)
pose_raw           (T, 33, 4) float32  MediaPipe pose [x, y, z, visibility]
face_raw           (T, 478, 3) float32 MediaPipe face mesh [x, y, z] (zeros if no face)
hand_*_raw         (T, 21, 3) float32  MediaPipe hands [x, y, z]
*_unsmoothed       as body/face/hands  only with smoothing: the values before smoothing
=================  ==================  =======================================================

x, y (and z) are in pixels of the stored frame. Raw arrays are interpolated across short gaps like the
rest (``detected`` tells which frames MediaPipe really saw).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from .data.clipstore import ClipStore
from .errors import InputError, NoPersonError
from .io.atomic import atomic_path, write_json
from .io.video import MediaInfo, file_hash, iter_frames, probe
from .pose import smoothing as smoothing_mod
from .pose.chunked import default_workers, detect_chunks
from .pose.holistic import BACKEND, HolisticExtractor, backend_version, quiet_native_stderr
from .pose.skeleton import skeleton_spec
from .threads import Background, prefetch

# Between the passes masks are kept with their long side at most max(MASK_MIN_SIDE, size): MediaPipe's
# segmentation model itself works at 256 x 256, and smaller chunk files keep pass 1 close to bare MediaPipe.
# (Keeping decoded frames in the chunk files instead of decoding twice was measured: writing, checksumming and
# reading them back cost more CPU than decoding H.264 again, so pass 2 decodes.)
MASK_MIN_SIDE = 256
# A run that decodes every frame in pass 1 keeps them in RAM for pass 2 when they fit in this many bytes (same
# pixels as decoding again; a resumed run decodes).
RAM_FRAMES_BYTES = 512 << 20
KP_NAMES = ("body", "face", "hand_left", "hand_right")
RAW_NAMES = ("pose_raw", "face_raw", "hand_left_raw", "hand_right_raw")
# Per part: the arrays interpolated together and the array whose presence flags the part.
GROUPS = {
    "body": ("body", "pose_raw"),
    "face": ("face", "face_raw", "face_box"),
    "hand_left": ("hand_left", "hand_left_raw"),
    "hand_right": ("hand_right", "hand_right_raw"),
}
CROP_MODES = ("person", "full")
MODES = ("auto", "tracking", "static")


@dataclass(frozen=True)
class ExtractOptions:
    """Everything that changes the extracted arrays (recorded in the manifest; a re-run with other options
    into the same folder needs ``force``)."""

    size: int = 256  # stored frame side in pixels (square)
    crop: str = "person"  # "person": square around the person over the clip; "full": whole frame, letterboxed
    margin: float = 0.15  # person crop: margin around the person box, as a fraction of its size on each side
    max_gap: int = 5  # interpolate runs of at most this many frames without a detection
    smoothing: str = "none"  # "none" | "one_euro" | "savgol" (raw values kept as *_unsmoothed)
    mode: str = "auto"  # "auto" (tracking for video, static for images) | "tracking" | "static"
    chunk: int = 64  # frames per resumable chunk (each starts from a fresh tracker)
    min_confidence: float = 0.5  # MediaPipe's min detection / tracking confidence
    person: str = "auto"  # whom to follow: auto | largest | centre | left | right | N (see pose.people)

    def check(self) -> None:
        from .errors import ConfigError

        if self.size < 16:
            raise ConfigError(
                f"size must be at least 16 px, got {self.size}", fix="pass --size 256 (or 128, 512)"
            )
        if self.crop not in CROP_MODES:
            raise ConfigError(f"crop must be one of {CROP_MODES}, got {self.crop!r}")
        if self.smoothing not in smoothing_mod.METHODS:
            raise ConfigError(f"smoothing must be one of {smoothing_mod.METHODS}, got {self.smoothing!r}")
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.max_gap < 0 or self.chunk < 1 or not 0 <= self.margin <= 2:
            raise ConfigError("max_gap must be >= 0, chunk >= 1 and margin in [0, 2]")
        from .pose.people import parse_person

        try:
            parse_person(self.person)
        except ValueError as e:
            raise ConfigError(
                f"person {e}", fix="pass --person auto (or largest, centre, left, right, N)"
            ) from None


# --------------------------------------------------------------------------- pass 1: detection in chunks
def _mask_size(h: int, w: int, size: int) -> tuple[int, int]:
    s = min(1.0, max(MASK_MIN_SIDE, size) / max(h, w))
    return max(1, int(round(h * s))), max(1, int(round(w * s)))


def _chunk_path(work: Path, c: int) -> Path:
    return work / ".chunks" / f"chunk_{c:05d}.npz"


def _save_chunk(path: Path, recs: list[dict]) -> None:
    arrays = {k: np.stack([r[k] for r in recs]) for k in recs[0]}
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def _detect_pass(
    path: Path,
    info: MediaInfo,
    work: Path,
    opts: ExtractOptions,
    progress: bool,
    keep: list | None = None,
    workers: int = 1,
    plan=None,
    frames=None,
    abort: threading.Event | None = None,
) -> int:
    """Run MediaPipe over all frames in chunks; skip chunks already saved. Returns the frame count.

    The calling thread decodes; ``workers`` threads, each with its own MediaPipe graph, take whole chunks as
    they come (:func:`reenactor.pose.chunked.detect_chunks`). Each chunk starts from a fresh tracker, so the
    arrays do not depend on which thread ran a chunk, on their number, or on where a run resumed. Frames
    decoded but not yet processed are bounded by RAM_FRAMES_BYTES (at least two chunks).

    If ``keep`` is a list and the run starts at frame 0, the decoded frames are appended to it (the caller
    checks it holds all of them). ``frames``: every frame of the video, already decoded (a list: not decoded
    again), or an iterator of them from frame 0 (the people pass hands its frames on as it decodes them).
    ``abort``: set when the frames stopped coming early; the run then returns -1 (its chunk files are not
    valid). ``plan`` (a :class:`reenactor.pose.people.CropPlan`): MediaPipe runs on a crop around the chosen
    person in each frame, its results mapped back to frame pixels (records gain ``rejected``: another person found)."""
    done_file = work / ".chunks" / "done.json"
    if done_file.exists():
        return int(json.loads(done_file.read_text())["n_frames"])
    (work / ".chunks").mkdir(parents=True, exist_ok=True)
    # The finished prefix is not decoded again; later finished chunks (threads finish out of order) are skipped.
    c0, n_done = 0, 0
    while _chunk_path(work, c0).exists():
        with np.load(_chunk_path(work, c0)) as z:
            k = int(z["person"].shape[0])
        n_done, c0 = n_done + k, c0 + 1
        if k != opts.chunk:  # a short chunk is the last one: everything was detected
            _write_done(done_file, n_done)
            return n_done

    static = opts.mode == "static" or (opts.mode == "auto" and info.is_image)
    mh, mw = _mask_size(info.height, info.width, opts.size)
    left = max(0, info.n_frames - n_done) if info.n_frames else 0
    n_threads = max(1, min(workers, -(-left // opts.chunk) if left else workers))
    from tqdm import tqdm

    def make() -> HolisticExtractor:
        return HolisticExtractor(
            static_image_mode=static,
            min_detection_confidence=opts.min_confidence,
            min_tracking_confidence=opts.min_confidence,
        )

    def process(ex: HolisticExtractor, frame: np.ndarray) -> dict:
        r = ex.process(frame)
        if r["mask"].shape != (mh, mw):
            r["mask"] = cv2.resize(r["mask"], (mw, mh), interpolation=cv2.INTER_AREA)
        return _flags(r)

    def process_crop(ex: HolisticExtractor, item) -> dict:
        return _flags(plan.process(ex, item, (mh, mw)))

    keep_now = keep if (keep is not None and n_done == 0) else None
    if isinstance(frames, list):
        source = contextlib.nullcontext(iter(frames[n_done:]))
    elif frames is not None:
        if n_done:
            raise RuntimeError("a stream of frames starts at frame 0; chunks are already there")
        source = contextlib.nullcontext(frames)
    else:
        source = contextlib.closing(prefetch(iter_frames(path, start=n_done)))  # decoded ahead
    with (
        quiet_native_stderr() as err,
        source as frames_it,
        tqdm(
            total=info.n_frames or None,
            initial=n_done,
            unit="frame",
            desc=f"extract {path.name}",
            disable=not progress,
            dynamic_ncols=True,
            file=err,
        ) as bar,
    ):
        if plan is not None:
            frames_it = plan.items(frames_it, start=n_done, keep=keep_now)
        n = n_done + detect_chunks(
            frames_it,
            make,
            process if plan is None else process_crop,
            lambda c, recs: _save_chunk(_chunk_path(work, c), recs),
            opts.chunk,
            n_threads,
            first_chunk=c0,
            skip=lambda c: _chunk_path(work, c).exists(),
            max_buffered=RAM_FRAMES_BYTES // max(1, info.height * info.width * 3),
            on_frame=keep_now.append if (keep_now is not None and plan is None) else None,
            progress=bar.update,
        )
    if abort is not None and abort.is_set():
        return -1
    if n == 0:
        raise InputError(
            "no frame could be decoded", path, "the file is truncated or not a video; re-export it"
        )
    if info.frames_exact and n < info.n_frames:
        raise InputError(
            f"video is truncated: its header lists {info.n_frames} frames, only {n} could be decoded",
            path,
            "re-copy or re-download the complete file",
        )
    _write_done(done_file, n)
    return n


def _flags(r: dict) -> dict:
    r["face_present"] = bool(r["face"][0, 2] > 0)
    r["hand_left_present"] = bool(r["hand_left"][0, 2] > 0)
    r["hand_right_present"] = bool(r["hand_right"][0, 2] > 0)
    return r


def _write_done(done_file: Path, n: int) -> None:
    write_json(done_file, {"n_frames": n})


def _load_chunks(work: Path, n_frames: int, chunk: int) -> dict[str, np.ndarray]:
    n_chunks = (n_frames + chunk - 1) // chunk
    parts: dict[str, list[np.ndarray]] = {}
    for c in range(n_chunks):
        with np.load(_chunk_path(work, c)) as z:
            for k in z.files:
                parts.setdefault(k, []).append(z[k])
    out = {k: np.concatenate(v) for k, v in parts.items()}
    if out["person"].shape[0] != n_frames:
        raise RuntimeError(f"chunk files hold {out['person'].shape[0]} frames, expected {n_frames}")
    return out


# --------------------------------------------------------------------------- gaps, crop
def fill_gaps(present: np.ndarray, arrays: list[np.ndarray], max_gap: int) -> np.ndarray:
    """Linearly interpolate, in place, runs of at most ``max_gap`` missing frames that have a present frame
    on both sides. ``arrays`` are ``(T, ...)``; returns the new ``(T,)`` presence flags."""
    present = np.asarray(present, bool).copy()
    idx = np.flatnonzero(present)
    if len(idx) < 2 or max_gap <= 0:
        return present
    for a, b in zip(idx[:-1], idx[1:]):
        gap = b - a - 1
        if 0 < gap <= max_gap:
            w = np.arange(1, gap + 1, dtype=np.float32) / (gap + 1)
            for arr in arrays:
                shape = (gap,) + (1,) * (arr.ndim - 1)
                va, vb = arr[a].astype(np.float32), arr[b].astype(np.float32)
                val = (1 - w.reshape(shape)) * va + w.reshape(shape) * vb
                if arr.dtype == np.uint8:
                    val = np.clip(np.round(val), 0, 255)
                arr[a + 1 : b] = val.astype(arr.dtype)
            present[a + 1 : b] = True
    return present


def person_box(d: dict[str, np.ndarray], present: np.ndarray, conf: float = 0.5) -> np.ndarray | None:
    """Union ``[x0, y0, x1, y1]`` (source pixels) of confident body, face and hand points over the clip."""
    pts = [d["body"][present][..., :2][d["body"][present][..., 2] > conf]]
    for k in ("face", "hand_left", "hand_right"):
        a = d[k][present]
        pts.append(a[..., :2][a[..., 2] > 0])
    p = np.concatenate(pts)
    if not len(p):
        return None
    return np.array([*p.min(0), *p.max(0)], np.float64)


def choose_crop(
    src_hw: tuple[int, int], box: np.ndarray | None, mode: str, margin: float
) -> tuple[int, int, int]:
    """The square crop ``(x0, y0, side)`` in integer source pixels (it may reach outside the image: padding).

    ``full``: the whole frame letterboxed to a square. ``person``: a square around ``box`` grown by
    ``margin`` on each side; if it fits in the frame it is moved inside (shrunk to the frame's shorter side
    if needed, as long as the person box itself still fits), else it is padded with black.
    """
    h, w = src_hw
    if mode == "full" or box is None:
        side = max(h, w)
        return (w - side) // 2, (h - side) // 2, side
    bw, bh = box[2] - box[0], box[3] - box[1]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    core = max(bw, bh)
    side = core * (1 + 2 * margin)
    short = min(h, w)
    if side > short and core <= short:
        side = short
    side = int(round(min(max(side, 16), max(h, w))))
    x0 = int(round(cx - side / 2))
    y0 = int(round(cy - side / 2))
    # Move inside the image along each axis where the square fits.
    if side <= w:
        x0 = min(max(x0, 0), w - side)
    else:
        x0 = (w - side) // 2
    if side <= h:
        y0 = min(max(y0, 0), h - side)
    else:
        y0 = (h - side) // 2
    return x0, y0, side


def crop_resize(img: np.ndarray, x0: int, y0: int, side: int, size: int) -> np.ndarray:
    """Cut the square ``[x0, x0+side) x [y0, y0+side)`` (zero padding outside) and resize to ``size``."""
    h, w = img.shape[:2]
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if xa == x0 and ya == y0 and xb == x0 + side and yb == y0 + side:
        sq = img[ya:yb, xa:xb]
    else:
        sq = np.zeros((side, side) + img.shape[2:], img.dtype)
        if xb > xa and yb > ya:
            sq[ya - y0 : yb - y0, xa - x0 : xb - x0] = img[ya:yb, xa:xb]
    if side == size:
        return np.ascontiguousarray(sq)
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(sq, (size, size), interpolation=interp)


def _to_stored(
    d: dict[str, np.ndarray], presence: dict[str, np.ndarray], x0: float, y0: float, s: float
) -> None:
    """Move keypoints / raw arrays / face boxes from source pixels to stored pixels, in place; frames where
    a part is missing stay all-zero."""
    off = np.array([x0, y0], np.float32)
    for group, names in GROUPS.items():
        pres = presence[group]
        for name in names:
            a = d[name]
            if name == "face_box":
                a[:] = ((a.reshape(-1, 2, 2) - off) * s).reshape(a.shape)
            else:
                a[..., :2] = (a[..., :2] - off) * s
                if name.endswith("_raw"):
                    a[..., 2] *= s  # z is in pixels too
            a[~pres] = 0
            if name in KP_NAMES:  # keypoints with conf 0 keep (0, 0, 0)
                a *= a[..., 2:3] > 0


# --------------------------------------------------------------------------- the whole stage
def extract(
    input_path: str | Path,
    clip_dir: str | Path,
    size: int = 256,
    crop: str = "person",
    margin: float = 0.15,
    max_gap: int = 5,
    smoothing: str = "none",
    mode: str = "auto",
    chunk: int = 64,
    min_confidence: float = 0.5,
    person: str = "auto",
    force: bool = False,
    progress: bool = True,
    log=print,
    workers: int = 0,
) -> ClipStore:
    """Extract ``input_path`` (video or image) into the clip store ``clip_dir``; returns the open store.

    Re-running on a finished clip with the same input and options returns it at once; an interrupted run
    continues from ``CLIP_DIR.partial``. Bad input raises :class:`InputError` (no person anywhere:
    :class:`NoPersonError`) and leaves no folder behind. See the module docstring for the arrays.
    ``workers`` is the number of MediaPipe graphs running chunks side by side (0: :func:`default_workers`);
    it changes the speed only, never the arrays. ``person`` chooses whom to follow in a video with several
    people (:mod:`reenactor.pose.people`; ``auto``: the whole frame when there is one person, else the largest,
    most present one, said once through ``log``); the manifest's ``person`` records the choice.
    """
    opts = ExtractOptions(
        size=size,
        crop=crop,
        margin=margin,
        max_gap=max_gap,
        smoothing=smoothing,
        mode=mode,
        chunk=chunk,
        min_confidence=min_confidence,
        person=person,
    )
    opts.check()
    src = Path(input_path)
    clip_dir = Path(clip_dir)
    info = probe(src)
    sha = file_hash(src)
    params = {**asdict(opts), "source_sha256": sha}
    if opts.person == "auto":  # the default: clips extracted before --person existed stay valid
        del params["person"]
    if info.rotation:  # frames are decoded upright: a clip or chunks made before rotation was honoured differ
        params["source_rotation"] = info.rotation

    if clip_dir.exists():
        if ClipStore.is_clip(clip_dir):
            store = ClipStore.open(clip_dir)
            if store.stage_done("extract") and store.manifest.get("extract_params") == params and not force:
                log(f"{clip_dir}: already extracted from {src.name} with these options; nothing to do")
                return store
            if not force:
                raise InputError(
                    "folder already holds a clip extracted from another file or with other options",
                    clip_dir,
                    "pass --force to replace it, or choose another -o folder",
                )
        elif any(clip_dir.iterdir()):
            raise InputError(
                "folder exists and is not a clip store",
                clip_dir,
                "choose a new or empty -o folder (reenactor never overwrites other files)",
            )

    work = clip_dir.parent / f"{clip_dir.name}.partial"
    pfile = work / "params.json"
    if work.exists():
        try:
            same = json.loads(pfile.read_text()) == params
        except (OSError, json.JSONDecodeError):
            same = False
        if same:
            log(f"{clip_dir}: resuming an interrupted extraction")
        else:
            shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    write_json(pfile, params)

    try:
        store = _run(src, info, work, opts, params, progress, log, workers or default_workers())
    except InputError:
        shutil.rmtree(work, ignore_errors=True)  # bad input: resuming cannot help, leave nothing behind
        raise

    # Publish: CLIP_DIR.partial -> CLIP_DIR (an old clip, with --force, is moved aside first).
    shutil.rmtree(work / ".chunks", ignore_errors=True)
    pfile.unlink(missing_ok=True)
    old = None
    if clip_dir.exists():
        old = clip_dir.parent / f"{clip_dir.name}.old-{os.getpid()}"
        os.replace(clip_dir, old)
    os.replace(work, clip_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    store.root = clip_dir
    return store


def _run(
    src: Path,
    info: MediaInfo,
    work: Path,
    opts: ExtractOptions,
    params: dict,
    progress: bool,
    log,
    workers: int = 1,
) -> ClipStore:
    from .pose.people import parse_person

    ram: list | None = [] if 0 < info.n_frames * info.height * info.width * 3 <= RAM_FRAMES_BYTES else None
    t0 = time.perf_counter()
    fresh = not (work / "people.json").exists() and not (work / ".chunks").exists()
    if fresh and parse_person(opts.person) == "auto" and not info.is_image:
        sel, n = _people_alongside(src, info, work, opts, progress, log, ram, workers)
    else:
        sel, n = _select_person(src, work, opts, progress, log, keep=ram), -1
    if n < 0:
        decoded = ram is not None and len(ram) > 0  # by the people pass: pass 1 does not decode again
        n = _detect_pass(
            src,
            info,
            work,
            opts,
            progress,
            keep=None if decoded else ram,
            workers=workers,
            plan=sel.plan,
            frames=ram if decoded else None,
        )
    if ram is not None and len(ram) != n:
        ram = None
    t_detect = time.perf_counter() - t0
    d = _load_chunks(work, n, opts.chunk)
    detected = d.pop("person").astype(bool)
    rejected = d.pop("rejected", None)
    if not detected.any():
        raise NoPersonError(
            f"no person found in any of its {n} frame(s)"
            + ("" if sel.track is None else f" around track {sel.track.id}"),
            src,
            "use footage where one person is clearly visible (at least head and shoulders)"
            if sel.track is None
            else "pick another person (`reenactor people VIDEO -o DIR` lists them), or --person auto",
        )
    presence = {
        "body": fill_gaps(detected, [d[k] for k in GROUPS["body"]] + [d["mask"]], opts.max_gap),
        "face": fill_gaps(d.pop("face_present"), [d[k] for k in GROUPS["face"]], opts.max_gap),
        "hand_left": fill_gaps(d.pop("hand_left_present"), [d[k] for k in GROUPS["hand_left"]], opts.max_gap),
        "hand_right": fill_gaps(
            d.pop("hand_right_present"), [d[k] for k in GROUPS["hand_right"]], opts.max_gap
        ),
    }
    person = presence["body"]
    x0, y0, side = choose_crop((info.height, info.width), person_box(d, person), opts.crop, opts.margin)
    s = opts.size / side
    _to_stored(d, presence, x0, y0, s)

    if opts.smoothing != "none":
        for k in KP_NAMES:
            d[f"{k}_unsmoothed"] = d[k].copy()
            d[k] = smoothing_mod.smooth(d[k], opts.smoothing, fps=info.fps)

    counts = {
        "frames": n,
        "frames_detected": int(detected.sum()),
        "frames_interpolated": int((person & ~detected).sum()),
        "frames_flagged": int((~person).sum()),
        **{f"frames_with_{g}": int(p.sum()) for g, p in presence.items() if g != "body"},
    }
    if rejected is not None:
        counts["frames_other_person"] = int(rejected.sum())
    from .pose.people import ranges

    person_info = {
        **sel.manifest(),
        "frames_not_found": ranges(~detected),
        "frames_interpolated": ranges(person & ~detected),
        "frames_flagged": ranges(~person),
    }
    if rejected is not None:
        person_info["frames_other_person"] = ranges(rejected)
    store = ClipStore.create(
        work,
        source=str(src.resolve()),
        source_name=src.name,
        source_sha256=params["source_sha256"],
        fps=info.fps,
        n_frames=n,
        size=[opts.size, opts.size],
        source_size=[info.height, info.width],
        is_image=info.is_image,
        source_rotation=info.rotation,
        crop={
            "mode": opts.crop,
            "box": [x0, y0, x0 + side, y0 + side],
            "scale": s,
            "note": "stored = (source - box[:2]) * scale; box may reach outside the frame (black padding)",
        },
        backend=BACKEND,
        backend_version=backend_version(),
        skeleton=skeleton_spec(),
        extract_params=params,
        person=person_info,
    )

    # pass 2: frames and masks, cropped and resized, streamed into memory-mapped arrays.
    t1 = time.perf_counter()
    mh, mw = d["mask"].shape[1:]
    ms = mw / info.width
    mx0, my0, mside = int(round(x0 * ms)), int(round(y0 * ms)), max(1, int(round(side * ms)))
    masks = d.pop("mask")
    with (
        store.writer(
            "frames", (n, opts.size, opts.size, 3), np.uint8, stage="extract", write_manifest=False
        ) as fr,
        store.writer(
            "mask", (n, opts.size, opts.size), np.uint8, stage="extract", write_manifest=False
        ) as mk,
    ):
        i = 0
        with (
            contextlib.nullcontext(iter(ram))
            if ram is not None
            else contextlib.closing(prefetch(iter_frames(src))) as frames
        ):
            for frame in frames:
                if i >= n:
                    break
                fr[i] = crop_resize(frame, x0, y0, side, opts.size)
                mk[i] = crop_resize(masks[i], mx0, my0, mside, opts.size)
                i += 1
        ram = None
        if i != n:
            raise InputError(
                f"the second read gave {i} frames, the first {n}",
                src,
                "the file changed during extraction; copy it somewhere stable and re-run",
            )
    for name in (*KP_NAMES, *RAW_NAMES, "face_box"):
        store.save(name, d[name].astype(np.float32), stage="extract", write_manifest=False)
    for name in [k for k in d if k.endswith("_unsmoothed")]:
        store.save(name, d[name].astype(np.float32), stage="extract", write_manifest=False)
    store.save("person", person, stage="extract", write_manifest=False)
    store.save("detected", detected, stage="extract", write_manifest=False)
    store.set_stage(
        "extract",
        "done",
        **counts,
        seconds_people=round(sel.people.seconds, 2),
        seconds_detect=round(t_detect, 2),
        seconds_store=round(time.perf_counter() - t1, 2),
    )
    log(
        f"extracted {n} frames: person in {counts['frames_detected']} detected + "
        f"{counts['frames_interpolated']} interpolated, {counts['frames_flagged']} flagged; "
        f"crop {side}px at ({x0}, {y0}) -> {opts.size}px"
        + (
            ""
            if sel.track is None
            else f"; following track {sel.track.id} ({counts['frames_other_person']} frame(s) where the pose "
            "found was another person's were dropped)"
        )
        + (
            f"; frames turned {info.rotation} degrees clockwise (the video's display rotation)"
            if info.rotation
            else ""
        )
    )
    return store


def _people_alongside(
    src: Path, info: MediaInfo, work: Path, opts: ExtractOptions, progress: bool, log, ram, workers: int
):
    """``--person auto`` on a fresh run: the people pass and pass 1 side by side. The people pass decodes (in a
    thread) and hands every frame on to pass 1, which runs on whole frames, betting on one person (the common
    case: then nothing is done twice, and the people pass costs no wall time beyond its own CPU time). As
    soon as the people pass sees two people that move, pass 1 stops at the next chunk boundary; once the
    tracks are known, its chunks are dropped if the choice is a crop (pass 1 then runs again), kept if not.

    Returns ``(selection, frames detected)``, -1 when pass 1 must still run. The arrays are those of the people
    pass followed by pass 1. Crash-safe: the tracks are saved (people.json) only after the chunks that do not
    count are gone, and speculative chunks are whole chunks of whole frames, which a resumed run keeps or
    drops by the saved tracks (:func:`_select_person`)."""
    from .pose.people import choose_track, find_people, plan_people

    handed: queue.Queue = queue.Queue(maxsize=2 * opts.chunk)
    several = threading.Event()  # the people pass saw several people: stop betting on the whole frame
    cut = threading.Event()  # pass 1's frames stopped early (at a chunk boundary)
    stop = threading.Event()  # pass 1 failed or was interrupted: the people pass stops too
    end, cut_here = object(), object()
    out: dict = {"handed": 0, "open": True}

    class _Stopped(Exception):
        pass

    def put(item) -> None:
        while not stop.is_set():
            try:
                handed.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stopped

    def on_frame(frame: np.ndarray) -> None:
        if stop.is_set():  # pass 1 failed or was interrupted: the people pass stops within a frame
            raise _Stopped
        if not out["open"]:
            return
        if several.is_set() and out["handed"] % opts.chunk == 0:
            out["open"] = False
            put(cut_here)
            return
        put(frame)
        out["handed"] += 1

    def people() -> None:
        try:
            out["people"] = find_people(src, keep=ram, on_frame=on_frame, on_several=several.set)
        except _Stopped:
            return
        except BaseException as e:
            out["err"] = e
        try:
            if out["open"]:
                put(out.get("err", end))
        except _Stopped:
            pass

    def frames() -> Iterator[np.ndarray]:
        while True:
            item = handed.get()
            if item is end:
                return
            if item is cut_here:
                cut.set()
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    th = Background(people)
    try:
        n = _detect_pass(src, info, work, opts, progress, workers=workers, frames=frames(), abort=cut)
        th.join()  # the people pass goes on to the end of the video after pass 1 was cut: Ctrl-C may land here
    except BaseException:
        stop.set()
        th.join()  # never leave its MediaPipe graph running into interpreter exit (std::terminate, exit -6)
        raise
    if "err" in out:
        raise out["err"]
    cache = work / "people.json"
    track, _ = choose_track(out["people"], "auto", src)
    if n < 0 or track is not None:  # the bet is off: the whole-frame chunks do not count
        shutil.rmtree(work / ".chunks", ignore_errors=True)
        n = -1
    out["people"].save(cache)  # after the chunks that do not count are gone (crash-safe)
    sel = plan_people(src, "auto", cache=cache, log=log)  # as a resumed run reads it: the same crops
    return sel, n


def _select_person(
    src: Path, work: Path, opts: ExtractOptions, progress: bool, log, keep: list | None = None
):
    """The people pass (:func:`reenactor.pose.people.plan_people`): whom to follow, and the crops if not the
    whole frame. Its tracks are saved in the work folder, so a resumed run crops as the first did; chunks left
    by a run that did not save them (an older version, which ran on whole frames) are dropped when the choice
    is a crop. ``keep`` receives the decoded frames (none when the tracks come from the work folder)."""
    from .pose.people import plan_people

    cache = work / "people.json"
    had = cache.exists()
    sel = plan_people(
        src, opts.person, progress=progress, cache=cache, log=log, keep=keep if not had else None
    )
    if not had and sel.plan is not None and (work / ".chunks").exists():
        shutil.rmtree(work / ".chunks")
    return sel


# --------------------------------------------------------------------------- a folder of videos / photos
#: suffixes of the video files a folder extraction takes (images: :data:`reenactor.io.video.IMAGE_SUFFIXES`)
VIDEO_SUFFIXES = frozenset(
    {
        ".mp4",
        ".m4v",
        ".mov",
        ".avi",
        ".mkv",
        ".webm",
        ".mpg",
        ".mpeg",
        ".wmv",
        ".flv",
        ".ts",
        ".mts",
        ".m2ts",
        ".3gp",
        ".ogv",
        ".gif",
        ".y4m",
        ".dv",
        ".mxf",
    }
)


def media_files(folder: str | Path) -> tuple[list[Path], list[Path]]:
    """``(media, others)``: the files directly inside ``folder`` (not hidden, sorted by name) whose suffix is a
    video's (:data:`VIDEO_SUFFIXES`) or an image's (:func:`reenactor.io.video.is_image_path`), and the rest.
    Sub-folders are not entered."""
    from .io.video import is_image_path

    files = sorted(p for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith("."))
    media = [p for p in files if is_image_path(p) or p.suffix.lower() in VIDEO_SUFFIXES]
    return media, [p for p in files if p not in media]


def clip_names(files: list[Path]) -> list[str]:
    """One clip folder name per file: its stem, or ``STEM_EXT`` for files sharing a stem (``a.mp4``, ``a.png`` ->
    ``a_mp4``, ``a_png``), numbered ``-2``, ``-3`` in the given order if still equal. Deterministic: the same
    files give the same names. A stem ending in ``.partial`` (the name of an unfinished extraction) becomes
    ``_partial``."""

    def stem(p: Path) -> str:
        s = p.stem
        return s[: -len(".partial")] + "_partial" if s.endswith(".partial") else s

    count: dict[str, int] = {}
    for f in files:
        count[stem(f)] = count.get(stem(f), 0) + 1
    used = {s for s, n in count.items() if n == 1}
    names = []
    for f in files:
        s = stem(f)
        if count[s] == 1:
            names.append(s)
            continue
        base = f"{s}_{f.suffix.lstrip('.').lower()}"
        name, k = base, 2
        while name in used:
            name, k = f"{base}-{k}", k + 1
        used.add(name)
        names.append(name)
    return names


@dataclass
class BatchResult:
    """What :func:`extract_folder` did: the clip stores made (or found finished), the files that failed with
    their messages, and the files skipped for not being videos or images by name."""

    done: list[tuple[Path, ClipStore]]
    failed: list[tuple[Path, str]]
    ignored: list[Path]


def _error_text(e: Exception) -> str:
    from .errors import ReenactorError

    text = str(e)
    if isinstance(e, ReenactorError) and e.path is not None and text.startswith(f"{e.path}: "):
        text = text[len(f"{e.path}: ") :]  # the summary line names the file already
    return text if isinstance(e, ReenactorError) else f"unexpected error {e.__class__.__name__}: {e}"


def extract_folder(
    folder: str | Path,
    out_dir: str | Path,
    options: ExtractOptions | None = None,
    force: bool = False,
    workers: int = 0,
    progress: bool = True,
    log=print,
) -> BatchResult:
    """Extract every video and photo directly inside ``folder`` into ``OUT_DIR/<name>/`` (names from
    :func:`clip_names`), one after the other, with one summary line per file through ``log``.

    Each file goes through :func:`extract`, so a finished clip is not redone and an interrupted one resumes
    (re-running the same command continues a batch). A file that fails (unreadable, corrupt, no person, a
    clip of another file in its folder, ...) is reported and skipped; the batch goes on. Raises
    :class:`InputError` only when ``folder`` holds no video or image or ``out_dir`` cannot hold clips."""
    opts = options or ExtractOptions()
    opts.check()
    folder, out_dir = Path(folder), Path(out_dir)
    if not folder.is_dir():
        raise InputError(
            "not a folder", folder, "pass a folder of videos or photos, or one video / photo file"
        )
    media, others = media_files(folder)
    if not media:
        raise InputError(
            "folder holds no video or image files",
            folder,
            f"put videos ({', '.join(sorted(VIDEO_SUFFIXES)[:6])}, ...) or photos (.png, .jpg, ...) in it",
        )
    if out_dir.exists() and (not out_dir.is_dir() or ClipStore.is_clip(out_dir)):
        raise InputError(
            "is a clip store or a file, not a folder for clip stores",
            out_dir,
            "for a folder of inputs, -o names a (new or existing) folder that receives one clip each",
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    if others:
        log(
            f"note: skipping {len(others)} file(s) that are not videos or images by name: "
            f"{', '.join(p.name for p in others[:5])}{', ...' if len(others) > 5 else ''}"
        )
    done: list[tuple[Path, ClipStore]] = []
    failed: list[tuple[Path, str]] = []
    n = len(media)
    for i, (src, name) in enumerate(zip(media, clip_names(media)), 1):
        head = f"[{i}/{n}] {src.name}"
        msgs: list[str] = []
        t0 = time.perf_counter()
        try:
            store = extract(
                src,
                out_dir / name,
                **asdict(opts),
                force=force,
                progress=progress,
                log=msgs.append,
                workers=workers,
            )
        except Exception as e:  # one bad file never ends the batch (KeyboardInterrupt does)
            failed.append((src, _error_text(e)))
            log(f"{head}: FAILED: {_error_text(e)}")
            continue
        done.append((src, store))
        st = store.stage("extract") or {}
        if any("nothing to do" in m for m in msgs):
            how = "already extracted"
        else:
            how = (
                "resumed, " if any("resuming" in m for m in msgs) else ""
            ) + f"{time.perf_counter() - t0:.1f} s"
        log(
            f"{head} -> {store.root}: {store.n_frames} frame(s) at {store.size[0]} px, person in "
            f"{st.get('frames_detected', 0)} + {st.get('frames_interpolated', 0)} interpolated, "
            f"{st.get('frames_flagged', 0)} flagged ({how})"
        )
    return BatchResult(done, failed, others)


__all__ = [
    "extract",
    "extract_folder",
    "BatchResult",
    "ExtractOptions",
    "VIDEO_SUFFIXES",
    "clip_names",
    "default_workers",
    "fill_gaps",
    "choose_crop",
    "crop_resize",
    "media_files",
    "person_box",
]
