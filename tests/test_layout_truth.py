"""The hand-drawn layout ground truth (tests/data/layout_gt/gt.json) and the estimator's IoU against it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reenactor.evaluation.layout_truth import (
    GT_PATH,
    SCORED,
    entry_key,
    evaluate_estimator,
    frame_iou,
    iou_table,
    load_ground_truth,
    rasterize,
)
from reenactor.parsing.labels import LAYOUT

# Measured with reenactor.parsing.layout.estimate_layout on MediaPipe Holistic (static mode), see
# benchmarks/layout_truth.py: mean IoU face 0.82, background 0.95, upper_clothes 0.88, hair 0.51; the
# thresholds sit a little below.
MIN_MEAN_IOU = {"face": 0.78, "background": 0.92, "upper_clothes": 0.82, "hair": 0.45}


@pytest.fixture(scope="module")
def gt():
    return load_ground_truth()


def test_ground_truth_loads(gt):
    assert GT_PATH.stat().st_size < 20_000  # small, text
    assert len(gt) >= 8
    keys = [entry_key(e) for e in gt]
    assert len(set(keys)) == len(keys)
    assert {e["sample"] for e in gt} >= {"carphone", "astronaut", "hopper", "bikes"}
    assert all(e["notes"] for e in gt)


def test_polygons_inside_frame_and_rasterize(gt):
    for e in gt:
        h, w = e["size"]
        for poly in [p for ps in e["polygons"].values() for p in ps] + e["ignore"]:
            a = np.asarray(poly, np.float64)
            assert a.ndim == 2 and a.shape[1] == 2 and len(a) >= 3, entry_key(e)
            assert (a[:, 0] >= 0).all() and (a[:, 0] <= w).all(), entry_key(e)
            assert (a[:, 1] >= 0).all() and (a[:, 1] <= h).all(), entry_key(e)
        labels, ignore = rasterize(e)
        assert labels.shape == (h, w) and labels.dtype == np.uint8 and ignore.shape == (h, w)
        present = set(np.unique(labels[~ignore]).tolist())
        # every entry has face and background, each with a real area, and the person is not everything
        assert LAYOUT.index("face") in present and 0 in present, entry_key(e)
        assert np.count_nonzero((labels == LAYOUT.index("face")) & ~ignore) >= 200, entry_key(e)
        assert 0.05 < np.count_nonzero(labels > 0) / labels.size < 0.9, entry_key(e)
        for name in e["polygons"]:  # each drawn label survives the paint order somewhere
            assert np.any(labels == LAYOUT.index(name)), (entry_key(e), name)


def test_arms_are_drawn_somewhere(gt):
    """The truth holds bare arms of both sides (the cyclist), so arm IoUs are measurable."""
    both = [e for e in gt if {"left_arm", "right_arm"} <= set(e["polygons"])]
    assert both


def test_iou_table_on_truth_and_on_shifted_truth(gt):
    truth = {entry_key(e): rasterize(e)[0] for e in gt}
    exact = iou_table(truth, gt)
    for name in ("face", "background", "upper_clothes", "person"):
        assert exact["mean"][name] == pytest.approx(1.0)
        assert exact["pooled"][name] == pytest.approx(1.0)
    shifted = {k: np.roll(v, 6, axis=1) for k, v in truth.items()}
    worse = iou_table(shifted, gt)
    assert worse["mean"]["face"] < 0.95 and worse["mean"]["background"] < 1.0
    # a label in neither truth nor estimate has no IoU; an estimate with labels the truth lacks scores 0
    e = gt[0]
    lab, ign = rasterize(e)
    assert "left_arm" not in e["polygons"]
    assert math.isnan(iou_table({entry_key(e): lab}, [e])["frames"][entry_key(e)]["left_arm"])
    fake = lab.copy()
    fake[lab == LAYOUT.index("upper_clothes")] = LAYOUT.index("left_arm")
    row = iou_table({entry_key(e): fake}, [e])["frames"][entry_key(e)]
    assert row["left_arm"] == 0.0 and row["upper_clothes"] == 0.0 and row["person"] == pytest.approx(1.0)
    # ignored pixels do not count
    everything_face = np.full_like(lab, LAYOUT.index("face"))
    i, u = frame_iou(everything_face, lab, np.ones_like(ign))["face"]
    assert (i, u) == (0, 0)
    assert set(SCORED) >= {"face", "hair", "upper_clothes", "arms", "left_arm", "right_arm", "background"}


def test_estimator_against_ground_truth(gt):
    """The accuracy of estimate_layout on the hand-drawn frames (MediaPipe on 9 frames: a few seconds)."""
    res = evaluate_estimator(gt=gt, return_layouts=True)
    assert all(res["person_found"].values()), res["person_found"]
    for name, low in MIN_MEAN_IOU.items():
        assert res["mean"][name] >= low, (name, res["mean"][name], res["frames"])
    # the thresholds reject a layout without parts: the same person mask, all upper clothes
    flat = {
        k: np.where(v > 0, LAYOUT.index("upper_clothes"), 0).astype(np.uint8)
        for k, v in res["layouts"].items()
    }
    worse = iou_table(flat, gt)
    assert (
        worse["mean"]["face"] < MIN_MEAN_IOU["face"]
        and worse["mean"]["upper_clothes"] < MIN_MEAN_IOU["upper_clothes"]
    )
    assert worse["mean"]["background"] == pytest.approx(res["mean"]["background"])  # that one is the mask's
    # every frame's face is found and placed (the worst: bikes:120, a 25-pixel face under a helmet, 0.48)
    assert min(f["face"] for f in res["frames"].values()) > 0.4, res["frames"]
    # the cyclist's bare forearms are labelled as arms, of the right sides
    row = res["frames"]["bikes:120"]
    assert row["left_arm"] > 0.35 and row["right_arm"] > 0.35, row  # measured 0.47, 0.65
