"""TCM, the temporal consistency metric of REMOT (Yang et al. 2022, Tables 1–4) and C2F-FWN, after
Yao et al., "Occlusion-aware Video Temporal Consistency", ACM MM 2017.

**Working definition** (shared/papers/README.md; the original text could not be consulted, so this is the
project's documented reading of it, not a verified transcription). For every t >= 1 (0-based):

    TCM_t = exp( − ||O_t − W(O_{t−1}, F_t)||² / ||G_t − W(G_{t−1}, F_t)||² )
    TCM   = mean_t TCM_t                                             in (0, 1], higher is better

O is the generated video, G the ground truth, ||·||² the sum of squared differences over all pixels and RGB
channels (0..255 scale), W backward warping (bilinear, border replicated) and F_t the optical flow estimated on
the **ground truth** from frame t to frame t−1 with OpenCV DIS (preset "medium",
:func:`reenactor.data.flow.dis_flow` on grey frames), so that ``W(X_{t−1}, F_t)[y, x] =
X_{t−1}[y + v, x + u]`` aligns frame t−1 onto frame t.

Reference points of this definition, which the tests check:

* a generated video identical to the ground truth scores exactly exp(−1) ≈ 0.368 (the ratio is 1 for every
  t) — the ground truth's own score; REMOT reports 0.79, i.e. outputs *smoother* than the ground truth along
  its flow score above it;
* the maximum 1 is reached by any output that is exactly consistent with the ground-truth flow
  (O_t = W(O_{t−1}, F_t)), e.g. a constant video — so TCM must be read together with SSIM/PSNR/LPIPS;
* flicker (independent noise per frame) or jitter (frames shifted at random) lowers it.

**How to read it** (:data:`READING`): it is *not* "higher is better". The ground truth scores exp(−1) ≈ 0.368
against itself; an output scoring below that changes more along the real motion than the real video does
(flicker, jitter); above it, less (smoother — which includes blurred or frozen output: the ground truth blurred
with a Gaussian of sigma 2 scores 0.888 on the carphone sample at 176x144, a constant video 1). The report puts
the ground truth's own score and its blurred copy's score, computed with the same flow in the same run
(:meth:`TCMAccumulator.update`'s ``also``), beside the value.

A still ground truth (zero warping error) would divide by zero: both norms get ``EPS`` added
(``(num + EPS) / (den + EPS)``), so identical still videos still give exp(−1).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..data.flow import dis_flow

EPS = 1e-6
FLOW_ESTIMATOR = "OpenCV DIS (preset medium) on the ground truth, flow t -> t-1, backward bilinear warping"
#: the ground truth's own score (the ratio is 1 at every t)
GROUND_TRUTH_VALUE = math.exp(-1)
READING = (
    "not higher-is-better: the ground truth itself scores exp(-1) = 0.368. Below that, the output changes "
    "more along the real motion than the real video does (flicker, jitter); above it, less (smoother, but "
    "also blurred or frozen output: a constant video scores 1, the ground truth blurred scores higher than "
    "the ground truth). Read it with SSIM/LPIPS: a good result is close to 0.368 or somewhat above while "
    "they stay good"
)
DEFINITION = (
    "TCM_t = exp(-||O_t - W(O_{t-1},F_t)||^2 / ||G_t - W(G_{t-1},F_t)||^2), mean over t>=1 "
    "(Yao et al. 2017 as used by C2F-FWN/REMOT; project working definition)"
)

__all__ = [
    "warp_backward",
    "tcm_frame",
    "TCMAccumulator",
    "tcm",
    "FLOW_ESTIMATOR",
    "DEFINITION",
    "READING",
    "GROUND_TRUTH_VALUE",
]


def warp_backward(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """W(img, flow): ``out[y, x] = img[y + v, x + u]`` (bilinear, replicated border).

    img: (H, W, C) any dtype; flow: (H, W, 2) float32 ``[u, v]`` pixels. Returns float32 (H, W, C).
    """
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx = gx + flow[..., 0]
    my = gy + flow[..., 1]
    out = cv2.remap(
        img.astype(np.float32), mx, my, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return out.reshape(img.shape).astype(np.float32, copy=False)


def tcm_frame(
    pred_prev: np.ndarray,
    pred: np.ndarray,
    gt_prev: np.ndarray,
    gt: np.ndarray,
    flow: np.ndarray | None = None,
) -> float:
    """TCM_t for one pair of consecutive frames (each (H, W, 3) uint8). ``flow`` (t -> t−1 on the ground truth)
    is estimated with DIS when not given."""
    if flow is None:
        flow = dis_flow(gt, gt_prev)
    num = float(np.sum((pred.astype(np.float32) - warp_backward(pred_prev, flow)) ** 2, dtype=np.float64))
    den = float(np.sum((gt.astype(np.float32) - warp_backward(gt_prev, flow)) ** 2, dtype=np.float64))
    return math.exp(-(num + EPS) / (den + EPS))


class TCMAccumulator:
    """Streaming TCM: feed frame pairs in order with :meth:`update`; frame 0 gets ``nan`` (no predecessor).

    ``n_also``: other sequences scored against the same ground truth with the same flow (one DIS flow per
    frame for all), e.g. the ground truth blurred as a reference; :meth:`also_results` gives their means."""

    def __init__(self, n_also: int = 0) -> None:
        self.prev: tuple[np.ndarray, np.ndarray] | None = None
        self.prev_also: list[np.ndarray] = []
        self.values: list[float] = []
        self.also_values: list[list[float]] = [[] for _ in range(n_also)]

    def update(self, pred: np.ndarray, gt: np.ndarray, also: list[np.ndarray] | tuple = ()) -> float:
        """Add frame t (and frame t of each ``also`` sequence); returns TCM_t (``nan`` for the first frame)."""
        if len(also) != len(self.also_values):
            raise ValueError(f"expected {len(self.also_values)} extra frames, got {len(also)}")
        if self.prev is None:
            value = math.nan
        else:
            flow = dis_flow(gt, self.prev[1])
            value = tcm_frame(self.prev[0], pred, self.prev[1], gt, flow)
            self.values.append(value)
            for acc, prev, cur in zip(self.also_values, self.prev_also, also):
                acc.append(tcm_frame(prev, cur, self.prev[1], gt, flow))
        self.prev = (pred, gt)
        self.prev_also = list(also)
        return value

    def result(self) -> float:
        """Mean TCM over t >= 1; ``nan`` for a one-frame video."""
        return float(np.mean(self.values)) if self.values else math.nan

    def also_results(self) -> list[float]:
        """Mean TCM of each ``also`` sequence (``nan`` for a one-frame video)."""
        return [float(np.mean(v)) if v else math.nan for v in self.also_values]


def tcm(pred_frames, gt_frames) -> float:
    """TCM of two equally long frame sequences (iterables of (H, W, 3) uint8)."""
    acc = TCMAccumulator()
    for p, g in zip(pred_frames, gt_frames):
        acc.update(p, g)
    return acc.result()
