"""Trainer overhead and throughput.

1. The trainer's step time against a bare PyTorch loop of the same networks and losses, in the same run and
   interleaved (rounds of N trainer steps then N bare steps, median per-step time of each): pix2pixHD global
   generator (ngf 32, 3 downsamplings, 6 ResNet blocks), a 2-scale PatchGAN (ndf 32, 3 layers), LSGAN +
   feature matching (eq. 11) + L1 + perceptual (efficientnet_lite0) at 128x128, batch 1, fp32, EMA off in both
   (one extra row drops the perceptual loss, the plain pix2pixHD GAN step).
   The trainer's time includes everything `Trainer.fit` does (data loading through its sampler, loss logging,
   bookkeeping); nothing is written to disk.
2. Steps per hour through the trainer at 128^2 and 256^2, fp32 and bf16 (EMA on, as by default).
3. Host overhead (issue 30): steps/s of every trained method through ``Trainer.fit`` with its networks shrunk
   to near-zero cost (:data:`NEAR_ZERO`), the old code (per method :data:`HOST_OLD`, or ``--old-ref``; git
   commits checked out into temporary worktrees) against this checkout, alternating child processes
   (:func:`host_overhead`). Target >= 3x.

Real frames (the bundled carphone clip) feed both. Run: ``.venv/bin/python benchmarks/trainer.py [--quick]``.
The machine's load average is printed: other processes on a shared CPU distort absolute times, the
interleaved ratio much less.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from reenactor.losses import PerceptualLoss, feature_matching, gan_loss_d, gan_loss_g, l1
from reenactor.methods.base import Method, StepOutput
from reenactor.nn import GlobalGenerator, MultiscaleDiscriminator, load_feature_net


@dataclass
class BenchConfig:
    size: int = 128
    ngf: int = 32
    n_blocks: int = 6
    ndf: int = 32
    lambda_l1: float = 10.0
    lambda_fm: float = 10.0
    lambda_perc: float = 10.0  # 0 = no perceptual loss (the feature net is not run)


class FramesDataset(torch.utils.data.Dataset):
    """Real carphone frames: cond (6, S, S) = RGB blurred + Sobel edges, image (3, S, S) in [-1, 1]."""

    def __init__(self, size: int, n: int = 32):
        import cv2

        from reenactor.io.video import iter_frames
        from reenactor.samples import sample_path

        self.items = []
        for f in iter_frames(sample_path("carphone"), stop=n):
            f = cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA)
            img = torch.from_numpy(f).permute(2, 0, 1).float() / 127.5 - 1
            grey = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
            ex, ey = cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)
            blur = torch.from_numpy(cv2.GaussianBlur(f, (9, 9), 3)).permute(2, 0, 1).float() / 127.5 - 1
            cond = torch.cat([blur, torch.from_numpy(np.stack([ex, ey, np.hypot(ex, ey)]))], 0)
            self.items.append({"cond": cond, "image": img})

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.items[i]


class BenchMethod(Method):
    name = "bench"
    Config = BenchConfig

    def __init__(self, cfg: BenchConfig, feature_net=None):
        super().__init__(cfg)
        self.G = GlobalGenerator(6, 3, ngf=cfg.ngf, n_downsampling=3, n_blocks=cfg.n_blocks)
        self.D = MultiscaleDiscriminator(9, ndf=cfg.ndf, n_layers=3, num_D=2)
        self.perc = PerceptualLoss(feature_net or load_feature_net("effnet", verbose=False))

    def build_dataset(self, clips, unpaired=None):
        return FramesDataset(self.cfg.size)

    def generator_parameters(self):
        return list(self.G.parameters())

    def discriminator_parameters(self):
        return list(self.D.parameters())

    def g_losses(
        self, cond: torch.Tensor, real: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        c = self.cfg
        fake = self.G(cond)
        df, dr = self.D(torch.cat([cond, fake], 1)), self.D(torch.cat([cond, real], 1))
        out = {
            "gan": gan_loss_g(df, "lsgan"),
            "fm": c.lambda_fm * feature_matching(dr, df),
            "l1": c.lambda_l1 * l1(fake, real),
        }
        if c.lambda_perc > 0:
            out["perc"] = c.lambda_perc * self.perc(fake, real)
        return out, fake

    def d_losses(self, cond: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        return {
            "d": gan_loss_d(self.D(torch.cat([cond, real], 1)), self.D(torch.cat([cond, fake], 1)), "lsgan")
        }

    def generator_step(self, batch, step):
        losses, fake = self.g_losses(batch["cond"], batch["image"])
        return StepOutput(losses, {"fake": fake}, {"fake": fake.detach()})

    def discriminator_step(self, batch, step, cache):
        return self.d_losses(batch["cond"], batch["image"], cache["fake"])

    def inference_state(self):
        return {f"G.{k}": v for k, v in self.G.state_dict().items()}, {}

    @classmethod
    def synthesizer(cls, cfg, tensors, meta, device="cpu"):
        raise NotImplementedError


def make(size: int, precision: str, ema: float, feature_net, perceptual: bool = True) -> tuple[Any, Any]:
    from reenactor.config import from_dict
    from reenactor.train import RunConfig, Trainer

    torch.manual_seed(0)
    method = BenchMethod(BenchConfig(size=size, lambda_perc=10.0 if perceptual else 0.0), feature_net)
    cfg = from_dict(
        RunConfig,
        {
            "method": "bench",
            "trainer": {
                "batch_size": 1,
                "precision": precision,
                "ema": ema,
                "ema_start": 0,
                "device": "cpu",
                "progress": False,
                "tensorboard": False,
                "image_every": 0,
                "log_every": 10,
                "checkpoint_every": 10**9,
                "steps": 0,
            },
        },
    )
    return method, Trainer(method, cfg, run_dir=None)


def trainer_steps(trainer, dataset, n: int) -> float:
    """Seconds per step of ``n`` steps of Trainer.fit (continuing from the trainer's current step)."""
    trainer.cfg.steps = trainer.step + n
    t = time.perf_counter()
    trainer.fit(dataset)
    return (time.perf_counter() - t) / n


def bare_steps(method: BenchMethod, dataset, n: int, state: dict) -> float:
    """The same networks and losses in a hand-written loop (Adam, D frozen during the G update)."""
    if "opt_g" not in state:
        state["opt_g"] = torch.optim.Adam(method.G.parameters(), 2e-4, betas=(0.5, 0.999))
        state["opt_d"] = torch.optim.Adam(method.D.parameters(), 2e-4, betas=(0.5, 0.999))
        state["i"] = 0
    opt_g, opt_d = state["opt_g"], state["opt_d"]
    method.train()
    t = time.perf_counter()
    for _ in range(n):
        b = dataset[state["i"] % len(dataset)]
        state["i"] += 1
        cond, real = b["cond"][None], b["image"][None]
        for p in method.D.parameters():
            p.requires_grad_(False)
        losses, fake = method.g_losses(cond, real)
        opt_g.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        opt_g.step()
        for p in method.D.parameters():
            p.requires_grad_(True)
        dl = method.d_losses(cond, real, fake.detach())
        opt_d.zero_grad(set_to_none=True)
        sum(dl.values()).backward()
        opt_d.step()
    return (time.perf_counter() - t) / n


# ---- 3. host overhead, old code against new, networks shrunk to near-zero cost
#: each trained method's networks shrunk to near-zero cost (what remains: data, losses' plumbing, optimizer, EMA,
#: logging, and the frozen feature net of a perceptual loss, which cannot shrink), and the frame (or heatmap) size
NEAR_ZERO: dict[str, tuple[int, dict]] = {
    "cloning": (128, {"generator": {"ngf": 1, "num_downs": 2}, "discriminator": {"ndf": 1, "n_layers": 1}}),
    "pix2pix": (128, {"generator": {"ngf": 1, "num_downs": 2}, "discriminator": {"ndf": 1, "n_layers": 1}}),
    "upper_body": (
        128,
        {
            "landmark": {"ngf": 1, "n_downsampling": 2, "n_blocks": 1, "ndf": 1, "n_layers": 1, "num_D": 1},
            "frame": {"ngf": 1, "n_downsampling": 2, "n_blocks": 1, "ndf": 1, "n_layers": 1, "num_D": 1},
        },
    ),
    "single_shot": (
        128,
        {
            "p2b": {"ngf": 1, "n_downsampling": 2, "n_blocks": 1, "ndf": 1, "n_layers": 1, "num_D": 1},
            "b2f": {"ngf": 1, "spade_hidden": 1, "ndf": 1, "n_layers": 1, "num_D": 1},
            "fr": {"ngf": 1, "n_down": 2, "n_blocks": 1, "ndf": 1, "n_layers": 1},
        },
    ),
    "remot": (
        64,
        {
            k: {"ngf": 1, "n_down": 2, "n_blocks": 1, "ndf": 1, "n_layers": 1, "num_D": 1}
            for k in ("layout", "region", "composition")
        },
    ),
    "scgan": (128, {"ngf": 1, "max_ch": 2, "n_blocks": 1, "ndf": 1, "n_layers": 1}),
    "psgan": (32, {"ngf": 1, "max_ch": 2, "n_blocks": 1, "hidden": 2, "ndf": 1, "n_layers": 1}),
}
#: the old code per method: the trainer before issue 30, or the commit before the method's device path
HOST_OLD = {m: "7dc71e4" for m in ("cloning", "pix2pix", "upper_body")} | {
    m: "3d7952c" for m in ("single_shot", "remot", "scgan", "psgan")
}
HOST_CHILD = r"""
import json, sys, time
import reenactor
import torch
from reenactor.methods import get_method
from reenactor.train.config import build_run_config, method_config
from reenactor.train.trainer import Trainer

sys.path.insert(0, sys.argv[6])  # this checkout's benchmarks/, for the shared dataset builder
from _datasets import build_dataset

torch.set_num_threads(1)
method, data, steps, warm = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
model = json.loads(sys.argv[5])
run = build_run_config({"method": method, "model": model, "trainer": {
    "steps": warm + steps, "batch_size": 4, "progress": False, "tensorboard": False, "image_every": 0,
    "checkpoint_every": 10**9, "device": "cpu", "log_every": 10, "ema": 0.999, "ema_start": 0}})
cls = get_method(method)
m = cls(method_config(cls, run.model))
ds = build_dataset(m, data, run)
marks = {}
def mark(trainer, logs):
    if trainer.step in (warm, warm + steps):
        marks[trainer.step] = time.perf_counter()
Trainer(m, run, None, callbacks=[mark]).fit(ds)
print("RESULT", json.dumps({"steps_per_s": steps / (marks[warm + steps] - marks[warm])}))
"""


def host_overhead(
    old_ref: str | None, rounds: int, steps: int, methods: list[str]
) -> list[tuple[str, str, float, float]]:
    """Steps/s of the old code (``old_ref``, or :data:`HOST_OLD` per method, checked out into temporary
    worktrees) and of this checkout, in child processes that alternate, one torch thread each, each method's
    networks shrunk to near-zero cost (:data:`NEAR_ZERO`: data, losses' plumbing, optimizer, EMA, logging are
    what remain), batch 4, on carphone (psgan: procedural actions from its rest poses), cloning with its
    unpaired branch on its own clip. Rows ``(method, old ref, old steps/s, new steps/s)``."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from _datasets import action_data, make_stages

    from reenactor.extract import extract
    from reenactor.samples import sample_path

    repo = Path(__file__).resolve().parents[1]
    work = Path(tempfile.mkdtemp(prefix="bench_host_"))
    clips = {}
    for size in sorted({NEAR_ZERO[m][0] for m in methods if m != "psgan"} | {128}):
        clips[size] = extract(
            sample_path("carphone"), work / f"carphone{size}", size=size, progress=False, log=lambda *_: None
        ).root
        make_stages(clips[size], methods)
    refs = {m: old_ref or HOST_OLD[m] for m in methods}
    olds = {}
    for ref in sorted(set(refs.values())):
        olds[ref] = work / f"old_{ref}"
        subprocess.run(
            ["git", "-C", str(repo), "worktree", "add", "--detach", str(olds[ref]), ref],
            check=True,
            capture_output=True,
        )
    rows = []
    try:
        for method in methods:
            size, nets = NEAR_ZERO[method]
            data = action_data(work, clips[128]) if method == "psgan" else clips[size]
            model = json.dumps({"size": size, **nets})
            srcs = {"old": olds[refs[method]] / "src", "new": repo / "src"}
            got: dict[str, list[float]] = {"old": [], "new": []}
            for _ in range(rounds):
                for name, src in srcs.items():
                    argv = [method, str(data), str(steps), "5", model, str(Path(__file__).resolve().parent)]
                    out = subprocess.run(
                        [sys.executable, "-c", HOST_CHILD, *argv],
                        env={**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"},
                        capture_output=True,
                        text=True,
                    )
                    if out.returncode:
                        raise RuntimeError(f"{method} ({src}): {out.stderr[-2000:]}")
                    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
                    got[name].append(json.loads(line[7:])["steps_per_s"])
            rows.append((method, refs[method], statistics.median(got["old"]), statistics.median(got["new"])))
            print(
                f"  host overhead {method}: old {rows[-1][2]:.1f}, new {rows[-1][3]:.1f} steps/s", flush=True
            )
    finally:
        for path in olds.values():
            subprocess.run(
                ["git", "-C", str(repo), "worktree", "remove", "--force", str(path)], capture_output=True
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    ap.add_argument("--rounds", type=int, default=6, help="interleaved rounds for the overhead ratio")
    ap.add_argument("--steps", type=int, default=4, help="steps per round / per throughput measurement")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch's default)")
    ap.add_argument(
        "--old-ref",
        default=None,
        help="git commit of the old code for the host-overhead comparison (default: per method, HOST_OLD: the "
        "trainer before issue 30, or the commit before the method's device path)",
    )
    ap.add_argument(
        "--host-methods",
        nargs="+",
        default=list(NEAR_ZERO),
        choices=list(NEAR_ZERO),
        help="methods of the host-overhead comparison (default: every trained method)",
    )
    ap.add_argument(
        "--skip-host", action="store_true", help="leave out the host-overhead comparison (it says so)"
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds, steps = (2, 2) if args.quick else (args.rounds, args.steps)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
        f"{os.getloadavg()[0]:.2f} (before)"
    )
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print(
            f"WARNING: the machine is busy (load {os.getloadavg()[0]:.1f} > {os.cpu_count()} cores): absolute times "
            "are inflated; with several intra-op threads they can be far worse (try --threads 1)"
        )
    fnet = load_feature_net("effnet")

    # ---- 1. overhead: trainer vs bare loop, interleaved
    ds128 = FramesDataset(128)
    m_t, tr = make(128, "fp32", 0.0, fnet)
    m_b, _ = make(128, "fp32", 0.0, fnet)
    trainer_steps(tr, ds128, 1)
    bare_state: dict = {}
    bare_steps(m_b, ds128, 1, bare_state)
    t_tr, t_bare = [], []
    for _ in range(rounds):
        t_tr.append(trainer_steps(tr, ds128, steps))
        t_bare.append(bare_steps(m_b, ds128, steps, bare_state))
    mt, mb = statistics.median(t_tr), statistics.median(t_bare)
    ratio = mt / mb
    print()
    print("| loop (128^2, batch 1, fp32, EMA off) | s/step (median of rounds) | rounds |")
    print("|---|---|---|")
    print(f"| bare PyTorch loop | {mb:.3f} | {', '.join(f'{x:.3f}' for x in t_bare)} |")
    print(f"| reenactor Trainer.fit | {mt:.3f} | {', '.join(f'{x:.3f}' for x in t_tr)} |")
    print(f"| ratio trainer / bare | {ratio:.3f}x | target <= 1.15x |")

    # ---- 2. throughput through the trainer
    print()
    print("| size | precision | s/step | steps/hour |")
    print("|---|---|---|---|")
    results = {}
    for size in (128, 256):
        ds = ds128 if size == 128 else FramesDataset(256, n=8)
        for prec in ("fp32", "bf16"):
            _, trp = make(size, prec, 0.999, fnet)
            trainer_steps(trp, ds, 1)  # warm-up
            s = statistics.median([trainer_steps(trp, ds, max(steps // 2, 1)) for _ in range(2)])
            results[(size, prec)] = s
            print(f"| {size}x{size} | {prec} | {s:.3f} | {3600 / s:,.0f} |")
    _, trn = make(128, "fp32", 0.999, fnet, perceptual=False)
    trainer_steps(trn, ds128, 1)
    s = statistics.median([trainer_steps(trn, ds128, max(steps // 2, 1)) for _ in range(2)])
    print(f"| 128x128 | fp32, no perceptual loss | {s:.3f} | {3600 / s:,.0f} |")
    sp128 = results[(128, "fp32")] / results[(128, "bf16")]
    sp256 = results[(256, "fp32")] / results[(256, "bf16")]
    print(
        f"\nbf16 speed-up: {sp128:.2f}x at 128^2, {sp256:.2f}x at 256^2; load average {os.getloadavg()[0]:.2f} (after)"
    )
    host = ""
    if args.skip_host:
        print("\nhost overhead comparison left out (--skip-host)")
    else:
        rows = host_overhead(
            args.old_ref, 2 if args.quick else 3, 20 if args.quick else 60, args.host_methods
        )
        print()
        print(
            "| host overhead (networks near zero, batch 4) | size | old | old steps/s | new steps/s | new / old |"
        )
        print("|---|---|---|---|---|---|")
        for method, ref, o, n in rows:
            print(f"| {method} | {NEAR_ZERO[method][0]} | {ref} | {o:.1f} | {n:.1f} | {n / o:.2f}x |")
        worst = min(rows, key=lambda r: r[3] / r[2])
        host = f"; host overhead {worst[3] / worst[2]:.2f}x the old code (smallest: {worst[0]})"
    print(
        f"trainer {1 / ratio:.2f}x a bare loop (target >= 0.9x); 128^2 fp32 {3600 / results[(128, 'fp32')]:,.0f} "
        f"steps/h, bf16 {3600 / results[(128, 'bf16')]:,.0f} steps/h{host}"
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the library logs its progress
    main()
