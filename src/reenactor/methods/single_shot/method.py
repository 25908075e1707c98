"""single_shot: single-shot freestyle dance reenactment (Gafni, Ashual and Wolf 2021), three networks trained on
many people's clips, then given one photo of a new person at transfer time (a *reference* method).

* **P2B** (sec. 3.1): target layout p^M* + driving stick figure P^S + pseudo-IUV P^D -> the layout P^M in the
  driving pose. Eq. 9: ``L = sum_k (L_LS^k + lambda_D L_FM^k) + lambda_CE L_CE`` with the LSGAN term (eq. 10),
  discriminator feature matching (eq. 11) over k = 2 scales and the cross-entropy with the real layout (eq. 12);
  lambda_D = 40, lambda_CE = 1. The 22 outputs are label logits; the map D sees is their softmax (the paper:
  a sigmoid), so fake and real (one-hot) maps are both distributions over the labels.
* **B2F** (sec. 3.2): e_z (:mod:`.appearance`) -> FC -> SPADE decoder conditioned on the layout (+ the five
  face parts) -> image z and mask m; f = z m + b (1 - m) (eq. 7). Hinge GAN (eqs. 13-14; eq. 14's real/fake
  swap read as the usual hinge loss of [26, 51]) and feature matching (eq. 15) over 2 conditional
  discriminators, perceptual loss (eq. 16, the ImageNet network in place of VGG), a perceptual loss on the face
  crop (the face emphasis) and lambda_m ||m - P^D+||_1 (eq. 17, lambda_m = 5). Every image loss sees the person
  only: z and x are multiplied by the binarized layout first (z^b, x^b of eq. 15). B2F trains on real layouts.
  With ``b2f.region_colour`` (ours) its condition also holds the photo's region colours painted into the layout.
* **FR** (sec. 3.3): the face crop c^0 of f^0 (detached) and the target face's descriptor -> c, m^c (eq. 19),
  blended back. Losses: L1 and perceptual to the real face crop, eq. 18's top level (pooled deepest features
  of the crop against the target's face crop c_I; the spatial levels compare faces in different poses), the
  mask term and one hinge discriminator.

The three graphs are disjoint, so ``model.stage: all`` (one run, the losses summed) trains each network exactly
as its own run would with one learning rate; ``p2b`` / ``b2f`` / ``fr`` train one network, the others loaded
from ``model.init_from`` (the export always holds all three, and its meta says which were ever trained).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...config import to_dict
from ...errors import ConfigError
from ...nn.convert import one_hot
from ...pose.skeleton import skeleton_spec
from ..base import REFERENCE, InferenceOption, Method, StepOutput, Synthesizer, export_tensors
from . import maps
from .appearance import AppearanceEncoder, FaceEmbedder, appearance_vector
from .config import STAGES, SingleShotConfig, face_side
from .networks import b2f_condition, build_generators, crop, p2b_channels, seg_channels

logger = logging.getLogger(__name__)

NETWORKS = {"p2b": "P2B", "b2f": "B2F", "fr": "FR"}


def stages_of(stage: str) -> set[str]:
    """The networks ``model.stage`` trains."""
    if stage not in STAGES:
        raise ConfigError(f"model.stage must be one of {', '.join(STAGES)}, not {stage!r}")
    return {"p2b", "b2f", "fr"} if stage == "all" else {stage}


def check_config(cfg: SingleShotConfig) -> None:
    """Sizes the networks can be built at, one :class:`ConfigError` naming the keys otherwise."""
    checks = [
        (
            cfg.size % 2**cfg.p2b.n_downsampling == 0,
            "model.size must be divisible by 2**model.p2b.n_downsampling",
        ),
        (cfg.size % 2**cfg.b2f.n_up == 0, "model.size must be divisible by 2**model.b2f.n_up"),
        (face_side(cfg) % 2**cfg.fr.n_down == 0, "model.face_crop must be divisible by 2**model.fr.n_down"),
        (cfg.p2b.stretch >= 1.0, "model.p2b.stretch must be >= 1 (1 = no squeeze/stretch)"),
        (cfg.face_pad > 0 and cfg.b2f.crop >= 8, "model.face_pad must be > 0 and model.b2f.crop >= 8"),
    ]
    for ok, msg in checks:
        if not ok:
            raise ConfigError(f"{msg} (size {cfg.size}, face_crop {face_side(cfg)})")


def layout_image(probs: torch.Tensor) -> torch.Tensor:
    """(B, 22, H, W) label scores -> (B, 3, H, W) in [-1, 1], the argmax in the LIP/CIHP palette (visuals)."""
    pal = torch.from_numpy(maps.LAYOUT.palette.astype(np.float32) / 127.5 - 1.0).to(probs.device)
    return pal[probs.argmax(1)].permute(0, 3, 1, 2)


def load_networks(path: str, nets: dict[str, nn.Module], method: str) -> set[str]:
    """Load ``nets`` from a model file of this method (``model.init_from``); the stages it trained."""
    from ...modelfile import load_stage_networks

    return load_stage_networks(
        path,
        nets,
        method,
        "use the model.size and model.p2b / b2f / fr settings of the run that wrote it (a model from before "
        "model.b2f.region_colour existed: --set model.b2f.region_colour=false)",
    )


class SingleShotMethod(Method):
    """See the module docstring. Batches come from :class:`.dataset.SingleShotPairs`."""

    name = "single_shot"
    Config = SingleShotConfig
    check_config = staticmethod(check_config)
    kind = REFERENCE
    precisions = ("fp32", "bf16")
    clip_stages = ("layout", "background")
    inference_options = (
        InferenceOption(
            "face_refine",
            bool,
            None,
            "run single_shot's face refinement network FR (sec. 3.3) on every frame (default: on when the "
            "model's FR was trained)",
        ),
    )

    @classmethod
    def ablations(cls, synthesizer: Synthesizer) -> list[tuple[str, dict[str, Any]]]:
        """Without the face refinement (the FR row of the paper's ablation), when this model refines."""
        return [(" -FR", {"face_refine": False})] if getattr(synthesizer, "refine", False) else []

    def __init__(self, cfg: SingleShotConfig):
        super().__init__(cfg)
        from ...losses import PerceptualLoss
        from ...nn import MultiscaleDiscriminator
        from ...nn.backbones import load_feature_net

        check_config(cfg)
        self.stages = stages_of(cfg.stage)
        b = cfg.b2f
        net = load_feature_net(b.feature_net, b.feature_weights, verbose=True)
        self.appearance = AppearanceEncoder(net)
        self.perceptual = PerceptualLoss(net)
        self.embedder = FaceEmbedder()
        self.P2B, self.B2F, self.FR = build_generators(cfg, self.appearance.dim)
        p, f = cfg.p2b, cfg.fr
        self.D_p2b = (
            MultiscaleDiscriminator(p2b_channels(cfg) + maps.N_LABELS, p.ndf, p.n_layers, p.num_D)
            if "p2b" in self.stages
            else None
        )
        self.D_b2f = (
            MultiscaleDiscriminator(seg_channels(cfg) + 3, b.ndf, b.n_layers, b.num_D)
            if "b2f" in self.stages
            else None
        )
        self.D_fr = MultiscaleDiscriminator(3, f.ndf, f.n_layers, 1) if "fr" in self.stages else None
        self.loaded: set[str] = set()
        if cfg.init_from:
            self.loaded = load_networks(cfg.init_from, self.generators(), self.name)
            logger.info(
                f"[single_shot] networks from {cfg.init_from} (trained there: "
                f"{', '.join(sorted(self.loaded)) or 'none'})"
            )
        for stage, name in NETWORKS.items():
            getattr(self, name).requires_grad_(stage in self.stages)
        logger.info(
            f"[single_shot] appearance encoders (frozen): t_1 face+hair -> {self.embedder.description}; "
            f"t_2..t_5 upper clothes, lower clothes, shoes, skin -> {self.appearance.description}"
        )
        untrained = [s for s in ("p2b", "b2f", "fr") if s not in self.stages | self.loaded]
        if untrained:
            logger.info(
                f"[single_shot] note: this run trains {', '.join(sorted(self.stages))}; "
                f"{', '.join(untrained)} will be exported untrained (train them with --set model.stage=NAME "
                "--set model.init_from=RUN_DIR/model.safetensors)"
            )
        self._degraded_note = False

    def train(self, mode: bool = True) -> SingleShotMethod:
        """Networks this run does not train stay in eval mode (a frozen B2F's batch norms use their stored
        statistics, not the batch's)."""
        super().train(mode)
        for stage, name in NETWORKS.items():
            if stage not in self.stages:
                getattr(self, name).eval()
        return self

    def generators(self) -> dict[str, nn.Module]:
        """The three exported networks by their export names."""
        return {"P2B": self.P2B, "B2F": self.B2F, "FR": self.FR}

    @property
    def b2f_ready(self) -> bool:
        """Whether B2F is trained (in this run or before), so FR can learn from its faces."""
        return "b2f" in self.stages | self.loaded

    # ------------------------------------------------------------------ data
    def build_dataset(self, clips: list, unpaired: list | None = None, pairs=None, **kw: Any):
        from .dataset import SingleShotPairs

        return SingleShotPairs(clips, pairs, self.cfg, self.stages, self.embedder)

    def prepare_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        """What the networks read, from the compact items, batched on the device (:func:`.dataset.prepare_pairs`):
        P2B's input (layout one-hot, stick figure, pseudo-IUV), B2F's one-hot layout, mask and frames."""
        from .dataset import prepare_pairs

        return prepare_pairs(batch, self.cfg.size)

    # ------------------------------------------------------------------ training
    def generator_parameters(self) -> list[nn.Parameter]:
        return [p for s in sorted(self.stages) for p in getattr(self, NETWORKS[s]).parameters()]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        ds = (self.D_p2b, self.D_b2f, self.D_fr)
        return [p for d in ds if d is not None for p in d.parameters()]

    def generator_step(self, batch: dict[str, torch.Tensor], step: int) -> StepOutput:
        out = StepOutput(losses={})
        if "p2b" in self.stages:
            self._p2b_step(batch, out)
        if "b2f" in self.stages or ("fr" in self.stages and self.b2f_ready):
            f0 = self._b2f_step(batch, out)
        else:  # FR alone without a trained B2F: its inputs are degraded real faces (_degrade)
            f0 = None
        if "fr" in self.stages:
            self._fr_step(batch, f0, out)
        return out

    def _p2b_step(self, batch: dict[str, torch.Tensor], out: StepOutput) -> None:
        """Eqs. 9-12."""
        from ...losses import cross_entropy, feature_matching, gan_loss_g

        c = self.cfg.p2b
        x, gt = batch["p2b_in"], batch["p2b_target"]
        logits = self.P2B(x)
        fake = torch.softmax(logits.float(), 1).to(logits.dtype)
        real = one_hot(gt, maps.N_LABELS, dtype=fake.dtype)
        d_fake = self.D_p2b(torch.cat([x.to(fake.dtype), fake], 1))
        d_real = self.D_p2b(torch.cat([x.to(fake.dtype), real], 1))
        k = c.num_D  # eq. 9 sums over the scales; the shared losses average them
        out.losses["p2b_gan"] = c.lambda_gan * k * gan_loss_g(d_fake, "lsgan")
        out.losses["p2b_fm"] = c.lambda_fm * k * feature_matching(d_real, d_fake)
        out.losses["p2b_ce"] = c.lambda_ce * cross_entropy(logits, gt)
        out.cache["p2b_fake"] = fake.detach()
        out.visuals["p2b_real"] = layout_image(real)
        out.visuals["p2b_fake"] = layout_image(fake.detach())

    def _b2f_step(self, batch: dict[str, torch.Tensor], out: StepOutput) -> torch.Tensor:
        """Eqs. 13-17 (when B2F trains); returns f^0 = z m + b (1 - m) (eq. 7) for FR."""
        from ...losses import feature_matching, gan_loss_g, l1, masked_l1

        c = self.cfg.b2f
        seg, x, mask, bg = batch["seg"], batch["image"], batch["mask"], batch["background"]
        train = "b2f" in self.stages
        with torch.set_grad_enabled(train and torch.is_grad_enabled()):
            e_z = appearance_vector(batch["face_desc"], self.appearance(batch["crops"]))
            z, m = self.B2F(e_z, b2f_condition(seg, batch.get("colours")))
        f0 = z * m + bg.to(z.dtype) * (1 - m)
        if not train:
            return f0.detach()
        zb, xb = z * mask.to(z.dtype), x * mask
        d_fake = self.D_b2f(torch.cat([seg.to(zb.dtype), zb], 1))
        d_real = self.D_b2f(torch.cat([seg, xb], 1))
        k = c.num_D
        theta, valid = batch["face_theta"], batch["face_valid"][:, None, None, None]
        fc = face_side(self.cfg)
        out.losses["b2f_gan"] = c.lambda_gan * k * gan_loss_g(d_fake, "hinge")
        out.losses["b2f_fm"] = c.lambda_fm * k * feature_matching(d_real, d_fake)
        out.losses["b2f_vgg"] = c.lambda_vgg * self.perceptual(zb, xb)
        out.losses["b2f_face"] = c.lambda_face * self.perceptual(
            crop(zb, theta, fc), crop(xb, theta, fc).to(zb.dtype), mask=valid
        )
        out.losses["b2f_mask"] = c.lambda_mask * l1(m, mask)
        if c.lambda_l1 > 0:
            out.losses["b2f_l1"] = c.lambda_l1 * masked_l1(z, x, mask)
        out.cache["b2f_fake"] = zb.detach()
        out.visuals["b2f_real"] = x
        out.visuals["b2f_fake"] = f0.detach()
        out.visuals["b2f_mask"] = m.detach() * 2 - 1
        return f0.detach()

    def _degrade(self, real: torch.Tensor) -> torch.Tensor:
        """A stand-in for B2F's face when no trained B2F exists: the real crop at a quarter resolution."""
        if not self._degraded_note:
            logger.info(
                "[single_shot] note: FR trains without a trained B2F (none in this run or in model.init_from): "
                "its input faces are the real ones at a quarter resolution"
            )
            self._degraded_note = True
        s = real.shape[-1]
        small = F.interpolate(real, size=(max(s // 4, 1),) * 2, mode="area")
        return F.interpolate(small, size=(s, s), mode="bilinear", align_corners=False)

    def _fr_step(self, batch: dict[str, torch.Tensor], f0: torch.Tensor | None, out: StepOutput) -> None:
        """Sec. 3.3: refine the aligned face crop of f^0 (detached), blend it with its own mask (eq. 19)."""
        from ...losses import gan_loss_g, masked_l1

        c, fc = self.cfg.fr, face_side(self.cfg)
        theta, valid = batch["face_theta"], batch["face_valid"][:, None, None, None]
        real = crop(batch["image"], theta, fc)
        c0 = crop(f0, theta, fc) if f0 is not None else self._degrade(real)
        refined, mc = self.FR(c0.to(real.dtype), self.FR.embed(batch["face_desc"]))
        blended = refined * mc + c0.to(refined.dtype) * (1 - mc)
        w = valid.expand(-1, 1, fc, fc)
        out.losses["fr_rec"] = c.lambda_rec * masked_l1(blended, real, w)
        out.losses["fr_vgg"] = c.lambda_vgg * self.perceptual(blended, real.to(blended.dtype), mask=valid)
        if c.lambda_id > 0:
            feat = self.appearance.net
            pooled = feat(blended)[-1].float().mean(dim=(2, 3))
            with torch.no_grad():
                target = feat(batch["source_face"])[-1].float().mean(dim=(2, 3))
            out.losses["fr_id"] = c.lambda_id * ((pooled - target).abs().mean(1) * valid.flatten()).mean()
        out.losses["fr_mask"] = c.lambda_mask * mc.float().mean()
        out.losses["fr_gan"] = c.lambda_gan * gan_loss_g(self.D_fr(blended), "hinge")
        out.cache["fr_fake"] = blended.detach()
        out.cache["fr_real"] = real

    def discriminator_step(
        self, batch: dict[str, torch.Tensor], step: int, cache: dict[str, Any]
    ) -> dict[str, torch.Tensor]:
        """The LSGAN discriminators of P2B (eq. 10's D side), the hinge discriminators of B2F (eq. 14) and FR."""
        from ...losses import gan_loss_d

        d: dict[str, torch.Tensor] = {}
        if "p2b_fake" in cache:
            c = self.cfg.p2b
            x = batch["p2b_in"]
            real = one_hot(batch["p2b_target"], maps.N_LABELS, dtype=x.dtype)
            fake = cache["p2b_fake"].to(x.dtype)
            d["d_p2b"] = (
                c.lambda_gan
                * c.num_D
                * gan_loss_d(
                    self.D_p2b(torch.cat([x, real], 1)), self.D_p2b(torch.cat([x, fake], 1)), "lsgan"
                )
            )
        if "b2f_fake" in cache:
            c = self.cfg.b2f
            seg = batch["seg"]
            xb = batch["image"] * batch["mask"]
            fake = cache["b2f_fake"].to(xb.dtype)
            d["d_b2f"] = (
                c.lambda_gan
                * c.num_D
                * gan_loss_d(
                    self.D_b2f(torch.cat([seg, xb], 1)), self.D_b2f(torch.cat([seg, fake], 1)), "hinge"
                )
            )
        if "fr_fake" in cache:
            c = self.cfg.fr
            d["d_fr"] = c.lambda_gan * gan_loss_d(
                self.D_fr(cache["fr_real"]), self.D_fr(cache["fr_fake"].to(cache["fr_real"].dtype)), "hinge"
            )
        return d

    # ------------------------------------------------------------------ export / inference
    def inference_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors = export_tensors(self.generators())
        meta = {
            "size": [self.cfg.size, self.cfg.size],
            "skeleton": skeleton_spec(),
            "stages": sorted(self.stages | self.loaded),  # networks that were ever trained
            "layout_labels": list(maps.LAYOUT.labels),
            "appearance": {"face": self.embedder.description, "body": self.appearance.description},
            "config": to_dict(self.cfg),
        }
        return tensors, meta

    @classmethod
    def synthesizer(
        cls,
        cfg: SingleShotConfig,
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        options: dict[str, Any] | None = None,
    ) -> Synthesizer:
        from .synthesizer import SingleShotSynthesizer

        return SingleShotSynthesizer.from_state(cfg, tensors, meta, device, precision, options or {})
