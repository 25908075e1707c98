"""Shared networks: backbones (real ImageNet weights), blocks, generators, discriminators, sequence modules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reenactor.errors import CheckpointError, ConfigError
from reenactor.nn import backbones

pytestmark = pytest.mark.usefixtures("one_thread")


def _image(name: str, size: int = 224) -> torch.Tensor:
    from reenactor.io.video import read_image
    from reenactor.samples import sample_path

    img = np.asarray(read_image(sample_path("astronaut").parent / name))[..., :3]
    x = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


@pytest.fixture(scope="module")
def effnet():
    return backbones.load_feature_net("effnet")


# ------------------------------------------------------------------------------------------ backbones
def test_effnet_classifies_real_photos(effnet):
    """The packaged ImageNet weights load strictly and the architecture matches them: skimage's cat photo is
    a cat (ImageNet 281-285), the coffee photo is espresso/cup (967/968/504); a flat grey image is not
    confidently anything."""
    with torch.no_grad():
        cat = effnet.logits(_image("chelsea.png")).softmax(-1)[0]
        coffee = effnet.logits(_image("coffee.png")).softmax(-1)[0]
        flat = effnet.logits(torch.zeros(1, 3, 224, 224)).softmax(-1)[0]
    assert int(cat.argmax()) in range(281, 286) and float(cat[281:286].sum()) > 0.8
    assert int(coffee.argmax()) in (967, 968, 504) and float(coffee.max()) > 0.5
    assert float(flat.max()) < 0.2


def test_effnet_features_shapes_and_pooled(effnet, capsys):
    x = _image("astronaut.png", 64)
    feats = effnet(x)
    assert [f.shape[1] for f in feats] == list(effnet.channels)
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 4, 2]
    assert all(torch.isfinite(f).all() and f.std() > 1e-3 for f in feats)
    pooled = effnet.pooled(torch.cat([x, torch.zeros_like(x)]))
    assert pooled.shape == (2, 1280)
    assert (pooled[0] - pooled[1]).abs().mean() > 1e-2  # photo vs flat image differ
    # frozen: no grads, stays in eval even when a parent calls .train()
    effnet.train()
    assert not effnet.training and not any(p.requires_grad for p in effnet.parameters())
    # but gradients flow *through* it to the input (perceptual loss)
    xi = x.clone().requires_grad_(True)
    effnet(xi)[-1].mean().backward()
    assert xi.grad is not None and xi.grad.abs().sum() > 0


def test_load_feature_net_logs_and_falls_back(logged):
    net = backbones.load_feature_net("vgg19", weights=None)
    out = logged()
    assert "falling back to efficientnet_lite0" in out and "[feature net] efficientnet_lite0" in out
    assert net.name == "efficientnet_lite0"
    with pytest.raises(ConfigError):
        backbones.load_feature_net("resnet50")


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_vgg19_loads_torchvision_layout(tmp_path, fmt, logged):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    ref = backbones.VGG19Features()
    # a full torchvision-style state dict: all 37 feature layers + classifier keys
    state = {f"features.{k}": v for k, v in ref.features.state_dict().items()}
    state["features.30.weight"] = torch.zeros(512, 512, 3, 3)
    state["classifier.0.weight"] = torch.zeros(8, 8)
    path = tmp_path / f"vgg19.{fmt}"
    if fmt == "pth":
        torch.save(state, path)
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    net = backbones.load_feature_net("vgg19", weights=path)
    assert str(path) in logged()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    a, b = net(x), ref(x)
    assert [f.shape[1] for f in a] == [64, 128, 256, 512, 512] and a[-1].shape[-1] == 2
    for fa, fb in zip(a, b):
        torch.testing.assert_close(fa, fb)


def test_vgg19_bad_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        backbones.load_feature_net("vgg19", weights=tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        backbones.load_feature_net("vgg19", weights=bad)
    other = tmp_path / "other.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, other)
    with pytest.raises(CheckpointError, match="missing"):
        backbones.load_feature_net("vgg19", weights=other)


# ------------------------------------------------------------------------------------------ blocks / networks
from reenactor import nn as rnn  # noqa: E402


def _grads_reach_all(module: torch.nn.Module, loss: torch.Tensor) -> None:
    module.zero_grad(set_to_none=True)
    loss.backward()
    missing = [
        n
        for n, p in module.named_parameters()
        if p.requires_grad and (p.grad is None or p.grad.abs().sum() == 0)
    ]
    assert not missing, f"no gradient reached: {missing}"


@pytest.mark.parametrize("norm", ["batch", "instance", "spade", "none"])
@pytest.mark.parametrize("act", ["relu", "lrelu", "tanh"])
def test_conv_block_norms(norm, act):
    torch.manual_seed(0)
    blk = rnn.ConvBlock(
        4, 8, 3, stride=2, norm=norm, act=act, label_nc=5 if norm == "spade" else None, pad_mode="reflect"
    )
    x, seg = torch.randn(2, 4, 16, 16), torch.rand(2, 5, 32, 32)
    y = blk(x, seg if norm == "spade" else None)
    assert y.shape == (2, 8, 8, 8)
    if act == "tanh":
        assert y.abs().max() <= 1
    _grads_reach_all(blk, (y * torch.randn_like(y)).sum())
    if norm == "spade":
        with pytest.raises(ValueError, match="seg"):
            blk(x)
    with pytest.raises(ValueError, match="unknown norm"):
        rnn.ConvBlock(4, 8, norm="group")


def test_transposed_block_and_resnet_block():
    up = rnn.ConvBlock(8, 4, 3, stride=2, transpose=True)
    assert up(torch.randn(1, 8, 8, 8)).shape == (1, 4, 16, 16)
    rb = rnn.ResnetBlock(8, norm="spade", label_nc=3)
    x = torch.randn(2, 8, 8, 8)
    y = rb(x, torch.rand(2, 3, 8, 8))
    assert y.shape == x.shape
    _grads_reach_all(rb, (y * torch.randn_like(y)).sum())


def test_spade_resblock_and_decoder_from_vector():
    torch.manual_seed(0)
    blk = rnn.SPADEResBlock(8, 4, label_nc=3, hidden=8)
    y = blk(torch.randn(2, 8, 8, 8), torch.rand(2, 3, 32, 32))
    assert y.shape == (2, 4, 8, 8)
    _grads_reach_all(blk, (y * torch.randn_like(y)).sum())
    dec = rnn.SPADEDecoder(z_dim=16, label_nc=3, size=(32, 32), ngf=4, n_up=3, spade_hidden=8, out_mask=True)
    img, mask = dec(torch.randn(2, 16), torch.rand(2, 3, 32, 32))
    assert img.shape == (2, 3, 32, 32) and mask.shape == (2, 1, 32, 32)
    assert img.abs().max() <= 1 and 0 <= mask.min() and mask.max() <= 1
    _grads_reach_all(dec, (img * torch.randn_like(img)).sum() + (mask * torch.randn_like(mask)).sum())
    # the segmentation actually conditions the output
    z = torch.randn(1, 16)
    a = dec(z, torch.zeros(1, 3, 32, 32))[0]
    b = dec(z, torch.ones(1, 3, 32, 32))[0]
    assert (a - b).abs().mean() > 1e-4


def test_encoder_decoder_parts():
    enc = rnn.Encoder(5, ngf=4, n_down=2)
    feats = enc(torch.randn(1, 5, 32, 32))
    assert [f.shape[1:] for f in feats] == [(4, 32, 32), (8, 16, 16), (16, 8, 8)]
    dec = rnn.Decoder(16, 3, n_up=2, skip_channels=enc.channels, min_ch=4)
    assert dec(feats[-1], feats).shape == (1, 3, 32, 32)


@pytest.mark.parametrize("upsample", ["transpose", "nearest", "bilinear"])
def test_decoder_upsampling_and_the_checkerboard_it_leaves(upsample):
    """Every upsampling mode gives the same shapes with skips; with every weight 1 on a constant input the
    transposed conv's uneven kernel overlap leaves a period-2 pattern inside the frame, resize-convolution none."""
    enc = rnn.Encoder(5, ngf=4, n_down=2)
    feats = enc(torch.randn(1, 5, 32, 32))
    dec = rnn.Decoder(16, 3, n_up=2, skip_channels=enc.channels, min_ch=4, upsample=upsample)
    y = dec(feats[-1], feats)
    assert y.shape == (1, 3, 32, 32)
    _grads_reach_all(dec, (y * torch.randn_like(y)).sum())
    flat = rnn.Decoder(2, 1, n_up=2, norm="none", act="relu", out_act="none", min_ch=2, upsample=upsample)
    with torch.no_grad():
        for p in flat.parameters():
            p.fill_(1.0 if p.dim() > 1 else 0.0)
        inner = flat(torch.ones(1, 2, 8, 8))[0, 0, 10:-10, 10:-10]
    spread = float(inner.std() / inner.mean())
    assert (spread > 0.05) if upsample == "transpose" else (spread < 1e-6), spread
    with pytest.raises(ValueError, match="upsample must be one of"):
        rnn.Decoder(16, 3, upsample="pixelshuffle")
    unet = rnn.UNetGenerator(6, 3, num_downs=3, ngf=4, norm="instance", upsample=upsample)
    y = unet(torch.randn(2, 6, 32, 32))
    assert y.shape == (2, 3, 32, 32) and y.abs().max() <= 1
    _grads_reach_all(unet, (y * torch.randn_like(y)).sum())
    with pytest.raises(ValueError, match="upsample must be one of"):
        rnn.UNetGenerator(6, 3, upsample="pixelshuffle")


@pytest.mark.parametrize("kind", ["global", "local", "unet", "encdec"])
def test_generators_shapes_and_grads(kind):
    torch.manual_seed(0)
    if kind == "global":
        g = rnn.GlobalGenerator(6, 3, ngf=4, n_downsampling=2, n_blocks=2)
    elif kind == "local":
        g = rnn.LocalEnhancer(
            6, 3, ngf=4, n_downsample_global=2, n_blocks_global=1, n_local_enhancers=1, n_blocks_local=1
        )
    elif kind == "unet":
        g = rnn.UNetGenerator(6, 3, num_downs=5, ngf=4, dropout=0.5)
    else:
        g = rnn.EncoderDecoder(6, 3, ngf=4, n_down=2, n_blocks=1)
    x = torch.randn(2, 6, 32, 32)
    y = g(x)
    assert y.shape == (2, 3, 32, 32) and y.abs().max() <= 1
    _grads_reach_all(g, (y * torch.randn_like(y)).sum())
    with pytest.raises(ValueError, match="divisible"):
        g(torch.randn(1, 6, 34, 34))


def test_multiscale_and_spacetime_discriminators():
    torch.manual_seed(0)
    d = rnn.MultiscaleDiscriminator(4, ndf=4, n_layers=2, num_D=2)
    out = d(torch.randn(2, 4, 32, 32))
    assert len(out) == 2 and all(len(s) == 4 for s in out)
    assert out[0][-1].shape[:2] == (2, 1) and out[1][-1].shape[-1] < out[0][-1].shape[-1]
    _grads_reach_all(d, sum(s[-1].sum() for s in out))
    st = rnn.SpaceTimeDiscriminator(frame_nc=3, n_frames=3, ndf=4, n_layers=2, num_D=1)
    o = st(torch.randn(2, 3, 3, 32, 32))
    assert o[0][-1].shape[:2] == (2, 1)
    # frame order matters: the D sees time
    x = torch.randn(1, 3, 3, 32, 32)
    assert not torch.allclose(st(x)[0][-1], st(x.flip(1))[0][-1])
    _grads_reach_all(st, sum(s[-1].sum() for s in o))
    with pytest.raises(ValueError, match="expects"):
        st(torch.randn(2, 9, 32, 32))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_sequence_module(cell):
    torch.manual_seed(0)
    m = rnn.SequenceModule(6, hidden_dim=8, output_dim=4, cell=cell, num_layers=2)
    x = torch.randn(3, 5, 6)
    y, state = m(x)
    assert y.shape == (3, 5, 4)
    _grads_reach_all(m, y.square().sum())
    # streaming step by step equals the whole sequence
    st = None
    steps = []
    for t in range(5):
        yt, st = m.step(x[:, t], st)
        steps.append(yt)
    torch.testing.assert_close(torch.stack(steps, 1), y, atol=1e-5, rtol=1e-5)
