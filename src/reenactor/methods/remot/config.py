"""Typed config of remot (Yang et al. 2021, REMOT). Every key is commented in configs/remot/default.yaml
(CPU-sensible sizes, the defaults here) and configs/remot/paper.yaml (the paper's sizes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

STAGES = ("all", "layout", "region", "wcn")


@dataclass
class LayoutGANConfig:
    """Layout GAN (eqs. 2a-c): E_s, E_p, E_g -> raw layout D_r and flow + mask D_w (vid2vid-style)."""

    ngf: int = 16  # channels of each encoder's first layer
    n_down: int = 3  # stride-2 layers of each encoder; size divisible by 2**n_down
    n_blocks: int = 2  # residual blocks after the summed features, per decoder
    ndf: int = 16  # channels of the first discriminator layer
    n_layers: int = 2  # stride-2 discriminator layers
    num_D: int = 2  # discriminator scales  # noqa: N815
    lambda_gan: float = 1.0  # LSGAN term of the conditional layout discriminator (C2F-FWN: GAN + FM)
    lambda_fm: float = 10.0  # discriminator feature matching
    lambda_ce: float = 10.0  # cross-entropy of the blended layout (eq. 2c) with the real one
    lambda_flow: float = 1.0  # L1 of the real previous layout warped by w_t to the real current one (ours: no
    # FlowNet2 ground truth offline, so the flow learns from the layouts it moves)
    cold_prob: float = 0.2  # share of windows whose first frame has no history (as transfer's first frame)


@dataclass
class RegionGANConfig:
    """Region GAN (eqs. 3, 5-10): one generator for the five regions, conditional multi-scale PatchGAN."""

    ngf: int = 16  # channels of E_m's and E_r's first layer
    n_down: int = 3  # stride-2 layers; size divisible by 2**n_down
    n_blocks: int = 2  # residual blocks at the bottleneck
    ndf: int = 16  # channels of the first discriminator layer
    n_layers: int = 2  # stride-2 discriminator layers
    num_D: int = 2  # discriminator scales (eq. 8: multi-scale)  # noqa: N815
    lambda_gan: float = 1.0  # L_adv (eq. 8), LSGAN
    lambda_rec: float = 10.0  # lambda_rec, L1 (eq. 6) (paper: 10)
    # lambda_per, perceptual content + style (eq. 7); the paper's 10 is for VGG-19 (paper.yaml): on the EfficientNet
    # stand-in it outweighs the L1 ~30x and gave false colours, so the CPU default is 0 (docs/remot.md)
    lambda_per: float = 0.0
    lambda_style: float = 1.0  # weight of the Gram style term inside L_per (not given; 1 = content + style)
    # the previous region the window's first frame sees: real (teacher forcing: the real frame's regions) or
    # generated (ours: the Region GAN's own for that frame with no history, detached, as transfer feeds it; the
    # WCN's previous coarse frame is then their sum)
    previous: Literal["real", "generated"] = "real"


@dataclass
class WCNConfig:
    """Whole Composition Network (eqs. 11-15) with the Texture Alignment Module (eqs. 12-13)."""

    #: what a model file written before a key existed was built with (:func:`reenactor.config.with_legacy`)
    LEGACY: ClassVar[dict[str, object]] = {
        "warp": "none",
        "parts_into": "source",
        "tam_norm": "none",  # the TAM as written until the key came, and its default until 2026-12-07
        "tam_temperature": 1.0,
    }

    ngf: int = 16  # channels of the three encoders' first layer
    n_down: int = 2  # stride-2 layers: the TAM works at size / 2**n_down (notes: 1/4, N = (size/4)^2)
    n_blocks: int = 2  # residual blocks after F_t + F_p
    n_coarse: int = 2  # adjacent coarse frames E_1 sees (current and earlier; the paper: 3)
    tam: bool = True  # the Texture Alignment Module (false = the "w/o TAM" ablation: F_c + F_s)
    # affinity normalization: none (eq. 12 as written), n (divide by N) or softmax over the source positions
    # (ours, the CPU default: unnormalized, F_s A^T was 43x |F_c| and the same vector at every position)
    tam_norm: Literal["none", "n", "softmax"] = "softmax"
    # tam_norm softmax: softmax(A / this) (ours; CoCosNet's correspondence: 0.01)
    tam_temperature: float = 0.01
    # the flow refinement sec. 3.2 applies, to the source (ours, as few-shot vid2vid warps its reference): the WCN
    # also predicts a flow w and a mask m_w, person = (1 - m_w) D_f + m_w W(x, w), x: none (no flow), gam (the
    # GAM-aligned source) or parts (the photo moved part by part onto the driving keypoints, pose_warp's warp,
    # which an encoder then also sees: parts_into)
    warp: Literal["none", "gam", "parts"] = "parts"
    # warp parts: the encoder that sees the moved photo: coarse (E_1, with its alpha, beside the coarse frames: it
    # is in the driving pose already and reaches the decoder through E_1's skips) or source (E_3, RGB, beside the
    # GAM source: through the TAM, which sums over all positions and so loses where the photo's pixels are)
    parts_into: Literal["coarse", "source"] = "coarse"
    warp_flow: bool = True  # warp: the learned flow w moves x; false: w = 0, m_w blends x as it is
    blend: Literal["alpha", "add"] = (
        "alpha"  # eq. 15: alpha = (1 - M) y_fg + M B; add = y_fg + M B (as written,
    )
    # in [0, 1] intensities)
    ndf: int = 16  # channels of the first discriminator layer
    n_layers: int = 2  # stride-2 discriminator layers
    num_D: int = 2  # discriminator scales  # noqa: N815
    face_ndf: int = 16  # channels of the face discriminator's first layer
    face_layers: int = 2  # stride-2 layers of the face discriminator
    lambda_gan: float = 1.0  # LSGAN term of the frame discriminator
    lambda_fm: float = 10.0  # discriminator feature matching
    lambda_rec: float = 10.0  # L1 of the composited frame to the real one
    lambda_per: float = 0.0  # perceptual content + style of the frame (paper.yaml: 10; 0: see region's)
    lambda_style: float = 1.0  # weight of the Gram style term inside the perceptual loss
    lambda_face: float = 1.0  # LSGAN term of the face discriminator on the face box
    lambda_mask: float = 1.0  # L1 of the background mask M to the real background (ours: guides M early)
    # warp: few-shot vid2vid's mask loss on m_w: pulled to 1 where the moved x is within c = clamp(1 - sum_rgb
    # |W(x, w) - y|, 0, 1) of the real frame y, to 0 elsewhere: mean(c (1 - m_w) + (1 - c) m_w) (0 = off)
    lambda_warp_mask: float = 10.0
    # warp: L1 of the moved x to the real frame on the real person where x has pixels (vid2vid's warp loss,
    # which trains the flow by itself; 0 = off)
    lambda_warp: float = 10.0
    # warp: mean |w| in pixels (ours: the flow stays 0 where moving x does not pay)
    lambda_flow_reg: float = 1.0


@dataclass
class RemotConfig:
    """remot: Layout GAN -> GAM -> Region GAN -> WCN, trained as stages of one run or one stage per run."""

    size: int = 64  # square frame size (the paper: 256 x 192, here square crops as every reference method)
    stage: Literal["all", "layout", "region", "wcn"] = "all"  # networks this run trains (the rest are
    # exported as they are: loaded from init_from, or untrained)
    init_from: str | None = None  # model file of an earlier remot run: every network starts from it
    k: int = 1  # previous driving poses and generated layouts the Layout GAN sees (eq. 2; not given)
    window: int = 2  # consecutive frames generated per training item, each fed the previous outputs
    gam: bool = True  # the Global Alignment Module (false = the "w/o GAM" ablation: the source as it is)
    gam_edges: bool = False  # GAM: box sides on the frame border are not the person's (ours)
    wcn: bool = True  # the Whole Composition Network (false = "w/o WCN": the coarse person over B)
    face_crop: int = 16  # side of the face box crop the face discriminator sees
    face_pad: float = 1.4  # face box side = face_pad x the face label's longer side
    upsample: Literal["transpose", "nearest", "bilinear"] = "nearest"  # the generators' decoders double the
    # resolution by a resize then a conv (nearest/bilinear: no checkerboard) or a transposed conv (pix2pixHD's)
    feature_net: Literal["effnet", "vgg19"] = "effnet"  # network of the perceptual losses (eq. 7: VGG-19,
    # which needs feature_weights; effnet: the packaged EfficientNet-Lite0)
    feature_weights: str | None = None  # VGG-19 weights file for feature_net: vgg19 (never downloaded)
    layout: LayoutGANConfig = field(default_factory=LayoutGANConfig)
    region: RegionGANConfig = field(default_factory=RegionGANConfig)
    composition: WCNConfig = field(default_factory=WCNConfig)
