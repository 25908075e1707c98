"""Pose-sequence files: driving poses without frames (``*.poses.npz``).

``reenactor poses export CLIP -o walk.poses.npz`` writes one; ``reenactor transfer --driving walk.poses.npz``
and ``reenactor render walk.poses.npz`` read it; a pose-sequence method (``psgan``) generates one. The format
is a plain NumPy ``.npz`` (``np.savez_compressed``; read with ``allow_pickle=False``, so a downloaded file
cannot run code):

==================  =====================  =====================================================
array               shape, dtype           meaning
==================  =====================  =====================================================
``meta``            () str                 JSON: ``format`` ("reenactor-poses"), ``version`` (1),
                                           ``fps``, ``size`` [H, W] of the pixel space, ``skeleton``
                                           (:func:`reenactor.pose.skeleton.skeleton_spec`),
                                           ``source`` (where the poses came from, free text)
``body``            (T, 25, 3) float32     BODY_25 [x, y, conf], pixels of ``size``
``face``            (T, 68, 3) float32     iBUG 68 face points (optional)
``hand_left/right`` (T, 21, 3) float32     hands (optional)
``person``          (T,) bool              a person in this frame (optional; default: body seen)
``face_box``        (T, 4) float32         optional, as in a clip store
``*_raw``           as in a clip store     MediaPipe's raw arrays (optional: methods that read the
                                           driver's face mesh, such as ``upper_body``, need ``face_raw``)
==================  =====================  =====================================================

A joint with confidence 0 is missing. Exporting a clip keeps every per-frame, non-image array of its store,
so transferring from the exported file gives the same frames as transferring from the clip itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .skeleton import skeleton_spec

FORMAT = "reenactor-poses"
VERSION = 1
SUFFIX = ".poses.npz"
KEYPOINTS = {"body": 25, "face": 68, "hand_left": 21, "hand_right": 21}
#: optional per-frame arrays kept from a clip store (not frames, masks or flow)
EXTRA_KEYS = ("person", "detected", "face_box", "pose_raw", "face_raw", "hand_left_raw", "hand_right_raw")


def is_pose_file(path: str | Path) -> bool:
    """Whether ``path`` names a pose-sequence file (by its ``.poses.npz`` / ``.npz`` suffix)."""
    return str(path).lower().endswith(".npz")


class PoseSequence:
    """Driving keypoints without frames, in memory. Offers the part of :class:`~reenactor.data.clipstore.ClipStore`
    that drawing and driving need (``n_frames``, ``fps``, ``size``, ``name``, ``has``, ``load``)."""

    def __init__(
        self,
        arrays: Mapping[str, np.ndarray],
        fps: float,
        size: Sequence[int],
        source: str = "",
        path: Path | None = None,
    ):
        self.arrays = {k: np.asarray(v) for k, v in arrays.items()}
        if "body" not in self.arrays:
            raise InputError("a pose sequence needs `body` keypoints", path)
        self.fps = float(fps)
        self.size = (int(size[0]), int(size[1]))
        self.source = source
        self.path = path
        self.name = path.name if path is not None else "poses"
        n = len(self.arrays["body"])
        for k, v in self.arrays.items():
            if len(v) != n:
                raise InputError(
                    f"pose file array {k!r} has {len(v)} frames, `body` has {n}",
                    path,
                    "re-export it with `reenactor poses export`",
                )
        if "person" not in self.arrays:
            self.arrays["person"] = (self.arrays["body"][..., 2] > 0).any(-1)

    @property
    def n_frames(self) -> int:
        return len(self.arrays["body"])

    def has(self, key: str) -> bool:
        return key in self.arrays

    def load(self, key: str, mmap: bool = True) -> np.ndarray:
        return self.arrays[key]

    def frames(self) -> np.ndarray:
        raise InputError(
            "a pose file holds no frames", self.path, "draw it without --overlay / --side-by-side"
        )

    def keypoints(self) -> dict[str, np.ndarray]:
        return {k: self.arrays[k] for k in KEYPOINTS if k in self.arrays}

    def meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "fps": self.fps,
            "size": list(self.size),
            "skeleton": skeleton_spec(),
            "source": self.source,
        }


def save_poses(path: str | Path, seq: PoseSequence) -> Path:
    """Write ``seq`` to ``path`` (must end in ``.poses.npz``), atomically."""
    from ..io.atomic import atomic_path

    path = Path(path)
    if not str(path).endswith(SUFFIX):
        raise InputError(f"a pose file must end in {SUFFIX}", path, f"name it e.g. walk{SUFFIX}")
    arrays = {k: np.ascontiguousarray(v) for k, v in seq.arrays.items()}
    with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, meta=np.array(json.dumps(seq.meta())), **arrays)
    return path


def load_poses(path: str | Path) -> PoseSequence:
    """Read a pose-sequence file; one :class:`InputError` naming the file for a missing, corrupt, foreign or
    other-skeleton file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            "pose file not found", path, f"write one with `reenactor poses export CLIP -o NAME{SUFFIX}`"
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:  # noqa: BLE001 - any read failure means a corrupt or foreign file
        raise InputError(
            f"not a readable pose file ({type(e).__name__}: {e})",
            path,
            f"write it again with `reenactor poses export CLIP -o NAME{SUFFIX}`",
        ) from None
    try:
        meta = json.loads(str(data.pop("meta")))
    except (KeyError, json.JSONDecodeError):
        meta = {}
    if meta.get("format") != FORMAT:
        raise InputError(
            "not a reenactor pose file (no reenactor metadata)",
            path,
            f"write one with `reenactor poses export CLIP -o NAME{SUFFIX}`",
        )
    if int(meta.get("version", 0)) > VERSION:
        raise InputError(
            f"pose file version {meta.get('version')} is newer than this reenactor reads ({VERSION})",
            path,
            "upgrade reenactor",
        )
    ours, theirs = skeleton_spec(), meta.get("skeleton") or {}
    if theirs.get("name") != ours["name"] or list(theirs.get("body", [])) != ours["body"]:
        raise InputError(
            f"pose file uses skeleton {theirs.get('name')!r} with {len(theirs.get('body', []))} body "
            f"joints; reenactor drives BODY_25 bodies ({ours['name']}, {len(ours['body'])} body joints)",
            path,
            f"convert the poses to {ours['name']} (joint order in reenactor.pose.skeleton) or export "
            "them from a clip store",
        )
    for k, n in KEYPOINTS.items():
        if k in data and (data[k].ndim != 3 or data[k].shape[1:] != (n, 3)):
            raise InputError(
                f"pose file array {k!r} has shape {data[k].shape}, expected (T, {n}, 3)",
                path,
                "re-export it with `reenactor poses export`",
            )
    if "body" not in data:
        raise InputError(
            "pose file has no `body` keypoints", path, "re-export it with `reenactor poses export`"
        )
    try:
        fps, size = float(meta["fps"]), meta["size"]
    except (KeyError, TypeError, ValueError):
        raise InputError("pose file metadata lacks fps/size", path, "re-export it") from None
    arrays = {k: (v.astype(np.float32) if v.dtype.kind == "f" else v) for k, v in data.items()}
    return PoseSequence(arrays, fps, size, str(meta.get("source", "")), path)


def poses_from_clip(clip: Any, start: int = 0, stop: int | None = None) -> PoseSequence:
    """The per-frame, non-image arrays of a clip store (frames ``start:stop``) as a :class:`PoseSequence`."""
    n = clip.n_frames
    stop = n if stop is None else min(stop, n)
    if not 0 <= start < stop:
        raise InputError(
            f"frame range {start}:{stop} is empty (the clip has {n} frames)",
            clip.root,
            "pass --start/--stop inside the clip",
        )
    arrays = {k: np.asarray(clip.load(k)[start:stop]) for k in (*KEYPOINTS, *EXTRA_KEYS) if clip.has(k)}
    return PoseSequence(arrays, clip.fps, clip.size, f"clip {clip.root} frames {start}:{stop}")


def export_clip(
    clip_dir: str | Path, out: str | Path, start: int = 0, stop: int | None = None
) -> PoseSequence:
    """``reenactor poses export``: a clip store's poses -> a pose file."""
    from ..data.clipstore import ClipStore

    seq = poses_from_clip(ClipStore.open(clip_dir), start, stop)
    save_poses(out, seq)
    return seq


# ------------------------------------------------------------------------------------------ driving source
def _source_base():
    from ..driving import DrivingSource

    return DrivingSource


class PoseFileSource(_source_base()):
    """A pose file as a driving source: keypoints only, no frames (``iter_frames`` yields ``None`` frames)."""

    def __init__(self, path: str | Path | PoseSequence, max_frames: int | None = None):
        self.seq = path if isinstance(path, PoseSequence) else load_poses(path)
        self.name = str(self.seq.path or self.seq.name)
        self.fps = self.seq.fps
        self.n = self.seq.n_frames if max_frames is None else min(self.seq.n_frames, max_frames)

    def prepare(self, progress: bool = True) -> None:
        if not np.asarray(self.seq.arrays["person"][: self.n]).any():
            from ..errors import NoPersonError

            raise NoPersonError(
                "no frame of the pose file has a person's pose",
                self.name,
                "use a pose file with visible body joints",
            )

    def __len__(self) -> int:
        return self.n

    def bodies(self) -> np.ndarray:
        return np.asarray(self.seq.arrays["body"][: self.n], np.float32)

    def frame_size(self) -> tuple[int, int] | None:
        return self.seq.size

    def iter_frames(
        self, frames: bool = True, keys: Sequence[str] | None = None
    ) -> Iterator[tuple[np.ndarray | None, dict[str, Any]]]:
        names = list(self.seq.arrays) if keys is None else [k for k in keys if k in self.seq.arrays]
        for t in range(self.n):
            yield None, {k: np.array(self.seq.arrays[k][t]) for k in names}


__all__ = [
    "PoseSequence",
    "PoseFileSource",
    "save_poses",
    "load_poses",
    "poses_from_clip",
    "export_clip",
    "is_pose_file",
    "SUFFIX",
    "FORMAT",
]
