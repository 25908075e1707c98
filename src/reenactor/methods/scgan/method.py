"""SCGAN training (Yang et al. 2018 §3.3, eqs. 4-10): G1 draws the target frame from the source image and a
*generated* pose, G2 from the *real* pose; their pose encoders share the last layer (semantic consistency).

* eq. 6 (D_which): E log D_which(I_gt) + E log(1 - D_which(I_gen)): which pose a frame was drawn from;
* eqs. 7-8 (D1, D2): real frame vs I_gen (D1), vs I_gt (D2);
* eq. 9 (G1): E log D1(I_gen) + E log D_which(I_gen);  eq. 10 (G2): E log D2(I_gt) (no D_which gradient);
* plus L1 of both outputs to the real frame, weight 10 (§3.4).

In training the generated pose P^ is a stand-in (ours; how the paper pairs PSGAN's output with real frames is
unstated): the real target pose jittered by ``pose_noise`` pixels with ``pose_drop`` of its joints dropped,
the kind of small keypoint error §3.3 calls an abnormal pose.

``model.train_with`` picks the paper's training alternatives (§4.4, Table 5): ``both`` is SCGAN; ``generated``
(SCGAN-gen) and ``real`` (SCGAN-gt) train G1 alone, on the generated or on the real poses, against D1 only
(no G2, D2 or D_which is built). Inference uses G1 in every case.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ...data.pairs import FramePair, FramePairs, PairOptions, unit_frames
from ...losses.gan import gan_loss_d, gan_loss_g
from ...losses.pixel import l1
from ...nn.discriminators import NLayerDiscriminator
from ...pose import heatmaps
from ..base import REFERENCE, Method, StepOutput, export_tensors
from .config import SCGANConfig, check_config
from .networks import FrameGenerator, shared_pose_layer


class SCGANPairs(FramePairs):
    """FramePairs items plus ``noisy_body`` (25, 3): the target pose jittered and with joints dropped, the
    generated-pose stand-in. :func:`prepare_pairs` draws both poses as heatmaps on the training device."""

    def __init__(self, clips: list, pairs: PairOptions | None, cfg: SCGANConfig):
        super().__init__(clips, pairs, size=cfg.size)
        self.cfg = cfg

    def item(self, p: FramePair) -> dict[str, torch.Tensor]:
        out = super().item(p)
        cfg = self.cfg
        noisy = out["target_body"].numpy().copy()
        noisy[:, :2] += np.random.normal(0.0, cfg.pose_noise, (25, 2)).astype(np.float32)
        noisy[np.random.random_sample(25) < cfg.pose_drop, 2] = 0
        out["noisy_body"] = torch.from_numpy(noisy)
        return out


def prepare_pairs(batch: dict[str, torch.Tensor], cfg: SCGANConfig) -> dict[str, torch.Tensor]:
    """A collated batch of :class:`SCGANPairs` items on the training device -> frames in [-1, 1] and ``pose_gt`` /
    ``pose_gen`` (B, 18, S, S) heatmaps of the real / noisy target pose (:func:`heatmaps.encode_torch`, the
    renderer inference uses)."""
    out = unit_frames(batch)
    s = cfg.size
    if "noisy_body" in out:
        out["pose_gt"] = heatmaps.encode_torch(out["target_body"], (s, s), s, cfg.radius)
        out["pose_gen"] = heatmaps.encode_torch(out.pop("noisy_body"), (s, s), s, cfg.radius)
    return out


class SCGANMethod(Method):
    name = "scgan"
    Config = SCGANConfig
    check_config = staticmethod(check_config)
    kind = REFERENCE
    precisions = ("fp32", "bf16")

    def __init__(self, cfg: SCGANConfig):
        check_config(cfg)
        super().__init__(cfg)
        shared = shared_pose_layer(cfg)
        self.both = cfg.train_with == "both"
        self.G1 = FrameGenerator(cfg, shared)
        self.D1 = NLayerDiscriminator(3, cfg.ndf, cfg.n_layers)
        if self.both:
            self.G2 = FrameGenerator(cfg, shared)
            self.D2, self.Dw = (NLayerDiscriminator(3, cfg.ndf, cfg.n_layers) for _ in range(2))

    def build_dataset(
        self, clips: list, unpaired: list | None = None, pairs: PairOptions | None = None, **kw
    ):
        return SCGANPairs(clips, pairs, self.cfg)

    def prepare_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        return prepare_pairs(batch, self.cfg)

    def generator_parameters(self) -> list[nn.Parameter]:
        gens = [self.G1, self.G2] if self.both else [self.G1]
        return list({id(p): p for g in gens for p in g.parameters()}.values())

    def discriminator_parameters(self) -> list[nn.Parameter]:
        ds = [self.D1, self.D2, self.Dw] if self.both else [self.D1]
        return [p for d in ds for p in d.parameters()]

    def g1_pose(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The pose G1 trains on: the generated one, or the real one for ``train_with: real``."""
        return batch["pose_gt" if self.cfg.train_with == "real" else "pose_gen"]

    def generator_step(self, batch: dict[str, torch.Tensor], step: int) -> StepOutput:
        cfg, src, real = self.cfg, batch["source_frame"], batch["target_frame"]
        gen = self.G1(src, self.g1_pose(batch))  # eq. 4
        if not self.both:  # SCGAN-gen / SCGAN-gt: one generator, D1 and L1
            losses = {
                "gan1": cfg.lambda_gan * gan_loss_g(self.D1(gen), cfg.gan_mode),
                "l1_gen": cfg.lambda_l1 * l1(gen, real),
            }
            losses = {k: v for k, v in losses.items() if not (k == "gan1" and cfg.lambda_gan == 0)}
            pose = (self.g1_pose(batch).amax(1, keepdim=True) * 2 - 1).expand(-1, 3, -1, -1)
            visuals = {"source": src, "pose": pose, "gen": gen.detach(), "real": real}
            return StepOutput(losses, visuals, {"gen": gen.detach()})
        gt = self.G2(src, batch["pose_gt"])  # eq. 5
        losses = {
            "gan1": cfg.lambda_gan * gan_loss_g(self.D1(gen), cfg.gan_mode),
            "which": cfg.lambda_which * gan_loss_g(self.Dw(gen), cfg.gan_mode),
            "gan2": cfg.lambda_gan * gan_loss_g(self.D2(gt), cfg.gan_mode),
            "l1_gen": cfg.lambda_l1 * l1(gen, real),
            "l1_gt": cfg.lambda_l1 * l1(gt, real),
        }
        losses = {k: v for k, v in losses.items() if not (k in ("gan1", "gan2") and cfg.lambda_gan == 0)}
        pose = (batch["pose_gen"].amax(1, keepdim=True) * 2 - 1).expand(-1, 3, -1, -1)
        visuals = {"source": src, "pose_gen": pose, "gen": gen.detach(), "gt": gt.detach(), "real": real}
        return StepOutput(losses, visuals, {"gen": gen.detach(), "gt": gt.detach()})

    def discriminator_step(self, batch: dict[str, torch.Tensor], step: int, cache: dict[str, Any]):
        cfg, real, gen = self.cfg, batch["target_frame"], cache["gen"]
        if not self.both:
            return {"d1": cfg.lambda_gan * gan_loss_d(self.D1(real), self.D1(gen), cfg.gan_mode)}
        gt = cache["gt"]
        return {
            "d1": cfg.lambda_gan * gan_loss_d(self.D1(real), self.D1(gen), cfg.gan_mode),  # eq. 7
            "d2": cfg.lambda_gan * gan_loss_d(self.D2(real), self.D2(gt), cfg.gan_mode),  # eq. 8
            "d_which": cfg.lambda_which * gan_loss_d(self.Dw(gt), self.Dw(gen), cfg.gan_mode),  # eq. 6
        }

    def inference_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return export_tensors({"G1": self.G1}), {"size": [self.cfg.size, self.cfg.size]}

    @classmethod
    def synthesizer(cls, cfg, tensors, meta, device="cpu", precision="fp32", options=None):
        from .synthesizer import SCGANSynthesizer

        return SCGANSynthesizer.from_state(cfg, tensors, device, precision)
