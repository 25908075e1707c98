"""How low can heatmap L2 (the paper's Table 1 measure) go on the psgan benchmark's held-out sequences?

The held-out sequences are procedural (``reenactor.synthetic.actions``): each is a rest pose animated with a
drawn variation. Part of the variation shows in the first pose (arm and shoulder proportions, scale,
placement); the rest (speed, amplitude, phase) does not, so no generator given the first pose and the action
can know it. This script rebuilds each held-out sequence from its seed (and checks it against the stored file),
then scores predictors that know the generator's rules, beside the first pose held still:

* **oracle sample**: the same rest pose and action, the visible variation kept, speed / amplitude / phase drawn
  again (M draws, mean L2): what a perfect generative model of this data scores when it draws real-looking
  discs;
* **central trajectory**: one sharp sequence drawn at the middle of the speed / amplitude / phase ranges: a
  deterministic generator that draws discs at the typical motion;
* **conditional mean**: the per-pixel mean of the M oracle samples (blurred maps, not discs): the least L2 any
  predictor can reach here.

Run: ``.venv/bin/python experiments/psgan_bounds.py OUT`` on a finished ``reenactor benchmark psgan -o OUT``
(about 20 s). docs/psgan.md quotes its output.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

import reenactor  # noqa: F401  (memory settings before torch, as the CLI)
from reenactor.data.actions import open_actions
from reenactor.evaluation import psgan as bench
from reenactor.evaluation.self_reenactment import prepare_clip
from reenactor.methods.psgan import points as pts
from reenactor.synthetic.actions import RANGES, animate, draw_variation

HIDDEN = ("speed", "amplitude", "phase")  # the variation the first pose does not show


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="a finished `reenactor benchmark psgan -o OUT` folder")
    ap.add_argument("--draws", type=int, default=16, help="oracle samples per held-out sequence")
    args = ap.parse_args()
    opts = bench.PSGANBenchmarkOptions(out_dir=args.out, progress=False)
    cfg = bench.effective_config("psgan", [])
    info = json.loads((args.out / "data/test/ACTIONS.json").read_text())
    test = bench._items(open_actions([args.out / "data/test"], log=lambda *_: None), cfg)
    store = prepare_clip(opts.clip, args.out, opts.size, False)
    rests = [
        r.framed(info["zoom"])
        for r in bench._rests(store, list(range(85, 120, 10)), opts.test_photo, opts.size)
    ]
    assert [r.source for r in rests] == info["rest_poses"], (
        "the held-out set was written from other rest poses"
    )
    rows: dict[str, list[float]] = {
        k: [] for k in ("static", "oracle sample", "central trajectory", "conditional mean")
    }
    per_action: dict[str, list[list[float]]] = {}
    count: dict[str, int] = {}
    for it in test:  # an action's files in the order they were written (sample k of the action)
        ai = info["actions"].index(it.sample.action)
        k = count[it.sample.action] = count.get(it.sample.action, -1) + 1
        rng = np.random.default_rng([info["seed"], ai, k])
        rest = rests[(k + ai) % len(rests)]
        var = draw_variation(rng, rest.size)

        def maps(v, action=it.sample.action, rest=rest):
            kp = animate(action, {"body": rest.body, "face": rest.face}, cfg.frames, rest.size, v)
            return pts.to_maps(kp["body"], "body", rest.size, cfg.size, cfg.radius)

        real = maps(var)
        np.testing.assert_array_equal(real, it.maps)  # the rebuilt sequence is the stored one
        draw = np.random.default_rng([77, ai, k])
        samples = np.stack(
            [
                maps(dataclasses.replace(var, **{h: float(draw.uniform(*RANGES[h])) for h in HIDDEN}))
                for _ in range(args.draws)
            ]
        )
        central = maps(dataclasses.replace(var, **{h: sum(RANGES[h]) / 2 for h in HIDDEN}))
        scores = [
            float(((np.repeat(real[:1], len(real), 0) - real) ** 2).mean()),
            float(((samples - real) ** 2).mean()),
            float(((central - real) ** 2).mean()),
            float(((samples.mean(0) - real) ** 2).mean()),
        ]
        for name, x in zip(rows, scores):
            rows[name].append(x)
        per_action.setdefault(it.sample.action, []).append(scores)
    acts = list(per_action)
    print(f"heatmap L2 on {len(test)} held-out sequences ({args.draws} oracle draws each)\n")
    print("| predictor | all | " + " | ".join(acts) + " |")
    print("| --- | ---: |" + " ---: |" * len(acts))
    for i, name in enumerate(rows):
        cells = " | ".join(f"{np.mean([s[i] for s in per_action[a]]):.5f}" for a in acts)
        print(f"| {name} | {np.mean(rows[name]):.5f} | {cells} |")


if __name__ == "__main__":
    main()
