"""Typed config of single_shot (Gafni et al. 2021). Every key is commented in configs/single_shot/default.yaml
(CPU-sensible sizes, the defaults here) and configs/single_shot/paper.yaml (the paper's sizes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

STAGES = ("all", "p2b", "b2f", "fr")


@dataclass
class P2BConfig:
    """Pose2Body (sec. 3.1): pix2pixHD GlobalGenerator, two multi-scale LSGAN discriminators, eqs. 9-12."""

    ngf: int = 32  # channels of the first generator layer (pix2pixHD: 64)
    n_downsampling: int = 3  # stride-2 encoder layers; size must be divisible by 2**n_downsampling
    n_blocks: int = 6  # residual blocks n_r (not given in the paper; pix2pixHD: 9)
    densepose: bool = True  # the pseudo-IUV input P^D (false: the "no DP" ablation of Table 2)
    ndf: int = 32  # channels of the first discriminator layer
    n_layers: int = 3  # stride-2 discriminator layers
    num_D: int = 2  # discriminator scales k (paper: 2)  # noqa: N815
    lambda_gan: float = 1.0  # weight of the LSGAN term (eq. 10), summed over the k scales (eq. 9)
    lambda_fm: float = 40.0  # lambda_D: feature matching (eq. 11) (paper: 40)
    lambda_ce: float = 1.0  # lambda_CE: cross-entropy with the real layout (eq. 12) (paper: 1)
    aug_prob: float = 0.5  # share of items rotated and scaled (inputs and output alike)
    rotate: float = 10.0  # largest rotation, degrees
    # largest relative scale change. 0.35 (ours; the paper gives no amount): a torso that fills the frame's width,
    # as carphone's does in every frame, shows no edge to squeeze or stretch; zoomed out it does
    # (docs/single_shot.md, "Body shape": torso slope 0.19-0.67 over 5 runs -> 0.35-0.87 over 5, with stretch 1.6)
    scale: float = 0.35
    # squeeze/stretch of the layouts (input and target, never the pose) by a factor in [1/stretch, stretch] about
    # the body's axis (sec. 3.1); 1 = off (the Table 2 ablation). 1.6 (ours): the measured range, 0.8-1.25,
    # sits inside the trained one
    stretch: float = 1.6
    stretch_prob: float = 0.5  # share of items squeezed or stretched


@dataclass
class B2FConfig:
    """Body2Frame (sec. 3.2): five-part appearance encoder, FC, SPADE decoder with a mask head, eqs. 13-17."""

    #: what a model file written before a key existed was built with (:func:`reenactor.config.with_legacy`)
    LEGACY: ClassVar[dict[str, object]] = {"region_colour": False}

    ngf: int = 32  # decoder width: the first map has ngf * 2 * min(2**(n_up-1), max_mult) channels
    n_up: int = 5  # SPADE blocks with x2 upsampling; the first map is size / 2**n_up (paper: 7, 4x4 -> 512)
    max_mult: int = 16  # cap of the channel multiplier (paper's first map: 1024 channels)
    spade_hidden: int = 64  # hidden channels of each SPADE modulation
    # the SPADE blocks' parameter-free norm: instance (per item and channel, so what e_z says about a whole
    # item, its colour, cannot pass) | batch (SPADE's own: e_z then moves the colour, but the CPU probe lost
    # identity; docs/single_shot.md)
    spade_norm: Literal["instance", "batch"] = "instance"
    face_parts: bool = True  # also condition on the 5 face-part labels from the driving landmarks
    crop: int = 64  # side of the appearance crops t_2..t_5 (paper: 224)
    feature_net: Literal["effnet", "vgg19"] = "effnet"  # ImageNet network of the crops and the perceptual
    # losses (eq. 16): effnet (offline EfficientNet-Lite0) | vgg19 (needs feature_weights)
    feature_weights: str | None = None  # VGG-19 weights file for feature_net: vgg19 (never downloaded)
    ndf: int = 32  # channels of the first discriminator layer
    n_layers: int = 3  # stride-2 discriminator layers
    num_D: int = 2  # discriminator scales (paper: 2)  # noqa: N815
    lambda_gan: float = 1.0  # hinge loss (eqs. 13-14), summed over the scales
    lambda_fm: float = 10.0  # discriminator feature matching (eq. 15) (not given; SPADE's 10)
    lambda_vgg: float = 10.0  # perceptual loss on the person (eq. 16) (not given; SPADE's 10)
    lambda_face: float = 5.0  # perceptual loss on the face crop (the "face emphasis") (not given)
    lambda_mask: float = 5.0  # lambda_m: L1 of the mask to the binarized layout (eq. 17) (paper: 5)
    lambda_l1: float = 10.0  # RGB L1 on the person (not in the paper: EfficientNet's first map is at half
    # resolution, so the perceptual loss alone leaves fine colour unconstrained; 0 = the paper's losses)
    aug_prob: float = 0.5  # share of items randomly resized and shifted (sec. 3.2)
    scale: float = 0.1  # largest relative scale change
    shift: float = 0.05  # largest shift, fraction of the frame
    flip: bool = True  # mirror half the items (left and right labels swap)
    hue_prob: float = 0.5  # share of pairs whose clothes turn hue (source and target alike), so the
    # rendered colour must come from e_z (not in the paper; 0 = off)
    hue_jitter: float = 180.0  # largest hue turn, degrees
    colour_shift: float = 40.0  # with the hue turn, the clothes' colour also moves by up to this much in each
    # of L*, a*, b* (OpenCV's 8-bit Lab): a dark grey suit turned in hue stays grey, a shift colours it (ours)
    region_colour: bool = (
        True  # paint the target photo's mean colour of each body group (clothes, shoes, skin)
    )
    # into B2F's condition (3 channels; ours, SEAN's per-region style in its simplest form): it passes the norms
    # (model files from before this key: false, see LEGACY)


@dataclass
class FRConfig:
    """Face refinement (sec. 3.3): encoder-decoder on the aligned face crop, conditioned on the target face."""

    ngf: int = 16  # channels of the first encoder layer
    n_down: int = 3  # stride-2 layers; face_crop must be divisible by 2**n_down
    n_blocks: int = 2  # residual blocks at the bottleneck
    ndf: int = 32  # channels of its one discriminator's first layer
    n_layers: int = 2  # stride-2 discriminator layers
    lambda_gan: float = 1.0  # hinge loss of the one discriminator
    lambda_rec: float = 10.0  # L1 of the blended crop to the real face ([15]'s reconstruction term)
    lambda_vgg: float = 5.0  # perceptual loss of the blended crop to the real face
    lambda_id: float = 0.0  # eq. 18's top level: pooled deepest features of the crop vs the target's face. 0:
    # with EfficientNet in place of VGGFace2 the term pulls the face away from the target's identity (dlib)
    lambda_mask: float = 0.1  # mask regularization: mean of m^c ([15]'s mask term)
    apply: bool = True  # run FR at transfer (the --face-refine / --no-face-refine default)


@dataclass
class SingleShotConfig:
    """single_shot: P2B -> B2F -> FR, trained as stages of one run or one stage per run."""

    size: int = 128  # square frame size the networks train and render at
    stage: Literal["all", "p2b", "b2f", "fr"] = "all"  # networks this run trains (the rest are exported as
    # they are: loaded from init_from, or untrained)
    init_from: str | None = None  # model file of an earlier single_shot run: all three networks start from it
    # (per-stage training: train p2b, then b2f with init_from its model, then fr)
    face_crop: int | None = None  # side of the aligned face crop (FR and the B2F face loss); divisible by
    # 2**fr.n_down. None: derived from size (:func:`face_side`), about the face's own pixels
    face_pad: float = 1.4  # face crop side = face_pad x the face label's longer side
    p2b: P2BConfig = field(default_factory=P2BConfig)
    b2f: B2FConfig = field(default_factory=B2FConfig)
    fr: FRConfig = field(default_factory=FRConfig)


def face_side(cfg: SingleShotConfig) -> int:
    """The aligned face crop's side: ``cfg.face_crop``, or when None 7/16 of the frame size rounded up to a multiple
    of ``2**fr.n_down``. 7/16 is the paper's ratio (224 px crops of 512 px frames); with ``face_pad`` 1.4 a
    carphone face at 128 px spans about 60 px, so the crop (56) neither throws away the face's detail, as a fixed
    32 did at 128 px, nor invents it."""
    if cfg.face_crop is not None:
        return int(cfg.face_crop)
    step = 2**cfg.fr.n_down
    return max(step, -(-(cfg.size * 7) // (16 * step)) * step)
