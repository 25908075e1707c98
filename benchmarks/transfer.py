"""End-to-end `reenactor transfer` speed and memory at 128x128 on this machine.

Measured in one run, on a cloning model of the default CPU size (U-Net ngf 32, 5 levels, N = 2 pose volumes of
25 joints; weights from one training step - speed does not depend on them):

* generator alone: G on pre-built pose volumes (batch 8), fp32 and bf16 autocast; with cloning's window mean
  (on by default) a batch of 8 frames needs 9 windows (one of look-ahead), and G alone runs those 9;
* transfer from a driving *clip* (poses cached in the clip store): the whole streaming path - row reads,
  normalization, pose volumes, G, H.264 encoding - fp32 and bf16, and its ratio to the generator alone; the
  driving input is the 10 s one of the memory test (carphone's clip looped to 300 frames); ROUNDS rounds that
  alternate generator alone and transfer, medians (single runs on a 2-core machine vary by +-15 %);
* transfer from a driving *video* (carphone.mp4): adds decoding twice and MediaPipe pose extraction;
* peak resident memory (VmHWM, fresh process each) for a 10 s and a 10 min driving input: carphone's
  clip looped through the same streaming path (:class:`LoopedSource`), normalization and coverage included.

Targets: >= 20 frames/s end to end and >= 0.8 x the generator alone; memory flat within 10 %.
Usage: python benchmarks/transfer.py [--clip CLIP_DIR] [--long-seconds 600] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")


def get_clip(path: str | None, work: Path):
    from reenactor.data.clipstore import ClipStore
    from reenactor.extract import extract
    from reenactor.samples import sample_path

    if path:
        return ClipStore.open(path)
    return extract(
        sample_path("carphone"), work / "carphone128", size=128, progress=False, log=lambda *_: None
    )


def make_model(clip, work: Path) -> Path:
    """A cloning model at the default config, trained for one step (fast) and exported."""
    from reenactor.methods import get_method
    from reenactor.train.config import build_run_config, method_config
    from reenactor.train.trainer import Trainer

    path = work / "cloning_bench" / "model.safetensors"
    if path.exists():
        return path
    run = build_run_config(
        {
            "method": "cloning",
            "model": {"size": 128},
            "trainer": {
                "steps": 1,
                "batch_size": 2,
                "ema": 0.0,
                "tensorboard": False,
                "image_every": 0,
                "progress": False,
                "device": "cpu",
            },
        }
    )
    cls = get_method("cloning")
    m = cls(method_config(cls, run.model))
    return Trainer(m, run, path.parent).fit(m.build_dataset([clip]))


class LoopedSource:
    """A driving source that loops a clip store's frames and poses ``n`` times through the streaming path."""

    def __new__(cls, clip, n_frames: int):
        from reenactor.driving import ClipSource

        class _Looped(ClipSource):
            def __init__(self):
                super().__init__(clip)
                self.base_n = self.n
                self.n = n_frames

            def bodies(self):
                b = np.asarray(self.store.load("body", mmap=False), np.float32)
                return b[np.arange(self.n) % self.base_n]

            def iter_frames(self, frames=True, keys=None):
                for t in range(self.n):
                    k = t % self.base_n
                    yield (self._frames[k] if frames else None), self.record(k, keys)

        return _Looped()


ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def generator_fps(model: Path, clip, precision: str, batch: int = 8, reps: int = 20) -> float:

    from reenactor.modelfile import open_model

    synth = open_model(model, precision=precision).synthesizer
    body = clip.load("body")
    poses = [{"body": body[t % len(body)]} for t in range(batch + synth.lookahead)]
    # the windows a batch of `batch` frames needs: with the window mean (the default) the look-ahead ones too
    x = synth._build(poses[:batch], poses[batch:])[1].contiguous()  # noqa: SLF001
    synth.generate_windows(x)  # warm-up
    t0 = time.perf_counter()
    for _ in range(reps):
        synth.generate_windows(x)
    return batch * reps / (time.perf_counter() - t0)


def transfer_fps(model: Path, driving, out: Path, precision: str, max_frames: int | None = None) -> dict:
    from reenactor.transfer import transfer

    t0 = time.perf_counter()
    res = transfer(
        model, driving, out, precision=precision, batch_size=8, progress=False, max_frames=max_frames
    )
    total = time.perf_counter() - t0
    return {
        "frames": res.n_frames,
        "render_fps": res.n_frames / res.seconds["render"],
        "total_fps": res.n_frames / total,
        "poses_s": res.seconds.get("poses", 0.0),
        "seconds": res.seconds,
    }


def peak_rss_mib() -> float:
    """This process's peak resident memory. Linux: VmHWM, which starts afresh at exec; ``ru_maxrss`` does not (it
    is kept across fork + exec, so a child started by a big parent reports at least the parent's size)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child_memory(model: str, clip: str, n_frames: int, out: str) -> None:
    """Run in a fresh process: looped transfer, print peak RSS (MiB) as JSON."""
    from reenactor.data.clipstore import ClipStore
    from reenactor.transfer import transfer

    src = LoopedSource(ClipStore.open(clip), n_frames)
    t0 = time.perf_counter()
    res = transfer(model, src, out, precision="bf16", batch_size=8, progress=False)
    print(
        json.dumps(
            {"frames": res.n_frames, "peak_rss_mib": peak_rss_mib(), "seconds": time.perf_counter() - t0}
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", help="a 128x128 clip folder (default: carphone extracted into the work folder)")
    ap.add_argument("--work", default="runs/bench_transfer", help="work folder (model, clip, outputs)")
    ap.add_argument("--short-seconds", type=float, default=10.0, help="short driving input length (s)")
    ap.add_argument("--long-seconds", type=float, default=600.0, help="long driving input length (s)")
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    ap.add_argument("--no-memory", action="store_true", help="skip the (long) memory measurements")
    ap.add_argument("--child", nargs=4, metavar=("MODEL", "CLIP", "N", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        child_memory(args.child[0], args.child[1], int(args.child[2]), args.child[3])
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    clip = get_clip(args.clip, work)
    model = make_model(clip, work)
    print(
        f"model {model}; clip {clip.root} ({clip.n_frames} frames, {clip.size[0]}x{clip.size[1]}); "
        f"torch threads {torch.get_num_threads()}"
    )

    rows = []
    gen: dict[str, float] = {}
    n_short = int(round(args.short_seconds * clip.fps))
    for p in ("fp32", "bf16"):
        gs, rs = [], []
        for _ in range(ROUNDS):
            gs.append(generator_fps(model, clip, p))
            rs.append(transfer_fps(model, LoopedSource(clip, n_short), work / f"clip_{p}.mp4", p))
        ratios = [r["render_fps"] / g for g, r in zip(gs, rs)]
        k = int(np.argsort(ratios)[len(ratios) // 2])  # the median round
        gen[p] = float(np.median(gs))
        fmt = lambda xs, d=1: " ".join(f"{x:.{d}f}" for x in xs)  # noqa: E731
        print(
            f"{p}: generator alone {fmt(gs)} fps; transfer {fmt([r['render_fps'] for r in rs])} fps; "
            f"ratios {fmt(ratios, 2)}"
        )
        rows.append((f"clip looped to {n_short} frames", p, gs[k], rs[k]))
    from reenactor.samples import sample_path

    r = transfer_fps(model, sample_path("carphone"), work / "video_bf16.mp4", "bf16")
    rows.append(("video (carphone.mp4)", "bf16", gen["bf16"], r))

    print()
    print(
        "| driving | precision | generator alone fps | transfer render fps | ratio | whole command fps | pose extraction s |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for drv, p, g, r in rows:
        print(
            f"| {drv} | {p} | {g:.1f} | {r['render_fps']:.1f} | {r['render_fps'] / g:.2f} | {r['total_fps']:.1f} | "
            f"{r['poses_s']:.1f} |"
        )

    best = max(rows[:2], key=lambda x: x[3]["render_fps"])  # the median round of the faster precision
    if args.no_memory:
        print()
        print(
            f"headline: transfer from a clip at 128x128 renders {best[3]['render_fps']:.1f} frames/s ({best[1]}), "
            f"{best[3]['render_fps'] / best[2]:.2f}x the generator alone"
        )
        return
    # ---- memory: fresh processes, same streaming path, short vs long looped driving input
    fps = clip.fps
    mem = []
    for secs in (args.short_seconds, args.long_seconds):
        n = int(round(secs * fps))
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [
                sys.executable,
                __file__,
                "--child",
                str(model),
                str(clip.root),
                str(n),
                str(Path(tmp) / "o.mp4"),
            ]
            if args.threads:
                cmd[2:2] = ["--threads", str(args.threads)]
            out = (
                subprocess.run(cmd, check=True, capture_output=True, text=True)
                .stdout.strip()
                .splitlines()[-1]
            )
        rec = json.loads(out)
        mem.append((secs, rec))
        print(
            f"memory: {secs:g} s driving ({rec['frames']} frames) -> peak RSS {rec['peak_rss_mib']:.0f} MiB "
            f"in {rec['seconds']:.0f} s ({rec['frames'] / rec['seconds']:.1f} frames/s)",
            flush=True,
        )
    growth = mem[1][1]["peak_rss_mib"] / mem[0][1]["peak_rss_mib"] - 1.0
    print()
    print("| driving length | frames | peak RSS (MiB) |")
    print("| ---: | ---: | ---: |")
    for secs, rec in mem:
        print(f"| {secs:g} s | {rec['frames']} | {rec['peak_rss_mib']:.0f} |")
    print()
    print(
        f"headline: transfer from a clip at 128x128 renders {best[3]['render_fps']:.1f} frames/s ({best[1]}), "
        f"{best[3]['render_fps'] / best[2]:.2f}x the generator alone; peak RSS {mem[0][1]['peak_rss_mib']:.0f} MiB "
        f"({mem[0][0]:g} s) vs {mem[1][1]['peak_rss_mib']:.0f} MiB ({mem[1][0]:g} s): {growth:+.1%}"
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the library logs its progress
    main()
