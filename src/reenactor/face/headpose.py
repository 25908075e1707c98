"""Head pose (yaw, pitch, roll) from a MediaPipe face mesh by ``cv2.solvePnP`` on a canonical 3D face.

Canonical 3D model (:data:`MODEL_POINTS_3D`): twelve *rigid* face-mesh points (eye corners, nose bridge,
nose tip, subnasale, temples, forehead; no mouth or chin, so an open mouth or a smile cannot tilt the
estimated head). Their 3D coordinates are MediaPipe's own 3D mesh of a frontal reference face (the bundled
astronaut photo: x, y in pixels, z MediaPipe depth in the same scale), levelled in roll, mirrored to be exactly
left-right symmetric, centred between the eyes and scaled to an inter-ocular distance of 100, in a
*camera-aligned* frame (x right, y down, z away from the camera) so that a face looking straight into the
camera has rotation = identity. (The classic six-point OpenCV-tutorial head was tried first; its chin and
mouth corners do not match MediaPipe's geometry and read a frontal, smiling face as 33 degrees pitched.)
The solver is ``SOLVEPNP_SQPNP`` (globally optimal, no initial guess). Camera: principal point at the mesh's
bounding-box centre and focal length 10x the mesh width, i.e. nearly orthographic: MediaPipe regresses the
mesh on a face crop under weak perspective, so full-frame intrinsics are wrong for it (with the frame's own
focal length and centre, the frontal astronaut photo, whose face sits off-centre, read as 16 degrees pitched;
with this face-centred camera it reads 2.5 degrees).

Angles (radians) decompose the model-to-camera rotation as ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`` in camera
coordinates (x right, y down, z forward):

* yaw   > 0: the head turns so the nose moves toward the image *left* (the subject turns to their right);
* pitch > 0: the head tilts down (nose moves down in the image);
* roll  > 0: the head tilts clockwise as seen in the image.
"""

from __future__ import annotations

import cv2
import numpy as np

#: MediaPipe face-mesh indices of the model points, in the order of :data:`MODEL_POINTS_3D`.
MESH_IDS: tuple[int, ...] = (33, 133, 362, 263, 168, 6, 1, 2, 234, 454, 10, 151)

#: (12, 3) float64 canonical 3D face, camera-aligned (x right, y down, z away), inter-ocular distance 100.
MODEL_POINTS_3D = np.array(
    [
        [-71.89, -2.06, 3.93],  # 33  right eye, outer corner (image left)
        [-28.11, 2.06, -3.93],  # 133 right eye, inner corner
        [28.11, 2.06, -3.93],  # 362 left eye, inner corner
        [71.89, -2.06, 3.93],  # 263 left eye, outer corner
        [0.0, -7.06, -32.05],  # 168 nose bridge, between the eyes
        [0.0, 5.08, -38.29],  # 6   nose bridge
        [0.0, 63.10, -60.42],  # 1   nose tip
        [0.0, 68.84, -34.15],  # 2   subnasale
        [-107.90, 21.95, 90.54],  # 234 right temple / face side
        [107.90, 21.95, 90.54],  # 454 left temple / face side
        [0.0, -75.35, -31.28],  # 10  forehead, top
        [0.0, -53.53, -34.13],  # 151 forehead, middle
    ],
    dtype=np.float64,
)


def camera_matrix(face_raw: np.ndarray) -> np.ndarray:
    """(3, 3) face-centred, nearly orthographic pinhole intrinsics for ``face_raw`` (see the module docstring)."""
    xy = face_raw[:, :2]
    lo, hi = xy.min(0), xy.max(0)
    cx, cy = (lo + hi) / 2.0
    f = 10.0 * float(max(hi[0] - lo[0], 1.0))
    return np.array([[f, 0, cx], [0, f, cy], [0, 0, 1]], dtype=np.float64)


def rotation_to_euler(R: np.ndarray) -> np.ndarray:
    """(3,) [yaw, pitch, roll] radians of ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)``."""
    yaw = float(np.arcsin(np.clip(-R[2, 0], -1.0, 1.0)))
    pitch = float(np.arctan2(R[2, 1], R[2, 2]))
    roll = float(np.arctan2(R[1, 0], R[0, 0]))
    return np.array([yaw, pitch, roll], dtype=np.float32)


def euler_to_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Inverse of :func:`rotation_to_euler`: (3, 3) ``Rz(roll) @ Ry(yaw) @ Rx(pitch)``."""
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    return rz @ ry @ rx


def head_pose(face_raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Head pose of one face mesh.

    Args:
        face_raw: (478, 3) (or (468, 3)) MediaPipe mesh, x, y in pixels (z unused here).

    Returns:
        (angles (3,) float32 [yaw, pitch, roll] radians, R (3, 3) float64 model-to-camera rotation).
    """
    pts2d = np.ascontiguousarray(face_raw[list(MESH_IDS), :2], dtype=np.float64)
    K = camera_matrix(face_raw)
    try:
        ok, rvec, _tvec = cv2.solvePnP(MODEL_POINTS_3D, pts2d, K, None, flags=cv2.SOLVEPNP_SQPNP)
    except cv2.error:  # degenerate (e.g. collapsed) mesh
        ok = False
    if not ok:  # degenerate input: report a frontal pose rather than garbage
        return np.zeros(3, np.float32), np.eye(3)
    R, _ = cv2.Rodrigues(rvec)
    return rotation_to_euler(R), R
