"""single_shot's three generators (built from :mod:`reenactor.nn`) and the face crop / paste of FR.

* P2B (sec. 3.1): pix2pixHD's :class:`~reenactor.nn.GlobalGenerator`, 22 (+ 3 stick figure + 3 pseudo-IUV)
  channels in, 22 label logits out.
* B2F (sec. 3.2): :class:`B2FDecoder`, the shared :class:`~reenactor.nn.SPADEDecoder` (FC -> h0 x w0 map ->
  SPADE residual blocks with x2 upsampling) with its mask head, split into :meth:`B2FDecoder.start` (the FC on
  e_z: once per target at transfer, "the latent space and FC layer are constant for a specific user") and
  :meth:`B2FDecoder.decode`.
* FR (sec. 3.3): :class:`FaceRefiner`, an encoder-decoder with skips (shared Encoder / ResnetBlock /
  Decoder) whose bottleneck is concatenated with a projection of the target face's descriptor, out an RGB crop
  and its blending mask (eq. 19).
* The region colours' paint (ours, ``b2f.region_colour``): the mean colour of each body group in the target
  photo (upper clothes, lower clothes, shoes, skin) painted into that group's pixels of the layout B2F renders,
  three more channels of SPADE's condition, so the normalization cannot remove the photo's colours (SEAN, Zhu et
  al. 2020, injects a style code per region into the same modulation; this is its simplest form).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...nn import Decoder, Encoder, GlobalGenerator, ResnetBlock, SPADEDecoder


def build_p2b(
    in_channels: int, n_labels: int, ngf: int, n_downsampling: int, n_blocks: int
) -> GlobalGenerator:
    """P2B: (B, in_channels, S, S) -> (B, n_labels, S, S) logits (softmax over labels gives the map)."""
    return GlobalGenerator(
        in_channels, n_labels, ngf=ngf, n_downsampling=n_downsampling, n_blocks=n_blocks, out_act="none"
    )


class B2FDecoder(SPADEDecoder):
    """B2F: e_z (B, z_dim) and the layout condition (B, label_nc, S, S) -> image z (B, 3, S, S) in [-1, 1] and
    mask m (B, 1, S, S) in [0, 1] (eq. 6)."""

    def __init__(
        self,
        z_dim: int,
        label_nc: int,
        size: int,
        ngf: int,
        n_up: int,
        spade_hidden: int,
        max_mult: int,
        param_free: str = "instance",
    ):
        super().__init__(
            z_dim, label_nc, 3, (size, size), ngf=ngf, n_up=n_up, max_mult=max_mult,
            spade_hidden=spade_hidden, out_mask=True, param_free=param_free,
        )  # fmt: skip

    def start(self, e_z: torch.Tensor) -> torch.Tensor:
        """The FC of e_z reshaped to the first map, (B, c0, h0, w0)."""
        return self.fc(e_z).view(e_z.shape[0], self.c0, self.h0, self.w0)

    def decode(self, h: torch.Tensor, seg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``seg``: the whole condition (layout one-hot, face parts and, with the region colours, their paint)."""
        for blk in self.blocks:
            h = F.interpolate(blk(h, seg), scale_factor=2, mode="nearest")
        h = F.leaky_relu(self.head(h, seg), 0.2)
        return torch.tanh(self.out(h)), torch.sigmoid(self.mask(h))

    def forward(self, e_z: torch.Tensor, seg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.decode(self.start(e_z), seg)


class FaceRefiner(nn.Module):
    """FR (sec. 3.3, eq. 19): the aligned face crop c^0 of the generated frame (B, 3, F, F) in [-1, 1] and the
    target face's embedding (B, emb_dim) -> refined crop c (B, 3, F, F) in [-1, 1] and its blending mask m^c
    (B, 1, F, F) in [0, 1]. The embedding is projected (:meth:`embed`, once per target at transfer) and
    concatenated to the encoder's bottleneck ("concatenated to the latent representation given by the
    encoder")."""

    def __init__(self, emb_dim: int, ngf: int = 16, n_down: int = 3, n_blocks: int = 2, max_ch: int = 256):
        super().__init__()
        self.n_down = n_down
        self.encoder = Encoder(3, ngf, n_down, max_ch=max_ch)
        c = self.encoder.channels[-1]
        self.project = nn.Linear(emb_dim, c)
        self.fuse = nn.Conv2d(2 * c, c, 1)
        self.blocks = nn.Sequential(*[ResnetBlock(c) for _ in range(n_blocks)])
        self.decoder = Decoder(c, 4, n_down, out_act="none", skip_channels=self.encoder.channels, min_ch=ngf)

    def embed(self, emb: torch.Tensor) -> torch.Tensor:
        """(B, emb_dim) -> (B, C) the projected embedding."""
        return self.project(emb.float().to(self.project.weight.dtype))

    def forward(self, crop: torch.Tensor, emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``emb``: the projected embedding (:meth:`embed`)."""
        feats = self.encoder(crop)
        h = feats[-1]
        e = emb.to(h.dtype)[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])
        h = self.blocks(self.fuse(torch.cat([h, e], 1)))
        out = self.decoder(h, feats)
        return torch.tanh(out[:, :3]), torch.sigmoid(out[:, 3:])


# ------------------------------------------------------------------------------------------ face crop / paste
def crop(images: torch.Tensor, theta: torch.Tensor, size: int) -> torch.Tensor:
    """The boxes ``theta`` (B, 2, 3) (:func:`reenactor.methods.single_shot.maps.box_theta`) of ``images``
    (B, C, S, S) resampled to (B, C, size, size) (bilinear, edges replicated; differentiable in the images)."""
    grid = F.affine_grid(
        theta.to(images.dtype), [images.shape[0], images.shape[1], size, size], align_corners=False
    )
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def invert_theta(theta: torch.Tensor) -> torch.Tensor:
    """The inverse of (B, 2, 3) affine matrices (frame coordinates -> crop coordinates)."""
    a = theta[:, :, :2]
    inv = torch.linalg.inv(a.float()).to(theta.dtype)
    return torch.cat([inv, -(inv @ theta[:, :, 2:])], 2)


def paste(
    frames: torch.Tensor, crops: torch.Tensor, masks: torch.Tensor, theta: torch.Tensor
) -> torch.Tensor:
    """Blend crops back where :func:`crop` took them: ``frames`` (B, 3, S, S), ``crops`` (B, 3, F, F), ``masks``
    (B, 1, F, F) in [0, 1] -> ``frames * (1 - m) + crops * m`` with m the mask in frame coordinates (zero
    outside the box)."""
    inv = invert_theta(theta).to(crops.dtype)
    grid = F.affine_grid(inv, [frames.shape[0], 4, frames.shape[2], frames.shape[3]], align_corners=False)
    both = F.grid_sample(
        torch.cat([crops, masks], 1), grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    m = both[:, 3:]
    return frames * (1 - m) + both[:, :3] * m


# ------------------------------------------------------------------------------------------ from the config
def p2b_channels(cfg) -> int:
    """P2B's input channels: the layout one-hot, the stick figure and (with ``p2b.densepose``) the pseudo-IUV."""
    from .maps import N_LABELS

    return N_LABELS + 3 + (3 if cfg.p2b.densepose else 0)


def seg_channels(cfg) -> int:
    """B2F's condition channels: the layout one-hot and (with ``b2f.face_parts``) the five face parts."""
    from .maps import N_FACE_PARTS, N_LABELS

    return N_LABELS + (N_FACE_PARTS if cfg.b2f.face_parts else 0)


def paint_channels(cfg) -> int:
    """Channels the region colours add to B2F's condition (3 with ``b2f.region_colour``, else 0)."""
    return 3 if cfg.b2f.region_colour else 0


def paint(layout: torch.Tensor, colours: torch.Tensor) -> torch.Tensor:
    """The region colours' paint: ``layout`` (B, 22, H, W) label one-hot (or scores), ``colours`` (B, 4, 3) the
    body groups' mean colours (:func:`reenactor.methods.single_shot.maps.region_colours`) -> (B, 3, H, W), each
    pixel the colour of its label's group (0 for background, face and hair)."""
    from .maps import GROUP_MATRIX, N_LABELS

    g = torch.from_numpy(GROUP_MATRIX).to(layout.device, layout.dtype)
    groups = torch.einsum("gl,blhw->bghw", g, layout[:, :N_LABELS])
    return torch.einsum("bghw,bgc->bchw", groups, colours.to(layout.dtype))


def b2f_condition(seg: torch.Tensor, colours: torch.Tensor | None) -> torch.Tensor:
    """B2F's SPADE condition: ``seg`` (layout one-hot + face parts), and with region ``colours`` (B, 4, 3) their
    :func:`paint` (3 channels) after it."""
    if colours is None:
        return seg
    return torch.cat([seg, paint(seg, colours)], 1)


def build_generators(cfg, feature_dim: int) -> tuple[GlobalGenerator, B2FDecoder, FaceRefiner]:
    """P2B, B2F and FR as ``cfg`` (:class:`~reenactor.methods.single_shot.config.SingleShotConfig`) describes;
    ``feature_dim``: channels of the ImageNet network's deepest map (e_z = 128 + 4 x feature_dim)."""
    from .appearance import FACE_DIM
    from .maps import BODY_CROPS, N_LABELS

    p, b, f = cfg.p2b, cfg.b2f, cfg.fr
    p2b = build_p2b(p2b_channels(cfg), N_LABELS, p.ngf, p.n_downsampling, p.n_blocks)
    b2f = B2FDecoder(
        FACE_DIM + len(BODY_CROPS) * feature_dim, seg_channels(cfg) + paint_channels(cfg), cfg.size, b.ngf, b.n_up, b.spade_hidden,
        b.max_mult, b.spade_norm,
    )  # fmt: skip
    fr = FaceRefiner(FACE_DIM, f.ngf, f.n_down, f.n_blocks)
    return p2b, b2f, fr
