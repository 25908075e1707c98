"""The one loader of user-given weight files (reenactor.io.weights): formats, unwrapping, strict matching, errors."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from reenactor.errors import CheckpointError
from reenactor.io.weights import load_matching_state, load_state_dict_file

FIX = "give the right file"


def _state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"0.weight": torch.randn(4, 3, generator=g), "0.bias": torch.randn(4, generator=g)}


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_reads_both_formats_unwraps_state_dict_and_strips_module_prefix(tmp_path, fmt):
    state = _state()
    path = tmp_path / f"w.{fmt}"
    if fmt == "pth":
        torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, path)
    else:
        save_file({f"module.{k}": v for k, v in state.items()}, str(path))
    got = load_state_dict_file(path, "Toy", FIX)
    assert sorted(got) == sorted(state)
    for k, v in state.items():
        assert torch.equal(got[k], v)


def test_file_errors_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(CheckpointError, match="Toy weights file not found") as e:
        load_state_dict_file(tmp_path / "nope.pth", "Toy", FIX)
    assert "nope.pth" in str(e.value) and FIX in str(e.value)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read Toy weights") as e:
        load_state_dict_file(junk, "Toy", FIX)
    assert "junk.safetensors" in str(e.value)
    notensors = tmp_path / "n.pth"
    torch.save({"a": 1}, notensors)
    with pytest.raises(CheckpointError, match="not a Toy state dict"):
        load_state_dict_file(notensors, "Toy", FIX)


def test_load_matching_state_is_strict_on_the_module_keys_and_ignores_extras(tmp_path):
    net = torch.nn.Sequential(torch.nn.Linear(3, 4))
    state = {**_state(), "classifier.weight": torch.zeros(2)}
    load_matching_state(net, state, tmp_path / "w.pth", "Toy", FIX)
    assert torch.equal(net[0].weight, state["0.weight"]) and torch.equal(net[0].bias, state["0.bias"])
    with pytest.raises(CheckpointError, match=r"not an Inception state dict: missing 0\.bias") as e:
        load_matching_state(net, {"0.weight": state["0.weight"]}, tmp_path / "w.pth", "Inception", FIX)
    assert FIX in str(e.value)
    with pytest.raises(CheckpointError, match="Toy weights do not fit"):
        load_matching_state(net, {**state, "0.weight": torch.zeros(5, 3)}, tmp_path / "w.pth", "Toy", FIX)


def test_optional_weights_file_returns_the_file_or_logs_why_it_falls_back(tmp_path, logged):
    from reenactor.io.weights import optional_weights_file

    f = tmp_path / "w.pth"
    f.write_bytes(b"x")
    assert optional_weights_file(str(f), "toy", "--toy-weights", "using the variant") == f
    assert logged() == ""
    assert optional_weights_file(None, "toy", "--toy-weights", "using the variant") is None
    assert logged() == "[toy] no --toy-weights file given; using the variant\n"
    assert optional_weights_file(tmp_path / "nope.pth", "toy", "--toy-weights", "using the variant") is None
    assert logged() == f"[toy] --toy-weights file {tmp_path / 'nope.pth'} not found; using the variant\n"
    assert optional_weights_file(None, "toy", "--toy-weights", "using the variant", verbose=False) is None
    assert logged() == ""
