"""Losses: golden values where the math is known, warping, and a generator that learns under
L1 + GAN + feature matching + perceptual."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reenactor import losses as L
from reenactor import nn as rnn
from reenactor.nn.backbones import load_feature_net

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def effnet():
    return load_feature_net("effnet", verbose=False)


def test_gan_losses_golden():
    z = torch.zeros(2, 1, 4, 4)
    assert L.gan_loss_g(z, "lsgan").item() == pytest.approx(1.0)
    assert L.gan_loss_d(z, z, "lsgan").item() == pytest.approx(0.5)
    assert L.gan_loss_g(z, "hinge").item() == pytest.approx(0.0)
    assert L.gan_loss_d(z, z, "hinge").item() == pytest.approx(2.0)
    assert L.gan_loss_g(z, "vanilla").item() == pytest.approx(math.log(2), rel=1e-5)
    assert L.gan_loss_d(z, z, "vanilla").item() == pytest.approx(math.log(2), rel=1e-5)
    # perfect D: real +3, fake -3 -> hinge D loss 0, lsgan on fake for G = 16
    r, f = torch.full((1, 1, 2, 2), 3.0), torch.full((1, 1, 2, 2), -3.0)
    assert L.gan_loss_d(r, f, "hinge").item() == 0.0
    assert L.gan_loss_g(f, "lsgan").item() == pytest.approx(16.0)
    # multi-scale nested outputs average over scales (logits are the last map of each scale)
    ms = [[torch.ones(1, 2, 2, 2), torch.zeros(1, 1, 2, 2)], [torch.ones(1, 2, 1, 1), torch.ones(1, 1, 1, 1)]]
    assert L.gan_loss_g(ms, "lsgan").item() == pytest.approx(0.5)
    with pytest.raises(ValueError):
        L.gan_loss_g(z, "wgan")


@pytest.mark.parametrize("mode", ["lsgan", "hinge", "vanilla"])
def test_gan_losses_weighted_per_item(mode):
    """``weight`` (B,): ones = the plain mean; a 0 drops that item exactly as leaving it out of the batch would;
    all zeros = 0 with a finite (zero) gradient, so an item without a face needs no data-dependent shape."""
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(3, 1, 4, 4, generator=g), torch.randn(3, 1, 4, 4, generator=g)
    ones, keep = torch.ones(3), torch.tensor([1.0, 0.0, 1.0])
    for fn, args in ((L.gan_loss_g, (fake,)), (L.gan_loss_d, (real, fake))):
        assert fn(*args, mode, weight=ones).item() == pytest.approx(fn(*args, mode).item(), rel=1e-6)
        kept = [a[[0, 2]] for a in args]
        assert fn(*args, mode, weight=keep).item() == pytest.approx(fn(*kept, mode).item(), rel=1e-6)
    x = fake.clone().requires_grad_()
    none = L.gan_loss_g(x, mode, weight=torch.zeros(3))
    none.backward()
    assert none.item() == 0.0 and torch.isfinite(x.grad).all() and not x.grad.any()


def test_feature_matching_eq11():
    real = [
        [torch.zeros(1, 2, 4, 4), torch.zeros(1, 4, 2, 2), torch.zeros(1, 1, 2, 2)],
        [torch.zeros(1, 2, 2, 2), torch.zeros(1, 4, 1, 1), torch.zeros(1, 1, 1, 1)],
    ]
    fake = [
        [torch.full((1, 2, 4, 4), 1.0), torch.full((1, 4, 2, 2), 2.0), torch.full((1, 1, 2, 2), 9.0)],
        [torch.full((1, 2, 2, 2), 3.0), torch.zeros(1, 4, 1, 1), torch.full((1, 1, 1, 1), 9.0)],
    ]
    # scale 1: 1 + 2, scale 2: 3 + 0 (logits excluded); mean over scales = 3
    assert L.feature_matching(real, fake).item() == pytest.approx(3.0)
    real[0][0].requires_grad_(True)
    fake[0][0].requires_grad_(True)
    L.feature_matching(real, fake).backward()
    assert real[0][0].grad is None and fake[0][0].grad is not None  # real side detached


def test_pixel_losses():
    a, b = torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
    assert L.l1(a, b).item() == 1.0
    b2 = b.clone()
    b2[..., :2] = 5.0  # left half wrong by 5, right half by 1
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 2:] = 1
    assert L.masked_l1(a, b2, mask).item() == pytest.approx(1.0)
    assert L.masked_l1(a, b2, 1 - mask).item() == pytest.approx(5.0)
    assert L.masked_l1(a, b2, torch.zeros_like(mask)).item() == 0.0
    logits = torch.randn(2, 4, 3, 3)
    target = torch.randint(0, 4, (2, 3, 3))
    soft = torch.nn.functional.one_hot(target, 4).permute(0, 3, 1, 2).float()
    assert L.cross_entropy(logits, target).item() == pytest.approx(
        L.cross_entropy(logits, soft).item(), rel=1e-5
    )
    perfect = soft * 50
    assert L.cross_entropy(perfect, target).item() < 1e-6


def test_perceptual_loss(effnet, capsys):
    torch.manual_seed(0)
    p = L.PerceptualLoss(net=effnet)
    assert "efficientnet_lite0" in p.description
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert p(x, x).item() == 0.0
    y = (x + 0.3 * torch.randn_like(x)).clamp(-1, 1)
    xi = x.clone().requires_grad_(True)
    loss = p(xi, y)
    assert loss.item() > 0
    loss.backward()
    assert xi.grad.abs().sum() > 0
    # a masked-out region does not count
    mask = torch.zeros(2, 1, 32, 32)
    assert p(x, y, mask).item() == 0.0
    with pytest.raises(ValueError):
        L.PerceptualLoss(net=effnet, layers=[7])


def test_warp_shift_and_identity():
    torch.manual_seed(0)
    img = torch.randn(1, 3, 16, 16)
    assert torch.allclose(L.warp(img, torch.zeros(1, 2, 16, 16)), img, atol=1e-5)
    flow = torch.zeros(1, 2, 16, 16)
    flow[:, 0] = 2.0  # sample 2 px to the right
    flow[:, 1] = -1.0  # and 1 px up
    out, valid = L.warp(img, flow, return_valid=True)
    torch.testing.assert_close(out[..., 1:, :14], img[..., :15, 2:], atol=1e-5, rtol=1e-5)
    assert valid[..., 0, :].sum() == 0 and valid[..., 5, 14:].sum() == 0 and valid[..., 5, :14].all()


def test_temporal_warp_loss_eq4():
    torch.manual_seed(0)
    base = torch.randn(1, 3, 24, 24)
    # the "next" frame is the previous one moved 3 px to the right: prev[y, x] appears at next[y, x + 3]
    prev = base
    nxt = torch.roll(base, shifts=3, dims=-1)
    fwd = torch.zeros(1, 2, 24, 24)
    fwd[:, 0] = 3.0  # forward flow prev -> next
    assert L.temporal_warp_loss(prev, nxt, fwd).item() < 1e-5
    bwd = -fwd  # backward flow next -> prev
    loss_b = L.temporal_warp_loss(prev, nxt, bwd, flow_direction="backward")
    assert loss_b.item() < 1e-5
    wrong = L.temporal_warp_loss(prev, nxt, torch.zeros_like(fwd))
    assert wrong.item() > 0.5
    # weights: zero weight everywhere except one column where the mismatch is known
    w = torch.zeros(1, 1, 24, 24)
    w[..., 10] = 1.0
    golden = (nxt[..., 10] - prev[..., 10]).abs().mean()
    assert L.temporal_warp_loss(prev, nxt, torch.zeros_like(fwd), weight=w).item() == pytest.approx(
        golden.item(), rel=1e-5
    )


def test_limb_weight_map():
    kp = np.zeros((25, 3), np.float32)
    kp[1] = [10, 5, 1]  # neck
    kp[8] = [10, 25, 1]  # mid hip: a vertical limb at x = 10
    a = L.limb_weight_map(kp, (32, 32), sigma=2.0)
    assert a.shape == (1, 1, 32, 32)
    assert a[0, 0, 15, 10].item() == pytest.approx(1.0)
    assert a[0, 0, 15, 12].item() == pytest.approx(math.exp(-4 / 8), rel=1e-4)
    assert a[0, 0, 15, 30].item() < 1e-6
    empty = L.limb_weight_map(np.zeros((25, 3)), (8, 8))
    assert torch.all(empty == 1)  # no pose: the loss still applies uniformly


def test_generator_learns_with_all_losses(effnet):
    """G with L1 + LSGAN + feature matching + perceptual lowers its total loss on a fixed batch (alternating
    G and D updates, as the trainer does)."""
    torch.manual_seed(0)
    g = rnn.GlobalGenerator(4, 3, ngf=8, n_downsampling=2, n_blocks=1)
    d = rnn.MultiscaleDiscriminator(7, ndf=8, n_layers=2, num_D=2)
    perc = L.PerceptualLoss(net=effnet)
    cond = torch.randn(2, 4, 32, 32)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    real = torch.stack([xx, yy, xx * yy], 0)[None].repeat(2, 1, 1, 1) * 0.8
    og = torch.optim.Adam(g.parameters(), 2e-3, betas=(0.5, 0.999))
    od = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))

    def g_loss(log: bool = False) -> tuple[torch.Tensor, dict]:
        fake = g(cond)
        df = d(torch.cat([cond, fake], 1))
        dr = d(torch.cat([cond, real], 1))
        terms = {
            "l1": 10 * L.l1(fake, real),
            "gan": L.gan_loss_g(df, "lsgan"),
            "fm": 10 * L.feature_matching(dr, df),
            "perc": 10 * perc(fake, real),
        }
        return sum(terms.values()), terms

    with torch.no_grad():
        first, first_terms = g_loss()
    for _ in range(30):
        loss, _ = g_loss()
        og.zero_grad()
        loss.backward()
        og.step()
        with torch.no_grad():
            fake = g(cond)
        ld = L.gan_loss_d(d(torch.cat([cond, real], 1)), d(torch.cat([cond, fake], 1)), "lsgan")
        od.zero_grad()
        ld.backward()
        od.step()
    with torch.no_grad():
        last, last_terms = g_loss()
    assert last.item() < 0.7 * first.item(), (first_terms, last_terms)
    assert last_terms["l1"] < 0.8 * first_terms["l1"] and last_terms["perc"] < first_terms["perc"]
