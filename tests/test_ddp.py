"""DDP on this CPU: 2 gloo processes produce the same gradients as one process on the same global batch, and
`torchrun --nproc_per_node=2 ... train` runs end to end with only rank 0 writing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from reenactor.config import from_dict
from reenactor.train import RunConfig, Trainer, load_model

sys.path.insert(0, str(Path(__file__).parent))
from tiny_method import TinyConfig, TinyMethod, make_clip  # noqa: E402

HERE = Path(__file__).parent
pytestmark = pytest.mark.slow


def _global_batch() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {
        "cond": torch.randn(4, 4, 32, 32, generator=g),
        "image": torch.rand(4, 3, 32, 32, generator=g) * 2 - 1,
    }


def _make_trainer() -> Trainer:
    torch.manual_seed(0)
    cfg = from_dict(
        RunConfig,
        {"method": "tiny", "trainer": {"device": "cpu", "progress": False, "batch_size": 4, "ema": 0.0}},
    )
    return Trainer(TinyMethod(TinyConfig(dropout=0.0)), cfg, run_dir=None)


def _grads(tr: Trainer) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in tr.method.named_parameters() if p.grad is not None}


def _worker(rank: int, world: int, store: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        tr = _make_trainer()
        assert tr.dist.world == world and tr.dist.rank == rank
        batch = _global_batch()
        share = {
            k: v[rank * 2 : (rank + 1) * 2] for k, v in batch.items()
        }  # this rank's half of the global batch
        logs = tr.train_step([share])
        torch.save(
            {
                "grads": _grads(tr),
                "logs": logs,
                "weights": {n: p.detach().clone() for n, p in tr.method.named_parameters()},
            },
            f"{out}/rank{rank}.pt",
        )
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_match_single_process_gradients(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=True)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ref = _make_trainer()
        ref.train_step([_global_batch()])
    finally:
        torch.set_num_threads(n)
    want = _grads(ref)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert set(want) == set(r0["grads"]) and any(k.startswith("D.") for k in want)
    for k, g in want.items():
        torch.testing.assert_close(r0["grads"][k], g, rtol=1e-4, atol=1e-6, msg=k)
        torch.testing.assert_close(r1["grads"][k], g, rtol=1e-4, atol=1e-6, msg=k)
    # after the optimizer step every rank holds the single-process weights
    for k, p in ref.method.named_parameters():
        torch.testing.assert_close(r0["weights"][k], p.detach(), rtol=1e-5, atol=1e-6, msg=k)
        torch.testing.assert_close(r1["weights"][k], p.detach(), rtol=1e-5, atol=1e-6, msg=k)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_cmd(clip, run: Path, steps: int = 3, quiet: bool = True) -> list[str]:
    """The tiny method's `train` command line (``quiet``: no progress bar, TensorBoard, sample images, and no
    dropout: randomness inside the step follows each process's own stream)."""
    cmd = [str(HERE / "train_entry.py"), "train", "--method", "tiny", "--target", str(clip.root)]
    cmd += ["--steps", str(steps), "--batch-size", "4", "-o", str(run)]
    if quiet:
        for kv in (
            "trainer.progress=false",
            "trainer.tensorboard=false",
            "trainer.image_every=0",
            "model.dropout=0",
        ):
            cmd += ["--set", kv]
    return cmd


def test_torchrun_train_end_to_end(tmp_path):
    clip = make_clip(tmp_path / "clip", n=8, size=32)
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        *_train_cmd(clip, run, steps=4, quiet=False),
        "--set",
        "trainer.checkpoint_every=2",
        "--set",
        "trainer.log_every=2",
        "--set",
        "trainer.image_every=2",
        "--set",
        "trainer.progress=false",
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "2 process(es) (gloo)" in out.stdout
    assert out.stdout.count("[train] done") == 1  # only rank 0 reports and writes
    info = json.loads((run / "run.json").read_text())
    assert info["world_size"] == 2 and info["status"] == "done" and info["step"] == 4
    assert len(list((run / "tb").glob("events.out.tfevents.*"))) == 1
    assert load_model(run / "model.safetensors").run["world_size"] == 2
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_0000002", "step_0000004"]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(run / "model.safetensors"))


def test_two_processes_and_two_nodes_train_the_same_weights_as_one(tmp_path):
    """The same 3 steps of global batch 4 (per-sample augmentation seeded by global position) in one process, in `torchrun --nproc_per_node=2` (gloo), and in a
    two-"node" run on this machine (`torchrun --nnodes=2`, one process per node, c10d rendezvous on 127.0.0.1,
    the command a cluster user runs on each node) export the same weights."""
    clip = make_clip(tmp_path / "clip", n=8, size=32)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    runs = {k: tmp_path / k for k in ("one", "procs", "nodes")}
    one = subprocess.run(
        [sys.executable, *_train_cmd(clip, runs["one"])], env=env, capture_output=True, text=True, timeout=300
    )
    assert one.returncode == 0, one.stderr[-3000:]
    run = [sys.executable, "-m", "torch.distributed.run"]
    procs = subprocess.run(
        [*run, "--standalone", "--nproc_per_node=2", *_train_cmd(clip, runs["procs"])],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert procs.returncode == 0, procs.stdout[-2000:] + procs.stderr[-3000:]
    port = _free_port()
    node = [
        *run,
        "--nnodes=2",
        "--nproc_per_node=1",
        "--rdzv_backend=c10d",
        f"--rdzv_endpoint=127.0.0.1:{port}",
        "--rdzv_id=reenactor-test",
    ]
    nodes = [
        subprocess.Popen(
            [*node, *_train_cmd(clip, runs["nodes"])],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in nodes]
    for p, (so, se) in zip(nodes, outs):
        assert p.returncode == 0, so[-2000:] + se[-3000:]
    assert sum(so.count("2 process(es) (gloo)") for so, _ in outs) == 1  # rank 0 of the two nodes reports
    ref = _weights(runs["one"])
    for name in ("procs", "nodes"):
        got = _weights(runs[name])
        assert got.keys() == ref.keys()
        for k in ref:
            assert torch.allclose(got[k], ref[k], atol=1e-5), (name, k, float((got[k] - ref[k]).abs().max()))


def test_ranks_agree_on_a_wall_clock_budget_and_on_how_far_the_run_is(tmp_path):
    """`--budget` under torchrun: the ranks stop at the same step (else the run hangs in a collective) and every
    rank gives Method.schedule the same run fractions (a method that switches a branch on must switch it on every
    rank at the same step), though each process has its own clock."""
    clip = make_clip(tmp_path / "clip", n=8, size=32)
    log = tmp_path / "schedule"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "TINY_SCHEDULE_LOG": str(log)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += [
        *_train_cmd(clip, tmp_path / "run", steps=100_000),
        "--budget",
        "4",
        "--set",
        "trainer.log_every=3",
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    ranks = [Path(f"{log}.rank{r}").read_text().split() for r in (0, 1)]
    assert ranks[0] == ranks[1] and len(ranks[0]) >= 4
    fractions = [float(x) for x in ranks[0]]
    assert fractions == sorted(fractions) and fractions[-1] > 0.5
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "done" and info["step"] == len(fractions)
