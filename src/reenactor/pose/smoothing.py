"""Temporal keypoint smoothing: One-Euro filter and Savitzky-Golay, over ``(T, K, 3)`` ``[x, y, conf]``.

Only x, y are filtered; confidence is kept. Each joint is filtered over its runs of consecutive frames with
``conf > 0`` separately, so a missing stretch never drags a joint towards (0, 0). The unsmoothed arrays are
kept by the caller (extraction saves them as ``<name>_unsmoothed``).

* One-Euro (Casiez, Roussel, Vogel, CHI 2012): an adaptive low-pass filter,
  ``alpha(fc) = 1 / (1 + tau / Te)``, ``tau = 1 / (2 pi fc)``, ``fc = min_cutoff + beta * |dx_hat|`` (eqs. 1-4
  of the paper): slow motion is smoothed strongly (removes jitter), fast motion passes with little lag. It
  is causal, so it also suits live use.
* Savitzky-Golay: a centred least-squares polynomial fit in a sliding window (``scipy.signal.savgol_filter``):
  no lag, good for offline clips.
"""

from __future__ import annotations

import math

import numpy as np

METHODS = ("none", "one_euro", "savgol")


def _runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` runs of True in a 1-D bool array."""
    v = np.concatenate([[False], valid.astype(bool), [False]])
    d = np.diff(v.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def one_euro(
    kp: np.ndarray, fps: float, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0
) -> np.ndarray:
    """One-Euro filter along time of ``(T, K, 3)`` keypoints; returns a new float32 array.

    ``min_cutoff`` (Hz) sets smoothing at rest, ``beta`` (1/pixel) how fast the cutoff rises with speed
    (speed in pixels/s), ``d_cutoff`` (Hz) the cutoff of the speed estimate.
    """
    kp = np.asarray(kp, np.float32)
    out = kp.copy()
    te = 1.0 / float(fps)

    def alpha(fc):
        tau = 1.0 / (2 * math.pi * fc)
        return 1.0 / (1.0 + tau / te)

    a_d = alpha(d_cutoff)
    for k in range(kp.shape[1]):
        for s, e in _runs(kp[:, k, 2] > 0):
            x_prev = kp[s, k, :2].astype(np.float64)
            dx_prev = np.zeros(2)
            for t in range(s + 1, e):
                x = kp[t, k, :2].astype(np.float64)
                dx = (x - x_prev) / te
                dx_hat = a_d * dx + (1 - a_d) * dx_prev
                fc = min_cutoff + beta * np.abs(dx_hat)
                a = 1.0 / (1.0 + (1.0 / (2 * math.pi * fc)) / te)
                x_hat = a * x + (1 - a) * x_prev
                out[t, k, :2] = x_hat
                x_prev, dx_prev = x_hat, dx_hat
    return out


def savgol(kp: np.ndarray, window: int = 7, polyorder: int = 2) -> np.ndarray:
    """Savitzky-Golay filter along time of ``(T, K, 3)`` keypoints; runs shorter than ``window`` are kept."""
    from scipy.signal import savgol_filter

    if window % 2 == 0 or window <= polyorder:
        raise ValueError(f"savgol window must be odd and > polyorder, got {window}, {polyorder}")
    kp = np.asarray(kp, np.float32)
    out = kp.copy()
    for k in range(kp.shape[1]):
        for s, e in _runs(kp[:, k, 2] > 0):
            if e - s >= window:
                out[s:e, k, :2] = savgol_filter(kp[s:e, k, :2].astype(np.float64), window, polyorder, axis=0)
    return out


def smooth(kp: np.ndarray, method: str, fps: float = 25.0, **opts) -> np.ndarray:
    """Dispatch on ``method`` in :data:`METHODS`."""
    if method == "none":
        return np.asarray(kp, np.float32).copy()
    if method == "one_euro":
        return one_euro(kp, fps, **opts)
    if method == "savgol":
        return savgol(kp, **opts)
    raise ValueError(f"unknown smoothing {method!r}; choose one of {', '.join(METHODS)}")


__all__ = ["METHODS", "one_euro", "savgol", "smooth"]
