"""``evaluate_videos``: every metric of the papers on a generated video against its ground truth, in one
streaming pass (frames are decoded pair by pair; nothing holds the whole video).

Metrics and where they are defined:

==================  ==========================================================  =====================
name                what                                                         module
==================  ==========================================================  =====================
ssim, psnr          per-frame SSIM / PSNR, averaged over frames                  :mod:`.image`
mask_ssim/psnr      background zeroed by the clip's person mask (``clip=``)      :mod:`.image`
lpips               Zhang et al. with AlexNet/VGG16 from ``lpips_weights``       :mod:`.lpips`
lpips_effnet        the offline variant when no backbone file is given           :mod:`.lpips`
fid                 Inception-v3 pool3 from ``inception_weights``                :mod:`.fid`
fid_effnet          the offline variant when no Inception file is given          :mod:`.fid`
tcm                 temporal consistency (Yao et al. 2017, working definition)   :mod:`.tcm`
pose_*              re-extracted keypoints vs ``pose_ref`` (per body part)       :mod:`.pose`
identity_distance   dlib face descriptors vs ``identity_ref``                    :mod:`.identity`
==================  ==========================================================  =====================

How to read each metric is in the report (``metrics[name]["reading"]``, :data:`READING`), with reference values
computed in the same run (``metrics[name]["reference"]``): what the ground truth scores against itself, and what
the ground truth blurred with a Gaussian of sigma :data:`REFERENCE_BLUR_SIGMA` scores against it — a plainly
blurry copy, which gives the variants lpips_effnet / fid_effnet (scales of their own) and TCM a scale. LPIPS's
reference runs on at most about :data:`REFERENCE_LPIPS_FRAMES` frames spread over the video, FID's on every frame
(FID depends on the frame count). ``reference=False`` skips them.

Cost (``report["cost"]``, also printed): the default set runs two feature networks, and they take nearly all the
time. The carphone sample against its blurred copy (120 frames, 176x144, this 2-core CPU): 10-11 frames/s with
the references (13-16 without them) on an otherwise idle machine, and down to 1.4 frames/s while other work
shares the cores; fid_effnet takes 65-70 % (frames resized to 224x224, and its reference needs every frame),
lpips_effnet 20-25 %, SSIM + PSNR + TCM a few %. :data:`FAST_METRICS` (``reenactor evaluate --fast``) leaves the
networks out: 60 frames/s end to end on the same video (decoding included).

The report dict (JSON-able through :func:`reenactor.metrics.report.json_safe`; ``inf`` PSNR of identical
frames stays ``math.inf`` in Python and is written as the string ``"inf"``)::

    {"inputs": {...}, "metrics": {name: {"name", "value", "higher_is_better", "backbone", ...}},
     "summary": {name: value}, "per_frame": {"frame": [...], "ssim": [...], ...},
     "worst_frames": [{"frame": i, "ssim": ..., ...}], "notices": [...], "timing": {...},
     "_thumbnails": {i: (pred (h, w, 3) uint8, gt (h, w, 3) uint8)}}   # not written to JSON
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import InputError
from . import image as im

__all__ = [
    "evaluate_videos",
    "THUMB_HEIGHT",
    "DEFAULT_METRICS",
    "FAST_METRICS",
    "READING",
    "REFERENCE_BLUR_SIGMA",
    "direction",
]

THUMB_HEIGHT = 128
DEFAULT_METRICS: tuple[str, ...] = ("ssim", "psnr", "lpips", "fid", "tcm")
#: the metrics without a neural network (``reenactor evaluate --fast``)
FAST_METRICS: tuple[str, ...] = ("ssim", "psnr", "tcm")
#: the reference copy: the ground truth blurred with a Gaussian of this sigma (pixels)
REFERENCE_BLUR_SIGMA = 2.0
#: LPIPS's reference is computed on about this many frames spread over the video (a mean; FID's needs them all)
REFERENCE_LPIPS_FRAMES = 32
_SSIM_READ = (
    "1 = identical to the ground truth, lower is worse; structural similarity of luminance, contrast "
    "and structure in small windows, averaged over the frames. Small misalignments lower it a lot"
)
_PSNR_READ = (
    "peak signal-to-noise ratio of the pixel error in dB: higher is better, infinite for identical frames; "
    "every +6 dB halves the RMS error"
)
#: how to read each metric (the report shows it beside the value); the network metrics' own modules add theirs
READING: dict[str, str] = {
    "ssim": _SSIM_READ,
    "psnr": _PSNR_READ,
    "mask_ssim": _SSIM_READ + "; here inside the person mask only (background zeroed in both)",
    "mask_psnr": _PSNR_READ + "; here inside the person mask only (background zeroed in both)",
    "pose_error_px": (
        "mean distance in pixels between the keypoints MediaPipe finds in the generated frames and "
        "the reference keypoints (the pose the output should show): lower is better; per body part "
        "in `parts`"
    ),
    "pose_pck": (
        "share of keypoints found within 0.05 x the body height of where they should be: 1 = all, higher "
        "is better"
    ),
    "identity_distance": (
        "dlib face-descriptor distance between the generated faces and the target's: lower is "
        "better; below 0.6 dlib calls two faces the same person (`same_person_share`)"
    ),
}


def direction(m: dict) -> str:
    """``"higher is better"``, ``"lower is better"``, or for a metric that is neither (TCM) what to compare with."""
    if m.get("higher_is_better") is None:
        ref = (m.get("reference") or {}).get("ground_truth")
        return f"compare with the ground truth's {ref:.3f}" if isinstance(ref, float) else "see its reading"
    return "higher is better" if m["higher_is_better"] else "lower is better"


FrameSource = str | Path | np.ndarray | Sequence[np.ndarray]


def _source(src: FrameSource, role: str) -> tuple[Iterator[np.ndarray], dict]:
    """A frame iterator plus what is known up front (size, frame count, fps, path)."""
    from ..io.video import iter_frames, probe

    if isinstance(src, (str, Path)):
        path = Path(src)
        if not path.exists():
            raise InputError(f"{role} video not found", path, f"check the --{role} path")
        info = probe(path)
        return iter_frames(path), {
            "path": str(path),
            "size": [info.height, info.width],
            "n_frames": info.n_frames,
            "fps": info.fps,
        }
    frames = src
    if len(frames) == 0:
        raise InputError(f"the {role} sequence has no frames")
    first = np.asarray(frames[0])
    return (np.asarray(f) for f in frames), {
        "path": None,
        "size": list(first.shape[:2]),
        "n_frames": len(frames),
        "fps": None,
    }


def _mask_source(clip: Any, masks: np.ndarray | None) -> tuple[np.ndarray | None, str | None]:
    if masks is not None:
        return np.asarray(masks), "given masks"
    if clip is None:
        return None, None
    from ..data.clipstore import ClipStore

    store = clip if isinstance(clip, ClipStore) else ClipStore.open(clip)
    if not store.has("mask"):
        raise InputError(
            "clip has no `mask` array (needed for mask-SSIM / mask-PSNR)",
            store.root,
            "re-run `reenactor extract` on the clip (it stores the person mask)",
        )
    return store.load("mask"), str(store.root)


def _to_tensor(frames: list[np.ndarray], device):
    from ..nn.convert import frames_to_tensor

    return frames_to_tensor(frames, device)


def _thumb(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    if h <= THUMB_HEIGHT:
        return frame.copy()
    return cv2.resize(
        frame, (max(1, round(w * THUMB_HEIGHT / h)), THUMB_HEIGHT), interpolation=cv2.INTER_AREA
    )


def _mean(values: Iterable[float]) -> float:
    """Mean over finite-or-inf values (nan ignored); inf if any frame is inf."""
    v = np.asarray(list(values), np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return math.nan
    if np.isinf(v).any():
        return math.inf if (v == math.inf).any() else -math.inf
    return float(v.mean())


def evaluate_videos(
    pred: FrameSource,
    gt: FrameSource,
    clip: Any = None,
    *,
    masks: np.ndarray | None = None,
    pose_ref: str | Path | dict | None = None,
    identity_ref: str | Path | None = None,
    lpips_weights: str | Path | None = None,
    inception_weights: str | Path | None = None,
    metrics: Sequence[str] | None = None,
    device: str = "cpu",
    batch_size: int = 8,
    ssim_gaussian: bool = False,
    worst_k: int = 6,
    progress: bool = True,
    verbose: bool = True,
    pose_extractor: Any = None,
    reference: bool = True,
) -> dict:
    """Evaluate a generated video against its ground truth; returns the report dict (see module doc).

    pred, gt:          video/image paths, or (T, H, W, 3) uint8 arrays / sequences of frames; same T and size.
    clip:              a clip folder (or ClipStore) whose ``mask`` (T, H, W) gives mask-SSIM / mask-PSNR;
                       ``masks`` gives the array directly.
    pose_ref:          clip folder / .npz with ``body`` (T, 25, 3) (the normalized driving keypoints), or a
                       keypoint dict -> pose accuracy (re-extraction with MediaPipe Holistic).
    identity_ref:      image / video / clip of the target person -> face identity distance (dlib).
    lpips_weights:     torchvision AlexNet/VGG16 state dict -> ``lpips``; else ``lpips_effnet`` (printed).
    inception_weights: torchvision/pytorch-fid Inception-v3 state dict -> ``fid``; else ``fid_effnet``.
    metrics:           subset of {"ssim", "psnr", "lpips", "fid", "tcm"} (default all, :data:`DEFAULT_METRICS`;
                       :data:`FAST_METRICS` leaves the networks out; the mask, pose and identity metrics run
                       whenever their inputs are given).
    reference:         also score the ground truth blurred (Gaussian sigma :data:`REFERENCE_BLUR_SIGMA`) against
                       itself with ssim, psnr, tcm, lpips and fid, as the scale each metric is read against.
    """
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    want = set(metrics or DEFAULT_METRICS)
    unknown = want - {"ssim", "psnr", "lpips", "fid", "tcm"}
    if unknown:
        raise InputError(
            f"unknown metric(s) {', '.join(sorted(unknown))}; choose from ssim, psnr, lpips, fid, tcm"
        )
    pred_it, pinfo = _source(pred, "pred")
    gt_it, ginfo = _source(gt, "gt")
    if pinfo["size"] != ginfo["size"]:
        raise InputError(
            f"frame sizes differ: pred {pinfo['size'][1]}x{pinfo['size'][0]}, "
            f"gt {ginfo['size'][1]}x{ginfo['size'][0]}",
            pinfo["path"],
            "render the generated video at the ground truth's size (or resize one of them)",
        )
    pn, gn = pinfo["n_frames"], ginfo["n_frames"]
    if pn and gn and pn != gn:
        raise InputError(
            f"frame counts differ: pred has {pn} frames, gt has {gn}",
            pinfo["path"],
            "evaluate videos of the same length (trim the longer one)",
        )
    h, w = pinfo["size"]
    n_expected = pn or gn or None
    notices: list[str] = []

    def notice(msg: str) -> None:
        notices.append(msg)
        if verbose:
            print(f"[evaluate] {msg}", flush=True)

    mask_arr, mask_src = _mask_source(clip, masks)
    if mask_arr is not None:
        if mask_arr.ndim == 4:
            mask_arr = mask_arr[..., 0]
        if tuple(mask_arr.shape[1:3]) != (h, w):
            raise InputError(
                f"clip masks are {mask_arr.shape[2]}x{mask_arr.shape[1]}, the videos {w}x{h}",
                mask_src,
                "give the clip the videos were rendered from (same stored size)",
            )
        if n_expected and mask_arr.shape[0] < n_expected:
            raise InputError(
                f"clip has {mask_arr.shape[0]} masks, the videos {n_expected} frames",
                mask_src,
                "give the clip of the same frames",
            )

    timing: dict[str, float] = {}

    def timed(name: str, t0: float) -> None:
        timing[name] = timing.get(name, 0.0) + time.perf_counter() - t0

    # ------------------------------------------------------------------ metric objects
    lpips_metric = fid_net = None
    fid_stats = None
    if "lpips" in want:
        from .lpips import load_lpips

        t0 = time.perf_counter()
        lpips_metric = load_lpips(lpips_weights, device=device, verbose=verbose)
        if lpips_metric.name != "lpips":
            notices.append(
                "LPIPS backbone weights not given: reporting `lpips_effnet` (not comparable with LPIPS)"
            )
        timed("load", t0)
    if "fid" in want:
        from .fid import FeatureStats, load_fid_extractor

        t0 = time.perf_counter()
        fid_net = load_fid_extractor(inception_weights, device=device, verbose=verbose)
        if fid_net.name != "fid":
            notices.append("Inception-v3 weights not given: reporting `fid_effnet` (not comparable with FID)")
        fid_stats = (FeatureStats(fid_net.dim), FeatureStats(fid_net.dim))
        timed("load", t0)
    tcm_acc = None
    if "tcm" in want:
        from .tcm import TCMAccumulator

        tcm_acc = TCMAccumulator(n_also=1 if reference else 0)
    pose_acc = pose_ref_kp = None
    if pose_ref is not None:
        from .pose import PoseAccumulator, load_pose_reference

        t0 = time.perf_counter()
        if isinstance(pose_ref, dict):
            pose_ref_kp = {k: np.asarray(v, np.float32) for k, v in pose_ref.items()}
        else:
            pose_ref_kp, pnotes = load_pose_reference(pose_ref, (h, w))
            for m in pnotes:
                notice(m)
        pose_acc = PoseAccumulator(pose_extractor)
        timed("load", t0)
    id_acc = None
    if identity_ref is not None:
        from .identity import IdentityAccumulator

        t0 = time.perf_counter()
        id_acc = IdentityAccumulator(identity_ref)
        timed("load", t0)

    per_frame: dict[str, list[float]] = {"frame": []}
    for k in ("ssim", "psnr"):
        if k in want:
            per_frame[k] = []
    if mask_arr is not None:
        for k in ("mask_ssim", "mask_psnr"):
            if k.split("_")[1] in want:
                per_frame[k] = []
    lpips_name = lpips_metric.name if lpips_metric is not None else None
    if lpips_metric is not None:
        per_frame[lpips_name] = []
    if tcm_acc is not None:
        per_frame["tcm"] = []
    if id_acc is not None:
        per_frame["identity_distance"] = []

    # the reference copy: the ground truth blurred, scored against the ground truth by every metric that has one
    ref_vals: dict[str, list[float]] = {k: [] for k in ("ssim", "psnr") if reference and k in want}
    lp_every = max(1, math.ceil((n_expected or REFERENCE_LPIPS_FRAMES * 4) / REFERENCE_LPIPS_FRAMES))
    lp_ref_name = f"{lpips_name}_reference" if lpips_name else None
    fid_ref = FeatureStats(fid_net.dim) if reference and fid_net is not None else None
    need_blur = reference and (
        ref_vals or tcm_acc is not None or lpips_metric is not None or fid_net is not None
    )
    batch_b: list[np.ndarray] = []  # FID's reference: the blurred ground truth of the batch
    lp_q: list[
        tuple[np.ndarray, np.ndarray]
    ] = []  # LPIPS's reference: (blurred, ground truth) of every lp_every-th
    worst: list[tuple[float, int, np.ndarray, np.ndarray]] = []  # max-heap on -score (lowest SSIM kept)
    # worst frames at least worst_gap frames apart, so one bad stretch does not fill the panel with near-copies
    worst_gap = max(1, (n_expected or 0) // (2 * worst_k)) if worst_k > 0 else 1
    buckets: dict[int, tuple[float, int, np.ndarray, np.ndarray]] = {}
    rank_key = "ssim" if "ssim" in want else ("psnr" if "psnr" in want else None)
    batch_p: list[np.ndarray] = []
    batch_g: list[np.ndarray] = []

    def flush() -> None:
        if not batch_p:
            return
        import torch

        with torch.no_grad():
            tp, tg = _to_tensor(batch_p, device), _to_tensor(batch_g, device)
            if lpips_metric is not None:
                t0 = time.perf_counter()
                per_frame[lpips_name].extend(lpips_metric(tp, tg).cpu().double().tolist())
                timed(lpips_name, t0)
            if fid_net is not None:
                t0 = time.perf_counter()
                fid_stats[0].update(fid_net(tp))
                fid_stats[1].update(fid_net(tg))
                timed(fid_net.name, t0)
            if batch_b:
                t0 = time.perf_counter()
                fid_ref.update(fid_net(_to_tensor(batch_b, device)))
                timed(f"{fid_net.name}_reference", t0)
        batch_p.clear()
        batch_g.clear()
        batch_b.clear()

    def flush_lp_ref() -> None:
        """LPIPS of the queued blurred frames against their ground truth, in batches of their own."""
        if not lp_q:
            return
        import torch

        t0 = time.perf_counter()
        with torch.no_grad():
            tb, tg = _to_tensor([b for b, _ in lp_q], device), _to_tensor([g for _, g in lp_q], device)
            ref_vals.setdefault(lpips_name, []).extend(lpips_metric(tb, tg).cpu().double().tolist())
        timed(lp_ref_name, t0)
        lp_q.clear()

    bar = tqdm(total=n_expected, desc="evaluate", unit="frame", disable=not progress, leave=False)
    i = 0
    gt_done = pred_done = False
    try:
        while True:
            p = next(pred_it, None)
            g = next(gt_it, None)
            if p is None or g is None:
                pred_done, gt_done = p is None, g is None
                break
            if p.shape != g.shape or p.shape[:2] != (h, w):
                raise InputError(
                    f"frame {i}: sizes differ (pred {p.shape}, gt {g.shape})",
                    pinfo["path"],
                    "both videos must keep one frame size",
                )
            per_frame["frame"].append(i)
            blur = cv2.GaussianBlur(g, (0, 0), REFERENCE_BLUR_SIGMA) if need_blur else None
            if "ssim" in ref_vals:
                t0 = time.perf_counter()
                ref_vals["ssim"].append(im.ssim(blur, g, ssim_gaussian))
                timed("ssim_reference", t0)
            if "psnr" in ref_vals:
                t0 = time.perf_counter()
                ref_vals["psnr"].append(im.psnr(blur, g))
                timed("psnr_reference", t0)
            t0 = time.perf_counter()
            s = im.ssim(p, g, ssim_gaussian) if "ssim" in want else math.nan
            if "ssim" in want:
                per_frame["ssim"].append(s)
            timed("ssim", t0)
            t0 = time.perf_counter()
            ps = im.psnr(p, g) if "psnr" in want else math.nan
            if "psnr" in want:
                per_frame["psnr"].append(ps)
            timed("psnr", t0)
            if mask_arr is not None:
                if i >= mask_arr.shape[0]:
                    raise InputError(
                        f"clip has only {mask_arr.shape[0]} masks; the videos are longer",
                        mask_src,
                        "give the clip of the same frames",
                    )
                t0 = time.perf_counter()
                mk = np.asarray(mask_arr[i])
                pm, gm = im.apply_mask(p, mk), im.apply_mask(g, mk)
                if "mask_ssim" in per_frame:
                    per_frame["mask_ssim"].append(im.ssim(pm, gm, ssim_gaussian))
                if "mask_psnr" in per_frame:
                    per_frame["mask_psnr"].append(im.psnr(pm, gm))
                timed("mask", t0)
            if tcm_acc is not None:
                t0 = time.perf_counter()
                per_frame["tcm"].append(tcm_acc.update(p, g, also=[blur] if reference else []))
                timed("tcm", t0)
            if pose_acc is not None:
                t0 = time.perf_counter()
                pose_acc.update(p)
                timed("pose", t0)
            if id_acc is not None:
                t0 = time.perf_counter()
                per_frame["identity_distance"].append(id_acc.update(p))
                timed("identity", t0)
            if lpips_metric is not None or fid_net is not None:
                batch_p.append(p)
                batch_g.append(g)
                if fid_ref is not None:
                    batch_b.append(blur)
                if len(batch_p) >= batch_size:
                    flush()
                if reference and lpips_metric is not None and i % lp_every == 0:
                    lp_q.append((blur, g))
                    if len(lp_q) >= batch_size:
                        flush_lp_ref()
            if rank_key is not None and worst_k > 0:
                score = s if rank_key == "ssim" else ps
                if (
                    worst_gap > 1
                ):  # the worst frame of each stretch of worst_gap frames (spread over the video)
                    cur = buckets.get(i // worst_gap)
                    if cur is None or -score > cur[0]:
                        buckets[i // worst_gap] = (-score, i, _thumb(p), _thumb(g))
                else:
                    item = (-score, i, _thumb(p), _thumb(g))
                    if len(worst) < worst_k:
                        heapq.heappush(worst, item)
                    elif -score > worst[0][0]:
                        heapq.heapreplace(worst, item)
            i += 1
            bar.update(1)
        flush()
        flush_lp_ref()
    finally:
        bar.close()
        if pose_acc is not None:
            pose_acc.close()
    if pred_done != gt_done:
        longer = "gt" if pred_done else "pred"
        raise InputError(
            f"frame counts differ: the {'pred' if pred_done else 'gt'} video ended after {i} frames "
            f"while the {longer} video goes on",
            pinfo["path"] or ginfo["path"],
            "evaluate videos of the same length (trim the longer one)",
        )
    n = i
    if n == 0:
        raise InputError("no frames to evaluate", pinfo["path"])

    # ------------------------------------------------------------------ summary
    out_metrics: dict[str, dict] = {}

    def add(name: str, value: float, higher: bool | None, backbone: str | None, **extra: Any) -> None:
        out_metrics[name] = {
            "name": name,
            "value": value,
            "higher_is_better": higher,
            "backbone": backbone,
            **extra,
        }
        out_metrics[name]["direction"] = direction(out_metrics[name])

    def ref_of(
        name: str, itself: float, blurred: float | None, n_used: int | None = None
    ) -> dict[str, Any] | None:
        if not reference:
            return {"ground_truth": itself}
        return {
            "ground_truth": itself,
            "ground_truth_blurred": blurred,
            "blur_sigma": REFERENCE_BLUR_SIGMA,
            "frames": n if n_used is None else n_used,
            "what": f"the ground truth scored against itself, and the ground truth blurred with a Gaussian of "
            f"sigma {REFERENCE_BLUR_SIGMA:g} px scored against it (a plainly blurry copy), this run",
        }

    from .fid import READING as FID_READING
    from .lpips import READING as LPIPS_READING
    from .tcm import READING as TCM_READING

    reading = {**READING, **LPIPS_READING, **FID_READING, "tcm": TCM_READING}

    settings = im.ssim_settings(ssim_gaussian)
    if "ssim" in per_frame:
        add(
            "ssim",
            _mean(per_frame["ssim"]),
            True,
            None,
            settings=settings,
            reading=reading["ssim"],
            reference=ref_of("ssim", 1.0, _mean(ref_vals.get("ssim", []))),
        )
    if "psnr" in per_frame:
        n_inf = int(np.isinf(per_frame["psnr"]).sum())
        add(
            "psnr",
            _mean(per_frame["psnr"]),
            True,
            None,
            unit="dB",
            identical_frames=n_inf,
            note="mean of per-frame PSNR (10 log10(255^2/MSE)); inf when a frame is identical",
            reading=reading["psnr"],
            reference=ref_of("psnr", math.inf, _mean(ref_vals.get("psnr", []))),
        )
    if "mask_ssim" in per_frame:
        add(
            "mask_ssim",
            _mean(per_frame["mask_ssim"]),
            True,
            None,
            mask=mask_src,
            settings=settings,
            note="background of both frames zeroed by the person mask (>=128), then SSIM",
            reading=reading["mask_ssim"],
            reference={"ground_truth": 1.0},
        )
    if "mask_psnr" in per_frame:
        add(
            "mask_psnr",
            _mean(per_frame["mask_psnr"]),
            True,
            None,
            unit="dB",
            mask=mask_src,
            note="background of both frames zeroed by the person mask (>=128), then PSNR",
            reading=reading["mask_psnr"],
            reference={"ground_truth": math.inf},
        )
    if lpips_metric is not None:
        lp_ref = ref_vals.get(lpips_name, [])
        add(
            lpips_name,
            _mean(per_frame[lpips_name]),
            False,
            lpips_metric.backbone,
            comparable_with_papers=lpips_name == "lpips",
            reading=reading[lpips_name],
            reference=ref_of(lpips_name, 0.0, _mean(lp_ref), len(lp_ref)),
        )
    if fid_net is not None:
        t0 = time.perf_counter()
        if n >= 2:
            value = fid_stats[0].distance(fid_stats[1])
        else:
            value = math.nan
            notice("FID needs at least 2 frames; reported as nan")
        timed(fid_net.name, t0)
        fid_blurred = None
        if fid_ref is not None and n >= 2:
            t0 = time.perf_counter()
            fid_blurred = fid_ref.distance(fid_stats[1])
            timed(f"{fid_net.name}_reference", t0)
        add(
            fid_net.name,
            value,
            False,
            fid_net.backbone,
            n_frames=n,
            feature_dim=fid_net.dim,
            reading=reading[fid_net.name],
            reference=ref_of(fid_net.name, 0.0, fid_blurred),
            comparable_with_papers=fid_net.name == "fid",
            note=(
                "pred frames vs gt frames of this video; N < feature dim makes the covariances rank-deficient "
                "and FID biased upwards - compare only at equal N"
            )
            if n < fid_net.dim
            else None,
        )
    if tcm_acc is not None:
        from .tcm import DEFINITION, FLOW_ESTIMATOR, GROUND_TRUTH_VALUE

        also = tcm_acc.also_results()
        add(
            "tcm",
            tcm_acc.result(),
            None,
            "pixels + OpenCV DIS flow",
            definition=DEFINITION,
            flow=FLOW_ESTIMATOR,
            reference_value=GROUND_TRUTH_VALUE,
            reading=reading["tcm"],
            reference=ref_of("tcm", GROUND_TRUTH_VALUE, also[0] if also else None),
            note="the ground truth itself scores exp(-1) = 0.368; see reenactor.metrics.tcm",
        )
    pose_result = None
    if pose_acc is not None:
        t0 = time.perf_counter()
        pose_result = pose_acc.result(pose_ref_kp)
        timed("pose", t0)
        per_frame["pose_error_px"] = pose_result["per_frame"]["pose_error"].tolist()
        per_frame["pose_pck"] = pose_result["per_frame"]["pose_pck"].tolist()
        backbone = "MediaPipe Holistic (reenactor.pose.holistic), tracking mode"
        add(
            "pose_error_px",
            pose_result["body"]["mean_px_error"],
            False,
            backbone,
            parts={k: v["mean_px_error"] for k, v in pose_result["parts"].items()},
            unit="px",
            reading=reading["pose_error_px"],
        )
        add(
            "pose_pck",
            pose_result["body"]["pck"],
            True,
            backbone,
            parts={k: v["pck"] for k, v in pose_result["parts"].items()},
            alpha=pose_result["alpha"],
            threshold="0.05 x body height (reference keypoints' vertical extent)",
            detected=pose_result["body"]["detected"],
            reading=reading["pose_pck"],
        )
    if id_acc is not None:
        from ..face.identity import FaceDescriber

        r = id_acc.result()
        add(
            "identity_distance",
            r["mean_distance"],
            False,
            id_acc.describer.description if isinstance(id_acc.describer, FaceDescriber) else "face describer",
            face_detected=r["face_detected"],
            same_person_share=r["same_person_share"],
            threshold=r["threshold"],
            reference_path=str(id_acc.reference_path),
            reference_frames=r["reference_frames"],
            reading=reading["identity_distance"],
        )

    worst_sorted = []
    for item in sorted(worst if worst_gap <= 1 else buckets.values(), key=lambda t: (-t[0], t[1])):
        if len(worst_sorted) < worst_k and all(abs(item[1] - c[1]) >= worst_gap for c in worst_sorted):
            worst_sorted.append(item)
    worst_frames = []
    for _, idx, _, _ in worst_sorted:
        worst_frames.append({k: per_frame[k][idx] for k in per_frame if len(per_frame[k]) == n})
    total = time.perf_counter() - t_start
    cost = _cost(timing, total, n, want, verbose)
    return {
        "inputs": {
            "pred": pinfo["path"],
            "gt": ginfo["path"],
            "clip": mask_src,
            "pose_ref": None if pose_ref is None or isinstance(pose_ref, dict) else str(pose_ref),
            "identity_ref": None if identity_ref is None else str(identity_ref),
            "n_frames": n,
            "size": [h, w],
            "fps": pinfo["fps"] or ginfo["fps"],
            "device": str(device),
        },
        "metrics": out_metrics,
        "summary": {k: v["value"] for k, v in out_metrics.items()},
        "pose": None
        if pose_result is None
        else {
            "body": pose_result["body"],
            "parts": pose_result["parts"],
            "alpha": pose_result["alpha"],
            "body_height_median": pose_result["body_height_median"],
        },
        "per_frame": per_frame,
        "worst_frames": worst_frames,
        "worst_by": rank_key,
        "worst_min_gap": worst_gap,
        "notices": notices,
        "timing": {
            "total_s": total,
            "frames_per_s": n / total if total > 0 else math.nan,
            "per_metric_s": timing,
        },
        "cost": cost,
        "_thumbnails": {idx: (tp, tg) for _, idx, tp, tg in worst_sorted},
    }


def _cost(timing: dict[str, float], total: float, n: int, want: set[str], verbose: bool) -> dict[str, Any]:
    """What each metric cost in this run (seconds, share of the total, with its reference), and how fast the
    :data:`FAST_METRICS` set would have been (decoding and the rest + SSIM + PSNR + TCM and their references);
    printed when ``verbose``."""
    per: dict[str, float] = {}
    for k, v in timing.items():
        if k == "load":
            continue
        base = k[: -len("_reference")] if k.endswith("_reference") else k
        per[base] = per.get(base, 0.0) + v
    rest = max(0.0, total - sum(timing.values()))
    per["loading networks"] = timing.get("load", 0.0)
    per["decoding and the rest"] = rest
    fast = sum(v for k, v in per.items() if k in FAST_METRICS or k in ("decoding and the rest", "mask"))
    share = {k: (v / total if total > 0 else math.nan) for k, v in per.items()}
    networks = [k for k in per if k.startswith(("lpips", "fid"))]
    out: dict[str, Any] = {
        "seconds": per,
        "share": share,
        "frames_per_s": n / total if total > 0 else math.nan,
        "fast_set": list(FAST_METRICS),
        "fast_flag": "--fast",
        "fast_frames_per_s_estimate": n / fast if fast > 0 else math.nan,
        "note": (
            "the default set runs two feature networks (LPIPS and FID, or their offline variants); they take "
            "nearly all the time. --fast (= --metrics " + ",".join(FAST_METRICS) + ") leaves them out"
        ),
    }
    if verbose and networks and total > 0:
        parts = ", ".join(f"{k} {100 * share[k]:.0f} %" for k in sorted(networks, key=lambda k: -per[k]))
        print(
            f"[evaluate] cost: {n} frames in {total:.1f} s ({n / total:.2f} frames/s); {parts} of the time (with "
            f"their blurred-copy references); --fast ({', '.join(FAST_METRICS)}: no networks) would run at about "
            f"{out['fast_frames_per_s_estimate']:.0f} frames/s",
            flush=True,
        )
    return out
