"""The clip store: one folder per clip, ``manifest.json`` plus one ``.npy`` array per named per-frame field.

Layout::

    CLIP_DIR/
      manifest.json        schema version, source file + sha256, fps, n_frames, size, crop, backend,
                           per-stage status and counts, and an index of the arrays
      frames.npy           (T, H, W, 3) uint8 RGB, the frames at the stored size
      body.npy             (T, 25, 3) float32 [x, y, conf], BODY_25 (see pose.skeleton)
      face.npy, hand_left.npy, hand_right.npy, mask.npy, ... further arrays added by later stages

Stages (``extract``, ``flow``, ``faup``, ``layout``, ...) add arrays the same way: each array is written to
a temporary name and renamed (:func:`reenactor.io.atomic.save_npy`), then the stage is marked done in the
manifest (also atomic). A stage that is marked done is skipped on re-run; adding a new array never changes the
schema of the old ones, so the schema version only moves when an existing field changes meaning.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..io.atomic import atomic_path, save_npy, write_json

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"


class ClipStore:
    """A clip folder. Open an existing one with :meth:`open`, start a new one with :meth:`create`."""

    def __init__(self, root: str | Path, manifest: dict[str, Any]):
        self.root = Path(root)
        self.manifest = manifest

    # ---------------------------------------------------------------- construction
    @classmethod
    def create(cls, root: str | Path, **fields: Any) -> ClipStore:
        """Make ``root`` (if needed) and write a fresh manifest holding ``fields`` (source, fps, size, ...)."""
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        manifest = {
            "schema": SCHEMA_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **fields,
            "stages": {},
            "arrays": {},
        }
        store = cls(root, manifest)
        store.write_manifest()
        return store

    @classmethod
    def open(cls, root: str | Path) -> ClipStore:
        """Open a clip folder; a clear :class:`InputError` if it is not one."""
        root = Path(root)
        mpath = root / MANIFEST
        if not root.exists():
            raise InputError(
                "clip folder not found", root, "make one with `reenactor extract VIDEO -o CLIP_DIR`"
            )
        if not mpath.exists():
            raise InputError(
                "not a clip folder (no manifest.json)",
                root,
                "make one with `reenactor extract VIDEO -o CLIP_DIR`",
            )
        try:
            manifest = json.loads(mpath.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(
                f"manifest.json is corrupt ({e})", root, "re-run `reenactor extract` into a new folder"
            ) from None
        schema = manifest.get("schema")
        if schema != SCHEMA_VERSION:
            raise InputError(
                f"clip store schema {schema} is not supported (this reenactor reads {SCHEMA_VERSION})",
                root,
                "re-extract the clip with this version of reenactor",
            )
        return cls(root, manifest)

    @staticmethod
    def is_clip(root: str | Path) -> bool:
        return (Path(root) / MANIFEST).is_file()

    # ---------------------------------------------------------------- manifest
    def write_manifest(self) -> None:
        self.manifest["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        write_json(self.root / MANIFEST, self.manifest)

    @property
    def n_frames(self) -> int:
        return int(self.manifest["n_frames"])

    @property
    def fps(self) -> float:
        return float(self.manifest["fps"])

    @property
    def size(self) -> tuple[int, int]:
        """Stored frame size ``(H, W)``."""
        h, w = self.manifest["size"]
        return int(h), int(w)

    @property
    def name(self) -> str:
        return self.root.name

    def stage(self, name: str) -> dict[str, Any] | None:
        """The manifest record of a stage, or None if it never ran."""
        return self.manifest["stages"].get(name)

    def stage_done(self, name: str) -> bool:
        st = self.stage(name)
        return bool(st and st.get("status") == "done")

    def set_stage(self, name: str, status: str = "done", **info: Any) -> None:
        """Record a stage's status and counts (e.g. ``frames_with_person=118``) and write the manifest."""
        rec = dict(self.manifest["stages"].get(name, {}))
        rec.update(info)
        rec["status"] = status
        rec["time"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        self.manifest["stages"][name] = rec
        self.write_manifest()

    # ---------------------------------------------------------------- arrays
    def path(self, name: str) -> Path:
        return self.root / f"{name}.npy"

    def has(self, name: str) -> bool:
        return name in self.manifest["arrays"] and self.path(name).exists()

    def save(
        self, name: str, array: np.ndarray, stage: str | None = None, write_manifest: bool = True
    ) -> None:
        """Write array ``name`` atomically and index it in the manifest (first axis is time for per-frame data)."""
        save_npy(self.path(name), array)
        self.manifest["arrays"][name] = {
            "shape": list(array.shape),
            "dtype": str(array.dtype),
            "stage": stage,
        }
        if write_manifest:
            self.write_manifest()

    @contextlib.contextmanager
    def writer(
        self, name: str, shape: tuple[int, ...], dtype, stage: str | None = None, write_manifest: bool = True
    ) -> Iterator[np.ndarray]:
        """Yield a writable memory-mapped ``.npy`` for array ``name`` to fill frame by frame (never the whole
        array in RAM); on success it is flushed, renamed into place and indexed, on error nothing is left."""
        with atomic_path(self.path(name)) as tmp:
            mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.dtype(dtype), shape=tuple(shape))
            try:
                yield mm
                mm.flush()
            finally:
                del mm
        self.manifest["arrays"][name] = {"shape": list(shape), "dtype": str(np.dtype(dtype)), "stage": stage}
        if write_manifest:
            self.write_manifest()

    def load(self, name: str, mmap: bool = True) -> np.ndarray:
        """Load array ``name`` (memory-mapped by default: frames are read lazily)."""
        if not self.has(name):
            stage = self.manifest["arrays"].get(name, {}).get("stage")
            hint = (
                f"run the `{stage}` stage"
                if stage
                else "re-run `reenactor extract` (or the stage that makes it)"
            )
            raise InputError(f"clip has no `{name}` array", self.root, hint)
        try:
            return np.load(self.path(name), mmap_mode="r" if mmap else None, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise InputError(
                f"{name}.npy is corrupt ({e})", self.root, "delete the clip folder and extract again"
            ) from None

    def arrays(self) -> list[str]:
        return sorted(self.manifest["arrays"])

    # ---------------------------------------------------------------- conveniences
    def keypoints(self) -> dict[str, np.ndarray]:
        """``{"body", "face", "hand_left", "hand_right"}`` -> (T, K, 3) float32 arrays (loaded into memory)."""
        from ..pose.skeleton import KEYPOINT_ARRAYS

        return {
            k: np.asarray(self.load(k, mmap=False), dtype=np.float32) for k in KEYPOINT_ARRAYS if self.has(k)
        }

    def frames(self) -> np.ndarray:
        """(T, H, W, 3) uint8 RGB, memory-mapped."""
        return self.load("frames")

    def person_present(self) -> np.ndarray:
        """(T,) bool: frames where a person was detected or interpolated."""
        return np.asarray(self.load("person", mmap=False)).astype(bool)

    def __repr__(self) -> str:
        return (
            f"ClipStore({str(self.root)!r}, n_frames={self.manifest.get('n_frames')}, arrays={self.arrays()})"
        )
