"""upper_body's landmark generator (Liu et al. 2019, section 4) on held-out frames: plain eq.-2 L1 against the
foreground-weighted L1 (``landmark.fg_weight``), trained side by side in one run.

The FAUP image -> 68-point landmark image generator of ``configs/upper_body/small.yaml`` (with its 3-scale
conditional PatchGAN, LSGAN + lambda 100 L1) is trained alone (its ``pretrain_steps`` phase) on the first
``--train-frames`` frames of the carphone clip and measured on the rest, for each ``--fg`` weight, same seed,
same frame order. Per row, over the held-out frames: L1 against the real landmark crops; the share of the crop
it draws (pixels above -0.5) against the real share; line recall (real line pixels within 1 px of a drawn
pixel) and precision (drawn pixels within 1 px of a real line). Reference rows: the mean training crop and
the training crop with the nearest FAUP. The headline (last line) is line recall at the largest weight against
plain L1. The lines cover ~5 % of the crop, so an empty image is nearly L1-optimal: recall is the number that
tells whether a face is drawn at all.

Run: ``.venv/bin/python experiments/upper_body_landmarks.py [--steps 3000] [--fg 0 4]`` (about 2 min per weight
on 2 cores at 3000 steps). The clip is extracted once into ``--work`` (default /tmp/reenactor_bench_lm).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from tqdm import tqdm

from reenactor.config import load_yaml
from reenactor.evaluation.self_reenactment import prepare_clip, split
from reenactor.face.faup import add_faup_stage, faup_image
from reenactor.methods.upper_body import UpperBodyMethod
from reenactor.methods.upper_body.dataset import UpperBodyDataset
from reenactor.methods.upper_body.images import landmark_crops
from reenactor.train.config import build_run_config, method_config

ROOT = Path(__file__).resolve().parents[1]


def records(ds: UpperBodyDataset) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """(T, 1, c, c) FAUP images, (T, 3, c, c) real landmark crops and (T, 20) FAUP of every frame of clip 0."""
    crop = (ds.crop, ds.crop)
    return (
        torch.from_numpy(np.stack([faup_image(f, crop, ds.cfg.landmark.cell) for f in ds.faup[0]])),
        landmark_crops(torch.from_numpy(ds.kp[0]["face"]), ds.crop),
        ds.faup[0],
    )


def line_scores(pred: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
    """L1, drawn share, real share, line recall / precision (1-px tolerance) of (T, 3, c, c) images in [-1, 1]."""
    p = (pred > -0.5).any(1, keepdim=True).float()
    r = (real > -0.5).any(1, keepdim=True).float()
    grow = lambda m: F.max_pool2d(m, 3, 1, 1)  # noqa: E731
    return {
        "l1": float((pred - real).abs().mean()),
        "drawn": float(p.mean()),
        "real": float(r.mean()),
        "recall": float((grow(p) * r).sum() / r.sum().clamp(min=1)),
        "precision": float((grow(r) * p).sum() / p.sum().clamp(min=1)),
    }


def train_one(
    cfg_dict: dict, fg: float, train_ds: UpperBodyDataset, steps: int, lr: float, seed: int
) -> tuple[UpperBodyMethod, float]:
    cfg = method_config(UpperBodyMethod, cfg_dict)
    cfg.landmark.fg_weight = float(fg)
    cfg.landmark.pretrain_steps = steps + 1  # landmark phase throughout
    torch.manual_seed(seed)
    m = UpperBodyMethod(cfg)
    opt_g = torch.optim.Adam(m.G_lm.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(m.D_lm.parameters(), lr=lr, betas=(0.5, 0.999))
    faup, lm, _ = records(train_ds)
    L = cfg.frame.past
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for step in tqdm(range(steps), desc=f"landmark G, fg_weight {fg:g}", unit="step"):
        t = int(rng.integers(L, len(faup)))  # one window of L + 1 frames, as a training step sees it
        batch = {"faup": faup[None, t - L : t + 1], "lm": lm[None, t - L : t + 1]}
        out = m.generator_step(batch, step)
        opt_g.zero_grad(set_to_none=True)
        sum(out.losses.values()).backward()
        opt_g.step()
        opt_d.zero_grad(set_to_none=True)
        sum(m.discriminator_step(batch, step, out.cache).values()).backward()
        opt_d.step()
    return m, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--clip", default="sample:carphone", help="clip folder, video or sample (default sample:carphone)"
    )
    ap.add_argument("--work", default="/tmp/reenactor_bench_lm", help="work folder for the extracted clip")
    ap.add_argument("--train-frames", type=int, default=80, help="first frames to train on (default 80)")
    ap.add_argument(
        "--steps", type=int, default=3000, help="landmark-generator steps per weight (default 3000)"
    )
    ap.add_argument("--fg", type=float, nargs="+", default=[0.0, 4.0], help="fg_weight values (default 0 4)")
    ap.add_argument(
        "--lr",
        type=float,
        default=1e-3,
        help="Adam learning rate of G and D (default 1e-3, as the self-reenactment benchmark)",
    )
    ap.add_argument(
        "--seed", type=int, default=0, help="seed of the networks and the frame order (default 0)"
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch CPU threads (default: torch's choice); 1 on a machine busy with another job",
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(args.work)
    clip = prepare_clip(args.clip, work, 128)
    add_faup_stage(clip)  # the whole clip's neutral face for both parts
    n = clip.n_frames
    train, test = split(clip, work / "split", args.train_frames, n - args.train_frames)
    cfg_dict = dict(
        build_run_config(load_yaml(ROOT / "configs/upper_body/small.yaml"), ["model.augment.prob=0"]).model
    )
    cfg0 = method_config(UpperBodyMethod, cfg_dict)
    train_ds, test_ds = UpperBodyDataset(cfg0, [train]), UpperBodyDataset(cfg0, [test])
    tr_faup_img, tr_lm, tr_faup = records(train_ds)
    te_faup_img, te_lm, te_faup = records(test_ds)
    rows = []
    for fg in args.fg:
        m, secs = train_one(cfg_dict, fg, train_ds, args.steps, args.lr, args.seed)
        with torch.no_grad():
            pred = m.G_lm(te_faup_img)
        rows.append((f"G_lm, fg_weight {fg:g}", line_scores(pred, te_lm), f"{args.steps / secs:.1f} steps/s"))
    mean = tr_lm.mean(0, keepdim=True).expand_as(te_lm)
    rows.append(("mean training crop (reference)", line_scores(mean, te_lm), "-"))
    nn_idx = np.argmin(((te_faup[:, None] - tr_faup[None]) ** 2).sum(-1), 1)
    rows.append(("training crop of the nearest FAUP (reference)", line_scores(tr_lm[nn_idx], te_lm), "-"))
    print(
        f"\nheld-out frames {args.train_frames}-{n - 1} of {clip.root} ({n - args.train_frames}), {args.steps} "
        f"landmark steps per row, lr {args.lr:g}, seed {args.seed}\n"
    )
    print("| generator | L1 | drawn share | real share | line recall | line precision | speed |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, s, speed in rows:
        print(
            f"| {name} | {s['l1']:.3f} | {100 * s['drawn']:.1f} % | {100 * s['real']:.1f} % | "
            f"{100 * s['recall']:.1f} % | {100 * s['precision']:.1f} % | {speed} |"
        )
    plain = next((s for name, s, _ in rows if name == f"G_lm, fg_weight {min(args.fg):g}"), None)
    best = next(s for name, s, _ in rows if name == f"G_lm, fg_weight {max(args.fg):g}")
    print(
        f"\nline recall on held-out frames: fg_weight {max(args.fg):g} {100 * best['recall']:.1f} % vs "
        f"fg_weight {min(args.fg):g} {100 * plain['recall']:.1f} %"
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the library logs its progress
    main()
