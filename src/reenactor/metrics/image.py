"""Per-frame pixel metrics: SSIM, PSNR and their person-masked variants (mask-SSIM, mask-PSNR).

All functions take RGB frames ``(H, W, 3)`` as uint8 in [0, 255] (or floats on the same 0..255 scale) and
return a Python float.

* **SSIM** (Wang et al. 2004, eq. 13 of their paper): our own implementation on OpenCV box/Gaussian filters
  in float64, computed exactly as scikit-image's ``structural_similarity(a, b, channel_axis=-1,
  data_range=255)`` does, so the numbers agree to 1e-4 (checked in ``tests/test_metrics.py``):
  per channel, local means/variances/covariance over a 7x7 uniform window with the sample-covariance
  correction N/(N-1), K1 = 0.01, K2 = 0.03, L = 255; the SSIM map is averaged after cropping
  ``(win-1)/2`` pixels at each border, then the channel means are averaged. ``gaussian=True`` gives the
  original paper's setting instead (11-tap Gaussian window, sigma 1.5, population covariance), equal to
  scikit-image's ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``.
* **PSNR** = 10 log10(255² / MSE), MSE over all pixels and channels; ``inf`` for identical frames.
* **mask-SSIM / mask-PSNR** (REMOT Table 2, following Ma et al. 2017 "PG2", as C2F-FWN and REMOT use it):
  the background of *both* frames is set to 0 by the person mask (from the clip store's ``mask`` array,
  binarised at 128), then the ordinary SSIM / PSNR of the whole frame is taken.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

K1 = 0.01
K2 = 0.03
DATA_RANGE = 255.0
UNIFORM_WIN = 7
GAUSS_SIGMA = 1.5
GAUSS_WIN = 2 * int(3.5 * GAUSS_SIGMA + 0.5) + 1  # 11 taps, as scikit-image (truncate=3.5)

__all__ = [
    "ssim",
    "ssim_map",
    "psnr",
    "mse",
    "apply_mask",
    "binarize_mask",
    "masked_ssim",
    "masked_psnr",
    "ssim_settings",
]


def _as_float(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3:
        raise ValueError(f"expected an (H, W, C) or (H, W) image, got shape {img.shape}")
    return img.astype(np.float64, copy=False)


def _filter(x: np.ndarray, gaussian: bool) -> np.ndarray:
    """Local (weighted) mean of each channel of ``x`` (H, W, C) float64, reflect border."""
    if gaussian:
        out = cv2.GaussianBlur(
            x, (GAUSS_WIN, GAUSS_WIN), GAUSS_SIGMA, GAUSS_SIGMA, borderType=cv2.BORDER_REFLECT
        )
    else:
        out = cv2.boxFilter(
            x, cv2.CV_64F, (UNIFORM_WIN, UNIFORM_WIN), normalize=True, borderType=cv2.BORDER_REFLECT
        )
    return out.reshape(x.shape)  # OpenCV drops a trailing channel axis of size 1


def ssim_map(
    a: np.ndarray, b: np.ndarray, gaussian: bool = False, data_range: float = DATA_RANGE
) -> np.ndarray:
    """The SSIM map ``(H, W, C)`` float64 (uncropped) of two images of the same shape.

    SSIM(x, y) = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x² + mu_y² + C1)(sigma_x² + sigma_y² + C2)),
    C1 = (K1 L)², C2 = (K2 L)² (Wang et al. 2004, eq. 13).
    """
    x, y = _as_float(a), _as_float(b)
    if x.shape != y.shape:
        raise ValueError(f"SSIM needs images of the same shape, got {x.shape} and {y.shape}")
    win = GAUSS_WIN if gaussian else UNIFORM_WIN
    if min(x.shape[:2]) < win:
        raise ValueError(f"SSIM needs images of at least {win}x{win} pixels, got {x.shape[1]}x{x.shape[0]}")
    n = win * win
    cov_norm = 1.0 if gaussian else n / (n - 1.0)
    ux, uy = _filter(x, gaussian), _filter(y, gaussian)
    uxx, uyy, uxy = _filter(x * x, gaussian), _filter(y * y, gaussian), _filter(x * y, gaussian)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    num = (2.0 * ux * uy + c1) * (2.0 * vxy + c2)
    den = (ux * ux + uy * uy + c1) * (vx + vy + c2)
    return num / den


def ssim(a: np.ndarray, b: np.ndarray, gaussian: bool = False, data_range: float = DATA_RANGE) -> float:
    """Mean SSIM of two RGB frames ``(H, W, 3)`` in [0, 255]; 1.0 for identical frames, higher is better."""
    m = ssim_map(a, b, gaussian, data_range)
    pad = ((GAUSS_WIN if gaussian else UNIFORM_WIN) - 1) // 2
    cropped = m[pad : m.shape[0] - pad, pad : m.shape[1] - pad]
    return float(cropped.reshape(-1, m.shape[2]).mean(axis=0).mean())


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error over all pixels and channels (0..255 scale)."""
    x, y = _as_float(a), _as_float(b)
    if x.shape != y.shape:
        raise ValueError(f"PSNR needs images of the same shape, got {x.shape} and {y.shape}")
    return float(np.mean((x - y) ** 2))


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """PSNR in dB = 10 log10(L² / MSE); ``math.inf`` when the frames are identical. Higher is better."""
    err = mse(a, b)
    if err == 0.0:
        return math.inf
    return float(10.0 * math.log10(data_range * data_range / err))


def binarize_mask(mask: np.ndarray, threshold: int = 128) -> np.ndarray:
    """A person mask ``(H, W)`` uint8 0..255 (or bool / float 0..1) -> bool ``(H, W)``."""
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask[..., 0]
    if mask.dtype == bool:
        return mask
    if np.issubdtype(mask.dtype, np.floating) and mask.max(initial=0) <= 1.0:
        return mask >= 0.5
    return mask >= threshold


def apply_mask(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Zero the background of ``img`` (H, W, 3) where the binary person ``mask`` (H, W) is False."""
    m = binarize_mask(mask)
    if m.shape != img.shape[:2]:
        raise ValueError(f"mask {m.shape} does not match the frame {img.shape[:2]}")
    return img * m[..., None].astype(img.dtype)


def masked_ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray, gaussian: bool = False) -> float:
    """mask-SSIM: SSIM of the two frames with the background zeroed in both by ``mask`` (H, W)."""
    return ssim(apply_mask(a, mask), apply_mask(b, mask), gaussian)


def masked_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """mask-PSNR: PSNR of the two frames with the background zeroed in both by ``mask`` (H, W)."""
    return psnr(apply_mask(a, mask), apply_mask(b, mask))


def ssim_settings(gaussian: bool = False) -> dict:
    """The SSIM settings, recorded in the report so numbers can be compared with other tools."""
    if gaussian:
        return {
            "window": f"gaussian {GAUSS_WIN}x{GAUSS_WIN}, sigma {GAUSS_SIGMA}",
            "covariance": "population",
            "K1": K1,
            "K2": K2,
            "data_range": DATA_RANGE,
            "equivalent": "skimage structural_similarity(gaussian_weights=True, sigma=1.5, "
            "use_sample_covariance=False, channel_axis=-1, data_range=255)",
        }
    return {
        "window": f"uniform {UNIFORM_WIN}x{UNIFORM_WIN}",
        "covariance": "sample (N/(N-1))",
        "K1": K1,
        "K2": K2,
        "data_range": DATA_RANGE,
        "equivalent": "skimage structural_similarity(channel_axis=-1, data_range=255) (defaults)",
    }
