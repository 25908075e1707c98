"""MediaPipe Face Mesh (478 points, ``refine_face_landmarks=True``) -> the 68-point iBUG/dlib face layout.

The table below picks, for each of the 68 iBUG points, the Face Mesh vertex at the same anatomical place.
"Right"/"left" are the *subject's* sides (as in iBUG: point 0 is the jaw end on the image's left for a
frontal face). Mirror pairs in the table are Face Mesh mirror pairs (e.g. 234/454, 33/263, 61/291), so a
mirrored face maps to the mirrored 68 points.

=======  ======  ==============================  ===============================================
iBUG     count   region                          Face Mesh vertices
=======  ======  ==============================  ===============================================
0-16     17      jaw line, right ear -> left     162 234 93 58 172 136 149 148 152 377 378 365 397
                                                 288 323 454 389
17-21    5       right brow, outer -> inner      70 63 105 66 107
22-26    5       left brow, inner -> outer       336 296 334 293 300
27-30    4       nose bridge, top -> tip         168 197 5 4
31-35    5       nostrils, right -> left         75 97 2 326 305
36-41    6       right eye (outer corner, upper  33 160 158 133 153 144
                 outer, upper inner, inner
                 corner, lower inner, lower outer)
42-47    6       left eye (inner corner, upper   362 385 387 263 373 380
                 inner, upper outer, outer
                 corner, lower outer, lower inner)
48-59    12      outer lips, right corner,       61 39 37 0 267 269 291 405 314 17 84 181
                 over the top, back under
60-67    8       inner lips, same order          78 82 13 312 308 317 14 87
=======  ======  ==============================  ===============================================

The 10 iris points of the refined mesh (468-477) are not part of the 68; they stay in ``face_raw``.
"""

from __future__ import annotations

import numpy as np

MP_TO_68: tuple[int, ...] = (
    # jaw 0-16
    162,
    234,
    93,
    58,
    172,
    136,
    149,
    148,
    152,
    377,
    378,
    365,
    397,
    288,
    323,
    454,
    389,
    # right brow 17-21, left brow 22-26
    70,
    63,
    105,
    66,
    107,
    336,
    296,
    334,
    293,
    300,
    # nose bridge 27-30, nostrils 31-35
    168,
    197,
    5,
    4,
    75,
    97,
    2,
    326,
    305,
    # right eye 36-41, left eye 42-47
    33,
    160,
    158,
    133,
    153,
    144,
    362,
    385,
    387,
    263,
    373,
    380,
    # outer lips 48-59
    61,
    39,
    37,
    0,
    267,
    269,
    291,
    405,
    314,
    17,
    84,
    181,
    # inner lips 60-67
    78,
    82,
    13,
    312,
    308,
    317,
    14,
    87,
)
MP_TO_68_INDEX = np.asarray(MP_TO_68, dtype=np.int64)
N_MESH = 478

# iBUG mirror permutation: point i of a face equals point MIRROR_68[i] of its horizontal mirror image.
MIRROR_68: tuple[int, ...] = (
    tuple(range(16, -1, -1))
    + tuple(range(26, 21, -1))
    + tuple(range(21, 16, -1))
    + (27, 28, 29, 30)
    + (35, 34, 33, 32, 31)
    + (45, 44, 43, 42, 47, 46)
    + (39, 38, 37, 36, 41, 40)
    + (54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55)
    + (64, 63, 62, 61, 60, 67, 66, 65)
)


def mesh_to_68(face_raw: np.ndarray, present: bool | np.ndarray = True) -> np.ndarray:
    """Map Face Mesh points ``(..., 478, 3)`` ``[x, y, z]`` (pixels) to ``(..., 68, 3)`` ``[x, y, conf]``.

    Face Mesh gives no per-point confidence, so ``conf`` is 1 where a face was found (``present``) and 0
    elsewhere, and missing faces get all-zero points.
    """
    face_raw = np.asarray(face_raw, np.float32)
    if face_raw.shape[-2] < N_MESH - 10:
        raise ValueError(f"expected (..., 478, 3) Face Mesh points, got {face_raw.shape}")
    out = np.empty(face_raw.shape[:-2] + (68, 3), np.float32)
    out[..., :2] = face_raw[..., MP_TO_68_INDEX, :2]
    pres = np.asarray(present, bool)
    out[..., 2] = pres[..., None] if pres.ndim else float(pres)
    out *= out[..., 2:3] > 0
    return out


__all__ = ["MP_TO_68", "MP_TO_68_INDEX", "MIRROR_68", "mesh_to_68"]
