"""The inference pipeline: a model + driving poses -> a video of the target doing the motion.

``reenactor transfer --model MODEL --driving VIDEO -o out.mp4`` (a per-person model), or
``reenactor transfer --method NAME --target-image PHOTO --driving VIDEO -o out.mp4`` (a reference method
given one photo of the target), runs in bounded memory:

1. **load** (:func:`reenactor.modelfile.open_model`): the model file, or a method with nothing to train; its
   declared kind decides what the run needs (a reference method: ``--target-image``, built once into a
   :class:`~reenactor.reference.Reference` and handed to the synthesizer before the first frame).
2. **poses** (:mod:`reenactor.driving`): a driving video's poses are extracted in a first streaming pass and
   spooled to disk; a clip store or a pose file (``*.poses.npz``) already holds them.
3. **normalization**: a :class:`~reenactor.pose.normalize.Normalizer` fitted between the driving body poses and
   the target: a per-person model's stored training poses (``--normalization auto|edn|edn_upper|first_frame|
   none``), or a reference's single pose or mask (``auto`` = ``first_frame``, ``edn_upper``,
   ``global_alignment``, ``none``), or a saved one (``--normalizer FILE``); saved next to the output as
   ``OUT.normalizer.json``.
4. **coverage** (Aberman et al. 2019, eq. 8; per-person models only): how well the training poses cover the
   normalized driving poses, computed by :func:`reenactor.pose.metrics.assess_coverage` exactly as
   ``reenactor coverage`` does; one sentence is printed ("38 of 250 driving frames show no person; 30 % of the
   rest lie outside what the model has seen: expect artifacts there"). A plainly broken normalization fit, or a
   driver more than half of whose frames show no person or one only outside the frame after normalization, is
   refused here (``InputError``, nothing written) unless ``force``.
5. **render** (second streaming pass): decode again, normalize, ``Synthesizer.step`` (batched when the
   synthesizer offers ``step_batch``), optionally compose driving | pose | result, encode.

Memory: only the (T, 25, 3) driving body poses are held in memory (300 bytes per frame); frames, raw
MediaPipe arrays and outputs stream.

``--body target`` (face reenactment, per-person models) skips 3-4: the target's own training poses stored in
the model, in order and looped, replace the driving keypoints, so only what a method reads from the driving
record beyond the keypoints comes from the driver (e.g. a method that reads the driver's face mesh turns it into the
target's face). A *photo* driven this way is held (:class:`~reenactor.driving.HeldSource`): by default for one
pass over the training poses (at most :data:`~reenactor.driving.HOLD_DEFAULT` frames).

All the run's settings are one :class:`TransferOptions`; a method's own inference options (declared by the
method, :attr:`Method.inference_options`) travel in ``TransferOptions.method_options``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .driving import HOLD_DEFAULT, KEYPOINT_KEYS, DrivingSource, HeldSource, open_driving
from .errors import InputError
from .io.atomic import write_json
from .methods.base import PER_PERSON, POSE_SEQUENCE, REFERENCE
from .modelfile import InferenceModel, open_model
from .reference import Reference
from .threads import Background

logger = logging.getLogger(__name__)

__all__ = [
    "TransferOptions",
    "TransferResult",
    "transfer",
    "coverage",
    "side_by_side",
    "NORMALIZATIONS",
    "BACKGROUNDS",
]

NORMALIZATIONS = ("auto", "edn", "edn_upper", "first_frame", "global_alignment", "none")
BODY_SOURCES = ("driver", "target")
#: --background choices besides a file or a #rrggbb colour
BACKGROUNDS = ("target", "driving")
#: share of driving frames whose coverage distance is above the threshold that triggers a warning
POOR_COVERAGE_WARN = 0.25


@dataclass
class TransferOptions:
    """Everything a transfer run can be told (the CLI's flags, one field each)."""

    side_by_side: bool = False  # write driving | pose | result
    normalization: str = "auto"  # one of NORMALIZATIONS
    normalizer: str | Path | None = None  # reuse a saved normalizer JSON instead of fitting one
    device: str = "cpu"
    precision: str = "fp32"  # one of the method's declared precisions
    batch_size: int = 8  # frames per forward pass when the synthesizer batches
    max_frames: int | None = None  # stop after this many driving frames
    progress: bool = True
    save_normalizer: bool = True  # write OUT.normalizer.json
    check_coverage: bool = True  # per-person models: coverage of the driving poses by the training poses
    pipeline: bool | None = None  # overlap pose preparation / encoding with the network (None: where it pays)
    body: str = "driver"  # driver | target (per-person models: the target's own training poses)
    hold: int | None = None  # a photo as the driver is repeated for this many frames
    method: str | None = None  # with a model: expect this method; without: a method with nothing to train
    size: int | None = None  # a method with nothing to train: its square output size (its config's `size`)
    target_image: str | None = None  # reference methods: PHOTO, CLIP_DIR:INDEX or VIDEO:INDEX
    background: str | None = None  # reference methods: target | driving | FILE | #rrggbb (None: target)
    method_options: dict[str, Any] = field(default_factory=dict)  # the method's declared inference options
    force: bool = (
        False  # render even a driver most of whose frames cannot be rendered, or a broken-looking fit
    )
    audio: str = "driving"  # driving: the driving video's soundtrack, trimmed to the frames rendered | none
    person: str = "auto"  # a driving video with several people: whom to follow (reenactor.pose.people)

    def check(self) -> None:
        if self.normalization not in NORMALIZATIONS:
            raise InputError(
                f"unknown normalization {self.normalization!r}",
                fix=f"use one of: {', '.join(NORMALIZATIONS)}",
            )
        if self.body not in BODY_SOURCES:
            raise InputError(
                f"unknown body source {self.body!r}", fix=f"use one of: {', '.join(BODY_SOURCES)}"
            )
        if self.batch_size < 1:
            raise InputError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.max_frames is not None and self.max_frames < 1:
            raise InputError(f"--max-frames must be at least 1, got {self.max_frames}")
        if self.size is not None and not 16 <= self.size <= 4096:
            raise InputError(f"--size must be between 16 and 4096 pixels, got {self.size}")
        if self.hold is not None and self.hold < 1:
            raise InputError(
                f"a photo cannot be held for {self.hold} frames", fix="give --hold N with N >= 1"
            )
        if self.audio not in ("driving", "none"):
            raise InputError(f"unknown --audio {self.audio!r}", fix="use --audio driving or --audio none")


def check_kind(model: InferenceModel, opts: TransferOptions) -> None:
    """One clear error for a combination the model's kind does not allow (before any work is done)."""
    kind = model.kind
    if kind == POSE_SEQUENCE:
        raise InputError(
            f"method {model.method} writes driving pose sequences, not frames",
            model.name,
            "generate poses with it (`reenactor poses generate --model ...`), then drive a per-person "
            "or reference model with the .poses.npz file",
        )
    if kind == PER_PERSON:
        if opts.target_image is not None:
            raise InputError(
                f"--target-image applies to reference methods; {model.method} is a per-person model "
                "that draws the person it was trained on",
                model.name,
                "drop --target-image, or use a reference method (see `reenactor info --method NAME`)",
            )
        if opts.background is not None:
            raise InputError(
                f"--background applies to reference methods; {model.method} draws the background "
                "it was trained on",
                model.name,
                "drop --background",
            )
    if kind == REFERENCE:
        if opts.target_image is None:
            raise InputError(
                f"{model.method} is a reference method: it animates one photo of the target",
                model.name,
                "pass --target-image PHOTO (or CLIP_DIR:INDEX, VIDEO:INDEX)",
            )
        if opts.body != "driver":
            raise InputError(
                "--body target needs a per-person model's stored training poses",
                model.name,
                "drop --body target",
            )
        if opts.normalization == "edn":
            raise InputError(
                "edn normalization needs the target's range of positions over a video; a reference "
                "is one photo",
                fix="use --normalization auto (edn_upper), first_frame or global_alignment",
            )


# ---------------------------------------------------------------------------------------------- background
def parse_background(spec: str | None) -> str | np.ndarray:
    """``--background``: ``target`` / ``driving`` (as they are), ``#rrggbb`` -> an RGB colour (3,) uint8, or an
    image file (read now, so a bad file fails before any work)."""
    from .io.video import read_image

    if spec is None or spec in BACKGROUNDS:
        return spec or "target"
    if spec.startswith("#"):
        h = spec[1:]
        if len(h) != 6 or any(c not in "0123456789abcdefABCDEF" for c in h):
            raise InputError(
                f"--background {spec!r} is not a colour", fix="write a colour as #rrggbb, e.g. #00ff00"
            )
        return np.array([int(h[i : i + 2], 16) for i in (0, 2, 4)], np.uint8)
    p = Path(spec)
    if not p.is_file():
        raise InputError("background image not found", p, "pass target, driving, an image file or #rrggbb")
    try:
        return read_image(p)
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - an unreadable image
        raise InputError(
            f"background image is unreadable ({type(e).__name__})", p, "pass a PNG or JPEG"
        ) from None


def cover(img: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Resize ``img`` to fill (H, W), cropping the centre of the longer side (no distortion)."""
    h, w = hw
    ih, iw = img.shape[:2]
    s = max(h / ih, w / iw)
    nh, nw = max(h, int(round(ih * s))), max(w, int(round(iw * s)))
    r = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    y0, x0 = (nh - h) // 2, (nw - w) // 2
    return np.ascontiguousarray(r[y0 : y0 + h, x0 : x0 + w])


class Backgrounds:
    """The image a reference method composites the person over, per frame, at the output size."""

    def __init__(self, spec: str | np.ndarray, reference: Reference):
        self.hw = reference.size
        self.driving = isinstance(spec, str) and spec == "driving"
        if isinstance(spec, str):
            self.fixed = reference.background if spec == "target" else None
        elif spec.ndim == 1:
            self.fixed = np.broadcast_to(spec, (*self.hw, 3)).copy()
        else:
            self.fixed = cover(spec, self.hw)
        self.describe = (
            "the driving frames"
            if self.driving
            else "the target photo's background (person inpainted)"
            if isinstance(spec, str)
            else "a colour"
            if spec.ndim == 1
            else "an image"
        )

    def __call__(self, driving_frame: np.ndarray | None) -> np.ndarray:
        if not self.driving:
            return self.fixed
        if driving_frame is None:  # a pose file has no frames
            return np.zeros((*self.hw, 3), np.uint8)
        return cover(driving_frame, self.hw)


# ---------------------------------------------------------------------------------------------- model
def held_poses(model: InferenceModel) -> dict[str, np.ndarray]:
    """The keypoints ``--body target`` plays: the model's stored training poses (model pixels), per key."""
    poses = {k: v for k, v in model.train_poses.items() if k in KEYPOINT_KEYS}
    if "body" not in poses or not len(poses["body"]):
        raise InputError(
            "model has no stored training poses to hold the body at",
            model.name,
            "use --body driver, or re-train with this version of reenactor",
        )
    return poses


# ---------------------------------------------------------------------------------------------- normalization
def normalizer_path_for(out_path: str | Path) -> Path:
    """``out.mp4`` -> ``out.normalizer.json``."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.stem + ".normalizer.json")


def load_normalizer(path: str | Path):
    """A saved normalizer (the JSON ``reenactor transfer`` writes next to its output, or a bare to_dict)."""
    from .errors import CheckpointError
    from .pose.normalize import Normalizer

    path = Path(path)
    if not path.is_file():
        raise InputError(
            "normalizer file not found", path, "pass the .normalizer.json a previous transfer wrote"
        )
    try:
        d = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(
            f"normalizer file is not valid JSON ({e})", path, "re-fit it (omit --normalizer)"
        ) from None
    return Normalizer.from_dict(d.get("normalizer", d) if isinstance(d, dict) else d)


def fit_driving_normalizer(
    kind: str,
    driving_body: np.ndarray,
    model: InferenceModel,
    source_size: tuple[int, int] | None = None,
    force: bool = False,
    check: bool = True,
    conf_thresh: float | None = None,
):
    """Fit the driving -> target normalizer on body poses (``kind`` as ``--normalization``), onto a per-person
    model's stored training poses. A plainly broken fit (:func:`reenactor.pose.normalize.check_fit`) is refused
    with the numbers and the fix, or only warned about with ``force`` (``check=False``: not judged here).
    ``reenactor coverage`` fits with this same function (``model`` may be any object with ``train_poses``,
    ``size`` and ``name``); ``conf_thresh``: its --min-confidence (default: the normalizer's 0.05)."""
    from .pose.normalize import Normalizer, fit_normalizer

    if kind == "none":
        return Normalizer.identity()
    if kind == "global_alignment":
        raise InputError(
            "global_alignment needs the target's person masks, which a per-person model does not store",
            model.name,
            "use --normalization auto, edn, edn_upper or first_frame",
        )
    if "body" not in model.train_poses:
        raise InputError(
            f"model has no stored training poses, cannot fit a {kind!r} normalization",
            model.name,
            "pass --normalization none, or --normalizer FILE",
        )
    opts: dict[str, Any] = (
        {"source_size": source_size} if kind in ("edn", "auto") and source_size is not None else {}
    )
    if conf_thresh is not None:
        opts["conf_thresh"] = conf_thresh
    norm = fit_normalizer(kind, {"body": driving_body}, {"body": model.train_poses["body"]}, **opts)
    if check:
        refuse_broken_fit(norm, driving_body, source_size, tuple(model.size), force, kind)
    return norm


def driver_fix(used: str) -> str:
    """The fix a refused fit or driver names: a cleaner driver, another --normalization than ``used``, --force."""
    others = [k for k in ("first_frame", "edn_upper") if k != used]
    alt = " or ".join(others) + (
        "" if used == "identity" else ", or none when the two videos frame the person alike"
    )
    return (
        "drive with a video of one person, framed roughly as in the training video and without scene cuts, or "
        f"try another --normalization ({alt}); --force renders anyway"
    )


def refuse_broken_fit(
    norm, driving_body: np.ndarray, source_size, target_size, force: bool = False, asked: str = "auto"
) -> list[str]:
    """Raise :class:`InputError` naming the numbers when ``norm`` is plainly broken
    (:func:`reenactor.pose.normalize.check_fit`); with ``force`` log them as a warning instead. Returns the
    problems found."""
    from .pose.normalize import check_fit

    problems = check_fit(norm, driving_body, source_size, target_size)
    if not problems:
        return problems
    how = f"{norm.kind}" + (" (auto)" if asked == "auto" else "")
    text = f"the {how} normalization fitted on this driver looks broken: {'; '.join(problems)}"
    if force:
        logger.warning(f"[transfer] WARNING (--force): {text}; rendering anyway")
        return problems
    raise InputError(f"{text}; nothing was written", fix=driver_fix(norm.kind))


#: what ``--normalization auto`` runs onto a reference (one pose): EDN needs the target's range of positions.
#: first_frame (the first driving frame's torso onto the photo's, then the motion as it is) against edn_upper
#: (the driver's median torso size and neck onto the photo's), measured by `reenactor benchmark single-image`
#: on carphone (frame 80 the photo, 81-119 driving, pose_warp): MSE 1189 vs 1896, PCK@0.05 0.82 vs 0.24 - the
#: median neck of a moving driver is not where the photo's neck is, the first frame is.
REFERENCE_AUTO = "first_frame"


def fit_reference_normalizer(
    kind: str, source: DrivingSource, driving_body: np.ndarray, reference: Reference, force: bool = False
):
    """Fit the driving -> reference normalizer: onto the reference's single pose (``first_frame``, the default:
    the first usable driving frame's torso onto the reference's; ``edn_upper``: the driver's median torso size
    and neck onto the reference's) or its
    person mask (``global_alignment``: heights and centres of the driving masks' boxes, median over the video,
    onto the reference's, Yang et al. 2022 eq. 4). A plainly broken fit is refused (see
    :func:`refuse_broken_fit`; ``force``: a warning only)."""
    norm = _fit_reference(kind, source, driving_body, reference)
    refuse_broken_fit(norm, driving_body, source.frame_size(), tuple(reference.size), force, kind)
    return norm


def _fit_reference(kind: str, source: DrivingSource, driving_body: np.ndarray, reference: Reference):
    from .pose.normalize import Normalizer, fit_normalizer

    if kind == "none":
        return Normalizer.identity()
    if kind == "auto":
        kind = REFERENCE_AUTO
    if kind == "edn":
        raise InputError(
            "edn normalization needs the target's range of positions over a video; a reference is one photo",
            fix="use --normalization auto (edn_upper), first_frame or global_alignment",
        )
    target = reference.pose()
    if kind == "global_alignment":
        boxes = source.layout_boxes()
        if boxes is None:
            raise InputError(
                "global_alignment needs the driving person's masks, which this driving input lacks",
                source.name,
                "use --normalization auto, edn_upper or first_frame",
            )
        from .pose.normalize import layout_box

        return fit_normalizer(
            kind, {"body": driving_body}, target, source_boxes=boxes, target_boxes=layout_box(reference.mask)
        )
    return fit_normalizer(kind, {"body": driving_body}, target)


# ---------------------------------------------------------------------------------------------- coverage
#: share of the driving frames that may show no person, or one only outside the frame after normalization,
#: before transfer refuses the driver (without --force)
MAX_UNRENDERABLE = 0.5


def coverage(
    driving_body: np.ndarray,
    train_body: np.ndarray,
    frame_size: tuple[int, int] | int,
    chunk: int = 2048,
    **kw: Any,
):
    """The coverage of the normalized driving poses (T, 25, 3) by the training poses (S, 25, 3) in the model's
    frame ``frame_size`` (H, W) (an int: a square frame): :func:`reenactor.pose.metrics.assess_coverage`, the
    same computation ``reenactor coverage`` runs. Returns its :class:`~reenactor.pose.metrics.CoverageReport`
    (``.summary["verdict"]`` is the sentence both print; ``.summary["share_poor"]``: the share of the measured
    frames outside what the model has seen)."""
    from .pose.metrics import assess_coverage

    if isinstance(frame_size, (int, float, np.integer)):
        frame_size = (int(frame_size), int(frame_size))
    rep = assess_coverage(driving_body, train_body, frame_size, chunk=chunk, **kw)
    rep.summary["share_poor"] = rep.summary["share_unseen"]
    return rep


def refuse_unrenderable(
    no_person: int, off_screen: int, n: int, frame_size: tuple[int, int], norm, force: bool = False
) -> None:
    """Refuse (:class:`InputError`, before anything is written) a driver more than :data:`MAX_UNRENDERABLE` of
    whose ``n`` frames show no person (``no_person``) or one only outside the ``frame_size`` frame after
    normalization (``off_screen``); with ``force`` log a warning instead."""
    bad = no_person + off_screen
    if n <= 0 or bad / n <= MAX_UNRENDERABLE:
        return
    from .pose.normalize import fit_numbers

    parts = []
    if no_person:
        parts.append(f"{no_person} of {n} driving frames show no person")
    if off_screen:
        s, tx, ty = fit_numbers(norm)
        how = (
            f"{norm.kind}: scale {s:.3g}, translation ({tx:.0f}, {ty:.0f})"
            if norm.kind != "identity"
            else "no normalization"
        )
        parts.append(
            f"{off_screen} {'more' if no_person else f'of {n} driving frames'} show a person only outside "
            f"the model's {frame_size[1]}x{frame_size[0]} frame after normalization ({how})"
        )
    text = f"{'; '.join(parts)}: {100 * bad / n:.0f} % of the result would be rendered from an empty pose"
    if force:
        logger.warning(f"[transfer] WARNING (--force): {text}; rendering anyway")
        return
    raise InputError(
        f"most driving frames cannot be rendered: {text}; nothing was written", fix=driver_fix(norm.kind)
    )


# ---------------------------------------------------------------------------------------------- composition
def _fit_height(img: np.ndarray, h: int) -> np.ndarray:
    if img.shape[0] == h:
        return img
    w = max(2, int(round(img.shape[1] * h / img.shape[0])))
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def side_by_side(driving: np.ndarray, pose_img: np.ndarray, result: np.ndarray) -> np.ndarray:
    """driving | pose | result, all at the result's height; (H, W1 + W2 + W3, 3) uint8."""
    h = result.shape[0]
    return np.concatenate([_fit_height(driving, h), _fit_height(pose_img, h), result], axis=1)


# ---------------------------------------------------------------------------------------------- transfer
@dataclass
class TransferResult:
    out_path: Path
    n_frames: int
    fps: float
    normalizer_path: Path | None
    normalizer: str
    coverage: dict[str, Any] | None
    seconds: dict[str, float]

    @property
    def render_fps(self) -> float:
        return self.n_frames / max(self.seconds.get("render", 0.0), 1e-9)


def load_for_transfer(model: str | Path | InferenceModel | None, opts: TransferOptions) -> InferenceModel:
    """The model of a run: a loaded one, a model file, or (model None) the untrained method ``opts.method``."""
    if isinstance(model, InferenceModel):
        return model
    if opts.size is not None and model is not None:
        raise InputError(
            "--size applies to a method with nothing to train; a model file renders at the size it "
            "was trained at",
            model,
            "drop --size",
        )
    return open_model(
        model,
        method=opts.method,
        device=opts.device,
        precision=opts.precision,
        options=opts.method_options,
        config=None if opts.size is None else {"size": opts.size},
    )


def transfer(
    model: str | Path | InferenceModel | None,
    driving: str | Path | DrivingSource,
    out_path: str | Path,
    options: TransferOptions | None = None,
    *,
    frame_sink=None,
    driving_sink=None,
    **overrides: Any,
) -> TransferResult:
    """Drive ``model`` with ``driving`` and write ``out_path`` (H.264 mp4), streaming; see the module docstring.

    ``options`` (or keyword ``overrides`` of its fields) set the run. ``model`` None: the method
    ``options.method`` with nothing to train (a reference method whose ``needs_training`` is False).
    ``frame_sink``: optional callable receiving each generated frame (H, W, 3) uint8 (e.g. for metrics).
    ``driving_sink``: optional callable receiving each driving frame (None for a pose file) and its pose
    record (``face_raw`` etc., before normalization), in the same order.
    ``pipeline``: when the synthesizer splits a step into ``prepare`` (CPU: pose volumes) and ``render`` (the
    network), decoding + pose preparation and composing + encoding run in two threads around the network, so
    the three overlap (same frames, in order, bounded queues). ``None`` (default): only where there are cores
    to spare (:func:`pipeline_pays`); on a 2-core CPU whose two cores run the network, side threads slow the
    network more than they save (measured: 155 against 177 frames/s at 128x128, bf16).
    """
    from tqdm.auto import tqdm

    from .io.video import VideoWriter
    from .pose.render import draw_pose

    opts = dataclasses.replace(options or TransferOptions(), **overrides)
    opts.check()
    background = parse_background(opts.background)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    tm = load_for_transfer(model, opts)
    check_kind(tm, opts)
    times["load"] = time.perf_counter() - t0
    reference = None
    if tm.kind == REFERENCE:
        t0 = time.perf_counter()
        from .reference import load_reference

        reference = load_reference(opts.target_image, int(tm.size[0]))
        tm.synthesizer.set_reference(reference)
        times["reference"] = time.perf_counter() - t0
        logger.info(f"[transfer] target: {opts.target_image} ({reference.size[1]}x{reference.size[0]})")
    backgrounds = Backgrounds(background, reference) if reference is not None else None
    held = held_poses(tm) if opts.body == "target" else None
    src = open_driving(driving, opts.max_frames, opts.person)
    out_path = Path(out_path)
    batch_size, device = opts.batch_size, opts.device
    save_normalizer, check_coverage = opts.save_normalizer, opts.check_coverage
    # The network's one-off first-call costs are paid in the background while the driving poses are read.
    warm = Background(tm.synthesizer.warm_up, (batch_size,))
    try:
        t0 = time.perf_counter()
        src.prepare(opts.progress)
        times["poses"] = time.perf_counter() - t0
        hold = opts.hold
        if len(src) == 1:  # a photo (or a one-frame video or clip)
            n_hold = (
                hold
                if hold is not None
                else (min(len(held["body"]), HOLD_DEFAULT) if held is not None else 1)
            )
            if n_hold != 1:
                src = HeldSource(src, n_hold)
                logger.info(
                    f"[transfer] the driving photo is held for {n_hold} frames"
                    + (
                        " (--hold)"
                        if hold
                        else f" (one pass over the target's training poses, at most {HOLD_DEFAULT}; --hold N to change)"
                    )
                )
        elif hold is not None:
            logger.info(
                f"[transfer] --hold applies to a single-frame driver (a photo); {src.name} has {len(src)} frames "
                "and plays as it is"
            )
        n = len(src)
        if n == 0:
            raise InputError("driving input has no frames", src.name)
        # ---- normalization
        t0 = time.perf_counter()
        driving_body = src.bodies() if held is None else None  # held poses need no driving body poses
        if held is not None:
            from .pose.normalize import Normalizer

            norm = Normalizer.identity()
            save_normalizer = check_coverage = False
            logger.info(
                f"[transfer] body: the target's own {len(held['body'])} training poses, in order and looped "
                "(--body target); the driving input gives the face only"
            )
        elif opts.normalizer is not None:
            norm = load_normalizer(opts.normalizer)
            logger.info(f"[transfer] normalization from {opts.normalizer}: {norm.describe()}")
        elif reference is not None:
            norm = fit_reference_normalizer(
                opts.normalization, src, driving_body, reference, force=opts.force
            )
            how = " (auto for a reference)" if opts.normalization == "auto" else ""
            logger.info(f"[transfer] normalization onto the reference{how}: {norm.describe()}")
        else:
            norm = fit_driving_normalizer(
                opts.normalization, driving_body, tm, src.frame_size(), force=opts.force
            )
            logger.info(f"[transfer] normalization: {norm.describe()}")
        times["normalize"] = time.perf_counter() - t0
        # ---- coverage (eq. 8) and the verdict; a driver most of whose frames cannot be rendered is refused here,
        # before anything is written
        cov = None
        if driving_body is not None:
            t0 = time.perf_counter()
            moved = norm.apply({"body": driving_body})["body"]
            norm.reset()
            out_hw = tuple(int(v) for v in (reference.size if reference is not None else tm.size))
            if reference is None and check_coverage and "body" in tm.train_poses:
                rep = coverage(moved, tm.train_poses["body"], out_hw)
                cov = rep.summary
                no_person, off_screen = cov["counts"]["no_person"], cov["counts"]["off_screen"]
            else:
                from .pose.metrics import presence

                no_person, off_screen = (int(m.sum()) for m in presence(moved, out_hw))
                if reference is not None and check_coverage:
                    logger.info(
                        "[transfer] coverage is not computed for a reference target: one photo has no training "
                        "poses to compare the driving poses with"
                    )
            refuse_unrenderable(no_person, off_screen, len(moved), out_hw, norm, opts.force)
            if cov is not None:
                _log_coverage(cov, tm, driving)
            times["coverage"] = time.perf_counter() - t0
            del moved
        norm_path = None
        if save_normalizer:
            norm_path = normalizer_path_for(out_path)
            write_json(norm_path, {"normalizer": norm.to_dict(), "model": tm.name, "driving": src.name})
        del driving_body
        if backgrounds is not None:
            logger.info(f"[transfer] background: {backgrounds.describe}")
        # ---- render
        t0 = time.perf_counter()
        warm.join()  # the network's one-off first-call costs, paid while the poses were read; not rendering
        times["warm_up_wait"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        synth = tm.synthesizer
        synth.reset()
        norm.reset()
        ahead = int(getattr(synth, "lookahead", 0))  # poses after a batch the synthesizer needs (as `ahead`)
        batched = hasattr(synth, "step_batch") and (batch_size > 1 or ahead > 0)
        pipeline = pipeline_pays(device) if opts.pipeline is None else opts.pipeline
        staged = pipeline and hasattr(synth, "prepare") and hasattr(synth, "render")
        per = max(batch_size, 1) if (batched or staged) else 1
        ahead = ahead if (batched or staged) else 0
        out_hw = tm.size
        drive_hw = src.frame_size() or out_hw
        bar = tqdm(total=n, desc="render", unit="frame", disable=not opts.progress)
        written = 0

        # A batched synthesizer sees the normalized keypoints only: then the driving frame is read (or decoded)
        # only for --side-by-side or a driving_sink, and of each record only the keypoints (and all of it for a
        # driving_sink); step() gets the whole record and the frame.
        need_all = not batched or driving_sink is not None
        read_frames = need_all or opts.side_by_side
        read_keys = None if need_all else KEYPOINT_KEYS

        def batches() -> Iterator[tuple[list[tuple[np.ndarray | None, dict, dict]], list[dict]]]:
            """Driving frames in groups of ``per``: ([(frame or None, record, normalized pose)], the normalized
            poses of the next ``ahead`` frames, fewer at the end)."""
            pending: list[tuple[np.ndarray | None, dict, dict]] = []
            for i, (frame, rec) in enumerate(src.iter_frames(frames=read_frames, keys=read_keys)):
                if held is not None:
                    pose = {k: v[i % len(v)] for k, v in held.items()}
                else:
                    pose = norm.apply({k: rec[k] for k in KEYPOINT_KEYS if k in rec})
                pending.append((frame, rec, pose))
                if len(pending) >= per + ahead:
                    yield pending[:per], [p for _, _, p in pending[per:]]
                    pending = pending[per:]
            while pending:
                yield pending[:per], [p for _, _, p in pending[per : per + ahead]]
                pending = pending[per:]

        def after(nxt: list[dict]) -> dict:
            return {"ahead": nxt} if ahead else {}

        def extras(fr: np.ndarray | None, rec: dict) -> dict:
            ex = {**rec, "frame": fr}
            if backgrounds is not None:
                ex["background"] = backgrounds(fr)
            return ex

        def emit(writer, group, results) -> None:
            nonlocal written
            for (fr, rec, pose), res in zip(group, results):
                res = np.asarray(res)
                if frame_sink is not None:
                    frame_sink(res)
                if driving_sink is not None:
                    driving_sink(fr, rec)
                if opts.side_by_side:
                    # one frame per step (per == 1): the synthesizer's own view of its last input, if it has one
                    view = synth.input_view() if per == 1 else None
                    shown = (
                        fr
                        if fr is not None
                        else draw_pose(drive_hw, {k: rec[k] for k in KEYPOINT_KEYS if k in rec})
                    )
                    res = side_by_side(shown, draw_pose(out_hw, pose) if view is None else view, res)
                writer.write(np.ascontiguousarray(res))
                written += 1
            bar.update(len(group))

        # On the CPU the encoder runs beside the generator on the same cores: one x264 thread spends the least
        # CPU per frame (0.38 ms against 0.63 ms with x264's own choice at 128x128). On a GPU, x264 picks.
        # Without the pipeline, encoding still runs in the writer's background thread (+3 % frames/s on 2 cores).
        with VideoWriter(
            out_path, fps=src.fps, threads=1 if str(device).startswith("cpu") else 0, background=not staged
        ) as writer:
            if staged:
                _run_pipelined(synth, batches(), lambda g, r: emit(writer, g, r), after)
            else:
                for group, nxt in batches():
                    if batched:
                        results = synth.step_batch([p for _, _, p in group], **after(nxt))
                    else:
                        results = [synth.step(p, extras(fr, rec)) for fr, rec, p in group]
                    emit(writer, group, results)
        bar.close()
        times["render"] = time.perf_counter() - t0
        # ---- sound: a driving video's soundtrack over the frames rendered (a held photo, clip, pose file: none)
        sound = src.audio_path()
        if opts.audio == "driving" and sound is not None and written:
            from .io.video import mux_audio

            t0 = time.perf_counter()
            try:
                what = mux_audio(out_path, sound, duration=written / src.fps)
            except InputError as e:
                logger.warning(f"[transfer] WARNING: the result is silent: {e}")
            else:
                logger.info(
                    f"[transfer] audio: {what} from {sound.name}"
                    if what
                    else f"[transfer] audio: {sound.name} has no sound; the result is silent"
                )
            times["audio"] = time.perf_counter() - t0
    except BaseException:
        if norm_path_written(out_path):
            normalizer_path_for(out_path).unlink(missing_ok=True)
        raise
    finally:
        warm.join()
        src.close()
    return TransferResult(out_path, written, src.fps, norm_path, norm.kind, cov, times)


def norm_path_written(out_path: Path) -> bool:
    """Whether a failed run left its normalizer JSON beside a missing output (then it is removed)."""
    return normalizer_path_for(out_path).exists() and not Path(out_path).exists()


def pipeline_pays(device: str = "cpu") -> bool:
    """Whether overlapping pose preparation and encoding with the network in threads is faster: on an
    accelerator always; on the CPU when there is at least one core beyond torch's threads."""
    if not str(device).startswith("cpu"):
        return True
    import torch

    return (os.cpu_count() or 1) > torch.get_num_threads()


def _run_pipelined(synth, groups: Iterator[tuple[list, list]], emit, after=lambda nxt: {}) -> None:
    """Three stages in three threads joined by bounded queues: ``groups`` ((group, poses after it)) ->
    ``synth.prepare`` (this reader thread; ``after(poses after it)``: its keyword arguments beyond the group's
    poses), ``synth.render`` (the calling thread), ``emit`` (a writer thread). Order is kept; the first exception
    of any stage is re-raised here."""
    import queue

    done = object()
    q_in: queue.Queue = queue.Queue(maxsize=2)
    q_out: queue.Queue = queue.Queue(maxsize=2)
    errors: list[BaseException] = []
    stop = threading.Event()

    def put(q: queue.Queue, item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def reader() -> None:
        try:
            for group, nxt in groups:
                if not put(q_in, (group, synth.prepare([p for _, _, p in group], **after(nxt)))):
                    return
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            errors.append(e)
            stop.set()
        finally:
            put(q_in, done)

    def writer() -> None:
        try:
            while True:
                try:
                    item = q_out.get(timeout=0.1)
                except queue.Empty:
                    if stop.is_set():
                        return
                    continue
                if item is done:
                    return
                emit(*item)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
            stop.set()

    tr, tw = Background(reader), Background(writer)
    try:
        while not stop.is_set():
            try:
                item = q_in.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is done:
                break
            group, x = item
            y = synth.render(x)
            if hasattr(synth, "release"):
                synth.release(x)  # its buffer may be reused by the next prepare
            if not put(q_out, (group, y)):
                break
    except BaseException:
        stop.set()
        raise
    finally:
        put(q_out, done)  # returns at once when a stage failed (stop is set)
        tw.join()
        stop.set()  # release a reader still blocked on a full queue
        tr.join(timeout=5)
    if errors:
        raise errors[0]


def _log_coverage(cov: dict[str, Any], model: InferenceModel | None = None, driving: Any = None) -> None:
    """Log the one-sentence verdict (the same ``reenactor coverage`` prints); when many driving frames lie
    outside what the model has seen, where the per-frame and per-limb detail is (the coverage command)."""
    logger.info(f"[transfer] coverage: {cov['verdict']}")
    poor = cov.get("share_poor")
    if (
        poor is not None
        and poor > POOR_COVERAGE_WARN
        and model is not None
        and model.path is not None
        and isinstance(driving, (str, Path))
    ):
        logger.info(
            f"[transfer] which frames and limbs: reenactor coverage --reference {model.path} --driving {driving} "
            "-o COVERAGE_DIR"
        )
