"""What does the disc head's GRU do to a psgan model's sequences?

For each model file (a ``head: disc`` psgan with a GRU, e.g. ``OUT/runs/psgan_seed0/model.safetensors`` of a
``reenactor benchmark psgan`` output folder ``OUT``) and each action, on the held-out set (``OUT/data/test``,
or ``--set train``):

* the heatmap L2 of the model as trained (decoder + GRU) and of the decoder's own points with the GRU left out
  at inference;
* how far the GRU moves the points: mean correction in heatmap pixels over the points shown in the first pose;
* the share of points whose presence (drawn or not) the GRU flips.

Run: ``.venv/bin/python experiments/psgan_gru.py OUT OUT/runs/psgan_seed0/model.safetensors ...``
(about 5 s per model). docs/psgan.md quotes its output.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import reenactor  # noqa: F401  (memory settings before torch, as the CLI)
from reenactor.data.actions import open_actions
from reenactor.evaluation import psgan as bench
from reenactor.methods.psgan.networks import disc_points, first_centres, render_discs
from reenactor.modelfile import open_model
from reenactor.nn.convert import one_hot


def probe(model: str, items: list) -> dict[str, np.ndarray]:
    """Per action: mean of (L2 with the GRU, L2 without it, correction px, presence flips)."""
    g = open_model(model).synthesizer
    G = g.G
    if G.head != "disc" or G.temporal is None:
        raise SystemExit(f"{model}: not a disc-head psgan with a recurrent layer")
    rows: dict[str, list[list[float]]] = {}
    for it in items:
        pose = torch.from_numpy(it.maps[0]).float()[None].to(g.device)
        label = one_hot(torch.tensor([g.actions.index(it.sample.action)], device=g.device), g.cfg.n_actions)
        with torch.no_grad():
            full, c1, q1 = G.points(pose, label)
            start, shown = first_centres(pose)
            c0, level0 = disc_points(G.logits(pose, label), start, shown)
            raw, _, q0 = render_discs(c0, level0, G.size, G.radius)
        real = it.maps
        seen = shown[:, None].expand_as(q0)
        rows.setdefault(it.sample.action, []).append(
            [
                float(((full[0].cpu().numpy() - real) ** 2).mean()),
                float(((raw[0].cpu().numpy() - real) ** 2).mean()),
                float((c1 - c0).norm(dim=-1)[seen].mean()),
                float(((q1 > 0.5) != (q0 > 0.5)).float().mean()),
            ]
        )
    return {a: np.mean(r, 0) for a, r in sorted(rows.items())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bench", type=Path, help="a `reenactor benchmark psgan` output folder")
    ap.add_argument("models", nargs="+", help="disc-head psgan model files with a GRU")
    ap.add_argument("--set", dest="which", default="test", choices=("test", "train"), help="which sequences")
    args = ap.parse_args()
    cfg = bench.effective_config("psgan", [])
    items = bench._items(open_actions([args.bench / "data" / args.which], log=lambda *_: None), cfg)
    for model in args.models:
        rows = probe(model, items)
        print(f"\n{model} ({args.which}, {len(items)} sequences)")
        print("| action | L2 with GRU | L2 without | GRU moves points px | presence flipped |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for a, r in [*rows.items(), ("all", np.mean(list(rows.values()), 0))]:
            print(f"| {a} | {r[0]:.5f} | {r[1]:.5f} | {r[2]:.2f} | {r[3]:.1%} |")


if __name__ == "__main__":
    main()
