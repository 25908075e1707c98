"""Where does a psgan model's heatmap L2 (the paper's Table 1 measure) come from?

Reads a finished ``reenactor benchmark psgan`` output folder (its held-out set under ``OUT/data/test``) and
model files (e.g. ``OUT/runs/psgan_seed1/model.safetensors``), and splits each model's heatmap L2 on the
held-out sequences, beside the static baseline (the first pose repeated):

* on the real discs / off them, and the drawn mass over the real one (how fat the maps are);
* channels whose real joint stays within one heatmap pixel of its first position ("still"), moves, or is never
  seen;
* by body: the held-out carphone poses / the astronaut (rest pose 4 of the test set);
* the L2 of heatmaps re-drawn from the decoded poses (what ``reenactor poses generate`` writes).

Run: ``.venv/bin/python experiments/psgan_heatmap_l2.py OUT OUT/runs/psgan_seed1/model.safetensors ...``
(about 10 s per model). docs/psgan.md quotes its output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import reenactor  # noqa: F401  (memory settings before torch, as the CLI)
from reenactor.data.actions import open_actions
from reenactor.evaluation import psgan as bench
from reenactor.methods.psgan import points as pts
from reenactor.modelfile import open_model
from reenactor.synthetic.actions import ACTIONS

ASTRONAUT = 4  # index of the astronaut among the held-out set's rest poses (carphone frames 85-115 first)


def decompose(name: str, gen_maps: list[np.ndarray], test: list, cfg) -> str:
    n = sum(g.size for g in gen_maps)
    on = off = still = moving = unseen = 0.0
    per_item, mass = [], []
    for g, it in zip(gen_maps, test):
        real = it.maps  # (T, K, S, S)
        d = (g - real) ** 2
        on += float((d * (real > 0.5)).sum())
        off += float((d * (real <= 0.5)).sum())
        per_item.append(float(d.mean()))
        mass.append(float(g.sum() / max(real.sum(), 1e-9)))
        ys, xs = np.mgrid[: real.shape[-2], : real.shape[-1]]
        w = real.sum((-1, -2))
        vis = w > 0
        cx = (real * xs).sum((-1, -2)) / np.maximum(w, 1e-9)
        cy = (real * ys).sum((-1, -2)) / np.maximum(w, 1e-9)
        shift = np.where(vis & vis[:1], np.hypot(cx - cx[:1], cy - cy[:1]), 0).max(0)
        per_channel = d.sum((0, 2, 3))
        never = ~vis.any(0)
        still += float(per_channel[(shift <= 1.0) & ~never].sum())
        moving += float(per_channel[shift > 1.0].sum())
        unseen += float(per_channel[never].sum())
    rest = np.array([(int(it.sample.path.name[:4]) + ACTIONS.index(it.sample.action)) % 5 for it in test])
    per_item = np.array(per_item)
    redrawn = [
        pts.to_maps(
            pts.from_maps(g, "body", it.sample.size, cfg.min_peak, it.box),
            "body",
            it.sample.size,
            cfg.size,
            cfg.radius,
            it.box,
        )
        for g, it in zip(gen_maps, test)
    ]
    l2_redrawn = np.mean([((r - it.maps) ** 2).mean() for r, it in zip(redrawn, test)])
    return (
        f"| {name} | {(on + off) / n:.5f} | {on / n:.5f} | {off / n:.5f} | {np.mean(mass):.2f} | "
        f"{still / n:.5f} | {moving / n:.5f} | {unseen / n:.5f} | {per_item[rest != ASTRONAUT].mean():.5f} | "
        f"{per_item[rest == ASTRONAUT].mean():.5f} | {l2_redrawn:.5f} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="a `reenactor benchmark psgan` output folder")
    ap.add_argument("models", nargs="+", type=Path, help="psgan model files")
    args = ap.parse_args()
    cfg = bench.effective_config("psgan", [], None)
    test = bench._items(open_actions([args.out / "data" / "test"], log=lambda *_: None), cfg)
    print(
        "| model | heatmap L2 | on real discs | off them | drawn mass / real | still joints | moving joints | "
        "never seen | carphone poses | astronaut | re-drawn from decoded poses |"
    )
    print("| --- |" + " ---: |" * 10)
    print(decompose("static", [np.repeat(it.maps[:1], cfg.frames, 0) for it in test], test, cfg))
    for m in args.models:
        g = open_model(m).synthesizer
        maps = [g.heatmap_sequence(it.maps[0], g.actions.index(it.sample.action), cfg.frames) for it in test]
        print(decompose(f"{m.parent.name}", maps, test, cfg))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
