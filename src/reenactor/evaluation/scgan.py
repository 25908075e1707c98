"""``reenactor benchmark scgan``: SCGAN's training alternatives (Yang et al. 2018, §4.4, Table 5) on held-out
frames of real footage.

The clip (carphone at 128 px, frames at the model's 64 px) is split as the self-reenactment protocol splits it:
frames 0-79 train, frames 80-119 test. Every row gets the first test frame as its image I_t0 and renders the
later test frames; SSIM (the paper's measure), MSE and PSNR against the real frames, and SSIM inside the real
frame's person mask (background zeroed in both: carphone's background moves past the car window, which no
pose predicts):

* ``static``: I_t0 repeated (the paper's lower bound);
* ``SCGAN-gen`` (``model.train_with=generated``): G1 alone, trained and driven by *generated* poses;
* ``SCGAN`` (the shipped default, ``train_with=both``): G1 and G2 with the shared pose layer and D_which;
  inference G1, driven by generated poses;
* ``SCGAN-gt`` (``train_with=real``): G1 alone, trained and driven by the real poses;
* ``SCGAN, real poses`` (reference): the SCGAN row's G1 driven by the real poses.

"Generated poses": what PSGAN hands SCGAN at inference cannot be paired with real frames, and how the paper
paired them in training is unstated. Here a generated pose is the stand-in SCGAN trains with
(``model.pose_noise`` / ``model.pose_drop``: the real pose jittered, some joints dropped); at test time it is
drawn once with a fixed seed, the same for every row. Each learned row trains ``steps`` steps (the same for
all) from the shipped ``configs/scgan/default.yaml``.

What it shows and what not: the ordering of the alternatives for one person in one video, whose frames the
models trained on (a talking man: small motions, so ``static`` is a strong floor). Nothing about other people.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..io.atomic import write_json, write_text
from ..io.video import write_contact_sheet

logger = logging.getLogger(__name__)

#: learned rows: name -> train_with
ALTERNATIVES: dict[str, str] = {"SCGAN-gen": "generated", "SCGAN": "both", "SCGAN-gt": "real"}


@dataclass
class SCGANBenchmarkOptions:
    clip: str = "carphone"  # sample name, video or clip folder
    out_dir: Path = Path("runs/scgan_benchmark")
    size: int = 128  # extraction size of the clip
    train_frames: int = 80
    test_frames: int = 40
    steps: int = 1000  # training steps of each learned row (the table in docs/psgan.md)
    seed: int = 0
    overrides: list[str] = field(default_factory=list)  # --set overrides for every learned row
    device: str = "cpu"
    progress: bool = True


def generated_poses(body: np.ndarray, noise: float, drop: float, seed: int) -> np.ndarray:
    """(N, 25, 3) real poses -> the generated-pose stand-in of training (scgan's ``SCGANPairs``): positions
    jittered by ``noise`` pixels (std), a ``drop`` share of the joints missing; seeded."""
    rng = np.random.default_rng(seed)
    out = np.array(body, np.float32)
    out[..., :2] += rng.normal(0.0, noise, out[..., :2].shape).astype(np.float32)
    out[rng.random(out.shape[:2]) < drop, 2] = 0
    return out


def run(opts: SCGANBenchmarkOptions) -> list[dict[str, Any]]:
    """Run the protocol (module docstring); rows also written to ``OUT/results.json`` and ``OUT/table.md``."""
    import cv2

    from ..data.clips import open_clips
    from ..modelfile import open_model
    from .psgan import effective_config
    from .self_reenactment import frame_metrics, prepare_clip, split, steps_run

    t0 = time.perf_counter()
    out = opts.out_dir
    out.mkdir(parents=True, exist_ok=True)
    store = prepare_clip(opts.clip, out, opts.size, opts.progress)
    train_dir, test_dir = out / "train", out / "test"
    from ..data.clipstore import ClipStore

    # the split of an earlier run is reused when its parts have these frame counts
    def stored(d: Path, n: int) -> ClipStore | None:
        """The split part an earlier run left in ``d``, when it has ``n`` frames."""
        if not (d / "manifest.json").exists():
            return None
        part = ClipStore.open(d)
        return part if part.n_frames == n else None

    test = stored(test_dir, opts.test_frames)
    if test is None or stored(train_dir, opts.train_frames) is None:
        _, test = split(store, out, opts.train_frames, opts.test_frames)
    model_cfg = effective_config("scgan", opts.overrides)
    s = model_cfg.size
    frames = test.load("frames")
    real = [cv2.resize(np.asarray(f), (s, s), interpolation=cv2.INTER_AREA) for f in frames]
    body = np.array(test.load("body"), np.float32)
    body[..., :2] = (body[..., :2] + 0.5) * (s / np.array(test.size[::-1], np.float32)) - 0.5
    gen_body = generated_poses(body, model_cfg.pose_noise, model_cfg.pose_drop, opts.seed)
    image, truth = real[0], real[1:]
    masks = [cv2.resize(np.asarray(m), (s, s), interpolation=cv2.INTER_AREA) for m in test.load("mask")][1:]

    def metrics(pred: list[np.ndarray]) -> dict[str, float]:
        from ..metrics.image import masked_ssim

        return {
            **frame_metrics(pred, truth),
            "masked_ssim": float(np.mean([masked_ssim(p, r, m) for p, r, m in zip(pred, truth, masks)])),
        }

    rows = [{"method": "static", "pose": "-", **metrics([image] * len(truth))}]
    outputs: dict[str, list[np.ndarray]] = {"static": [image] * len(truth)}

    def render(model: Path, poses: np.ndarray) -> list[np.ndarray]:
        syn = open_model(model, device=opts.device).synthesizer
        syn.set_reference(SimpleNamespace(image=image))
        return [syn.step({"body": p}) for p in poses[1:]]

    for name, mode in ALTERNATIVES.items():
        run_dir = out / "runs" / name
        model, info = steps_run(
            "scgan",
            open_clips([train_dir], log=lambda *_: None),
            run_dir,
            opts.steps,
            [f"model.train_with={mode}", *opts.overrides],
            s,
            opts.seed,
            opts.device,
            opts.progress,
            data_key={"clip": str(opts.clip), "size": opts.size, "train_frames": opts.train_frames},
        )
        poses = body if mode == "real" else gen_body
        outputs[name] = render(model, poses)
        rows.append(
            {
                "method": name,
                "pose": "real" if mode == "real" else "generated",
                **metrics(outputs[name]),
                **info,
            }
        )
        if mode == "both":
            outputs[name + ", real poses"] = render(model, body)
            rows.append(
                {
                    "method": name + ", real poses (ref.)",
                    "pose": "real",
                    **metrics(outputs[name + ", real poses"]),
                    **info,
                }
            )
    meta = {
        "protocol": "reenactor benchmark scgan (reenactor.evaluation.scgan)",
        "clip": str(store.root),
        "train_frames": opts.train_frames,
        "test_frames": opts.test_frames,
        "size": s,
        "steps": opts.steps,
        "seconds": time.perf_counter() - t0,
    }
    write_json(out / "results.json", {"meta": meta, "rows": rows})
    write_contact_sheet(out / "frames.png", [truth, *outputs.values()])
    table = markdown_table(rows, meta)
    write_text(out / "table.md", table)
    logger.info("\n" + table)
    return rows


def markdown_table(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        f"# SCGAN training alternatives (Table 5 analogue): {meta['clip']}, frames "
        f"0-{meta['train_frames'] - 1} train, the first test frame as I_t0, the next "
        f"{meta['test_frames'] - 1} rendered at {meta['size']}x{meta['size']}",
        "",
        "| method | driven by | SSIM | mask-SSIM | MSE | PSNR | steps |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['pose']} | {r['ssim']:.3f} | {r['masked_ssim']:.3f} | {r['mse']:.1f} | "
            f"{r['psnr']:.2f} | {r.get('steps', '-')} |"
        )
    by = {r["method"]: r["ssim"] for r in rows}
    if all(k in by for k in ("static", *ALTERNATIVES)):
        order = by["static"] < by["SCGAN-gen"] <= by["SCGAN"] <= by["SCGAN-gt"]
        lines += [
            "",
            f"static < SCGAN-gen <= SCGAN <= SCGAN-gt (SSIM): {'holds' if order else 'does NOT hold'} "
            f"({by['static']:.3f}, {by['SCGAN-gen']:.3f}, {by['SCGAN']:.3f}, {by['SCGAN-gt']:.3f})",
        ]
    return "\n".join(lines) + "\n"
