"""Losses shared by every method. Each returns a scalar tensor (float32 even under autocast); methods
multiply by their weights and return named terms to the trainer."""

from .gan import GAN_MODES, feature_matching, gan_loss_d, gan_loss_g
from .perceptual import PerceptualLoss, gram_matrix
from .pixel import cross_entropy, l1, masked_l1
from .temporal import limb_weight_map, temporal_warp_loss, warp

__all__ = [
    "GAN_MODES",
    "PerceptualLoss",
    "cross_entropy",
    "feature_matching",
    "gan_loss_d",
    "gan_loss_g",
    "gram_matrix",
    "l1",
    "limb_weight_map",
    "masked_l1",
    "temporal_warp_loss",
    "warp",
]
