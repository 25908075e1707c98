"""End-to-end tests of evaluate_videos / write_report / `reenactor evaluate` on the real carphone clip."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from reenactor.errors import InputError
from reenactor.metrics import evaluate_videos, write_report
from reenactor.metrics.report import json_safe

T = 6


@pytest.fixture(scope="module")
def clip_data(carphone_clip):
    """First T frames (128x128) of the carphone clip, their person masks and keypoints."""
    frames = np.asarray(carphone_clip.frames()[:T])
    masks = np.asarray(carphone_clip.load("mask")[:T])
    kp = {k: v[:T] for k, v in carphone_clip.keypoints().items()}
    return frames, masks, kp


@pytest.fixture(scope="module")
def clip_videos(tmp_path_factory, clip_data):
    from reenactor.io.video import write_video

    root = tmp_path_factory.mktemp("evalvid")
    gt = root / "gt.mp4"
    write_video(gt, clip_data[0], fps=25)
    return root, gt


def _full(pred, clip_data, carphone_clip, pose=True, identity=True, **kw):
    gt, masks, kp = clip_data
    return evaluate_videos(
        pred,
        gt,
        masks=masks,
        pose_ref=kp if pose else None,
        identity_ref=carphone_clip.root if identity else None,
        progress=False,
        verbose=False,
        **kw,
    )


@pytest.fixture(scope="module")
def identical_report(clip_data, carphone_clip):
    return _full(clip_data[0], clip_data, carphone_clip)


HIGHER = ("ssim", "psnr", "mask_ssim", "mask_psnr", "tcm", "pose_pck")
LOWER = ("lpips_effnet", "fid_effnet", "pose_error_px", "identity_distance")


def _assert_worse(a: dict, b: dict, names) -> None:
    """Every metric in ``names`` is strictly worse in report ``b`` than in report ``a``."""
    for name in names:
        va, vb = a["summary"][name], b["summary"][name]
        assert va is not None and vb is not None and not math.isnan(vb), (name, va, vb)
        if name in HIGHER:
            assert vb < va, (name, va, vb)
        else:
            assert vb > va, (name, va, vb)


def test_identical_videos_perfect_scores(identical_report, tmp_path):
    r = identical_report
    s = r["summary"]
    assert s["ssim"] == pytest.approx(1.0, abs=1e-12)
    assert s["mask_ssim"] == pytest.approx(1.0, abs=1e-12)
    assert s["psnr"] == math.inf and s["mask_psnr"] == math.inf
    assert r["metrics"]["psnr"]["identical_frames"] == T
    assert s["tcm"] == pytest.approx(math.exp(-1), abs=1e-9)  # TCM's value for output == ground truth
    assert s["lpips_effnet"] == pytest.approx(0.0, abs=1e-6)
    assert s["fid_effnet"] == pytest.approx(0.0, abs=1e-3)
    assert "lpips" not in s and "fid" not in s  # variants never reported under the papers' names
    assert s["identity_distance"] < 0.3 and r["metrics"]["identity_distance"]["face_detected"] == 1.0
    assert s["pose_pck"] > 0.9 and s["pose_error_px"] < 3.0
    # JSON: strict (no NaN/Infinity tokens), inf written as "inf"
    text = json.dumps(json_safe(r), allow_nan=False)
    back = json.loads(text)
    assert back["metrics"]["psnr"]["value"] == "inf"
    files = write_report(r, tmp_path / "rep")
    data = json.loads(files["json"].read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert data["summary"]["psnr"] == "inf" and data["per_frame"]["tcm"][0] is None
    for m in data["metrics"].values():
        assert {"name", "value", "backbone", "higher_is_better"} <= set(m)


def test_every_metric_says_how_to_read_it(identical_report, tmp_path):
    """metrics.json (and report.md / metrics.png) carry, per metric, how to read it and the references computed
    in the same run: the ground truth against itself and the ground truth blurred (Gaussian sigma 2)."""
    files = write_report(identical_report, tmp_path / "rep")
    data = json.loads(files["json"].read_text())
    for name, m in data["metrics"].items():
        assert len(m["reading"]) > 40 and m["direction"], name
    tcm = data["metrics"]["tcm"]
    assert tcm["higher_is_better"] is None and "0.368" in tcm["direction"] and "flicker" in tcm["reading"]
    assert tcm["reference"]["ground_truth"] == pytest.approx(math.exp(-1))
    assert tcm["reference"]["ground_truth_blurred"] > 0.5  # a blurred copy scores far above the ground truth
    for name in ("lpips_effnet", "fid_effnet"):
        m = data["metrics"][name]
        assert m["reading"].startswith("NOT ") and m["direction"] == "lower is better"
        assert m["reference"]["ground_truth"] == 0 and m["reference"]["ground_truth_blurred"] > 0.1
        assert m["reference"]["blur_sigma"] == 2.0
    assert data["metrics"]["fid_effnet"]["reference"]["frames"] == T  # FID's reference: the same frame count
    assert 0.3 < data["metrics"]["ssim"]["reference"]["ground_truth_blurred"] < 1
    assert 15 < data["metrics"]["psnr"]["reference"]["ground_truth_blurred"] < 40
    cost = data["cost"]
    assert cost["fast_set"] == ["ssim", "psnr", "tcm"] and cost["fast_flag"] == "--fast"
    assert {"lpips_effnet", "fid_effnet", "ssim", "tcm"} <= set(cost["seconds"])
    assert sum(cost["share"].values()) == pytest.approx(1.0, abs=0.02)
    md = files["md"].read_text()
    assert "how to read it" in md and "compare with the ground truth's 0.368" in md and "--fast" in md
    assert files["table"].stat().st_size > 0 and "Cost" in files["html"].read_text()


def test_worst_frames_are_spread_over_the_video():
    """A long bad stretch does not fill the worst-frames panel with near-copies: picks are >= n / (2 K) apart."""
    rng = np.random.default_rng(3)
    gt = rng.integers(0, 255, (40, 32, 32, 3), dtype=np.uint8)
    pred = gt.copy()
    pred[10:25] = 255 - pred[10:25]  # a long stretch of bad frames ...
    pred[33] = 0  # ... and one more, later
    r = evaluate_videos(pred, gt, metrics=["ssim"], worst_k=4, progress=False, verbose=False)
    frames = [w["frame"] for w in r["worst_frames"]]
    assert r["worst_min_gap"] == 5 and len(frames) == 4
    assert all(abs(a - b) >= 5 for a in frames for b in frames if a != b) and 33 in frames


@pytest.mark.parametrize("kind", ["noise", "shift"])
def test_degradation_makes_every_metric_worse(identical_report, clip_data, carphone_clip, kind):
    """Three increasing levels of per-frame noise (or of frame shifts) worsen every metric monotonically.

    Noise: all metrics but pose accuracy (MediaPipe is robust to mild noise by design). Shift (frames moved
    sideways, alternating direction = jitter): all but face identity (a face descriptor is shift-invariant).
    """
    gt = clip_data[0]
    rng = np.random.default_rng(0)
    if kind == "noise":
        levels = (2.0, 5.0, 8.0)  # the HOG face detector starts missing 128-px faces at sigma ~10
        preds = [np.clip(gt + rng.normal(0, s, gt.shape), 0, 255).astype(np.uint8) for s in levels]
        names = [n for n in HIGHER + LOWER if not n.startswith("pose")]
    else:
        levels = (1, 3, 6)
        preds = [np.stack([np.roll(f, d if t % 2 else -d, axis=1) for t, f in enumerate(gt)]) for d in levels]
        names = [n for n in HIGHER + LOWER if n != "identity_distance"]
    reports = [identical_report] + [
        _full(p, clip_data, carphone_clip, pose=kind == "shift", identity=kind == "noise") for p in preds
    ]
    for a, b in zip(reports, reports[1:]):
        _assert_worse(a, b, names)


def test_missing_weights_fall_back_with_notice(clip_videos, logged, tmp_path):
    _, gt = clip_videos
    r = evaluate_videos(
        gt,
        gt,
        lpips_weights=tmp_path / "alexnet.pth",
        inception_weights=tmp_path / "inc.pth",
        metrics=["lpips", "fid"],
        progress=False,
    )
    out = logged()
    assert "[lpips]" in out and "lpips_effnet" in out and "not found" in out
    assert "[fid]" in out and "fid_effnet" in out
    assert set(r["metrics"]) == {"lpips_effnet", "fid_effnet"}
    assert not r["metrics"]["lpips_effnet"]["comparable_with_papers"]
    assert any("lpips_effnet" in n for n in r["notices"])
    files = write_report(r, tmp_path / "rep")
    data = json.loads(files["json"].read_text())
    assert "lpips_effnet" in data["metrics"] and "lpips" not in data["metrics"]
    assert "efficientnet_lite0" in data["metrics"]["fid_effnet"]["backbone"]


def test_lpips_with_backbone_file_is_named_lpips(clip_data, tmp_path):
    import torch

    from reenactor.metrics.lpips import AlexNetFeatures

    torch.manual_seed(0)
    path = tmp_path / "alexnet.pth"
    torch.save(AlexNetFeatures().state_dict(), path)
    gt = clip_data[0][:4]
    noisy = np.clip(gt + np.random.default_rng(0).normal(0, 10, gt.shape), 0, 255).astype(np.uint8)
    r = evaluate_videos(noisy, gt, lpips_weights=path, metrics=["lpips"], progress=False, verbose=False)
    assert list(r["metrics"]) == ["lpips"]
    assert (
        "alexnet" in r["metrics"]["lpips"]["backbone"]
        and "learned linear layers" in r["metrics"]["lpips"]["backbone"]
    )
    assert r["summary"]["lpips"] > 0 and len(r["per_frame"]["lpips"]) == 4


def test_bad_inputs(clip_videos, tmp_path):
    from reenactor.io.video import write_video

    root, gt = clip_videos
    with pytest.raises(InputError, match="not found"):
        evaluate_videos(tmp_path / "nope.mp4", gt, progress=False)
    small = tmp_path / "small.mp4"
    write_video(small, [np.zeros((64, 64, 3), np.uint8)] * T, fps=25)
    with pytest.raises(InputError, match="sizes differ"):
        evaluate_videos(small, gt, metrics=["ssim"], progress=False)
    short = tmp_path / "short.mp4"
    write_video(short, [np.zeros((128, 128, 3), np.uint8)] * (T - 3), fps=25)
    with pytest.raises(InputError, match="frame counts differ"):
        evaluate_videos(short, gt, metrics=["ssim"], progress=False)
    with pytest.raises(InputError, match="masks"):
        evaluate_videos(gt, gt, masks=np.zeros((T, 64, 64), np.uint8), metrics=["ssim"], progress=False)
    with pytest.raises(InputError, match="unknown metric"):
        evaluate_videos(gt, gt, metrics=["ssim", "vmaf"], progress=False)


def test_cli_writes_report(carphone_clip, clip_videos, tmp_path, capsys):
    from reenactor.cli import main
    from reenactor.io.video import write_video

    root, gt = clip_videos
    frames = np.asarray(carphone_clip.frames()[:T])
    pred = tmp_path / "pred.mp4"
    write_video(pred, [np.clip(f.astype(int) + 12, 0, 255).astype(np.uint8) for f in frames], fps=25)
    out = tmp_path / "report"
    rc = main(
        [
            "evaluate",
            "--pred",
            str(pred),
            "--gt",
            str(gt),
            "--clip",
            str(carphone_clip.root),
            "--metrics",
            "ssim,psnr,tcm",
            "-o",
            str(out),
            "--quiet",
            "--worst",
            "3",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "mask_ssim" in printed and "report:" in printed
    assert "compare with the ground truth's 0.368" in printed  # TCM is not labelled "higher is better"
    for name in ("metrics.json", "per_frame.csv", "per_frame.png", "worst_frames.png", "index.html"):
        assert (out / name).stat().st_size > 0, name
    rows = list(csv.DictReader((out / "per_frame.csv").open()))
    assert len(rows) == T and {"frame", "ssim", "psnr", "mask_ssim", "mask_psnr", "tcm"} <= set(rows[0])
    assert rows[0]["tcm"] == ""  # frame 0 has no predecessor
    data = json.loads((out / "metrics.json").read_text())
    assert len(data["worst_frames"]) == 3
    assert data["worst_frames"][0]["ssim"] == pytest.approx(min(float(r["ssim"]) for r in rows), abs=1e-5)
    html = (out / "index.html").read_text()
    assert "per_frame.png" in html and "worst_frames.png" in html and "mask-SSIM" in html
    # --fast: the metrics without a network, the same as --metrics ssim,psnr,tcm
    rc = main(
        ["evaluate", "--pred", str(pred), "--gt", str(gt), "--fast", "-o", str(tmp_path / "fast"), "--quiet"]
    )
    assert rc == 0
    fast = json.loads((tmp_path / "fast" / "metrics.json").read_text())
    assert set(fast["metrics"]) == {"ssim", "psnr", "tcm"}
    capsys.readouterr()
    # a clip of another length is refused with a message and a non-zero exit
    short = tmp_path / "short.mp4"
    write_video(short, frames[:3], fps=25)
    rc = main(["evaluate", "--pred", str(short), "--gt", str(gt), "-o", str(tmp_path / "r2"), "--quiet"])
    assert rc != 0
    assert "frame counts differ" in capsys.readouterr().err
    rc = main(
        ["evaluate", "--pred", str(tmp_path / "missing.mp4"), "--gt", str(gt), "-o", str(tmp_path / "r3")]
    )
    assert rc != 0
    assert "not found" in capsys.readouterr().err


# Golden values: the output of evaluate_videos before its metrics became one accumulator each (issue 22).
_GOLDEN_KEYS = {
    "ssim": "name value higher_is_better backbone settings reading reference direction",
    "psnr": "name value higher_is_better backbone unit identical_frames note reading reference direction",
    "mask_ssim": "name value higher_is_better backbone mask settings note reading reference direction",
    "mask_psnr": "name value higher_is_better backbone unit mask note reading reference direction",
    "lpips_effnet": "name value higher_is_better backbone comparable_with_papers reading reference direction",
    "fid_effnet": "name value higher_is_better backbone n_frames feature_dim reading reference "
    "comparable_with_papers note direction",
    "tcm": "name value higher_is_better backbone definition flow reference_value reading reference note direction",
}
# name: (value, ground truth against itself, the blurred ground truth against it (None: no blurred reference))
_GOLDEN_VALUES = {
    "ssim": (0.6726806298343725, 1.0, 0.916031190785062),
    "psnr": (28.441439177631405, math.inf, 24.69768185115472),
    "mask_ssim": (0.8801368142573399, 1.0, None),
    "mask_psnr": (32.091723517622526, math.inf, None),
    "lpips_effnet": (2.549827367067337, 0.0, 0.6227519661188126),
    "fid_effnet": (99.79464114209011, 0.0, 105.59967017869272),
    "tcm": (0.02916502521515715, math.exp(-1), 0.5552271920856781),
}
_GOLDEN_PER_FRAME_SUMS = {
    "frame": 28.0,
    "ssim": 5.38144503867498,
    "psnr": 227.53151342105124,
    "mask_ssim": 7.041094514058719,
    "mask_psnr": 256.7337881409802,
    "lpips_effnet": 20.398618936538696,
    "tcm": 0.20415517650610004,
}


def test_report_matches_golden_values(frames_maker):
    """Same keys, in the same order, and the same numbers as before the metrics were refactored (synthetic
    frames with noise and one shifted frame, a person-mask rectangle, the default metrics with references)."""
    gt = frames_maker(8, 48, 64)
    pred = np.clip(gt + np.random.default_rng(1).normal(0, 8, gt.shape), 0, 255).astype(np.uint8)
    pred[5] = np.roll(pred[5], 4, axis=1)
    masks = np.zeros((8, 48, 64), np.uint8)
    masks[:, 8:40, 16:56] = 255
    r = evaluate_videos(pred, gt, masks=masks, worst_k=2, progress=False, verbose=False)
    keys = "inputs metrics summary pose per_frame worst_frames worst_by worst_min_gap notices timing cost"
    assert list(r) == [*keys.split(), "_thumbnails"]
    assert list(r["metrics"]) == list(_GOLDEN_KEYS) == list(r["summary"])
    for name, m in r["metrics"].items():
        assert list(m) == _GOLDEN_KEYS[name].split(), name
        value, itself, blurred = _GOLDEN_VALUES[name]
        rel = 1e-4 if name.endswith("effnet") else 1e-9  # network features: float summation order may vary
        assert m["value"] == pytest.approx(value, rel=rel) == r["summary"][name], name
        ref = m["reference"]
        assert ref["ground_truth"] == pytest.approx(itself), name
        if blurred is None:
            assert list(ref) == ["ground_truth"], name
        else:
            assert list(ref) == ["ground_truth", "ground_truth_blurred", "blur_sigma", "frames", "what"], name
            assert ref["ground_truth_blurred"] == pytest.approx(blurred, rel=rel), name
            assert ref["blur_sigma"] == 2.0 and ref["frames"] == 8, name
    assert r["metrics"]["psnr"]["identical_frames"] == 0
    assert r["metrics"]["fid_effnet"]["n_frames"] == 8 and r["metrics"]["fid_effnet"]["feature_dim"] == 1280
    assert list(r["per_frame"]) == list(_GOLDEN_PER_FRAME_SUMS)
    for k, total in _GOLDEN_PER_FRAME_SUMS.items():
        assert len(r["per_frame"][k]) == 8, k
        rel = 1e-4 if k.endswith("effnet") else 1e-9
        assert float(np.nansum(np.asarray(r["per_frame"][k], float))) == pytest.approx(total, rel=rel), k
    assert [w["frame"] for w in r["worst_frames"]] == [5, 7] and sorted(r["_thumbnails"]) == [5, 7]
    assert list(r["worst_frames"][0]) == list(_GOLDEN_PER_FRAME_SUMS)
    assert r["worst_by"] == "ssim" and r["worst_min_gap"] == 2 and r["pose"] is None
    assert r["notices"] == [
        "LPIPS backbone weights not given: reporting `lpips_effnet` (not comparable with LPIPS)",
        "Inception-v3 weights not given: reporting `fid_effnet` (not comparable with FID)",
    ]
    assert r["inputs"] == {
        "pred": None,
        "gt": None,
        "clip": "given masks",
        "pose_ref": None,
        "identity_ref": None,
        "n_frames": 8,
        "size": [48, 64],
        "fps": None,
        "device": "cpu",
    }
