"""Training data path: samples per second, the old code's against this checkout's.

For each per-person trained method at its shipped default config (only the size changed), at 128x128 and
256x256, batch 16, the training device being this CPU, one torch thread: child processes alternate between the
old code (``--old-ref``, a git commit checked out into a temporary worktree; default: the trainer before
issue 30) and this checkout, ROUNDS rounds each; a child times BATCHES batches of ``dataset[i]`` (random
indices, as the sampler draws them) + the default collate + the method's ``prepare_batch`` where the code has
one (the device half). Medians of the rounds; both sides run on the same machine at the same time, so a busy
machine moves both.

* cloning: the paper's two branches (N = 2 pose volumes of 25 joints; the unpaired branch on carphone's own
  poses and optical flow), pose augmentation on (its default);
* pix2pix: N = 1, no unpaired branch;
* upper_body: windows of L + 1 = 3 frames and L past inputs, pose augmentation and expression warps as
  shipped.

A third column times this checkout's host half alone (items + collate): on a GPU the device half runs there,
and this is what the CPU must keep up with. Target (issue 30): >= 4x at 256x256 for every method. Last line: the
smallest all-on-this-CPU ratio at 256x256.

Usage: python benchmarks/data.py [--quick] [--old-ref REF] [--methods cloning pix2pix upper_body]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, time
import reenactor  # first: its memory settings apply before torch starts (the CLI's order)
import numpy as np
import torch
from reenactor.data.clipstore import ClipStore
from reenactor.methods import get_method
from reenactor.train.config import build_run_config, method_config

torch.set_num_threads(1)
method, clip, size, batch, n_batches, device_half = sys.argv[1:7]
size, batch, n_batches, device_half = int(size), int(batch), int(n_batches), device_half == "1"
cls = get_method(method)
run = build_run_config({"method": method, "model": {"size": size}})
m = cls(method_config(cls, run.model))
store = ClipStore.open(clip)
ds = m.build_dataset([store], [store] if method == "cloning" else None)
prepare = getattr(m, "prepare_batch", None) if device_half else None
rng = np.random.default_rng(0)

def one():
    idx = rng.integers(0, len(ds), batch)
    b = torch.utils.data.default_collate([ds[int(i)] for i in idx])
    if prepare is not None:
        with torch.no_grad():
            b = prepare(b)
    return b

one()  # first-touch costs (flow arrays, plates, caches)
t0 = time.perf_counter()
for _ in range(n_batches):
    one()
print("RESULT", json.dumps({"samples_per_s": n_batches * batch / (time.perf_counter() - t0)}))
"""

METHODS = ("cloning", "pix2pix", "upper_body")


def get_clip(work: Path, size: int) -> Path:
    from reenactor.extract import extract
    from reenactor.samples import sample_path

    root = work / f"carphone{size}"
    if not root.exists():
        extract(sample_path("carphone"), root, size=size, progress=False, log=lambda *_: None)
    return root


def child(
    src: Path, method: str, clip: Path, size: int, batch: int, n_batches: int, device_half: bool
) -> float:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            method,
            str(clip),
            str(size),
            str(batch),
            str(n_batches),
            str(int(device_half)),
        ],
        env={**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1", "GLOG_minloglevel": "2"},
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(f"{method} {size} ({src}): {out.stderr[-2000:]}")
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[7:])["samples_per_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds and batches (a smoke run)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument(
        "--old-ref", default="7dc71e4", help="git commit of the old code (default: before issue 30)"
    )
    ap.add_argument("--work", default=None, help="folder for the extracted clips (default: a temporary one)")
    args = ap.parse_args()
    rounds, n_batches = (2, 2) if args.quick else (3, 4)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench_data_"))
    work.mkdir(parents=True, exist_ok=True)
    repo = Path(__file__).resolve().parents[1]
    old = Path(tempfile.mkdtemp(prefix="bench_data_old_")) / "old"
    subprocess.run(
        ["git", "-C", str(repo), "worktree", "add", "--detach", str(old), args.old_ref],
        check=True,
        capture_output=True,
    )
    print(
        f"load average {os.getloadavg()[0]:.2f}; one torch thread per child; batch {args.batch}; old = {args.old_ref}"
    )
    rows = []
    try:
        for size in (128, 256):
            clip = get_clip(work, size)
            for method in args.methods:
                got: dict[str, list[float]] = {"old": [], "new": [], "host": []}
                for _ in range(rounds):
                    got["old"].append(child(old / "src", method, clip, size, args.batch, n_batches, True))
                    got["new"].append(child(repo / "src", method, clip, size, args.batch, n_batches, True))
                    got["host"].append(child(repo / "src", method, clip, size, args.batch, n_batches, False))
                o, n, h = (statistics.median(got[k]) for k in ("old", "new", "host"))
                rows.append((method, size, o, n, h))
                print(f"  {method} {size}: old {o:.1f}, new {n:.1f}, host half {h:.1f} samples/s", flush=True)
    finally:
        subprocess.run(
            ["git", "-C", str(repo), "worktree", "remove", "--force", str(old)], capture_output=True
        )
    print()
    print(
        "| method | size | old samples/s | new samples/s, all on this CPU | new / old | new, host half only "
        "(a GPU renders) | host half / old |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for method, size, o, n, h in rows:
        print(f"| {method} | {size}x{size} | {o:.1f} | {n:.1f} | {n / o:.2f}x | {h:.1f} | {h / o:.1f}x |")
    at256 = [r for r in rows if r[1] == 256]
    worst = min(at256, key=lambda r: r[3] / r[2])
    print(f"data path: {worst[3] / worst[2]:.1f}x the old path (smallest: {worst[0]} {worst[1]}x{worst[1]})")


if __name__ == "__main__":
    main()
