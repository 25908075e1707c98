"""Expression transfer: does a generated face show the driver's expression and head pose?

The face mesh of every generated frame is re-extracted (MediaPipe Holistic, tracking mode) and turned into
FAUP (:mod:`reenactor.face.faup`: 17 action-unit intensities and yaw, pitch, roll) against the *target's*
neutral reference, since the generated face is the target's. It is compared with the FAUP the face was driven
by (the driver's, measured against the driver's own neutral, after any clamping the method did):

* ``au_mae``: mean absolute difference of the action-unit intensities (0..3 scale) over frames with a face;
* ``pose_mae_deg``: mean absolute difference of yaw, pitch and roll, degrees;
* ``au_corr``: per action unit, Pearson's r over time between generated and driving intensities, averaged
  over the units that move in the driving sequence (std > 0.05); needs >= 3 frames, else NaN;
* ``face_detected``: share of generated frames where a face mesh was found (frames without one are left
  out of the errors above).

A reference error tells whether a number is good: :func:`expression_errors` on a *constant* FAUP (e.g. the
target's median training FAUP, "a face that ignores the driver") gives the error a face control that does
nothing would get; a working transfer scores below it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..face.faup import AU_NAMES, N_AU, face_measures, faup_from_measures, has_face

__all__ = ["measure_faces", "faup_of_frames", "expression_errors", "MOVING_STD"]

#: an action unit counts as moving in a driving sequence when its intensity's std exceeds this
MOVING_STD = 0.05


def measure_faces(frames: Iterable[np.ndarray], extractor=None) -> dict[str, np.ndarray]:
    """Face measures of frames (tracking mode, one graph). Returns ``{"measures": (T, 15), "pose": (T, 3),
    "valid": (T,) bool}`` (zeros where no face was found)."""
    from ..pose.holistic import HolisticExtractor, quiet_native_stderr

    own = extractor is None
    if own:
        with quiet_native_stderr():
            extractor = HolisticExtractor(static_image_mode=False, segmentation=False)
    meas, pose, valid = [], [], []
    try:
        for f in frames:
            with quiet_native_stderr():
                face_raw = np.asarray(extractor.process(np.ascontiguousarray(f))["face_raw"], np.float32)
            ok = bool(has_face(face_raw))
            m, p = face_measures(face_raw) if ok else (np.zeros(15, np.float32), np.zeros(3, np.float32))
            meas.append(m)
            pose.append(p)
            valid.append(ok)
    finally:
        if own:
            extractor.close()
    if not valid:
        return {
            "measures": np.zeros((0, 15), np.float32),
            "pose": np.zeros((0, 3), np.float32),
            "valid": np.zeros(0, bool),
        }
    return {"measures": np.stack(meas), "pose": np.stack(pose), "valid": np.asarray(valid, bool)}


def faup_of_frames(
    frames: Iterable[np.ndarray], neutral: np.ndarray, extractor=None
) -> tuple[np.ndarray, np.ndarray]:
    """``(faup (T, 20), valid (T,))`` of frames measured against ``neutral`` (the face's identity reference)."""
    r = measure_faces(frames, extractor)
    return faup_from_measures(r["measures"], r["pose"], neutral), r["valid"]


def expression_errors(
    pred_faup: np.ndarray, ref_faup: np.ndarray, valid: np.ndarray | None = None
) -> dict[str, float]:
    """Errors of ``pred_faup`` (T, 20) or (20,) (broadcast) against ``ref_faup`` (T, 20) over ``valid`` frames
    (see the module docstring). Returns au_mae, pose_mae_deg, au_corr, face_detected, n_frames, per_au_mae."""
    ref = np.asarray(ref_faup, np.float64)
    pred = np.broadcast_to(np.asarray(pred_faup, np.float64), ref.shape)
    T = ref.shape[0]
    valid = np.ones(T, bool) if valid is None else np.asarray(valid, bool)
    out: dict[str, float | dict] = {
        "face_detected": float(valid.mean()) if T else float("nan"),
        "n_frames": T,
    }
    if not valid.any():
        return out | {
            "au_mae": float("nan"),
            "pose_mae_deg": float("nan"),
            "au_corr": float("nan"),
            "per_au_mae": {},
        }
    p, r = pred[valid], ref[valid]
    d_au = np.abs(p[:, :N_AU] - r[:, :N_AU])
    out["au_mae"] = float(d_au.mean())
    out["per_au_mae"] = {n: float(v) for n, v in zip(AU_NAMES, d_au.mean(0))}
    out["pose_mae_deg"] = float(np.degrees(np.abs(p[:, N_AU:] - r[:, N_AU:])).mean())
    corr = []
    if len(r) >= 3:
        for k in range(N_AU):
            if r[:, k].std() > MOVING_STD and p[:, k].std() > 1e-9:
                corr.append(float(np.corrcoef(p[:, k], r[:, k])[0, 1]))
            elif r[:, k].std() > MOVING_STD:
                corr.append(0.0)  # the unit moves in the driver but not at all in the output
    out["au_corr"] = float(np.mean(corr)) if corr else float("nan")
    return out
