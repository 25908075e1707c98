"""single_shot: does the output follow the target photo's appearance, and its layout's body shape?

Issue 26's two "follows the target" checks, on a trained single_shot model (its synthesizer, frame by frame,
the driving poses of a clip normalized onto each target photo with ``first_frame``, as ``reenactor transfer``
does by default):

* **Appearance follows the target.** The target photo's upper clothes (the ``upper_clothes`` crop group of its
  layout) turned in hue by 0, 90, 180, 270 degrees (``maps.rotate_hue``); the generated upper-clothes region
  (P2B's generated labels of that group, where B2F's mask m > 0.5) is compared with the turned photo's by its
  mean hue: the chroma-weighted circular mean (dark and grey pixels count little), pooled over all frames.
  Columns: target hue, generated hue, their circular difference (target: <= 30 degrees), and how far the
  generated hue turned from the unturned photo's output (signed, -180..180). The same with the appearance vector e_z zeroed (B2F's
  FC on zeros and, with ``b2f.region_colour``, the region colours grey: the output can no longer depend on the
  photo's appearance), which must NOT follow.
* **Body shape follows the layout** (the paper's appendix E). The target layout squeezed / stretched in width
  by 0.8 .. 1.25 about its axis (``maps.stretch_layout``, the training augmentation's); the torso width of the
  generated layout (upper-clothes group + torso skin) and of B2F's mask, per frame the median over the rows
  below the driving shoulders of the labelled pixels per row (rows whose run touches the frame's left or
  right edge are left out: clipped by the frame), mean over frames; relative to the unstretched output, and the
  least-squares slope of that ratio against the factor (target: >= 0.5). The input layout's own slope (rows
  below the photo's shoulders, same rule) is printed beside it: clipping at the frame edges keeps it below 1.

Carphone's suit touches the frame's left and right edges below the shoulders, so its widths past factor 1 are
NaN; the astronaut photo (an unseen person, an orange suit) leaves room on both sides.

Usage: python benchmarks/single_shot_follow.py --model RUN/model.safetensors [--clip CLIP] [--first 81]
    [--target CLIP:80 --target sample:astronaut] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os

os.environ.setdefault("GLOG_minloglevel", "2")

import cv2
import numpy as np

HUES = (0, 90, 180, 270)
STRETCH = (0.8, 0.9, 1.0, 1.1, 1.25)


def hue_of(image: np.ndarray, sel: np.ndarray) -> tuple[float, float]:
    """Chroma-weighted circular mean hue (degrees) of the selected pixels, and their mean chroma (0..255)."""
    if not sel.any():
        return math.nan, math.nan
    hsv = cv2.cvtColor(np.ascontiguousarray(image, np.uint8), cv2.COLOR_RGB2HSV_FULL).astype(np.float64)
    rgb = image.astype(np.float64)
    chroma = (rgb.max(-1) - rgb.min(-1))[sel]
    ang = hsv[..., 0][sel] * 2 * math.pi / 256.0
    x, y = (chroma * np.cos(ang)).sum(), (chroma * np.sin(ang)).sum()
    return math.degrees(math.atan2(y, x)) % 360.0, float(chroma.mean())


def circ_diff(a: float, b: float) -> float:
    """Unsigned circular difference of two angles in degrees (0..180)."""
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)


def torso_width(labelled: np.ndarray, y0: float) -> float:
    """Median over rows below ``y0`` of the labelled pixels per row; rows whose labels touch the left or right
    frame edge are left out; NaN with fewer than 3 rows."""
    rows = labelled[max(int(math.ceil(y0)), 0) :]
    keep = rows.any(1) & ~rows[:, 0] & ~rows[:, -1]
    return float(np.median(rows[keep].sum(1))) if keep.sum() >= 3 else math.nan


def shoulder_y(body: np.ndarray) -> float:
    body = np.asarray(body).reshape(-1, 25, 3)[0]
    pts = [body[i, 1] for i in (2, 5) if body[i, 2] > 0.05]
    return float(np.mean(pts)) if pts else math.nan


def slope(factors, widths) -> float:
    f, w = np.asarray(factors, float), np.asarray(widths, float)
    base = w[np.argmin(np.abs(f - 1.0))]
    ok = np.isfinite(w)
    if ok.sum() < 2 or not np.isfinite(base) or base <= 0:
        return math.nan
    return float(np.polyfit(f[ok], w[ok] / base, 1)[0])


class Renderer:
    """The model's synthesizer driven by a clip's poses normalized onto one reference."""

    def __init__(self, model: str, clip: str, first: int, frames: int | None, step: int = 1):
        from reenactor.data.clipstore import ClipStore
        from reenactor.modelfile import open_model

        self.tm = open_model(model, method="single_shot")
        self.synth = self.tm.synthesizer
        self.size = int(self.tm.size[0])
        store = ClipStore.open(clip)
        stop = store.n_frames if frames is None else min(store.n_frames, first + frames)
        keys = [k for k in ("body", "face", "hand_left", "hand_right") if store.has(k)]
        self.driving = {k: np.array(store.load(k)[first:stop:step], np.float32) for k in keys}
        sx, sy = self.size / store.size[1], self.size / store.size[0]
        for v in self.driving.values():
            v[..., 0] *= sx
            v[..., 1] *= sy

    def poses(self, reference) -> list[dict[str, np.ndarray]]:
        from reenactor.pose.normalize import fit_normalizer

        norm = fit_normalizer("first_frame", {"body": self.driving["body"]}, reference.pose())
        norm.reset()
        n = len(self.driving["body"])
        return [norm.apply({k: v[i] for k, v in self.driving.items()}) for i in range(n)]

    def render(self, reference, poses, zero_appearance: bool = False):
        s = self.synth
        s.trace = []
        s.set_reference(reference)
        if zero_appearance:
            s.blank_appearance()
        s.reset()
        frames = [s.step(p, {"background": reference.background}) for p in poses]
        return frames, list(s.trace)


def appearance_rows(r: Renderer, reference, poses, upper: np.ndarray) -> list[dict]:
    from reenactor.methods.single_shot import maps

    rows = []
    for zero in (False, True):
        base = math.nan
        for deg in HUES:
            image = maps.rotate_hue(reference.image, reference.layout, deg, ids=upper)
            ref = dataclasses.replace(reference, image=image)
            t_hue, t_chroma = hue_of(image, np.isin(reference.layout, upper))
            frames, trace = r.render(ref, poses, zero_appearance=zero)
            sels = [np.isin(t["layout"], upper) & (t["mask"] > 0.5) for t in trace]
            g_hue, g_chroma = hue_of(np.concatenate(frames, 0), np.concatenate(sels, 0))
            if deg == 0:
                base = g_hue
            rows.append(
                {
                    "model": "e_z zeroed" if zero else "trained",
                    "turn": deg,
                    "target_hue": t_hue,
                    "target_chroma": t_chroma,
                    "generated_hue": g_hue,
                    "generated_chroma": g_chroma,
                    "error": circ_diff(g_hue, t_hue),
                    "turned_by": (g_hue - base + 180.0) % 360.0 - 180.0,  # signed, (-180, 180]
                    "pixels": int(sum(s.sum() for s in sels) / max(len(sels), 1)),
                }
            )
    return rows


def shape_rows(r: Renderer, reference, poses) -> tuple[list[dict], dict]:
    from reenactor.methods.single_shot import maps

    torso_ids = np.concatenate([maps.CROP_IDS["upper_clothes"], [maps.LAYOUT.index("torso_skin")]])
    ys = [shoulder_y(p["body"]) for p in poses]
    y_ref = shoulder_y(reference.pose()["body"])
    rows = []
    for f in STRETCH:
        lay = maps.stretch_layout(reference.layout, f)
        frames, trace = r.render(dataclasses.replace(reference, layout=lay), poses)
        lw = [torso_width(np.isin(t["layout"], torso_ids), y) for t, y in zip(trace, ys)]
        mw = [torso_width(t["mask"] > 0.5, y) for t, y in zip(trace, ys)]
        rows.append(
            {
                "factor": f,
                "input_width": torso_width(np.isin(lay, torso_ids), y_ref),
                "layout_width": float(np.nanmean(lw)) if np.isfinite(lw).any() else math.nan,
                "mask_width": float(np.nanmean(mw)) if np.isfinite(mw).any() else math.nan,
            }
        )
    fs = [x["factor"] for x in rows]
    slopes = {k: slope(fs, [x[k] for x in rows]) for k in ("input_width", "layout_width", "mask_width")}
    return rows, slopes


def fmt(v) -> str:
    return (
        "nan" if isinstance(v, float) and math.isnan(v) else (f"{v:.3g}" if isinstance(v, float) else str(v))
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--clip", default="runs/single_image/clip", help="driving clip store (default: the "
                    "single-image benchmark's carphone clip)")  # fmt: skip
    ap.add_argument("--first", type=int, default=81, help="first driving frame (default: 81)")
    ap.add_argument("--frames", type=int, default=None, help="driving frames (default: to the clip's end)")
    ap.add_argument("--step", type=int, default=1, help="every STEP-th driving frame (default: 1)")
    ap.add_argument("--target", action="append", default=None,
                    help="target photo(s) (default: CLIP:80 and sample:astronaut)")  # fmt: skip
    ap.add_argument("--out", help="also write the tables (markdown) here")
    args = ap.parse_args()

    from reenactor.methods.single_shot import maps
    from reenactor.reference import load_reference

    r = Renderer(args.model, args.clip, args.first, args.frames, args.step)
    upper = maps.CROP_IDS["upper_clothes"]
    lines = []
    for spec in args.target or [f"{args.clip}:80", "sample:astronaut"]:
        reference = load_reference(spec, r.size)
        poses = r.poses(reference)
        first = len(lines)
        lines += [
            f"### target {spec} ({len(poses)} driving frames from {args.clip}, from {args.first}, every {args.step})",
            "",
        ]
        lines += ["Appearance follows the target (upper clothes hue-turned; error: circular, degrees):", ""]
        cols = ["model", "turn", "target_hue", "generated_hue", "error", "turned_by", "target_chroma",
                "generated_chroma", "pixels"]  # fmt: skip
        lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for row in appearance_rows(r, reference, poses, upper):
            lines.append("| " + " | ".join(fmt(row[c]) for c in cols) + " |")
        rows, slopes = shape_rows(r, reference, poses)
        lines += ["", "Body shape follows the layout (torso width in pixels, mean over frames):", ""]
        cols = ["factor", "input_width", "layout_width", "mask_width"]
        lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for row in rows:
            lines.append("| " + " | ".join(fmt(row[c]) for c in cols) + " |")
        lines.append("| slope of width / width(1.0) | " + " | ".join(fmt(slopes[c]) for c in cols[1:]) + " |")
        lines.append("")
        print("\n".join(lines[first:]), flush=True)
    text = "\n".join(lines)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
