"""Every method's precision is declared: honoured where declared (cloning, pix2pix: bf16 autocast), refused with
one message naming the method elsewhere."""

from __future__ import annotations

import numpy as np
import pytest

from _cloning_fixtures import _one_torch_thread, export_untrained, make_clip  # noqa: F401 - autouse fixture
from reenactor.errors import InputError
from reenactor.methods import get_method, method_names
from reenactor.modelfile import check_precision, open_model


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("prec") / "t", n=6)


def test_every_method_declares_fp32():
    for name in method_names():
        assert get_method(name).precisions[0] == "fp32", name


@pytest.mark.parametrize("method", ["cloning", "pix2pix"])
def test_bf16_is_honoured(method, target, tmp_path):
    path = export_untrained(method, tmp_path / "m.safetensors", [target])
    pose = {"body": np.asarray(target.load("body")[0]), "face": np.asarray(target.load("face")[0])}
    s32 = open_model(path).synthesizer
    s16 = open_model(path, precision="bf16").synthesizer
    assert s16.precision == "bf16"
    a, b = s32.step(pose), s16.step(pose)
    assert a.shape == b.shape and not np.array_equal(a, b)  # it really ran in bf16
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 8  # and close to fp32


@pytest.mark.parametrize("method", ["nearest_neighbor", "upper_body", "pose_warp"])
def test_bf16_is_refused_with_the_method_named(method, target, tmp_path):
    with pytest.raises(InputError, match=f"method {method} runs in fp32 only, not bf16"):
        check_precision(get_method(method), "bf16")
    if method == "nearest_neighbor":  # through the loader too
        path = export_untrained(method, tmp_path / "m.safetensors", [target])
        with pytest.raises(InputError, match="--precision fp32"):
            open_model(path, precision="bf16")
