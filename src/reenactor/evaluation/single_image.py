"""``reenactor benchmark single-image``: one frame of a clip as the target photo, the clip's next frames as the
driver, the real frames as the answer.

The self-reenactment protocol of the single-image papers (Gafni et al. 2021, single-shot dance reenactment, Table 1;
REMOT's reconstruction test), on footage we have: carphone at 128 x 128, frame 80 as the reference, frames
81-119 driving (their own poses, through the user's default normalization onto the reference: ``auto`` =
``first_frame``), the real frames 81-119 as ground truth. Methods:

* ``hold``: the reference frame repeated (no motion at all: the floor any method must beat on pose accuracy);
* every registered *reference* method (``pose_warp`` now; ``single_shot`` and ``remot`` when they exist,
  given a trained model with ``--model METHOD=FILE``).

Columns: MSE (RGB 0-255), SSIM, PSNR over the whole frame; SSIM and PSNR inside the real frame's person mask
(background zeroed in both); pose accuracy of the output (MediaPipe re-extracts the generated frames; mean
body-joint error in pixels and PCK@0.05 of the body height against the real frames' keypoints); dlib face
identity distance of the generated faces to the reference frame's face (< 0.6: usually the same person) and the
share of frames where a face is found. Writes ``table.md``, ``results.json`` and ``side_by_side.mp4``
(real | hold | each method).

What it shows and what it does not: the target is the driver himself, one frame apart, so the pose change
between reference and driving frames is small (a man talking in a car). It measures how faithfully a method
moves one photo along real, small motions; it says nothing about unseen people or large pose changes.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.clipstore import ClipStore
from ..errors import InputError

logger = logging.getLogger(__name__)


@dataclass
class SingleImageOptions:
    clip: str = "carphone"  # sample name, video path or clip folder
    out_dir: Path = Path("runs/single_image")
    reference_frame: int = 80
    first_driving: int = 81  # driving frames first_driving .. the clip's end
    size: int = 128
    methods: tuple[str, ...] = ("hold", "pose_warp")
    models: dict[str, str] = field(
        default_factory=dict
    )  # method -> trained model file (learned reference methods)
    normalization: str = "auto"
    device: str = "cpu"
    progress: bool = True
    pose: bool = True  # re-extract the generated frames' poses
    identity: bool = True  # dlib face identity distance to the reference


def _metrics(pred: list[np.ndarray], real: list[np.ndarray], masks: list[np.ndarray]) -> dict[str, float]:
    from ..metrics import psnr, ssim
    from ..metrics.image import masked_psnr, masked_ssim, mse

    return {
        "mse": float(np.mean([mse(p, r) for p, r in zip(pred, real)])),
        "ssim": float(np.mean([ssim(p, r) for p, r in zip(pred, real)])),
        "psnr": float(np.mean([psnr(p, r) for p, r in zip(pred, real)])),
        "masked_ssim": float(np.mean([masked_ssim(p, r, m) for p, r, m in zip(pred, real, masks)])),
        "masked_psnr": float(np.mean([masked_psnr(p, r, m) for p, r, m in zip(pred, real, masks)])),
    }


def _pose_accuracy(pred: list[np.ndarray], ref_kp: dict[str, np.ndarray]) -> dict[str, float]:
    from ..metrics.pose import PoseAccumulator

    acc = PoseAccumulator()
    try:
        for f in pred:
            acc.update(f)
        r = acc.result(ref_kp)
    finally:
        acc.close()
    return {
        "pose_error_px": r["body"]["mean_px_error"],
        "pose_pck": r["body"]["pck"],
        "pose_detected": r["body"]["detected"],
    }


def _identity(pred: list[np.ndarray], reference_png: Path) -> dict[str, float]:
    from ..metrics.identity import IdentityAccumulator

    acc = IdentityAccumulator(reference_png)
    for f in pred:
        acc.update(f)
    r = acc.result()
    return {"identity_distance": r["mean_distance"], "face_found": r["face_detected"]}


def run(opts: SingleImageOptions) -> list[dict[str, Any]]:
    """Run the protocol; returns one row per method (also written to ``out_dir``)."""
    from ..io.atomic import write_json, write_text
    from ..io.video import VideoWriter, write_image
    from ..methods import get_method
    from ..methods.base import REFERENCE
    from ..modelfile import open_model
    from .self_reenactment import prepare_clip

    out = Path(opts.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clip = prepare_clip(opts.clip, out, opts.size, opts.progress)
    n = clip.n_frames
    if not 0 <= opts.reference_frame < n or not 0 <= opts.first_driving < n:
        raise InputError(
            f"reference frame {opts.reference_frame} / first driving frame {opts.first_driving} lie "
            f"outside the clip ({n} frames)",
            clip.root,
            "pass --reference-frame / --first-driving inside it",
        )
    ref_spec = f"{clip.root}:{opts.reference_frame}"
    idx = range(opts.first_driving, n)
    real = [np.asarray(clip.load("frames")[t]) for t in idx]
    if real[0].shape[:2] != (opts.size, opts.size):
        raise InputError(
            f"the clip's frames are {real[0].shape[:2]}, not {opts.size}",
            clip.root,
            f"extract it at --size {opts.size}, or pass --size {real[0].shape[0]}",
        )
    masks = [np.asarray(clip.load("mask")[t]) for t in idx]
    ref_kp = {
        k: np.asarray(clip.load(k)[opts.first_driving :], np.float32)
        for k in ("body", "face", "hand_left", "hand_right")
        if clip.has(k)
    }
    ref_png = out / "reference.png"
    write_image(ref_png, np.asarray(clip.load("frames")[opts.reference_frame]))
    driving = _DrivingSlice(clip, opts.first_driving)
    rows: list[dict[str, Any]] = []
    outputs: dict[str, list[np.ndarray]] = {}
    for name in opts.methods:
        logger.info(f"[single-image] === {name} ===")
        t0 = time.perf_counter()
        if name == "hold":
            pred = [np.asarray(clip.load("frames")[opts.reference_frame])] * len(real)
        else:
            from ..transfer import transfer

            cls = get_method(name)
            if cls.kind != REFERENCE:
                raise InputError(
                    f"{name} is a {cls.kind} method; this protocol compares reference methods",
                    fix="pass reference methods (pose_warp, ...) to --methods",
                )
            model = opts.models.get(name)
            tm = open_model(
                model, method=name, device=opts.device, config=None if model else {"size": opts.size}
            )
            if tm.size != (opts.size, opts.size):
                raise InputError(
                    f"{name} renders {tm.size}, the protocol runs at {opts.size}",
                    model or name,
                    f"pass --size {tm.size[0]}",
                )
            pred = []
            transfer(
                tm,
                driving.source(),
                out / f"{name}.mp4",
                target_image=ref_spec,
                normalization=opts.normalization,
                progress=opts.progress,
                save_normalizer=False,
                frame_sink=pred.append,
            )
        seconds = time.perf_counter() - t0
        row = {
            "method": name,
            **_metrics(pred, real, masks),
            "frames": len(pred),
            "frames_per_second": math.nan if name == "hold" else len(pred) / max(seconds, 1e-9),
        }
        if opts.pose:
            row.update(_pose_accuracy(pred, ref_kp))
        if opts.identity:
            row.update(_identity(pred, ref_png))
        rows.append(row)
        outputs[name] = pred
        logger.info("[single-image] " + ", ".join(f"{k} {_fmt(v)}" for k, v in row.items() if k != "method"))
    with VideoWriter(out / "side_by_side.mp4", fps=clip.fps) as vw:
        for i, r in enumerate(real):
            vw.write(np.concatenate([r] + [outputs[m][i] for m in opts.methods], axis=1))
    write_json(
        out / "results.json",
        {
            "options": {k: str(v) if isinstance(v, Path) else v for k, v in opts.__dict__.items()},
            "clip": str(clip.root),
            "rows": rows,
        },
    )
    write_text(out / "table.md", markdown_table(rows, opts, clip))
    logger.info(markdown_table(rows, opts, clip))
    return rows


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    return str(v)


COLUMNS = (
    ("mse", "MSE ↓"),
    ("ssim", "SSIM ↑"),
    ("psnr", "PSNR ↑"),
    ("masked_ssim", "mask-SSIM ↑"),
    ("masked_psnr", "mask-PSNR ↑"),
    ("pose_error_px", "pose err px ↓"),
    ("pose_pck", "PCK@0.05 ↑"),
    ("identity_distance", "id dist ↓"),
    ("face_found", "face found"),
    ("frames_per_second", "frames/s"),
)


def markdown_table(rows: list[dict[str, Any]], opts: SingleImageOptions, clip: ClipStore) -> str:
    cols = [(k, h) for k, h in COLUMNS if any(k in r for r in rows)]
    lines = [
        f"Single-image self-reenactment on {Path(str(clip.root)).name} at {opts.size}x{opts.size}: frame "
        f"{opts.reference_frame} as the target photo, frames {opts.first_driving}-{clip.n_frames - 1} driving "
        f"(normalization {opts.normalization}), the real frames as ground truth.",
        "",
        "| method | " + " | ".join(h for _, h in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for r in rows:
        lines.append(f"| {r['method']} | " + " | ".join(_fmt(r.get(k, float("nan"))) for k, _ in cols) + " |")
    return "\n".join(lines) + "\n"


class _DrivingSlice:
    """Frames ``start..`` of a clip store as a driving source (the driving part of the protocol)."""

    def __init__(self, clip: ClipStore, start: int):
        self.clip, self.start = clip, start

    def source(self):
        from ..driving import ClipSource

        return ClipSource(self.clip, start=self.start)
