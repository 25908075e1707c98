"""Shared networks: backbones (real ImageNet weights), blocks, generators, discriminators, sequence modules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reenactor.errors import CheckpointError, ConfigError
from reenactor.nn import backbones


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


def test_load_feature_net_prints_and_falls_back(capsys):
    net = backbones.load_feature_net("vgg19", weights=None)
    out = capsys.readouterr().out
    assert "falling back to efficientnet_lite0" in out and "[feature net] efficientnet_lite0" in out
    assert net.name == "efficientnet_lite0"
    with pytest.raises(ConfigError):
        backbones.load_feature_net("resnet50")


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_vgg19_loads_torchvision_layout(tmp_path, fmt, capsys):
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
    assert str(path) in capsys.readouterr().out
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
