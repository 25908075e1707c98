"""``reenactor coverage``: which driving frames will a model trained on a target video render badly?

The same computation ``reenactor transfer`` runs before it renders (:func:`reenactor.pose.metrics.assess_coverage`
after :func:`reenactor.transfer.fit_driving_normalizer`), so both print the same verdict for the same pair: the
driving poses are moved into the target's frame with the normalization transfer uses, then every driving frame
is either without a person, with a person only outside the frame, or compared with the training poses. For
that comparison each of 12 limbs (shoulder, upper arm, forearm, hip, thigh, shin on each side) finds its most
similar limb among the training poses (Aberman et al. 2019, eqs. 7-8); a frame whose limbs are further than the
limit on average, or that shows a limb no training frame shows, lies outside what the model has seen.

The reference is the target's clip folder or the trained model file itself (its stored training poses); the
driving input is anything transfer takes (a video, a clip folder, a pose file, ``sample:NAME``).

Writes ``DIR/coverage.json`` (per frame: status, distance, per-limb distances and nearest training frames),
``DIR/summary.json`` (counts, the verdict, the worst frames; the verdict is also printed) and
``DIR/coverage.png`` (the verdict, the distance over time with the limit and every frame's status, the worst
driving frames beside their most similar training frames, and what the terms mean).
"""

from __future__ import annotations

import argparse
import textwrap
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ._args import (
    NORMALIZATIONS,
    add_force,
    add_min_confidence,
    add_normalization,
    add_output,
    add_progress,
    positive_int,
)

#: kept for callers of the old module constant
NORMALIZE_CHOICES = NORMALIZATIONS
RESULTS = ("coverage.json", "summary.json", "coverage.png")

EPILOG = """\
examples:
  reenactor coverage --reference clips/me --driving dance.mp4 -o coverage/
  reenactor coverage --reference runs/me/model.safetensors --driving sample:bikes -o coverage/
  reenactor coverage --reference clips/me --driving clips/me --reference-frames :2/3 --driving-frames 2/3:

prints one verdict, e.g. "38 of 250 driving frames show no person; 30 % of the rest lie outside what the model
has seen: expect artifacts there"; the per-frame and per-limb detail is in the JSON files and the PNG.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "coverage",
        help="which driving frames a model trained on the target video will render badly (the verdict transfer "
        "prints, with its detail)",
        description="Moves the driving poses into the target's frame (the normalization transfer uses), then "
        "says for every driving frame whether it shows a person, whether that person is inside the "
        "frame, and how far its limbs are from the most similar limbs of the training poses "
        "(Aberman et al. 2019). Prints one verdict; writes coverage.json, summary.json and "
        "coverage.png.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--reference",
        required=True,
        metavar="TARGET",
        help="what the model learned from: the target's clip folder (from `reenactor extract`) or the "
        "trained model file (RUN_DIR/model.safetensors: its stored training poses)",
    )
    p.add_argument(
        "--driving",
        required=True,
        metavar="DRIVING",
        help="the driving input, as transfer takes it: a video, a clip folder, a pose file "
        "(.poses.npz) or sample:NAME (a video's poses are extracted first)",
    )
    add_output(
        p,
        "folder for coverage.json, summary.json and coverage.png (default: "
        "./coverage_<driving>_vs_<reference>)",
        metavar="DIR",
    )
    add_force(p, "write into a folder that holds an earlier report (its three files are replaced)")
    add_normalization(
        p,
        "how the driving poses are moved into the target's frame first, as transfer does: auto "
        "(edn when feet are visible in both, else edn_upper), edn, edn_upper, first_frame, "
        "global_alignment (person masks; clip folders only), none (compare the poses as they "
        "are) (default: auto)",
    )
    p.add_argument(
        "--normalize",
        dest="normalization",
        choices=NORMALIZATIONS,
        default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
    )
    p.add_argument(
        "--max-distance",
        dest="max_distance",
        default=None,
        metavar="PX",
        help="how far (pixels of the target's frame) a limb may be from the most similar training limb "
        "and still count as seen: one number, or 12 comma-separated values in the order "
        "r_shoulder,r_upper_arm,r_forearm,l_shoulder,l_upper_arm,l_forearm,r_hip,r_thigh,r_shin,"
        "l_hip,l_thigh,l_shin (default: 8 px at 256 px, Aberman et al.'s value, scaled to the "
        "target's frame height)",
    )
    p.add_argument("--gamma", dest="max_distance", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    add_min_confidence(
        p,
        "keypoints at or below this confidence count as missing (0.05 is the threshold poses "
        "are drawn with, and the one transfer uses)",
        0.05,
        hidden_aliases=("--conf-thresh", "--thresh"),
    )
    p.add_argument(
        "--reference-frames",
        default=None,
        metavar="START:STOP",
        help="use only these reference frames (Python slice; ends may be fractions of the clip, "
        "e.g. :2/3 for the first two thirds)",
    )
    p.add_argument(
        "--driving-frames",
        default=None,
        metavar="START:STOP",
        help="use only these driving frames (e.g. 2/3: for the last third, or 80:120)",
    )
    p.add_argument(
        "--keep-offscreen",
        action="store_true",
        help="also measure limbs lying entirely outside the target's frame after normalization (they "
        "are not drawn into the model's input, so by default they are not measured)",
    )
    p.add_argument(
        "--worst",
        type=positive_int,
        default=4,
        metavar="K",
        help="how many of the worst driving frames to draw, at least len/(2K) frames apart (default 4)",
    )
    add_progress(p, "no progress bar (a driving video's pose extraction shows one)")
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
            raise InputError(
                f"{what} range {text!r}: {tok!r} is not a frame number or a fraction in [0, 1]",
                fix="e.g. 0:80, 80:, :2/3 or 2/3:",
            ) from None

    a, b = max(0, min(n, end(parts[0], 0))), max(0, min(n, end(parts[1], n)))
    if b <= a:
        raise InputError(f"{what} range {text!r} selects no frame of a {n}-frame clip")
    return a, b


def parse_gamma(text: str | None, frame_height: int) -> np.ndarray:
    """``--max-distance`` (old name ``--gamma``): one value or one per limb; default the paper's 8 px at 256 px."""
    from ..pose.metrics import N_LIMBS, default_gamma

    if text is None:
        return np.full(N_LIMBS, default_gamma(frame_height))
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        raise InputError(
            f"--max-distance {text!r} is not a number or a comma-separated list", fix="e.g. --max-distance 4"
        ) from None
    if len(vals) not in (1, N_LIMBS) or min(vals) <= 0:
        raise InputError(
            f"--max-distance needs one positive value or {N_LIMBS} (one per limb), got {len(vals)}",
            fix="e.g. --max-distance 4",
        )
    return np.full(N_LIMBS, vals[0]) if len(vals) == 1 else np.asarray(vals)


# ------------------------------------------------------------------------------------------ the two inputs
@dataclass
class Target:
    """The reference side: training poses in the target's frame, and (a clip) its frames."""

    name: str
    size: tuple[int, int]
    train_poses: dict[str, np.ndarray]  # per key (T, K, 3), the selected frames
    clip: Any = None  # the ClipStore, when the reference is a clip folder (frames and masks)
    first: int = 0  # the selected frames start here
    n_total: int = 0

    @property
    def body(self) -> np.ndarray:
        return self.train_poses["body"]


def _open_reference(path: str, frames: str | None) -> Target:
    from ..data.clipstore import ClipStore
    from ..driving import KEYPOINT_KEYS

    p = Path(path)
    if p.is_dir() and not (p / "model.safetensors").is_file():
        clip = ClipStore.open(p)
        if not clip.has("body"):
            raise InputError("clip has no body keypoints", p, "re-run `reenactor extract`")
        a, b = parse_range(frames, clip.n_frames, "--reference-frames")
        kp = {k: np.asarray(v[a:b]) for k, v in clip.keypoints().items()}
        return Target(str(clip.root), tuple(int(v) for v in clip.size), kp, clip, a, clip.n_frames)
    if p.is_file() and p.suffix.lower() not in (".safetensors",):
        raise InputError(
            "the reference must be the target's clip folder or a model file, not a video or image",
            p,
            f"run `reenactor extract {p} -o CLIP_DIR` and pass CLIP_DIR, or pass the trained "
            "RUN_DIR/model.safetensors",
        )
    if not p.exists():
        raise InputError(
            "reference not found", p, "pass the target's clip folder or RUN_DIR/model.safetensors"
        )
    from ..modelfile import load_model

    m = load_model(p)
    poses = {
        k.split(".", 1)[1]: v.float().numpy() for k, v in m.tensors.items() if k.startswith("train_pose.")
    }
    if "body" not in poses or not len(poses["body"]):
        raise InputError(
            f"model ({m.method}) stores no training poses to compare with",
            m.path,
            "pass the target's clip folder instead (a reference method has no training poses)",
        )
    size = m.meta.get("size") or m.config.get("size")
    size = (int(size), int(size)) if isinstance(size, (int, float)) else tuple(int(v) for v in size)
    n = len(poses["body"])
    a, b = parse_range(frames, n, "--reference-frames")
    poses = {k: v[a:b] for k, v in poses.items() if k in KEYPOINT_KEYS}
    return Target(str(m.path), size, poses, None, a, n)


# ------------------------------------------------------------------------------------------ the command
def run(args: argparse.Namespace) -> int:
    from ..driving import KEYPOINT_KEYS, open_driving
    from ..io.atomic import write_json
    from ..pose.metrics import LIMB_NAMES, LIMBS, STATUSES, assess_coverage, nearest_pose
    from ..pose.normalize import check_fit, fit_normalizer
    from ..transfer import fit_driving_normalizer
    from ._output import check_output_dir

    if args.worst < 1:
        raise InputError(f"--worst must be at least 1, got {args.worst}", fix="e.g. --worst 4")
    ref = _open_reference(args.reference, args.reference_frames)
    drv_path = Path(args.driving)
    if not drv_path.exists() and not str(args.driving).startswith("sample:"):
        what = "clip folder" if not drv_path.suffix else "driving input"
        raise InputError(
            f"{what} not found",
            drv_path,
            "make one with `reenactor extract VIDEO -o CLIP_DIR`, or pass "
            "a video, a .poses.npz file or sample:NAME",
        )
    out = (
        Path(args.output)
        if args.output
        else Path(f"coverage_{Path(str(args.driving).replace('sample:', '')).stem}_vs_{Path(ref.name).stem}")
    )
    check_output_dir(out, args.force, "coverage report folder", results=RESULTS)
    gamma = parse_gamma(args.max_distance, ref.size[0])
    conf = float(args.min_confidence)

    src = open_driving(args.driving)
    try:
        src.prepare(not args.no_progress)
        n_drv = len(src)
        da, db = parse_range(args.driving_frames, n_drv, "--driving-frames")
        drv_body = np.asarray(src.bodies()[da:db], np.float32)
        src_size = src.frame_size()

        # ---- normalization: transfer's own fit (same function, same options)
        if args.normalization == "global_alignment":
            boxes = src.layout_boxes()
            if ref.clip is None or not ref.clip.has("mask") or boxes is None:
                raise InputError(
                    "global_alignment needs person masks of both inputs (clip folders from `reenactor "
                    "extract`)",
                    args.reference if ref.clip is None else args.driving,
                    "use --normalization auto, edn, edn_upper or first_frame",
                )
            from ..pose.normalize import layout_box

            tb = layout_box(np.asarray(ref.clip.load("mask")[ref.first : ref.first + len(ref.body)]))
            norm = fit_normalizer(
                "global_alignment",
                {"body": drv_body},
                {"body": ref.body},
                source_boxes=(boxes[0][da:db], boxes[1][da:db]),
                target_boxes=tb,
            )
        else:
            norm = fit_driving_normalizer(
                args.normalization, drv_body, ref, src_size, check=False, conf_thresh=conf
            )
        print(f"normalization: {norm.describe()}")
        problems = check_fit(norm, drv_body, src_size, ref.size, conf)
        for prob in problems:
            print(f"WARNING: this fit looks broken ({prob}); `reenactor transfer` refuses it without --force")
        moved = norm.apply({"body": drv_body})["body"]
        norm.reset()

        # ---- the verdict: the computation transfer runs
        rep = assess_coverage(
            moved,
            ref.body,
            ref.size,
            gamma=gamma,
            conf_thresh=conf,
            keep_offscreen=args.keep_offscreen,
            frame_index=np.arange(da, db),
            worst=args.worst,
        )
        res, status, summary = rep.result, rep.status, rep.summary
        fsize = None if args.keep_offscreen else ref.size
        for w in summary["worst"]:
            j, d7 = nearest_pose(moved[w["row"]], ref.body, conf_thresh=conf, frame_size=fsize)
            w["nearest_reference_frame"] = ref.first + j if np.isfinite(d7) else None
            w["nearest_reference_distance"] = float(d7) if np.isfinite(d7) else None
        summary.update(
            {
                "reference": ref.name,
                "driving": str(args.driving),
                "reference_frames": [ref.first, ref.first + len(ref.body)],
                "driving_frames": [da, db],
                "driving_frame_size": None if src_size is None else list(src_size),
                "normalizer": norm.to_dict(),
                "normalization_problems": problems,
            }
        )

        # ---- the worst frames' driving images and keypoints (one pass over the driving input)
        want = {w["row"] + da: w for w in summary["worst"]}
        shots: dict[int, tuple[np.ndarray | None, dict[str, np.ndarray]]] = {}
        if want:
            for t, (frame, rec) in enumerate(src.iter_frames(frames=True, keys=KEYPOINT_KEYS)):
                if t in want:
                    shots[t] = (frame, {k: np.asarray(rec[k]) for k in KEYPOINT_KEYS if k in rec})
                    if len(shots) == len(want):
                        break
    finally:
        src.close()

    frames = []
    for t in range(len(res.distance)):
        rec = {"frame": da + t, "status": str(status[t]), **res.frame_record(t)}
        rec["nearest_reference"] = {
            k: (v + ref.first if v >= 0 else -1) for k, v in rec["nearest_reference"].items()
        }
        frames.append(rec)
    write_json(
        out / "coverage.json",
        {
            "method": "pose-to-sequence distance, Aberman et al. 2019 eqs. 7-8 (per-limb nearest neighbours among the "
            "training poses), after the normalization transfer uses",
            "status_meaning": summary["status_meaning"],
            "statuses": list(STATUSES),
            "limbs": [{"name": n, "joints": list(j)} for n, j in zip(LIMB_NAMES, LIMBS)],
            "max_distance_px": gamma.tolist(),
            "conf_thresh": conf,
            "reference": ref.name,
            "driving": str(args.driving),
            "reference_frames": summary["reference_frames"],
            "driving_frames": [da, db],
            "normalizer": norm.to_dict(),
            "frames": frames,
        },
    )
    write_json(out / "summary.json", summary)
    draw_report(out / "coverage.png", rep, ref, shots, da, conf, norm)
    _print_summary(summary, out)
    return 0


def _print_summary(s: dict[str, Any], out: Path) -> None:
    print(
        f"driving frames {s['driving_frames'][0]}:{s['driving_frames'][1]} of {s['driving']} against training "
        f"frames {s['reference_frames'][0]}:{s['reference_frames'][1]} of {s['reference']}"
    )
    print(f"verdict: {s['verdict']}")
    print(
        f"(a pose lies outside what the model has seen when its limbs are on average more than "
        f"{float(np.mean(s['gamma'])):.1f} px from the most similar training limbs, or when it shows a limb no "
        "training frame shows; per-limb detail in coverage.json)"
    )
    if s["worst"]:

        def how(w: dict[str, Any]) -> str:
            return "a limb never seen in training" if w["distance"] is None else f"{w['distance']:.1f} px"

        print("worst frames: " + ", ".join(f"{w['frame']} ({how(w)})" for w in s["worst"]))
    print(f"wrote {out / 'coverage.json'}, {out / 'summary.json'}, {out / 'coverage.png'}")


# ------------------------------------------------------------------------------------------ the PNG
STATUS_STYLE = {  # colour, marker, legend label
    "covered": ("tab:green", "o", "within what the model has seen"),
    "unseen": ("tab:orange", "o", "outside what the model has seen"),
    "no_limb": ("tab:brown", "|", "too little of the body to compare"),
    "off_screen": ("tab:purple", "|", "person only outside the frame after normalization"),
    "no_person": ("0.55", "|", "no person"),
}


def _panel(
    image: np.ndarray | None,
    size: tuple[int, int],
    kp: dict[str, np.ndarray],
    grey: list[int] | None = None,
    conf_thresh: float = 0.05,
) -> np.ndarray:
    """``image`` (or a black ``size`` canvas) dimmed, with the pose ``kp`` drawn on it; limbs ``grey`` in grey."""
    import cv2

    from ..pose.metrics import LIMBS
    from ..pose.render import draw_pose

    img = np.zeros((*size, 3), np.uint8) if image is None else np.asarray(image)
    h, w = img.shape[:2]
    img = (0.6 * img).astype(np.uint8)  # dim the frame so the figure stands out
    img = draw_pose(img, kp, thresh=conf_thresh)
    thick = max(1, int(round(4 * min(h, w) / 256)))
    b = kp["body"]
    for k in grey or []:
        a, c = LIMBS[k]
        if b[a, 2] > conf_thresh and b[c, 2] > conf_thresh:
            cv2.line(
                img,
                (int(round(b[a, 0])), int(round(b[a, 1]))),
                (int(round(b[c, 0])), int(round(b[c, 1]))),
                (150, 150, 150),
                thick + 1,
                cv2.LINE_AA,
            )
    return img


def draw_report(
    path: Path,
    rep: Any,
    ref: Target,
    shots: dict[int, tuple[np.ndarray | None, dict]],
    da: int,
    conf_thresh: float = 0.05,
    norm: Any = None,
) -> None:
    """The PNG, top to bottom: the verdict; the distance of every compared driving frame with the limit line
    (frames above it, and frames showing a never-seen limb drawn at the top, are the ones outside what the
    model has seen); a strip with every driving frame's status; what the terms mean; the worst driving frames
    (at least ``summary["worst_min_gap"]`` frames apart; grey limbs: beyond the limit) above their most similar
    training frames. Written atomically (Agg canvas)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    from ..io.atomic import atomic_path
    from ..pose.metrics import LIMB_NAMES, STATUSES

    res, status, s = rep.result, rep.status, rep.summary
    worst = s["worst"]
    k = max(4, len(worst))
    g = float(np.mean(s["gamma"]))
    fw = max(11.0, 2.75 * k)
    # panel height from the widest image shown (a landscape driving video gets shorter panels)
    aspect = 1.0
    for frame, _ in shots.values():
        if frame is not None:
            aspect = max(aspect, frame.shape[1] / frame.shape[0])
    ph = min(2.4, 0.9 * fw / k / aspect) + 0.45  # image + its two title lines
    rh = min(2.4, 0.9 * fw / k) + 0.45
    rows = [
        ("head", 1.5),
        ("plot", 2.7),
        ("strip", 0.32),
        ("gap", 0.5),
        ("legend", 0.55),
        ("text", 0.85),
        ("drv", ph),
        ("ref", rh),
        ("pad", 0.1),
    ]
    fh = sum(h for _, h in rows)
    fig = Figure(figsize=(fw, fh), dpi=100)
    tops, y = {}, fh
    for name, h in rows:
        tops[name] = (y, h)
        y -= h

    def box(
        name: str, x0: float = 0.075, x1: float = 0.985, pad: float = 0.0, title: float = 0.0
    ) -> list[float]:
        """Axes rectangle of row ``name`` (figure fractions); ``title`` inches kept free above it."""
        top, h = tops[name]
        return [x0, (top - h + pad) / fh, x1 - x0, (h - 2 * pad - title) / fh]

    wrap = int(fw * 12.5)
    # ---- the verdict
    alarm = (s["share_unseen"] or 0) > 0.25 or (s["share_unrenderable"] or 0) > 0.5
    fig.text(
        0.075,
        1 - 0.18 / fh,
        "Pose coverage: how well will the model render these driving poses?",
        fontsize=13,
        weight="bold",
        va="top",
    )
    fig.text(
        0.075,
        1 - 0.48 / fh,
        "\n".join(textwrap.wrap("Verdict: " + s["verdict"] + ".", int(wrap * 0.82))),
        fontsize=10.5,
        va="top",
        color="tab:red" if alarm else "darkgreen",
    )
    probs = s.get("normalization_problems") or []
    fig.text(
        0.075,
        1 - 0.92 / fh,
        "\n".join(
            textwrap.wrap(
                f"driving: {s['driving']} (frames {s['driving_frames'][0]}-{s['driving_frames'][1] - 1});   training poses: "
                f"{s['reference']} (frames {s['reference_frames'][0]}-{s['reference_frames'][1] - 1});   normalization: "
                f"{norm.describe() if norm is not None else '?'}"
                + (
                    f"; it looks broken, and transfer refuses it without --force: {'; '.join(probs)}"
                    if probs
                    else ""
                ),
                int(wrap * 1.15),
            )
        ),
        fontsize=7.5,
        va="top",
        color="tab:red" if probs else "0.35",
    )
    # ---- distance over time
    ax = fig.add_axes(box("plot", pad=0.05))
    t = np.arange(len(res.distance)) + da
    d = res.distance
    never = np.isinf(res.limb_distance).any(1)
    finite = np.isfinite(d)
    top = max(2.5 * g, float(np.nanmax(d[finite])) * 1.15 if finite.any() else 2.5 * g)
    ax.plot(t, np.where(finite, d, np.nan), color="0.7", lw=0.8, zorder=1)
    ax.axhline(g, color="tab:red", ls="--", lw=1.2, zorder=2)
    ax.text(
        1.0,
        g,
        f" limit {g:.1f} px",
        color="tab:red",
        fontsize=7.5,
        va="bottom",
        ha="right",
        transform=ax.get_yaxis_transform(),
    )
    for st in ("covered", "unseen"):
        sel = (status == st) & finite
        if sel.any():
            ax.scatter(t[sel], d[sel], s=14, color=STATUS_STYLE[st][0], zorder=3)
    sel = (status == "unseen") & ~finite & never
    if sel.any():
        ax.scatter(t[sel], np.full(sel.sum(), top * 0.96), s=24, color="tab:orange", marker="^", zorder=3)
    for w in worst:
        yy = w["distance"] if w["distance"] is not None else top * 0.96
        ax.annotate(
            str(w["frame"]),
            (w["frame"], yy),
            textcoords="offset points",
            xytext=(0, -12 if w["distance"] is None else 5),
            ha="center",
            fontsize=7.5,
            weight="bold",
        )
    ax.set_ylim(0, top)
    lo, hi = (t[0] - 0.5, t[-1] + 0.5) if len(t) else (0, 1)
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(labelbottom=False, labelsize=8)
    ax.set_ylabel("distance to the\ntraining poses (px)", fontsize=8.5)
    ax.grid(alpha=0.3)
    if not finite.any() and not sel.any():
        ax.text(
            0.5,
            0.5,
            "no driving frame could be compared with the training poses",
            ha="center",
            va="center",
            fontsize=10,
            transform=ax.transAxes,
        )
    # ---- every frame's status
    sx = fig.add_axes(box("strip"), sharex=ax)
    code = np.array([STATUSES.index(v) for v in status], float)[None] if len(status) else np.zeros((1, 1))
    cmap = ListedColormap([STATUS_STYLE[v][0] for v in STATUSES])
    sx.imshow(
        code,
        aspect="auto",
        cmap=cmap,
        vmin=-0.5,
        vmax=len(STATUSES) - 0.5,
        interpolation="nearest",
        extent=(lo, hi, 0, 1),
    )
    sx.set_yticks([])
    sx.set_ylabel("status", fontsize=8, rotation=0, ha="right", va="center")
    sx.tick_params(labelsize=8)
    sx.set_xlabel("driving frame", fontsize=8.5)
    # ---- legend and words
    c = s["counts"]
    handles = [
        Line2D(
            [],
            [],
            color="tab:red",
            ls="--",
            label=f"limit {g:.1f} px: above it a pose lies outside what the model has seen",
        )
    ]
    if never.any():
        handles.append(
            Line2D(
                [],
                [],
                color="tab:orange",
                marker="^",
                ls="",
                label="shows a limb no training frame shows (drawn at the top)",
            )
        )
    handles += [Patch(color=STATUS_STYLE[v][0], label=f"{STATUS_STYLE[v][2]} ({c[v]})") for v in STATUSES]
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.075, (tops["legend"][0] + 0.05) / fh),
        ncol=3,
        fontsize=7.5,
        frameon=False,
    )
    words = (
        "Distance: each limb of a driving pose (shoulders, upper arms, forearms, hips, thighs, shins) is matched "
        "with the most similar limb of any training frame: laid from the same starting point, how far apart the "
        f"two limbs end, in pixels of the model's {ref.size[1]}x{ref.size[0]} frame; a frame's distance is the "
        f"average over the limbs it shows (Aberman et al. 2019). The limit is {g:.1f} px (their 8 px at 256 px, "
        "scaled). Only frames with a person inside the model's frame after normalization can be compared; the "
        f"strip shows what every frame is. Below: the worst driving frames (at least {s['worst_min_gap']} frames "
        "apart) with their limbs beyond the limit in grey, and under each the training frame whose whole pose is "
        "most similar."
    )
    fig.text(
        0.075,
        (tops["text"][0] - 0.02) / fh,
        "\n".join(textwrap.wrap(words, int(wrap * 1.1))),
        fontsize=7.8,
        va="top",
        color="0.15",
    )
    # ---- the worst frames
    cw = 0.91 / k
    for j, w in enumerate(worst):
        x0 = 0.075 + j * cw
        frame, kp = shots.get(w["row"] + da, (None, None))
        a1 = fig.add_axes(box("drv", x0 + 0.005, x0 + cw - 0.005, pad=0.03, title=0.42))
        a1.axis("off")
        if kp is not None:
            grey = [LIMB_NAMES.index(n) for n in w["flagged_limbs"]]
            fsize = frame.shape[:2] if frame is not None else tuple(s.get("driving_frame_size") or ref.size)
            a1.imshow(_panel(frame, fsize, kp, grey, conf_thresh))
        names = [n.replace("_", " ") for n in w["flagged_limbs"]]
        fl = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "") if names else "none"
        head = (
            f"{w['distance']:.1f} px from training"
            if w["distance"] is not None
            else "limbs never seen in training"
        )
        a1.set_title(f"driving frame {w['frame']}: {head}\ngrey: {fl}", fontsize=7.5)
        a2 = fig.add_axes(box("ref", x0 + 0.005, x0 + cw - 0.005, pad=0.03, title=0.42))
        a2.axis("off")
        r = w.get("nearest_reference_frame")
        if r is not None:
            row = r - ref.first
            img = (
                np.asarray(ref.clip.load("frames")[r])
                if ref.clip is not None and ref.clip.has("frames")
                else None
            )
            a2.imshow(
                _panel(img, ref.size, {k2: v[row] for k2, v in ref.train_poses.items()}, None, conf_thresh)
            )
            a2.set_title(
                f"most similar training frame {r}\n(whole pose {w['nearest_reference_distance']:.1f} px "
                "apart)",
                fontsize=7.5,
            )
        else:
            a2.text(
                0.5,
                0.6,
                "no training frame shows\nany of these limbs",
                ha="center",
                va="center",
                fontsize=8,
                transform=a2.transAxes,
                color="0.3",
            )
    with atomic_path(path) as tmp:
        FigureCanvasAgg(fig).print_png(str(tmp))
