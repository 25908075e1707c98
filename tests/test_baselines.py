"""The baselines of Aberman et al. 2019 as methods of their own: nearest_neighbor (eq. 7 lookup) and pix2pix (the
paired branch alone), each trained through the one trainer and exported as one model file."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from _cloning_fixtures import TINY_MODEL, _one_torch_thread, make_clip  # noqa: F401 - autouse fixture
from reenactor.methods import get_method
from reenactor.modelfile import open_model
from reenactor.train.checkpoint import load_model
from reenactor.train.config import build_run_config, method_config
from reenactor.train.trainer import Trainer
from reenactor.transfer import transfer

TRAINER = {
    "batch_size": 2,
    "ema": 0.0,
    "tensorboard": False,
    "image_every": 0,
    "progress": False,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("baselines")
    return root, make_clip(root / "target", n=12), make_clip(root / "other", n=8, phase=2.0, seed=3)


def train(method: str, model: dict, clips: list, run_dir, steps: int = 3, unpaired=None):
    run = build_run_config({"method": method, "model": model, "trainer": {**TRAINER, "steps": steps}})
    cls = get_method(method)
    m = cls(method_config(cls, run.model))
    torch.manual_seed(0)
    return Trainer(m, run, run_dir).fit(m.build_dataset(clips, unpaired))


def test_nearest_neighbor_stores_the_training_set_and_looks_up_by_eq7(clips, tmp_path, logged):
    _, target, other = clips
    path = train("nearest_neighbor", {"size": 32}, [target], tmp_path / "nn", unpaired=[other])
    out = logged()
    assert "nothing to optimise" in out and "not used" in out
    loaded = load_model(path, expect_method="nearest_neighbor")
    frames = loaded.tensors["frames"].numpy()
    assert frames.shape == (12, 32, 32, 3) and np.array_equal(frames, np.asarray(target.frames()))
    tm = open_model(path)
    body = target.load("body")
    # a training pose returns its own frame (or one with an identical pose)
    for t in (0, 5, 11):
        got = tm.synthesizer.step({"body": body[t]})
        j = tm.synthesizer.last_index
        assert tm.synthesizer.last_distance == pytest.approx(0.0, abs=1e-4)
        assert np.array_equal(got, frames[j]) and np.allclose(body[j, :, :2], body[t, :, :2], atol=1e-3)
    # eq. 7 is translation invariant: a shifted pose finds the same frame
    shifted = body[5].copy()
    shifted[:, :2] += 3.0
    tm.synthesizer.step({"body": shifted})
    assert np.allclose(body[tm.synthesizer.last_index, :, :2], body[5, :, :2], atol=1e-3)
    # transfer returns training frames only
    outs: list[np.ndarray] = []
    res = transfer(
        path, other.root, tmp_path / "nn.mp4", normalization="none", progress=False, frame_sink=outs.append
    )
    assert res.n_frames == 8 and all(any(np.array_equal(o, f) for f in frames) for o in outs)


def test_pix2pix_trains_exports_and_transfers(clips, tmp_path):
    _, target, other = clips
    path = train("pix2pix", dict(TINY_MODEL), [target], tmp_path / "p2p")
    loaded = load_model(path, expect_method="pix2pix")
    assert loaded.config["volume"]["frames"] == 1 and not loaded.config["unpaired"]
    assert loaded.meta["frames"] == 1 and not loaded.meta["unpaired_branch"]
    outs: list[np.ndarray] = []
    res = transfer(path, other.root, tmp_path / "p2p.mp4", progress=False, frame_sink=outs.append)
    assert res.n_frames == 8 and outs[0].shape == (32, 32, 3)
    # N = 1: a frame depends on its own pose only (no history), unlike cloning
    s = open_model(path).synthesizer
    body = other.load("body")
    a = s.step({"body": body[3]})
    s.reset()
    s.step({"body": body[0]})
    assert np.array_equal(s.step({"body": body[3]}), a)


def test_models_of_one_method_are_refused_as_another(clips, tmp_path):
    from reenactor.errors import CheckpointError

    _, target, _ = clips
    path = train("nearest_neighbor", {"size": 32}, [target], tmp_path / "nn2")
    with pytest.raises(CheckpointError, match="nearest_neighbor"):
        open_model(path, method="cloning")


def test_self_reenactment_protocol_end_to_end(clips, tmp_path):
    """The Table-1 protocol on a tiny clip: split, train all three under a budget, metrics, table, video."""
    import json

    from reenactor.evaluation.self_reenactment import SelfReenactmentOptions, run, split
    from reenactor.io.video import probe

    _, target, _ = clips
    train_part, test_part = split(target, tmp_path / "split", 8, 4)
    assert train_part.n_frames == 8 and test_part.n_frames == 4
    assert np.array_equal(np.asarray(test_part.frames()), np.asarray(target.frames())[8:])
    tiny = [
        "model.generator.ngf=8",
        "model.generator.num_downs=3",
        "model.discriminator.ndf=8",
        "model.discriminator.n_layers=2",
        "trainer.batch_size=2",
    ]
    rows = run(
        SelfReenactmentOptions(
            clip=str(target.root),
            out_dir=tmp_path / "out",
            train_frames=8,
            test_frames=4,
            size=32,
            budget_s=3.0,
            overrides={"pix2pix": tiny, "cloning": tiny},
            progress=False,
        )
    )
    assert [r["method"] for r in rows] == [
        "nearest_neighbor",
        "pix2pix",
        "cloning",
        "oracle retrieval (reference)",
        "mean training frame (reference)",
    ]
    assert all(r["mse"] > 0 and 0 < r["ssim"] <= 1 and r["psnr"] > 0 for r in rows)
    # the oracle picks the pixel-closest training frame per test frame: no retrieval of training frames beats it
    assert rows[3]["mse"] <= rows[0]["mse"] + 1e-6
    assert rows[1]["steps"] >= 1 and rows[2]["steps"] >= 1
    table = (tmp_path / "out" / "table.md").read_text()
    assert "| cloning |" in table and "nearest_neighbor MSE" in table
    assert (
        json.loads((tmp_path / "out" / "results.json").read_text())["rows"][0]["method"] == "nearest_neighbor"
    )
    info = probe(tmp_path / "out" / "side_by_side.mp4")
    assert (info.width, info.height, info.n_frames) == (5 * 32, 32, 4)  # real | pose | 3 methods
    # the held-out poses are rendered unnormalized: cloning's unpaired branch took them unaligned too
    from reenactor.config import load_yaml

    assert (
        load_yaml(tmp_path / "out" / "runs" / "cloning" / "config.yaml")["model"]["unpaired_align"] == "none"
    )
    assert "poses unaligned" in table


def test_self_reenactment_repeats_average_seeded_runs(clips, tmp_path):
    """--repeats K: each learned method trains K times (seeds seed .. seed+K-1); its row is their mean with the
    MSE's standard deviation, nearest_neighbor (no training randomness) runs once."""
    from reenactor.evaluation.self_reenactment import SelfReenactmentOptions, run

    _, target, _ = clips
    tiny = [
        "model.generator.ngf=8",
        "model.generator.num_downs=3",
        "model.discriminator.ndf=8",
        "model.discriminator.n_layers=2",
        "trainer.batch_size=2",
    ]
    opts = SelfReenactmentOptions(
        clip=str(target.root),
        out_dir=tmp_path / "out",
        train_frames=8,
        test_frames=4,
        size=32,
        budget_s=2.0,
        methods=("nearest_neighbor", "pix2pix"),
        overrides={"pix2pix": tiny},
        progress=False,
        expression=False,
        repeats=2,
        seed=5,
    )
    rows = run(opts)
    nn, p2p = rows[0], rows[1]
    assert "runs" not in nn and "mse_sd" not in nn
    assert [r["seed"] for r in p2p["runs"]] == [5, 6]
    mses = [r["mse"] for r in p2p["runs"]]
    assert mses[0] != mses[1]  # two trainings, two models
    assert p2p["mse"] == pytest.approx(np.mean(mses)) and p2p["mse_sd"] == pytest.approx(np.std(mses, ddof=1))
    assert (tmp_path / "out" / "runs" / "pix2pix_seed6" / "model.safetensors").exists()
    table = (tmp_path / "out" / "table.md").read_text()
    assert f"| pix2pix | {p2p['mse']:.1f} ± {p2p['mse_sd']:.1f} |" in table
    assert "trained 2 times (seeds 5, 6)" in table and f"pix2pix {mses[0]:.1f}, {mses[1]:.1f}" in table

    # run again (as after a kill): the finished runs are reused, not trained again; another spec trains anew
    model = tmp_path / "out" / "runs" / "pix2pix_seed6" / "model.safetensors"
    stamp = model.stat().st_mtime_ns
    again = run(opts)[1]
    assert [r["mse"] for r in again["runs"]] == mses and [r["steps"] for r in again["runs"]] == [
        r["steps"] for r in p2p["runs"]
    ]
    assert model.stat().st_mtime_ns == stamp
    run(dataclasses.replace(opts, budget_s=1.5, methods=("pix2pix",)))
    assert model.stat().st_mtime_ns != stamp
