"""A small hand-drawn ground truth for body-part layouts, and per-label IoU against it.

This is the one accuracy measure of :func:`reenactor.parsing.layout.estimate_layout` (the checks in
:mod:`reenactor.parsing.quality` need no ground truth and so measure consistency, not accuracy).

**The ground truth** (``tests/data/layout_gt/gt.json``): 9 frames of real footage that ships in installed
packages: carphone frames 0, 30, 60, 90 and 119 (one man in a car, different head poses), the astronaut and
Grace Hopper photos, and bikes frames 35 (a man in a suit, head cut by the top edge) and 120 (a cyclist with
bare forearms, shorts and a helmet). Each was drawn **by eye**: the frame was enlarged (4-9x for the video
frames, 1.2-4x for the photos; the dim bikes frames contrast-equalised) with a labelled pixel grid, coarse
polygons (10-40 vertices) were written in original-frame pixels for face (forehead to chin, ear to ear,
hair excluded), hair, upper clothes (sleeves included, as in CIHP), bare-skin arms (the person's left and
right), hat, pants and legs where present; the polygons were rendered back over the frame in the layout
palette and corrected until they matched what was seen. Precision is a few pixels (about 2 px on carphone's
176 x 144, 3-6 px on the photos). Everything outside the person polygons is background. ``ignore`` polygons
cover what is ambiguous or not a scored label: necks (face, torso skin or nothing, depending on the
annotator), hands, and dark clothing against a dark car seat; ignored pixels are left out of every IoU.

Entries: ``{sample, frame, size [H, W], polygons {label: [polygon, ...]}, ignore [polygon, ...], notes}``,
polygons as ``[[x, y], ...]`` in pixels of the original frame, labels named as in
:data:`reenactor.parsing.labels.LAYOUT`. Overlaps are resolved by a fixed paint order (:data:`PAINT_ORDER`:
clothes, then limbs, then the head, the face last).

**Scores** (:func:`iou_table`): per frame and per scored label (:data:`SCORED`: face, hair, upper_clothes,
arms = left_arm + right_arm, left_arm, right_arm, background, and person = not background), IoU over the
pixels outside ``ignore``; a label absent from both the truth and the estimate of a frame has no IoU there.
``mean`` averages the frames where a label has one, ``mean_truth`` the frames whose truth holds the label;
``pooled`` is the sum of intersections over the sum of unions of all frames.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..parsing.labels import LAYOUT

#: the shipped ground truth
GT_PATH = Path(__file__).resolve().parents[3] / "tests" / "data" / "layout_gt" / "gt.json"

#: later labels are painted over earlier ones
PAINT_ORDER: tuple[str, ...] = (
    "dress", "coat", "upper_clothes", "torso_skin", "scarf", "skirt", "pants", "left_leg", "right_leg",
    "socks", "left_shoe", "right_shoe", "left_arm", "right_arm", "glove", "left_hand", "right_hand", "hat",
    "hair", "sunglasses", "face",
)  # fmt: skip

_L = LAYOUT.index
#: scored label -> the LAYOUT labels it merges
SCORED: dict[str, tuple[int, ...]] = {
    "face": (_L("face"),),
    "hair": (_L("hair"),),
    "upper_clothes": (_L("upper_clothes"),),
    "arms": (_L("left_arm"), _L("right_arm")),
    "left_arm": (_L("left_arm"),),
    "right_arm": (_L("right_arm"),),
    "background": (0,),
    "person": tuple(range(1, len(LAYOUT))),
}


def entry_key(entry: Mapping[str, Any]) -> str:
    """``"sample:frame"``, e.g. ``"carphone:30"``."""
    return f"{entry['sample']}:{entry['frame']}"


def _polygons(value) -> list[list[list[float]]]:
    """One polygon ``[[x, y], ...]`` or a list of them -> a list of polygons."""
    if not value:
        return []
    if isinstance(value[0][0], (int, float)):
        return [value]
    return list(value)


def load_ground_truth(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The ground-truth entries (see the module docstring), polygons normalised to lists of polygons.
    Raises ``ValueError`` on an unknown label or a malformed entry."""
    p = Path(path) if path is not None else GT_PATH
    data = json.loads(p.read_text())
    if not isinstance(data, list):
        raise ValueError(f"{p}: expected a list of entries")
    out = []
    for i, e in enumerate(data):
        for k in ("sample", "frame", "size", "polygons"):
            if k not in e:
                raise ValueError(f"{p}: entry {i} has no {k!r}")
        polys = {}
        for name, value in e["polygons"].items():
            if name not in LAYOUT.labels:
                raise ValueError(f"{p}: entry {i} ({entry_key(e)}): unknown label {name!r}")
            polys[name] = _polygons(value)
        h, w = (int(v) for v in e["size"])
        out.append(
            {
                "sample": str(e["sample"]),
                "frame": int(e["frame"]),
                "size": [h, w],
                "polygons": polys,
                "ignore": _polygons(e.get("ignore", [])),
                "notes": e.get("notes", ""),
            }
        )
    return out


def _fill(canvas: np.ndarray, polygon, value: int) -> None:
    pts = np.round(np.asarray(polygon, np.float64)).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(canvas, [pts], int(value))


def rasterize(entry: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """One entry -> ``(labels (H, W) uint8 LAYOUT labels, ignore (H, W) bool)``."""
    h, w = entry["size"]
    labels = np.zeros((h, w), np.uint8)
    polys = entry["polygons"]
    order = [n for n in PAINT_ORDER if n in polys] + [n for n in polys if n not in PAINT_ORDER]
    for name in order:
        for poly in _polygons(polys[name]):
            _fill(labels, poly, LAYOUT.index(name))
    ignore = np.zeros((h, w), np.uint8)
    for poly in _polygons(entry.get("ignore", [])):
        _fill(ignore, poly, 1)
    return labels, ignore.astype(bool)


def frame_iou(
    pred: np.ndarray, truth: np.ndarray, ignore: np.ndarray | None = None
) -> dict[str, tuple[int, int]]:
    """Per scored label, ``(intersection, union)`` pixel counts outside ``ignore``."""
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"prediction {pred.shape} and truth {truth.shape} differ in size")
    keep = np.ones(truth.shape, bool) if ignore is None else ~np.asarray(ignore, bool)
    out = {}
    for name, labs in SCORED.items():
        p, t = np.isin(pred, labs) & keep, np.isin(truth, labs) & keep
        out[name] = (int(np.count_nonzero(p & t)), int(np.count_nonzero(p | t)))
    return out


def iou_table(
    pred: Mapping[str, np.ndarray], gt: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """Per-label IoU of estimated layouts against the ground truth.

    ``pred``: ``{entry_key: (H, W) LAYOUT labels}`` (every entry of ``gt`` needs one); ``gt``: entries of
    :func:`load_ground_truth` (default: the shipped file). Returns ``{"frames": {key: {label: iou}},
    "mean": {label: iou}, "mean_truth": {label: iou}, "pooled": {label: iou}, "counts": {label: n},
    "counts_truth": {label: n}}``: ``mean`` over the ``counts`` frames where the label is in the truth or the
    estimate (a few stray estimated pixels make a frame's IoU 0), ``mean_truth`` over the ``counts_truth``
    frames where it is in the truth. An IoU is NaN where it is over no pixels or no frames.
    """
    gt = load_ground_truth() if gt is None else gt
    frames: dict[str, dict[str, float]] = {}
    in_truth: dict[str, set[str]] = {n: set() for n in SCORED}
    inter = dict.fromkeys(SCORED, 0)
    union = dict.fromkeys(SCORED, 0)
    for e in gt:
        key = entry_key(e)
        if key not in pred:
            raise KeyError(f"no estimate for ground-truth frame {key}")
        truth, ignore = rasterize(e)
        counts = frame_iou(pred[key], truth, ignore)
        frames[key] = {n: (i / u if u else math.nan) for n, (i, u) in counts.items()}
        for n, (i, u) in counts.items():
            inter[n] += i
            union[n] += u
            if np.any(np.isin(truth, SCORED[n]) & ~ignore):
                in_truth[n].add(key)

    def avg(vals: list[float]) -> float:
        return float(np.mean(vals)) if vals else math.nan

    mean, mean_truth, n_frames, n_truth = {}, {}, {}, {}
    for n in SCORED:
        vals = [f[n] for f in frames.values() if not math.isnan(f[n])]
        mean[n], n_frames[n] = avg(vals), len(vals)
        mean_truth[n], n_truth[n] = avg([frames[k][n] for k in in_truth[n]]), len(in_truth[n])
    pooled = {n: (inter[n] / union[n] if union[n] else math.nan) for n in SCORED}
    return {
        "frames": frames,
        "mean": mean,
        "mean_truth": mean_truth,
        "pooled": pooled,
        "counts": n_frames,
        "counts_truth": n_truth,
    }


def load_frame(sample: str, frame: int) -> np.ndarray:
    """Frame ``frame`` (0 for a photo) of a bundled sample, RGB uint8."""
    from ..io.video import iter_frames
    from ..samples import sample_path

    for img in iter_frames(sample_path(sample), start=frame, stop=frame + 1):
        return img
    raise IndexError(f"sample {sample!r} has no frame {frame}")


def extract(image: np.ndarray, extractor=None) -> dict[str, Any]:
    """MediaPipe Holistic in static mode (a fresh detection, no tracking) on one frame: the
    :meth:`~reenactor.pose.holistic.HolisticExtractor.process` dict, in pixels of ``image``."""
    from ..pose.holistic import HolisticExtractor

    if extractor is not None:
        extractor.reset()
        return extractor.process(image)
    with HolisticExtractor(static_image_mode=True) as ex:
        return ex.process(image)


def _call(estimate_fn: Callable, image: np.ndarray, r: Mapping[str, Any]) -> np.ndarray:
    kwargs = {"face_raw": r["face_raw"], "hand_left": r["hand_left"], "hand_right": r["hand_right"]}
    try:
        params = inspect.signature(estimate_fn).parameters
        takes_pose = "pose_raw" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
    except (TypeError, ValueError):
        takes_pose = False
    if takes_pose:
        kwargs["pose_raw"] = r["pose_raw"]
    return np.asarray(estimate_fn(image, r["mask"], r["body"], **kwargs))


def evaluate_estimator(
    estimate_fn: Callable | None = None,
    gt: Sequence[Mapping[str, Any]] | None = None,
    return_layouts: bool = False,
) -> dict[str, Any]:
    """Run a layout estimator on every ground-truth frame and score it with :func:`iou_table`.

    Each frame is decoded at its original size and MediaPipe Holistic runs on it in static mode (a fresh
    detection per frame; no tracking from neighbouring frames), giving the person mask and keypoints in
    original-frame pixels; ``estimate_fn(image, mask, body, face_raw=, hand_left=, hand_right=[, pose_raw=])``
    (default :func:`reenactor.parsing.layout.estimate_layout`) returns ``(H, W)`` LAYOUT labels. Returns the
    :func:`iou_table` dict plus ``"person_found"`` ``{key: bool}`` and, with ``return_layouts``,
    ``"layouts"`` ``{key: labels}`` and ``"frames_rgb"`` ``{key: image}``.
    """
    from ..pose.holistic import HolisticExtractor

    if estimate_fn is None:
        from ..parsing.layout import estimate_layout as estimate_fn
    gt = load_ground_truth() if gt is None else gt
    layouts, images, found = {}, {}, {}
    with HolisticExtractor(static_image_mode=True) as ex:
        for e in gt:
            key = entry_key(e)
            img = load_frame(e["sample"], e["frame"])
            if list(img.shape[:2]) != list(e["size"]):
                raise ValueError(f"{key}: frame is {img.shape[:2]}, the ground truth says {e['size']}")
            r = extract(img, ex)
            found[key] = bool(r["person"])
            layouts[key] = _call(estimate_fn, img, r).astype(np.uint8)
            images[key] = img
    out = iou_table(layouts, gt)
    out["person_found"] = found
    if return_layouts:
        out["layouts"] = layouts
        out["frames_rgb"] = images
    return out


def format_table(result: Mapping[str, Any], labels: Sequence[str] | None = None) -> str:
    """A plain-text table: one row per frame, then ``mean`` and ``pooled``."""
    labels = list(labels or SCORED)
    w = max(14, *(len(k) for k in result["frames"]))

    def cell(v: float) -> str:
        return f"{'-':>14s}" if math.isnan(v) else f"{v:14.3f}"

    lines = [f"{'frame':{w}s}" + "".join(f"{n:>14s}" for n in labels)]
    for key, row in result["frames"].items():
        lines.append(f"{key:{w}s}" + "".join(cell(row[n]) for n in labels))
    lines.append(f"{'mean':{w}s}" + "".join(cell(result["mean"][n]) for n in labels))
    if "mean_truth" in result:
        lines.append(f"{'mean in truth':{w}s}" + "".join(cell(result["mean_truth"][n]) for n in labels))
    lines.append(f"{'pooled':{w}s}" + "".join(cell(result["pooled"][n]) for n in labels))
    return "\n".join(lines)


__all__ = [
    "GT_PATH",
    "PAINT_ORDER",
    "SCORED",
    "entry_key",
    "load_ground_truth",
    "rasterize",
    "frame_iou",
    "iou_table",
    "load_frame",
    "extract",
    "evaluate_estimator",
    "format_table",
]
