"""Typed config of the upper-body method (Liu et al. 2019, sections 4-5); every key is commented in
configs/upper_body/default.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ...data.augment import AugmentConfig
from ...face.expression_warp import ExpressionWarpConfig


@dataclass
class LandmarkGenConfig:
    """Section 4: the pix2pixHD generator G: FAUP image -> the target's facial-landmark image, multi-scale D."""

    crop: int = 64  # side (model pixels) of the face-landmark image around the face anchor; divisible by 2**n_downsampling
    cell: int = 2  # pixels per FAUP value in the FAUP image (20 values on a 4 x 5 grid at the centre)
    ngf: int = 16  # GlobalGenerator channels of the first level
    n_downsampling: int = 3  # stride-2 levels of the GlobalGenerator
    n_blocks: int = 3  # ResNet blocks at the bottleneck
    ndf: int = 16  # discriminator channels of the first layer
    n_layers: int = 2  # stride-2 layers per PatchGAN
    num_D: int = 3  # discriminator scales k = 1..3 (eq. 1)  # noqa: N815
    lambda_l1: float = 100.0  # lambda of eq. 2 (L1 between G(x) and the real landmark image)
    fg_weight: float = (
        4.0  # extra L1 weight on the real image's line pixels, not in eq. 2 (0 = plain L1): the
    )
    # lines cover ~5 % of the crop, so plain L1 is nearly minimal for an empty image (see default.yaml)
    pretrain_steps: int = 0  # first steps train the landmark generator alone (its own phase: 64 px steps are
    # ~10x cheaper than frame steps, and the frame generator trains on real landmark images anyway)


@dataclass
class FrameGenConfig:
    """Section 5: the pix2pixHD generator G: UBKP-FL image (+ past L inputs and outputs) -> frame."""

    past: int = (
        2  # L: past inputs and past generated frames each frame is conditioned on (zeros before the start)
    )
    ngf: int = 32  # GlobalGenerator channels of the first level
    n_downsampling: int = 3  # stride-2 levels; the frame size must be divisible by 2**n_downsampling
    n_blocks: int = 4  # ResNet blocks at the bottleneck
    ndf: int = 32  # space-time discriminator channels of the first layer
    n_layers: int = 3  # stride-2 layers per PatchGAN
    num_D: int = 3  # space-time discriminator scales k = 1..3 (eq. 4)  # noqa: N815
    alpha_fm: float = 10.0  # alpha of eq. 4 (feature matching)
    beta_vgg: float = 10.0  # beta of eq. 4 (perceptual reconstruction, summed over the L+1 frames)
    lambda_l1: float = (
        0.0  # optional RGB L1 on the L+1 frames, not in eq. 4 (anchors colours on short CPU runs)
    )
    lambda_face: float = 0.0  # optional RGB L1 inside the landmark crop's square (the face), not in eq. 4
    face_gan: float = (
        0.0  # optional conditional face discriminator on the landmark crop's square (GAN + alpha * FM,
    )
    # conditioned on the landmark lines there), not in the paper; 0 = none
    face_refine: int = (
        0  # channels (ngf) of a face generator on the landmark crop's square: it sees only the landmark
    )
    # crop and the generated face there and moves it (a flow) and adds a correction (Chan et al.'s face GAN; not in this paper);
    # 0 = none. Meant to follow the landmarks where G recalls the face from the body pose (experiments/upper_body_follow.py)
    face_warp: float = (
        50.0  # with face_refine: weight of the refiner's own L1 on the real face, unwarped, moved to
    )
    # its expression-warped landmarks (model.expression) and warped face, squares jittered together; 0 = none
    detach_past: bool = False  # stop gradients through the past generated frames fed back into G


@dataclass
class UpperBodyConfig:
    """The upper-body method: FAUP -> landmarks (section 4), UBKP-FL -> frame with temporal smoothing (section 5)."""

    size: int = 128  # square frame size the model trains and renders at (clips are resized to it)
    landmark: LandmarkGenConfig = field(default_factory=LandmarkGenConfig)
    frame: FrameGenConfig = field(default_factory=FrameGenConfig)
    gan_mode: Literal["vanilla", "lsgan", "hinge"] = (
        "lsgan"  # adversarial loss form (paper: vanilla log loss)
    )
    lambda_landmark: float = 1.0  # weight of the landmark generator's loss (eq. 2) in the joint training sum
    feature_net: Literal["effnet", "vgg19"] = (
        "effnet"  # network of L_VGG: offline EfficientNet-lite0 or VGG-19
    )
    feature_weights: str | None = (
        None  # weights file for vgg19 (torchvision layout); effnet ships with its package
    )
    clamp_faup: bool = (
        True  # at transfer, clamp the driver's FAUP to the training range (1st-99th pct., warps included)
    )
    warp_expression: bool = (
        True  # at transfer, warp each output face by the driver's (unclamped) expression: its
    )
    # action units minus the target's typical ones, fitted to the smile / jaw / brow warp modes (not in the paper;
    # off = the networks alone; `transfer --no-expression-warp`)
    hands: bool = True  # draw the hands into the UBKP image (the body part of UBKP-FL)
    augment: AugmentConfig = field(
        default_factory=AugmentConfig
    )  # pose augmentation of the frame generator's
    # windows (not in the paper; reenactor.data.augment): one transform per window, prob 0 = the paper
    expression: ExpressionWarpConfig = field(default_factory=ExpressionWarpConfig)  # expression warps of the
    # windows' faces with their landmarks and FAUP (not in the paper; reenactor.face.expression_warp), prob 0 = off
    body_jitter: float = (
        0.0  # std (model pixels) of a random offset per body joint (not the head's) and per hand,
    )
    # one draw per window, on the UBKP input only, not in the paper: a short video's exact pose is a key to its
    # frame, so the frame generator can recall the face from the body and ignore the landmarks; 0 = off
    max_stored_poses: int = 2000  # training poses kept in the model file (normalization at transfer)
