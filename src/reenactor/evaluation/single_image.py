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
share of frames where a face is found, and the share of found faces closer than 0.6; the paper's segmentation
scores (SSBS / SSIS analogues): the 22-label layout (:func:`reenactor.parsing.layout.estimate_layout`) estimated on
the output and on the real frame, both from a fresh MediaPipe pass (keypoints and mask) over the frames, compared
by binary (person) IoU and by the mean per-part IoU over the labels present in either; for a method that
records its own person mask (single_shot's B2F mask m, the synthesizer's ``trace``), its IoU with the real frame's
stored MediaPipe mask; TCM (REMOT's temporal consistency, :mod:`reenactor.metrics.tcm`: the real frames score
exp(-1) = 0.368 along their own flow; not higher-is-better). A model that declares ablations it can render from the
same weights (:meth:`reenactor.methods.base.Method.ablations`) gets one more row each: single_shot without its
face refinement (``METHOD -FR``), remot without its Whole Composition Network (``METHOD w/o WCN``). A row can
be any label given a model file (``models[label] = FILE``, the method read from the file), so several models
of one method (e.g. remot's trained ablations) sit in one table. Writes ``table.md``, ``results.json`` and ``side_by_side.mp4``
(real | hold | each method), and ``train/CLIP_0_R`` (frames before the reference frame, ``R`` the last) as a
clip store to train learned methods on (:func:`reenactor.evaluation.self_reenactment.slice_clip`).

What it shows and what it does not: the target is the driver himself, one frame apart, so the pose change
between reference and driving frames is small (a man talking in a car). It measures how faithfully a method
moves one photo along real, small motions; it says nothing about unseen people or large pose changes.
"""

from __future__ import annotations

import logging
import math
import re
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
    segmentation: bool = True  # layouts estimated on output and real frames (SSBS / SSIS analogues)
    write_train_clip: bool = True  # write the frames before the reference frame as a clip store (train/)
    ablate: tuple[str, ...] | None = None  # rows that also render their declared ablations (None: every row)


#: the folder of ``out_dir`` that holds the training clip (the frames before the reference frame)
TRAIN_DIR = "train"


def file_stem(row: str) -> str:
    """A row name as a file name: ``remot w/o WCN`` -> ``remot_wo_WCN`` (no separators, no spaces)."""
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9.+-]", "_", row.replace("/", ""))).strip("_") or "row"


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
    return {
        "identity_distance": r["mean_distance"],
        "identity_same": r["same_person_share"],
        "face_found": r["face_detected"],
    }


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean maps; NaN when both are empty."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else math.nan


def estimated_layouts(frames: list[np.ndarray]) -> list[np.ndarray]:
    """The 22-label layout of each frame, estimated from a fresh MediaPipe Holistic pass over the frames (video
    mode, with its person mask), as :func:`reenactor.parsing.layout.estimate_layout` does for a clip."""
    from ..parsing.layout import estimate_layout
    from ..pose.holistic import HolisticExtractor, quiet_native_stderr

    with quiet_native_stderr():
        ex = HolisticExtractor(static_image_mode=False, segmentation=True)
    out = []
    try:
        for f in frames:
            with quiet_native_stderr():
                r = ex.process(f)
            out.append(
                estimate_layout(
                    f,
                    r["mask"],
                    r["body"],
                    face_raw=r["face_raw"],
                    hand_left=r["hand_left"],
                    hand_right=r["hand_right"],
                    pose_raw=r["pose_raw"],
                )
            )
    finally:
        ex.close()
    return out


def layout_scores(pred: list[np.ndarray], real: list[np.ndarray]) -> dict[str, float]:
    """SSBS / SSIS analogues: mean over frames of the binary (person) IoU and of the mean per-part IoU (over the
    labels present in either layout) between the layouts estimated on the output and on the real frames."""
    binary, parts = [], []
    for p, r in zip(pred, real):
        binary.append(iou(p > 0, r > 0))
        labels = np.union1d(np.unique(p), np.unique(r))
        per = [iou(p == k, r == k) for k in labels if k > 0]
        parts.append(float(np.mean(per)) if per else math.nan)
    return {"seg_binary_iou": _nanmean(binary), "seg_part_iou": _nanmean(parts)}


def _nanmean(v: list[float]) -> float:
    a = np.asarray(v, np.float64)
    return float(a[np.isfinite(a)].mean()) if np.isfinite(a).any() else math.nan


def mask_iou(trace: list[dict[str, np.ndarray]], masks: list[np.ndarray]) -> float:
    """Mean IoU of a method's own person masks (m > 0.5) with the real frames' masks (>= 128 of 255)."""
    from ..parsing.layout import MASK_THRESHOLD

    return _nanmean([iou(t["mask"] > 0.5, np.asarray(m) >= MASK_THRESHOLD) for t, m in zip(trace, masks)])


def _variants(name: str, cls: Any, tm: Any) -> list[tuple[str, dict[str, Any]]]:
    """(row name, inference options) per row of a model: its own, then one per ablation it declares
    (:meth:`reenactor.methods.base.Method.ablations`: single_shot without FR, remot without the WCN)."""
    return [(name, {})] + [(name + suffix, options) for suffix, options in cls.ablations(tm.synthesizer)]


def prepare(opts: SingleImageOptions) -> ClipStore:
    """The protocol's clip at ``opts.size`` in ``out_dir`` (extracted once, reused by a re-run), checked, with
    ``out_dir/train`` (the frames before the reference frame, for a learned method) when asked for."""
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
    if opts.write_train_clip:
        _write_train_clip(clip, out, opts.reference_frame)
    return clip


def train_clip_dir(opts: SingleImageOptions) -> Path:
    """The folder :func:`prepare` writes the training clip into (``reenactor train --clips`` it)."""
    return Path(opts.out_dir) / TRAIN_DIR


def run(opts: SingleImageOptions) -> list[dict[str, Any]]:
    """Run the protocol; returns one row per method (also written to ``out_dir``)."""
    from ..io.atomic import write_json, write_text
    from ..io.video import VideoWriter, write_image
    from ..methods import get_method
    from ..methods.base import REFERENCE
    from ..metrics.tcm import tcm
    from ..modelfile import open_model

    out = Path(opts.out_dir)
    clip = prepare(opts)
    n = clip.n_frames
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
    driving = DrivingSlice(clip, opts.first_driving)
    rows: list[dict[str, Any]] = []
    outputs: dict[str, list[np.ndarray]] = {}
    real_layouts: list[np.ndarray] | None = None
    for name in opts.methods:
        runs: list[tuple[str, list[np.ndarray], list | None, float]] = []
        logger.info(f"[single-image] === {name} ===")
        t0 = time.perf_counter()
        if name == "hold":
            pred = [np.asarray(clip.load("frames")[opts.reference_frame])] * len(real)
            runs.append((name, pred, None, time.perf_counter() - t0))
        else:
            from ..transfer import transfer

            model = opts.models.get(name)

            def load(options: dict[str, Any], model: str | None = model, name: str = name):
                # a row named by a model file's label takes its method from the file
                return open_model(
                    model,
                    method=None if model else name,
                    device=opts.device,
                    config=None if model else {"size": opts.size},
                    options=options or None,
                )

            def check_kind(cls: Any, name: str = name, model: str | None = model) -> None:
                if cls.kind != REFERENCE:
                    raise InputError(
                        f"{name} is a {cls.kind} method; this protocol compares reference methods",
                        model or name,
                        "pass reference methods (pose_warp, ...) to --methods",
                    )

            if model is None:
                check_kind(get_method(name))  # before loading: an untrained per-person name gets this message
            tm = load({})
            cls = tm.method_cls
            check_kind(cls)  # a model file's method
            if tm.size != (opts.size, opts.size):
                raise InputError(
                    f"{name} renders {tm.size}, the protocol runs at {opts.size}",
                    model or name,
                    f"pass --size {tm.size[0]}",
                )
            variants = (
                _variants(name, cls, tm) if opts.ablate is None or name in opts.ablate else [(name, {})]
            )
            for i, (row_name, options) in enumerate(variants):
                if i:
                    logger.info(f"[single-image] === {row_name} ===")
                    t0 = time.perf_counter()
                    tm = load(options)
                trace = [] if hasattr(tm.synthesizer, "trace") else None
                if trace is not None:
                    tm.synthesizer.trace = trace
                pred = []
                transfer(
                    tm,
                    driving.source(),
                    out / f"{file_stem(row_name)}.mp4",
                    target_image=ref_spec,
                    normalization=opts.normalization,
                    progress=opts.progress,
                    save_normalizer=False,
                    frame_sink=pred.append,
                )
                runs.append((row_name, pred, trace, time.perf_counter() - t0))
        for row_name, pred, trace, seconds in runs:
            row = {
                "method": row_name,
                **_metrics(pred, real, masks),
                "tcm": tcm(pred, real),  # the real frames score exp(-1) = 0.368 along their own flow
                "frames": len(pred),
                "frames_per_second": math.nan if name == "hold" else len(pred) / max(seconds, 1e-9),
            }
            if trace is not None and len(trace) == len(pred):
                row["mask_iou"] = mask_iou(trace, masks)
            if opts.pose:
                row.update(_pose_accuracy(pred, ref_kp))
            if opts.identity:
                row.update(_identity(pred, ref_png))
            if opts.segmentation:
                if real_layouts is None:
                    real_layouts = estimated_layouts(real)
                row.update(layout_scores(estimated_layouts(pred), real_layouts))
            rows.append(row)
            outputs[row_name] = pred
            logger.info(
                "[single-image] " + ", ".join(f"{k} {_fmt(v)}" for k, v in row.items() if k != "method")
            )
    with VideoWriter(out / "side_by_side.mp4", fps=clip.fps) as vw:
        for i, r in enumerate(real):
            vw.write(np.concatenate([r] + [o[i] for o in outputs.values()], axis=1))
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
    ("identity_same", "id < 0.6 ↑"),
    ("face_found", "face found"),
    ("tcm", "TCM"),
    ("mask_iou", "mask-m IoU ↑"),
    ("seg_binary_iou", "seg bin IoU ↑"),
    ("seg_part_iou", "seg part mIoU ↑"),
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
    if any("tcm" in r for r in rows):
        lines += ["", "TCM is not higher-is-better: the real frames score exp(-1) = 0.368 along their own flow; "
                  "above it the output changes less along that flow than the real video (smoother, or blurred), "
                  "below it more (flicker, jitter). Read it beside SSIM."]  # fmt: skip
    return "\n".join(lines) + "\n"


def _write_train_clip(clip: ClipStore, out: Path, reference_frame: int) -> None:
    """Frames 0 .. reference_frame - 1 as a clip store ``out/train/NAME_0_LAST`` (once): the footage outside the
    test range, for training a learned reference method (``reenactor train --clips out/train``)."""
    from .self_reenactment import slice_clip

    if reference_frame < 2:
        return
    root = out / TRAIN_DIR / f"{Path(str(clip.root)).name}_0_{reference_frame - 1}"
    if ClipStore.is_clip(root):
        return
    slice_clip(clip, root, 0, reference_frame)
    logger.info(
        f"[single-image] frames 0-{reference_frame - 1} (outside the test range) as a training clip: {root} "
        f"(e.g. reenactor train --method single_shot --clips {root.parent} --budget SECONDS)"
    )


class DrivingSlice:
    """Frames ``start..`` of a clip store as a driving source (the driving part of the protocol)."""

    def __init__(self, clip: ClipStore, start: int):
        self.clip, self.start = clip, start

    def source(self):
        from ..driving import ClipSource

        return ClipSource(self.clip, start=self.start)
