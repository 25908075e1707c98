"""FID (Heusel et al. 2017): the Fréchet distance between Gaussians fitted to deep features of the real and the
generated frames, and the clearly named offline variant ``fid_effnet``.

    FID = ||mu_r − mu_g||² + Tr(S_r + S_g − 2 (S_r S_g)^{1/2})                       (Heusel et al., eq. 6)

Tr((S_r S_g)^{1/2}) is computed from the symmetric PSD matrix S_r^{1/2} S_g S_r^{1/2}, which has the same
eigenvalues as S_r S_g: Tr = sum sqrt(eig(S_r^{1/2} S_g S_r^{1/2})) with ``eigh`` (float64), which is exact
for PSD matrices and does not produce the complex round-off of a general ``sqrtm``; the test suite checks it
against the direct ``scipy.linalg.sqrtm(S_r @ S_g)`` formula of pytorch-fid on random features.

**fid** uses the 2048-d pool3 features of Inception-v3 loaded *only* from a user-given weights file with the
torchvision / pytorch-fid key layout (``Conv2d_1a_3x3.conv.weight``, ``Mixed_5b.branch1x1.bn.running_mean``,
...). A file whose ``fc.weight`` has 1008 rows is pytorch-fid's port of the TF FID network
(``pt_inception-2015-12-05-6726825d.pth``) and runs with its FID-specific blocks (average pools that exclude
padding, max pool in the last block's pool branch), as pytorch-fid does; a 1000-class torchvision file runs the
stock blocks. Frames are resized to 299x299 (bilinear) and scaled to [-1, 1], as pytorch-fid does.

**fid_effnet** (no Inception file): the same distance on the 1280-d global-average-pooled head features of the
offline EfficientNet-Lite0 (frames resized to 224x224). Not comparable with published FID numbers.

With one video the sample count (frames) is usually below the feature dimension, so the covariances are
rank-deficient; the distance is still well defined, but it is biased upwards for small N — compare FIDs only
at equal frame counts. The report records N.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..io.weights import load_matching_state, load_state_dict_file, optional_weights_file

logger = logging.getLogger(__name__)

#: how to read each variant (the evaluation report shows it beside the value, with the blurred-copy reference)
READING = {
    "fid": (
        "Frechet distance between the Inception-v3 features of all generated frames and of all real frames "
        "(Heusel et al. 2017): 0 = the same distribution, lower is better. It compares the two sets of frames, "
        "not each frame with its match: real-looking frames in the wrong pose can score well. With one video "
        "the frame count is below the 2048 features, which biases it upwards: compare FIDs only at equal frame "
        "counts, e.g. with the reference beside it (the ground truth blurred, Gaussian sigma 2, against the "
        "ground truth: same frames, this run)"
    ),
    "fid_effnet": (
        "NOT FID: the same distance on EfficientNet-Lite0's pooled features, on a scale of its own (not "
        "comparable with published FID). 0 = the same distribution, lower is better. It compares the two "
        "sets of frames, not each frame with its match: real-looking frames in the wrong pose can score "
        "well. Biased upwards when the frames are fewer than its 1280 features: compare it only at equal "
        "frame counts, e.g. with the reference beside it (the ground truth blurred, Gaussian sigma 2, "
        "against the ground truth: same frames, this run)"
    ),
}

__all__ = [
    "READING",
    "frechet_distance",
    "FeatureStats",
    "InceptionV3Pool",
    "EffNetPool",
    "load_fid_extractor",
]


# ----------------------------------------------------------------------------------------------- distance
def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance of N(mu1, sigma1) and N(mu2, sigma2); ``mu (D,)``, ``sigma (D, D)`` PSD. >= 0."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"mismatched Gaussian statistics: {mu1.shape}, {s1.shape}, {mu2.shape}, {s2.shape}")
    s1 = 0.5 * (s1 + s1.T)
    s2 = 0.5 * (s2 + s2.T)
    r1 = _psd_sqrt(s1)
    m = r1 @ s2 @ r1
    eig = np.linalg.eigvalsh(0.5 * (m + m.T))
    tr_covmean = float(np.sum(np.sqrt(np.clip(eig, 0.0, None))))
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean, 0.0))


class FeatureStats:
    """Streaming mean and covariance of feature vectors (float64 running sums).

    While fewer vectors than dimensions have been seen (one video: N frames < D = 1280 or 2048), the vectors
    themselves are kept too (N x D float32), and :meth:`distance` takes an exact shortcut: with centred
    features A_1 (n_1 x D), A_2 (n_2 x D), S_i = A_iᵀA_i / (n_i − 1), the non-zero eigenvalues of S_1 S_2 are
    those of (A_1 A_2ᵀ)(A_1 A_2ᵀ)ᵀ / ((n_1−1)(n_2−1)), so Tr((S_1 S_2)^{1/2}) is the nuclear norm (sum of
    singular values) of the small n_1 x n_2 cross-Gram matrix — no D x D eigen-decomposition.
    """

    def __init__(self, dim: int):
        self.dim = dim
        self.n = 0
        self.sum = np.zeros(dim, np.float64)
        self.outer: np.ndarray | None = None  # sum of outer products, once more than `dim` vectors were seen
        self._rows: list[np.ndarray] | None = []

    def update(self, feats: np.ndarray | torch.Tensor) -> None:
        """Add ``(B, D)`` features."""
        if isinstance(feats, torch.Tensor):
            feats = feats.detach().cpu().double().numpy()
        f = np.asarray(feats, np.float64).reshape(-1, self.dim)
        self.n += f.shape[0]
        self.sum += f.sum(axis=0)
        if self._rows is None:
            self.outer += f.T @ f
            return
        self._rows.append(f)
        if self.n > self.dim:  # enough samples: switch to D x D sums (bounded memory)
            rows = np.concatenate(self._rows)
            self.outer = rows.T @ rows
            self._rows = None

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """``(mu (D,), sigma (D, D))`` with the unbiased (N−1) covariance, as numpy ``np.cov`` gives."""
        if self.n < 2:
            raise ValueError("FID needs at least 2 frames")
        mu = self.sum / self.n
        outer = self.outer
        if outer is None:
            rows = np.concatenate(self._rows)
            outer = rows.T @ rows
        cov = (outer - self.n * np.outer(mu, mu)) / (self.n - 1)
        return mu, cov

    def distance(self, other: FeatureStats) -> float:
        """Fréchet distance between the two feature sets (eq. 6)."""
        if self.n < 2 or other.n < 2:
            raise ValueError("FID needs at least 2 frames")
        if self._rows is None or other._rows is None:
            m1, s1 = self.mean_cov()
            m2, s2 = other.mean_cov()
            return frechet_distance(m1, s1, m2, s2)
        a = np.concatenate(self._rows)
        b = np.concatenate(other._rows)
        m1, m2 = a.mean(0), b.mean(0)
        a = a - m1
        b = b - m2
        c1, c2 = self.n - 1, other.n - 1
        tr1, tr2 = float(np.sum(a * a)) / c1, float(np.sum(b * b)) / c2
        tr_covmean = float(np.linalg.svd(a @ b.T, compute_uv=False).sum()) / np.sqrt(c1 * c2)
        diff = m1 - m2
        return float(max(diff @ diff + tr1 + tr2 - 2.0 * tr_covmean, 0.0))


# ----------------------------------------------------------------------------------------------- Inception-v3
class BasicConv2d(nn.Module):
    """conv (no bias) + BatchNorm(eps=1e-3) + ReLU, keys ``conv.weight``, ``bn.*`` as torchvision."""

    def __init__(self, cin: int, cout: int, **kw):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool(x: torch.Tensor, fid: bool) -> torch.Tensor:
    # pytorch-fid's FID blocks exclude the zero padding from the average (as the TF graph does)
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=not fid)


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int, fid: bool):
        super().__init__()
        self.fid = fid
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_avg_pool(x, self.fid))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([b3, bd, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin: int, c7: int, fid: bool):
        super().__init__()
        self.fid = fid
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for i in range(1, 6):
            bd = getattr(self, f"branch7x7dbl_{i}")(bd)
        bp = self.branch_pool(_avg_pool(x, self.fid))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = x
        for i in range(1, 5):
            b7 = getattr(self, f"branch7x7x3_{i}")(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """``pool``: "avg" (torchvision), "avg_fid" (pytorch-fid Mixed_7b) or "max" (pytorch-fid Mixed_7c)."""

    def __init__(self, cin: int, pool: str):
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        if self.pool == "max":
            p = F.max_pool2d(x, 3, stride=1, padding=1)
        else:
            p = _avg_pool(x, self.pool == "avg_fid")
        return torch.cat([b1, b3, bd, self.branch_pool(p)], 1)


class InceptionV3Pool(nn.Module):
    """Inception-v3 up to the 2048-d global average pool (torchvision ``Inception3`` key layout, no AuxLogits).

    ``forward(x (B, 3, H, W) in [-1, 1]) -> (B, 2048)``; frames are resized to 299x299 inside.
    ``fid=True`` builds pytorch-fid's FID blocks (see module doc).
    """

    name = "fid"
    dim = 2048

    def __init__(self, fid: bool = True):
        super().__init__()
        self.fid_blocks = fid
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, 32, fid)
        self.Mixed_5c = InceptionA(256, 64, fid)
        self.Mixed_5d = InceptionA(288, 64, fid)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128, fid)
        self.Mixed_6c = InceptionC(768, 160, fid)
        self.Mixed_6d = InceptionC(768, 160, fid)
        self.Mixed_6e = InceptionC(768, 192, fid)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, "avg_fid" if fid else "avg")
        self.Mixed_7c = InceptionE(2048, "max" if fid else "avg")
        self.backbone = "inception_v3 (random init)"
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in (
            "Mixed_5b",
            "Mixed_5c",
            "Mixed_5d",
            "Mixed_6a",
            "Mixed_6b",
            "Mixed_6c",
            "Mixed_6d",
            "Mixed_6e",
            "Mixed_7a",
            "Mixed_7b",
            "Mixed_7c",
        ):
            x = getattr(self, name)(x)
        return x.mean(dim=(2, 3))

    @classmethod
    def from_file(cls, path: str | Path) -> InceptionV3Pool:
        """Load torchvision / pytorch-fid Inception-v3 weights (``.pth`` weights-only or ``.safetensors``)."""
        path = Path(path)
        fix = (
            "give pytorch-fid's pt_inception-2015-12-05-6726825d.pth or torchvision's "
            "inception_v3_google-0cc3c7bd.pth state dict (or a safetensors export)"
        )
        state = load_state_dict_file(path, "Inception-v3", fix)
        fc = state.get("fc.weight")
        fid = fc is None or fc.shape[0] == 1008
        net = cls(fid=fid)
        # files converted from TF (pytorch-fid's) may lack the BN step counters; they are unused
        counters = {k: v for k, v in net.state_dict().items() if k.endswith("num_batches_tracked")}
        load_matching_state(net, {**counters, **state}, path, "Inception-v3", fix)
        net.backbone = (
            f"inception_v3 pool3 2048-d ({path}; "
            f"{'pytorch-fid FID blocks' if fid else 'torchvision blocks'}), 299x299 bilinear"
        )
        for p in net.parameters():
            p.requires_grad_(False)
        return net.eval()


class EffNetPool(nn.Module):
    """``fid_effnet`` features: EfficientNet-Lite0 head, global-average-pooled, ``(B,3,H,W) [-1,1] -> (B,1280)``
    at 224x224."""

    name = "fid_effnet"
    dim = 1280

    def __init__(self, device: torch.device | str = "cpu"):
        super().__init__()
        from .lpips import shared_effnet

        self.net = shared_effnet(device)
        self.backbone = f"{self.net.description}; pooled 1280-d head features, 224x224 bilinear"

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)
        return self.net.pooled(x.contiguous(memory_format=torch.channels_last))


def load_fid_extractor(
    weights: str | Path | None = None, device: torch.device | str = "cpu", verbose: bool = True
) -> InceptionV3Pool | EffNetPool:
    """Inception-v3 pool features from ``weights``; without a file, ``fid_effnet`` with a logged notice."""
    path = optional_weights_file(
        weights,
        "fid",
        "--inception-weights",
        "FID needs Inception-v3 weights (never downloaded). Reporting the variant "
        "`fid_effnet` instead (EfficientNet-Lite0 pooled features) — it is NOT comparable "
        "with published FID numbers.",
        verbose,
    )
    if path is None:
        return EffNetPool(device).to(device)
    net = InceptionV3Pool.from_file(path).to(device)
    if verbose:
        logger.info(f"[fid] {net.backbone}")
    return net
