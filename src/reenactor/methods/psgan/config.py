"""Typed config of psgan (Yang et al. 2018, §3.2-3.4). Every key is commented in configs/psgan/default.yaml
(CPU-sensible sizes, the defaults here) and configs/psgan/paper.yaml (the paper's sizes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from ...errors import ConfigError
from ...pose import smoothing


@dataclass
class PSGANConfig:
    #: model files from before ``head`` existed were built with the paper's per-pixel maps
    LEGACY: ClassVar[dict[str, object]] = {"head": "maps"}

    points: Literal["body", "face"] = (
        "body"  # what the heatmaps carry: body (18 COCO points, §3.2) or face (the
    )
    # expression variant: 68 points in a box around the face; configs/psgan/face.yaml)
    size: int = 32  # heatmap side S (the paper: 64); divisible by 2**n_down with S / 2**n_down >= 2
    frames: int = 16  # T, poses per generated sequence, a power of two (the paper: 32)
    radius: float = 2.0  # disc radius of a keypoint, heatmap pixels (the paper: 4 at 64)
    n_actions: int = 22  # one-hot label width: the most actions a model can learn (the paper: 22)
    ngf: int = 16  # channels of the first encoder layer (doubling per layer, at most max_ch)
    max_ch: int = 256  # channel cap of encoder and decoder
    n_down: int = 3  # stride-2 k4 encoder convolutions (the paper: 4, 64 -> 4x4; 3 keeps 4x4 at 32)
    n_blocks: int = 2  # residual blocks after the label joins the bottleneck (ours; the paper leaves it open)
    # (ours, head maps) add the input pose to every frame's logits with a learnt gain; false = the paper's
    # generator, which redraws every disc from the bottleneck
    init_skip: bool = True
    head: Literal["maps", "disc"] = "disc"  # (ours) disc: each generated map is one disc, at a soft-argmax
    # displacement from the first pose, drawn when its presence says so (networks.disc_points); maps: the paper's
    # per-pixel sigmoid maps
    lambda_kp: float = 60.0  # (ours, head disc) weight of the L1 between the disc centres and the real points
    # (heatmap px; method.centre_l1)
    # (ours, head disc) what trains each point's presence (drawn or not): eq3 = eq. 3's masked L1 and the GAN
    # through the drawn discs (alpha > 0 then draws a point once its odds exceed 1 / (alpha + 2)); bce = a
    # binary cross-entropy with whether the real disc shows, weighted lambda_presence, and eq. 3 and the GAN
    # move the discs only (docs/psgan.md: heatmap L2 0.00420 -> 0.00384, 3 seeds)
    presence: Literal["eq3", "bce"] = "bce"
    # (ours, presence bce) weight of that cross-entropy (mean over points and frames): 100 ~ lambda_rec x a
    # disc's area (12.6 pixels at radius 2), what eq. 3 puts on a wrongly drawn point at alpha 0
    lambda_presence: float = 100.0
    # over the T frames (§3.4: GRU; head disc: over each frame's points); none = the "w/o LSTM" ablation
    recurrent: Literal["gru", "lstm", "none"] = "gru"
    hidden: int = 128  # hidden size of the recurrent layer
    ndf: int = 32  # channels of the first PatchGAN layer
    n_layers: int = 3  # stride-2 PatchGAN layers
    gan_mode: Literal["vanilla", "lsgan", "hinge"] = "vanilla"  # eqs. 1-2 are the log loss (vanilla)
    lambda_gan: float = 1.0  # weight of the adversarial term (eq. 2)
    lambda_rec: float = 10.0  # lambda of the masked L1 (eq. 3; the paper: 10)
    alpha: float = 10.0  # alpha of eq. 3's mask weight (alpha M + 1): 10 actions, 20 faces; 0 = plain L1
    min_peak: float = 0.3  # a decoded heatmap whose peak is below this is a missing joint
    smooth: str = "none"  # (ours) temporal filter of the decoded points: none | savgol | one_euro


def check_config(cfg: PSGANConfig) -> None:
    """Range checks with messages naming the key."""
    t = cfg.frames
    if t < 2 or t & (t - 1):
        raise ConfigError(f"model.frames must be a power of two >= 2, got {t}")
    if cfg.size % (2**cfg.n_down) or cfg.size // 2**cfg.n_down < 2:
        raise ConfigError(
            f"model.size {cfg.size} must be divisible by 2**model.n_down ({2**cfg.n_down}) with a "
            "bottleneck of at least 2 x 2"
        )
    if cfg.points not in ("body", "face"):
        raise ConfigError(f"model.points must be body or face, got {cfg.points!r}")
    if cfg.n_actions < 1:
        raise ConfigError("model.n_actions must be >= 1")
    if cfg.smooth not in smoothing.METHODS:
        raise ConfigError(f"model.smooth must be one of {', '.join(smoothing.METHODS)}, got {cfg.smooth!r}")
    if cfg.head not in ("maps", "disc"):
        raise ConfigError(f"model.head must be maps or disc, got {cfg.head!r}")
    if cfg.presence not in ("eq3", "bce"):
        raise ConfigError(f"model.presence must be eq3 or bce, got {cfg.presence!r}")
    if cfg.radius <= 0:
        raise ConfigError("model.radius must be > 0")
