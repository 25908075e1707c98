"""remot: region-to-whole motion transfer (Yang et al. 2021, REMOT), a general model trained on many people's
clips and given one photo of a new person at transfer time (a *reference* method). Equations follow the rebuilt
numbering of ``notes-remot-psgan.md`` section A.

* **Layout GAN** (eqs. 2a-c, :class:`.networks.LayoutGAN`): source layout, current + k previous driving poses
  and the k previous generated layouts -> the layout in the driving pose, blended with the previous generated
  layout warped by a predicted flow through a predicted mask. Losses (the paper gives none; C2F-FWN's): the
  cross-entropy of the blended layout with the real one, a conditional multi-scale LSGAN + feature matching, and
  (ours, no FlowNet2 offline) the L1 of the real previous layout warped by w_t to the real current one.
* **GAM** (eq. 4, :func:`.networks.gam_warp`): the source person and its layout moved by s = h_d / h_s and the
  centre shift, numbers shared with the ``global_alignment`` normalization
  (:func:`reenactor.pose.normalize.alignment_numbers`). Training: M_d from the real layout; transfer: from the
  generated one.
* **Region GAN** (eqs. 3, 5-10, :class:`.networks.RegionGenerator`): one generator for the five regions, each
  from its region mask, the aligned source region (full-frame masks) and its previous output; eq. 9:
  L_G = L_adv + lambda_rec L1 + lambda_per (content + Gram style), summed over the regions, multi-scale
  conditional PatchGAN on (region mask, region).
* **WCN** (eqs. 11-15, :class:`.networks.WholeComposition`): coarse person = sum of the regions; E_1 on adjacent
  coarse frames, E_2 on [layout, pose], E_3 on the aligned source; the TAM; the person and a soft background
  mask composited over the background plate; L1, perceptual, frame and face discriminators.

Training as sec. 3.3 stages it: the Layout GAN and the Region GAN on real layouts, the WCN on the Region GAN's
(detached) outputs. ``model.stage: all`` trains the three at once (their graphs are disjoint: the WCN never
back-propagates into the Region GAN); ``layout`` / ``region`` / ``wcn`` train one, the others loaded from
``model.init_from``. Ablations are switches: ``gam: false``, ``wcn: false``, ``composition.tam: false``.
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
from ...nn.blocks import UPSAMPLE
from ...nn.convert import one_hot, unit_from_uint8
from ...pose.skeleton import skeleton_spec
from ..base import REFERENCE, InferenceOption, Method, StepOutput, Synthesizer, export_tensors
from . import maps
from .config import STAGES, RemotConfig
from .networks import build_generators, composite, crop, gam_warp, warp_mask_loss

logger = logging.getLogger(__name__)

#: model.stage -> export name of the network it trains
NETWORKS = {"layout": "LayoutGAN", "region": "RegionGAN", "wcn": "WCN"}


def stages_of(cfg: RemotConfig) -> set[str]:
    """The networks ``model.stage`` trains (``all`` without the WCN when ``wcn`` is off)."""
    if cfg.stage not in STAGES:
        raise ConfigError(f"model.stage must be one of {', '.join(STAGES)}, not {cfg.stage!r}")
    if cfg.stage == "wcn" and not cfg.wcn:
        raise ConfigError(
            "model.stage is wcn but model.wcn is false (the w/o WCN ablation has no WCN to train)"
        )
    if cfg.stage == "all":
        return {"layout", "region"} | ({"wcn"} if cfg.wcn else set())
    return {cfg.stage}


def check_config(cfg: RemotConfig) -> None:
    """Sizes the networks can be built at, one :class:`ConfigError` naming the keys otherwise."""
    n = max(cfg.layout.n_down, cfg.region.n_down, cfg.composition.n_down)
    checks = [
        (cfg.size % 2**n == 0, "model.size must be divisible by 2**n_down of every network"),
        (cfg.k >= 1, "model.k (previous poses / layouts) must be >= 1"),
        (cfg.window >= 1, "model.window must be >= 1"),
        (cfg.composition.n_coarse >= 1, "model.composition.n_coarse must be >= 1"),
        (
            cfg.composition.tam_norm in ("none", "n", "softmax"),
            "model.composition.tam_norm: none | n | softmax",
        ),
        (cfg.composition.tam_temperature > 0, "model.composition.tam_temperature must be > 0"),
        (cfg.region.previous in ("real", "generated"), "model.region.previous: real | generated"),
        (cfg.composition.warp in ("none", "gam", "parts"), "model.composition.warp: none | gam | parts"),
        (cfg.composition.parts_into in ("coarse", "source"), "model.composition.parts_into: coarse | source"),
        (cfg.composition.blend in ("alpha", "add"), "model.composition.blend: alpha | add"),
        (cfg.upsample in UPSAMPLE, f"model.upsample: {' | '.join(UPSAMPLE)}"),
    ]
    for ok, msg in checks:
        if not ok:
            raise ConfigError(f"{msg} (size {cfg.size})")


def load_networks(path: str, nets: dict[str, nn.Module], method: str) -> set[str]:
    """Load ``nets`` from a model file of this method (``model.init_from``); the stages it trained."""
    from ...modelfile import load_stage_networks

    return load_stage_networks(
        path, nets, method, "use the model.size, k and network settings of the run that wrote it"
    )


def aligned_source(
    image: torch.Tensor, labels: torch.Tensor, target: torch.Tensor | None, edges: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The source person x_s M_s and its one-hot layout (B, 6, S, S), moved onto ``target`` (B, S, S) class maps
    by the GAM (``edges``: :func:`.maps.gam_numbers`'s frame-border rule), or as they are when ``target`` is None
    (the w/o GAM ablation)."""
    onehot = one_hot(labels, maps.N_CLASSES, dtype=image.dtype)
    fg = image * (labels > 0).to(image.dtype)[:, None]
    if target is None:
        return fg, onehot
    nums = maps.gam_numbers(labels, target, edges)
    return gam_warp(fg, nums), gam_warp(onehot, nums, mode="nearest")


def region_inputs(
    masks: torch.Tensor, src: torch.Tensor, src_layout: torch.Tensor, previous: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The Region GAN's five items per frame, flattened to (B * 5, ...): region masks (B, 5, S, S) -> (B5, 1),
    the aligned source region x_s^i = GAM(x_s^fg) [GAM(L_s) = i] (B5, 3) and previous outputs (B, 5, 3, S, S)
    -> (B5, 3)."""
    b, r, h, w = masks.shape
    src_regions = src[:, None] * src_layout[:, 1:, None].to(src.dtype)
    return (
        masks.reshape(b * r, 1, h, w),
        src_regions.reshape(b * r, 3, h, w),
        previous.reshape(b * r, 3, h, w),
    )


class RemotMethod(Method):
    """See the module docstring. Batches come from :class:`.dataset.RemotPairs`."""

    name = "remot"
    Config = RemotConfig
    check_config = staticmethod(check_config)
    kind = REFERENCE
    precisions = ("fp32", "bf16")
    clip_stages = ("layout", "background")
    inference_options = (
        InferenceOption(
            "wcn",
            bool,
            None,
            "compose the frame with remot's Whole Composition Network (eqs. 11-15); --no-wcn pastes the coarse "
            "person (the sum of the Region GAN's regions) over the background instead, the paper's w/o WCN "
            "ablation (default: the model's model.wcn)",
        ),
        InferenceOption(
            "flow_gain",
            float,
            None,
            "scale of the WCN's learned flow before it moves the photo (0 = the photo as the part warp moved it, "
            "1 = as trained). Default: the model's own value, fitted on frames held out of its training "
            "(data.holdout; `reenactor info MODEL` shows it), else 1",
        ),
    )

    #: flow_gain values calibration tries (1, as trained, first: it wins a tie). Not 0: that switches the flow off,
    #: and the frames then flicker (TCM 0.029 against 0.067 at 0.25 on the same model, docs/remot.md), which a
    #: per-frame L1 cannot see
    FLOW_GAINS = (1.0, 0.75, 0.5, 0.25)

    @classmethod
    def calibrated_options(cls, cfg: RemotConfig) -> list[tuple[str, tuple[Any, ...]]]:
        """``flow_gain`` when the model composes with a learned flow: the WCN recalls its training frames and
        their flows with them, and on frames it never saw the recalled correction overshoots (docs/remot.md),
        which the training frames cannot show."""
        c = cfg.composition
        return [("flow_gain", cls.FLOW_GAINS)] if cfg.wcn and c.warp != "none" and c.warp_flow else []

    @classmethod
    def ablations(cls, synthesizer: Synthesizer) -> list[tuple[str, dict[str, Any]]]:
        """Without the WCN (Tables 3-4's w/o WCN: the same Layout and Region GANs, the coarse person over B),
        when this model composes with one."""
        return [(" w/o WCN", {"wcn": False})] if getattr(synthesizer, "use_wcn", False) else []

    def __init__(self, cfg: RemotConfig):
        super().__init__(cfg)
        from ...losses import PerceptualLoss
        from ...nn import MultiscaleDiscriminator
        from ...nn.backbones import load_feature_net

        check_config(cfg)
        self.stages = stages_of(cfg)
        nets = build_generators(cfg)
        self.LayoutGAN, self.RegionGAN = nets["LayoutGAN"], nets["RegionGAN"]
        self.WCN = nets.get("WCN")
        lg, rg, wc = cfg.layout, cfg.region, cfg.composition
        # the perceptual loss (eq. 7) runs where a trained stage weighs it; lambda_per 0 everywhere: no feature net
        per_weights = {
            s: w for s, w in (("region", rg.lambda_per), ("wcn", wc.lambda_per)) if s in self.stages
        }
        needs_per = any(w > 0 for w in per_weights.values())
        if per_weights and not needs_per:
            logger.info(
                f"[remot] perceptual loss off (lambda_per 0 in {', '.join(per_weights)}): no feature net"
            )
        net = load_feature_net(cfg.feature_net, cfg.feature_weights, verbose=True) if needs_per else None
        self.perceptual = PerceptualLoss(net) if net is not None else None
        n = maps.N_CLASSES
        has = self.stages.__contains__
        self.D_layout = (
            MultiscaleDiscriminator(3 + n, lg.ndf, lg.n_layers, lg.num_D) if has("layout") else None
        )
        self.D_region = (
            MultiscaleDiscriminator(1 + 3, rg.ndf, rg.n_layers, rg.num_D) if has("region") else None
        )
        self.D_frame = (
            MultiscaleDiscriminator(n + 3 + 3, wc.ndf, wc.n_layers, wc.num_D) if has("wcn") else None
        )
        self.D_face = MultiscaleDiscriminator(3, wc.face_ndf, wc.face_layers, 1) if has("wcn") else None
        self.loaded: set[str] = set()
        if cfg.init_from:
            self.loaded = load_networks(cfg.init_from, self.generators(), self.name)
            logger.info(
                f"[remot] networks from {cfg.init_from} (trained there: {', '.join(sorted(self.loaded))})"
            )
        for stage, name in NETWORKS.items():
            if getattr(self, name) is not None:
                getattr(self, name).requires_grad_(stage in self.stages)
        if "wcn" in self.stages and "region" not in self.stages | self.loaded:
            logger.info(
                "[remot] note: the WCN trains on an untrained Region GAN (train region first, sec. 3.3)"
            )
        untrained = [s for s in NETWORKS if s not in self.stages | self.loaded and (s != "wcn" or cfg.wcn)]
        if untrained:
            logger.info(
                f"[remot] note: this run trains {', '.join(sorted(self.stages))}; {', '.join(untrained)} will be "
                "exported untrained (train them with --set model.stage=NAME --set model.init_from=MODEL)"
            )

    def generators(self) -> dict[str, nn.Module]:
        """The exported networks by their export names."""
        nets = {"LayoutGAN": self.LayoutGAN, "RegionGAN": self.RegionGAN}
        if self.WCN is not None:
            nets["WCN"] = self.WCN
        return nets

    # ------------------------------------------------------------------ data
    def build_dataset(self, clips: list, unpaired: list | None = None, pairs=None, **kw: Any):
        from .dataset import RemotPairs

        return RemotPairs(clips, pairs, self.cfg)

    def prepare_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Stick figures, [-1, 1] images and int64 class maps from the compact items, batched on the device
        (:func:`.dataset.prepare_batch`)."""
        from .dataset import prepare_batch

        return prepare_batch(batch, self.cfg.size)

    # ------------------------------------------------------------------ training
    def generator_parameters(self) -> list[nn.Parameter]:
        return [p for s in sorted(self.stages) for p in getattr(self, NETWORKS[s]).parameters()]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        ds = (self.D_layout, self.D_region, self.D_frame, self.D_face)
        return [p for d in ds if d is not None for p in d.parameters()]

    def generator_step(self, batch: dict[str, torch.Tensor], step: int) -> StepOutput:
        out = StepOutput(losses={})
        onehot = one_hot(batch["layouts"], maps.N_CLASSES, dim=2)
        if "layout" in self.stages:
            self._layout_step(batch, onehot, out)
        if self.stages & {"region", "wcn"}:
            coarse, sources = self._region_step(batch, onehot, out)
            if "wcn" in self.stages:
                self._wcn_step(batch, onehot, coarse, sources, out)
        return out

    def _layout_step(self, batch: dict[str, torch.Tensor], onehot: torch.Tensor, out: StepOutput) -> None:
        """Eqs. 2a-c over the window, each frame fed the layouts generated before it."""
        from ...losses import feature_matching, gan_loss_g, l1, warp

        c, k = self.cfg.layout, self.cfg.k
        poses, cold = batch["poses"], batch["cold"]
        src = one_hot(batch["source_layout"], maps.N_CLASSES)
        keep = (1 - cold)[:, None, None, None, None]
        history = list((onehot[:, :k] * keep).unbind(1))
        ce, gan, fm, flow_l1, fakes, conds, reals = [], [], [], [], [], [], []
        for j in range(self.cfg.window):
            f = k + j
            first_cold = cold if j == 0 else torch.zeros_like(cold)
            lay, _, flow, _ = self.LayoutGAN(
                src, poses[:, f - k : f + 1].flatten(1, 2), torch.cat(history[-k:], 1), first_cold
            )
            history.append(lay)
            ce.append(F.nll_loss(torch.log(lay.float().clamp_min(1e-6)), batch["layouts"][:, f].long()))
            cond = poses[:, f]
            d_fake, d_real = (
                self.D_layout(torch.cat([cond, lay], 1)),
                self.D_layout(torch.cat([cond, onehot[:, f]], 1)),
            )
            gan.append(gan_loss_g(d_fake, "lsgan"))
            fm.append(feature_matching(d_real, d_fake))
            flow_l1.append(l1(warp(onehot[:, f - 1], flow), onehot[:, f]))
            fakes.append(lay.detach())
            conds.append(cond)
            reals.append(onehot[:, f])
        mean = lambda xs: torch.stack(xs).mean()  # noqa: E731
        out.losses["layout_ce"] = c.lambda_ce * mean(ce)
        out.losses["layout_gan"] = c.lambda_gan * c.num_D * mean(gan)
        out.losses["layout_fm"] = c.lambda_fm * c.num_D * mean(fm)
        if c.lambda_flow > 0:
            out.losses["layout_flow"] = c.lambda_flow * mean(flow_l1)
        out.cache["layout"] = (torch.cat(conds), torch.cat(reals), torch.cat(fakes))
        out.visuals["layout_real"] = self.layout_image(onehot[:, -1])
        out.visuals["layout_fake"] = self.layout_image(history[-1].detach())

    @staticmethod
    def layout_image(probs: torch.Tensor) -> torch.Tensor:
        """(B, 6, H, W) class scores -> (B, 3, H, W) in [-1, 1] (visuals): :func:`.maps.colourize`'s colours,
        looked up on the scores' device (visuals are made every step; no read back to the host)."""
        palette = torch.from_numpy(maps.colourize(np.arange(maps.N_CLASSES)[None])[0]).to(probs.device)
        return unit_from_uint8(palette[probs.argmax(1)].permute(0, 3, 1, 2))

    def _region_step(
        self, batch: dict[str, torch.Tensor], onehot: torch.Tensor, out: StepOutput
    ) -> tuple[list, list]:
        """Eqs. 3, 5-10 on the real layouts; returns the coarse persons (eq. 11) of every frame of the item,
        detached (the history frames: the real person; with ``region.previous: generated`` the Region GAN's own),
        and the GAM-aligned source person of each window frame (the WCN's E_3 input)."""
        from ...losses import gan_loss_g

        c, k, n_r = self.cfg.region, self.cfg.k, maps.N_REGIONS
        train = "region" in self.stages
        frames, cold = batch["frames"], batch["cold"]
        keep = (1 - cold)[:, None, None, None, None]
        real_regions = frames[:, :, None] * onehot[:, :, 1:, None]  # (B, T, 5, 3, S, S)
        coarse = [(real_regions[:, f] * keep).sum(1) for f in range(k)]
        prev = real_regions[:, k - 1] * keep
        if c.previous == "generated":  # eq. 3's previous R^_{t-1}: the Region GAN's own, as transfer feeds it
            with torch.no_grad():  # for frame k - 1 with no history (transfer's first frame)
                first = self._regions(batch, onehot[:, k - 1], k - 1, torch.zeros_like(prev))[1]
            prev = first.reshape(prev.shape) * keep
            # and the WCN's previous coarse frame (eq. 11) is their sum, as at transfer
            coarse[k - 1] = prev.sum(1)
        rec, per, sty, gan, cache, sources = [], [], [], [], [], []
        for j in range(self.cfg.window):
            f = k + j
            with torch.set_grad_enabled(train and torch.is_grad_enabled()):
                m, fake, src = self._regions(batch, onehot[:, f], f, prev)
            sources.append(src)
            prev = fake.reshape(prev.shape)
            coarse.append(prev.detach().sum(1))
            if not train:
                continue
            real = real_regions[:, f].flatten(0, 1)
            rec.append(F.l1_loss(fake.float(), real.float()))
            if c.lambda_per > 0:
                content, style = self.perceptual.content_and_style(fake, real)
                per.append(content)
                sty.append(style)
            d_fake = self.D_region(torch.cat([m, fake], 1))
            gan.append(gan_loss_g(d_fake, "lsgan"))
            cache.append((m, real, fake.detach()))
        if train:
            mean = lambda xs: torch.stack(xs).mean()  # noqa: E731
            # eq. 9, summed over the five regions: each term is a mean over the B x 5 region items, times 5
            out.losses["region_rec"] = n_r * c.lambda_rec * mean(rec)
            if per:
                out.losses["region_per"] = n_r * c.lambda_per * mean(per)
                if c.lambda_style > 0:
                    out.losses["region_style"] = n_r * c.lambda_per * c.lambda_style * mean(sty)
            out.losses["region_gan"] = n_r * c.lambda_gan * c.num_D * mean(gan)
            out.cache["region"] = tuple(torch.cat(x) for x in zip(*cache))
            out.visuals["region_coarse"] = coarse[-1]
            out.visuals["region_real"] = frames[:, -1] * (batch["layouts"][:, -1] > 0)[:, None].to(
                frames.dtype
            )
        return coarse, sources

    def _regions(
        self, batch: dict[str, torch.Tensor], onehot: torch.Tensor, f: int, previous: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Eqs. 3-5 for window frame ``f``: the source moved by the GAM onto its real layout ``onehot`` (B, 6, S,
        S), then the Region GAN per region with ``previous`` (B, 5, 3, S, S) -> (region masks (B5, 1, S, S), the
        regions (B5, 3, S, S), the aligned source person (B, 3, S, S))."""
        target = batch["layouts"][:, f] if self.cfg.gam else None
        src, src_lay = aligned_source(
            batch["source_image"], batch["source_layout"], target, self.cfg.gam_edges
        )
        m, s, p = region_inputs(onehot[:, 1:], src, src_lay, previous)
        return m, self.RegionGAN(m, s, p), src

    def _wcn_step(
        self,
        batch: dict[str, torch.Tensor],
        onehot: torch.Tensor,
        coarse: list,
        sources: list,
        out: StepOutput,
    ) -> None:
        """Eqs. 11-15 on the Region GAN's outputs (real layouts), each window frame over its background plate."""
        from ...losses import feature_matching, gan_loss_g, l1, masked_l1

        c, k, fc = self.cfg.composition, self.cfg.k, self.cfg.face_crop
        frames, cold = batch["frames"], batch["cold"]
        rec, per, sty, gan, fm, face, mask_l1, cache = [], [], [], [], [], [], [], []
        warp_mask, warp_l1, flow_reg = [], [], []
        for j in range(self.cfg.window):
            f = k + j
            coldj = (cold if j == 0 else torch.zeros_like(cold))[:, None, None, None]
            hist = []
            for d in range(c.n_coarse - 1, 0, -1):
                g = max(f - d, 0)
                # before the window: the real person (teacher forcing; with region.previous generated the Region
                # GAN's own), or the current coarse frame when cold
                hist.append(coarse[g] * (1 - coldj) + coarse[f] * coldj if g < k else coarse[g])
            cond = torch.cat([onehot[:, f], batch["poses"][:, f]], 1)
            parts = batch["parts"][:, j] if c.warp == "parts" else None
            person, m, warped = self.WCN(
                torch.cat([*hist, coarse[f]], 1), cond, sources[j], parts, details=True
            )
            y = composite(person, m, batch["backgrounds"][:, f], c.blend)
            real = frames[:, f]
            rec.append(l1(y, real))
            if warped and c.lambda_warp_mask > 0:
                warp_mask.append(warp_mask_loss(warped["m_w"], warped["moved"], real))
            if warped and c.lambda_warp > 0:
                has = (batch["layouts"][:, f] > 0)[:, None]
                warp_l1.append(
                    masked_l1(warped["moved"], real, has & (parts[:, 3:] > 0) if parts is not None else has)
                )
            if warped and warped["flow"] is not None and c.lambda_flow_reg > 0:
                flow_reg.append(warped["flow"].abs().mean())
            if c.lambda_per > 0:
                content, style = self.perceptual.content_and_style(y, real)
                per.append(content)
                sty.append(style)
            d_fake, d_real = self.D_frame(torch.cat([cond, y], 1)), self.D_frame(torch.cat([cond, real], 1))
            gan.append(gan_loss_g(d_fake, "lsgan"))
            fm.append(feature_matching(d_real, d_fake))
            # every item's face crop goes to D_face; those without a face weigh 0 (no data-dependent shapes)
            theta, valid = batch["face_theta"][:, f], (batch["face_valid"][:, f] > 0).float()
            fake_face, real_face = crop(y, theta, fc), crop(real, theta, fc)
            face.append((gan_loss_g(self.D_face(fake_face), "lsgan", valid) * valid.sum(), valid.sum()))
            mask_l1.append(l1(m, (batch["layouts"][:, f] == 0)[:, None].float()))
            cache.append((cond, real, y.detach(), real_face, fake_face.detach(), valid))
        mean = lambda xs: torch.stack(xs).mean()  # noqa: E731
        out.losses["wcn_rec"] = c.lambda_rec * mean(rec)
        if per:
            out.losses["wcn_per"] = c.lambda_per * mean(per)
            if c.lambda_style > 0:
                out.losses["wcn_style"] = c.lambda_per * c.lambda_style * mean(sty)
        out.losses["wcn_gan"] = c.lambda_gan * c.num_D * mean(gan)
        out.losses["wcn_fm"] = c.lambda_fm * c.num_D * mean(fm)
        n_faces = sum(n for _, n in face)  # the mean over the window's items with a face (0 without any)
        out.losses["wcn_face"] = c.lambda_face * sum(t for t, _ in face) / n_faces.clamp_min(1)
        if c.lambda_mask > 0:
            out.losses["wcn_mask"] = c.lambda_mask * mean(mask_l1)
        if warp_mask:
            out.losses["wcn_warp_mask"] = c.lambda_warp_mask * mean(warp_mask)
        if warp_l1:
            out.losses["wcn_warp"] = c.lambda_warp * mean(warp_l1)
        if flow_reg:
            out.losses["wcn_flow_reg"] = c.lambda_flow_reg * mean(flow_reg)
        out.cache["wcn"] = tuple(torch.cat(x) for x in zip(*cache))
        out.visuals["wcn_real"] = frames[:, -1]
        out.visuals["wcn_fake"] = cache[-1][2]

    def discriminator_step(
        self, batch: dict[str, torch.Tensor], step: int, cache: dict[str, Any]
    ) -> dict[str, torch.Tensor]:
        """LSGAN discriminators: layout (on the pose), region (on the region mask), frame (on layout + pose) and
        face (on the face box)."""
        from ...losses import gan_loss_d

        d: dict[str, torch.Tensor] = {}
        if "layout" in cache:
            c = self.cfg.layout
            cond, real, fake = cache["layout"]
            dr, df = self.D_layout(torch.cat([cond, real], 1)), self.D_layout(torch.cat([cond, fake], 1))
            d["d_layout"] = c.lambda_gan * c.num_D * gan_loss_d(dr, df, "lsgan")
        if "region" in cache:
            c = self.cfg.region
            m, real, fake = cache["region"]
            dr, df = (
                self.D_region(torch.cat([m, real], 1)),
                self.D_region(torch.cat([m, fake.to(real.dtype)], 1)),
            )
            d["d_region"] = maps.N_REGIONS * c.lambda_gan * c.num_D * gan_loss_d(dr, df, "lsgan")
        if "wcn" in cache:
            c = self.cfg.composition
            cond, real, fake, real_face, fake_face, valid = cache["wcn"]
            dr, df = (
                self.D_frame(torch.cat([cond, real], 1)),
                self.D_frame(torch.cat([cond, fake.to(real.dtype)], 1)),
            )
            d["d_frame"] = c.lambda_gan * c.num_D * gan_loss_d(dr, df, "lsgan")
            d["d_face"] = c.lambda_face * gan_loss_d(
                self.D_face(real_face), self.D_face(fake_face.to(real_face.dtype)), "lsgan", valid
            )
        return d

    # ------------------------------------------------------------------ export / inference
    def inference_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors = export_tensors(self.generators())
        meta = {
            "size": [self.cfg.size, self.cfg.size],
            "skeleton": skeleton_spec(),
            "stages": sorted(self.stages | self.loaded),  # networks that were ever trained
            "classes": list(maps.REGIONS),
            "config": to_dict(self.cfg),
        }
        return tensors, meta

    @classmethod
    def synthesizer(
        cls,
        cfg: RemotConfig,
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        options: dict[str, Any] | None = None,
    ) -> Synthesizer:
        from .synthesizer import RemotSynthesizer

        opts = options or {}
        return RemotSynthesizer.from_state(
            cfg, tensors, meta, device, precision, opts.get("wcn"), opts.get("flow_gain")
        )
