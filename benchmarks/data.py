"""Training data path: samples per second, the old per-item host path against the batched device path.

For each trained method whose data path has both forms, at 128x128 and 256x256, batch 16 (one process, no
loader workers, the training device being this CPU): ROUNDS rounds that alternate the two paths, each timing
BATCHES batches of ``dataset[i]`` (random indices, as the sampler draws them) + the default collate + the
method's ``prepare_batch`` (the device half; with the old path the batch arrives rendered and passes through).
Medians of the rounds; the ratio new / old is measured in the same run, so a busy machine moves both.

* cloning: the paper's two branches (N = 2 pose volumes of 25 joints; the unpaired branch on carphone's own
  poses and optical flow), pose augmentation on (its default);
* pix2pix: N = 1, no unpaired branch.

Old path: the items carry float32 pose volumes drawn per item by the NumPy encoder and float32 images
(``PoseVolumeDataset(host_volumes=True)``, what training did before); new path: keypoints and uint8 frames,
rendered batched in torch by ``VolumeEncoder.render`` on the device (what training and inference do now).
A third column times the new path's host half alone (items + collate): on a GPU the rendering runs there, and
this is what the CPU must keep up with. Target (issue 30): >= 4x at 256x256 for every method. Last line: the
smallest all-on-this-CPU ratio at 256x256.

Usage: python benchmarks/data.py [--quick] [--threads N]
"""

from __future__ import annotations  # noqa: I001 - reenactor before torch (below)

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import reenactor  # noqa: F401 - first, as the CLI: its memory settings apply before torch starts (both paths)

import numpy as np
import torch

os.environ.setdefault("GLOG_minloglevel", "2")

METHODS = ("cloning", "pix2pix")


def get_clip(work: Path, size: int):
    from reenactor.extract import extract
    from reenactor.samples import sample_path

    root = work / f"carphone{size}"
    if root.exists():
        from reenactor.data.clipstore import ClipStore

        return ClipStore.open(root)
    return extract(sample_path("carphone"), root, size=size, progress=False, log=lambda *_: None)


def build(method: str, size: int, clip, host: bool):
    from reenactor.methods import get_method
    from reenactor.methods.cloning.dataset import PoseVolumeDataset
    from reenactor.train.config import build_run_config, method_config

    cls = get_method(method)
    run = build_run_config({"method": method, "model": {"size": size}})
    m = cls(method_config(cls, run.model))
    unpaired = [clip] if method == "cloning" else None
    ds = PoseVolumeDataset(m.cfg, [clip], unpaired, host_volumes=host)
    return m, ds


def time_batches(m, ds, n_batches: int, batch: int, rng: np.random.Generator, device: bool = True) -> float:
    """Samples per second over ``n_batches`` batches of ``batch`` random items (``device=False``: the host half
    only, items + collate, what is left to the CPU when the device is a GPU)."""
    t0 = time.perf_counter()
    for _ in range(n_batches):
        idx = rng.integers(0, len(ds), batch)
        b = torch.utils.data.default_collate([ds[int(i)] for i in idx])
        if device:
            with torch.no_grad():
                b = m.prepare_batch(b)
            assert b["pose"].shape[0] == batch
    return n_batches * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds and batches (a smoke run)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's choice)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--work", default=None, help="folder for the extracted clips (default: a temporary one)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds, n_batches = (2, 2) if args.quick else (5, 4)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench_data_"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"load average {os.getloadavg()[0]:.2f}; torch threads {torch.get_num_threads()}; batch {args.batch}"
    )
    rows = []
    for size in (128, 256):
        clip = get_clip(work, size)
        for method in METHODS:
            paths = {"old": build(method, size, clip, True), "new": build(method, size, clip, False)}
            rng = np.random.default_rng(0)
            for m, ds in paths.values():  # warm-up: first-touch costs (flow arrays, plates)
                time_batches(m, ds, 1, args.batch, rng)
            got: dict[str, list[float]] = {"old": [], "new": [], "host": []}
            for _ in range(rounds):
                for name, (m, ds) in paths.items():
                    got[name].append(time_batches(m, ds, n_batches, args.batch, rng))
                m, ds = paths["new"]
                got["host"].append(time_batches(m, ds, n_batches, args.batch, rng, device=False))
            old, new, host = (statistics.median(got[k]) for k in ("old", "new", "host"))
            rows.append((method, size, old, new, new / old, host, host / old))
    print(
        "| method | size | old samples/s | new samples/s, all on this CPU | new / old | new, host half only "
        "(a GPU renders) | host half / old |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for method, size, old, new, r, host, rh in rows:
        print(f"| {method} | {size}x{size} | {old:.1f} | {new:.1f} | {r:.2f}x | {host:.1f} | {rh:.1f}x |")
    at256 = [r for r in rows if r[1] == 256]
    worst = min(at256, key=lambda r: r[4])
    print(f"data path: {worst[4]:.1f}x the old path (smallest: {worst[0]} {worst[1]}x{worst[1]})")


if __name__ == "__main__":
    main()
