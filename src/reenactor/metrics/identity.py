"""Face identity of a generated video: Euclidean distance between dlib 128-d face descriptors of each
generated frame's face and the target person's reference descriptor (:mod:`reenactor.face.identity`).

The reference is an image, a video, or a clip store of the target: the mean descriptor over up to
``REF_FRAMES`` evenly spaced frames in which a face is found. Per frame: the distance (``nan`` where no face is
detected). Summary: mean distance over frames with a face (lower is better), the share of frames with a
detected face, and the share of those below dlib's same-person threshold 0.6.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..face.identity import SAME_PERSON_THRESHOLD, FaceDescriber, descriptor_distance

REF_FRAMES = 8

__all__ = ["reference_descriptor", "IdentityAccumulator", "REF_FRAMES"]


def _reference_frames(path: Path):
    from ..data.clipstore import ClipStore
    from ..io.video import iter_frames, probe

    if ClipStore.is_clip(path):
        frames = ClipStore.open(path).frames()
        idx = np.unique(np.linspace(0, len(frames) - 1, min(REF_FRAMES, len(frames))).round().astype(int))
        for i in idx:
            yield np.asarray(frames[i])
        return
    info = probe(path)
    if info.is_image:
        yield from iter_frames(path)
        return
    n = max(info.n_frames, 1)
    want = set(np.linspace(0, n - 1, min(REF_FRAMES, n)).round().astype(int).tolist())
    for i, f in enumerate(iter_frames(path)):
        if i in want:
            yield f


_REF_CACHE: dict[tuple, tuple[np.ndarray, int]] = {}


def reference_descriptor(path: str | Path, describer: FaceDescriber) -> tuple[np.ndarray, int]:
    """Mean 128-d descriptor of the target's face in an image / video / clip folder, and how many frames it
    averages. :class:`InputError` when no face is found in any of them. Cached per (path, modification time)
    within the process, so repeated evaluations against one target describe it once."""
    path = Path(path)
    if not path.exists():
        raise InputError(
            "identity reference not found", path, "give an image, a video or a clip folder of the target"
        )
    stamp = path / "manifest.json" if path.is_dir() else path
    key = (str(path.resolve()), stamp.stat().st_mtime_ns if stamp.exists() else 0, describer.min_size)
    if key in _REF_CACHE:
        return _REF_CACHE[key]
    descs = [r.descriptor for f in _reference_frames(path) if (r := describer.describe(f)) is not None]
    if not descs:
        raise InputError(
            "no face found in the identity reference",
            path,
            "give a frontal image of the target's face (at least ~80 px wide)",
        )
    _REF_CACHE[key] = (np.mean(descs, axis=0), len(descs))
    return _REF_CACHE[key]


_DESCRIBER: FaceDescriber | None = None


def shared_describer() -> FaceDescriber:
    """One dlib describer per process (loading the models takes about a second)."""
    global _DESCRIBER
    if _DESCRIBER is None:
        _DESCRIBER = FaceDescriber()
    return _DESCRIBER


class IdentityAccumulator:
    """Per-frame face-identity distances against a reference descriptor."""

    def __init__(self, reference: str | Path, describer: FaceDescriber | None = None):
        self.describer = describer or shared_describer()
        self.reference_path = Path(reference)
        self.ref, self.ref_frames = reference_descriptor(reference, self.describer)
        self.values: list[float] = []

    def update(self, pred_frame: np.ndarray) -> float:
        r = self.describer.describe(pred_frame)
        d = math.nan if r is None else descriptor_distance(r.descriptor, self.ref)
        self.values.append(d)
        return d

    def result(self) -> dict:
        v = np.asarray(self.values, np.float64)
        found = np.isfinite(v)
        return {
            "mean_distance": float(v[found].mean()) if found.any() else math.nan,
            "face_detected": float(found.mean()) if v.size else math.nan,
            "same_person_share": float((v[found] < SAME_PERSON_THRESHOLD).mean())
            if found.any()
            else math.nan,
            "threshold": SAME_PERSON_THRESHOLD,
            "reference_frames": self.ref_frames,
        }
