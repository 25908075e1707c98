"""Can the upper_body face refiner learn to move a face to warped landmarks, on one short target video?

``frame.face_refine`` corrects the generated face in the landmark crop's square from the landmark crop alone; with
``frame.face_warp`` it also learns on real faces: the unwarped face square in, the face warped by a random
expression (:mod:`reenactor.face.expression_warp`) out, its warped landmarks as the condition. This script trains
that part alone, on face squares of a clip's first ``--train-frames`` frames (a bank of ``--warps`` random warps
per frame plus each frame unwarped), and measures on the frames after them how far the refined face moves with
the landmarks: per mode, the projection of (refined with warped landmarks - refined with the frame's own) on
(the real warped face - the real face), divided by the latter's squared size (1 = moves exactly as the real warp,
0 = ignores the landmarks). Forms compared in one run: ``residual`` (an added correction only: the refiner's flow
channels held at zero) and ``flow`` (the shipped form: resample along a flow, then add), each with and without
jittering the squares (``jitter_squares``).

Run: ``.venv/bin/python experiments/upper_body_refiner.py --clip CLIP_DIR`` (a clip of 120 frames at 128 px, e.g.
``reenactor extract sample:carphone -o CLIP --size 128``; ~8 min per form on 2 cores at the default 2000 steps).
The headline (last line) is the mean held-out follow of each form.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time

import numpy as np
import torch
from tqdm import tqdm

from reenactor.config import from_dict, load_yaml
from reenactor.errors import ReenactorError
from reenactor.face.expression_warp import ExpressionField, draw_expression
from reenactor.methods.upper_body.config import UpperBodyConfig
from reenactor.methods.upper_body.dataset import UpperBodyDataset
from reenactor.methods.upper_body.images import face_centre, landmark_crops
from reenactor.methods.upper_body.method import build_face_refiner, crop_squares, jitter_squares, refine_patch
from reenactor.nn.convert import to_unit

#: single-mode warps the follow is measured on (fractions of the inter-ocular distance)
PROBES = {
    "jaw +0.25": {"jaw": 0.25},
    "smile +0.25": {"smile": 0.25},
    "smile -0.12": {"smile": -0.12},
    "brow +0.10": {"brow": 0.10},
}


class ZeroFlow(torch.nn.Module):
    """A refiner whose flow channels are held at zero: the ``residual`` form."""

    def __init__(self, g: torch.nn.Module):
        super().__init__()
        self.g = g

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.g(x)
        return torch.cat([torch.zeros_like(out[:, :2]), out[:, 2:]], 1)


class Squares:
    """(source face, target face, landmark crop) squares of a clip's frames, the target warped by ``amp``."""

    def __init__(self, ds: UpperBodyDataset, crop: int, sigma: float):
        self.ds, self.crop, self.sigma = ds, crop, sigma

    def __call__(self, items: list[tuple[int, dict[str, float] | None]]) -> tuple[torch.Tensor, ...]:
        src, tgt, faces, centres = [], [], [], []
        for t, amp in items:
            img, face = self.ds._image(0, t), self.ds.kp[0]["face"][t]
            warped, moved = img, face
            if amp is not None:
                field = ExpressionField(face, amp, self.sigma)
                warped, moved = field.warp_image(img), field.move_points(face)
            src.append(to_unit(img))
            tgt.append(to_unit(warped))
            faces.append(moved)
            centres.append(face_centre(self.ds.kp[0]["body"][t], self.ds.offset, self.ds.fallback))
        c = torch.from_numpy(np.asarray(centres, np.float32))
        s, g = (torch.from_numpy(np.stack(a)) for a in (src, tgt))
        lms = landmark_crops(torch.from_numpy(np.stack(faces)), self.crop)
        return crop_squares(s, c, self.crop), crop_squares(g, c, self.crop), lms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--clip", required=True, help="clip folder of the target person (`reenactor extract ... --size 128`)"
    )
    ap.add_argument(
        "--config",
        default="configs/upper_body/small.yaml",
        help="upper_body config (its landmark crop, expression warp ranges and refiner width)",
    )
    ap.add_argument("--ngf", type=int, default=16, help="refiner width (frame.face_refine)")
    ap.add_argument(
        "--train-frames", type=int, default=80, help="the first frames train, the rest are measured"
    )
    ap.add_argument(
        "--warps", type=int, default=40, help="random expression warps per training frame in the bank"
    )
    ap.add_argument(
        "--steps", type=int, default=2000, help="optimizer steps per form (Adam, lr 1e-3, batch 16)"
    )
    ap.add_argument(
        "--forms",
        nargs="+",
        default=["residual", "residual+jitter", "flow", "flow+jitter"],
        choices=["residual", "residual+jitter", "flow", "flow+jitter"],
        help="refiner forms to compare",
    )
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    cfg = from_dict(UpperBodyConfig, load_yaml(args.config).get("model", {}))
    cfg = dataclasses.replace(cfg, frame=dataclasses.replace(cfg.frame, face_refine=args.ngf))
    ds = UpperBodyDataset(cfg, [args.clip])
    n = ds.stores[0].n_frames
    if not 2 <= args.train_frames < n:
        raise ReenactorError(f"--train-frames {args.train_frames} leaves no held-out frame of the clip's {n}")
    squares = Squares(ds, cfg.landmark.crop, cfg.expression.sigma)
    rng = np.random.RandomState(args.seed + 1)
    always = dataclasses.replace(cfg.expression, prob=1.0)
    items = [(t, None) for t in range(args.train_frames)]
    items += [(t, draw_expression(always, rng)) for t in range(args.train_frames) for _ in range(args.warps)]
    t0 = time.perf_counter()
    src, tgt, lm = squares(items)
    print(
        f"bank: {len(items)} face squares of frames 0-{args.train_frames - 1} ({time.perf_counter() - t0:.0f} s)"
    )
    held = range(args.train_frames, n)
    base = squares([(t, None) for t in held])
    probes = {k: squares([(t, a) for t in held]) for k, a in PROBES.items()}

    rows = []
    for form in args.forms:
        torch.manual_seed(args.seed)
        g = build_face_refiner(cfg)
        if form.startswith("residual"):  # the flow channels held at zero: an added correction only
            g = ZeroFlow(g)
        opt = torch.optim.Adam(g.parameters(), 1e-3, betas=(0.5, 0.999))
        for _ in tqdm(range(args.steps), desc=form, unit="step"):
            i = torch.randint(len(src), (16,))
            s, t, m = src[i], tgt[i], lm[i]
            if form.endswith("jitter"):
                m, s, t = jitter_squares(m, s, t)
            loss = (refine_patch(g, m, s) - t).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        g.eval()
        row = {"form": form}
        with torch.no_grad():
            own = refine_patch(g, base[2], base[0])
            for k, (s, t, m) in probes.items():
                d_real, d_gen = t - base[1], refine_patch(g, m, s) - own
                row[k] = float((d_gen * d_real).sum() / (d_real * d_real).sum())
        rows.append(row)
    print(
        f"\nheld-out follow (frames {args.train_frames}-{n - 1}; 1 = moves as the real warp, 0 = ignores it)"
    )
    print("| form | " + " | ".join(PROBES) + " | mean |")
    print("|---|" + "---:|" * (len(PROBES) + 1))
    for r in rows:
        vals = [r[k] for k in PROBES]
        print(f"| {r['form']} | " + " | ".join(f"{v:.3f}" for v in vals) + f" | {np.mean(vals):.3f} |")
    print(
        "mean held-out follow: "
        + ", ".join(f"{r['form']} {np.mean([r[k] for k in PROBES]):.3f}" for r in rows)
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the library logs its progress
    try:
        main()
    except ReenactorError as e:  # a missing or wrong clip / config: the one message, no traceback
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
