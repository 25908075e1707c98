"""Upper-body video synthesis with a realistic face (Liu et al. 2019).

Two pix2pixHD generators (reenactor.nn.GlobalGenerator), trained together on the target's own video:

* **Landmark generator** (section 4, Fig. 2): the target's FAUP vector (17 action units + head pose,
  :mod:`reenactor.face.faup`) written into the centre of an empty image -> the target's face-landmark image
  (the 68 points drawn around the face anchor, :mod:`.images`). Conditional multi-scale PatchGAN D_k,
  k = 1..3; loss eq. 2: L_GAN(G, D) (eq. 1) + lambda * L1(G(x), y), the L1 foreground-weighted by
  ``landmark.fg_weight`` (not in the paper: plain L1 let G settle on an empty image; :func:`landmark_l1`).
* **Frame generator** (section 5, Fig. 3): the UBKP-FL input x_t (upper-body stick figure and the landmark
  image pasted where the body keypoints put the face, 6 channels) -> frame. Temporal smoothing: frames are
  generated in order, each from the current input, the past L inputs and the past L generated frames (zeros
  before the start), input channels 6(L+1) + 3L. A multi-scale space-time discriminator judges L+1
  consecutive (input, frame) pairs. Loss eq. 4: sum_k L_TS(G, D_k) (eq. 3) + alpha sum_k L_FM(G, D_k)
  + beta sum_i L_VGG(G(x_{t-i}), y_{t-i}), L_VGG the pluggable perceptual loss (EfficientNet-lite0 offline by
  default, VGG-19 with a weights file).

The frame generator trains on the target's real landmark images (the paper's training setup); at transfer
the landmark generator's output takes their place, driven by the *driving* person's FAUP (their action units
and head pose, identity-free), while their body keypoints arrive normalized onto the target.

Not in the paper: with ``warp_expression`` (default on) each output frame's face is then warped by the driver's
expression, the smile / jaw / brow warp of :mod:`reenactor.face.expression_warp` with amplitudes fitted to the
driver's action units against the target's own (:meth:`UpperBodyDataset.expression_basis`, stored in the model).
On short per-person training the frame generator draws the face it recalls from the body pose and follows
the landmark image only weakly (README, "Trying to make it follow"); the warp is what makes a driver's smile
the target never made show up. The networks' own output stays what the next frame is conditioned on.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from ...config import to_dict
from ...face.expression_warp import MODES, ExpressionField, fit_expression
from ...face.faup import (
    FAUP_DIM,
    N_AU,
    RunningNeutral,
    face_measures,
    faup_from_measures,
    faup_image,
    has_face,
)
from ...nn.convert import to_uint8
from ...pose.skeleton import skeleton_spec
from ..base import InferenceOption, Method, StepOutput, Synthesizer, export_tensors, subsample_poses
from .config import UpperBodyConfig
from .dataset import UpperBodyDataset, prepare_window_batch
from .images import UBKP_PARTS, face_centre, ubkp_fl

logger = logging.getLogger(__name__)

X_NC = 6  # UBKP (3) + face landmarks (3)


def frame_input_nc(L: int) -> int:
    """Channels of the frame generator's input: current + L past UBKP-FL inputs, L past frames."""
    return X_NC * (L + 1) + 3 * L


def build_generators(cfg: UpperBodyConfig) -> tuple[nn.Module, nn.Module]:
    """(G_lm: (B, 1, c, c) FAUP image -> (B, 3, c, c) landmarks, G_frame: (B, 6(L+1)+3L, S, S) -> (B, 3, S, S)),
    both in [-1, 1] (tanh), from reenactor.nn."""
    from ...nn import GlobalGenerator

    lc, fc = cfg.landmark, cfg.frame
    g_lm = GlobalGenerator(1, 3, ngf=lc.ngf, n_downsampling=lc.n_downsampling, n_blocks=lc.n_blocks)
    g_frame = GlobalGenerator(
        frame_input_nc(fc.past), 3, ngf=fc.ngf, n_downsampling=fc.n_downsampling, n_blocks=fc.n_blocks
    )
    return g_lm, g_frame


#: largest displacement of the refiner's flow, as a fraction of the square's half side (tanh output times this)
FLOW_RANGE = 0.25


def build_face_refiner(cfg: UpperBodyConfig) -> nn.Module | None:
    """``frame.face_refine``'s generator: (B, 6, c, c) landmark crop + face square -> (B, 5, c, c): a flow (2, moves
    the face's pixels, :func:`refine_patch`) and a residual (3), in [-1, 1] (a GlobalGenerator, 2 stride-2 levels,
    3 blocks, its last layer zero so it starts as no change at all), or None when off."""
    if cfg.frame.face_refine <= 0:
        return None
    from ...nn import GlobalGenerator

    g = GlobalGenerator(X_NC, 5, ngf=int(cfg.frame.face_refine), n_downsampling=2, n_blocks=3)
    last = [m for m in g.modules() if isinstance(m, nn.Conv2d)][-1]
    nn.init.zeros_(
        last.weight
    )  # starts as no correction at all: the face is G's until the refiner learns one
    nn.init.zeros_(last.bias)
    return g


def refine_patch(G_face: nn.Module, lm: torch.Tensor, face: torch.Tensor) -> torch.Tensor:  # noqa: N803
    """The face squares ``face`` (N, 3, c, c) moved to the landmark crops ``lm`` (N, 3, c, c): resampled along the
    refiner's flow (up to ``FLOW_RANGE`` of the half side), plus its residual. A flow, not only a residual: moving a
    mouth corner is one smooth displacement but many pixel differences, and on carphone's 80 training frames the
    flow form followed held-out warped landmarks ~2x as well (README, "Trying to make it follow")."""
    out = G_face(torch.cat([lm, face.to(lm.dtype)], 1)).float()
    n, _, h, w = face.shape
    eye = torch.eye(2, 3, device=face.device, dtype=torch.float32).expand(n, 2, 3)
    grid = torch.nn.functional.affine_grid(eye, [n, 3, h, w], align_corners=False)
    moved = torch.nn.functional.grid_sample(
        face.float(),
        grid + FLOW_RANGE * out[:, :2].permute(0, 2, 3, 1),
        padding_mode="border",
        align_corners=False,
    )
    return (moved + out[:, 2:]).clamp(-1.0, 1.0)


def jitter_squares(
    *squares: torch.Tensor, rotate: float = 10.0, scale: float = 0.12, shift: float = 0.12
) -> tuple[torch.Tensor, ...]:
    """The same random similarity transform (per item: rotation up to ``rotate`` degrees, relative scale and shift
    up to ``scale`` / ``shift`` of the half side; torch's generator) applied to each of ``squares`` (N, C, c, c)."""
    a = squares[0]
    n = a.shape[0]
    u = torch.rand(n, 4, device=a.device) * 2.0 - 1.0
    ang, sc = u[:, 0] * (rotate * torch.pi / 180.0), 1.0 + u[:, 1] * scale
    cos, sin = sc * torch.cos(ang), sc * torch.sin(ang)
    theta = torch.stack(
        [torch.stack([cos, -sin, u[:, 2] * shift], 1), torch.stack([sin, cos, u[:, 3] * shift], 1)], 1
    )
    grid = torch.nn.functional.affine_grid(theta, list(a.shape), align_corners=False)
    return tuple(
        torch.nn.functional.grid_sample(s.float(), grid, padding_mode="border", align_corners=False)
        for s in squares
    )


def put_squares(img: torch.Tensor, centre: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
    """``img`` (N, C, H, W) with its squares centred at ``centre`` (N, 2) replaced by ``patches`` (N, C, c, c),
    placed as :func:`crop_squares` cuts them (the parts outside the frame dropped). Differentiable; a new tensor."""
    n, _, h, w = img.shape
    c = patches.shape[-1]
    padded = torch.nn.functional.pad(img, (c, c, c, c), value=-1.0).clone()
    for i, (x0, y0) in enumerate(_padded_origins(centre, c, h, w)):
        padded[i, :, y0 : y0 + c, x0 : x0 + c] = patches[i].to(padded.dtype)
    return padded[:, :, c : c + h, c : c + w]


def refine_faces(
    G_face: nn.Module,
    y: torch.Tensor,
    x: torch.Tensor,
    centre: torch.Tensor,
    crop: int,  # noqa: N803
) -> torch.Tensor:
    """``frame.face_refine``: frames ``y`` (N, 3, S, S) with the face square corrected by ``G_face`` from the landmark
    crop (the FL channels of the input ``x`` (N, 6, S, S) in that square) and the generated face there."""
    lm = crop_squares(x[:, 3:], centre, crop)
    face = crop_squares(y, centre, crop)
    return put_squares(y, centre, refine_patch(G_face, lm, face))


def frame_input(x: torch.Tensor, past_x: list[torch.Tensor], past_y: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate the current input (B, 6, S, S), the L past inputs and the L past frames (most recent
    first, each (B, C, S, S)) into the frame generator's input (B, 6(L+1)+3L, S, S)."""
    return torch.cat([x, *past_x, *past_y], 1)


def generate_window(
    G: nn.Module,
    x: torch.Tensor,
    x_pre: torch.Tensor,
    detach_past: bool = False,
    refine: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    centre: torch.Tensor | None = None,
) -> torch.Tensor:
    """Section 5's sequential generation over a window.

    x: (B, L+1, 6, S, S) inputs of frames t-L .. t; x_pre: (B, L, 6, S, S) inputs of t-2L .. t-L-1.
    The first output is conditioned on zero past frames, the last on the L previous outputs. With ``refine``
    (``frame.face_refine``: ``refine(y, x_i, centre_i)``, ``centre`` (B, L+1, 2)) each output is corrected before
    it is fed back. Returns (B, L+1, 3, S, S) in [-1, 1].
    """
    B, n, _, H, W = x.shape
    L = n - 1
    inputs = torch.cat([x_pre, x], 1)  # (B, 2L+1, 6, S, S)
    outs: list[torch.Tensor] = []
    zero = x.new_zeros(B, 3, H, W)
    for i in range(n):
        j = L + i  # index of frame i in `inputs`
        past_x = [inputs[:, j - k] for k in range(1, L + 1)]
        past_y = [
            (outs[i - k].detach() if detach_past else outs[i - k]) if i - k >= 0 else zero
            for k in range(1, L + 1)
        ]
        y = G(frame_input(x[:, i], past_x, past_y))
        outs.append(y if refine is None else refine(y, x[:, i], centre[:, i]))
    return torch.stack(outs, 1)


def face_square_mask(centre: torch.Tensor, crop: int, size: tuple[int, int]) -> torch.Tensor:
    """(..., 1, H, W) float mask of the ``crop`` x ``crop`` squares centred at ``centre`` (..., 2) (x, y): where
    the landmark crop is pasted, i.e. the face (for ``frame.lambda_face``)."""
    h, w = int(size[0]), int(size[1])
    ys = torch.arange(h, device=centre.device, dtype=torch.float32) + 0.5
    xs = torch.arange(w, device=centre.device, dtype=torch.float32) + 0.5
    cx, cy = centre[..., 0, None].float(), centre[..., 1, None].float()
    half = crop / 2.0
    in_x = ((xs - cx).abs() <= half).float()  # (..., W)
    in_y = ((ys - cy).abs() <= half).float()  # (..., H)
    return (in_y[..., :, None] * in_x[..., None, :]).unsqueeze(-3)


def crop_squares(img: torch.Tensor, centre: torch.Tensor, crop: int) -> torch.Tensor:
    """The ``crop`` x ``crop`` squares of ``img`` (N, C, H, W) centred at ``centre`` (N, 2) (x, y), placed as
    :func:`.images.paste` places the landmark crop (so a frame's square lines up with its landmark image);
    outside the frame reads -1. Differentiable (slicing). Returns (N, C, crop, crop)."""
    n, _, h, w = img.shape
    padded = torch.nn.functional.pad(img, (crop, crop, crop, crop), value=-1.0)
    return torch.stack(
        [
            padded[i, :, y0 : y0 + crop, x0 : x0 + crop]
            for i, (x0, y0) in enumerate(_padded_origins(centre, crop, h, w))
        ]
    )


def _padded_origins(centre: torch.Tensor, crop: int, h: int, w: int) -> list[tuple[int, int]]:
    """Top-left corners, in the frame padded by ``crop`` on every side, of the ``crop`` squares centred at
    ``centre`` (N, 2), rounded as :func:`.images.paste` rounds (shared by :func:`crop_squares` and :func:`put_squares`)."""
    out = []
    for cx, cy in centre.tolist():
        x0 = int(round(cx - crop / 2.0)) + crop
        y0 = int(round(cy - crop / 2.0)) + crop
        out.append((min(max(x0, 0), w + crop), min(max(y0, 0), h + crop)))
    return out


def landmark_l1(fake: torch.Tensor, real: torch.Tensor, fg_weight: float = 0.0) -> torch.Tensor:
    """Eq. 2's L1 between landmark images (B, 3, c, c) in [-1, 1]; with ``fg_weight`` > 0 every pixel that is
    drawn in ``real`` (any channel above the background -1) counts ``1 + fg_weight`` times, the mean taken over
    the weights (so 0 is plain L1 and the loss scale stays that of an L1)."""
    from ...losses import l1, masked_l1

    if fg_weight <= 0:
        return l1(fake, real)
    w = 1.0 + fg_weight * (real > -0.99).any(1, keepdim=True).float()
    return masked_l1(fake, real, w)


class UpperBodyMethod(Method):
    """See the module docstring. Batches come from :class:`UpperBodyDataset`."""

    name = "upper_body"
    inference_options = (
        InferenceOption(
            "expression_warp",
            bool,
            None,
            "warp the output face by the driver's expression after the networks (the model's "
            "warp_expression, not in the paper, on by default); --no-expression-warp writes the "
            "networks' own frames",
        ),
    )
    Config = UpperBodyConfig

    def __init__(self, cfg: UpperBodyConfig):
        super().__init__(cfg)
        from ...losses import PerceptualLoss
        from ...nn import MultiscaleDiscriminator, SpaceTimeDiscriminator
        from ...nn.backbones import load_feature_net

        lc, fc = cfg.landmark, cfg.frame
        if cfg.size % (2**fc.n_downsampling) or lc.crop % (2**lc.n_downsampling):
            from ...errors import ConfigError

            raise ConfigError(
                f"size {cfg.size} must be divisible by 2**frame.n_downsampling and landmark.crop "
                f"{lc.crop} by 2**landmark.n_downsampling"
            )
        self.G_lm, self.G = build_generators(cfg)
        if fc.face_refine > 0 and lc.crop % 4:
            from ...errors import ConfigError

            raise ConfigError(f"frame.face_refine needs landmark.crop divisible by 4, not {lc.crop}")
        self.G_face = build_face_refiner(cfg)  # not in the paper (frame.face_refine)
        # eq. 1: conditional D_k on (FAUP image, landmark image), k = 1..num_D
        self.D_lm = MultiscaleDiscriminator(1 + 3, ndf=lc.ndf, n_layers=lc.n_layers, num_D=lc.num_D)
        # eq. 3: space-time D_k on L+1 consecutive (UBKP-FL, frame) pairs
        self.D_st = SpaceTimeDiscriminator(
            X_NC + 3, n_frames=fc.past + 1, ndf=fc.ndf, n_layers=fc.n_layers, num_D=fc.num_D
        )
        # not in the paper (frame.face_gan): conditional D on (landmark lines, face) in the landmark crop's square
        self.D_face = (
            MultiscaleDiscriminator(3 + 3, ndf=fc.ndf, n_layers=3, num_D=2) if fc.face_gan > 0 else None
        )
        net = load_feature_net(cfg.feature_net, cfg.feature_weights, verbose=True)
        self.perceptual = PerceptualLoss(net)
        self._train_kp: dict[str, np.ndarray] = {}
        self._offset = np.zeros(2, np.float32)
        self._fallback = np.array([cfg.size / 2, cfg.size / 3], np.float32)
        self._faup_range: np.ndarray | None = None  # (2, 20) target's 1st / 99th percentile FAUP
        self._expr_basis: dict[str, Any] | None = (
            None  # UpperBodyDataset.expression_basis (the transfer warp)
        )

    # ------------------------------------------------------------------ data
    def prepare_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The windows' UBKP-FL inputs and landmark crops drawn from their keypoints and the uint8 frames as
        [-1, 1] floats, batched on the device (:func:`prepare_window_batch`)."""
        return prepare_window_batch(batch, self.cfg)

    def build_dataset(self, clips: list, unpaired: list | None = None) -> UpperBodyDataset:
        if unpaired:
            logger.info(
                f"[{self.name}] --unpaired clips are not used: this method trains on the target's own video"
            )
        return UpperBodyDataset(self.cfg, clips)

    def fit_data(self, dataset: UpperBodyDataset) -> None:
        """Record the face-crop placement, the target's training poses (for normalization at transfer) and the
        FAUP range of training (1st-99th percentile, the transfer-time clamp) and the target's expression basis
        (the transfer-time expression warp)."""
        self._offset, self._fallback = dataset.offset, dataset.fallback
        self._train_kp = subsample_poses(dataset.target_keypoints(), self.cfg.max_stored_poses)
        faup = dataset.training_faup()  # with expression warps, their FAUP widen the range the clamp keeps
        self._faup_range = np.stack([np.percentile(faup, 1, 0), np.percentile(faup, 99, 0)]).astype(
            np.float32
        )
        self._expr_basis = dataset.expression_basis()

    # ------------------------------------------------------------------ training
    def generator_parameters(self) -> list[nn.Parameter]:
        g_face = list(self.G_face.parameters()) if self.G_face is not None else []
        return list(self.G_lm.parameters()) + list(self.G.parameters()) + g_face

    def discriminator_parameters(self) -> list[nn.Parameter]:
        d_face = list(self.D_face.parameters()) if self.D_face is not None else []
        return list(self.D_lm.parameters()) + list(self.D_st.parameters()) + d_face

    def landmark_phase(self, step: int) -> bool:
        """True during the first ``landmark.pretrain_steps`` steps, which train the landmark generator alone."""
        return step < self.cfg.landmark.pretrain_steps

    def generator_step(self, batch: dict[str, torch.Tensor], step: int) -> StepOutput:
        from ...losses import feature_matching, gan_loss_g, l1

        cfg, fc, mode = self.cfg, self.cfg.frame, self.cfg.gan_mode
        # section 4, eq. 2 -- every frame of the window is a (FAUP, landmark) training pair
        faup = batch["faup"].flatten(0, 1)
        lm = batch["lm"].flatten(0, 1)
        lm_fake = self.G_lm(faup)
        losses = {
            "lm_gan": cfg.lambda_landmark * gan_loss_g(self.D_lm(torch.cat([faup, lm_fake], 1)), mode),
            "lm_l1": cfg.lambda_landmark
            * cfg.landmark.lambda_l1
            * landmark_l1(lm_fake, lm, cfg.landmark.fg_weight),
        }
        if self.landmark_phase(step):  # the landmark generator's own phase: no frame branch yet
            visuals = {"lm_real": lm[:4], "lm_fake": lm_fake[:4]}
            return StepOutput(losses=losses, visuals=visuals, cache={"lm_fake": lm_fake.detach()})
        # section 5, eq. 4
        x, real = batch["x"], batch["image"]
        refine = None if self.G_face is None else partial(refine_faces, self.G_face, crop=cfg.landmark.crop)
        fake = generate_window(self.G, x, batch["x_pre"], fc.detach_past, refine, batch["centre"])
        d_fake = self.D_st(torch.cat([x, fake], 2))
        with torch.no_grad():
            d_real = self.D_st(torch.cat([x, real], 2))
        losses["ts_gan"] = gan_loss_g(d_fake, mode)
        losses["fm"] = fc.alpha_fm * feature_matching(d_real, d_fake)
        losses["vgg"] = fc.beta_vgg * self.perceptual(fake.flatten(0, 1), real.flatten(0, 1)) * (fc.past + 1)
        if fc.lambda_l1 > 0:  # optional, not in the paper (config frame.lambda_l1)
            losses["l1"] = fc.lambda_l1 * l1(fake, real)
        if fc.lambda_face > 0:  # optional, not in the paper (config frame.lambda_face)
            from ...losses import masked_l1

            mask = face_square_mask(batch["centre"], self.cfg.landmark.crop, real.shape[-2:])
            losses["face"] = fc.lambda_face * masked_l1(
                fake.flatten(0, 1), real.flatten(0, 1), mask.flatten(0, 1)
            )
        cache = {"fake": fake.detach(), "lm_fake": lm_fake.detach()}
        if (
            self.G_face is not None and fc.face_warp > 0
        ):  # optional, not in the paper (config frame.face_warp)
            c, centre = cfg.landmark.crop, batch["centre"].flatten(0, 1)
            squares = (
                crop_squares(x[:, :, 3:].flatten(0, 1), centre, c),
                crop_squares(batch["image_src"].flatten(0, 1), centre, c),
                crop_squares(real.flatten(0, 1), centre, c),
            )
            lm_sq, src_sq, real_sq = jitter_squares(*squares)
            losses["face_warp"] = fc.face_warp * l1(refine_patch(self.G_face, lm_sq, src_sq), real_sq)
        if self.D_face is not None:  # optional, not in the paper (config frame.face_gan)
            cond, fake_f, real_f = self.face_squares(batch, fake)
            cache["face"] = (cond, fake_f.detach(), real_f)  # the D step judges the same squares
            d_fake_f = self.D_face(torch.cat([cond, fake_f], 1))
            with torch.no_grad():
                d_real_f = self.D_face(torch.cat([cond, real_f], 1))
            losses["face_gan"] = fc.face_gan * gan_loss_g(d_fake_f, mode)
            losses["face_fm"] = fc.face_gan * fc.alpha_fm * feature_matching(d_real_f, d_fake_f)
        visuals = {
            "real": real[:, -1],
            "fake": fake[:, -1],
            "input_ubkp": x[:, -1, :3],
            "input_fl": x[:, -1, 3:],
            "lm_fake": torch.nn.functional.interpolate(lm_fake[: real.shape[0]], size=real.shape[-2:]),
        }
        return StepOutput(losses=losses, visuals=visuals, cache=cache)

    def discriminator_step(
        self, batch: dict[str, torch.Tensor], step: int, cache: dict[str, Any]
    ) -> dict[str, torch.Tensor]:
        """Eq. 1 for D_lm (real vs generated landmark image given the FAUP image), eq. 3 for D_st."""
        from ...losses import gan_loss_d

        mode = self.cfg.gan_mode
        faup = batch["faup"].flatten(0, 1)
        lm = batch["lm"].flatten(0, 1)
        losses = {
            "d_lm": self.cfg.lambda_landmark
            * gan_loss_d(
                self.D_lm(torch.cat([faup, lm], 1)), self.D_lm(torch.cat([faup, cache["lm_fake"]], 1)), mode
            )
        }
        if not self.landmark_phase(step):  # eq. 3; a landmark-phase batch has no frame inputs
            x = batch["x"]
            losses["d_ts"] = gan_loss_d(
                self.D_st(torch.cat([x, batch["image"]], 2)),
                self.D_st(torch.cat([x, cache["fake"]], 2)),
                mode,
            )
            if self.D_face is not None:
                cond, fake_f, real_f = cache["face"]
                losses["d_face"] = gan_loss_d(
                    self.D_face(torch.cat([cond, real_f], 1)), self.D_face(torch.cat([cond, fake_f], 1)), mode
                )
        return losses

    def face_squares(
        self, batch: dict[str, torch.Tensor], fake: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(landmark lines, generated face, real face) in the landmark crop's square of every frame of the
        window, each (B(L+1), 3, crop, crop): what the face discriminator (``frame.face_gan``) compares."""
        c = self.cfg.landmark.crop
        centre = batch["centre"].flatten(0, 1)
        cond = crop_squares(batch["x"][:, :, 3:].flatten(0, 1), centre, c)
        return (
            cond,
            crop_squares(fake.flatten(0, 1), centre, c),
            crop_squares(batch["image"].flatten(0, 1), centre, c),
        )

    # ------------------------------------------------------------------ export / inference
    def inference_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        nets = {"G_lm": self.G_lm, "G": self.G} | ({"G_face": self.G_face} if self.G_face is not None else {})
        tensors = export_tensors(nets, self._train_kp)
        meta = {
            "size": [self.cfg.size, self.cfg.size],
            "skeleton": skeleton_spec(),
            "past": self.cfg.frame.past,
            "crop": self.cfg.landmark.crop,
            "face_offset": [
                float(v) for v in self._offset
            ],  # landmark-crop centre = body nose + this (model px)
            "face_fallback": [float(v) for v in self._fallback],  # crop centre when the nose is missing
            "faup_range": None if self._faup_range is None else self._faup_range.tolist(),
            "train_poses": sorted(self._train_kp),
            "n_train_poses": int(len(self._train_kp.get("body", ()))),
            "expression_basis": None
            if self._expr_basis is None
            else {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in self._expr_basis.items()},
            "config": to_dict(self.cfg),
        }
        return tensors, meta

    @classmethod
    def synthesizer(
        cls,
        cfg: UpperBodyConfig,
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        options: dict[str, Any] | None = None,
    ) -> Synthesizer:
        warp = (options or {}).get("expression_warp")
        if warp is not None:
            cfg = dataclasses.replace(cfg, warp_expression=bool(warp))
        return UpperBodySynthesizer.from_state(cfg, tensors, meta, device)


class UpperBodySynthesizer(Synthesizer):
    """Frames from driving poses (model pixels, normalized onto the target) and the driving face mesh.

    Per :meth:`step`: the driver's FAUP is computed from ``extras["face_raw"]`` (their 478-point mesh, any
    pixel frame) against a causal running neutral reference of the driver (:class:`RunningNeutral`), or
    taken from ``extras["faup"]`` (20,) when the caller has it precomputed (e.g. a clip's ``faup`` stage);
    frames without a face hold the last FAUP; with ``clamp_faup`` it is clamped to the target's training
    range (1st-99th percentile per value). FAUP image -> G_lm -> landmark crop pasted at body nose +
    offset; with the UBKP image this is x_t; G sees x_t, the past L inputs and the past L outputs (zeros at
    the start of a video, as in training). With ``warp_expression`` (set from ``cfg.warp_expression``; the
    model must carry its expression basis) the returned frame's face is then warped by the driver's unclamped
    action units minus the target's typical ones, fitted to the smile / jaw / brow modes (``last_expression``
    holds the amplitudes); the unwarped frame is what the next frames are conditioned on.
    """

    def __init__(
        self,
        cfg: UpperBodyConfig,
        G_lm: nn.Module,
        G: nn.Module,
        meta: dict[str, Any],  # noqa: N803
        device: torch.device | str = "cpu",
        G_face: nn.Module | None = None,
    ):  # noqa: N803
        self.cfg = cfg
        self.device = torch.device(device)
        self.G_lm = G_lm.to(self.device).eval()
        self.G = G.to(self.device).eval()
        self.G_face = None if G_face is None else G_face.to(self.device).eval()
        self.size = (int(cfg.size), int(cfg.size))
        self.L = int(cfg.frame.past)
        self.crop = int(cfg.landmark.crop)
        self.offset = np.asarray(meta.get("face_offset", [0.0, 0.0]), np.float32)
        self.fallback = np.asarray(meta.get("face_fallback", [cfg.size / 2, cfg.size / 3]), np.float32)
        self.neutral = RunningNeutral()
        rng = meta.get("faup_range")
        self.faup_range = np.asarray(rng, np.float32) if (rng is not None and cfg.clamp_faup) else None
        self._warned: set[str] = set()
        eb = meta.get("expression_basis")
        self.expression_basis = (
            None
            if eb is None
            else {k: v if k == "columns" else np.asarray(v, np.float32) for k, v in eb.items()}
        )
        self.warp_expression = bool(cfg.warp_expression)
        unknown = sorted({str(m) for m, _ in (eb or {}).get("columns", [])} - set(MODES))
        if unknown:  # a model from another version of the warp: leave the frames as the networks draw them
            self._note(
                "modes",
                f"the model's expression basis uses warp modes this reenactor lacks ({', '.join(unknown)}): "
                "no expression warp",
            )
            self.expression_basis = None
        self.reset()

    @classmethod
    def from_state(
        cls,
        cfg: UpperBodyConfig,
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        device: torch.device | str = "cpu",
    ) -> UpperBodySynthesizer:
        g_lm, g = build_generators(cfg)
        g_lm.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("G_lm.")}, strict=True)
        g.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")}, strict=True)
        g_face = build_face_refiner(cfg)
        if g_face is not None:
            g_face.load_state_dict(
                {k[7:]: v for k, v in tensors.items() if k.startswith("G_face.")}, strict=True
            )
        return cls(cfg, g_lm, g, meta, device, g_face)

    def reset(self) -> None:
        self._past_x: deque[torch.Tensor] = deque(maxlen=self.L)
        self._past_y: deque[torch.Tensor] = deque(maxlen=self.L)
        self._last_faup = np.zeros(FAUP_DIM, np.float32)
        self._faup_seen = False  # no driving face measured yet: no expression to warp by
        self.neutral.reset()
        self.last_landmarks: np.ndarray | None = None
        self.last_expression: dict[str, float] | None = None
        self._last_x: torch.Tensor | None = None
        self._last_centre: np.ndarray | None = None

    def input_view(self) -> np.ndarray | None:
        """The last UBKP-FL input as one picture: the generated landmark crop over the UBKP stick figure."""
        if self._last_x is None:
            return None
        from ...nn.convert import to_uint8

        ub, fl = self._last_x[:, :3], self._last_x[:, 3:]
        return to_uint8(torch.where((fl > -1.0).any(1, keepdim=True), fl, ub))[0]

    def _note(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.info(f"[upper_body] {text}")

    def driving_faup(self, extras: dict[str, Any] | None) -> np.ndarray:
        """(20,) FAUP of the driving frame (see the class docstring), clamped to the target's training range
        when ``clamp_faup`` (the landmark generator never saw expressions beyond it; printed once)."""
        extras = extras or {}
        if extras.get("faup") is not None:
            self._last_faup = np.asarray(extras["faup"], np.float32).reshape(FAUP_DIM)
            self._faup_seen = True
        elif extras.get("face_raw") is not None and has_face(np.asarray(extras["face_raw"], np.float32)):
            m, pose = face_measures(np.asarray(extras["face_raw"], np.float32))
            self._last_faup = faup_from_measures(m, pose, self.neutral.update(m))
            self._faup_seen = True
        elif extras.get("face_raw") is None:
            self._note("noface", "no `face_raw` in the driving record: the face keeps a neutral expression")
        else:
            self._note("hold", "a driving frame has no face: holding the last expression")
        if self.faup_range is not None:
            clamped = np.clip(self._last_faup, self.faup_range[0], self.faup_range[1])
            if not np.allclose(clamped, self._last_faup):
                self._note(
                    "clamp",
                    "the driver's FAUP goes beyond the target's training range: the landmark generator "
                    "gets it clamped to that range (clamp_faup: false to keep it)"
                    + ("; the expression warp uses it whole" if self.warp_expression else ""),
                )
            return clamped
        return self._last_faup

    @torch.inference_mode()
    def step(self, pose: dict[str, np.ndarray], extras: dict[str, Any] | None = None) -> np.ndarray:
        frame = self.render(pose, self.landmarks(self.driving_faup(extras)))
        return self.express(frame, self.last_faup) if (self.warp_expression and self._faup_seen) else frame

    @property
    def last_faup(self) -> np.ndarray:
        """(20,) the last driving FAUP as measured (before the clamp), what :meth:`express` warps by."""
        return self._last_faup

    def express(self, frame: np.ndarray, faup: np.ndarray) -> np.ndarray:
        """``frame`` (H, W, 3) uint8 with the face at the last rendered landmark crop warped by the expression
        in ``faup`` (20,): its action units minus the target's typical ones, fitted to the warp's modes
        (:func:`~reenactor.face.expression_warp.fit_expression`), applied about the target's typical face shape."""
        eb = self.expression_basis
        if eb is None:
            if "modes" not in self._warned:
                self._note(
                    "nobasis",
                    "this model carries no expression basis (trained before the expression warp): the "
                    "face shows only what the networks draw; re-train to add it",
                )
            return frame
        amp = fit_expression(
            eb["basis"],
            np.asarray(faup, np.float32)[:N_AU] - eb["ref"],
            self.cfg.expression,
            [tuple(c) for c in eb["columns"]],
        )
        self.last_expression = amp
        self._note(
            "warp",
            "the output face is warped by the driver's expression (warp_expression, not in the paper; "
            "--no-expression-warp for the networks' frames alone)",
        )
        if self._last_centre is None or not any(abs(a) > 1e-4 for a in amp.values()):
            return frame
        face = eb["shape"].copy()
        face[:, :2] += self._last_centre
        return ExpressionField(face, amp, self.cfg.expression.sigma).warp_image(frame)

    @torch.inference_mode()
    def landmarks(self, faup: np.ndarray) -> torch.Tensor:
        """The landmark generator's (3, c, c) face-landmark image in [-1, 1] for one (20,) FAUP vector (section 4);
        kept as ``last_landmarks`` (uint8) for the side-by-side view."""
        f_img = torch.from_numpy(faup_image(faup, (self.crop, self.crop), self.cfg.landmark.cell))[None]
        lm = self.G_lm(f_img.to(self.device))[0]
        self.last_landmarks = to_uint8(lm[None])[0]
        return lm

    @torch.inference_mode()
    def render(self, pose: dict[str, np.ndarray], lm: torch.Tensor) -> np.ndarray:
        """The next frame (H, W, 3) uint8 from the (normalized) upper-body ``pose`` and a (3, c, c) landmark image
        in [-1, 1] (the landmark generator's, or any other: ``experiments/upper_body_follow.py`` feeds warped real
        ones), conditioned on the past L inputs and outputs (section 5)."""
        centre = face_centre(np.asarray(pose["body"], np.float32), self.offset, self.fallback)
        kp = {
            k: torch.as_tensor(np.asarray(pose[k], np.float32), device=self.device)[None]
            for k in UBKP_PARTS
            if k in pose
        }
        at = torch.as_tensor(centre, dtype=torch.float32, device=self.device)[None]
        x = ubkp_fl(kp, lm.to(self.device)[None], at, self.size, self.cfg.hands)
        zero_x = torch.zeros_like(x)
        zero_y = x.new_zeros(1, 3, *self.size)
        past_x = list(reversed(self._past_x)) + [zero_x] * (self.L - len(self._past_x))
        past_y = list(reversed(self._past_y)) + [zero_y] * (self.L - len(self._past_y))
        y = self.G(frame_input(x, past_x, past_y))
        if self.G_face is not None:  # frame.face_refine
            y = refine_faces(self.G_face, y, x, at, self.crop)
        self._last_x = x
        self._last_centre = np.asarray(centre, np.float32)
        if self.L:
            self._past_x.append(x)
            self._past_y.append(y)
        return to_uint8(y[:1])[0]
