"""reenactor's canonical keypoint layout.

Body: OpenPose **BODY_25** order (25 joints; feet included so that Everybody-Dance-Now normalization can
use toe positions). Face: the 68-point iBUG/dlib layout. Hands: 2 x 21 points in the OpenPose/MediaPipe hand
order (wrist, then thumb, index, middle, ring, pinky, four points each).

Every keypoint array is ``(..., K, 3)`` float32 ``[x, y, confidence]`` with x, y in pixels of the clip's
stored frame size and confidence in [0, 1]; a joint with confidence 0 is missing.

In the clip store the arrays are named ``body`` (T, 25, 3), ``face`` (T, 68, 3), ``hand_left`` (T, 21, 3),
``hand_right`` (T, 21, 3) — see :data:`KEYPOINT_ARRAYS`.
"""

from __future__ import annotations

import numpy as np

BODY_NAMES: tuple[str, ...] = (
    "Nose",
    "Neck",
    "RShoulder",
    "RElbow",
    "RWrist",
    "LShoulder",
    "LElbow",
    "LWrist",
    "MidHip",
    "RHip",
    "RKnee",
    "RAnkle",
    "LHip",
    "LKnee",
    "LAnkle",
    "REye",
    "LEye",
    "REar",
    "LEar",
    "LBigToe",
    "LSmallToe",
    "LHeel",
    "RBigToe",
    "RSmallToe",
    "RHeel",
)
J = {name: i for i, name in enumerate(BODY_NAMES)}
N_BODY = len(BODY_NAMES)
N_FACE = 68
N_HAND = 21

# OpenPose BODY_25 render pairs and colours (RGB), one colour per limb.
BODY_LIMBS: tuple[tuple[int, int], ...] = (
    (1, 8),
    (1, 2),
    (1, 5),
    (2, 3),
    (3, 4),
    (5, 6),
    (6, 7),
    (8, 9),
    (9, 10),
    (10, 11),
    (8, 12),
    (12, 13),
    (13, 14),
    (1, 0),
    (0, 15),
    (15, 17),
    (0, 16),
    (16, 18),
    (14, 19),
    (19, 20),
    (14, 21),
    (11, 22),
    (22, 23),
    (11, 24),
)
BODY_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 85),
    (255, 0, 0),
    (255, 85, 0),
    (255, 170, 0),
    (255, 255, 0),
    (170, 255, 0),
    (85, 255, 0),
    (0, 255, 0),
    (255, 0, 0),
    (0, 255, 85),
    (0, 255, 170),
    (0, 255, 255),
    (0, 170, 255),
    (0, 85, 255),
    (0, 0, 255),
    (255, 0, 170),
    (170, 0, 255),
    (255, 0, 255),
    (85, 0, 255),
    (0, 0, 255),
    (0, 0, 255),
    (0, 0, 255),
    (0, 255, 255),
    (0, 255, 255),
    (0, 255, 255),
)  # per joint, as OpenPose renders BODY_25; limb (a, b) takes the colour of joint b

# Joints the upper-body variant of each method uses (no legs / feet).
UPPER_BODY_JOINTS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 16, 17, 18)

# 68-point face contours: jaw, brows, nose bridge, nostrils, eyes (closed), lips (closed).
FACE_CONTOURS: tuple[tuple[int, ...], ...] = (
    tuple(range(0, 17)),
    tuple(range(17, 22)),
    tuple(range(22, 27)),
    tuple(range(27, 31)),
    tuple(range(30, 36)) + (30,),
    tuple(range(36, 42)) + (36,),
    tuple(range(42, 48)) + (42,),
    tuple(range(48, 60)) + (48,),
    tuple(range(60, 68)) + (60,),
)
FACE_EDGES: tuple[tuple[int, int], ...] = tuple(
    (c[i], c[i + 1]) for c in FACE_CONTOURS for i in range(len(c) - 1)
)

HAND_EDGES: tuple[tuple[int, int], ...] = (
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 4),
    (0, 5),
    (5, 6),
    (6, 7),
    (7, 8),
    (0, 9),
    (9, 10),
    (10, 11),
    (11, 12),
    (0, 13),
    (13, 14),
    (14, 15),
    (15, 16),
    (0, 17),
    (17, 18),
    (18, 19),
    (19, 20),
)

KEYPOINT_ARRAYS: dict[str, int] = {"body": N_BODY, "face": N_FACE, "hand_left": N_HAND, "hand_right": N_HAND}

SKELETON_NAME = "body25+face68+hands21"


def scale_keypoints(kp: np.ndarray, from_size: tuple[int, int], to_size: tuple[int, int]) -> np.ndarray:
    """Rescale pixel keypoints ``(..., K, 3)`` (or ``(..., K, 2)``) between frame sizes (H, W); a float32 copy,
    confidences untouched."""
    out = np.array(kp, dtype=np.float32, copy=True)
    out[..., 0] *= to_size[1] / from_size[1]
    out[..., 1] *= to_size[0] / from_size[0]
    return out


def skeleton_spec() -> dict:
    """A JSON-able description stored in manifests and checkpoints, so consumers can check compatibility."""
    return {"name": SKELETON_NAME, "body": list(BODY_NAMES), "n_face": N_FACE, "n_hand": N_HAND}


def valid(kp: np.ndarray, thresh: float = 0.0) -> np.ndarray:
    """Boolean mask ``(..., K)`` of keypoints with confidence above ``thresh``."""
    return kp[..., 2] > thresh
