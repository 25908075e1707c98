"""Performance cloning (Aberman et al. 2019, "Deep Video-Based Performance Cloning", sections 3-4).

One generator G (pix2pix's U-Net, section 3.2) maps N = 2 stacked pose volumes (J*N channels) to N frames
(3*N channels). Two branches train it:

* paired (eqs. 1-3): L_rec = L_gan_p + lambda_vgg * L_vgg, an L1 between first-block features phi of the
  generated and real frames (relu1_1 of VGG-19 in the paper; the first block of the offline EfficientNet-lite0
  by default) and a conditional space-time PatchGAN D_p over N(3+J) channels;
* unpaired (eqs. 4-5), on pose sequences of other people (``--unpaired CLIP ...``): the temporal-coherence
  loss L_tc = || alpha(y_{i+1}) * (W(G(y_i), f_i) - G(y_{i+1})) ||_1 with the driving clip's optical flow f_i,
  and an unconditional PatchGAN D_s over 3N channels.

Total (eq. 6): L = L_rec + lambda_s * (L_gan_s + lambda_tc * L_tc), lambda_s = 0 for the first
``loss.paired_only`` share of the run, then 0.1 (lambda_tc = 10). ``pix2pix`` (reenactor.methods.cloning.pix2pix) is this
class configured with N = 1 and no unpaired branch.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...config import to_dict
from ...pose.skeleton import skeleton_spec
from ..base import (
    InferenceOption,
    Method,
    StepOutput,
    Synthesizer,
    export_tensors,
    resolve_options,
    subsample_poses,
)
from .config import CloningConfig
from .dataset import PoseVolumeDataset, prepare_volume_batch
from .synthesizer import PoseVolumeSynthesizer, build_generator, volume_encoder

logger = logging.getLogger(__name__)

STORED_KEYPOINTS = ("body", "face", "hand_left", "hand_right")


def build_discriminator(cfg: CloningConfig, in_channels: int, n_layers: int | None = None) -> nn.Module:
    """A space-time PatchGAN (N frames, and for D_p their pose volumes, stacked on channels) from reenactor.nn.

    Returns list over scales of lists of feature maps (last = patch logits), as reenactor.losses expects."""
    from ...nn import MultiscaleDiscriminator

    d = cfg.discriminator
    layers = d.n_layers if n_layers is None else n_layers
    return MultiscaleDiscriminator(in_channels, ndf=d.ndf, n_layers=layers, num_D=d.num_D, norm=d.norm)


class CloningMethod(Method):
    """Performance cloning; see the module docstring. Batches are dicts from :class:`PoseVolumeDataset`."""

    name = "cloning"
    precisions = ("fp32", "bf16")
    Config = CloningConfig
    inference_options = (
        InferenceOption(
            "window_mean",
            bool,
            True,
            "each frame is the mean of the N drawings of it G makes (the window ending on it and the N-1 after "
            "it: G draws every frame of its N-frame window), with N-1 frames of look-ahead; --no-window-mean "
            "keeps the window's last frame only. Models with N = 1 (pix2pix) draw each frame once "
            "(default: on)",
        ),
    )

    def __init__(self, cfg: CloningConfig):
        super().__init__(cfg)
        from ...losses import PerceptualLoss
        from ...nn.backbones import load_feature_net

        n = cfg.volume.frames
        self.encoder = volume_encoder(cfg)
        self.n_joints = self.encoder.n_channels  # channels per pose volume (J, + 5 with face groups)
        self.G = build_generator(cfg)
        self.D_p = build_discriminator(cfg, n * (3 + self.n_joints))
        # D_s exists only when the unpaired branch can run (N >= 2 frames to compare)
        self.D_s = (
            build_discriminator(cfg, 3 * n, cfg.discriminator.n_layers_s)
            if (cfg.unpaired and n >= 2)
            else None
        )
        lc = cfg.loss
        net = load_feature_net(lc.feature_net, lc.feature_weights, verbose=True)
        self.perceptual = PerceptualLoss(net, layers=[0], weights=[1.0])
        self._train_kp: dict[str, np.ndarray] = {}
        self._dataset_has_unpaired = False
        self._run_fraction = 0.0  # how far the run is (schedule(), from the trainer): section 3.2's stages
        self.unpaired_from_step: int | None = None  # the step the unpaired branch joined (logged once)

    # ------------------------------------------------------------------ data
    def build_dataset(self, clips: list, unpaired: list | None = None) -> PoseVolumeDataset:
        ds = PoseVolumeDataset(self.cfg, clips, unpaired)
        if unpaired and not ds.has_unpaired:
            why = "unpaired: false in the config" if not self.cfg.unpaired else "frames = 1"
            logger.info(
                f"[{self.name}] --unpaired clips are not used ({why}): training the paired branch only"
            )
        return ds

    def prepare_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Pose volumes and images from the compact items, batched on the device (:func:`prepare_volume_batch`)."""
        lc = self.cfg.loss
        return prepare_volume_batch(batch, self.encoder, lc.alpha_sigma, lc.alpha_conf)

    def fit_data(self, dataset: PoseVolumeDataset) -> None:
        """Record the target's training poses (stored in the model for coverage and normalization)."""
        self._train_kp = subsample_poses(dataset.target_keypoints(), self.cfg.max_stored_poses)
        self._dataset_has_unpaired = dataset.has_unpaired

    # ------------------------------------------------------------------ training
    def generator_parameters(self) -> list[nn.Parameter]:
        return list(self.G.parameters())

    def discriminator_parameters(self) -> list[nn.Parameter]:
        params = list(self.D_p.parameters())
        if self.D_s is not None:
            params += list(self.D_s.parameters())
        return params

    def schedule(self, fraction: float) -> None:
        """Section 3.2's two stages: paired branch only for the first ``loss.paired_only`` share of the run."""
        self._run_fraction = fraction

    def unpaired_active(self, batch: dict[str, torch.Tensor], step: int) -> bool:
        """lambda_s > 0: the unpaired branch joins once the run is past ``loss.paired_only`` (section 3.2)."""
        on = self.D_s is not None and "u_pose" in batch and self._run_fraction >= self.cfg.loss.paired_only
        if on and self.unpaired_from_step is None:
            self.unpaired_from_step = step
            logger.info(f"[train] {self.name}: unpaired branch on from step {step}")
        return on

    def _frames(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3N, H, W) -> N tensors (B, 3, H, W)."""
        return list(x.split(3, dim=1))

    def feature_l1(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """Eq. 1 averaged over the N frames: ||phi(G(P(x))) - phi(x)||_1, phi = first feature block."""
        f = torch.cat(self._frames(fake), 0)
        r = torch.cat(self._frames(real), 0)
        return self.perceptual(f, r)

    def temporal_loss(self, fake_u: torch.Tensor, flow: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """Eq. 4 averaged over the N-1 consecutive pairs, with reenactor.losses.temporal_warp_loss.

        fake_u (B, 3N, H, W) in [-1, 1]; flow (B, 2(N-1), H, W) the driving clip's forward flow f_i (i -> i+1,
        pixels); alpha (B, N-1, H, W) the limb falloff of the pose the comparison happens in. With the cached
        forward flow the exact backward warp aligns G(y_{i+1}) onto frame i (W(G(y_{i+1}), f_i) vs G(y_i),
        weighted by alpha(y_i)) - eq. 4 with the roles of the two frames swapped; pixels whose flow leaves the
        frame are ignored.
        """
        from ...losses import temporal_warp_loss

        frames = self._frames(fake_u)
        total = fake_u.new_zeros((), dtype=torch.float32)
        for k in range(len(frames) - 1):
            total = total + temporal_warp_loss(
                frames[k],
                frames[k + 1],
                flow[:, 2 * k : 2 * k + 2],
                weight=alpha[:, k : k + 1],
                flow_direction="forward",
            )
        return total / max(len(frames) - 1, 1)

    def generator_step(self, batch: dict[str, torch.Tensor], step: int) -> StepOutput:
        from ...losses import gan_loss_g

        lc = self.cfg.loss
        pose, real = batch["pose"], batch["image"]
        fake = self.G(pose)
        losses: dict[str, torch.Tensor] = {}
        losses["vgg"] = lc.lambda_vgg * self.feature_l1(fake, real)
        if lc.lambda_l1 > 0:
            losses["l1"] = lc.lambda_l1 * F.l1_loss(fake, real)
        losses["gan_p"] = lc.lambda_gan * gan_loss_g(self.D_p(torch.cat([pose, fake], 1)), lc.gan_mode)
        cache: dict[str, Any] = {"fake": fake.detach()}
        visuals = {"real": real[:, -3:], "fake": fake[:, -3:]}
        if self.unpaired_active(batch, step):
            fake_u = self.G(batch["u_pose"])
            losses["gan_s"] = lc.lambda_s * gan_loss_g(self.D_s(fake_u), lc.gan_mode)
            losses["tc"] = (
                lc.lambda_s * lc.lambda_tc * self.temporal_loss(fake_u, batch["u_flow"], batch["u_alpha"])
            )
            cache["fake_u"] = fake_u.detach()
            visuals["unpaired"] = fake_u[:, -3:]
        return StepOutput(losses=losses, visuals=visuals, cache=cache)

    def discriminator_step(
        self, batch: dict[str, torch.Tensor], step: int, cache: dict[str, Any]
    ) -> dict[str, torch.Tensor]:
        """Eq. 2 for D_p (real pair vs generated pair) and eq. 5 for D_s (real frames vs unpaired fakes)."""
        from ...losses import gan_loss_d

        lc = self.cfg.loss
        pose, real = batch["pose"], batch["image"]
        out = {
            "d_p": lc.lambda_gan
            * gan_loss_d(
                self.D_p(torch.cat([pose, real], 1)),
                self.D_p(torch.cat([pose, cache["fake"]], 1)),
                lc.gan_mode,
            )
        }
        if "fake_u" in cache:
            out["d_s"] = lc.lambda_s * gan_loss_d(self.D_s(real), self.D_s(cache["fake_u"]), lc.gan_mode)
        return out

    # ------------------------------------------------------------------ export / inference
    def inference_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors = export_tensors({"G": self.G}, self._train_kp)
        meta = {
            "size": [self.cfg.size, self.cfg.size],
            "skeleton": skeleton_spec(),
            "joints": self.cfg.volume.joints,
            "frames": self.cfg.volume.frames,
            "train_poses": sorted(self._train_kp),  # tensors train_pose.<name> (T, K, 3), model pixels
            "n_train_poses": int(len(self._train_kp.get("body", ()))),
            "unpaired_branch": bool(self._dataset_has_unpaired),
            "config": to_dict(self.cfg),
        }
        return tensors, meta

    @classmethod
    def synthesizer(
        cls,
        cfg: CloningConfig,
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        options: dict[str, Any] | None = None,
    ) -> Synthesizer:
        opts = resolve_options(cls, options)
        return PoseVolumeSynthesizer.from_state(cfg, tensors, device, precision, opts["window_mean"])
