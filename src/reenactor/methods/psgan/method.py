"""PSGAN training (Yang et al. 2018, §3.2-3.4): the pose-sequence generator G(p, a) against an unconditional
PatchGAN, eqs. 1-3.

* eq. 1 (D): E log D(P) + E log(1 - D(G(p, a))), over the whole sequence of T heatmap sets;
* eq. 2 (G): E log D(G(p, a)) (the non-saturating form; ``gan_mode`` may pick lsgan / hinge);
* eq. 3 (G): lambda ||(P - G(p, a)) * (alpha M + 1)||_1 with M = P, the ground-truth heatmaps: errors on the
  keypoint discs weigh alpha + 1, the background 1 (alpha = 0: plain L1, the paper's "PSGAN-L1" baseline).
  The norm is a sum over each heatmap's pixels (then a mean over batch, frames and keypoints), as ||.||_1
  reads. A mean over pixels as well (what we had first) divides the term by S^2 (1024 at 32 x 32): the
  GAN term then outweighs it ~100 to 1, and on held-out procedural actions the full model's heatmap L2 was
  0.0073 against 0.0054 for the first pose held still (500 steps; with the sum: 0.0048; docs/psgan.md).
* (ours, ``head: disc``) lambda_kp * L1 between each generated disc's centre and the real point, in heatmap
  pixels (:func:`centre_l1`): the discs' positions get a gradient when a generated disc and its real one do not
  overlap, where eq. 3's has none.
"""

from __future__ import annotations

import statistics
from typing import Any

import torch
from torch import nn

from ...errors import InputError
from ...losses.gan import gan_loss_d, gan_loss_g
from ...nn.convert import one_hot
from ..base import POSE_SEQUENCE, Method, StepOutput, export_tensors
from .config import PSGANConfig, check_config
from .dataset import ActionWindows, prepare_windows
from .networks import PoseSequenceGenerator, build_discriminator


def masked_l1(pred: torch.Tensor, target: torch.Tensor, alpha: float) -> torch.Tensor:
    """Eq. 3 without lambda: |target - pred| * (alpha * target + 1) summed over each (S, S) heatmap, mean over
    the leading dimensions; pred, target (B, T, K, S, S)."""
    t = target.float()
    return ((t - pred.float()).abs() * (alpha * t + 1)).sum((-2, -1)).mean()


def shown(target: torch.Tensor) -> torch.Tensor:
    """(B, T, K) 1.0 where a real heatmap of target (B, T, K, S, S) holds a disc on the map, else 0.0."""
    return (target.flatten(-2).amax(-1) > 0).float()


def centre_l1(centres: torch.Tensor, real: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(ours, the disc head) mean L1 in heatmap pixels between each generated disc's centre and its real point,
    over the points whose real disc shows on the map; centres, real (B, T, K, 2), target (B, T, K, S, S)."""
    seen = shown(target)
    return ((centres - real).abs().sum(-1) * seen).sum() / seen.sum().clamp(min=1)


def presence_bce(presence: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(ours, ``model.presence: bce``) mean binary cross-entropy between each generated point's presence
    (B, T, K) in (0, 1) and whether its real disc shows on the map; target (B, T, K, S, S)."""
    return nn.functional.binary_cross_entropy(presence.float().clamp(1e-6, 1 - 1e-6), shown(target))


def heatmap_image(maps: torch.Tensor) -> torch.Tensor:
    """(B, K, S, S) heatmaps -> (B, 3, S, S) in [-1, 1] for the logged grid (channel maximum, grey)."""
    m = maps.float().amax(1, keepdim=True)
    return (m * 2 - 1).expand(-1, 3, -1, -1)


class PSGANMethod(Method):
    name = "psgan"
    Config = PSGANConfig
    check_config = staticmethod(check_config)
    kind = POSE_SEQUENCE
    precisions = ("fp32",)

    def __init__(self, cfg: PSGANConfig):
        check_config(cfg)
        super().__init__(cfg)
        self.G = PoseSequenceGenerator(cfg)
        self.D = build_discriminator(cfg)
        self.actions: list[str] = []
        self.data_info: dict[str, Any] = {}

    def build_dataset(self, clips: Any, unpaired: list | None = None, **kw: Any) -> ActionWindows:
        """``clips``: a :class:`reenactor.data.actions.ActionData` (folders of action folders)."""
        data = clips
        if len(data.actions) > self.cfg.n_actions:
            raise InputError(
                f"the data has {len(data.actions)} actions, more than model.n_actions ({self.cfg.n_actions})",
                fix=f"pass --set model.n_actions={len(data.actions)}",
            )
        self.actions = list(data.actions)
        sizes = [tuple(s.size) for s in data.samples]
        self.data_info = {
            "fps": float(statistics.median(s.fps for s in data.samples)),
            "frame_size": list(max(set(sizes), key=sizes.count)),
            "procedural": bool(data.procedural),
            "zoom": float(data.zoom),
            "sequences": len(data.samples),
        }
        return ActionWindows(data, self.cfg.frames, self.cfg.size, self.cfg.radius, self.cfg.points)

    def prepare_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        return prepare_windows(batch, self.cfg.size, self.cfg.radius)

    def generator_parameters(self) -> list[nn.Parameter]:
        return list(self.G.parameters())

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return list(self.D.parameters())

    def one_hot(self, label: torch.Tensor) -> torch.Tensor:
        return one_hot(label, self.cfg.n_actions)

    def generator_step(self, batch: dict[str, torch.Tensor], step: int) -> StepOutput:
        cfg = self.cfg
        fake, centres, presence = self.G.points(batch["init"], self.one_hot(batch["label"]))
        losses = {"rec": cfg.lambda_rec * masked_l1(fake, batch["target"], cfg.alpha)}
        if centres is not None and cfg.lambda_kp > 0:
            losses["kp"] = cfg.lambda_kp * centre_l1(centres, batch["centres"], batch["target"])
        if presence is not None and cfg.presence == "bce":
            losses["presence"] = cfg.lambda_presence * presence_bce(presence, batch["target"])
        if cfg.lambda_gan > 0:
            losses["gan"] = cfg.lambda_gan * gan_loss_g(self.D(fake), cfg.gan_mode)
        mid = cfg.frames // 2
        visuals = {
            "init": heatmap_image(batch["init"]),
            "real_mid": heatmap_image(batch["target"][:, mid]),
            "fake_mid": heatmap_image(fake[:, mid].detach()),
            "fake_last": heatmap_image(fake[:, -1].detach()),
        }
        return StepOutput(losses, visuals, {"fake": fake.detach()})

    def discriminator_step(
        self, batch: dict[str, torch.Tensor], step: int, cache: dict[str, Any]
    ) -> dict[str, torch.Tensor]:
        if self.cfg.lambda_gan <= 0:
            return {}
        real, fake = batch["target"], cache["fake"]
        return {"d_gan": self.cfg.lambda_gan * gan_loss_d(self.D(real), self.D(fake), self.cfg.gan_mode)}

    def inference_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        meta = {"actions": self.actions, **self.data_info}
        return export_tensors({"G": self.G}), meta

    @classmethod
    def synthesizer(cls, cfg, tensors, meta, device="cpu", precision="fp32", options=None):
        from .synthesizer import PSGANGenerator

        return PSGANGenerator.from_state(cfg, tensors, meta, device)
