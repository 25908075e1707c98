"""Typed config of performance cloning (Aberman et al. 2019, sections 3.1-3.2). ``pix2pix`` is the same method with
``frames=1`` and the unpaired branch off (see configs/pix2pix/default.yaml); every key is commented in
configs/cloning/default.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from ...data.augment import AugmentConfig


@dataclass
class VolumeConfig:
    """Pose volumes (section 3.1)."""

    joints: Literal["body", "upper_body"] = "body"  # BODY_25 joints drawn, one channel each
    sigma: float = 3.0  # Gaussian radius of a part-confidence map, pixels at `size`
    frames: int = 2  # N consecutive volumes stacked: input J*N channels, output 3*N (paper: N = 2)
    face: bool = False  # add 5 face-landmark channels (jaw, brows, nose, eyes, mouth); not in the paper
    face_sigma: float = 1.5  # Gaussian radius of the face-landmark maps, pixels at `size`


@dataclass
class GeneratorConfig:
    """The U-Net generator G (pix2pix's, section 3.2) from reenactor.nn."""

    ngf: int = 32  # channels of the first encoder level
    num_downs: int = 5  # stride-2 encoder levels (128 px -> 4 px); size must be divisible by 2**num_downs
    norm: str = "instance"  # conv-block normalization: batch | instance | none
    dropout: float = 0.0  # dropout in the inner decoder levels (pix2pix used 0.5 as its noise; 0 = off)
    upsample: str = (
        "transpose"  # decoder levels: 4x4 transposed convs (pix2pix) | nearest | bilinear (a resize
    )
    # then a 3x3 conv: no checkerboard)


@dataclass
class DiscriminatorConfig:
    """The space-time PatchGANs D_p (conditional, N(3+J) channels) and D_s (unconditional, 3N channels)."""

    ndf: int = 32  # channels of the first layer
    n_layers: int = 3  # stride-2 layers (3 = 70x70 receptive field)
    # D_s's stride-2 layers (None: n_layers, the paper's one architecture for both); 2 = 34x34 patches
    n_layers_s: int | None = None
    num_D: int = 1  # scales (1 = the paper's single PatchGAN; 2+ = pix2pixHD multi-scale)  # noqa: N815
    norm: str = "instance"  # batch | instance | none


@dataclass
class LossConfig:
    """Loss weights and schedule (eqs. 1-6)."""

    #: keys older versions wrote (model files keep their config): read and ignored, with why
    RETIRED: ClassVar[dict[str, str]] = {
        "paired_only_steps": "the paired-only stage is a share of the run now: model.loss.paired_only"
    }

    gan_mode: Literal["vanilla", "lsgan", "hinge"] = "lsgan"  # adversarial loss form (paper: vanilla)
    lambda_gan: float = 1.0  # weight of L_gan_p (eq. 2) in L_rec (eq. 3)
    lambda_vgg: float = 10.0  # weight of the feature L1 (eq. 1) in L_rec (eq. 3)
    lambda_l1: float = 10.0  # RGB L1: the efficientnet first block is stride 2 and blind to full-resolution
    # patterns (VGG relu1_1 is not); 0 = the paper's loss (use it with feature_net: vgg19)
    feature_net: Literal["effnet", "vgg19"] = "effnet"  # phi of eq. 1: offline EfficientNet-lite0 or VGG-19
    feature_weights: str | None = None  # weights file for vgg19 (relu1_1); effnet ships with its package
    lambda_s: float = 0.1  # global weight of the unpaired branch (eq. 6), once it is switched on
    lambda_tc: float = 10.0  # weight of the temporal-coherence loss (eq. 4) inside the unpaired branch
    # share of the run that trains the paired branch only (lambda_s = 0; section 3.2's "first few epochs"): of
    # trainer.steps, or of the wall-clock budget (--budget) when that ends the run first
    paired_only: float = 0.2
    alpha_sigma: float = 6.0  # pixels: Gaussian falloff from the limbs of alpha(y) in eq. 4
    alpha_conf: float = 0.05  # a limb weighs in alpha(y) when both its joints have this confidence or more


@dataclass
class CloningConfig:
    """Performance cloning: one generator G over N stacked pose volumes, paired + unpaired branches."""

    size: int = 128  # square frame size the model trains and renders at (clips are resized to it)
    volume: VolumeConfig = field(default_factory=VolumeConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    unpaired: bool = True  # train the unpaired branch when unpaired clips are given (--unpaired CLIP ...)
    unpaired_align: Literal["fit", "none"] = "fit"  # unpaired poses onto the target: fit = one scale + one
    # translation per clip (section 3.1); none = as they are (same person and camera, driven unnormalized)
    max_stored_poses: int = (
        2000  # training poses kept in the model file (coverage + normalization at transfer)
    )
