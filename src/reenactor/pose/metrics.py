"""Pose metrics of "Deep Video-Based Performance Cloning" (Aberman et al. 2019, sec. 4).

Limb descriptor
    12 limbs, 3 for each arm with its shoulder and 3 for each leg with its hip (:data:`LIMBS`, BODY_25
    indices): neck->shoulder, shoulder->elbow, elbow->wrist on each side; mid-hip->hip, hip->knee,
    knee->ankle on each side. A limb's descriptor is the 2D displacement ``p^l = (x1 - x2, y1 - y2)`` between
    its first and second joint, in pixels; it is invariant to translation but not to scale or rotation.
Pose to pose (eq. 7)
    ``d(p_i, p_j) = 1/|L| sum_l ||p_i^l - p_j^l||_2``.
Pose to sequence (eq. 8)
    ``d(p_i, v) = 1/|L| sum_l min_{p_j in v} ||p_i^l - p_j^l||_2``: every limb finds its own nearest neighbour
    in the reference sequence (a KD-tree per limb, :class:`scipy.spatial.cKDTree`). A limb whose distance
    exceeds its threshold ``gamma_l`` is *flagged*: likely to render badly.

A joint is visible when its confidence exceeds ``conf_thresh`` (default :data:`VISIBLE` = 0.05, the threshold
:func:`reenactor.pose.render.draw_pose` draws with, so what a generator is shown is what is measured;
MediaPipe's off-screen legs carry confidences around 1e-5). Given a ``frame_size``, a limb whose two joints
both lie outside the frame is missing as well (MediaPipe guesses off-screen arms with confidences up to ~0.5;
such a limb is not in the pose image). Missing joints make the limbs that use them missing, with these rules:

* a missing limb of the driving pose is left out of that frame's average (eq. 7 and 8 average over the limbs
  present; ``n_limbs`` says how many); a frame with no limb at all has distance NaN;
* a reference frame whose limb is missing is not a candidate neighbour for that limb;
* a driving limb that is present but missing in *every* reference frame has distance +inf: it was never
  seen, so it is flagged, and the frame's average runs over the limbs that could be matched.

The paper shows limbs above ``gamma = 8`` as problematic (Fig. 4) for its 256-pixel frames;
:func:`default_gamma` scales that to the clip's frame height.

The verdict (:func:`assess_coverage`, shared by ``reenactor coverage`` and ``reenactor transfer``)
    Every driving frame gets one status, in this order: ``no_person`` (no body joint above the confidence
    threshold), ``off_screen`` (a person, but after normalization none of its visible joints lies inside the
    model's frame: nothing of it would be drawn), ``no_limb`` (in the frame, but no limb to compare), ``unseen``
    (eq.-8 distance above the threshold, or a limb the training poses never show) or ``covered``. The verdict
    is one sentence over *all* driving frames, e.g. "38 of 250 driving frames show no person; 30 % of the rest
    lie outside what the model has seen: expect artifacts there"; the per-limb detail stays in the JSON / PNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .skeleton import J

LIMBS: tuple[tuple[int, int], ...] = (
    (J["Neck"], J["RShoulder"]),
    (J["RShoulder"], J["RElbow"]),
    (J["RElbow"], J["RWrist"]),
    (J["Neck"], J["LShoulder"]),
    (J["LShoulder"], J["LElbow"]),
    (J["LElbow"], J["LWrist"]),
    (J["MidHip"], J["RHip"]),
    (J["RHip"], J["RKnee"]),
    (J["RKnee"], J["RAnkle"]),
    (J["MidHip"], J["LHip"]),
    (J["LHip"], J["LKnee"]),
    (J["LKnee"], J["LAnkle"]),
)
LIMB_NAMES: tuple[str, ...] = (
    "r_shoulder",
    "r_upper_arm",
    "r_forearm",
    "l_shoulder",
    "l_upper_arm",
    "l_forearm",
    "r_hip",
    "r_thigh",
    "r_shin",
    "l_hip",
    "l_thigh",
    "l_shin",
)
N_LIMBS = len(LIMBS)
VISIBLE = 0.05  # joints with confidence above this are visible (render.draw_pose's default threshold)
GAMMA_AT_256 = 8.0  # the paper's threshold (Fig. 4), pixels at 256-pixel frames


def default_gamma(frame_height: float) -> float:
    """The paper's limb threshold 8 px at 256 px, scaled to ``frame_height`` pixels."""
    return GAMMA_AT_256 * float(frame_height) / 256.0


def limb_descriptors(
    body: np.ndarray, conf_thresh: float = VISIBLE, frame_size: Sequence[int] | None = None
) -> np.ndarray:
    """Limb descriptors of ``body (..., 25, 3)``: ``(..., 12, 2)`` float64 displacements ``x1 - x2``, pixels.

    NaN where either joint of the limb is missing (confidence <= ``conf_thresh``) and, when ``frame_size``
    ``(H, W)`` is given, where both joints lie outside the frame (such a limb is not in the pose image).
    """
    body = np.asarray(body, np.float64)
    a = np.array([limb[0] for limb in LIMBS])
    b = np.array([limb[1] for limb in LIMBS])
    d = body[..., a, :2] - body[..., b, :2]
    ok = (body[..., a, 2] > conf_thresh) & (body[..., b, 2] > conf_thresh)
    if frame_size is not None:
        h, w = float(frame_size[0]), float(frame_size[1])
        x, y = body[..., 0], body[..., 1]
        inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
        ok &= inside[..., a] | inside[..., b]
    return np.where(ok[..., None], d, np.nan)


def pose_to_pose(
    a: np.ndarray,
    b: np.ndarray,
    per_limb: bool = False,
    conf_thresh: float = VISIBLE,
    frame_size: Sequence[int] | None = None,
) -> np.ndarray | float:
    """Eq. 7: mean limb distance between poses ``a`` and ``b`` (``(..., 25, 3)``, broadcastable).

    Averages over limbs present in both (NaN if none). ``per_limb=True`` returns the ``(..., 12)`` limb
    distances instead (NaN where missing).
    """
    dl = np.linalg.norm(
        limb_descriptors(a, conf_thresh, frame_size) - limb_descriptors(b, conf_thresh, frame_size), axis=-1
    )
    if per_limb:
        return dl
    with np.errstate(invalid="ignore"):
        n = np.isfinite(dl).sum(-1)
        out = np.where(n > 0, np.nansum(dl, -1) / np.maximum(n, 1), np.nan)
    return float(out) if np.ndim(out) == 0 else out


def _gamma_vector(gamma: float | Sequence[float] | np.ndarray) -> np.ndarray:
    g = np.atleast_1d(np.asarray(gamma, np.float64))
    if g.size == 1:
        g = np.full(N_LIMBS, float(g[0]))
    if g.shape != (N_LIMBS,) or not np.all(g > 0):
        raise ValueError(f"gamma must be one positive number or {N_LIMBS} (one per limb), got {g.tolist()}")
    return g


@dataclass
class CoverageResult:
    """Eq. 8 for every driving frame.

    ``distance (T,)`` frame distance (NaN: no limb), ``limb_distance (T, 12)`` (NaN: limb missing in the
    driving frame, +inf: never seen in the reference), ``nearest (T, 12) int`` reference index (into the
    reference sequence given) of each limb's nearest neighbour (-1 when none), ``flagged (T, 12) bool``
    limbs above ``gamma``, ``n_limbs (T,)`` limbs averaged, ``gamma (12,)``.
    """

    distance: np.ndarray
    limb_distance: np.ndarray
    nearest: np.ndarray
    flagged: np.ndarray
    n_limbs: np.ndarray
    gamma: np.ndarray

    def frame_record(self, t: int) -> dict[str, Any]:
        """JSON-able record of driving frame ``t``."""
        ld = self.limb_distance[t]
        return {
            "distance": None if not np.isfinite(self.distance[t]) else float(self.distance[t]),
            "n_limbs": int(self.n_limbs[t]),
            "limb_distance": {
                n: (None if np.isnan(v) else ("inf" if np.isinf(v) else round(float(v), 4)))
                for n, v in zip(LIMB_NAMES, ld)
            },
            "nearest_reference": {n: int(i) for n, i in zip(LIMB_NAMES, self.nearest[t])},
            "flagged_limbs": [n for n, f in zip(LIMB_NAMES, self.flagged[t]) if f],
        }


def _nn_kdtree(q: np.ndarray, ref: np.ndarray, workers: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.spatial import cKDTree

    tree = cKDTree(ref, balanced_tree=False, compact_nodes=False)
    d, i = tree.query(q, k=1, workers=workers)
    return d, i


def _nn_matrix(q: np.ndarray, ref: np.ndarray, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Brute force nearest neighbour in chunks of driving rows (exact, O(T S))."""
    d = np.empty(len(q))
    idx = np.empty(len(q), np.int64)
    rx, ry = ref[:, 0][None], ref[:, 1][None]
    for s in range(0, len(q), chunk):
        qq = q[s : s + chunk]
        d2 = (qq[:, :1] - rx) ** 2 + (qq[:, 1:] - ry) ** 2
        j = d2.argmin(1)
        idx[s : s + chunk] = j
        d[s : s + chunk] = np.sqrt(d2[np.arange(len(qq)), j])
    return d, idx


def pose_to_sequence(
    driving: np.ndarray,
    reference: np.ndarray,
    gamma: float | Sequence[float] = GAMMA_AT_256,
    method: str = "kdtree",
    workers: int = -1,
    conf_thresh: float = VISIBLE,
    frame_size: Sequence[int] | None = None,
) -> CoverageResult:
    """Eq. 8 for every frame of ``driving (T, 25, 3)`` against ``reference (S, 25, 3)`` (pixels).

    ``gamma``: one threshold or 12 (per limb, order of :data:`LIMB_NAMES`), pixels. ``method``: "kdtree"
    (cKDTree per limb; ``workers`` threads for the queries) or "matrix" (chunked brute force).
    ``conf_thresh``: joints at or below it are missing (see the module docstring for the rules);
    ``frame_size`` ``(H, W)``: limbs entirely outside the frame are missing too (both sequences in the same
    frame, i.e. the driving poses already normalized into the reference's).
    """
    g = _gamma_vector(gamma)
    pd = limb_descriptors(np.asarray(driving).reshape(-1, 25, 3), conf_thresh, frame_size)
    pr = limb_descriptors(np.asarray(reference).reshape(-1, 25, 3), conf_thresh, frame_size)
    t = len(pd)
    ld = np.full((t, N_LIMBS), np.nan)
    nearest = np.full((t, N_LIMBS), -1, np.int64)
    for limb in range(N_LIMBS):
        qok = np.isfinite(pd[:, limb]).all(1)
        rok = np.where(np.isfinite(pr[:, limb]).all(1))[0]
        if not qok.any():
            continue
        if not len(rok):
            ld[qok, limb] = np.inf
            continue
        q, r = pd[qok, limb], pr[rok, limb]
        if method == "kdtree":
            d, i = _nn_kdtree(q, r, workers)
        elif method == "matrix":
            d, i = _nn_matrix(q, r)
        else:
            raise ValueError(f"method must be 'kdtree' or 'matrix', got {method!r}")
        ld[qok, limb] = d
        nearest[qok, limb] = rok[i]
    finite = np.isfinite(ld)
    n = finite.sum(1)
    with np.errstate(invalid="ignore"):
        dist = np.where(n > 0, np.where(finite, ld, 0).sum(1) / np.maximum(n, 1), np.nan)
    with np.errstate(invalid="ignore"):
        flagged = ld > g[None]  # NaN compares False, inf True
    return CoverageResult(dist, ld, nearest, flagged, n, g)


def nearest_pose(
    driving_pose: np.ndarray,
    reference: np.ndarray,
    conf_thresh: float = VISIBLE,
    frame_size: Sequence[int] | None = None,
) -> tuple[int, float]:
    """The reference frame nearest to one driving pose ``(25, 3)`` by eq. 7 (whole pose), and its distance."""
    d = pose_to_pose(
        np.asarray(driving_pose)[None], np.asarray(reference), conf_thresh=conf_thresh, frame_size=frame_size
    )
    d = np.where(np.isfinite(d), d, np.inf)
    j = int(np.argmin(d))
    return j, float(d[j])


def pick_worst(
    score: np.ndarray, k: int, frame_index: Sequence[int] | np.ndarray | None = None, min_gap: int = 1
) -> list[int]:
    """Rows of the ``k`` highest finite-or-+inf ``score`` values (NaN rows are never picked), highest first,
    each at least ``min_gap`` frames (of ``frame_index``) from every row picked before it: non-maximum
    suppression in time, so the worst frames of one bad stretch do not crowd out the others. Ties keep the
    earlier row. ``min_gap`` 1 picks plain top-k."""
    score = np.asarray(score, np.float64)
    idx = np.arange(len(score)) if frame_index is None else np.asarray(frame_index)
    cand = np.where(~np.isnan(score))[0]
    order = cand[np.argsort(-score[cand], kind="stable")]
    chosen: list[int] = []
    for i in order:
        if len(chosen) >= k:
            break
        if all(abs(int(idx[i]) - int(idx[j])) >= max(1, min_gap) for j in chosen):
            chosen.append(int(i))
    return chosen


def _worst_score(result: CoverageResult) -> np.ndarray:
    """Per frame, what "worst" ranks by: the eq.-8 distance; +inf for a frame whose only limbs are ones the
    reference never shows (its eq.-8 average is empty); NaN (never picked) for a frame with no limb."""
    never = np.isinf(result.limb_distance).any(1)
    return np.where(np.isfinite(result.distance), result.distance, np.where(never, np.inf, np.nan))


def coverage_summary(
    result: CoverageResult,
    frame_index: Sequence[int] | np.ndarray | None = None,
    worst: int = 5,
    min_gap: int = 1,
) -> dict[str, Any]:
    """Summary of a :class:`CoverageResult`: shares of frames under the threshold and the worst frames.

    ``share_under_gamma``: frames whose eq.-8 distance is at most the mean ``gamma``, over frames with a pose;
    ``share_all_limbs_covered``: frames with no flagged limb; ``limb_flag_share``: per limb, the share of
    frames (where the limb is present) in which it is flagged; ``worst``: the ``worst`` frames by distance
    (:func:`pick_worst`, at least ``min_gap`` frames apart), with their flagged limbs; a frame whose limbs are
    all never seen in the reference ranks first, with distance None. ``frame_index`` maps result rows to clip
    frame numbers (default 0..T-1).
    """
    t = len(result.distance)
    idx = np.arange(t) if frame_index is None else np.asarray(frame_index)
    has = np.isfinite(result.distance)
    g = float(result.gamma.mean())
    d = result.distance[has]
    present = ~np.isnan(result.limb_distance)
    order = pick_worst(_worst_score(result), worst, idx, min_gap)
    summary: dict[str, Any] = {
        "n_frames": t,
        "n_frames_with_pose": int(has.sum()),
        "gamma": [float(x) for x in result.gamma],
        "share_under_gamma": float((d <= g).mean()) if len(d) else None,
        "share_all_limbs_covered": float((~result.flagged[has].any(1)).mean()) if len(d) else None,
        "distance_mean": float(d.mean()) if len(d) else None,
        "distance_median": float(np.median(d)) if len(d) else None,
        "distance_max": float(d.max()) if len(d) else None,
        "limb_flag_share": {
            n: (float(result.flagged[present[:, k], k].mean()) if present[:, k].any() else None)
            for k, n in enumerate(LIMB_NAMES)
        },
        "never_seen_limbs": [
            n for k, n in enumerate(LIMB_NAMES) if np.isinf(result.limb_distance[:, k]).any()
        ],
        "worst": [
            {
                "frame": int(idx[i]),
                "row": int(i),
                "distance": float(result.distance[i]) if np.isfinite(result.distance[i]) else None,
                "flagged_limbs": [n for n, f in zip(LIMB_NAMES, result.flagged[i]) if f],
            }
            for i in order
        ],
    }
    return summary


# ------------------------------------------------------------------------------------------ the verdict
NO_PERSON, OFF_SCREEN, NO_LIMB, UNSEEN, COVERED = "no_person", "off_screen", "no_limb", "unseen", "covered"
#: every status a driving frame can get (:func:`frame_status`), in order of precedence
STATUSES: tuple[str, ...] = (NO_PERSON, OFF_SCREEN, NO_LIMB, UNSEEN, COVERED)
#: what each status means, in words (the JSON and the PNG carry this)
STATUS_TEXT = {
    NO_PERSON: "no person: no body joint was found in the driving frame",
    OFF_SCREEN: "off-screen: a person was found, but after normalization none of it lies inside the model's frame",
    NO_LIMB: "no limb: inside the frame, but no shoulder, arm, hip or leg to compare (e.g. a head only)",
    UNSEEN: "outside what the model has seen: the pose is further than the threshold from every training pose, "
    "or shows a limb no training frame shows",
    COVERED: "covered: a training pose lies within the threshold",
}


def frame_status(
    driving_body: np.ndarray,
    result: CoverageResult,
    frame_size: Sequence[int] | None = None,
    conf_thresh: float = VISIBLE,
) -> np.ndarray:
    """One of :data:`STATUSES` per driving frame (``(T,)`` str array); ``driving_body (T, 25, 3)`` normalized
    into the frame ``frame_size (H, W)`` of the reference (None: no frame test), ``result`` its eq.-8 result."""
    no_person, off_screen = presence(driving_body, frame_size, conf_thresh)
    present = ~np.isnan(result.limb_distance)
    with np.errstate(invalid="ignore"):
        unseen = (result.distance > float(result.gamma.mean())) | np.isinf(result.limb_distance).any(1)
    status = np.full(len(no_person), COVERED, dtype=object)
    status[unseen] = UNSEEN
    status[~present.any(1)] = NO_LIMB
    status[off_screen] = OFF_SCREEN
    status[no_person] = NO_PERSON
    return status.astype(str)


def presence(
    driving_body: np.ndarray, frame_size: Sequence[int] | None = None, conf_thresh: float = VISIBLE
) -> tuple[np.ndarray, np.ndarray]:
    """Per frame of ``driving_body (T, 25, 3)`` (normalized into ``frame_size (H, W)``): ``no_person (T,)``
    (no body joint above ``conf_thresh``) and ``off_screen (T,)`` (a person, but no visible joint inside the
    frame: nothing of it is drawn)."""
    b = np.asarray(driving_body, np.float64).reshape(-1, 25, 3)
    vis = b[..., 2] > conf_thresh
    if frame_size is not None:
        h, w = float(frame_size[0]), float(frame_size[1])
        inside = vis & (b[..., 0] >= 0) & (b[..., 0] < w) & (b[..., 1] >= 0) & (b[..., 1] < h)
    else:
        inside = vis
    return ~vis.any(1), vis.any(1) & ~inside.any(1)


@dataclass
class CoverageReport:
    """What :func:`assess_coverage` returns: the eq.-8 ``result``, a ``status`` per driving frame
    (:data:`STATUSES`) and the JSON-able ``summary`` (with ``"verdict"``, the one sentence both commands print)."""

    result: CoverageResult
    status: np.ndarray
    summary: dict[str, Any]

    @property
    def verdict(self) -> str:
        return self.summary["verdict"]


def assess_coverage(
    driving_body: np.ndarray,
    reference_body: np.ndarray,
    frame_size: Sequence[int],
    gamma: float | Sequence[float] | None = None,
    conf_thresh: float = VISIBLE,
    keep_offscreen: bool = False,
    frame_index: Sequence[int] | np.ndarray | None = None,
    worst: int = 4,
    min_gap: int | None = None,
    chunk: int = 2048,
    workers: int = -1,
) -> CoverageReport:
    """The one coverage computation of ``reenactor coverage`` and ``reenactor transfer``.

    ``driving_body (T, 25, 3)``: the driving poses already normalized into the reference's frame
    ``frame_size (H, W)``; ``reference_body (S, 25, 3)``: the training poses. ``gamma``: default
    :func:`default_gamma` of ``H``. Limbs entirely outside the frame are not measured (they are not in the pose
    image) unless ``keep_offscreen``. ``worst`` frames at least ``min_gap`` frames apart (default: the number
    of driving frames over twice ``worst``, at least 1). Eq. 8 runs in chunks of ``chunk`` driving frames.
    """
    drv = np.asarray(driving_body).reshape(-1, 25, 3)
    g = _gamma_vector(default_gamma(frame_size[0]) if gamma is None else gamma)
    fs = None if keep_offscreen else frame_size
    parts = [
        pose_to_sequence(
            drv[i : i + chunk],
            reference_body,
            gamma=g,
            conf_thresh=conf_thresh,
            frame_size=fs,
            workers=workers,
        )
        for i in range(0, max(len(drv), 1), chunk)
    ]
    res = CoverageResult(
        *(
            np.concatenate([getattr(p, f) for p in parts])
            for f in ("distance", "limb_distance", "nearest", "flagged", "n_limbs")
        ),
        g,
    )
    t = len(drv)
    if min_gap is None:
        min_gap = max(1, t // (2 * max(worst, 1)))
    status = frame_status(drv, res, frame_size, conf_thresh)
    summary = coverage_summary(res, frame_index, worst, min_gap)
    counts = {s: int((status == s).sum()) for s in STATUSES}
    measured = counts[UNSEEN] + counts[COVERED]
    summary.update(
        {
            "n_frames_with_pose": t - counts[NO_PERSON],  # frames showing a person (on screen or not)
            "frame_size": [int(frame_size[0]), int(frame_size[1])],
            "conf_thresh": float(conf_thresh),
            "offscreen_limbs_skipped": not keep_offscreen,
            "counts": counts,
            "n_measured": measured,
            "share_unseen": counts[UNSEEN] / measured if measured else None,
            "n_unrenderable": counts[NO_PERSON] + counts[OFF_SCREEN],
            "share_unrenderable": (counts[NO_PERSON] + counts[OFF_SCREEN]) / t if t else None,
            "worst_min_gap": int(min_gap),
            "status_meaning": dict(STATUS_TEXT),
        }
    )
    for w in summary["worst"]:
        w["status"] = str(status[w["row"]])
    summary["verdict"] = verdict_text(summary)
    return CoverageReport(res, status, summary)


def _frames(n: int) -> str:
    return f"{n} frame" if n == 1 else f"{n} frames"


def verdict_text(summary: dict[str, Any]) -> str:
    """The one plain sentence over all driving frames, from an :func:`assess_coverage` summary."""
    c, t = summary["counts"], summary["n_frames"]
    said: list[str] = []
    if c[NO_PERSON]:
        said.append(
            f"{c[NO_PERSON]} of {t} driving frames show no person"
            if t > 1
            else "the driving frame shows no person"
        )
    if c[OFF_SCREEN]:
        lead = f"{c[OFF_SCREEN]} {'more' if said else f'of {t} driving frames'}"
        said.append(f"{lead} show a person only outside the model's frame after normalization")
    if c[NO_LIMB]:
        lead = f"{c[NO_LIMB]} {'more' if said else f'of {t} driving frames'}"
        said.append(f"{lead} show too little of the body to compare (no shoulder, arm, hip or leg)")
    measured = c[UNSEEN] + c[COVERED]
    rest = "the rest" if said else (f"the {t} driving frames" if t > 1 else "the driving frame")
    if not measured:
        said.append("no driving frame can be compared with the training poses")
    elif not c[UNSEEN]:
        if not said:
            said.append(
                f"all {t} driving frames lie within what the model has seen"
                if t > 1
                else "the driving frame lies within what the model has seen"
            )
        else:
            said.append(f"the rest ({measured} of {t}) lie within what the model has seen")
    else:
        pct = 100.0 * c[UNSEEN] / measured
        said.append(
            f"{pct:.0f} % of {rest} ({c[UNSEEN]} of {measured}) lie outside what the model has seen: "
            "expect artifacts there"
        )
    text = "; ".join(said)
    return text[0].upper() + text[1:]


__all__ = [
    "VISIBLE",
    "LIMBS",
    "LIMB_NAMES",
    "N_LIMBS",
    "GAMMA_AT_256",
    "default_gamma",
    "limb_descriptors",
    "pose_to_pose",
    "pose_to_sequence",
    "nearest_pose",
    "CoverageResult",
    "coverage_summary",
    "pick_worst",
    "STATUSES",
    "STATUS_TEXT",
    "frame_status",
    "presence",
    "CoverageReport",
    "assess_coverage",
    "verdict_text",
]
