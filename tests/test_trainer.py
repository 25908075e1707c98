"""The one trainer: exact resume (interrupted in-process and a real SIGKILL), precision, accumulation, EMA,
logging, model files and their errors. Uses the tiny test method (tests/tiny_method.py, never registered)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from reenactor.config import from_dict, load_yaml
from reenactor.errors import CheckpointError, ConfigError, ReenactorError
from reenactor.modelfile import open_model
from reenactor.train import RunConfig, Trainer, load_model, save_model
from reenactor.train.checkpoint import list_checkpoints, read_checkpoint
from reenactor.train.config import build_run_config
from reenactor.train.run import run_training

sys.path.insert(0, str(Path(__file__).parent))
from tiny_method import TinyConfig, TinyMethod, make_clip  # noqa: E402

HERE = Path(__file__).parent
QUIET = ["trainer.progress=false", "trainer.tensorboard=false", "trainer.image_every=0"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clip") / "clip", n=8, size=32)


def _data(clip, steps: int, **trainer) -> dict:
    return {
        "method": "tiny",
        "data": {"target": [str(clip.root)]},
        "trainer": {
            "steps": steps,
            "batch_size": 2,
            "checkpoint_every": 10,
            "ema": 0.9,
            "ema_start": 3,
            **trainer,
        },
    }


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_model(path).tensors


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _train(clip, run_dir, steps, resume=False, callbacks=None, overrides=(), **trainer):
    return run_training(
        _data(clip, steps, **trainer),
        [*QUIET, *overrides],
        run_dir=run_dir,
        resume=resume,
        method_cls=TinyMethod,
        callbacks=callbacks,
    )


# ------------------------------------------------------------------------------------------ resume
def test_resume_after_interruption_is_exact(clip, tmp_path):
    """20 straight steps == 10 steps, an interruption at step 13 (mid-run, after checkpoint 10; Ctrl-C saves
    step 13 too), resume to 20."""
    straight = _train(clip, tmp_path / "a", 20, lr_decay=0.5)  # the schedule is a function of the step

    def interrupt(trainer, logs):
        if trainer.step == 13:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(clip, tmp_path / "b", 20, callbacks=[interrupt], lr_decay=0.5)
    assert [s for s, _ in list_checkpoints(tmp_path / "b")] == [10, 13]
    at10 = load_model(list_checkpoints(tmp_path / "b")[0][1] / "model.safetensors").tensors
    resumed = _train(clip, tmp_path / "b", 20, resume=True, lr_decay=0.5)
    _assert_same(_weights(straight), _weights(resumed))
    # the full training state matches too (optimizers, discriminator, EMA)
    sa = read_checkpoint(list_checkpoints(tmp_path / "a")[-1][1])
    sb = read_checkpoint(list_checkpoints(tmp_path / "b")[-1][1])
    for k in sa["method"]:
        assert torch.equal(sa["method"][k], sb["method"][k]), k
    for x, y in zip(sa["ema"], sb["ema"]):
        assert torch.equal(x, y)
    # and not trivially equal: the resumed steps did change the weights
    assert not torch.equal(at10["G.decoder.out.conv.weight"], _weights(resumed)["G.decoder.out.conv.weight"])


def test_resume_after_real_kill_is_exact(clip, tmp_path):
    """A real SIGKILL of `reenactor train` mid-run (after checkpoint 10), then `--resume`: identical weights."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    base = [
        sys.executable,
        str(HERE / "train_entry.py"),
        "train",
        "--method",
        "tiny",
        "--target",
        str(clip.root),
        "--steps",
        "20",
        "--batch-size",
        "2",
        "--set",
        "trainer.checkpoint_every=10",
        "--set",
        "trainer.ema=0.9",
        "--set",
        "trainer.progress=false",
        "--set",
        "trainer.image_every=5",
    ]
    subprocess.run(
        [*base, "-o", str(tmp_path / "straight")], env=env, check=True, timeout=240, capture_output=True
    )
    proc = subprocess.Popen(
        [*base, "-o", str(tmp_path / "killed")],
        env={**env, "TINY_STALL_AFTER": "12"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 240
        stalled = tmp_path / "killed" / "stalled"
        while not stalled.exists():  # the entry script stalls at step 12 (mid-run) until killed
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.time() < deadline
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "killed" / "model.safetensors").exists()
    assert [s for s, _ in list_checkpoints(tmp_path / "killed")] == [10]
    out = subprocess.run(
        [*base[:2], "train", "-o", str(tmp_path / "killed"), "--resume", "--set", "trainer.progress=false"],
        env=env,
        timeout=240,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "resumed from" in out.stdout and "step 10" in out.stdout
    _assert_same(
        _weights(tmp_path / "straight" / "model.safetensors"),
        _weights(tmp_path / "killed" / "model.safetensors"),
    )


def test_run_folder_guards(clip, tmp_path):
    _train(clip, tmp_path / "r", 2)
    with pytest.raises(ConfigError, match="already holds a training run with another config"):
        _train(clip, tmp_path / "r", 4, lr=1e-2)  # (the same config continues: see the test below)
    with pytest.raises(ConfigError, match="different model config"):
        _train(clip, tmp_path / "r", 4, resume=True, overrides=["model.ngf=8"])
    # a model key added by a later version (absent from the saved config, at its default) does not block a resume
    saved = load_yaml(tmp_path / "r" / "config.yaml")
    assert saved["model"].pop("norm") == "instance"
    (tmp_path / "r" / "config.yaml").write_text(yaml.safe_dump(saved))
    # extending the number of steps is allowed
    p = _train(clip, tmp_path / "r", 4, resume=True)
    assert load_model(p).run["step"] == 4
    # ... but the same key at another value than the saved run's (the default) does
    with pytest.raises(ConfigError, match=r"different model config \(model.norm\)"):
        _train(clip, tmp_path / "r", 6, resume=True, overrides=["model.norm=batch"])


# ------------------------------------------------------------------------------------------ the step
def _trainer(precision="fp32", **kw) -> Trainer:
    torch.manual_seed(0)
    cfg = from_dict(
        RunConfig,
        {"method": "tiny", "trainer": {"precision": precision, "device": "cpu", "progress": False, **kw}},
    )
    return Trainer(TinyMethod(TinyConfig(dropout=0.0)), cfg, run_dir=None)


def _batch(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "cond": torch.randn(n, 4, 32, 32, generator=g),
        "image": torch.rand(n, 3, 32, 32, generator=g) * 2 - 1,
    }


def test_gradients_reach_every_parameter_and_losses_fall():
    tr = _trainer(ema=0.0, lr=1e-3)
    batch = _batch()
    first = tr.train_step([batch])
    for name, p in tr.method.named_parameters():
        if name.startswith(("G.", "D.")):
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    for _ in range(40):
        tr.train_step([batch])
        tr.step += 1
    last = tr.train_step([batch])
    assert last["l1"] < 0.8 * first["l1"]
    assert set(first) == {"l1", "gan", "fm", "g_total", "d", "d_total"}


def test_lr_decay_is_linear_over_the_last_share_and_reaches_both_optimizers():
    tr = _trainer(ema=0.0, lr=1e-3, lr_d=4e-4, lr_decay=0.5, steps=100)
    seen = []
    for step in (0, 50, 75, 99):
        tr.step = step
        tr.train_step([_batch()])
        seen.append((tr.opt_g.param_groups[0]["lr"], tr.opt_d.param_groups[0]["lr"]))
    assert seen[0] == pytest.approx((1e-3, 4e-4))  # constant for the first half
    assert seen[1] == pytest.approx((1e-3, 4e-4))
    assert seen[2] == pytest.approx((0.5e-3, 2e-4))  # half-way through the decay
    assert seen[3] == pytest.approx((0.02e-3, 0.08e-4))
    tr.run_fraction = lambda: 0.9  # a wall-clock budget sets its own share of the run
    assert tr.lr_scale() == pytest.approx(0.2)
    assert _trainer(lr_decay=0.0).lr_scale() == 1.0
    with pytest.raises(ConfigError, match="lr_decay"):
        build_run_config({"method": "tiny", "trainer": {"lr_decay": 1.5}})


def test_grad_accumulation_equals_full_batch():
    a, b = _trainer(ema=0.0), _trainer(ema=0.0, grad_accum=2)
    batch = _batch(4)
    a.train_step([batch])
    b.train_step([{k: v[:2] for k, v in batch.items()}, {k: v[2:] for k, v in batch.items()}])
    for (n, pa), (_, pb) in zip(a.method.named_parameters(), b.method.named_parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-4, atol=1e-6, msg=n)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_step(precision):
    tr = _trainer(precision)
    ref = _trainer("fp32")
    batch = _batch()
    la, lb = tr.train_step([batch]), ref.train_step([batch])
    assert all(torch.isfinite(torch.tensor(v)) for v in la.values())
    assert la["l1"] == pytest.approx(lb["l1"], rel=0.05)  # same networks, lower-precision forward
    assert all(p.dtype == torch.float32 for p in tr.method.parameters())


def test_bf16_on_a_cpu_without_native_bf16_is_said(monkeypatch, logged):
    """bf16 autocast is emulated where the CPU lacks avx512_bf16 / amx_bf16 (15x slower than fp32 on such a CPU):
    the trainer says so and names the fix; with native bf16 it says nothing."""
    import reenactor.train.trainer as trainer_mod

    for native, said in ((False, True), (True, False)):
        monkeypatch.setattr(trainer_mod, "cpu_has_bf16", lambda native=native: native)
        _trainer("bf16")
        out = logged()
        assert ("no native bf16" in out and "--precision fp32" in out) == said, out


def test_ema_tracks_and_export_uses_it(tmp_path):
    tr = _trainer(ema=0.5, ema_start=0)
    tr.ema.start = -20  # past the warm-up (min(0.5, (1 + n) / (10 + n)) = 0.5 for n >= 8)
    assert tr.ema.decay_at(tr.step) == 0.5
    p0 = [p.detach().clone() for p in tr.g_params]
    tr.train_step([_batch()])
    p1 = [p.detach().clone() for p in tr.g_params]
    for s, a, b in zip(tr.ema.shadow, p0, p1):
        torch.testing.assert_close(s, 0.5 * a + 0.5 * b)
    path = tr.export(tmp_path / "m.safetensors")
    t = load_model(path).tensors
    torch.testing.assert_close(
        t["G.decoder.out.conv.weight"], tr.ema.shadow[-2]
    )  # the EMA, not the live weights
    assert torch.equal(tr.method.G.decoder.out.conv.weight, p1[-2])  # live weights restored after export


def test_ema_decay_warms_up():
    from reenactor.train.trainer import EMA

    e = EMA([], 0.999, start=100)
    assert e.decay_at(50) == e.decay_at(100) == pytest.approx(0.1)
    assert e.decay_at(300) == pytest.approx(201 / 210)  # a 300-step run averages its last ~20 steps
    assert e.decay_at(100 + 9000) == 0.999 and e.decay_at(10**6) == 0.999


def test_divergence_is_reported():
    tr = _trainer()
    batch = _batch()
    batch["image"][0, 0, 0, 0] = float("nan")
    with pytest.raises(ReenactorError, match="diverged"):
        tr.train_step([batch])


def test_logging_and_outputs(clip, tmp_path):
    run = tmp_path / "run"
    run_training(
        _data(
            clip,
            4,
            log_every=2,
            image_every=2,
            checkpoint_every=2,
            keep_checkpoints=1,
            tensorboard=True,
            progress=False,
        ),
        [],
        run_dir=run,
        method_cls=TinyMethod,
    )
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ev = EventAccumulator(str(run / "tb"))
    ev.Reload()
    tags = ev.Tags()
    assert {"loss_g/l1", "loss_g/gan", "loss_g/fm", "loss_d/d", "perf/it_per_s"} <= set(tags["scalars"])
    assert [e.step for e in ev.Scalars("loss_g/l1")] == [2, 4]
    assert tags["images"]
    assert (run / "samples" / "step_0000004.png").exists()
    assert [s for s, _ in list_checkpoints(run)] == [4]  # keep_checkpoints=1
    assert (run / "config.yaml").exists()
    saved = from_dict(RunConfig, __import__("yaml").safe_load((run / "config.yaml").read_text()))
    assert saved.model["ngf"] == 4 and saved.trainer.steps == 4
    state = read_checkpoint(list_checkpoints(run)[-1][1])
    assert state["config"]["method"] == "tiny" and state["step"] == 4


# ------------------------------------------------------------------------------------------ model files
def test_model_file_roundtrip_and_errors(tmp_path, monkeypatch):
    torch.manual_seed(0)
    m = TinyMethod(TinyConfig())
    tensors, meta = m.inference_state()
    path = save_model(tmp_path / "model.safetensors", "tiny", {"ngf": 4}, tensors, meta, run={"step": 3})
    lm = load_model(path, expect_method="tiny")
    assert (
        lm.method == "tiny"
        and lm.config == {"ngf": 4}
        and lm.meta["size"] == [32, 32]
        and lm.run["step"] == 3
    )
    for k in tensors:
        assert torch.equal(lm.tensors[k], tensors[k])
    with pytest.raises(CheckpointError, match="trained with method 'tiny', not 'pix2pix'"):
        load_model(path, expect_method="pix2pix")
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="not a readable"):
        load_model(bad)
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"x": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError, match="not a reenactor model"):
        load_model(foreign)
    # open_model goes through the registry
    import reenactor.methods as methods
    from tiny_method import patch_registry

    patch_registry(monkeypatch)
    synth = open_model(path).synthesizer
    out = synth.step({})
    assert out.shape == (32, 32, 3) and out.dtype.name == "uint8"
    assert methods.get_method("tiny") is TinyMethod


def test_frozen_feature_net_left_out_of_checkpoints_and_recorded():
    from reenactor.losses import PerceptualLoss
    from reenactor.nn import load_feature_net

    class WithPerc(TinyMethod):
        def __init__(self, cfg):
            super().__init__(cfg)
            self.perc = PerceptualLoss(
                load_feature_net("effnet", verbose=False), layers=[0, 1], weights=[1, 1]
            )
            self.alias = self.perc.net  # the same frozen net under a second name

    torch.manual_seed(0)
    cfg = from_dict(RunConfig, {"method": "tiny", "trainer": {"device": "cpu", "progress": False}})
    tr = Trainer(WithPerc(TinyConfig()), cfg)
    state = tr.state_dict()
    assert state["method"] and not any(k.startswith(("perc.", "alias.")) for k in state["method"])
    assert any(k.startswith("perc.net.") for k in tr.method.state_dict())
    assert (
        tr.feature_nets == [tr.method.perc.description]
        and "efficientnet_lite0" in tr.run_info()["feature_nets"][0]
    )
    tr2 = Trainer(WithPerc(TinyConfig()), cfg)
    tr2.load_state_dict(state)  # strict on everything but the frozen net
    for k, v in state["method"].items():
        assert torch.equal(tr2.method.state_dict()[k], v)


def test_wall_clock_budget_ends_with_checkpoint_and_export(clip, tmp_path, logged):
    import time as _time

    def slow(trainer, logs):
        _time.sleep(0.05)

    path = _train(clip, tmp_path / "run", 10_000, callbacks=[slow], max_seconds=0.5)
    out = logged()
    assert "wall-clock budget of 0.5 s spent at step" in out
    from reenactor.train.checkpoint import list_checkpoints

    ((step, _),) = list_checkpoints(tmp_path / "run")[-1:]
    assert 1 <= step < 100 and path.exists() and load_model(path).run["step"] == step
    # the budget is per invocation: --resume continues from the checkpoint
    _train(clip, tmp_path / "run", step + 3, resume=True)
    assert list_checkpoints(tmp_path / "run")[-1][0] == step + 3


def test_no_step_taken_exports_nothing(clip, tmp_path):
    with pytest.raises(ReenactorError, match="no training step was taken"):
        _train(clip, tmp_path / "run", 0)
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_interrupt_saves_a_checkpoint_of_the_finished_steps(clip, tmp_path):
    from reenactor.train.checkpoint import list_checkpoints

    def stop_at_7(trainer, logs):
        if trainer.step == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(clip, tmp_path / "run", 50, callbacks=[stop_at_7])  # checkpoint_every 10: none due yet
    assert [s for s, _ in list_checkpoints(tmp_path / "run")] == [7]
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_same_command_on_its_folder_resumes_and_a_changed_config_asks_for_resume(clip, tmp_path, logged):
    from reenactor.train.checkpoint import list_checkpoints

    def stop_at_4(trainer, logs):
        if trainer.step == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(clip, tmp_path / "run", 12, callbacks=[stop_at_4])
    with pytest.raises(ConfigError, match="another config"):
        _train(clip, tmp_path / "run", 12, lr=1e-2)
    _train(clip, tmp_path / "run", 12)  # the same command: continues from step 4
    assert "continuing from its newest checkpoint" in logged()
    assert list_checkpoints(tmp_path / "run")[-1][0] == 12


def test_compile_that_cannot_run_says_so_and_trains_eager(monkeypatch, logged):
    """trainer.compile=true where torch.compile fails (no compiler, an unsupported op): one message naming the
    error, then the same step eager - the same losses as a run without the switch."""

    class Broken(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *args):
            raise RuntimeError("no C++ compiler found (simulated)")

    monkeypatch.setattr(torch, "compile", lambda module, **kw: Broken(module))
    batch = _batch()
    tr = _trainer(ema=0.0, compile=True)
    got = tr.train_step([batch])
    out = logged()
    assert "torch.compile on" in out
    assert (
        "could not compile" in out and "no C++ compiler found (simulated)" in out and "running eager" in out
    )
    again = tr.train_step([batch])  # no second message: the step stays eager
    assert "could not compile" not in logged()
    ref = _trainer(ema=0.0)
    assert got == pytest.approx(ref.train_step([batch])) and again == pytest.approx(ref.train_step([batch]))


def test_channels_last_switch_gives_the_same_step():
    batch = _batch()
    a, b = _trainer(ema=0.0), _trainer(ema=0.0, channels_last=True)
    assert next(p for p in b.method.G.parameters() if p.dim() == 4).is_contiguous(
        memory_format=torch.channels_last
    )
    cl = {k: v.contiguous(memory_format=torch.channels_last) for k, v in batch.items()}
    assert a.train_step([batch]) == pytest.approx(b.train_step([cl]), rel=1e-4)


def test_losses_stay_on_the_device_between_logging_steps(clip, tmp_path, monkeypatch):
    """No per-step wait for the device: fit() turns the loss tensors into numbers only at logging and saving
    steps (here 2 of 6 steps: log_every 3), and callbacks see the latest logged numbers."""
    from reenactor.train import trainer as trainer_mod

    reads = []
    real = trainer_mod.Trainer._floats

    def counting(self, logs):
        reads.append(self.step)
        return real(self, logs)

    monkeypatch.setattr(trainer_mod.Trainer, "_floats", counting)
    seen = []
    _train(
        clip,
        tmp_path / "run",
        6,
        callbacks=[lambda tr, logs: seen.append((tr.step, dict(logs)))],
        log_every=3,
        checkpoint_every=6,
    )
    assert reads == [3, 6]
    assert [s for s, logs in seen if logs] == [3, 4, 5, 6] and seen[0] == (1, {})
    assert seen[2][1] == seen[3][1] and seen[3][1] != seen[5][1]  # steps 3-5 show step 3's losses


def test_methods_are_told_how_far_the_run_is(clip, tmp_path, monkeypatch):
    """Method.schedule gets the run's share before every step: by steps, or by the wall-clock budget when that ends
    the run first (cloning's paired-only stage is such a share)."""
    seen: list[float] = []
    monkeypatch.setattr(TinyMethod, "schedule", lambda self, fraction: seen.append(fraction), raising=False)
    _train(clip, tmp_path / "steps", 4)
    assert seen == [0.0, 0.25, 0.5, 0.75]
    seen.clear()
    _train(clip, tmp_path / "budget", 10_000, callbacks=[lambda tr, logs: time.sleep(0.05)], max_seconds=0.6)
    assert len(seen) >= 3 and seen == sorted(seen) and 0.0 <= seen[0] < 0.3 and 0.5 < seen[-1] <= 1.0
