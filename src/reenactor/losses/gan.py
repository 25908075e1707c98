"""Adversarial losses for G and D (vanilla/BCE, LSGAN, hinge) and discriminator feature matching
(Gafni et al. 2021 eq. 11; pix2pixHD eq. 4).

Discriminator outputs may be a tensor of patch logits, a list of feature maps (last = logits), or a list
over scales of such lists (:class:`reenactor.nn.MultiscaleDiscriminator`); losses are averaged over scales.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

GanMode = Literal["vanilla", "lsgan", "hinge"]
GAN_MODES = ("vanilla", "lsgan", "hinge")

DOut = torch.Tensor | list[torch.Tensor] | list[list[torch.Tensor]]


def _logits(out: DOut) -> list[torch.Tensor]:
    """The patch-logit map of every scale."""
    if isinstance(out, torch.Tensor):
        return [out]
    if len(out) and isinstance(out[0], (list, tuple)):
        return [scale[-1] for scale in out]
    return [out[-1]]


def _features(out: DOut) -> list[list[torch.Tensor]]:
    """Per scale, the intermediate feature maps (logits excluded)."""
    if isinstance(out, torch.Tensor):
        return [[]]
    if len(out) and isinstance(out[0], (list, tuple)):
        return [list(scale[:-1]) for scale in out]
    return [list(out[:-1])]


def _check(mode: str) -> None:
    if mode not in GAN_MODES:
        raise ValueError(f"unknown GAN loss {mode!r}; choose one of {', '.join(GAN_MODES)}")


def _mean(t: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """The mean of per-patch losses ``t`` ``(B, ...)``, or with ``weight`` ``(B,)`` the items' means weighted by it
    (0 for none): items of weight 0 drop out without a data-dependent shape (no host sync on a GPU)."""
    if weight is None:
        return t.mean()
    w = weight.to(t.dtype)
    return (t.flatten(1).mean(1) * w).sum() / w.sum().clamp_min(1e-8)


def gan_loss_g(fake_out: DOut, mode: GanMode = "lsgan", weight: torch.Tensor | None = None) -> torch.Tensor:
    """Generator adversarial loss on D(fake), averaged over scales (and over items, weighted by ``weight``
    ``(B,)`` when given, e.g. 0/1 for the items that have a face to judge).

    vanilla: BCE(D(fake), 1) (non-saturating); lsgan: mean (D(fake) - 1)^2 (001 eq. 10); hinge: -mean D(fake).
    """
    _check(mode)
    terms = []
    for lg in _logits(fake_out):
        lg = lg.float()
        if mode == "vanilla":
            t = F.binary_cross_entropy_with_logits(lg, torch.ones_like(lg), reduction="none")
        elif mode == "lsgan":
            t = (lg - 1) ** 2
        else:
            t = -lg
        terms.append(_mean(t, weight))
    return torch.stack(terms).mean()


def gan_loss_d(
    real_out: DOut, fake_out: DOut, mode: GanMode = "lsgan", weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Discriminator loss on D(real) and D(fake) (fake already detached by the caller), averaged over scales
    (and over items, weighted by ``weight`` ``(B,)`` when given, as in :func:`gan_loss_g`).

    vanilla: BCE(real, 1) + BCE(fake, 0); lsgan: (real - 1)^2 + fake^2; hinge: relu(1 - real) + relu(1 + fake).
    Each half is averaged, and the sum is halved (pix2pixHD convention) for vanilla and lsgan.
    """
    _check(mode)
    terms = []
    for lr, lf in zip(_logits(real_out), _logits(fake_out)):
        lr, lf = lr.float(), lf.float()
        if mode == "vanilla":
            t = 0.5 * (
                _mean(F.binary_cross_entropy_with_logits(lr, torch.ones_like(lr), reduction="none"), weight)
                + _mean(
                    F.binary_cross_entropy_with_logits(lf, torch.zeros_like(lf), reduction="none"), weight
                )
            )
        elif mode == "lsgan":
            t = 0.5 * (_mean((lr - 1) ** 2, weight) + _mean(lf**2, weight))
        else:
            t = _mean(F.relu(1 - lr), weight) + _mean(F.relu(1 + lf), weight)
        terms.append(t)
    return torch.stack(terms).mean()


def feature_matching(real_out: DOut, fake_out: DOut) -> torch.Tensor:
    """Discriminator feature matching, Gafni et al. 2021 eq. 11:

        L_FM(D_k) = sum_j 1/N_j || D_k^(j)(real) - D_k^(j)(fake) ||_1

    i.e. the mean absolute difference per layer j (logits excluded), summed over layers and averaged over the
    scales k. Real features are detached (G's loss only).
    """
    total = None
    feats_r, feats_f = _features(real_out), _features(fake_out)
    n_scales = len(feats_f)
    for fr_scale, ff_scale in zip(feats_r, feats_f):
        for fr, ff in zip(fr_scale, ff_scale):
            t = F.l1_loss(ff.float(), fr.detach().float())
            total = t if total is None else total + t
    if total is None:
        raise ValueError(
            "feature_matching needs discriminator outputs with intermediate features "
            "(a list of maps per scale, as MultiscaleDiscriminator returns)"
        )
    return total / n_scales
