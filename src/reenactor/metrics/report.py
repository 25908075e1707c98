"""``write_report``: turn an :func:`~reenactor.metrics.evaluate.evaluate_videos` report into files people look at.

REPORT_DIR/
  metrics.json      every metric: name, value, higher_is_better (None for TCM, which is read against the ground
                    truth's own score), direction, reading (how to read it, in words), reference (the ground
                    truth's own score and the ground truth blurred, this run), backbone, settings; per-frame
                    values; notices; cost (seconds and share per metric, the --fast estimate).
                    Strict JSON: non-finite numbers are written as strings ("inf", "-inf") or null (nan).
  per_frame.csv     one row per frame, one column per per-frame metric
  per_frame.png     the per-frame metrics over time, one panel each, with the reference values as lines
  worst_frames.png  the worst frames (lowest SSIM): generated | ground truth | |difference|
  index.html        the table of metrics with how to read each and its references, the cost, the notices and
                    both images, linking the JSON and CSV
  report.md         the same table in Markdown
  metrics.png       the same table as a picture

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

__all__ = ["json_safe", "write_report", "format_value", "LABELS", "direction"]

LABELS = {
    "ssim": "SSIM",
    "psnr": "PSNR (dB)",
    "mask_ssim": "mask-SSIM",
    "mask_psnr": "mask-PSNR (dB)",
    "lpips": "LPIPS",
    "lpips_effnet": "lpips_effnet (not LPIPS)",
    "fid": "FID",
    "fid_effnet": "fid_effnet (not FID)",
    "tcm": "TCM",
    "pose_error_px": "pose error (px)",
    "pose_pck": "PCK@0.05",
    "identity_distance": "face identity distance",
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


def direction(m: dict) -> str:
    """How a metric's value is compared: "higher is better", "lower is better" or (TCM) with what."""
    from .evaluate import direction as _direction

    return m.get("direction") or _direction(m)


def _blurred(m: dict) -> Any:
    return (m.get("reference") or {}).get("ground_truth_blurred")


def _itself(m: dict) -> Any:
    return (m.get("reference") or {}).get("ground_truth")


def _cost_text(report: dict) -> str:
    """One paragraph: the run's time, what each metric cost, and the --fast estimate."""
    c = report.get("cost")
    if not c:
        return ""
    secs = c.get("seconds", {})
    total = report.get("timing", {}).get("total_s") or 0.0
    parts = ", ".join(
        f"{k} {v:.1f} s ({100 * c['share'][k]:.0f} %)"
        for k, v in sorted(secs.items(), key=lambda kv: -kv[1])
        if v > 0.005 * max(total, 1e-9)
    )
    text = (
        f"{report['inputs']['n_frames']} frames in {total:.1f} s ({c.get('frames_per_s', 0):.2f} frames/s): "
        f"{parts}."
    )
    nets = sum(v for k, v in secs.items() if k.startswith(("lpips", "fid")))
    fast = c.get("fast_frames_per_s_estimate")
    if nets > 0 and total > 0:
        text += (
            f" The feature networks (LPIPS and FID, or their offline variants, each with its blurred-copy "
            f"reference) took {100 * nets / total:.0f} % of it; {c.get('fast_flag', '--fast')} (= --metrics "
            f"{','.join(c['fast_set'])}) leaves them out"
        )
        text += (
            f" and would have run at about {fast:.0f} frames/s."
            if isinstance(fast, float) and math.isfinite(fast)
            else "."
        )
    return text


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
                v = (
                    ""
                    if math.isnan(v)
                    else ("inf" if v == math.inf else ("-inf" if v == -math.inf else f"{v:.6g}"))
                )
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
    fig, axes = plt.subplots(len(keys), 1, figsize=(12, 1.8 * len(keys) + 0.6), sharex=True, squeeze=False)
    worst = {w["frame"] for w in report.get("worst_frames", [])}
    for ax, k in zip(axes[:, 0], keys):
        v = np.asarray(pf[k], np.float64)
        finite = np.isfinite(v)
        summary = report["summary"].get(k)
        m = report["metrics"].get(k, {})
        if finite.any():  # gaps (no face / no pose / first TCM frame / infinite PSNR) break the line
            ax.plot(frames, np.where(finite, v, np.nan), lw=1.2, color="tab:blue", label="this video")
        itself, blurred = _itself(m), _blurred(m)
        if k == "tcm" and isinstance(itself, float):
            ax.axhline(itself, color="tab:green", lw=1.2, label=f"the ground truth itself ({itself:.3f})")
        if isinstance(blurred, float) and math.isfinite(blurred):
            ax.axhline(
                blurred,
                color="0.45",
                ls="--",
                lw=1.1,
                label=f"the ground truth blurred, sigma 2 ({format_value(blurred)})",
            )
            wf = [f for f in worst if f < len(v) and np.isfinite(v[f])]
            if wf:
                ax.plot(wf, v[wf], "o", ms=4, color="tab:red", label="worst frames")
        n_inf = int(np.isposinf(v).sum())
        n_nan = int(np.isnan(v).sum())
        title = f"{LABELS.get(k, k)}   mean {format_value(summary) if summary is not None else format_value(float(np.nanmean(v[finite])) if finite.any() else None)}"
        if m:
            title += f"   ({direction(m)})"
        if n_inf:
            title += f"   ({n_inf} frame(s) = ∞, not drawn)"
            for f in frames[np.isposinf(v)]:
                ax.axvline(f, color="0.8", lw=0.8)
        if n_nan and k != "tcm":
            title += f"   ({n_nan} frame(s) without a value)"
        ax.set_title(title, fontsize=9, loc="left")
        if ax.get_legend_handles_labels()[0] and (k == "tcm" or _blurred(m) is not None):
            ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    axes[-1, 0].set_xlabel("frame")
    fig.tight_layout(rect=(0, 0, 0.99, 1))
    _save_fig(fig, path)
    return True


def _plot_table(path: Path, report: dict) -> bool:
    """metrics.png: the metrics table as a picture (value, direction, the two references, how to read it) and
    the cost, for sharing where the HTML does not go."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ms = report.get("metrics") or {}
    if not ms:
        return False
    rows = []
    for name, m in ms.items():
        ref = m.get("reference") or {}
        read = textwrap.wrap(str(m.get("reading") or ""), 100)
        rows.append(
            (
                LABELS.get(name, name),
                format_value(m["value"]),
                direction(m),
                format_value(ref["ground_truth"]) if "ground_truth" in ref else "",
                format_value(ref.get("ground_truth_blurred")) if "ground_truth_blurred" in ref else "",
                read,
            )
        )
    cost = textwrap.wrap(_cost_text(report), 190)
    heights = [0.2 + 0.155 * max(1, len(r[5])) for r in rows]
    fh = 1.3 + sum(heights) + 0.17 * len(cost) + 0.3
    fig = plt.figure(figsize=(15, fh))
    inp = report["inputs"]
    y = fh - 0.25
    fig.text(
        0.01, y / fh, "reenactor evaluation: how to read each number", fontsize=12, weight="bold", va="top"
    )
    y -= 0.3
    fig.text(
        0.01,
        y / fh,
        f"generated {inp.get('pred')} vs ground truth {inp.get('gt')}: {inp.get('n_frames')} "
        f"frames, {inp['size'][1]}x{inp['size'][0]}. References from this run: the ground truth against itself, "
        "and the ground truth blurred (Gaussian sigma 2 px) against it.",
        fontsize=8.5,
        va="top",
        color="0.3",
    )
    y -= 0.62
    cols = [
        (0.01, "metric"),
        (0.145, "value"),
        (0.205, "direction"),
        (0.385, "ground truth\nitself"),
        (0.455, "ground truth\nblurred (σ 2)"),
        (0.545, "how to read it"),
    ]
    for x, h in cols:
        fig.text(x, y / fh, h, fontsize=8.5, weight="bold", va="bottom")
    y -= 0.08
    fig.add_artist(plt.Line2D([0.01, 0.99], [y / fh, y / fh], color="0.6", lw=0.8))
    for r, h in zip(rows, heights):
        y -= 0.08
        for (x, _), v in zip(cols[:5], r[:5]):
            fig.text(
                x,
                y / fh,
                v,
                fontsize=8.5,
                va="top",
                family="monospace" if x in (0.145, 0.385, 0.455) else None,
            )
        fig.text(0.545, y / fh, "\n".join(r[5]), fontsize=8, va="top", linespacing=1.25)
        y -= h - 0.08
        fig.add_artist(plt.Line2D([0.01, 0.99], [y / fh, y / fh], color="0.85", lw=0.6))
    y -= 0.12
    fig.text(
        0.01,
        y / fh,
        "\n".join(["Cost: " + cost[0]] + cost[1:]) if cost else "",
        fontsize=8,
        va="top",
        color="0.25",
    )
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
    fig, axes = plt.subplots(
        len(worst), cols, figsize=(cols * 2.6 * tw / th + 0.2, 2.6 * len(worst) + 0.4), squeeze=False
    )
    metric_keys = [k for k in ("ssim", "psnr", "lpips", "lpips_effnet", "tcm") if k in worst[0]]
    diffs = {w["frame"]: _diff(*thumbs[w["frame"]]) for w in worst}
    # one colour scale for the whole grid: white = the 99th percentile of all shown differences
    top = float(np.percentile(np.concatenate([d.ravel() for d in diffs.values()]), 99))
    for r, w in enumerate(worst):
        p, g = thumbs[w["frame"]]
        cells = (
            (p, "generated"),
            (g, "ground truth"),
            (_diff_image(diffs[w["frame"]], top), f"|difference| (white = {top:.0f} levels)"),
        )
        for c, (img, name) in enumerate(cells):
            ax = axes[r, c]
            ax.imshow(img)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=9)
            if c == 0:
                ax.set_ylabel(f"frame {w['frame']}", fontsize=9)
                ax.set_xlabel(
                    "  ".join(f"{LABELS.get(k, k).split(' ')[0]} {format_value(w[k])}" for k in metric_keys),
                    fontsize=7.5,
                    loc="left",
                )
    gap = report.get("worst_min_gap") or 1
    fig.suptitle(
        f"worst {len(worst)} frames by {LABELS.get(report.get('worst_by') or 'ssim', 'SSIM').split(' ')[0]}"
        + (f" (lowest first, at least {gap} frames apart)" if gap > 1 else " (lowest first)"),
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (2.6 * len(worst) + 0.4)))
    _save_fig(fig, path)
    return True


def _html(report: dict, files: dict[str, str]) -> str:
    e = html.escape
    rows = []
    for name, m in report["metrics"].items():
        hib = m.get("higher_is_better")
        arrow = "↑" if hib else ("↓" if hib is False else "≈")
        extra = []
        for k in ("parts",):
            if m.get(k):
                extra.append(", ".join(f"{p}: {format_value(v)}" for p, v in m[k].items()))
        if m.get("face_detected") is not None:
            extra.append(
                f"face found in {format_value(100 * m['face_detected'])}% of frames, "
                f"{format_value(100 * (m.get('same_person_share') or 0))}% of them under "
                f"{m.get('threshold')} (same person)"
            )
        if m.get("detected") is not None:
            extra.append(f"reference keypoints re-detected: {format_value(100 * m['detected'])}%")
        if m.get("note"):
            extra.append(str(m["note"]))
        if m.get("definition"):
            extra.append(str(m["definition"]) + "; flow: " + str(m.get("flow")))
        ref = m.get("reference") or {}
        itself = format_value(ref["ground_truth"]) if "ground_truth" in ref else ""
        blurred = format_value(ref.get("ground_truth_blurred")) if "ground_truth_blurred" in ref else ""
        if blurred and ref.get("frames") and ref["frames"] != report["inputs"].get("n_frames"):
            blurred += f" ({ref['frames']} frames)"
        rows.append(
            f"<tr><td><b>{e(LABELS.get(name, name))}</b> <code>{e(name)}</code></td>"
            f"<td class=v>{e(format_value(m['value']))}</td><td>{arrow} {e(direction(m))}</td>"
            f"<td class=v>{e(itself)}</td><td class=v>{e(blurred)}</td>"
            f"<td class=r>{e(str(m.get('reading') or ''))}</td>"
            f"<td class=s>{e(str(m.get('backbone') or 'pixels'))}{' | ' if extra else ''}{e(' | '.join(extra))}</td></tr>"
        )
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
<style>body{{font-family:sans-serif;max-width:1300px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}}
td.v{{font-family:monospace;text-align:right}}td.s{{font-size:80%;color:#666}}td.r{{font-size:88%}}img{{max-width:100%}}
.notice{{background:#fff4d6;padding:0.5em 1em;border-left:4px solid #e0a800}}</style></head><body>
<h1>reenactor evaluation</h1>
<p>generated <code>{e(str(inp.get("pred")))}</code> vs ground truth <code>{e(str(inp.get("gt")))}</code>:
{inp.get("n_frames")} frames, {inp["size"][1]}x{inp["size"][0]}{", masks from <code>" + e(str(inp["clip"])) + "</code>" if inp.get("clip") else ""}.
{format_value(timing.get("frames_per_s"))} frames/s on {e(str(inp.get("device")))}.</p>
{"<div class=notice><b>Notices</b><ul>" + notices + "</ul></div>" if notices else ""}
<h2>Metrics</h2>
<p>Each value with how to read it and two references computed in this run: what the ground truth scores against
itself, and what the ground truth blurred with a Gaussian of sigma 2 px scores against it (a plainly blurry
copy, which gives every number a scale).</p>
<table><tr><th>metric</th><th>value</th><th>direction</th><th>ground truth itself</th>
<th>ground truth blurred (σ 2)</th><th>how to read it</th><th>backbone, details</th></tr>{"".join(rows)}</table>
<h2>Cost</h2><p>{e(_cost_text(report))}</p>
<p>Files: <a href="{e(files["json"])}">{e(files["json"])}</a> (everything, strict JSON),
<a href="{e(files["csv"])}">{e(files["csv"])}</a> (per frame){', <a href="' + e(files["table"]) + '">' + e(files["table"]) + "</a> (this table as a picture)" if "table" in files else ""},
<a href="report.md">report.md</a> (this table in Markdown).</p>
{imgs}
</body></html>
"""


def _markdown(report: dict) -> str:
    """The metrics table (value, direction, references, how to read it), the cost and the notices in Markdown."""
    inp = report["inputs"]
    lines = [
        "# reenactor evaluation",
        "",
        f"generated `{inp.get('pred')}` vs ground truth `{inp.get('gt')}`: {inp.get('n_frames')} frames, "
        f"{inp['size'][1]}x{inp['size'][0]}.",
        "",
        "References computed in this run: the ground truth scored against itself, and the ground truth blurred "
        "with a Gaussian of sigma 2 px scored against it (a plainly blurry copy).",
        "",
        "| metric | value | direction | ground truth itself | ground truth blurred (σ 2) | how to read it |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in report["metrics"].items():
        ref = m.get("reference") or {}
        cells = [
            f"{LABELS.get(name, name)} (`{name}`)",
            format_value(m["value"]),
            direction(m),
            format_value(ref["ground_truth"]) if "ground_truth" in ref else "",
            format_value(ref.get("ground_truth_blurred")) if "ground_truth_blurred" in ref else "",
            str(m.get("reading") or ""),
        ]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    cost = _cost_text(report)
    if cost:
        lines += ["", "## Cost", "", cost]
    if report.get("notices"):
        lines += ["", "## Notices", ""] + [f"- {n}" for n in report["notices"]]
    return "\n".join(lines) + "\n"


def write_report(report: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write metrics.json, per_frame.csv, per_frame.png, worst_frames.png, report.md and index.html into ``out_dir``.

    Returns ``{"json", "csv", "plot", "worst", "table", "md", "html"} -> path`` (plot/worst/table only when
    there is something to draw).
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
    if _plot_table(out / "metrics.png", report):
        files["table"] = "metrics.png"
    write_text(out / "report.md", _markdown(report))
    files["md"] = "report.md"
    write_text(out / "index.html", _html(report, files))
    files["html"] = "index.html"
    return {k: out / v for k, v in files.items()}
