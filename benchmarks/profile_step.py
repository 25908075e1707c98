"""Where a training step's time goes: data wait, host Python, kernels, synchronizations (torch.profiler).

For each trained method at its shipped default config on carphone (128x128 unless --size; psgan on procedural
actions from carphone's rest poses, at its own heatmap size), after
WARM steps, PROFILED steps through the trainer's own step code, one after another as ``Trainer.fit`` runs
them, with ``torch.profiler`` on:

* data: fetching the next micro-batch (items, collate, copy to the device, the method's ``prepare_batch``);
* kernels: the operators' own time (on a CPU, the aten operators' self time; on a GPU, the CUDA kernels' time);
* host: the rest of the step's wall time (Python, dispatch, allocation, waiting);
* syncs: how many times per step the host waited for the device (``aten::_local_scalar_dense``, i.e.
  ``.item()`` / ``float(tensor)``, and CUDA synchronize calls; the CPU fused Adam's reads of its own step
  counts, inside its kernel, are not counted).

The same script runs on older code (``PYTHONPATH=OLD/src python benchmarks/profile_step.py``: it falls back
to the old trainer's entry points), so the split can be compared before and after a change. ``--device cuda``
on a GPU machine. Last line: the largest data share.

Usage: python benchmarks/profile_step.py [--methods cloning pix2pix ...] [--size 128] [--device cpu]
"""

from __future__ import annotations  # noqa: I001 - reenactor before torch (below)

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import reenactor  # noqa: F401 - first, as the CLI: its memory settings apply before torch starts

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from _datasets import action_data, build_dataset, make_stages

os.environ.setdefault("GLOG_minloglevel", "2")
#: every trained method
METHODS = ("cloning", "pix2pix", "upper_body", "single_shot", "remot", "scgan", "psgan")


def build(method: str, size: int, data, device: str, batch: int):
    from reenactor.methods import get_method
    from reenactor.train.config import build_run_config, method_config
    from reenactor.train.trainer import Trainer

    cls = get_method(method)
    model = {} if method == "psgan" else {"size": size}  # psgan: heatmaps at its own size
    run = build_run_config(
        {
            "method": method,
            "model": model,
            "trainer": {
                "steps": 10**6,
                "batch_size": batch,
                "progress": False,
                "tensorboard": False,
                "image_every": 0,
                "device": device,
            },
        }
    )
    m = cls(method_config(cls, run.model))
    ds = build_dataset(m, data, run)
    tr = Trainer(m, run, None)
    tr.method.fit_data(ds)
    return tr, ds


def step_fns(tr, ds):
    """(fetch, step) as the trainer runs them: the new entry points, or the old trainer's."""
    batches = tr.make_loader(ds, 0)
    if hasattr(tr, "next_batch"):
        fetch = lambda: tr.next_batch(batches)  # noqa: E731
    else:
        from reenactor.train.trainer import _to_device

        fetch = lambda: _to_device(next(batches), tr.device)  # noqa: E731
    run = tr._step if hasattr(tr, "_step") else tr.train_step  # noqa: SLF001
    return fetch, run


def profile_method(tr, ds, warm: int, steps: int) -> dict[str, float]:
    fetch, run = step_fns(tr, ds)
    cuda = tr.device.type == "cuda"
    for _ in range(warm):
        run([fetch()])
        tr.step += 1
    if cuda:
        torch.cuda.synchronize()
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    t0 = time.perf_counter()
    with profile(activities=acts) as prof:
        for _ in range(steps):
            with record_function("data"):
                mb = fetch()
            with record_function("step"):
                run([mb])
            tr.step += 1
        if cuda:
            torch.cuda.synchronize()
    wall = (time.perf_counter() - t0) / steps * 1e3
    ev = prof.key_averages()
    by = {e.key: e for e in ev}
    data = by["data"].cpu_time_total / steps / 1e3

    def waits(e) -> bool:  # a read of a device value, or an explicit synchronize
        if e.name in ("cudaStreamSynchronize", "cudaDeviceSynchronize"):
            return True
        if e.name != "aten::_local_scalar_dense":
            return False
        p = e.cpu_parent  # the CPU fused Adam reads its own step counts inside the kernel: not a wait
        while p is not None:
            if p.name == "aten::_fused_adam_":
                return False
            p = p.cpu_parent
        return True

    syncs = sum(1 for e in prof.events() if waits(e))
    if cuda:  # the device's kernel time (kernels launched while fetching included)
        kernels = sum(getattr(e, "self_device_time_total", getattr(e, "self_cuda_time_total", 0)) for e in ev)
    else:  # the operators' own CPU time outside the data fetch (prepare_batch's operators are data)
        events = prof.events()
        spans = sorted((e.time_range.start, e.time_range.end) for e in events if e.name == "data")

        def in_data(t: float) -> bool:
            return any(a <= t <= b for a, b in spans)

        kernels = sum(
            e.self_cpu_time_total
            for e in events
            if e.name.startswith("aten::") and not in_data(e.time_range.start)
        )
    kernels = kernels / steps / 1e3
    return {
        "wall": wall,
        "data": data,
        "kernels": kernels,
        "host": max(wall - data - kernels, 0.0),
        "syncs": syncs / steps,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS, help="methods to profile")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--warm", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    from reenactor.extract import extract
    from reenactor.samples import sample_path

    work = Path(tempfile.mkdtemp(prefix="bench_profile_"))
    clip = extract(
        sample_path("carphone"), work / "carphone", size=args.size, progress=False, log=lambda *_: None
    )
    make_stages(clip.root, args.methods)
    print(
        f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, "
        f"load average {os.getloadavg()[0]:.2f}; {args.size}x{args.size}, batch {args.batch}"
    )
    print("| method | ms/step | data | kernels | host | syncs/step | data share |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    shares = []
    for method in args.methods:
        data = action_data(work, clip.root) if method == "psgan" else clip.root
        tr, ds = build(method, args.size, data, args.device, args.batch)
        r = profile_method(tr, ds, args.warm, args.steps)
        share = r["data"] / r["wall"]
        shares.append((share, method))
        print(
            f"| {method} | {r['wall']:.1f} | {r['data']:.1f} | {r['kernels']:.1f} | {r['host']:.1f} | "
            f"{r['syncs']:.1f} | {100 * share:.0f} % |"
        )
    worst = max(shares)
    print(f"largest data share: {100 * worst[0]:.0f} % of the step ({worst[1]}, {args.device})")


if __name__ == "__main__":
    main()
