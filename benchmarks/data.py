"""Training data path: samples per second, the old code's against this checkout's, for every trained method.

For each trained method at its shipped default config (only the size changed), batch 16, the training device
being this CPU, one torch thread: child processes alternate between the old code (a git commit checked out into
a temporary worktree: the commit before that method's data path moved to the device, :data:`OLD_REFS`, or
``--old-ref`` for all) and this checkout, ROUNDS rounds each; a child builds the method's dataset as
``reenactor train`` does, draws WARM batches (about one pass over carphone's 120 frames: first reads of the clip,
per-process caches), then times BATCHES batches of ``dataset[i]`` (random indices, as the sampler draws them) +
the default collate + the method's ``prepare_batch`` (the device half). Medians of the rounds; both sides run on
the same machine at the same time, so a busy machine moves both.

* cloning: the paper's two branches (N = 2 pose volumes of 25 joints; the unpaired branch on carphone's own
  poses and optical flow), pose augmentation on (its default); pix2pix: N = 1, no unpaired branch;
* upper_body: windows of L + 1 = 3 frames and L past inputs, pose augmentation and expression warps as shipped;
* single_shot, remot, scgan: frame pairs of carphone (its layout and background stages made first; single_shot's
  stages P2B + B2F + FR); psgan: procedural action windows drawn from carphone's rest poses, at its own heatmap
  sizes (32, the default, and 64, the paper's) instead of frame sizes.

A third column times this checkout's host half alone (items + collate): on a GPU the device half runs there,
and this is what the CPU must keep up with. Target (issue 30): >= 4x at 256x256 for every method. Last line: the
smallest all-on-this-CPU ratio at the larger size.

Usage: python benchmarks/data.py [--quick] [--old-ref REF] [--methods cloning pix2pix ...]
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

from _datasets import action_data, make_stages

CHILD = r"""
import json, sys, time
import reenactor  # first: its memory settings apply before torch starts (the CLI's order)
import numpy as np
import torch
from reenactor.methods import get_method
from reenactor.train.config import build_run_config, method_config

sys.path.insert(0, sys.argv[8])  # this checkout's benchmarks/, for the shared dataset builder
from _datasets import build_dataset

torch.set_num_threads(1)
method, data, size, batch, n_batches, warm, device_half = sys.argv[1:8]
size, batch, n_batches, warm, device_half = int(size), int(batch), int(n_batches), int(warm), device_half == "1"
cls = get_method(method)
run = build_run_config({"method": method, "model": {"size": size}})
m = cls(method_config(cls, run.model))
ds = build_dataset(m, data, run)
prepare = getattr(m, "prepare_batch", None) if device_half else None
rng = np.random.default_rng(0)
np.random.seed(0)

def one():
    idx = rng.integers(0, len(ds), batch)
    b = torch.utils.data.default_collate([ds[int(i)] for i in idx])
    if prepare is not None:
        with torch.no_grad():
            b = prepare(b)
    return b

for _ in range(warm):  # first reads of the clip, per-process caches
    one()
t0 = time.perf_counter()
for _ in range(n_batches):
    one()
print("RESULT", json.dumps({"samples_per_s": n_batches * batch / (time.perf_counter() - t0)}))
"""

#: per-person methods whose data path issue 30 moved first (old = the trainer before issue 30), then the others
#: (old = the commit before their device paths)
OLD_REFS = {
    "cloning": "7dc71e4",
    "pix2pix": "7dc71e4",
    "upper_body": "7dc71e4",
    "single_shot": "3d7952c",
    "remot": "3d7952c",
    "scgan": "3d7952c",
    "psgan": "3d7952c",
}
METHODS = tuple(OLD_REFS)
#: the two sizes per method: frame sides, or psgan's heatmap sides
SIZES = {m: (128, 256) for m in METHODS} | {"psgan": (32, 64)}


def get_clip(work: Path, size: int) -> Path:
    """carphone extracted at ``size``, with the clip stages the reference methods train on (made once, here,
    so that no child times them)."""
    from reenactor.extract import extract
    from reenactor.samples import sample_path

    root = work / f"carphone{size}"
    if not root.exists():
        extract(sample_path("carphone"), root, size=size, progress=False, log=lambda *_: None)
    make_stages(root, list(METHODS))
    return root


def child(
    src: Path, method: str, data: Path, size: int, batch: int, n_batches: int, warm: int, device_half: bool
) -> float:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            method,
            str(data),
            str(size),
            str(batch),
            str(n_batches),
            str(warm),
            str(int(device_half)),
            str(Path(__file__).resolve().parent),
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
    ap.add_argument("--quick", action="store_true", help="one round of 4 batches (a smoke run)")
    ap.add_argument("--batch", type=int, default=16, help="samples per batch (default 16)")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS, help="methods to time")
    ap.add_argument(
        "--old-ref", default=None, help="git commit of the old code for every method (default: OLD_REFS)"
    )
    ap.add_argument("--work", default=None, help="folder for the extracted clips (default: a temporary one)")
    args = ap.parse_args()
    rounds, n_batches, warm = (1, 4, 4) if args.quick else (3, 8, 8)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench_data_"))
    work.mkdir(parents=True, exist_ok=True)
    repo = Path(__file__).resolve().parents[1]
    refs = {m: args.old_ref or OLD_REFS[m] for m in args.methods}
    olds: dict[str, Path] = {}
    base = Path(tempfile.mkdtemp(prefix="bench_data_old_"))
    for ref in sorted(set(refs.values())):
        olds[ref] = base / ref
        subprocess.run(
            ["git", "-C", str(repo), "worktree", "add", "--detach", str(olds[ref]), ref],
            check=True,
            capture_output=True,
        )
    print(
        f"load average {os.getloadavg()[0]:.2f}; one torch thread per child; batch {args.batch}; "
        f"{warm} warm-up batches, then {n_batches} timed, {rounds} round(s); old = "
        + ", ".join(f"{m} {r}" for m, r in refs.items()),
        flush=True,
    )
    rows = []
    try:
        for method in args.methods:
            for size in SIZES[method]:
                data = action_data(work, get_clip(work, 128)) if method == "psgan" else get_clip(work, size)
                got: dict[str, list[float]] = {"old": [], "new": [], "host": []}
                for _ in range(rounds):
                    for key, src, dev in (
                        ("old", olds[refs[method]] / "src", True),
                        ("new", repo / "src", True),
                        ("host", repo / "src", False),
                    ):
                        got[key].append(child(src, method, data, size, args.batch, n_batches, warm, dev))
                o, n, h = (statistics.median(got[k]) for k in ("old", "new", "host"))
                rows.append((method, size, o, n, h))
                print(f"  {method} {size}: old {o:.1f}, new {n:.1f}, host half {h:.1f} samples/s", flush=True)
    finally:
        for path in olds.values():
            subprocess.run(
                ["git", "-C", str(repo), "worktree", "remove", "--force", str(path)], capture_output=True
            )
    print()
    print(
        "| method | size | old | old samples/s | new samples/s, all on this CPU | new / old | new, host half only "
        "(a GPU renders) | host half / old |"
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for method, size, o, n, h in rows:
        print(
            f"| {method} | {size}x{size} | {refs[method]} | {o:.1f} | {n:.1f} | {n / o:.2f}x | {h:.1f} | "
            f"{h / o:.1f}x |"
        )
    big = [r for r in rows if r[1] == max(SIZES[r[0]])]
    worst = min(big, key=lambda r: r[3] / r[2])
    print(f"data path: {worst[3] / worst[2]:.1f}x the old path (smallest: {worst[0]} {worst[1]}x{worst[1]})")


if __name__ == "__main__":
    main()
