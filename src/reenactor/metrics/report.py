"""``write_report``: turn an :func:`~reenactor.metrics.evaluate.evaluate_videos` report into files people look at.

REPORT_DIR/
  metrics.json      every metric: name, value, higher_is_better, backbone, settings; per-frame values; notices.
                    Strict JSON: non-finite numbers are written as strings ("inf", "-inf") or null (nan).
  per_frame.csv     one row per frame, one column per per-frame metric
  per_frame.png     the per-frame metrics over time, one panel each
  worst_frames.png  the worst frames (lowest SSIM): generated | ground truth | |difference|
  index.html        the table of metrics, the notices and both images, linking the JSON and CSV

All files are written atomically.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..io.atomic import atomic_path, write_text

__all__ = ["json_safe", "write_report", "format_value", "LABELS"]

LABELS = {
    "ssim": "SSIM", "psnr": "PSNR (dB)", "mask_ssim": "mask-SSIM", "mask_psnr": "mask-PSNR (dB)",
    "lpips": "LPIPS", "lpips_effnet": "lpips_effnet (not LPIPS)", "fid": "FID",
    "fid_effnet": "fid_effnet (not FID)", "tcm": "TCM", "pose_error_px": "pose error (px)",
    "pose_pck": "PCK@0.05", "identity_distance": "face identity distance",
}


def json_safe(obj: Any) -> Any:
    """A copy of ``obj`` that ``json.dumps(..., allow_nan=False)`` accepts: keys starting with ``_`` dropped,
    numpy scalars/arrays converted, ``inf`` -> ``"inf"``, ``-inf`` -> ``"-inf"``, ``nan`` -> ``None``."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, Path):
        return str(obj)
    return obj


def format_value(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float):
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        return f"{v:.4f}" if abs(v) < 100 else f"{v:.2f}"
    return str(v)


def _write_csv(path: Path, per_frame: dict[str, list]) -> None:
    keys = list(per_frame)
    n = len(per_frame.get("frame", []))
    buf = io.StringIO()
    wr = csv.writer(buf)
    wr.writerow(keys)
    for i in range(n):
        row = []
        for k in keys:
            v = per_frame[k][i] if i < len(per_frame[k]) else None
            if isinstance(v, float):
                v = "" if math.isnan(v) else ("inf" if v == math.inf else ("-inf" if v == -math.inf else f"{v:.6g}"))
            row.append(v)
        wr.writerow(row)
    write_text(path, buf.getvalue())


def _save_fig(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _plot_per_frame(path: Path, report: dict) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pf = report["per_frame"]
    keys = [k for k in pf if k != "frame" and len(pf[k])]
    if not keys:
        return False
    frames = np.asarray(pf["frame"])
    fig, axes = plt.subplots(len(keys), 1, figsize=(9, 1.7 * len(keys) + 0.6), sharex=True, squeeze=False)
    worst = {w["frame"] for w in report.get("worst_frames", [])}
    for ax, k in zip(axes[:, 0], keys):
        v = np.asarray(pf[k], np.float64)
        finite = np.isfinite(v)
        summary = report["summary"].get(k)
        if finite.any():  # gaps (no face / no pose / first TCM frame / infinite PSNR) break the line
            ax.plot(frames, np.where(finite, v, np.nan), lw=1.2, color="tab:blue")
            wf = [f for f in worst if f < len(v) and np.isfinite(v[f])]
            if wf:
                ax.plot(wf, v[wf], "o", ms=4, color="tab:red", label="worst frames")
        n_inf = int(np.isposinf(v).sum())
        n_nan = int(np.isnan(v).sum())
        title = f"{LABELS.get(k, k)}   mean {format_value(summary) if summary is not None else format_value(float(np.nanmean(v[finite])) if finite.any() else None)}"
        if n_inf:
            title += f"   ({n_inf} frame(s) = ∞, not drawn)"
            for f in frames[np.isposinf(v)]:
                ax.axvline(f, color="0.8", lw=0.8)
        if n_nan and k != "tcm":
            title += f"   ({n_nan} frame(s) without a value)"
        ax.set_title(title, fontsize=9, loc="left")
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    axes[-1, 0].set_xlabel("frame")
    fig.tight_layout()
    _save_fig(fig, path)
    return True


def _diff(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Mean absolute RGB difference (H, W) in 0..255 levels."""
    return np.abs(p.astype(np.float32) - g.astype(np.float32)).mean(-1)


def _diff_image(d: np.ndarray, top: float) -> np.ndarray:
    import matplotlib

    cmap = matplotlib.colormaps["inferno"]
    return (cmap(np.clip(d / max(top, 1e-6), 0, 1))[..., :3] * 255).astype(np.uint8)


def _plot_worst(path: Path, report: dict) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    thumbs = report.get("_thumbnails") or {}
    worst = [w for w in report.get("worst_frames", []) if w["frame"] in thumbs]
    if not worst:
        return False
    th, tw = next(iter(thumbs.values()))[0].shape[:2]
    cols = 3
    fig, axes = plt.subplots(len(worst), cols, figsize=(cols * 2.6 * tw / th + 0.2, 2.6 * len(worst) + 0.4),
                             squeeze=False)
    metric_keys = [k for k in ("ssim", "psnr", "lpips", "lpips_effnet", "tcm") if k in worst[0]]
    diffs = {w["frame"]: _diff(*thumbs[w["frame"]]) for w in worst}
    # one colour scale for the whole grid: white = the 99th percentile of all shown differences
    top = float(np.percentile(np.concatenate([d.ravel() for d in diffs.values()]), 99))
    for r, w in enumerate(worst):
        p, g = thumbs[w["frame"]]
        cells = ((p, "generated"), (g, "ground truth"),
                 (_diff_image(diffs[w["frame"]], top), f"|difference| (white = {top:.0f} levels)"))
        for c, (img, name) in enumerate(cells):
            ax = axes[r, c]
            ax.imshow(img)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=9)
            if c == 0:
                ax.set_ylabel(f"frame {w['frame']}", fontsize=9)
                ax.set_xlabel("  ".join(f"{LABELS.get(k, k).split(' ')[0]} {format_value(w[k])}"
                                        for k in metric_keys), fontsize=7.5, loc="left")
    fig.suptitle(f"worst {len(worst)} frames by {report.get('worst_by') or 'ssim'}", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (2.6 * len(worst) + 0.4)))
    _save_fig(fig, path)
    return True


def _html(report: dict, files: dict[str, str]) -> str:
    e = html.escape
    rows = []
    for name, m in report["metrics"].items():
        arrow = "↑" if m.get("higher_is_better") else "↓"
        extra = []
        for k in ("parts",):
            if m.get(k):
                extra.append(", ".join(f"{p}: {format_value(v)}" for p, v in m[k].items()))
        if m.get("face_detected") is not None:
            extra.append(f"face found in {format_value(100 * m['face_detected'])}% of frames, "
                         f"{format_value(100 * (m.get('same_person_share') or 0))}% of them under "
                         f"{m.get('threshold')} (same person)")
        if m.get("detected") is not None:
            extra.append(f"reference keypoints re-detected: {format_value(100 * m['detected'])}%")
        if m.get("note"):
            extra.append(str(m["note"]))
        if m.get("definition"):
            extra.append(str(m["definition"]) + "; flow: " + str(m.get("flow")))
        rows.append(f"<tr><td><b>{e(LABELS.get(name, name))}</b> <code>{e(name)}</code></td><td>{arrow}</td>"
                    f"<td class=v>{e(format_value(m['value']))}</td><td>{e(str(m.get('backbone') or 'pixels'))}</td>"
                    f"<td class=s>{e(' | '.join(extra))}</td></tr>")
    notices = "".join(f"<li>{e(n)}</li>" for n in report.get("notices", []))
    inp = report["inputs"]
    timing = report.get("timing", {})
    imgs = ""
    if "plot" in files:
        imgs += f'<h2>Per-frame metrics</h2><img src="{e(files["plot"])}" alt="per-frame metrics">'
    if "worst" in files:
        imgs += f'<h2>Worst frames</h2><img src="{e(files["worst"])}" alt="worst frames">'
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>reenactor evaluation</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}}
td.v{{font-family:monospace;text-align:right}}td.s{{font-size:85%;color:#555}}img{{max-width:100%}}
.notice{{background:#fff4d6;padding:0.5em 1em;border-left:4px solid #e0a800}}</style></head><body>
<h1>reenactor evaluation</h1>
<p>generated <code>{e(str(inp.get('pred')))}</code> vs ground truth <code>{e(str(inp.get('gt')))}</code>:
{inp.get('n_frames')} frames, {inp['size'][1]}x{inp['size'][0]}{', masks from <code>' + e(str(inp['clip'])) + '</code>' if inp.get('clip') else ''}.
{format_value(timing.get('frames_per_s'))} frames/s on {e(str(inp.get('device')))}.</p>
{'<div class=notice><b>Notices</b><ul>' + notices + '</ul></div>' if notices else ''}
<h2>Metrics</h2>
<table><tr><th>metric</th><th></th><th>value</th><th>backbone</th><th>details</th></tr>{''.join(rows)}</table>
<p>Files: <a href="{e(files['json'])}">{e(files['json'])}</a> (everything, strict JSON),
<a href="{e(files['csv'])}">{e(files['csv'])}</a> (per frame).</p>
{imgs}
</body></html>
"""


def write_report(report: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write metrics.json, per_frame.csv, per_frame.png, worst_frames.png and index.html into ``out_dir``.

    Returns ``{"json", "csv", "plot", "worst", "html"} -> path`` (plot/worst only when there is something to
    draw).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": "metrics.json", "csv": "per_frame.csv"}
    write_text(out / files["json"], json.dumps(json_safe(report), indent=2, allow_nan=False) + "\n")
    _write_csv(out / files["csv"], report["per_frame"])
    if _plot_per_frame(out / "per_frame.png", report):
        files["plot"] = "per_frame.png"
    if _plot_worst(out / "worst_frames.png", report):
        files["worst"] = "worst_frames.png"
    write_text(out / "index.html", _html(report, files))
    files["html"] = "index.html"
    return {k: out / v for k, v in files.items()}
