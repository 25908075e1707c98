"""Face identity descriptors: dlib's 128-d face-recognition ResNet (the model behind ``face_recognition``).

Pipeline per image: dlib's HOG frontal face detector (upsampling small frames), the 5-point shape predictor
for alignment, then ``face_recognition_model_v1.compute_face_descriptor`` -> a 128-d vector. Two faces of the
same person are usually closer than 0.6 in Euclidean distance (dlib's published operating point, 99.38% on
LFW). The model files ship inside the ``face-recognition-models`` wheel and are loaded by path (located with
``importlib.util.find_spec``; the ``face_recognition`` package is not used).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CheckpointError

SAME_PERSON_THRESHOLD = 0.6
MODEL_FILES = {
    "shape5": "shape_predictor_5_face_landmarks.dat",
    "resnet": "dlib_face_recognition_resnet_model_v1.dat",
}

__all__ = ["FaceDescriber", "FaceResult", "model_path", "SAME_PERSON_THRESHOLD", "descriptor_distance"]


def model_path(key: str) -> Path:
    """Path of a dlib model shipped in ``face-recognition-models`` (``key``: "shape5" | "resnet")."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(
            "the package face-recognition-models (dlib face models) is not installed",
            fix="pip install face-recognition-models",
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / MODEL_FILES[key]
    if not path.is_file():
        raise CheckpointError(
            "dlib model file missing from face-recognition-models",
            path,
            "pip install --force-reinstall face-recognition-models",
        )
    return path


def descriptor_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of two 128-d descriptors (0 = identical; < 0.6 usually the same person)."""
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))


@dataclass
class FaceResult:
    descriptor: np.ndarray  # (128,) float64
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels of the image given


class FaceDescriber:
    """Detect the largest face of an RGB image and describe it. ``describe(img (H, W, 3) uint8) -> FaceResult
    | None`` (None when no face is found).

    ``min_size``: frames whose shorter side is below this are upsampled by the detector (once per factor 2),
    so faces in 128-px frames are found.
    """

    def __init__(self, min_size: int = 256, jitter: int = 0):
        import dlib

        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(str(model_path("shape5")))
        self.net = dlib.face_recognition_model_v1(str(model_path("resnet")))
        self.min_size = min_size
        self.jitter = jitter
        self.description = (
            "dlib HOG face detector + 5-point alignment + dlib_face_recognition_resnet_model_v1 (128-d)"
        )

    def _upsample(self, img: np.ndarray) -> int:
        n, side = 0, min(img.shape[:2])
        while side < self.min_size and n < 2:
            side *= 2
            n += 1
        return n

    def describe(self, img: np.ndarray) -> FaceResult | None:
        img = np.ascontiguousarray(img, dtype=np.uint8)
        dets = self.detector(img, self._upsample(img))
        if len(dets) == 0:
            return None
        d = max(dets, key=lambda r: r.width() * r.height())
        shape = self.shape(img, d)
        desc = np.asarray(self.net.compute_face_descriptor(img, shape, self.jitter), np.float64)
        return FaceResult(desc, (d.left(), d.top(), d.right(), d.bottom()))
