"""References: the one image of the target that a *reference* method animates.

A :class:`Reference` is built once, by :func:`load_reference`, from

* a photo (``astronaut.png``, or a bundled sample such as ``sample:astronaut``),
* a frame of a clip store (``CLIP_DIR:INDEX``), or
* a frame of a video (``VIDEO:INDEX``),

and holds the frame at the model's size (the person cropped square as ``reenactor extract`` crops a clip),
its keypoints (MediaPipe Holistic in static mode), the person mask, the face box and a background plate (the
scene with the person inpainted away), and ``layout``, its body-part labels
(:data:`reenactor.parsing.labels.LAYOUT`): the clip's stored layout for ``CLIP_DIR:INDEX`` when the clip
has one (imported or estimated), otherwise estimated on the frame
(:func:`reenactor.parsing.layout.estimate_layout`).
``extras`` holds the raw face mesh and pose (``face_raw``, ``pose_raw``, scaled to the reference) and
``layout_source`` (``estimated``, ``imported``), and leaves room for what later methods add. A photo with no
person, or with several, is one clear error naming the file.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import InputError, NoPersonError
from .pose.skeleton import scale_keypoints

KEYPOINT_KEYS = ("body", "face", "hand_left", "hand_right")
#: raw MediaPipe arrays a reference keeps in ``extras`` (the face mesh and pose feed the layout estimate)
RAW_KEYS = ("face_raw", "pose_raw")
#: a second face at least this large (relative to the largest) and this sure means "several people"
SECOND_FACE_AREA = 0.2
SECOND_FACE_SCORE = 0.6
_INDEXED = re.compile(r"^(?P<path>.+):(?P<index>-?\d+)$")


@dataclass
class Reference:
    """The target's one image and what was measured on it, at the model's frame size (S x S).

    image (S, S, 3) uint8 RGB; keypoints {"body": (25, 3), "face": (68, 3), "hand_left"/"hand_right": (21, 3)}
    float32 [x, y, conf] in its pixels; mask (S, S) uint8 0..255; face_box (4,) float32 x0, y0, x1, y1 (zeros:
    no face); background (S, S, 3) uint8, the person inpainted away; layout (S, S) uint8 part labels (every
    person pixel labelled, 0 outside the mask; None only for a Reference built by hand).
    """

    image: np.ndarray
    keypoints: dict[str, np.ndarray]
    mask: np.ndarray
    face_box: np.ndarray
    background: np.ndarray
    source: str
    layout: np.ndarray | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        return (int(self.image.shape[0]), int(self.image.shape[1]))

    def pose(self) -> dict[str, np.ndarray]:
        """The keypoints as a ``(1, K, 3)`` sequence per key, for fitting a normalization."""
        return {k: v[None] for k, v in self.keypoints.items()}

    def layout_at(self, size: int) -> tuple[np.ndarray, str]:
        """The person's LAYOUT labels at ``size`` x ``size`` and where they came from: its own ``layout`` (a
        clip's stored one, or estimated by :func:`load_reference`), else estimated here from the photo, mask,
        keypoints and raw face mesh / pose (:func:`reenactor.parsing.layout.estimate_layout`)."""
        from .parsing.labels import resize_labels

        if self.layout is not None:
            return resize_labels(self.layout, size), str(self.extras.get("layout_source", "given"))
        from .parsing.layout import estimate_layout

        kp, ex = self.keypoints, self.extras
        lay = estimate_layout(
            self.image,
            self.mask,
            kp["body"],
            face_raw=ex.get("face_raw"),
            hand_left=kp.get("hand_left"),
            hand_right=kp.get("hand_right"),
            pose_raw=ex.get("pose_raw"),
        )
        return resize_labels(lay, size), "estimated"


def background_from_mask(image: np.ndarray, mask: np.ndarray, grow: float = 0.03) -> np.ndarray:
    """The scene behind the person of one frame: the mask grown by ``grow`` x the frame side (MediaPipe's soft
    edge leaves a halo) and inpainted (:func:`reenactor.data.background.background_plate`, Telea)."""
    from .data.background import background_plate

    k = max(3, int(round(grow * max(mask.shape))) | 1)
    grown = cv2.dilate((np.asarray(mask) >= 64).astype(np.uint8) * 255, np.ones((k, k), np.uint8))
    if grown.all():
        return np.zeros_like(image)
    plate, _ = background_plate(np.asarray(image)[None], grown[None])
    return plate


def count_people(image: np.ndarray) -> int:
    """Faces in an RGB image large and sure enough to be another person (MediaPipe face detection, the
    full-range model shipped in the wheel)."""
    import mediapipe as mp

    from .pose.holistic import hold_interrupt, quiet_native_stderr

    with (
        hold_interrupt(),  # the whole life of this short graph: never half made or half closed
        quiet_native_stderr(),
        mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=SECOND_FACE_SCORE
        ) as fd,
    ):
        res = fd.process(np.ascontiguousarray(image))
    dets = res.detections or []
    areas = [
        d.location_data.relative_bounding_box.width * d.location_data.relative_bounding_box.height
        for d in dets
    ]
    if not areas:
        return 0
    return sum(a >= SECOND_FACE_AREA * max(areas) for a in areas)


def _from_store(store: Any, index: int, size: int, source: str) -> Reference:
    n = store.n_frames
    if not -n <= index < n:
        raise InputError(
            f"frame {index} is outside the clip ({n} frames)",
            store.root,
            f"pass CLIP:INDEX with 0 <= INDEX < {n}",
        )
    t = index % n
    if store.has("person") and not bool(np.asarray(store.load("person")[t])):
        raise NoPersonError(
            f"frame {t} of the clip shows no person", store.root, "pick another frame (CLIP:INDEX)"
        )
    image = np.asarray(store.load("frames")[t])
    mask = np.asarray(store.load("mask")[t]) if store.has("mask") else np.zeros(image.shape[:2], np.uint8)
    kp = {k: np.asarray(store.load(k)[t], np.float32).copy() for k in KEYPOINT_KEYS if store.has(k)}
    box = (
        np.asarray(store.load("face_box")[t], np.float32).copy()
        if store.has("face_box")
        else np.zeros(4, np.float32)
    )
    # the raw MediaPipe arrays the layout estimate uses: x, y (and z) in pixels, scaled with the frame
    raw = {k: np.asarray(store.load(k)[t], np.float32).copy() for k in RAW_KEYS if store.has(k)}
    layout = (
        np.asarray(store.load("layout")[t]).copy()
        if store.stage_done("layout") and store.has("layout")
        else None
    )
    # the background stage's plate of this frame (the clip's median plate where the scene was ever seen behind
    # the person) beats inpainting this one frame; without that stage, inpaint it (below)
    plate = (
        np.asarray(store.load("background")[t]).copy()
        if store.stage_done("background") and store.has("background")
        else None
    )
    h, w = image.shape[:2]
    if (h, w) != (size, size):  # the store's frames are square; scale everything to the model's size
        s = size / float(h)
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_LINEAR)
        kp = {k: scale_keypoints(v, (h, w), (size, size)) for k, v in kp.items()}
        box *= s
        for v in raw.values():
            v[:, :3] *= s  # x, y, z (pose_raw's 4th column is a visibility)
        if layout is not None:
            layout = cv2.resize(layout, (size, size), interpolation=cv2.INTER_NEAREST)
        if plate is not None:
            plate = cv2.resize(
                plate, (size, size), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
            )
    if "body" not in kp or not (kp["body"][:, 2] > 0.05).any():
        raise NoPersonError(f"frame {t} of the clip has no body keypoints", store.root, "pick another frame")
    return Reference(
        image,
        kp,
        mask,
        box,
        background_from_mask(image, mask) if plate is None else plate,
        source,
        *_layout(image, mask, kp, raw, layout, store),
    )


def _layout(image, mask, kp, raw, stored, store) -> tuple[np.ndarray, dict[str, Any]]:
    """The reference's layout (the clip's own, imported or estimated, when it has one; else estimated on the
    frame, :func:`reenactor.parsing.layout.estimate_layout`) and the extras holding the raw arrays."""
    from .parsing.layout import estimate_layout, fit_to_mask

    extras: dict[str, Any] = dict(raw)
    if stored is not None:  # rescaled: fit it to the rescaled mask again
        extras["layout_source"] = (store.stage("layout") or {}).get("source", "stored")
        return fit_to_mask(stored, mask), extras
    layout = estimate_layout(
        image,
        mask,
        kp["body"],
        raw.get("face_raw"),
        kp.get("hand_left"),
        kp.get("hand_right"),
        raw.get("pose_raw"),
    )
    extras["layout_source"] = "estimated"
    return layout, extras


def _extract_image(path: Path, size: int, shown: str) -> Reference:
    """Extract one image (static mode, person crop) into a temporary clip store and read it back."""
    from .data.clipstore import ClipStore
    from .extract import extract
    from .io.video import read_image

    image = read_image(path)
    n = count_people(image)
    if n > 1:
        raise InputError(
            f"the photo shows {n} people; a reference must show one",
            shown,
            "crop the photo to the one person to animate",
        )
    tmp = Path(tempfile.mkdtemp(prefix="reenactor-reference-"))
    try:
        try:
            extract(path, tmp / "clip", size=size, mode="static", progress=False, log=lambda *a, **k: None)
        except NoPersonError:
            raise NoPersonError(
                "no person found in the target image",
                shown,
                "use a photo that shows the person's head and upper body (or the whole body)",
            ) from None
        return _from_store(ClipStore.open(tmp / "clip"), 0, size, shown)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_reference(spec: str | Path, size: int) -> Reference:
    """A :class:`Reference` at ``size`` x ``size`` from a photo / sample name, ``CLIP_DIR:INDEX`` or
    ``VIDEO:INDEX`` (see the module docstring). Bad input: one :class:`InputError` naming it and the fix."""
    from .data.clipstore import ClipStore
    from .io.video import is_image_path, iter_frames, probe, write_image
    from .samples import resolve_input

    text = str(spec)
    m = _INDEXED.match(text)
    if m and Path(m["path"]).exists():
        p, index = Path(m["path"]), int(m["index"])
        if p.is_dir():
            return _from_store(ClipStore.open(p), index, size, text)
        info = probe(p)
        n = info.n_frames or 0
        if index < 0:
            index += n
        if not 0 <= index < max(n, 1):
            raise InputError(
                f"frame {m['index']} is outside the video ({n} frames)",
                p,
                f"pass VIDEO:INDEX with 0 <= INDEX < {n}",
            )
        frame = next(iter_frames(p, start=index, stop=index + 1), None)
        if frame is None:
            raise InputError(f"frame {index} could not be decoded", p, "pick another frame")
        tmp = Path(tempfile.mkdtemp(prefix="reenactor-frame-"))
        try:
            write_image(tmp / "frame.png", frame)
            return _extract_image(tmp / "frame.png", size, text)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    path = resolve_input(text)
    if path.is_dir():
        if ClipStore.is_clip(path):
            raise InputError("a clip store needs a frame index", path, f"pass {path}:INDEX, e.g. {path}:0")
        raise InputError("is a folder, not a photo", path, "pass a photo, CLIP_DIR:INDEX or VIDEO:INDEX")
    if not path.exists():
        raise InputError("target image not found", path, "pass a photo, CLIP_DIR:INDEX or VIDEO:INDEX")
    if not is_image_path(path):
        raise InputError(
            "is a video; a reference is one frame", path, f"pass {path}:INDEX to use frame INDEX"
        )
    return _extract_image(path, size, str(path))


__all__ = ["Reference", "load_reference", "background_from_mask", "count_people"]
