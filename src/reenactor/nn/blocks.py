"""Building blocks shared by every method: normalizations (SPADE is only one option), conv blocks, ResNet
blocks, SPADE residual blocks, encoder / decoder parts.

Every block takes its device and dtype from the tensors given (no hard-coded CUDA device calls); shapes are documented as
``(B, C, H, W)``. A block whose normalization is ``"spade"`` takes the semantic/pose map as a second
argument ``seg (B, label_nc, H', W')`` (any size: it is resized to the features by nearest neighbour).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Norm = Literal["batch", "instance", "spade", "none"]
Act = Literal["relu", "lrelu", "relu6", "gelu", "tanh", "sigmoid", "none"]
NORMS = ("batch", "instance", "spade", "none")
ACTS = ("relu", "lrelu", "relu6", "gelu", "tanh", "sigmoid", "none")


def make_act(act: str) -> nn.Module:
    """Activation by name: relu, lrelu (slope 0.2, as in pix2pixHD's D), relu6, gelu, tanh, sigmoid, none."""
    table = {
        "relu": lambda: nn.ReLU(inplace=False),
        "lrelu": lambda: nn.LeakyReLU(0.2, inplace=False),
        "relu6": lambda: nn.ReLU6(),
        "gelu": lambda: nn.GELU(),
        "tanh": lambda: nn.Tanh(),
        "sigmoid": lambda: nn.Sigmoid(),
        "none": lambda: nn.Identity(),
    }
    if act not in table:
        raise ValueError(f"unknown activation {act!r}; choose one of {', '.join(ACTS)}")
    return table[act]()


class SPADE(nn.Module):
    """Spatially-adaptive denormalization (Park et al. 2019, eq. 1): parameter-free norm of ``x``, then
    ``* (1 + gamma(seg)) + beta(seg)`` with gamma, beta predicted per pixel from the label map.

    x (B, C, H, W); seg (B, label_nc, H', W') resized to (H, W) by nearest neighbour.
    """

    def __init__(self, channels: int, label_nc: int, hidden: int = 128, param_free: str = "instance"):
        super().__init__()
        if param_free == "instance":
            self.norm: nn.Module = nn.InstanceNorm2d(channels, affine=False)
        elif param_free == "batch":
            self.norm = nn.BatchNorm2d(channels, affine=False)
        else:
            raise ValueError(f"SPADE param-free norm must be instance or batch, got {param_free!r}")
        self.shared = nn.Sequential(nn.Conv2d(label_nc, hidden, 3, padding=1), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        seg = F.interpolate(seg.to(x.dtype), size=x.shape[-2:], mode="nearest")
        h = self.shared(seg)
        return self.norm(x) * (1 + self.gamma(h)) + self.beta(h)


def make_norm(norm: str, channels: int, label_nc: int | None = None, spade_hidden: int = 128) -> nn.Module:
    """Normalization by name: ``batch``, ``instance`` (affine=False as in pix2pixHD), ``spade`` (needs
    ``label_nc``) or ``none``."""
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    if norm == "spade":
        if not label_nc:
            raise ValueError("norm='spade' needs label_nc (channels of the conditioning map)")
        return SPADE(channels, label_nc, spade_hidden)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")


class ConvBlock(nn.Module):
    """(pad) -> conv (or transposed conv) -> norm -> activation.

    cin, cout: channels; k, stride: kernel and stride; padding: default ``k // 2`` (``"same"`` for odd k at
    stride 1); pad_mode: ``zeros`` | ``reflect`` | ``replicate``; norm: ``batch|instance|spade|none``;
    act: see :func:`make_act`; transpose: ConvTranspose2d (stride-2 upsampling with output_padding=1 as in
    pix2pixHD); spectral: spectral normalization of the conv weight (for discriminators).
    forward(x (B, cin, H, W), seg=None) -> (B, cout, H', W'); ``seg`` is required when norm is ``spade``.
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        k: int = 3,
        stride: int = 1,
        padding: int | None = None,
        norm: str = "instance",
        act: str = "relu",
        pad_mode: str = "zeros",
        transpose: bool = False,
        label_nc: int | None = None,
        bias: bool | None = None,
        spectral: bool = False,
    ):
        super().__init__()
        padding = k // 2 if padding is None else padding
        bias = norm == "none" if bias is None else bias  # a norm right after the conv cancels a bias
        self.pad: nn.Module = nn.Identity()
        if transpose:
            conv: nn.Module = nn.ConvTranspose2d(
                cin, cout, k, stride, padding=padding, output_padding=stride - 1, bias=bias
            )
        else:
            if pad_mode != "zeros" and padding > 0:
                self.pad = (
                    nn.ReflectionPad2d(padding) if pad_mode == "reflect" else nn.ReplicationPad2d(padding)
                )
                padding = 0
            conv = nn.Conv2d(cin, cout, k, stride, padding=padding, bias=bias)
        self.conv = nn.utils.spectral_norm(conv) if spectral else conv
        self.norm = make_norm(norm, cout, label_nc)
        self.act = make_act(act)
        self.is_spade = norm == "spade"

    def forward(self, x: torch.Tensor, seg: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv(self.pad(x))
        if self.is_spade:
            if seg is None:
                raise ValueError("this ConvBlock uses SPADE: pass the conditioning map as seg")
            h = self.norm(h, seg)
        else:
            h = self.norm(h)
        return self.act(h)


class ResnetBlock(nn.Module):
    """pix2pixHD residual block: x + [pad, conv3, norm, act, (dropout), pad, conv3, norm](x).

    forward(x (B, dim, H, W), seg=None) -> (B, dim, H, W).
    """

    def __init__(
        self,
        dim: int,
        norm: str = "instance",
        act: str = "relu",
        pad_mode: str = "reflect",
        dropout: float = 0.0,
        label_nc: int | None = None,
    ):
        super().__init__()
        self.c1 = ConvBlock(dim, dim, 3, norm=norm, act=act, pad_mode=pad_mode, label_nc=label_nc)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.c2 = ConvBlock(dim, dim, 3, norm=norm, act="none", pad_mode=pad_mode, label_nc=label_nc)

    def forward(self, x: torch.Tensor, seg: torch.Tensor | None = None) -> torch.Tensor:
        return x + self.c2(self.drop(self.c1(x, seg)), seg)


class SPADEResBlock(nn.Module):
    """SPADE residual block (Park et al. 2019, Fig. 4): two [SPADE, lrelu, conv3] units and a learned
    [SPADE, conv1] shortcut when ``cin != cout``. ``param_free``: the SPADEs' parameter-free norm (instance |
    batch; SPADE's own code uses synchronized batch norm).

    forward(x (B, cin, H, W), seg (B, label_nc, H', W')) -> (B, cout, H, W).
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        label_nc: int,
        hidden: int = 128,
        spectral: bool = False,
        param_free: str = "instance",
    ):
        super().__init__()
        mid = min(cin, cout)
        sn = nn.utils.spectral_norm if spectral else (lambda m: m)
        self.learned_shortcut = cin != cout
        self.n0 = SPADE(cin, label_nc, hidden, param_free)
        self.c0 = sn(nn.Conv2d(cin, mid, 3, padding=1))
        self.n1 = SPADE(mid, label_nc, hidden, param_free)
        self.c1 = sn(nn.Conv2d(mid, cout, 3, padding=1))
        if self.learned_shortcut:
            self.ns = SPADE(cin, label_nc, hidden, param_free)
            self.cs = sn(nn.Conv2d(cin, cout, 1, bias=False))

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        skip = self.cs(self.ns(x, seg)) if self.learned_shortcut else x
        h = self.c0(F.leaky_relu(self.n0(x, seg), 0.2))
        h = self.c1(F.leaky_relu(self.n1(h, seg), 0.2))
        return skip + h


class Encoder(nn.Module):
    """Convolutional encoder: a 7x7 stem then ``n_down`` stride-2 ConvBlocks, channels doubling (capped at
    ``max_ch``).

    forward(x (B, cin, H, W)) -> list of n_down + 1 maps: (B, ngf, H, W), (B, 2ngf, H/2, W/2), ...;
    the last is the bottleneck. :attr:`channels` lists their channel counts.
    """

    def __init__(
        self,
        cin: int,
        ngf: int = 64,
        n_down: int = 3,
        norm: str = "instance",
        act: str = "relu",
        max_ch: int = 512,
        pad_mode: str = "reflect",
    ):
        super().__init__()
        self.stem = ConvBlock(cin, ngf, 7, norm=norm, act=act, pad_mode=pad_mode)
        chans = [ngf]
        downs = []
        for _ in range(n_down):
            c_out = min(chans[-1] * 2, max_ch)
            downs.append(ConvBlock(chans[-1], c_out, 3, stride=2, norm=norm, act=act))
            chans.append(c_out)
        self.downs = nn.ModuleList(downs)
        self.channels: list[int] = chans

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = [self.stem(x)]
        for d in self.downs:
            feats.append(d(feats[-1]))
        return feats


#: how :class:`Decoder` doubles the resolution: a stride-2 transposed conv (pix2pixHD), or a resize then a 3x3
#: conv (``nearest`` / ``bilinear``: resize-convolution, free of the transposed conv's checkerboard)
UPSAMPLE = ("transpose", "nearest", "bilinear")


def check_upsample(mode: str) -> None:
    """``mode`` must be one of :data:`UPSAMPLE` (one ValueError otherwise)."""
    if mode not in UPSAMPLE:
        raise ValueError(f"upsample must be one of {', '.join(UPSAMPLE)}, not {mode!r}")


def resize_conv(cin: int, cout: int, mode: str, conv: nn.Module | None = None) -> nn.Sequential:
    """Resize-convolution (no checkerboard, Odena et al. 2016): a x2 ``mode`` resize, then ``conv`` (default a
    3x3 conv with replicated borders and a bias)."""
    conv = conv if conv is not None else nn.Conv2d(cin, cout, 3, 1, 1, padding_mode="replicate")
    return nn.Sequential(nn.Upsample(scale_factor=2, mode=mode), conv)


class Decoder(nn.Module):
    """Convolutional decoder: ``n_up`` stride-2 upsampling ConvBlocks halving channels (``upsample``, one of
    :data:`UPSAMPLE`), then a 7x7 output conv with ``out_act`` (tanh: images in [-1, 1]). With
    ``skip_channels`` (U-Net style) each stage concatenates the encoder map of the same resolution.

    forward(x (B, cin, h, w), skips: list of encoder maps shallow->deep or None) -> (B, cout, h*2^n_up, w*2^n_up).
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        n_up: int = 3,
        norm: str = "instance",
        act: str = "relu",
        out_act: str = "tanh",
        skip_channels: Sequence[int] | None = None,
        pad_mode: str = "reflect",
        min_ch: int = 16,
        upsample: str = "transpose",
    ):
        super().__init__()
        check_upsample(upsample)
        self.skip_channels = list(skip_channels) if skip_channels is not None else None
        ups: list[nn.Module] = []
        c = cin
        for i in range(n_up):
            extra = self.skip_channels[-(i + 1)] if self.skip_channels else 0
            c_out = max(c // 2, min_ch)
            if upsample == "transpose":
                ups.append(ConvBlock(c + extra, c_out, 3, stride=2, norm=norm, act=act, transpose=True))
            else:
                block = ConvBlock(c + extra, c_out, 3, norm=norm, act=act, pad_mode="replicate")
                ups.append(resize_conv(c + extra, c_out, upsample, block))
            c = c_out
        self.ups = nn.ModuleList(ups)
        extra = self.skip_channels[0] if self.skip_channels and len(self.skip_channels) > n_up else 0
        self.out = ConvBlock(c + extra, cout, 7, norm="none", act=out_act, pad_mode=pad_mode)

    def forward(self, x: torch.Tensor, skips: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        h = x
        for i, up in enumerate(self.ups):
            if self.skip_channels:
                h = torch.cat([h, skips[-(i + 1)]], 1)
            h = up(h)
        if self.skip_channels and len(self.skip_channels) > len(self.ups):
            h = torch.cat([h, skips[0]], 1)
        return self.out(h)
