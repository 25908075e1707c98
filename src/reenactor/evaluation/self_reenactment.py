"""Self-reenactment on real video (Aberman et al. 2019, section 5.2, Table 1).

Every method is trained on the first ``train_frames`` frames of one clip (the same wall-clock training budget
each), then renders the last ``test_frames`` frames from their own poses (no normalization: same person, same
camera). Its output is compared with the real frames: MSE of RGB values 0-255 (the paper's Table 1), SSIM and
PSNR, all from :mod:`reenactor.metrics`. Writes ``table.md``, ``results.json`` and a side-by-side video
(real | pose | one column per method).

The unpaired branch of ``cloning`` trains, as performance cloning does at transfer time, on the driving poses
(here the held-out part's poses and the optical flow between its frames; never its frames themselves as
targets) unless ``unpaired="none"``. Those poses are rendered unnormalized (same person, same camera), so the
unpaired branch takes them unaligned too (``model.unpaired_align=none``).

``upper_body`` (Liu et al. 2019) can join the comparison (``methods=(..., "upper_body")``): its test frames are driven
by their own keypoints and their own FAUP (the ``faup`` stage is added to the test slice).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.clipstore import ClipStore
from ..errors import InputError
from ..io.atomic import write_json, write_text

logger = logging.getLogger(__name__)

METHODS = ("nearest_neighbor", "pix2pix", "cloning")


@dataclass
class SelfReenactmentOptions:
    clip: str  # sample name, video path or clip folder
    out_dir: Path
    train_frames: int = 80
    test_frames: int = 40
    test_first: bool = (
        False  # the split the other way round: test on the first test_frames, train on the last
    )
    size: int = 128
    budget_s: float = 180.0  # wall-clock training budget of each learned method
    methods: tuple[str, ...] = METHODS
    unpaired: str = "driving"  # "driving" (held-out poses + flow), "none", or a clip folder
    seed: int = 0
    device: str = "cpu"
    precision: str = "fp32"
    overrides: dict[str, list[str]] = field(default_factory=dict)  # method -> --set overrides
    configs: dict[str, str] = field(
        default_factory=dict
    )  # method -> config file or shipped name (upper_body/small)
    progress: bool = True
    expression: bool = True  # FAUP columns: re-extract the generated faces and compare with the real ones
    repeats: int = 1  # trainings per learned method (seeds seed .. seed+repeats-1); rows give their mean


def prepare_clip(spec: str, work: Path, size: int, progress: bool = True) -> ClipStore:
    """A clip folder as is, or a video / sample name extracted (once, resumable) into ``work/clip``."""
    if ClipStore.is_clip(spec):
        return ClipStore.open(spec)
    from ..extract import extract
    from ..samples import resolve_input

    path = resolve_input(spec)
    logger.info(f"[benchmark] extracting {path} at {size}x{size} into {work / 'clip'}")
    return extract(path, work / "clip", size=size, progress=progress)


def slice_clip(store: ClipStore, root: Path, start: int, stop: int) -> ClipStore:
    """A new clip store holding frames ``[start, stop)`` of ``store`` (every per-frame array; ``flow`` too)."""
    n = store.n_frames
    out = ClipStore.create(
        root,
        source=f"{store.root}[{start}:{stop}]",
        fps=store.fps,
        n_frames=stop - start,
        size=list(store.size),
        parent=str(store.root),
    )
    for name in store.arrays():
        a = store.load(name)
        if len(a) == n:
            out.save(
                name,
                np.ascontiguousarray(a[start:stop]),
                stage=store.manifest["arrays"][name].get("stage"),
                write_manifest=False,
            )
        elif name == "flow" and len(a) == n - 1:
            out.save(name, np.ascontiguousarray(a[start : stop - 1]), stage="flow", write_manifest=False)
    for st, rec in store.manifest.get("stages", {}).items():
        out.manifest["stages"][st] = dict(rec)
    out.write_manifest()
    return out


def split(
    store: ClipStore, work: Path, n_train: int, n_test: int, test_first: bool = False
) -> tuple[ClipStore, ClipStore]:
    """(train, test) clip stores: the first ``n_train`` frames and the last ``n_test`` (``test_first``: the first
    ``n_test`` frames are the test part and the last ``n_train`` the training part)."""
    n = store.n_frames
    if n_train + n_test > n or n_train < 2 or n_test < 1:
        raise InputError(
            f"clip has {n} frames; {n_train} training + {n_test} test frames do not fit",
            store.root,
            "pass smaller --train-frames / --test-frames",
        )
    if test_first:
        return (
            slice_clip(store, work / "train", n - n_train, n),
            slice_clip(store, work / "test", 0, n_test),
        )
    return (slice_clip(store, work / "train", 0, n_train), slice_clip(store, work / "test", n - n_test, n))


def frame_metrics(pred: list[np.ndarray], real: list[np.ndarray]) -> dict[str, float]:
    """Mean over frames of MSE (RGB 0-255), SSIM and PSNR from reenactor.metrics."""
    from ..metrics import psnr, ssim
    from ..metrics.image import mse

    if len(pred) != len(real):
        raise ValueError(f"{len(pred)} generated frames vs {len(real)} real ones")
    return {
        "mse": float(np.mean([mse(p, r) for p, r in zip(pred, real)])),
        "ssim": float(np.mean([ssim(p, r) for p, r in zip(pred, real)])),
        "psnr": float(np.mean([psnr(p, r) for p, r in zip(pred, real)])),
    }


def reference_rows(
    train_frames: list[np.ndarray], real: list[np.ndarray]
) -> tuple[list[dict[str, Any]], list[list[np.ndarray]]]:
    """Two pose-free reference points that show how far the test frames are from anything in training:

    * ``oracle retrieval``: per test frame, the training frame with the lowest pixel MSE (it peeks at the answer,
      so no pose-driven retrieval such as nearest_neighbor can beat it);
    * ``mean training frame``: the same (blurry) average frame for every test frame.
    """
    tr = np.stack([np.asarray(f, np.float32) for f in train_frames])
    best = [
        train_frames[int(np.argmin(((tr - np.asarray(r, np.float32)) ** 2).mean(axis=(1, 2, 3))))]
        for r in real
    ]
    mean = np.clip(np.round(tr.mean(0)), 0, 255).astype(np.uint8)
    rows, frames = [], []
    for name, pred in (
        ("oracle retrieval (reference)", best),
        ("mean training frame (reference)", [mean] * len(real)),
    ):
        rows.append(
            {"method": name, **frame_metrics(pred, real), "steps": 0, "train_seconds": 0.0, "reference": True}
        )
        frames.append(pred)
    return rows, frames


class ExpressionColumns:
    """FAUP columns of the table (:mod:`reenactor.metrics.expression`): the faces of each row's frames are
    re-extracted and compared with the real test frames' faces, all against the training part's neutral
    reference. Off (with a printed reason) when the clip has no face mesh or the real test frames show no face."""

    def __init__(self, train: ClipStore, real: list[np.ndarray]):
        from ..metrics.expression import faup_of_frames

        self.reason = None
        if not train.has("face_raw"):
            self.reason = "the clip has no face meshes (face_raw)"
            return
        from ..face.faup import clip_neutral

        self.neutral = clip_neutral(train)
        self.real_faup, self.real_valid = faup_of_frames(real, self.neutral)
        if not self.real_valid.any():
            self.reason = "no face found in the real test frames"

    @property
    def on(self) -> bool:
        return self.reason is None

    def __call__(self, frames: list[np.ndarray]) -> dict[str, float]:
        from ..metrics.expression import expression_errors, faup_of_frames

        faup, valid = faup_of_frames(frames, self.neutral)
        e = expression_errors(faup, self.real_faup, valid & self.real_valid)
        return {
            "au_mae": e["au_mae"],
            "pose_mae_deg": e["pose_mae_deg"],
            "au_corr": e["au_corr"],
            "face_detected": float(valid.mean()),
        }


#: methods without training randomness: one run whatever ``repeats`` says
DETERMINISTIC = ("nearest_neighbor",)


def mean_row(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from the runs of one method: numeric columns averaged (NaN-aware for the face columns), the
    MSE's sample standard deviation in ``mse_sd`` and every run kept in ``runs``."""
    if len(runs) == 1:
        return dict(runs[0])
    row = dict(runs[0])
    for k, v in runs[0].items():
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "seed":
            vals = np.array([float(r[k]) for r in runs])
            row[k] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
    row["steps"] = int(round(row["steps"]))
    row["mse_sd"] = float(np.std([r["mse"] for r in runs], ddof=1))
    row["runs"] = runs
    return row


def markdown_table(rows: list[dict[str, Any]], opts: SelfReenactmentOptions, clip_name: str) -> str:
    expr = any("au_mae" in r for r in rows)
    lines = [
        f"# Self-reenactment on {clip_name} (Aberman et al. 2019, Table 1 protocol)",
        "",
        (
            f"Trained on the last {opts.train_frames} frames, rendered the first {opts.test_frames} frames from their "
            if opts.test_first
            else f"Trained on frames 0-{opts.train_frames - 1}, rendered the last {opts.test_frames} frames from their "
        )
        + f"own poses at {opts.size}x{opts.size}; training budget {opts.budget_s:g} s wall clock per learned "
        f"method ({opts.device}); cloning's unpaired branch: {opts.unpaired}"
        f"{' (poses unaligned, as they are rendered)' if opts.unpaired == 'driving' else ''}; config files: "
        f"{ {m: c for m, c in opts.configs.items() if m in opts.methods} or 'method defaults' }; overrides: "
        f"{ {m: v for m, v in opts.overrides.items() if v} }.",
        "",
        "| method | MSE (RGB 0-255) | SSIM | PSNR (dB) | train steps | train s |"
        + (" AU error | AU r | head pose error (deg) | face found |" if expr else ""),
        "| --- | ---: | ---: | ---: | ---: | ---: |" + (" ---: | ---: | ---: | ---: |" if expr else ""),
    ]
    for r in rows:
        mse = f"{r['mse']:.1f}" + (f" ± {r['mse_sd']:.1f}" if "mse_sd" in r else "")
        line = (
            f"| {r['method']} | {mse} | {r['ssim']:.4f} | {r['psnr']:.2f} | "
            f"{r.get('steps', 0)} | {r.get('train_seconds', 0.0):.0f} |"
        )
        if expr:
            line += (
                f" {r.get('au_mae', float('nan')):.3f} | {r.get('au_corr', float('nan')):.2f} | "
                f"{r.get('pose_mae_deg', float('nan')):.1f} | {r.get('face_detected', float('nan')):.0%} |"
            )
        lines.append(line)
    by = {r["method"]: r for r in rows}
    repeated = [r for r in rows if "runs" in r]
    if repeated:
        lines += [
            "",
            f"Learned methods trained {len(repeated[0]['runs'])} times (seeds "
            f"{', '.join(str(x['seed']) for x in repeated[0]['runs'])}): their rows are means (MSE ± sample "
            "standard deviation) and the ratios below compare means. MSE per run: "
            + "; ".join(f"{r['method']} " + ", ".join(f"{x['mse']:.1f}" for x in r["runs"]) for r in repeated)
            + ".",
        ]
    if any(r.get("reference") for r in rows):
        lines += [
            "",
            "Reference rows are not methods: oracle retrieval picks, per test frame, the training frame closest "
            "in pixels (it sees the answer); the mean training frame is one average image. When they score "
            "close to nearest_neighbor, the test frames hold content no training frame has (here: the "
            "scenery through the window and poses outside the training range).",
        ]
    if "cloning" in by and "nearest_neighbor" in by:
        ratio = by["cloning"]["mse"] / max(by["nearest_neighbor"]["mse"], 1e-9)
        lines += ["", f"cloning MSE / nearest_neighbor MSE = {ratio:.3f} (target <= 0.6)"]
    if "cloning" in by and "pix2pix" in by:
        lines.append(
            f"cloning MSE / pix2pix MSE = {by['cloning']['mse'] / max(by['pix2pix']['mse'], 1e-9):.3f} "
            "(target < 1)"
        )
    if expr:
        lines += [
            "",
            "Face columns (reenactor.metrics.expression): the face mesh of every generated frame is "
            "re-extracted and turned into FAUP (17 action units, 0-3, and head pose) against the training "
            "frames' neutral face, then compared with the real test frame's: AU error = mean |difference| of "
            "the action units, AU r = their correlation over time (units that move), head pose error = mean "
            "|yaw, pitch, roll difference|; frames where no face is found are left out (face found).",
        ]
    if "upper_body" in by and "cloning" in by:  # Liu et al. 2019 (upper body + FAUP face) beside cloning
        lines.append(
            f"upper_body MSE / cloning MSE = {by['upper_body']['mse'] / max(by['cloning']['mse'], 1e-9):.3f}"
            " (upper_body renders the test frames from their own FAUP and keypoints)"
        )
    return "\n".join(lines) + "\n"


#: a ``max_seconds`` this large is no budget: the run ends at its ``trainer.steps`` (:func:`steps_run`)
NO_BUDGET = 1e8


def train_model(
    method: str,
    targets: list,
    run_dir: Path,
    unpaired: list | None = None,
    size: int = 128,
    max_seconds: float = 180.0,
    overrides: list[str] | None = None,
    seed: int = 0,
    device: str = "cpu",
    progress: bool = True,
    config: str | Path | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Train ``method`` with the one trainer (:class:`reenactor.train.trainer.Trainer`) until ``max_seconds`` of
    wall clock have passed (data set-up included), then export ``run_dir/model.safetensors``.

    The run config is ``config`` (a file or shipped name such as ``upper_body/small``) or the method's shipped
    ``configs/<method>/default.yaml`` - what ``reenactor train --method METHOD`` runs - with ``model.size`` =
    ``size``, no TensorBoard, then ``overrides`` (``--set`` style). Returns
    ``{"model": path, "steps": n, "seconds": s}``. ``resume``: continue from the run folder's newest checkpoint
    (for runs to a fixed ``trainer.steps``; pass ``trainer.checkpoint_every`` in ``overrides`` to have some).
    Schedules within the run (learning-rate decay, a method's stages) run on the budget's share, as in
    ``reenactor train --budget``.
    """
    from ..config import load_yaml, method_defaults
    from ..methods import get_method
    from ..train.config import build_run_config, method_config
    from ..train.trainer import Trainer

    t0 = time.perf_counter()
    base: dict[str, Any] = load_yaml(config) if config else method_defaults(method)
    base["method"] = method
    base.setdefault("model", {})["size"] = size
    tr = base.setdefault("trainer", {})
    tr.update(
        {
            "steps": 10**9,
            "seed": seed,
            "device": device,
            "tensorboard": False,
            "image_every": 0,
            "checkpoint_every": 10**9,
            "keep_checkpoints": 1,
            # a run to a number of steps (no real budget) shows the trainer's own bar over its steps
            "progress": progress and max_seconds >= NO_BUDGET,
        }
    )
    run_cfg = build_run_config(base, overrides or [])
    cls = get_method(method)
    m = cls(method_config(cls, run_cfg.model))
    dataset = m.build_dataset(targets, unpaired)
    bar = None
    if progress and max_seconds < NO_BUDGET:
        from tqdm.auto import tqdm

        bar = tqdm(total=int(max_seconds), desc=f"train {method} (wall-clock budget)", unit="s")

    def budget(trainer: Trainer, logs: dict[str, float]) -> None:
        if bar is not None:
            bar.n = min(int(time.perf_counter() - t0), int(max_seconds))
            bar.set_postfix(
                {k: f"{v:.3g}" for k, v in logs.items() if k in ("vgg", "tc", "g_total")}, refresh=True
            )

    # the trainer's own wall-clock budget (trainer.max_seconds) ends the run, with what the data set-up left of it;
    # trainer.lr_decay then runs on the budget
    run_cfg.trainer.max_seconds = max(max_seconds - (time.perf_counter() - t0), 1.0)
    trainer = Trainer(m, run_cfg, run_dir, device=device, callbacks=[budget])
    try:
        path = trainer.fit(dataset, resume=resume)
    finally:
        if bar is not None:
            bar.close()
    return {"model": path, "steps": trainer.step, "seconds": time.perf_counter() - t0}


def finished_run(run_dir: Path, spec: dict[str, Any]) -> dict[str, Any] | None:
    """The record of a finished benchmark training run in ``run_dir`` (its ``benchmark_run.json``, written after
    the export) when it was made with the same ``spec`` and its model is there; else None (train it)."""
    info_path, model = run_dir / "benchmark_run.json", run_dir / "model.safetensors"
    if not (info_path.exists() and model.exists()):
        return None
    info = json.loads(info_path.read_text())
    if info.get("spec") != json.loads(json.dumps(spec)):
        return None
    logger.info(f"[benchmark] reusing the finished run {run_dir} ({info['steps']} steps)")
    return info


def steps_run(
    method: str,
    data: Any,
    run_dir: Path,
    steps: int,
    overrides: list[str],
    size: int,
    seed: int = 0,
    device: str = "cpu",
    progress: bool = True,
    config: str | None = None,
    data_key: Any = None,
) -> tuple[Path, dict[str, Any]]:
    """A benchmark's training run to a fixed number of ``steps`` (:func:`train_model` from the shipped config
    or ``config``). What makes the run (method, steps, overrides, size, seed, device, the config's contents and
    ``data_key``, the caller's description of its training data) is its spec: a finished run of the same spec
    in ``run_dir`` is reused, a killed one of the same spec continues from its last checkpoint (every 250
    steps; also to more or fewer steps), a run of another spec is trained again from the start. Returns (model path,
    ``{"steps", "seconds"}``)."""
    from ..config import load_yaml, method_defaults

    spec = json.loads(
        json.dumps(
            {
                "method": method,
                "steps": steps,
                "overrides": list(overrides),
                "size": size,
                "seed": seed,
                "device": str(device),
                "config": load_yaml(config) if config else method_defaults(method),
                "data": data_key,
            }
        )
    )
    model = run_dir / "model.safetensors"
    done = finished_run(run_dir, spec)
    if done is not None:
        return model, {"steps": done["steps"], "seconds": done["seconds"]}
    # a killed run continues when everything but its length matches (as `reenactor train` resumes)
    started = run_dir / "benchmark_spec.json"
    same = lambda a: {**a, "steps": None} == {**spec, "steps": None}  # noqa: E731
    if run_dir.exists() and (
        (run_dir / "benchmark_run.json").exists()
        or not (started.exists() and same(json.loads(started.read_text())))
    ):
        logger.info(f"[benchmark] {run_dir} holds a run of another spec: training it again")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(started, spec)
    info = train_model(
        method,
        data,
        run_dir,
        size=size,
        max_seconds=1e9,
        overrides=[f"trainer.steps={steps}", "trainer.checkpoint_every=250", *overrides],
        seed=seed,
        device=device,
        progress=progress,
        config=config,
        resume=True,
    )
    info = {"steps": info["steps"], "seconds": info["seconds"]}
    write_json(run_dir / "benchmark_run.json", {**info, "spec": spec})
    return model, info


def run(opts: SelfReenactmentOptions) -> list[dict[str, Any]]:
    """Run the protocol; returns one row per method (also written to ``out_dir``)."""
    from ..config import load_yaml, method_defaults
    from ..driving import ClipSource
    from ..io.video import VideoWriter
    from ..methods import get_method
    from ..modelfile import open_model
    from ..pose.render import draw_pose
    from ..transfer import transfer

    out = Path(opts.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clip = prepare_clip(opts.clip, out, opts.size, opts.progress)
    train, test = split(
        clip,
        out / ("split_test_first" if opts.test_first else "split"),
        opts.train_frames,
        opts.test_frames,
        opts.test_first,
    )
    unpaired: list = []
    if opts.unpaired == "driving":
        from ..data.flow import add_flow_stage

        add_flow_stage(test, progress=opts.progress)
        unpaired = [test]
    elif opts.unpaired != "none":
        unpaired = [ClipStore.open(opts.unpaired)]
    real = [np.asarray(f) for f in test.frames()]
    real_sized = [_resize(r, (opts.size, opts.size)) for r in real]
    expression = ExpressionColumns(train, real_sized) if opts.expression else None
    if expression is not None and not expression.on:
        logger.info(f"[self-reenactment] no face columns: {expression.reason}")
        expression = None
    rows: list[dict[str, Any]] = []
    outputs: dict[str, list[np.ndarray]] = {}
    for name in opts.methods:
        logger.info(f"[self-reenactment] === {name} ===")
        if name == "upper_body":  # its face is driven by the test frames' own FAUP (clip-store `faup` stage)
            from ..face.faup import add_faup_stage

            add_faup_stage(test)
        overrides = list(opts.overrides.get(name, []))
        if name == "cloning" and opts.unpaired == "driving":
            # the held-out poses are rendered as they are (no normalization): the unpaired branch sees them so too
            overrides.insert(0, "model.unpaired_align=none")
        runs: list[dict[str, Any]] = []
        n_runs = 1 if name in DETERMINISTIC else max(int(opts.repeats), 1)
        for k in range(n_runs):
            t0 = time.perf_counter()
            run_dir = out / "runs" / (name if k == 0 else f"{name}_seed{opts.seed + k}")
            # what makes this run: a killed benchmark, run again, reuses the runs it finished (same spec)
            spec = {
                "budget": opts.budget_s,
                "size": opts.size,
                "seed": opts.seed + k,
                "overrides": overrides,
                "config": load_yaml(opts.configs[name]) if name in opts.configs else method_defaults(name),
                "unpaired": opts.unpaired if name == "cloning" else None,
                "precision": opts.precision,
                "device": opts.device,
            }
            info = finished_run(run_dir, spec)
            if info is None:
                if run_dir.exists():  # another spec's run, or one killed mid-way (a budget cannot resume)
                    shutil.rmtree(run_dir)
                info = train_model(
                    name,
                    [train],
                    run_dir,
                    unpaired=unpaired if name == "cloning" else None,
                    size=opts.size,
                    max_seconds=opts.budget_s,
                    overrides=overrides,
                    seed=opts.seed + k,
                    device=opts.device,
                    progress=opts.progress,
                    config=opts.configs.get(name),
                )
                info = {
                    "model": str(info["model"]),
                    "steps": info["steps"],
                    "seconds": time.perf_counter() - t0,
                }
                write_json(run_dir / "benchmark_run.json", {**info, "spec": spec})
            train_s = float(info["seconds"])
            got: list[np.ndarray] = []
            precision = opts.precision if opts.precision in get_method(name).precisions else "fp32"
            if precision != opts.precision and k == 0:
                logger.info(f"[self-reenactment] {name} runs in fp32 (it declares no {opts.precision})")
            tm = open_model(info["model"], device=opts.device, precision=precision)
            transfer(
                tm,
                ClipSource(test),
                out / f"{name}.mp4" if k == 0 else run_dir / "test.mp4",
                normalization="none",
                progress=opts.progress,
                save_normalizer=False,
                check_coverage=False,
                frame_sink=got.append,
            )
            res = frame_metrics(got, [_resize(r, tm.size) for r in real])
            r = {
                "method": name,
                **res,
                "steps": int(info.get("steps", 0)),
                "train_seconds": train_s,
                "model": str(info["model"]),
                "seed": opts.seed + k,
            }
            if expression is not None:
                r |= expression(got)
            logger.info(
                f"[self-reenactment] {name}{f' (seed {opts.seed + k})' if n_runs > 1 else ''}: MSE {res['mse']:.1f}  "
                f"SSIM {res['ssim']:.4f}  PSNR {res['psnr']:.2f} dB ({r['steps']} steps, {train_s:.0f} s)"
                + (
                    f"; face: AU error {r['au_mae']:.3f}, AU r {r['au_corr']:.2f}, head pose error "
                    f"{r['pose_mae_deg']:.1f} deg"
                    if "au_mae" in r
                    else ""
                )
            )
            runs.append(r)
            if k == 0:
                frames = got  # the side-by-side video shows the first seed
        row = mean_row(runs)
        rows.append(row)
        outputs[name] = frames
    train_frames = [_resize(np.asarray(f), (opts.size, opts.size)) for f in train.frames()]
    ref_rows, ref_frames = reference_rows(train_frames, real_sized)
    if expression is not None:
        for r, f in zip(ref_rows, ref_frames):
            r |= expression(f)
    rows += ref_rows
    # side-by-side: real | pose | methods...
    body = test.load("body", mmap=False)
    with VideoWriter(out / "side_by_side.mp4", fps=test.fps) as w:
        for t, r in enumerate(real):
            r = _resize(r, (opts.size, opts.size))
            panels = [r, draw_pose((opts.size, opts.size), {"body": body[t] * _scale(test.size, opts.size)})]
            panels += [outputs[m][t] for m in opts.methods]
            w.write(np.concatenate(panels, axis=1))
    table = markdown_table(rows, opts, Path(opts.clip).name)
    write_text(out / "table.md", table)
    write_json(
        out / "results.json", {"options": json.loads(json.dumps(asdict(opts), default=str)), "rows": rows}
    )
    logger.info(table)
    logger.info(
        f"[self-reenactment] wrote {out / 'table.md'}, {out / 'results.json'} and {out / 'side_by_side.mp4'} "
        f"(real | pose | {' | '.join(opts.methods)})"
    )
    return rows


def _scale(size: tuple[int, int], to: int) -> np.ndarray:
    return np.array([to / size[1], to / size[0], 1.0], np.float32)


def _resize(img: np.ndarray, size) -> np.ndarray:
    import cv2

    h, w = int(size[0]), int(size[1])
    return img if img.shape[:2] == (h, w) else cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
