"""Generators: pix2pixHD's GlobalGenerator and LocalEnhancer (Wang et al. 2018, sec. 3.2), the pix2pix U-Net
(Isola et al. 2017), an encoder-decoder with skips, and a SPADE decoder that starts from a vector (the
single-shot method's Body2Frame, Gafni et al. 2021 sec. 3.2).

All take ``(B, input_nc, H, W)`` condition maps (pose renderings, part confidence maps, label maps, previous
frames stacked on channels) and return ``(B, output_nc, H, W)`` in [-1, 1] (tanh) unless ``out_act`` says
otherwise. H and W must be divisible by ``2 ** n_downsampling`` (checked, with a clear error).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import (
    ConvBlock,
    Decoder,
    Encoder,
    ResnetBlock,
    SPADEResBlock,
    check_upsample,
    make_norm,
    resize_conv,
)


def _check_size(x: torch.Tensor, factor: int, who: str) -> None:
    h, w = x.shape[-2:]
    if h % factor or w % factor:
        raise ValueError(
            f"{who}: input size {h}x{w} must be divisible by {factor} "
            f"(use a frame size that is a multiple of {factor})"
        )


class GlobalGenerator(nn.Module):
    """pix2pixHD global generator G1: 7x7 stem, ``n_downsampling`` stride-2 convs, ``n_blocks`` ResNet
    blocks, as many transposed convs, 7x7 output conv (reflection padding, instance norm).

    forward(x (B, input_nc, H, W)) -> (B, output_nc, H, W) in [-1, 1].
    :meth:`features` returns the last feature map before the output conv (B, ngf, H, W) (used by
    :class:`LocalEnhancer`).
    """

    def __init__(
        self,
        input_nc: int,
        output_nc: int = 3,
        ngf: int = 64,
        n_downsampling: int = 3,
        n_blocks: int = 9,
        norm: str = "instance",
        pad_mode: str = "reflect",
        out_act: str = "tanh",
        max_ch: int = 1024,
    ):
        super().__init__()
        self.n_downsampling = n_downsampling
        self.encoder = Encoder(input_nc, ngf, n_downsampling, norm=norm, max_ch=max_ch, pad_mode=pad_mode)
        c = self.encoder.channels[-1]
        self.blocks = nn.Sequential(*[ResnetBlock(c, norm=norm, pad_mode=pad_mode) for _ in range(n_blocks)])
        self.decoder = Decoder(
            c, output_nc, n_downsampling, norm=norm, out_act=out_act, pad_mode=pad_mode, min_ch=ngf
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        _check_size(x, 2**self.n_downsampling, type(self).__name__)
        h = self.blocks(self.encoder(x)[-1])
        for up in self.decoder.ups:
            h = up(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder.out(self.features(x))


class LocalEnhancer(nn.Module):
    """pix2pixHD coarse-to-fine generator {G1, G2}: a GlobalGenerator (ngf * 2**n_local) on the input
    downsampled ``n_local`` times, and per local level a front-end (stem + stride-2 conv) whose output is
    summed with the coarser level's features, then ResNet blocks and a transposed conv.

    forward(x (B, input_nc, H, W)) -> (B, output_nc, H, W) in [-1, 1].
    """

    def __init__(
        self,
        input_nc: int,
        output_nc: int = 3,
        ngf: int = 32,
        n_downsample_global: int = 3,
        n_blocks_global: int = 9,
        n_local_enhancers: int = 1,
        n_blocks_local: int = 3,
        norm: str = "instance",
        pad_mode: str = "reflect",
        out_act: str = "tanh",
    ):
        super().__init__()
        self.n_local = n_local_enhancers
        self.factor = 2 ** (n_downsample_global + n_local_enhancers)
        self.global_g = GlobalGenerator(
            input_nc,
            output_nc,
            ngf * 2**n_local_enhancers,
            n_downsample_global,
            n_blocks_global,
            norm=norm,
            pad_mode=pad_mode,
            out_act=out_act,
        )
        self.global_g.decoder.out = nn.Identity()  # G1's output conv is dropped (pix2pixHD sec. 3.2)
        fronts, backs = [], []
        for n in range(1, n_local_enhancers + 1):
            c = ngf * 2 ** (n_local_enhancers - n)
            fronts.append(
                nn.Sequential(
                    ConvBlock(input_nc, c, 7, norm=norm, pad_mode=pad_mode),
                    ConvBlock(c, 2 * c, 3, stride=2, norm=norm),
                )
            )
            back = [ResnetBlock(2 * c, norm=norm, pad_mode=pad_mode) for _ in range(n_blocks_local)]
            back.append(ConvBlock(2 * c, c, 3, stride=2, norm=norm, transpose=True))
            if n == n_local_enhancers:
                back.append(ConvBlock(c, output_nc, 7, norm="none", act=out_act, pad_mode=pad_mode))
            backs.append(nn.Sequential(*back))
        self.fronts = nn.ModuleList(fronts)
        self.backs = nn.ModuleList(backs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_size(x, self.factor, type(self).__name__)
        pyramid = [x]
        for _ in range(self.n_local):
            pyramid.append(F.avg_pool2d(pyramid[-1], 3, stride=2, padding=1, count_include_pad=False))
        h = self.global_g.features(pyramid[-1])
        for n in range(self.n_local):
            inp = pyramid[self.n_local - 1 - n]
            h = self.backs[n](self.fronts[n](inp) + h)
        return h


class UNetGenerator(nn.Module):
    """pix2pix U-Net (Isola et al. 2017, sec. 3.2.1): ``num_downs`` stride-2 4x4 conv (lrelu 0.2) stages and
    mirrored 4x4 transposed-conv (relu) stages with skip connections; channels ngf, 2ngf, 4ngf, 8ngf, 8ngf...
    ``upsample`` ``nearest`` / ``bilinear``: each transposed conv becomes a resize and a 3x3 conv (no
    checkerboard; :data:`reenactor.nn.blocks.UPSAMPLE`).
    The innermost down and the outermost layers have no norm; dropout (0.5 in pix2pix) in the three up
    stages just outside the innermost one when ``dropout > 0``.

    forward(x (B, input_nc, H, W)) -> (B, output_nc, H, W) in [-1, 1]; H, W divisible by 2**num_downs.
    """

    def __init__(
        self,
        input_nc: int,
        output_nc: int = 3,
        num_downs: int = 7,
        ngf: int = 64,
        norm: str = "batch",
        dropout: float = 0.0,
        out_act: str = "tanh",
        upsample: str = "transpose",
    ):
        super().__init__()
        if num_downs < 2:
            raise ValueError("UNetGenerator needs num_downs >= 2")
        check_upsample(upsample)

        def up(c_in: int, c_out: int, bias: bool = True) -> nn.Module:
            if upsample == "transpose":
                return nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias)
            conv = nn.Conv2d(c_in, c_out, 3, 1, 1, bias=bias, padding_mode="replicate")
            return resize_conv(c_in, c_out, upsample, conv)

        self.num_downs = num_downs
        chans = [min(ngf * 2**i, ngf * 8) for i in range(num_downs)]
        downs = []
        cin = input_nc
        for i, c in enumerate(chans):
            last = i == num_downs - 1
            downs.append(
                ConvBlock(
                    cin,
                    c,
                    4,
                    stride=2,
                    padding=1,
                    norm="none" if i == 0 or last else norm,
                    act="lrelu",
                    bias=True,
                )
            )
            cin = c
        self.downs = nn.ModuleList(downs)
        ups = []
        for i in reversed(range(num_downs)):
            c_in = chans[i] if i == num_downs - 1 else 2 * chans[i]
            if i == 0:
                ups.append(nn.Sequential(nn.ReLU(), up(c_in, output_nc)))
            else:
                drop = dropout > 0 and num_downs - 4 <= i <= num_downs - 2
                ups.append(
                    nn.Sequential(
                        nn.ReLU(),
                        up(c_in, chans[i - 1], bias=norm != "batch"),
                        make_norm(norm, chans[i - 1]),
                        nn.Dropout(dropout) if drop else nn.Identity(),
                    )
                )
        self.ups = nn.ModuleList(ups)
        self.out_act = (
            nn.Tanh() if out_act == "tanh" else (nn.Sigmoid() if out_act == "sigmoid" else nn.Identity())
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_size(x, 2**self.num_downs, type(self).__name__)
        skips = []
        h = x
        for d in self.downs:
            h = d(h)
            skips.append(h)
        h = self.ups[0](skips[-1])
        for i, up in enumerate(self.ups[1:], start=2):
            h = up(torch.cat([h, skips[-i]], 1))
        return self.out_act(h)


class EncoderDecoder(nn.Module):
    """Encoder, ResNet bottleneck and decoder with optional U-Net skips (concatenation): the generic
    image-to-image generator used when a method wants skip connections with pix2pixHD-style blocks.

    forward(x (B, input_nc, H, W)) -> (B, output_nc, H, W).
    """

    def __init__(
        self,
        input_nc: int,
        output_nc: int = 3,
        ngf: int = 32,
        n_down: int = 3,
        n_blocks: int = 3,
        norm: str = "instance",
        skips: bool = True,
        out_act: str = "tanh",
        max_ch: int = 512,
    ):
        super().__init__()
        self.n_down = n_down
        self.encoder = Encoder(input_nc, ngf, n_down, norm=norm, max_ch=max_ch)
        c = self.encoder.channels[-1]
        self.blocks = nn.Sequential(*[ResnetBlock(c, norm=norm) for _ in range(n_blocks)])
        self.decoder = Decoder(
            c,
            output_nc,
            n_down,
            norm=norm,
            out_act=out_act,
            skip_channels=self.encoder.channels if skips else None,
            min_ch=ngf,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_size(x, 2**self.n_down, type(self).__name__)
        feats = self.encoder(x)
        h = self.blocks(feats[-1])
        return self.decoder(h, feats if self.decoder.skip_channels else None)


class SPADEDecoder(nn.Module):
    """A SPADE generator that starts from a vector (SPADE's VAE-mode generator; the single-shot method's
    Body2Frame, Gafni et al. 2021 sec. 3.2): z (B, z_dim) -> linear -> (B, 16 ngf, h0, w0), then
    ``n_up`` [SPADEResBlock, x2 upsample] stages conditioned on ``seg``, and a 3x3 output conv.

    size: output (H, W); h0, w0 = H / 2**n_up, W / 2**n_up. With ``out_mask=True`` a second head predicts a
    blending mask (001 eq. 7: f = z * m + b * (1 - m)). ``param_free``: the SPADE blocks' parameter-free norm;
    ``batch`` (SPADE's own) keeps what z says about a whole item (its colour, say), which a per-item
    ``instance`` norm of the first map removes.
    forward(z (B, z_dim), seg (B, label_nc, H', W')) -> img (B, output_nc, H, W) in [-1, 1]
    [, mask (B, 1, H, W) in [0, 1] when out_mask].
    """

    def __init__(
        self,
        z_dim: int,
        label_nc: int,
        output_nc: int = 3,
        size: tuple[int, int] = (128, 128),
        ngf: int = 32,
        n_up: int = 5,
        max_mult: int = 16,
        spade_hidden: int = 64,
        out_mask: bool = False,
        param_free: str = "instance",
    ):
        super().__init__()
        h, w = size
        if h % 2**n_up or w % 2**n_up:
            raise ValueError(f"SPADEDecoder: size {h}x{w} must be divisible by 2**n_up = {2**n_up}")
        self.h0, self.w0 = h // 2**n_up, w // 2**n_up
        self.size = (h, w)
        mults = [min(2 ** (n_up - i - 1), max_mult) for i in range(n_up + 1)]
        self.c0 = ngf * max(mults[0], 1) * 2
        self.fc = nn.Linear(z_dim, self.c0 * self.h0 * self.w0)
        blocks = []
        c = self.c0
        for i in range(n_up):
            c_out = ngf * max(mults[i + 1], 1)
            blocks.append(SPADEResBlock(c, c_out, label_nc, spade_hidden, param_free=param_free))
            c = c_out
        self.blocks = nn.ModuleList(blocks)
        self.head = SPADEResBlock(c, c, label_nc, spade_hidden, param_free=param_free)
        self.out = nn.Conv2d(c, output_nc, 3, padding=1)
        self.mask = nn.Conv2d(c, 1, 3, padding=1) if out_mask else None

    def forward(self, z: torch.Tensor, seg: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        h = self.fc(z).view(z.shape[0], self.c0, self.h0, self.w0)
        for blk in self.blocks:
            h = F.interpolate(blk(h, seg), scale_factor=2, mode="nearest")
        h = F.leaky_relu(self.head(h, seg), 0.2)
        img = torch.tanh(self.out(h))
        if self.mask is None:
            return img
        return img, torch.sigmoid(self.mask(h))
