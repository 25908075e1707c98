"""``reenactor coverage``: which driving poses will a model trained on a target clip render badly?

For every driving frame the pose-to-sequence distance of Aberman et al. (eq. 8, :mod:`reenactor.pose.metrics`)
against the reference (training) clip: each of 12 limbs finds its nearest neighbour among the reference
poses, and limbs further than ``gamma`` pixels from any are flagged. Before measuring, the driving poses are
moved into the reference's scale and position with the same normalization transfer uses
(:mod:`reenactor.pose.normalize`; ``--normalize``).

Writes ``DIR/coverage.json`` (per-frame distances, per-limb distances and nearest reference frames, flagged
limbs), ``DIR/summary.json`` (share of frames under the threshold, worst frames; also printed) and
``DIR/coverage.png`` (distance over time; the worst driving poses above their nearest reference poses,
flagged limbs in grey).
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

NORMALIZE_CHOICES = ("auto", "none", "edn", "edn_upper", "first_frame", "global_alignment")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "coverage",
        help="pose coverage report: which driving poses a model trained on the target clip will render badly",
        description="Pose-to-sequence distance (Aberman et al. 2019, eq. 8) of every driving frame against a "
                    "reference (training) clip, per-limb flags above a threshold, a JSON report, a summary and a "
                    "PNG. Both clips are clip folders made by `reenactor extract`.",
    )
    p.add_argument("--reference", required=True, metavar="TARGET_CLIP",
                   help="clip folder of the target person's (training) video")
    p.add_argument("--driving", required=True, metavar="DRIVING_CLIP",
                   help="clip folder of the driving video (may be the same folder with other --*-frames)")
    p.add_argument("-o", "--output", metavar="DIR", default=None,
                   help="output folder (default: ./coverage_<driving>_vs_<reference>)")
    p.add_argument("--gamma", default=None, metavar="PX",
                   help="limb threshold in pixels of the reference clip: one number, or 12 comma-separated "
                        "values in the order r_shoulder,r_upper_arm,r_forearm,l_shoulder,l_upper_arm,"
                        "l_forearm,r_hip,r_thigh,r_shin,l_hip,l_thigh,l_shin (default: the paper's 8 px at "
                        "256 px, scaled to the reference clip's frame height)")
    p.add_argument("--reference-frames", default=None, metavar="START:STOP",
                   help="use only these reference frames (Python slice; ends may be fractions of the clip, "
                        "e.g. :2/3 for the first two thirds)")
    p.add_argument("--driving-frames", default=None, metavar="START:STOP",
                   help="use only these driving frames (e.g. 2/3: for the last third, or 80:120)")
    p.add_argument("--normalize", choices=NORMALIZE_CHOICES, default="auto",
                   help="move driving poses into the reference's scale/position first, as transfer does "
                        "(default auto: edn when feet are visible, else edn_upper; none to compare raw poses)")
    p.add_argument("--conf-thresh", type=float, default=0.05, metavar="C",
                   help="joints with confidence at or below C count as missing (default 0.05, the threshold "
                        "pose images are drawn with)")
    p.add_argument("--keep-offscreen", action="store_true",
                   help="also measure limbs whose two joints both lie outside the reference frame (MediaPipe "
                        "guesses off-screen arms and legs; by default such limbs are not in the pose image and "
                        "are skipped)")
    p.add_argument("--worst", type=int, default=4, metavar="K", help="number of worst frames drawn (default 4)")
    p.set_defaults(func=run)


def parse_range(text: str | None, n: int, what: str) -> tuple[int, int]:
    """``"START:STOP"`` -> ``(start, stop)`` clamped to ``[0, n]``; ends are ints (negative from the end) or
    fractions of ``n`` (``2/3``, ``0.5``). ``None`` -> the whole clip."""
    if text is None or text.strip() in ("", ":"):
        return 0, n
    parts = text.split(":")
    if len(parts) != 2:
        raise InputError(f"{what} range {text!r} is not START:STOP", fix="e.g. 0:80, 80:, :2/3 or 2/3:")

    def end(tok: str, default: int) -> int:
        tok = tok.strip()
        if not tok:
            return default
        try:
            if "/" in tok or "." in tok:
                f = Fraction(tok)
                if not 0 <= f <= 1:
                    raise ValueError
                return int(round(f * n))
            v = int(tok)
            return v + n if v < 0 else v
        except (ValueError, ZeroDivisionError):
            raise InputError(f"{what} range {text!r}: {tok!r} is not a frame number or a fraction in [0, 1]",
                             fix="e.g. 0:80, 80:, :2/3 or 2/3:") from None

    a, b = max(0, min(n, end(parts[0], 0))), max(0, min(n, end(parts[1], n)))
    if b <= a:
        raise InputError(f"{what} range {text!r} selects no frame of a {n}-frame clip")
    return a, b


def parse_gamma(text: str | None, frame_height: int) -> np.ndarray:
    from ..pose.metrics import N_LIMBS, default_gamma

    if text is None:
        return np.full(N_LIMBS, default_gamma(frame_height))
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        raise InputError(f"--gamma {text!r} is not a number or a comma-separated list", fix="e.g. --gamma 4") from None
    if len(vals) not in (1, N_LIMBS) or min(vals) <= 0:
        raise InputError(f"--gamma needs one positive value or {N_LIMBS} (one per limb), got {len(vals)}")
    return np.full(N_LIMBS, vals[0]) if len(vals) == 1 else np.asarray(vals)


def _open(path: str, what: str) -> Any:
    from ..data.clipstore import ClipStore

    p = Path(path)
    if p.is_file():
        raise InputError(f"the {what} must be a clip folder, not a video file", p,
                         f"run `reenactor extract {p} -o CLIP_DIR` and pass CLIP_DIR")
    clip = ClipStore.open(p)
    if not clip.has("body"):
        raise InputError("clip has no body keypoints", p, "re-run `reenactor extract`")
    return clip


def run(args: argparse.Namespace) -> int:
    from ..io.atomic import write_json
    from ..pose.metrics import LIMB_NAMES, LIMBS, coverage_summary, nearest_pose, pose_to_sequence
    from ..pose.normalize import Normalizer, fit_normalizer

    ref_clip, drv_clip = _open(args.reference, "reference"), _open(args.driving, "driving")
    if args.worst < 1:
        raise InputError("--worst must be at least 1")
    ra, rb = parse_range(args.reference_frames, ref_clip.n_frames, "--reference-frames")
    da, db = parse_range(args.driving_frames, drv_clip.n_frames, "--driving-frames")
    ref_kp = {k: v[ra:rb] for k, v in ref_clip.keypoints().items()}
    drv_kp = {k: v[da:db] for k, v in drv_clip.keypoints().items()}
    gamma = parse_gamma(args.gamma, ref_clip.size[0])

    if args.normalize == "none":
        norm = Normalizer.identity()
    else:
        src, tgt = dict(drv_kp), dict(ref_kp)
        if args.normalize == "global_alignment":
            src["mask"] = drv_clip.load("mask")[da:db]
            tgt["mask"] = ref_clip.load("mask")[ra:rb]
        norm = fit_normalizer(args.normalize, src, tgt, source_size=drv_clip.size, target_size=ref_clip.size,
                              conf_thresh=args.conf_thresh)
    print(f"normalization: {norm.describe()}")
    drv_body = norm.apply({"body": drv_kp["body"]})["body"]
    ref_body = ref_kp["body"]

    fsize = None if args.keep_offscreen else ref_clip.size  # driving poses are now in the reference's frame
    res = pose_to_sequence(drv_body, ref_body, gamma, conf_thresh=args.conf_thresh, frame_size=fsize)
    summary = coverage_summary(res, frame_index=np.arange(da, db), worst=args.worst)
    for w in summary["worst"]:
        j, d7 = nearest_pose(drv_body[w["row"]], ref_body, conf_thresh=args.conf_thresh, frame_size=fsize)
        w["nearest_reference_frame"] = ra + j
        w["nearest_reference_distance"] = d7
    summary.update({"conf_thresh": args.conf_thresh, "offscreen_limbs_skipped": fsize is not None, "reference": str(ref_clip.root), "driving": str(drv_clip.root),
                    "reference_frames": [ra, rb], "driving_frames": [da, db], "normalizer": norm.to_dict()})

    out = Path(args.output) if args.output else Path(f"coverage_{drv_clip.name}_vs_{ref_clip.name}")
    frames = []
    for t in range(len(res.distance)):
        rec = {"frame": da + t, **res.frame_record(t)}
        rec["nearest_reference"] = {k: (v + ra if v >= 0 else -1) for k, v in rec["nearest_reference"].items()}
        frames.append(rec)
    write_json(out / "coverage.json", {
        "method": "pose-to-sequence distance, Aberman et al. 2019 eq. 8 (per-limb nearest neighbours)",
        "limbs": [{"name": n, "joints": list(j)} for n, j in zip(LIMB_NAMES, LIMBS)],
        "gamma": gamma.tolist(), "conf_thresh": args.conf_thresh, "reference": str(ref_clip.root), "driving": str(drv_clip.root),
        "reference_frames": [ra, rb], "driving_frames": [da, db], "normalizer": norm.to_dict(),
        "frames": frames,
    })
    write_json(out / "summary.json", summary)
    png = out / "coverage.png"
    draw_report(png, res, summary, drv_clip, ref_clip, drv_kp, ref_kp, da, args.conf_thresh)
    _print_summary(summary, out)
    return 0


def _print_summary(s: dict[str, Any], out: Path) -> None:
    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{100 * v:.1f} %"

    g = float(np.mean(s["gamma"]))
    print(f"driving frames {s['driving_frames'][0]}:{s['driving_frames'][1]} of {s['driving']} against "
          f"reference frames {s['reference_frames'][0]}:{s['reference_frames'][1]} of {s['reference']}")
    print(f"frames with a pose: {s['n_frames_with_pose']} / {s['n_frames']}")
    if s["distance_mean"] is not None:
        print(f"eq.-8 distance: mean {s['distance_mean']:.2f} px, median {s['distance_median']:.2f} px, "
              f"max {s['distance_max']:.2f} px (gamma {g:.2f} px)")
    print(f"share of frames under gamma: {pct(s['share_under_gamma'])}; with no flagged limb: "
          f"{pct(s['share_all_limbs_covered'])}")
    flagged = {k: v for k, v in s["limb_flag_share"].items() if v}
    if flagged:
        print("limbs flagged most: " + ", ".join(f"{k} {pct(v)}" for k, v in
                                                 sorted(flagged.items(), key=lambda kv: -kv[1])[:5]))
    if s["never_seen_limbs"]:
        print("limbs never seen in the reference: " + ", ".join(s["never_seen_limbs"]))
    for w in s["worst"]:
        print(f"  worst: driving frame {w['frame']:5d}  d = {w['distance']:.2f} px  nearest reference frame "
              f"{w['nearest_reference_frame']}  flagged: {', '.join(w['flagged_limbs']) or '-'}")
    print(f"wrote {out / 'coverage.json'}, {out / 'summary.json'}, {out / 'coverage.png'}")


def _panel(clip: Any, t: int, kp: dict[str, np.ndarray], row: int, grey: list[int] | None = None,
           conf_thresh: float = 0.05) -> np.ndarray:
    """The clip's frame ``t`` (black if the clip stores none) with pose ``row`` of ``kp`` drawn on it."""
    import cv2

    from ..pose.metrics import LIMBS
    from ..pose.render import draw_pose

    h, w = clip.size
    img = np.asarray(clip.load("frames")[t]) if clip.has("frames") else np.zeros((h, w, 3), np.uint8)
    img = (0.6 * img).astype(np.uint8)  # dim the frame so the figure stands out
    pose = {k: v[row] for k, v in kp.items()}
    img = draw_pose(img, pose, thresh=conf_thresh)
    thick = max(1, int(round(4 * min(h, w) / 256)))
    b = pose["body"]
    for k in grey or []:
        a, c = LIMBS[k]
        if b[a, 2] > conf_thresh and b[c, 2] > conf_thresh:
            cv2.line(img, (int(round(b[a, 0])), int(round(b[a, 1]))), (int(round(b[c, 0])), int(round(b[c, 1]))),
                     (150, 150, 150), thick + 1, cv2.LINE_AA)
    return img


def draw_report(path: Path, res: Any, summary: dict[str, Any], drv_clip: Any, ref_clip: Any,
                drv_kp: dict[str, np.ndarray], ref_kp: dict[str, np.ndarray], da: int,
                conf_thresh: float = 0.05) -> None:
    """The PNG: eq.-8 distance over the driving frames, then the worst driving poses (flagged limbs grey)
    above their nearest reference poses (eq. 7 over the whole pose). Written atomically (Agg canvas)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..io.atomic import atomic_path
    from ..pose.metrics import LIMB_NAMES

    worst = summary["worst"]
    k = max(1, len(worst))
    fig = Figure(figsize=(max(8.0, 2.4 * k), 3.0 + 2 * 2.6), dpi=100)
    gs = fig.add_gridspec(3, k, height_ratios=[1.1, 1, 1], hspace=0.45, top=0.94, bottom=0.03, left=0.07,
                          right=0.97)
    ax = fig.add_subplot(gs[0, :])
    t = np.arange(len(res.distance)) + da
    g = float(np.mean(summary["gamma"]))
    ax.plot(t, res.distance, color="tab:blue", lw=1.2, label="eq. 8 distance")
    ax.axhline(g, color="tab:red", ls="--", lw=1, label=f"gamma = {g:.2f} px")
    anyflag = res.flagged.any(1)
    if anyflag.any():
        ax.scatter(t[anyflag], res.distance[anyflag], s=10, color="tab:orange", zorder=3,
                   label="frames with flagged limbs")
    for w in worst:
        ax.annotate(str(w["frame"]), (w["frame"], w["distance"]), textcoords="offset points", xytext=(0, 4),
                    ha="center", fontsize=7)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("driving frame")
    ax.set_ylabel("distance to reference (px)")
    share = summary["share_under_gamma"]
    ax.set_title(f"pose coverage: {100 * share:.1f} % of driving frames under gamma" if share is not None
                 else "pose coverage: no driving frame has a pose", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    for j, w in enumerate(worst):
        grey = [LIMB_NAMES.index(n) for n in w["flagged_limbs"]]
        a1 = fig.add_subplot(gs[1, j])
        a1.imshow(_panel(drv_clip, w["frame"], drv_kp, w["row"], grey, conf_thresh))
        names = [n.replace("_", " ") for n in w["flagged_limbs"]]
        fl = ", ".join(names[:2]) + (f" +{len(names) - 2}" if len(names) > 2 else "") if names else "none"
        a1.set_title(f"driving {w['frame']}: d={w['distance']:.1f} px\nflagged ({len(names)}, grey): {fl}",
                     fontsize=7)
        a1.axis("off")
        a2 = fig.add_subplot(gs[2, j])
        r = w["nearest_reference_frame"]
        a2.imshow(_panel(ref_clip, r, ref_kp, r - summary["reference_frames"][0], None, conf_thresh))
        a2.set_title(f"nearest reference {r}: d7={w['nearest_reference_distance']:.1f}", fontsize=7)
        a2.axis("off")
    with atomic_path(path) as tmp:
        FigureCanvasAgg(fig).print_png(str(tmp))
