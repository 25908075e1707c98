"""Typed config of scgan (Yang et al. 2018, §3.3-3.4). Every key is commented in configs/scgan/default.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...errors import ConfigError


@dataclass
class SCGANConfig:
    size: int = 64  # square frame side (the paper: 128); divisible by 2**n_down
    radius: float = 2.0  # keypoint disc radius of the pose heatmaps, pixels at size (the paper: 4 at 64)
    ngf: int = 16  # channels of the first encoder layer (doubling per layer, at most max_ch)
    max_ch: int = 256  # channel cap
    n_down: int = 4  # stride-2 k4 convolutions of each encoder (the paper: 4)
    n_blocks: int = 2  # residual blocks on the joined image + pose features (the paper: "several")
    skips: bool = True  # U-Net skips from the image encoder to the decoder (ours: the paper shows none, but
    # appearance through a 4x4 bottleneck alone is a blur at CPU sizes; false = the paper's figure)
    pose_skips: bool = (
        False  # (ours) the pose encoder's features join the skips too, so the pose reaches every
    )
    # scale of the decoder and not only the 4 x 4 bottleneck
    blend: bool = False  # (ours) G draws a frame and a mask and keeps the image where the mask is off:
    # out = m * frame + (1 - m) * image (the attention mask of GANimation, Pumarola et al. 2018). Models saved
    # before this key draw the whole frame (false)
    ndf: int = 32  # channels of the first layer of D1, D2 and D_which
    n_layers: int = 3  # stride-2 layers of each PatchGAN
    gan_mode: Literal["vanilla", "lsgan", "hinge"] = "vanilla"  # eqs. 6-10 are the log loss (vanilla)
    lambda_gan: float = 1.0  # D1 / D2 terms of eqs. 9-10
    lambda_which: float = 1.0  # D_which term of eq. 9 (G1 only) and eq. 6
    lambda_l1: float = 10.0  # L1 to the real frame for both generators ("all reconstruction weights 10")
    pose_noise: float = 1.5  # the stand-in for PSGAN's poses in training (ours; the pairing is unstated): the
    # real pose jittered by this many pixels (std, at size) ...
    pose_drop: float = 0.1  # ... with this share of its joints dropped
    train_with: Literal["both", "generated", "real"] = "both"  # the training alternatives of §4.4 / Table 5:
    # both = SCGAN (G1 on generated poses + G2 on real ones, shared layer, D_which); generated = SCGAN-gen
    # (G1 alone on generated poses, D1 only); real = SCGAN-gt (G1 alone on the real poses, D1 only)


def check_config(cfg: SCGANConfig) -> None:
    if cfg.size % (2**cfg.n_down) or cfg.size // 2**cfg.n_down < 2:
        raise ConfigError(f"model.size {cfg.size} must be divisible by 2**model.n_down ({2**cfg.n_down})")
    if cfg.radius <= 0 or cfg.pose_noise < 0 or not 0 <= cfg.pose_drop < 1:
        raise ConfigError("model.radius must be > 0, model.pose_noise >= 0, model.pose_drop in [0, 1)")
    if cfg.train_with not in ("both", "generated", "real"):
        raise ConfigError(f"model.train_with must be both, generated or real, got {cfg.train_with!r}")
