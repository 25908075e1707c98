"""LPIPS (Zhang et al. 2018, "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric"), and a
clearly named offline variant ``lpips_effnet``.

**LPIPS** exactly as Zhang et al. define it (their eq. 1, v0.1 of the released code):

    d(x, x0) = sum_l 1/(H_l W_l) sum_{h,w} || w_l ⊙ (ŷ^l_hw − ŷ0^l_hw) ||²

where ŷ^l are the backbone's activations at layer l, unit-normalised over channels, and w_l the learned
per-channel weights ("lin" layers). The lin layers are the ones shipped inside the installed ``lpips`` pip
package (``lpips/weights/v0.1/{alex,vgg}.pth``), found with ``importlib.util.find_spec`` and loaded with
``torch.load(weights_only=True)`` — the ``lpips`` module itself is never imported (it imports torchvision).
Inputs are scaled to [-1, 1], then by the package's ScalingLayer (shift ``[-.030, -.088, -.188]``, scale
``[.458, .448, .450]``). The backbone is AlexNet (relu1..relu5 of ``features``) or VGG16 (relu1_2, relu2_2,
relu3_3, relu4_3, relu5_3), implemented here with torchvision's ``features.N`` key layout and loaded only from
a user-given ImageNet weights file (``alexnet-owt-7be5be79.pth`` / ``vgg16-397923af.pth`` state dicts or a
safetensors export); which of the two is inferred from the file.

**lpips_effnet** (used when no backbone file is given; never reported as "lpips"): the same formula on the
five stage outputs of the offline EfficientNet-Lite0 (``reenactor.nn.backbones``, ImageNet weights shipped in
a pip package) but with *unlearned uniform channel weights* w_l = 1 — Zhang et al.'s "baseline" (``lpips=False``)
form: unit-normalise channels, squared difference summed over channels, spatial mean, summed over the 5
layers. Its scale is not LPIPS's scale; compare it only with itself.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError
from ..io.weights import load_matching_state, load_state_dict_file, optional_weights_file
from ..nn.backbones import load_feature_net, vgg_layers

logger = logging.getLogger(__name__)

#: how to read each variant (the evaluation report shows it beside the value, with the blurred-copy reference)
READING = {
    "lpips": (
        "perceptual distance (Zhang et al. 2018), frame by frame: 0 = the network sees no difference, lower "
        "is better; compare with published LPIPS only for the same backbone and resolution. Beside it: the "
        "ground truth blurred (Gaussian sigma 2) scored against the ground truth in this run, the value of a "
        "plainly blurry copy"
    ),
    "lpips_effnet": (
        "NOT LPIPS: LPIPS's formula on EfficientNet-Lite0 features with unlearned, uniform channel "
        "weights, on a scale of its own (not comparable with published LPIPS). Frame by frame: 0 = the "
        "network sees no difference, lower is better. Read it against the reference beside it, the "
        "ground truth blurred (Gaussian sigma 2) scored against the ground truth in this run: a value "
        "above it is further from the real frames than that blurry copy"
    ),
}

__all__ = [
    "READING",
    "AlexNetFeatures",
    "VGG16Features",
    "LPIPS",
    "LPIPSEffNet",
    "load_lpips",
    "lpips_lin_path",
    "load_lin_layers",
    "normalize_channels",
    "shared_effnet",
]

LPIPS_CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}


def normalize_channels(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Unit-normalise ``(B, C, H, W)`` features over C (Zhang et al.'s ``normalize_tensor``)."""
    return x / (torch.sqrt(torch.sum(x * x, dim=1, keepdim=True)) + eps)


# ----------------------------------------------------------------------------------------------- backbones
class _TappedFeatures(nn.Module):
    """A torchvision ``features`` stack that returns the activations after the layers listed in ``taps``."""

    taps: tuple[int, ...] = ()
    features: nn.Sequential

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:
                out.append(x)
        return out


class AlexNetFeatures(_TappedFeatures):
    """torchvision ``alexnet().features`` (keys ``features.0/3/6/8/10.{weight,bias}``).

    ``forward(x (B,3,H,W), already LPIPS-scaled) -> [relu1 (B,64,·), relu2 (B,192,·), relu3 (B,384,·),
    relu4 (B,256,·), relu5 (B,256,·)]`` — the five taps LPIPS uses (indices 1, 4, 7, 9, 11).
    """

    taps = (1, 4, 7, 9, 11)
    channels = LPIPS_CHANNELS["alex"]

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1),
            nn.ReLU(),
        )


class VGG16Features(_TappedFeatures):
    """torchvision ``vgg16().features`` up to relu5_3 (keys ``features.{0,2,5,...,28}.{weight,bias}``).

    ``forward(x) -> [relu1_2 (B,64,H,W), relu2_2 (B,128,H/2,W/2), relu3_3 (B,256,H/4,W/4),
    relu4_3 (B,512,H/8,W/8), relu5_3 (B,512,H/16,W/16)]`` (indices 3, 8, 15, 22, 29).
    """

    taps = (3, 8, 15, 22, 29)
    channels = LPIPS_CHANNELS["vgg"]
    _cfg = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(*vgg_layers(self._cfg))


def _infer_net(state: dict[str, torch.Tensor], path: Path) -> str:
    w = state.get("features.0.weight")
    if w is None:
        raise CheckpointError(
            "not a torchvision AlexNet/VGG16 state dict (no features.0.weight)",
            path,
            "give torchvision's alexnet-owt-7be5be79.pth or vgg16-397923af.pth (or a "
            "safetensors export of one)",
        )
    if tuple(w.shape) == (64, 3, 11, 11):
        return "alex"
    if tuple(w.shape) == (64, 3, 3, 3):
        return "vgg"
    raise CheckpointError(
        f"features.0.weight has shape {tuple(w.shape)}, neither AlexNet nor VGG16",
        path,
        "give torchvision's alexnet or vgg16 ImageNet weights",
    )


# ----------------------------------------------------------------------------------------------- lin layers
def lpips_lin_path(net: str, version: str = "0.1") -> Path:
    """Path of the learned linear layers shipped in the installed ``lpips`` package (never imported)."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(
            "the `lpips` package (for its learned linear layers) is not installed",
            fix="pip install --no-deps lpips  (only its weight files are used)",
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / f"v{version}" / f"{net}.pth"
    if not path.is_file():
        raise CheckpointError(
            "LPIPS linear-layer weights missing from the lpips package",
            path,
            "pip install --no-deps --force-reinstall lpips",
        )
    return path


def load_lin_layers(net: str, version: str = "0.1") -> list[torch.Tensor]:
    """The 5 learned non-negative channel weights of LPIPS for ``net`` ("alex" | "vgg"): ``(1, C_l, 1, 1)``."""
    path = lpips_lin_path(net, version)
    state = torch.load(path, map_location="cpu", weights_only=True)
    lins = [state[f"lin{i}.model.1.weight"].float() for i in range(5)]
    for w, c in zip(lins, LPIPS_CHANNELS[net]):
        if tuple(w.shape) != (1, c, 1, 1):
            raise CheckpointError(
                f"unexpected LPIPS lin layer shape {tuple(w.shape)} (want (1, {c}, 1, 1))",
                path,
                "reinstall the lpips package",
            )
    return lins


# ----------------------------------------------------------------------------------------------- metrics
class LPIPS(nn.Module):
    """LPIPS distance. ``forward(a, b)``: ``(B, 3, H, W)`` in [-1, 1] each -> ``(B,)`` distances (0 = same).

    ``name`` is ``"lpips"``; ``backbone`` says which backbone and weights ran.
    """

    name = "lpips"

    def __init__(
        self,
        net: str,
        backbone_state: dict[str, torch.Tensor] | None = None,
        weights_path: str | Path | None = None,
        version: str = "0.1",
    ):
        super().__init__()
        if net not in LPIPS_CHANNELS:
            raise ValueError(f"LPIPS backbone must be 'alex' or 'vgg', got {net!r}")
        self.net_name = net
        self.net = AlexNetFeatures() if net == "alex" else VGG16Features()
        fix = (
            "give torchvision's ImageNet "
            + ("alexnet-owt-7be5be79.pth" if net == "alex" else "vgg16-397923af.pth")
            + " state dict (or a safetensors export)"
        )
        if backbone_state is not None:
            load_matching_state(
                self.net,
                backbone_state,
                Path(weights_path or "<state dict>"),
                "AlexNet" if net == "alex" else "VGG16",
                fix,
            )
        for i, w in enumerate(load_lin_layers(net, version)):
            self.register_buffer(f"lin{i}", w)
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        self.backbone = (
            f"{'alexnet' if net == 'alex' else 'vgg16'} ({weights_path or 'given state dict'}) + "
            f"LPIPS v{version} learned linear layers ({lpips_lin_path(net, version)})"
        )
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def lins(self) -> list[torch.Tensor]:
        return [getattr(self, f"lin{i}") for i in range(5)]

    @torch.no_grad()
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        fa = self.net((a - self.shift) / self.scale)
        fb = self.net((b - self.shift) / self.scale)
        total = torch.zeros(a.shape[0], dtype=torch.float32, device=a.device)
        for x, y, w in zip(fa, fb, self.lins()):
            d = (normalize_channels(x) - normalize_channels(y)) ** 2
            total = total + F.conv2d(d, w).mean(dim=(1, 2, 3))
        return total


_EFFNET_CACHE: dict[str, nn.Module] = {}


def shared_effnet(device: torch.device | str = "cpu") -> nn.Module:
    """One frozen EfficientNet-Lite0 per device (``reenactor.nn.backbones``), shared by ``lpips_effnet`` and
    ``fid_effnet`` and across :func:`evaluate_videos` calls; kept in channels-last memory layout (about 1.8x
    faster on CPU, same numbers)."""
    key = str(torch.device(device))
    if key not in _EFFNET_CACHE:
        net = load_feature_net("effnet", device=device, verbose=False)
        _EFFNET_CACHE[key] = net.to(memory_format=torch.channels_last)
    return _EFFNET_CACHE[key]


class LPIPSEffNet(nn.Module):
    """``lpips_effnet``: LPIPS's formula on EfficientNet-Lite0 stage outputs with uniform (unlearned) channel
    weights w_l = 1. ``forward(a, b)``: ``(B, 3, H, W)`` in [-1, 1] -> ``(B,)``. Not LPIPS; see module doc."""

    name = "lpips_effnet"

    def __init__(self, device: torch.device | str = "cpu"):
        super().__init__()
        self.net = shared_effnet(device)
        self.backbone = (
            f"{self.net.description}; 5 stage outputs, unit-normalised channels, uniform channel "
            "weights (unlearned), spatial mean, summed over layers"
        )

    @torch.no_grad()
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        cl = torch.channels_last
        fa, fb = self.net(a.contiguous(memory_format=cl)), self.net(b.contiguous(memory_format=cl))
        total = torch.zeros(a.shape[0], dtype=torch.float32, device=a.device)
        for x, y in zip(fa, fb):
            d = (normalize_channels(x) - normalize_channels(y)) ** 2
            total = total + d.sum(dim=1).mean(dim=(1, 2))
        return total


def load_lpips(
    weights: str | Path | None = None, device: torch.device | str = "cpu", verbose: bool = True
) -> LPIPS | LPIPSEffNet:
    """LPIPS on the AlexNet/VGG16 backbone in ``weights``; without a file (``None`` or a path that does not
    exist) the ``lpips_effnet`` variant, with a logged notice. An unreadable or wrong file raises
    :class:`CheckpointError` (a file the user named that is *broken* is an error, not a fallback)."""
    path = optional_weights_file(
        weights,
        "lpips",
        "--lpips-weights",
        "LPIPS needs an ImageNet AlexNet or VGG16 backbone (never downloaded). "
        "Reporting the variant `lpips_effnet` instead (EfficientNet-Lite0 features, uniform "
        "channel weights) — it is NOT comparable with published LPIPS numbers.",
        verbose,
    )
    if path is None:
        return LPIPSEffNet(device=device).to(device)
    fix = "give torchvision's alexnet-owt-7be5be79.pth or vgg16-397923af.pth (or a safetensors export of one)"
    state = load_state_dict_file(path, "AlexNet/VGG16", fix)
    net = _infer_net(state, path)
    metric = LPIPS(net, state, path).to(device)
    if verbose:
        logger.info(f"[lpips] {metric.backbone}")
    return metric
