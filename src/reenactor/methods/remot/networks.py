"""remot's networks (built from :mod:`reenactor.nn`), the Global Alignment warp and the Texture Alignment Module.

* :class:`LayoutGAN` (eqs. 2a-c): encoders E_s (source layout), E_p (current + k previous driving poses), E_g (k
  previous generated layouts); D_r(F_s + F_p + F_g) -> raw layout r_t; D_w(F_p + F_g) -> flow w_t and mask m_t;
  L_t = (1 - m_t) W(L_{t-1}, w_t) + m_t softmax(r_t).
* :func:`gam_warp` (eq. 4): the source image / layout moved by x' = s x + t (``affine_grid``).
* :class:`RegionGenerator` (eqs. 3, 5): one generator for the five regions: E_m(region mask) +
  E_r([aligned source region, previous output of the region]) -> the region, zero outside its mask.
* :func:`texture_alignment` (eqs. 12-13) and :class:`WholeComposition` (eqs. 11, 14-15).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...losses import warp
from ...nn import Decoder, Encoder, ResnetBlock


def gam_theta(numbers: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, 3) ``(s, tx, ty)`` (x' = s x + t, pixels, pixel-edge coordinates) -> (B, 2, 3) ``affine_grid``
    matrices (``align_corners=False``) that sample each output pixel x' at x = (x' - t) / s."""
    h, w = size
    s, tx, ty = numbers[:, 0], numbers[:, 1], numbers[:, 2]
    inv = 1.0 / s
    zero = torch.zeros_like(s)
    row_x = torch.stack([inv, zero, inv - 1 - 2 * tx * inv / w], 1)
    row_y = torch.stack([zero, inv, inv - 1 - 2 * ty * inv / h], 1)
    return torch.stack([row_x, row_y], 1)


def gam_warp(x: torch.Tensor, numbers: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Eq. 4: ``x`` (B, C, H, W) moved by the per-item ``numbers`` (B, 3) ``(s, tx, ty)``; zeros outside.
    ``mode`` ``nearest`` for label one-hots that must stay one-hot."""
    theta = gam_theta(numbers.float(), x.shape[-2:]).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)


def _encoder(cin: int, ngf: int, n_down: int) -> Encoder:
    return Encoder(cin, ngf, n_down, max_ch=16 * ngf)


class LayoutGAN(nn.Module):
    """Eqs. 2a-c. forward(source (B, 6, S, S) one-hot, poses (B, 3 (k + 1), S, S) stick figures in [-1, 1] (the
    current last), history (B, 6 k, S, S) previous generated layouts (probabilities, the latest last), cold
    (B,) 1 where there is no history) -> (layout (B, 6, S, S) probabilities, logits r_t, flow w_t (B, 2, S, S)
    in pixels, mask m_t (B, 1, S, S) in [0, 1]). Where ``cold``, m_t = 1: the raw prediction alone."""

    def __init__(
        self, n_classes: int, k: int, ngf: int, n_down: int, n_blocks: int, upsample: str = "transpose"
    ):
        super().__init__()
        self.k, self.n = k, n_classes
        self.E_s = _encoder(n_classes, ngf, n_down)
        self.E_p = _encoder(3 * (k + 1), ngf, n_down)
        self.E_g = _encoder(n_classes * k, ngf, n_down)
        c = self.E_s.channels[-1]
        self.R_blocks = nn.Sequential(*[ResnetBlock(c) for _ in range(n_blocks)])
        self.D_r = Decoder(c, n_classes, n_down, out_act="none", min_ch=ngf, upsample=upsample)
        self.W_blocks = nn.Sequential(*[ResnetBlock(c) for _ in range(n_blocks)])
        self.D_w = Decoder(c, 3, n_down, out_act="none", min_ch=ngf, upsample=upsample)

    def forward(
        self, source: torch.Tensor, poses: torch.Tensor, history: torch.Tensor, cold: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        f_s, f_p, f_g = self.E_s(source)[-1], self.E_p(poses)[-1], self.E_g(history)[-1]
        r = self.D_r(self.R_blocks(f_s + f_p + f_g))  # (2a)
        wm = self.D_w(self.W_blocks(f_p + f_g))  # (2b)
        flow, m = wm[:, :2], torch.sigmoid(wm[:, 2:])
        cold = cold.to(m.dtype)[:, None, None, None]
        m = m * (1 - cold) + cold
        prev = history[:, -self.n :]
        out = (1 - m) * warp(prev, flow) + m * torch.softmax(r.float(), 1).to(m.dtype)  # (2c)
        return out, r, flow, m


class RegionGenerator(nn.Module):
    """Eqs. 3, 5: forward(mask (N, 1, S, S) the generated region mask in [0, 1], source (N, 3, S, S) the aligned
    source region in [-1, 1] (zero outside), previous (N, 3, S, S) the region's previous output) -> (N, 3, S, S)
    in [-1, 1], zero outside ``mask``. E_m and E_r are summed at every resolution; the decoder takes the
    sums as U-Net skips (ours: the paper gives no layer list)."""

    def __init__(self, ngf: int, n_down: int, n_blocks: int, upsample: str = "transpose"):
        super().__init__()
        self.E_m = _encoder(1, ngf, n_down)
        self.E_r = _encoder(6, ngf, n_down)
        c = self.E_m.channels[-1]
        self.blocks = nn.Sequential(*[ResnetBlock(c) for _ in range(n_blocks)])
        self.decoder = Decoder(c, 3, n_down, skip_channels=self.E_m.channels, min_ch=ngf, upsample=upsample)

    def forward(self, mask: torch.Tensor, source: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        feats = [a + b for a, b in zip(self.E_m(mask), self.E_r(torch.cat([source, previous], 1)))]
        return self.decoder(self.blocks(feats[-1]), feats) * mask


def texture_alignment(
    f_c: torch.Tensor, f_s: torch.Tensor, norm: str = "none", temperature: float = 1.0
) -> torch.Tensor:
    """The Texture Alignment Module, eqs. 12-13: ``f_c``, ``f_s`` (B, C, H', W') coarse and source features ->
    F_t = reshape(F_s A^T + F_c) with A_ij = cos(f_c^i, f_s^j) over the N = H' W' positions. ``norm``: none (as
    written), ``n`` (A / N) or ``softmax`` (over j of A / ``temperature``; ours: a cosine lies in [-1, 1], so at
    temperature 1 the weights of N = 256 positions differ at most e^2-fold and the sum is near an average; at
    0.01, as CoCosNet's correspondence, each position takes the few source positions most like it)."""
    b, c, h, w = f_c.shape
    fc, fs = f_c.float().reshape(b, c, h * w), f_s.float().reshape(b, c, h * w)
    a = F.normalize(fc, dim=1, eps=1e-6).transpose(1, 2) @ F.normalize(fs, dim=1, eps=1e-6)  # (B, N, N)
    if norm == "n":
        a = a / (h * w)
    elif norm == "softmax":
        a = torch.softmax(a / temperature, 2)
    elif norm != "none":
        raise ValueError(f"tam_norm must be none, n or softmax, not {norm!r}")
    return (fs @ a.transpose(1, 2) + fc).reshape(b, c, h, w).to(f_c.dtype)


class WholeComposition(nn.Module):
    """WCN, eqs. 11-15. forward(coarse (B, 3 n_coarse, S, S) adjacent coarse persons (the current last),
    layout_pose (B, 6 + 3, S, S) the generated layout and the driving pose, source (B, 3, S, S) the aligned
    source person) -> (person (B, 3, S, S) in [-1, 1], background mask M (B, 1, S, S) in [0, 1]). With ``tam``
    F_t = TAM(F_c, F_s) (eq. 13), else F_c + F_s (the ablation). The decoder takes E_1's maps as U-Net skips
    (ours). With ``warp_source`` ``gam`` or ``parts`` (the flow refinement sec. 3.2 applies, as few-shot vid2vid
    applies it to its reference: ours) the decoder also gives a flow w (pixels) and a mask m_w, and the person is
    (1 - m_w) D_f(.) + m_w W(x, w), the photo's own pixels where they can be moved into place: x = ``source``
    (gam), or ``parts``, the photo moved part by part onto the driving keypoints, which an encoder then sees too;
    with ``warp_flow`` false w = 0 (x blended as it is). m_w starts at 0.88 (its logit's bias 2): the person
    starts as the moved photo and the decoder learns where to draw its own. ``parts`` is (B, 4, S, S): the moved
    photo in [-1, 1] and its alpha in [0, 1] (:func:`.maps.part_warped_unit`). ``parts_into`` says which
    encoder sees it: ``coarse`` (E_1, beside the coarse frames: it is already in the driving pose, so it reaches
    the decoder through E_1's skips at every scale, and its alpha tells where the photo covers the person) or
    ``source`` (E_3, beside the GAM source, RGB only: through the TAM, whose affinity-weighted sum over all
    positions discards where a feature was; how it was first built)."""

    def __init__(
        self,
        n_coarse: int,
        n_cond: int,
        ngf: int,
        n_down: int,
        n_blocks: int,
        tam: bool,
        tam_norm: str,
        upsample: str = "transpose",
        tam_temperature: float = 1.0,
        warp_source: str = "none",
        warp_flow: bool = True,
        parts_into: str = "coarse",
    ):
        super().__init__()
        if parts_into not in ("coarse", "source"):
            raise ValueError(f"parts_into must be coarse or source, not {parts_into!r}")
        self.tam, self.tam_norm, self.tam_temperature = tam, tam_norm, tam_temperature
        self.warp_source, self.warp_flow = warp_source, warp_flow
        self.parts_into = parts_into if warp_source == "parts" else None
        self.E_1 = _encoder(3 * n_coarse + 4 * (self.parts_into == "coarse"), ngf, n_down)
        self.E_2 = _encoder(n_cond, ngf, n_down)
        self.E_3 = _encoder(3 + 3 * (self.parts_into == "source"), ngf, n_down)
        c = self.E_1.channels[-1]
        self.blocks = nn.Sequential(*[ResnetBlock(c) for _ in range(n_blocks)])
        self.decoder = Decoder(
            c,
            4 + 3 * (warp_source != "none"),
            n_down,
            out_act="none",
            skip_channels=self.E_1.channels,
            min_ch=ngf,
            upsample=upsample,
        )
        if warp_source != "none":  # m_w starts at sigmoid(2) = 0.88: the person starts as the moved photo
            with torch.no_grad():
                self.decoder.out.conv.bias[6] = 2.0
        #: inference: the learned flow is scaled by this before it moves x (remot's ``flow_gain`` option; 1 in training)
        self.flow_gain = 1.0

    def forward(
        self,
        coarse: torch.Tensor,
        layout_pose: torch.Tensor,
        source: torch.Tensor,
        parts: torch.Tensor | None = None,
        details: bool = False,
    ) -> tuple[torch.Tensor, ...]:
        """-> (person, M), and with ``details`` a third item: {"m_w", "moved", "flow"} (m_w, W(x, w) and w in pixels
        or None with ``warp_flow`` false, for the losses on them; empty without the warp)."""
        if (parts is None) == (self.warp_source == "parts"):
            raise ValueError("pass parts (the part-warped photo) exactly when warp_source is parts")
        feats = self.E_1(coarse if self.parts_into != "coarse" else torch.cat([coarse, parts], 1))
        f_c, f_p = feats[-1], self.E_2(layout_pose)[-1]
        f_s = self.E_3(source if self.parts_into != "source" else torch.cat([source, parts[:, :3]], 1))[-1]
        f_t = (
            texture_alignment(f_c, f_s, self.tam_norm, self.tam_temperature) if self.tam else f_c + f_s
        )  # (12-13)
        out = self.decoder(self.blocks(f_t + f_p), feats)  # (14-15)
        person, mask = torch.tanh(out[:, :3]), torch.sigmoid(out[:, 3:4])
        extra: dict[str, torch.Tensor] = {}
        if self.warp_source != "none":
            m_w = torch.sigmoid(out[:, 6:7])
            x = source if parts is None else parts[:, :3]
            moved = warp(x, out[:, 4:6] * self.flow_gain) if self.warp_flow else x
            person = (1 - m_w) * person + m_w * moved
            extra = {"m_w": m_w, "moved": moved, "flow": out[:, 4:6] if self.warp_flow else None}
        return (person, mask, extra) if details else (person, mask)


def warp_mask_loss(m_w: torch.Tensor, moved: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Few-shot vid2vid's loss on the warp mask, in m_w's sense (1 = the moved pixels): ``m_w`` (B, 1, S, S) is
    pulled to 1 where ``moved`` (B, 3, S, S) is close to the ``real`` frame, to 0 where it is not, with the
    confidence c = clamp(1 - sum_rgb |moved - real|, 0, 1) (images in [-1, 1], c detached): mean(c (1 - m_w) +
    (1 - c) m_w). Without it the pixel losses of a pair whose photo moves badly teach m_w to mix in the drawing
    everywhere."""
    conf = (1 - (moved.detach() - real).abs().sum(1, keepdim=True)).clamp(0, 1)
    return (conf * (1 - m_w) + (1 - conf) * m_w).mean()


def composite(person: torch.Tensor, mask: torch.Tensor, background: torch.Tensor, blend: str) -> torch.Tensor:
    """Eq. 15 over the background plate B (B, 3, S, S) in [-1, 1]: ``alpha`` (1 - M) y_fg + M B, or ``add``
    y_fg + M B as written (in [0, 1] intensities, clipped)."""
    b = background.to(person.dtype)
    if blend == "alpha":
        return (1 - mask) * person + mask * b
    return (((person + 1) / 2 + mask * (b + 1) / 2).clamp(0, 1)) * 2 - 1


def crop(images: torch.Tensor, theta: torch.Tensor, size: int) -> torch.Tensor:
    """The boxes ``theta`` (B, 2, 3) (:func:`.maps.box_theta`) of ``images`` (B, C, S, S) -> (B, C, size, size)."""
    grid = F.affine_grid(theta.to(images.dtype), [images.shape[0], images.shape[1], size, size], False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def build_generators(cfg) -> dict[str, nn.Module]:
    """The exported networks of ``cfg`` (:class:`~reenactor.methods.remot.config.RemotConfig`) by export name:
    ``LayoutGAN``, ``RegionGAN`` and (unless ``wcn`` is off) ``WCN``."""
    from .maps import N_CLASSES

    lg, rg, wc = cfg.layout, cfg.region, cfg.composition
    nets: dict[str, nn.Module] = {
        "LayoutGAN": LayoutGAN(N_CLASSES, cfg.k, lg.ngf, lg.n_down, lg.n_blocks, cfg.upsample),
        "RegionGAN": RegionGenerator(rg.ngf, rg.n_down, rg.n_blocks, cfg.upsample),
    }
    if cfg.wcn:
        nets["WCN"] = WholeComposition(
            wc.n_coarse,
            N_CLASSES + 3,
            wc.ngf,
            wc.n_down,
            wc.n_blocks,
            wc.tam,
            wc.tam_norm,
            cfg.upsample,
            wc.tam_temperature,
            wc.warp,
            wc.warp_flow,
            wc.parts_into,
        )
    return nets
