"""PSGAN's generator (§3.2, §3.4): pose heatmaps + one-hot action -> T pose heatmaps, and its discriminator."""

from __future__ import annotations

import math

import torch
from torch import nn

from ...nn.blocks import ConvBlock, ResnetBlock
from ...nn.discriminators import SpaceTimeDiscriminator
from ...nn.sequence import SequenceModule
from .config import PSGANConfig
from .points import channels


def decoder_strides(frames: int, n_up: int) -> list[tuple[int, int, int]]:
    """(t, h, w) strides of the transposed 3-D convolutions taking (1, s, s) to (frames, s * 2**n_up, ...):
    max(log2 frames, n_up) layers, time doubling in the last log2(frames) of them and space in the last
    n_up (T = 32 from 4 x 4 to 64 x 64: the first layer has stride (2, 1, 1), as the notes propose)."""
    nt = int(math.log2(frames))
    n = max(nt, n_up)
    return [(2 if i >= n - nt else 1, *(2 if i >= n - n_up else 1,) * 2) for i in range(n)]


class PoseSequenceGenerator(nn.Module):
    """G(p, a) -> P^ (eqs. 1-3).

    forward(pose (B, K, S, S) in [0, 1], label (B, n_actions) one-hot) -> (B, T, K, S, S) heatmaps in (0, 1);
    K = 18 body points or 68 face points (``model.points``).
    Encoder: n_down k4 s2 convolutions (InstanceNorm, ReLU; tanh on the last, §3.4); the label is tiled and
    concatenated at the bottleneck, then residual blocks; a stack of stride-2 3-D transposed convolutions
    grows time and space; a GRU/LSTM (:class:`reenactor.nn.sequence.SequenceModule`, residual) refines the T
    flattened maps in time (``recurrent: none`` leaves it out: the paper's "w/o LSTM" ablation).
    """

    def __init__(self, cfg: PSGANConfig):
        super().__init__()
        self.frames, self.size = cfg.frames, cfg.size
        nk = channels(cfg.points)
        chans = [min(cfg.ngf * 2**i, cfg.max_ch) for i in range(cfg.n_down)]
        enc, cin = [], nk
        for i, c in enumerate(chans):
            last = i == len(chans) - 1
            enc.append(
                ConvBlock(
                    cin,
                    c,
                    4,
                    stride=2,
                    padding=1,
                    norm="none" if last else "instance",
                    act="tanh" if last else "relu",
                )
            )
            cin = c
        self.encoder = nn.Sequential(*enc)
        self.join = ConvBlock(cin + cfg.n_actions, cin, 3, norm="instance", act="relu")
        self.blocks = nn.Sequential(*[ResnetBlock(cin, pad_mode="replicate") for _ in range(cfg.n_blocks)])
        dec = []
        for i, st in enumerate(decoder_strides(cfg.frames, cfg.n_down)):
            c = chans[max(len(chans) - 2 - i, 0)]
            k = tuple(4 if s == 2 else 3 for s in st)
            dec += [
                nn.ConvTranspose3d(cin, c, k, st, padding=1, bias=False),
                nn.InstanceNorm3d(c, affine=True),
                nn.ReLU(True),
            ]
            cin = c
        dec.append(nn.Conv3d(cin, nk, 3, padding=1))
        self.decoder = nn.Sequential(*dec)
        # over the T frames: the flattened logit maps (head maps), or each frame's points (head disc: x, y / S and
        # the presence logit of every point; a correction added to the whole maps would shift every soft-argmax)
        width = nk * cfg.size**2 if cfg.head == "maps" else nk * 3
        self.temporal = (
            None
            if cfg.recurrent == "none"
            else SequenceModule(width, cfg.hidden, cell=cfg.recurrent, residual=True)
        )
        if self.temporal is not None:  # starts near the identity (a residual correction grown from small)
            with torch.no_grad():
                self.temporal.out.weight.mul_(0.01)
                self.temporal.out.bias.zero_()
        # (ours) the input pose added to every frame's logits, with a learnt per-keypoint gain: G then learns
        # the motion away from the first pose instead of redrawing K discs through a 4x4 bottleneck
        # (the disc head carries the first pose itself: its centres are displacements from it)
        self.init_gain = (
            nn.Parameter(torch.full((nk,), 3.0)) if cfg.init_skip and cfg.head == "maps" else None
        )
        self.head, self.radius = cfg.head, cfg.radius
        self.presence_grad = cfg.presence == "eq3"  # false: the drawn discs pass no gradient to presence

    def forward(self, pose: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """(B, T, K, S, S) heatmaps in [0, 1] (head disc: discs in {0, 1})."""
        return self.points(pose, label)[0]

    def points(
        self, pose: torch.Tensor, label: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(maps (B, T, K, S, S), centres (B, T, K, 2) x, y in heatmap pixels, presence (B, T, K) in (0, 1));
        the last two are None for the paper's per-pixel head (``head: maps``)."""
        z = self.logits(pose, label)
        if self.head == "maps":
            return torch.sigmoid(z), None, None
        centres, level = disc_points(z, *first_centres(pose))
        if self.temporal is not None:
            b, t, k = level.shape
            x = torch.cat([centres / self.size, level[..., None]], -1).reshape(b, t, -1)
            y = self.temporal(x)[0].reshape(b, t, k, 3)
            centres, level = y[..., :2] * self.size, y[..., 2]
        return render_discs(centres, level, self.size, self.radius, presence_grad=self.presence_grad)

    def logits(self, pose: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        h = self.encoder(pose)
        lab = label[:, :, None, None].to(h.dtype).expand(-1, -1, *h.shape[-2:])
        h = self.blocks(self.join(torch.cat([h, lab], 1)))
        z = self.decoder(h[:, :, None])  # (B, K, T, S, S) logits
        if self.init_gain is not None:
            z = z + self.init_gain[:, None, None, None] * (2 * pose - 1)[:, :, None]
        z = z.permute(0, 2, 1, 3, 4)  # (B, T, K, S, S)
        if self.temporal is not None and self.head == "maps":
            b, t = z.shape[:2]
            z = self.temporal(z.reshape(b, t, -1))[0].reshape(z.shape)
        return z


def first_centres(pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, K, S, S) disc maps of the first pose -> (centres (B, K, 2): x, y of each disc's pixel centroid, the
    map's middle where a point has no disc; shown (B, K) bool)."""
    s = pose.shape[-1]
    on = (pose > 0.5).float()
    n = on.sum((-2, -1))
    coord = torch.arange(s, device=pose.device, dtype=torch.float32)
    mid = torch.full_like(n, (s - 1) / 2)
    cx = torch.where(n > 0, (on.sum(-2) * coord).sum(-1) / n.clamp(min=1), mid)
    cy = torch.where(n > 0, (on.sum(-1) * coord).sum(-1) / n.clamp(min=1), mid)
    return torch.stack([cx, cy], -1), n > 0


def disc_points(
    z: torch.Tensor, start: torch.Tensor, shown: torch.Tensor, beta: float = 2.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """(ours, the disc head's first half; :func:`render_discs` draws) Logits (B, T, K, S, S) -> (centres
    (B, T, K, 2) x, y in heatmap pixels, presence logits (B, T, K)).

    Each map's logits are a distribution over the point's displacement from its first position ``start``
    (B, K, 2; :func:`first_centres`), the map's middle meaning none: centre = start + soft-argmax of
    ``beta * z`` - middle (integral regression, Sun et al. 2018). The presence logit is the logit level under
    that soft-max, + 3 when the point is ``shown`` (B, K) in the first pose, - 3 when not.

    Why (issue 28): with per-pixel maps, eq. 3's (alpha M + 1) weight makes the L1 optimum "on" wherever a
    moving joint may be with odds above 1/(alpha + 2), a smear of 1.6x the real disc mass that cost most of the
    heatmap L2; a disc head draws what the data draws, one disc per point."""
    s = z.shape[-1]
    mid = (s - 1) / 2
    flat = z.flatten(-2).float()
    p = torch.softmax(beta * flat, -1).view(z.shape)
    coord = torch.arange(s, device=z.device, dtype=torch.float32)
    cx = (p.sum(-2) * coord).sum(-1) - mid + start[:, None, :, 0]
    cy = (p.sum(-1) * coord).sum(-1) - mid + start[:, None, :, 1]
    level = (p.flatten(-2) * flat).sum(-1) + torch.where(shown, 3.0, -3.0)[:, None]
    return torch.stack([cx, cy], -1), level


def render_discs(
    centres: torch.Tensor,
    level: torch.Tensor,
    size: int,
    radius: float,
    kappa: float = 3.0,
    presence_grad: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Centres (..., K, 2) and presence logits (..., K) -> (maps (..., K, size, size), centres, presence in
    (0, 1)): the disc of ``radius`` about each centre (the pixel test of
    :func:`reenactor.pose.heatmaps.encode_points_torch`) where presence > 0.5. Forward values are those hard
    discs; gradients flow through a soft disc presence * sigmoid(kappa * (radius - distance)) (straight-through),
    to the presence too unless ``presence_grad`` is false (``model.presence: bce`` trains it by its own loss)."""
    q = torch.sigmoid(level)
    coord = torch.arange(size, device=centres.device, dtype=torch.float32)
    cx, cy = centres[..., 0], centres[..., 1]
    d2 = (coord[None, :] - cx[..., None, None]) ** 2 + (coord[:, None] - cy[..., None, None]) ** 2
    qs = q if presence_grad else q.detach()
    soft = qs[..., None, None] * torch.sigmoid(kappa * (radius - torch.sqrt(d2 + 1e-6)))
    hard = ((d2 <= radius * radius) & (q > 0.5)[..., None, None]).float()
    return hard + soft - soft.detach(), centres, q


def build_discriminator(cfg: PSGANConfig) -> SpaceTimeDiscriminator:
    """The unconditional PatchGAN of eq. 1 over the whole sequence (T maps of K channels stacked):
    forward((B, T, K, S, S)) -> [[features..., logits]]."""
    return SpaceTimeDiscriminator(channels(cfg.points), cfg.frames, cfg.ndf, cfg.n_layers, num_D=1)
