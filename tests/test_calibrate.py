"""Calibrated inference options (``data.holdout``): frames held out of training are never drawn, the trainer fits a
declared option on them through the transfer path, writes it into the model file, and transfer uses it unless
told otherwise. A tiny reference method whose frames are the photo scaled by its option."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from reenactor.cli import main
from reenactor.data.clips import open_clips
from reenactor.data.pairs import FramePairs, HeldOut, PairOptions
from reenactor.errors import ConfigError
from reenactor.methods.base import InferenceOption, Synthesizer
from reenactor.modelfile import load_model, open_model
from reenactor.train.config import build_run_config

sys.path.insert(0, str(Path(__file__).parent))
from test_multiclip import TinyRefMethod, _train, make_clip  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


class GainSynth(Synthesizer):
    """Every frame is the photo times ``gain`` (what the calibration fits)."""

    def __init__(self, gain: float):
        self.gain, self.size, self.photo = gain, (16, 16), None

    def set_reference(self, reference: Any) -> None:
        self.photo = reference.image.astype(np.float32)

    def step(self, pose: dict[str, np.ndarray], extras: dict[str, Any] | None = None) -> np.ndarray:
        return np.clip(self.photo * self.gain + 0.5, 0, 255).astype(np.uint8)


@dataclass
class GainConfig:
    size: int = 16
    width: int = 4


class GainMethod(TinyRefMethod):
    name = "tinygain"
    Config = GainConfig
    inference_options = (
        InferenceOption("gain", float, None, "scale of the photo (default: calibrated, else 1)"),
    )

    @classmethod
    def calibrated_options(cls, cfg: Any) -> list[tuple[str, tuple[Any, ...]]]:
        return [("gain", (1.0, 0.5, 1.2, 1.5))]

    @classmethod
    def synthesizer(cls, cfg, tensors, meta, device="cpu", precision="fp32", options=None) -> Synthesizer:
        gain = (options or {}).get("gain")
        return GainSynth(1.0 if gain is None else gain)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """ann (20 frames: red 8 t), bob (6 frames: too short to spare 4)."""
    root = tmp_path_factory.mktemp("cal") / "clips"
    for name, n, code in (("ann", 20, 1), ("bob", 6, 3)):
        store = make_clip(root / name, n, code)
        body = np.zeros(
            (n, 25, 3), np.float32
        )  # a still body whose joints lie apart (normalization fits them)
        body[:, :, 0] = 3 + 2 * (np.arange(25) % 5)
        body[:, :, 1] = 3 + 2 * (np.arange(25) // 5)
        body[:, :, 2] = 1
        store.save("body", body, stage="extract")
    return root


def test_held_out_frames_are_never_drawn_and_follow_their_photo(clips):
    cs = open_clips([clips])
    ds = FramePairs(cs, PairOptions(max_distance=0, holdout=4))
    ann = [i for i, c in enumerate(cs) if c.identity == "ann"][0]
    assert ds.heldout == [HeldOut(ann, 15, 16, 20)]  # bob (6 frames) keeps all: fewer than 2 x 4 + 1
    assert len(ds) == 16 + 6
    for seed in range(5):
        np.random.seed(seed)
        for i in range(len(ds)):
            p = ds.pair(i)
            if p.clip == ann:
                assert p.target_t < 16 and p.source_t < 16
    assert FramePairs(cs, PairOptions(max_distance=0)).heldout == []
    with pytest.raises(ConfigError, match="data.holdout must be >= 0"):
        build_run_config({"method": "x", "data": {"holdout": -1}})


def test_training_fits_the_option_on_the_held_out_frames_and_transfer_uses_it(
    clips, tmp_path, monkeypatch, capsys, caplog
):
    import reenactor.methods

    real_get = reenactor.methods.get_method
    monkeypatch.setattr(
        reenactor.methods, "get_method", lambda n: GainMethod if n == "tinygain" else real_get(n)
    )
    # photo: ann's frame 15 (red 120); held out: frames 16-19 (red 128-152). Gains 1, 0.5, 1.2, 1.5 draw red 120,
    # 60, 144, 180, and green 10 x 1 x gain against 10: gain 1.2 is nearest (mean L1 over the RGB pixels ~3.3)
    with caplog.at_level(logging.INFO, logger="reenactor"):
        path = _train([clips], tmp_path / "run", 2, cls=GainMethod, holdout=4)
    meta = load_model(path).meta
    errs = meta["calibration"]["gain"]
    assert meta["calibrated"] == {"gain": 1.2} and list(errs) == ["1.0", "0.5", "1.2", "1.5"]
    red = np.array([128, 136, 144, 152], np.float32)
    for g, e in errs.items():  # the error is the mean L1 of the whole frames against the real ones
        want = np.mean([(abs(120 * float(g) - r) + abs(10 * float(g) - 10)) / 3 for r in red])
        assert e == pytest.approx(want, abs=0.4), g
    assert open_model(path, method="tinygain").options["gain"] == 1.2  # the model's calibrated value
    assert (
        open_model(path, method="tinygain", options={"gain": 0.5}).options["gain"] == 0.5
    )  # a given one wins
    assert "data.holdout 4: 4 frames (the last of 1 clip(s)) kept out of training" in caplog.text
    assert main(["info", str(path)]) == 0
    assert (
        "calibrated:  gain = 1.2, fitted on frames held out of training (mean L1 per value: 1.0 "
        in capsys.readouterr().out
    )
    plain = load_model(
        _train([clips], tmp_path / "plain", 2, cls=GainMethod)
    ).meta  # holdout 0: nothing fitted
    assert (
        "calibrated" not in plain
        and open_model(tmp_path / "plain" / "model.safetensors").options["gain"] is None
    )


def test_a_method_that_declares_nothing_fits_nothing_and_says_so(clips, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="reenactor"):
        path = _train([clips], tmp_path / "run", 2, cls=TinyRefMethod, holdout=4)
    assert "calibrated" not in load_model(path).meta
    assert "calibrates nothing; the frames data.holdout kept out were not trained on" in caplog.text


def test_held_out_frames_join_training_after_the_calibration_and_a_resume_continues_alike(
    clips, tmp_path, caplog
):
    """data.holdout_until 0.3 of 10 steps: steps 1-3 never draw ann's last 4 frames, the option is fitted after step
    3 and the held-out frames train from step 4 on; 6 steps + Ctrl-C + resume give the same pairs and the same
    calibrated values as 10 straight steps."""
    from test_multiclip import _recorder

    def run(out, stop_at=None, resume=False):
        seen: dict[int, torch.Tensor] = {}
        path = _train([clips], out, 10, cls=GainMethod, resume=resume, callbacks=[_recorder(seen, stop_at)],
                      holdout=4, holdout_until=0.3)  # fmt: skip
        return path, seen

    with caplog.at_level(logging.INFO, logger="reenactor"):
        path, straight = run(tmp_path / "a")
    assert "step 3: the held-out frames train from here on" in caplog.text
    ann = 0  # clips sort by name: ann, bob
    targets = {s: {(c, t) for c, _, _, t in straight[s].tolist()} for s in straight}
    assert all(t < 16 for s in (1, 2, 3) for c, t in targets[s] if c == ann)
    assert any(t >= 16 for s in range(4, 11) for c, t in targets[s] if c == ann)
    assert load_model(path).meta["calibrated"] == {"gain": 1.2}
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", stop_at=6)
    path_b, resumed = run(tmp_path / "b", resume=True)
    assert sorted(resumed) == [7, 8, 9, 10]
    assert all(torch.equal(straight[s], resumed[s]) for s in resumed)
    assert load_model(path_b).meta["calibrated"] == {"gain": 1.2}
    with pytest.raises(ConfigError, match="data.holdout_until must be in"):
        build_run_config({"method": "x", "data": {"holdout_until": 0}})
