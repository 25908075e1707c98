"""``reenactor benchmark psgan``: PSGAN's pose sequences on held-out action sequences (Yang et al. 2018,
"Pose Guided Human Video Generation", §4.2, Table 1), with an action classifier and a motion-amplitude check.

The paper's data (UCF101 + Weizmann, CK+) does not ship offline, so the protocol runs on **procedural** actions
(:mod:`reenactor.synthetic.actions`: six hand-written motions animated from real rest poses, labelled
procedural in every table). Three disjoint sets are written under ``OUT/data``:

* ``train``: rest poses from frames 0, 5, ..., 75 of the clip (carphone) and the Hopper portrait, variation
  seed ``seed``;
* ``test`` (held out): rest poses the generator never saw, frames 85, 95, ..., 115 of the clip and the
  astronaut photo (another person's proportions), with other variations (seed ``seed + 1000``);
* ``classifier``: frames 2, 12, ..., 72 and the Hopper portrait, other variations (seed ``seed + 2000``): the
  data of the action classifier, sequences the generator never saw.

Rows (each learned row a mean over ``repeats`` trainings, seeds ``seed ..``, with its sample sd):

* ``psgan``: the shipped ``configs/psgan/default.yaml``, what ``reenactor train --method psgan`` runs;
* ``psgan w/o GRU`` (``model.recurrent=none``): the paper's "w/o LSTM" ablation;
* ``psgan-L1`` (``model.lambda_gan=0``): "PSGAN trained with the L1-norm loss rather than adversarial loss"
  (§4.2: the paper's PSGAN-L1), eq. 3 alone;
* ``psgan alpha=0`` (``model.alpha=0``): plain, unweighted L1 in eq. 3 (the paper weights it with alpha 10 for
  actions); heatmap L2 rewards it for moving little, which the classifier and amplitude columns show;
* ``static``: the first pose repeated (no motion);
* ``class-mean motion`` (reference, ours): the training set's mean displacement of every joint for that
  action, scaled by the shoulder width and added to the first pose.

Columns: the paper's Table 1 measure, heatmap L2 (the mean squared difference of the generated and real
heatmaps, 18 maps x T frames x S x S; lower is better); the keypoint error of the decoded poses (pixels of the
data's frames, joints found in both); the share of generated sequences a small skeleton action classifier
(:class:`ActionClassifier`, trained on ``classifier``) labels with the action asked for; the motion amplitude
(mean displacement of every joint from the first pose) of the generated sequences over that of the real ones,
per action, both measured on the joint-frames the real sequence sees (:func:`amplitude`). Each generator gets
the real first pose's heatmaps and the action label, as in the paper.

What it shows and what not: that the generator learns six distinct procedural motions and carries them to
rest poses and a body it was not trained on. It says nothing about real human actions (UCF101-like data
must be brought by the user: ``reenactor extract`` per action folder, see docs/psgan.md).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..io.atomic import write_json, write_text
from ..pose import heatmaps

logger = logging.getLogger(__name__)

#: learned rows: name -> --set overrides on the shipped default config
VARIANTS: dict[str, list[str]] = {
    "psgan": [],
    "psgan w/o GRU": ["model.recurrent=none"],
    "psgan-L1": ["model.lambda_gan=0"],
    "psgan alpha=0": ["model.alpha=0"],
}
#: COCO-18 indices (in heatmap channel order) of the neck and the shoulders
NECK, RSHO, LSHO = 1, 2, 5


@dataclass
class PSGANBenchmarkOptions:
    clip: str = "carphone"  # sample name, video or clip folder: the rest poses' footage
    out_dir: Path = Path("runs/psgan_benchmark")
    train_photo: str | None = (
        "sample:hopper"  # a second body in the training set (None: the clip's frames only)
    )
    test_photo: str | None = "sample:astronaut"  # a held-out body (None: the clip's frames only)
    classifier_photo: str | None = "sample:hopper"  # a body in the classifier's data
    size: int = 128  # extraction size of the clip
    steps: int = 1000  # training steps of each learned row
    repeats: int = 1  # trainings per learned row (seeds seed .. seed + repeats - 1)
    seed: int = 0
    per_action: int = 128  # training sequences per action (synthetic.actions.PER_ACTION)
    test_per_action: int = 8  # held-out sequences per action
    classifier_per_action: int = 16  # classifier training sequences per action
    variants: tuple[str, ...] = tuple(VARIANTS)
    expressions: bool = False  # the expression variant: procedural CK+ expressions, configs/psgan/face.yaml
    overrides: list[str] = field(default_factory=list)  # --set overrides for every learned row
    device: str = "cpu"
    progress: bool = True


# ------------------------------------------------------------------------------------------ data
def _rests(store, frames: list[int], photo: str | None, size: int) -> list:
    from ..reference import load_reference
    from ..synthetic.actions import rest_pose_from_reference, rest_poses_from_clip

    rests = rest_poses_from_clip(store, frames)
    if photo:
        rests.append(rest_pose_from_reference(load_reference(photo, size)))
    return rests


def write_sets(opts: PSGANBenchmarkOptions, frames: int) -> dict[str, Path]:
    """The three procedural sets (module docstring) under ``OUT/data``; a set already written is reused
    (each is written under a temporary name and renamed)."""
    from ..evaluation.self_reenactment import prepare_clip
    from ..synthetic.actions import ACTIONS, EXPRESSIONS, write_action_data

    kinds = {"actions": tuple(EXPRESSIONS), "zoom": 1.0} if opts.expressions else {"actions": ACTIONS}

    root = opts.out_dir / "data"
    plan = {
        "train": (list(range(0, 80, 5)), opts.train_photo, opts.seed, opts.per_action),
        "test": (list(range(85, 120, 10)), opts.test_photo, opts.seed + 1000, opts.test_per_action),
        "classifier": (
            list(range(2, 80, 10)),
            opts.classifier_photo,
            opts.seed + 2000,
            opts.classifier_per_action,
        ),
    }
    out: dict[str, Path] = {}
    store = None
    for name, (idx, photo, seed, per) in plan.items():
        d = root / name
        out[name] = d
        if (d / "ACTIONS.json").exists():
            info = json.loads((d / "ACTIONS.json").read_text())
            if (info.get("seed"), info.get("per_action"), info.get("frames")) == (seed, per, frames):
                continue
            logger.info(
                f"[psgan benchmark] {d} was written with another seed, sequence count or length: writing it again"
            )
            shutil.rmtree(d)
        if store is None:
            store = prepare_clip(opts.clip, opts.out_dir, opts.size, opts.progress)
        idx = [i for i in idx if i < store.n_frames]
        tmp = root / f".{name}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        write_action_data(
            tmp, _rests(store, idx, photo, opts.size), per_action=per, frames=frames, seed=seed, **kinds
        )
        tmp.rename(d)
        logger.info(f"[psgan benchmark] wrote {name} set: {d}")
    return out


# ------------------------------------------------------------------------------------------ measures
def carried(kp: np.ndarray, points: str) -> np.ndarray:
    """The points a heatmap set carries: BODY_25 (..., 25, 3) -> COCO-18 (..., 18, 3); faces as they are."""
    k = np.asarray(kp, np.float32)
    return k[..., list(heatmaps.COCO18_FROM_BODY25), :] if points == "body" else k


def _frame_of(first: np.ndarray, points: str) -> tuple[np.ndarray, float]:
    """(centre, scale) of one carried pose (K, 3): the neck and the shoulder width for a body (its horizontal
    extent when a shoulder is missing), the mean and the larger extent of the seen points for a face."""
    seen = first[:, 2] > 0
    if not seen.any():
        return np.zeros(2, np.float32), 1.0
    xy = first[seen, :2]
    if points == "body":
        centre = first[NECK, :2] if first[NECK, 2] > 0 else xy.mean(0)
        w = (
            float(np.linalg.norm(first[RSHO, :2] - first[LSHO, :2]))
            if (first[[RSHO, LSHO], 2] > 0).all()
            else 0.0
        )
        return centre, w if w > 1 else max(float(np.ptp(xy[:, 0])), 1.0)
    return xy.mean(0), max(float(np.ptp(xy, 0).max()), 1.0)


def normalized(kp: np.ndarray, points: str = "body") -> np.ndarray:
    """(T, 25 | 68, 3) -> (T, K, 3) carried points about the first frame's centre, in its scale
    (:func:`_frame_of`); confidence -> seen (1 / 0)."""
    k = carried(kp, points).copy()
    centre, scale = _frame_of(k[0], points)
    seen = k[..., 2] > 0
    k[..., :2] = np.where(seen[..., None], (k[..., :2] - centre) / scale, 0)
    k[..., 2] = seen
    return k


def seen(kp: np.ndarray) -> np.ndarray:
    """(T - 1, K): the joints a sequence (T, K, 3) sees in frame t (t >= 1) and in its first frame."""
    k = np.asarray(kp)
    return (k[1:, :, 2] > 0) & (k[:1, :, 2] > 0)


def amplitude(kp: np.ndarray, over: np.ndarray | None = None) -> float:
    """Mean displacement of the joints from the first frame (pixels); ``kp`` (T, K, 3). By default over the
    joint-frames the sequence itself sees (:func:`seen`). ``over`` (T - 1, K): over these joint-frames instead,
    a joint the sequence does not see there counting as not moved (0). The benchmark measures a generated
    sequence over the joint-frames its real counterpart (same first pose) sees: a joint the real motion
    takes out of the frame (a hand waved above the top edge) has no position to compare with, while the
    generator may still draw one at the edge; and a joint the generator loses does not move."""
    k = np.asarray(kp, np.float32)
    own = seen(k)
    d = np.where(own, np.linalg.norm(k[1:, :, :2] - k[:1, :, :2], axis=-1), 0.0)
    ok = own if over is None else np.asarray(over, bool)
    return float(d[ok].mean()) if ok.any() else 0.0


def keypoint_error(pred: np.ndarray, real: np.ndarray) -> float:
    ok = (pred[..., 2] > 0) & (real[..., 2] > 0)
    if not ok.any():
        return float("nan")
    return float(np.linalg.norm(pred[..., :2] - real[..., :2], axis=-1)[ok].mean())


class ActionClassifier(nn.Module):
    """A small skeleton action classifier: (B, T, K, 3) normalized points (:func:`normalized`) -> (B, n)
    logits; two temporal convolutions over the points' positions, visibility and velocities, then a mean and
    max over time."""

    def __init__(self, n: int, k: int = heatmaps.N_COCO, hidden: int = 64, points: str = "body"):
        super().__init__()
        self.points = points  # what it reads: body or face points (:func:`normalized`)
        self.net = nn.Sequential(
            nn.Conv1d(k * 5, hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv1d(hidden, hidden, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Linear(2 * hidden, n)

    @staticmethod
    def features(k: torch.Tensor) -> torch.Tensor:
        vel = torch.diff(k[..., :2], dim=1, prepend=k[:, :1, :, :2])
        return torch.cat([k, vel], -1).flatten(2).transpose(1, 2)  # (B, 5K, T)

    def forward(self, k: torch.Tensor) -> torch.Tensor:
        h = self.net(self.features(k))
        return self.head(torch.cat([h.mean(-1), h.amax(-1)], 1))


def train_classifier(
    seqs: list[np.ndarray],
    labels: list[int],
    n: int,
    seed: int = 0,
    epochs: int = 400,
    points: str = "body",
) -> ActionClassifier:
    """Fit :class:`ActionClassifier` on (T, 25 | 68, 3) sequences (decoded like the generated ones)."""
    torch.manual_seed(seed)
    x = torch.from_numpy(np.stack([normalized(s, points) for s in seqs]))
    y = torch.tensor(labels)
    clf = ActionClassifier(n, x.shape[2], points=points)
    opt = torch.optim.Adam(clf.parameters(), 3e-3, weight_decay=1e-4)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        noise = 0.02 * torch.randn(x.shape, generator=g)
        noise[..., 2] = 0
        loss = nn.functional.cross_entropy(clf(x + noise * x[..., 2:3]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return clf.eval()


@torch.no_grad()
def classify(clf: ActionClassifier, seqs: list[np.ndarray]) -> np.ndarray:
    return clf(torch.from_numpy(np.stack([normalized(s, clf.points) for s in seqs]))).argmax(1).numpy()


# ------------------------------------------------------------------------------------------ protocol
@dataclass
class Item:
    """One held-out / training sequence as the benchmark sees it: ``maps`` (T, K, S, S) real heatmaps,
    ``kp`` (T, 25 | 68, 3) decoded back from them, ``box`` the face box (face points) or None."""

    sample: Any
    maps: np.ndarray
    kp: np.ndarray
    label: int
    box: tuple[float, float, float] | None


def _items(data, cfg) -> list[Item]:
    """Every sample's first T poses as heatmaps and decoded back (what a generator's output goes through)."""
    from ..methods.psgan import points as pts

    out = []
    for s in data.samples:
        kp = s.keypoints[cfg.points][: cfg.frames]
        box = pts.face_box(kp[0]) if cfg.points == "face" else None
        maps = pts.to_maps(kp, cfg.points, s.size, cfg.size, cfg.radius, box)
        back = pts.from_maps(maps, cfg.points, s.size, cfg.min_peak, box)
        out.append(Item(s, maps, back, data.actions.index(s.action), box))
    return out


def class_mean_motion(
    train: list[tuple[np.ndarray, int]], frames: int, points: str = "body"
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """(keypoints, label) pairs -> per label: (T, K, 2) mean displacement from the first pose in its scale
    (:func:`_frame_of`), and (T, K) how many sequences saw each point."""
    acc: dict[int, list[np.ndarray]] = {}
    for kp, lab in train:
        acc.setdefault(lab, []).append(normalized(kp, points))
    out = {}
    for lab, ks in acc.items():
        k = np.stack(ks)  # (N, T, K, 3)
        ok = (k[..., 2] > 0) & (k[:, :1, :, 2] > 0)
        d = np.where(ok[..., None], k[..., :2] - k[:, :1, :, :2], 0).sum(0)
        cnt = ok.sum(0)
        out[lab] = (d / np.maximum(cnt, 1)[..., None], cnt)
    return out


def apply_mean_motion(
    kp0: np.ndarray, motion: tuple[np.ndarray, np.ndarray], frames: int, points: str = "body"
) -> np.ndarray:
    """First pose (25 | 68, 3) + the class-mean motion -> (T, 25 | 68, 3)."""
    disp, _ = motion
    kp0 = np.asarray(kp0, np.float32)
    _, scale = _frame_of(carried(kp0, points), points)
    out = np.repeat(kp0[None], frames, 0)
    idx = list(heatmaps.COCO18_FROM_BODY25) if points == "body" else list(range(len(kp0)))
    out[:, idx, :2] += scale * disp[:frames]
    return out


def _score(gen_maps, gen_kp, test: list[Item], clf) -> dict[str, Any]:
    l2 = [float(((g - it.maps) ** 2).mean()) for g, it in zip(gen_maps, test)]
    kpe = [keypoint_error(g, it.kp) for g, it in zip(gen_kp, test)]
    labels = np.array([it.label for it in test])
    pred = classify(clf, gen_kp)
    per: dict[int, list[tuple[float, float]]] = {}
    for g, it in zip(gen_kp, test):
        per.setdefault(it.label, []).append((amplitude(g, over=seen(it.kp)), amplitude(it.kp)))
    ratio = {
        lab: float(np.mean([a for a, _ in v]) / max(np.mean([b for _, b in v]), 1e-9))
        for lab, v in per.items()
    }
    return {
        "heatmap_l2": float(np.mean(l2)),
        "keypoint_error_px": float(np.nanmean(kpe)),
        "classifier_accuracy": float((pred == labels).mean()),
        "amplitude_ratio": ratio,
        "per_action_l2": {
            int(lab): float(np.mean([x for x, it in zip(l2, test) if it.label == lab])) for lab in set(labels)
        },
    }


def effective_config(method: str, overrides: list[str], config: str | None = None) -> Any:
    """The typed model config of ``config`` (a file or shipped name; default: ``method``'s shipped default)
    with ``overrides`` (``--set`` style): the sizes a benchmark's trained runs have."""
    from ..config import load_yaml, method_defaults
    from ..methods import get_method
    from ..train.config import build_run_config, method_config

    base = load_yaml(config) if config else method_defaults(method)
    base["method"] = method
    cls = get_method(method)
    return method_config(cls, build_run_config(base, list(overrides)).model)


def run(opts: PSGANBenchmarkOptions) -> list[dict[str, Any]]:
    """Run the protocol (module docstring); returns the rows, also written to ``OUT/results.json`` and
    ``OUT/table.md``."""
    from ..data.actions import open_actions
    from ..evaluation.self_reenactment import steps_run
    from ..methods.psgan import points as pts
    from ..modelfile import open_model

    t_start = time.perf_counter()
    out = opts.out_dir
    out.mkdir(parents=True, exist_ok=True)
    config = "psgan/face" if opts.expressions else None
    cfg = effective_config("psgan", opts.overrides, config)
    frames, points = cfg.frames, cfg.points
    sets = write_sets(opts, frames)
    quiet = lambda *_: None  # noqa: E731
    train_data = open_actions([sets["train"]], log=quiet)
    test_data = open_actions([sets["test"]], log=quiet)
    clf_data = open_actions([sets["classifier"]], log=quiet)
    if train_data.actions != test_data.actions or train_data.actions != clf_data.actions:
        raise ValueError("the three sets must have the same actions")
    actions = train_data.actions
    test, train, clf_set = _items(test_data, cfg), _items(train_data, cfg), _items(clf_data, cfg)
    clf = train_classifier(
        [it.kp for it in clf_set], [it.label for it in clf_set], len(actions), opts.seed, points=points
    )
    clf_real = float((classify(clf, [it.kp for it in test]) == [it.label for it in test]).mean())
    logger.info(f"[psgan benchmark] action classifier: {clf_real:.0%} of the real held-out sequences")

    def decoded(maps: list[np.ndarray], min_peak: float, smooth: str) -> list[np.ndarray]:
        """Every row's maps decode alike, as ``poses generate`` decodes a generated sequence, filtered with the
        benchmark's ``model.smooth`` (the shipped default unless --set)."""
        return [
            pts.decode_sequence(m, points, it.sample.size, min_peak, it.box, smooth)
            for m, it in zip(maps, test)
        ]

    rows: list[dict[str, Any]] = []
    static_maps = [np.repeat(it.maps[:1], frames, 0) for it in test]
    rows.append(
        {"method": "static", **_score(static_maps, decoded(static_maps, cfg.min_peak, cfg.smooth), test, clf)}
    )
    motion = class_mean_motion([(it.kp, it.label) for it in train], frames, points)
    mm_maps = [
        pts.to_maps(
            apply_mean_motion(it.kp[0], motion[it.label], frames, points),
            points,
            it.sample.size,
            cfg.size,
            cfg.radius,
            it.box,
        )
        for it in test
    ]
    rows.append(
        {
            "method": "class-mean motion (ref.)",
            **_score(mm_maps, decoded(mm_maps, cfg.min_peak, cfg.smooth), test, clf),
        }
    )

    for name in opts.variants:
        runs = []
        for r in range(opts.repeats):
            seed = opts.seed + r
            run_dir = out / "runs" / f"{name.replace(' ', '_').replace('/', '').replace('=', '')}_seed{seed}"
            model, info = steps_run(
                "psgan",
                train_data,
                run_dir,
                opts.steps,
                [*VARIANTS[name], *opts.overrides],
                cfg.size,
                seed,
                opts.device,
                opts.progress,
                config,
                data_key=json.loads((sets["train"] / "ACTIONS.json").read_text()),
            )
            g = open_model(model, device=opts.device).synthesizer
            gen_maps = [
                g.heatmap_sequence(it.maps[0], g.actions.index(it.sample.action), frames) for it in test
            ]
            runs.append(
                {
                    **_score(gen_maps, decoded(gen_maps, g.cfg.min_peak, cfg.smooth), test, clf),
                    **info,
                    "seed": seed,
                }
            )
        rows.append(_mean_row(name, runs))

    for row in rows:
        row["amplitude_ratio"] = {actions[k]: v for k, v in row["amplitude_ratio"].items()}
        row["per_action_l2"] = {actions[k]: v for k, v in row["per_action_l2"].items()}
    meta = {
        "protocol": "reenactor benchmark psgan (procedural actions; reenactor.evaluation.psgan)",
        "procedural": True,
        "points": points,
        "config": config or "psgan/default",
        "actions": actions,
        "frames": frames,
        "heatmap_size": cfg.size,
        "sets": {k: str(v) for k, v in sets.items()},
        "sequences": {"train": len(train), "test": len(test), "classifier": len(clf_set)},
        "classifier_on_real_test": clf_real,
        "steps": opts.steps,
        "repeats": opts.repeats,
        "seconds": time.perf_counter() - t_start,
    }
    write_json(out / "results.json", {"meta": meta, "rows": rows})
    table = markdown_table(rows, meta)
    write_text(out / "table.md", table)
    logger.info("\n" + table)
    return rows


def _mean_row(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {"method": name, "runs": runs}
    for k in ("heatmap_l2", "keypoint_error_px", "classifier_accuracy", "steps", "seconds"):
        v = [r[k] for r in runs]
        row[k] = float(np.mean(v))
        if len(v) > 1:
            row[k + "_sd"] = float(np.std(v, ddof=1))
    for k in ("amplitude_ratio", "per_action_l2"):
        row[k] = {lab: float(np.mean([r[k][lab] for r in runs])) for lab in runs[0][k]}
    return row


def _per_action(rows: list[dict[str, Any]], acts: list[str], key: str, title: str, fmt: str) -> list[str]:
    lines = ["", f"{title}:", "", "| method | " + " | ".join(acts) + " |", "| --- |" + " ---: |" * len(acts)]
    for r in rows:
        lines.append(f"| {r['method']} | " + " | ".join(fmt.format(r[key][a]) for a in acts) + " |")
    return lines


def markdown_table(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    acts = meta["actions"]
    lines = [
        f"# psgan on held-out procedural actions ({meta['sequences']['test']} sequences of {len(acts)} actions, "
        f"T = {meta['frames']}, {meta['heatmap_size']}x{meta['heatmap_size']} heatmaps; PROCEDURAL data)",
        "",
        f"action classifier on the real held-out sequences: {meta['classifier_on_real_test']:.0%}",
        "",
        "| method | heatmap L2 | keypoint error px | classifier accuracy | amplitude ratio (min - max over actions) | steps |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        sd = f" ± {r['heatmap_l2_sd']:.5f}" if "heatmap_l2_sd" in r else ""
        amp = list(r["amplitude_ratio"].values())
        lines.append(
            f"| {r['method']} | {r['heatmap_l2']:.5f}{sd} | {r['keypoint_error_px']:.2f} | "
            f"{r['classifier_accuracy']:.0%} | {min(amp):.2f} - {max(amp):.2f} | "
            f"{int(r['steps']) if 'steps' in r else '-'} |"
        )
    lines += _per_action(rows, acts, "per_action_l2", "heatmap L2 per action", "{:.5f}")
    lines += _per_action(
        rows, acts, "amplitude_ratio", "amplitude ratio (generated / real) per action", "{:.2f}"
    )
    by = {r["method"]: r for r in rows}
    if "psgan" in by:
        p = by["psgan"]
        others = [m for m in by if m not in ("psgan", "class-mean motion (ref.)")]
        lowest = all(p["heatmap_l2"] < by[m]["heatmap_l2"] for m in others)
        amp = list(p["amplitude_ratio"].values())
        lines += [
            "",
            f"psgan heatmap L2 {p['heatmap_l2']:.5f}: {'lowest' if lowest else 'NOT the lowest'} of "
            + ", ".join(others),
            f"psgan classifier accuracy {p['classifier_accuracy']:.0%} (target >= 80%); amplitude ratio "
            f"{min(amp):.2f} - {max(amp):.2f} (target 0.5 - 1.5)",
        ]
    return "\n".join(lines) + "\n"
