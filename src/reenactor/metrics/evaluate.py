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

Cost (``report["cost"]``, also logged): the default set runs two feature networks, and they take nearly all the
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
import logging
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import InputError
from . import image as im

logger = logging.getLogger(__name__)
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


class _Run:
    """What every metric's accumulator shares: the options, the per-frame table, the timings and the notices."""

    def __init__(
        self, reference: bool, ssim_gaussian: bool, device: str, batch_size: int, n_expected, verbose
    ):
        self.reference, self.ssim_gaussian, self.device = reference, ssim_gaussian, device
        self.batch_size, self.n_expected, self.verbose = batch_size, n_expected, verbose
        self.per_frame: dict[str, list[float]] = {"frame": []}
        self.timing: dict[str, float] = {}
        self.notices: list[str] = []
        self.n = 0  # frames evaluated (known once the pass is over)

    def column(self, name: str) -> list[float]:
        """A new per-frame column (the report's ``per_frame[name]``)."""
        self.per_frame[name] = []
        return self.per_frame[name]

    @contextmanager
    def timer(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.timing[name] = self.timing.get(name, 0.0) + time.perf_counter() - t0

    def notice(self, msg: str, show: bool = True) -> None:
        """Into the report's notices; also logged when ``verbose`` (``show=False``: said already elsewhere)."""
        self.notices.append(msg)
        if show and self.verbose:
            logger.info("[evaluate] %s", msg)

    def reference_of(self, itself: float, blurred: float | None, n_used: int | None = None) -> dict[str, Any]:
        """A metric's ``reference``: the ground truth against itself and, with references on, its blurred copy."""
        if not self.reference:
            return {"ground_truth": itself}
        return {
            "ground_truth": itself,
            "ground_truth_blurred": blurred,
            "blur_sigma": REFERENCE_BLUR_SIGMA,
            "frames": self.n if n_used is None else n_used,
            "what": f"the ground truth scored against itself, and the ground truth blurred with a Gaussian of "
            f"sigma {REFERENCE_BLUR_SIGMA:g} px scored against it (a plainly blurry copy), this run",
        }


def _entry(
    name: str, value: float, higher: bool | None, backbone: str | None, **extra: Any
) -> dict[str, Any]:
    """One metric of the report (``report["metrics"][name]``)."""
    m = {"name": name, "value": value, "higher_is_better": higher, "backbone": backbone, **extra}
    m["direction"] = direction(m)
    return m


class _Accumulator:
    """One metric (or a pair that shares its work) in the streaming pass: :meth:`frame` sees each frame pair and
    the blurred ground truth (``None`` without references), :meth:`flush` scores what is still batched at the
    end, :meth:`results` gives the report's entries."""

    uses_blur = False

    def frame(self, i: int, p: np.ndarray, g: np.ndarray, blur: np.ndarray | None) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def results(self) -> list[dict[str, Any]]:
        return []


class _SSIM(_Accumulator):
    """Per-frame SSIM, and the blurred ground truth's against the ground truth (the reference)."""

    name = "ssim"

    def __init__(self, run: _Run):
        self.run, self.values, self.ref = run, run.column(self.name), []
        self.uses_blur = run.reference

    def score(self, a: np.ndarray, b: np.ndarray) -> float:
        return im.ssim(a, b, self.run.ssim_gaussian)

    def frame(self, i, p, g, blur):
        if blur is not None:
            with self.run.timer(f"{self.name}_reference"):
                self.ref.append(self.score(blur, g))
        with self.run.timer(self.name):
            self.values.append(self.score(p, g))

    def results(self):
        return [
            _entry(
                "ssim",
                _mean(self.values),
                True,
                None,
                settings=im.ssim_settings(self.run.ssim_gaussian),
                reading=READING["ssim"],
                reference=self.run.reference_of(1.0, _mean(self.ref)),
            )
        ]


class _PSNR(_SSIM):
    """Per-frame PSNR, and the blurred ground truth's (the reference)."""

    name = "psnr"

    def score(self, a, b):
        return im.psnr(a, b)

    def results(self):
        return [
            _entry(
                "psnr",
                _mean(self.values),
                True,
                None,
                unit="dB",
                identical_frames=int(np.isinf(self.values).sum()),
                note="mean of per-frame PSNR (10 log10(255^2/MSE)); inf when a frame is identical",
                reading=READING["psnr"],
                reference=self.run.reference_of(math.inf, _mean(self.ref)),
            )
        ]


class _Masked(_Accumulator):
    """mask_ssim / mask_psnr (those of ssim / psnr asked for): SSIM / PSNR with both frames' background zeroed
    by the person mask. Checks that every frame has its mask even when neither is asked for."""

    def __init__(self, run: _Run, masks: np.ndarray, source: str | None, want: set[str]):
        self.run, self.masks, self.source = run, masks, source
        self.values = {k: run.column(k) for k in ("mask_ssim", "mask_psnr") if k[5:] in want}

    def frame(self, i, p, g, blur):
        if i >= self.masks.shape[0]:
            raise InputError(
                f"clip has only {self.masks.shape[0]} masks; the videos are longer",
                self.source,
                "give the clip of the same frames",
            )
        with self.run.timer("mask"):
            mk = np.asarray(self.masks[i])
            pm, gm = im.apply_mask(p, mk), im.apply_mask(g, mk)
            if "mask_ssim" in self.values:
                self.values["mask_ssim"].append(im.ssim(pm, gm, self.run.ssim_gaussian))
            if "mask_psnr" in self.values:
                self.values["mask_psnr"].append(im.psnr(pm, gm))

    def results(self):
        note = "background of both frames zeroed by the person mask (>=128), then "
        out = []
        if "mask_ssim" in self.values:
            out.append(
                _entry(
                    "mask_ssim",
                    _mean(self.values["mask_ssim"]),
                    True,
                    None,
                    mask=self.source,
                    settings=im.ssim_settings(self.run.ssim_gaussian),
                    note=note + "SSIM",
                    reading=READING["mask_ssim"],
                    reference={"ground_truth": 1.0},
                )
            )
        if "mask_psnr" in self.values:
            out.append(
                _entry(
                    "mask_psnr",
                    _mean(self.values["mask_psnr"]),
                    True,
                    None,
                    unit="dB",
                    mask=self.source,
                    note=note + "PSNR",
                    reading=READING["mask_psnr"],
                    reference={"ground_truth": math.inf},
                )
            )
        return out


def _batched(net, pairs: list[tuple[np.ndarray, ...]], device) -> list[float]:
    """``net(a, b)`` per pair of a batch of frame pairs, as floats."""
    import torch

    with torch.no_grad():
        a, b = _to_tensor([t[0] for t in pairs], device), _to_tensor([t[1] for t in pairs], device)
        return net(a, b).cpu().double().tolist()


class _LPIPS(_Accumulator):
    """LPIPS (or ``lpips_effnet``) in batches; its reference on every ``every``-th frame (about
    :data:`REFERENCE_LPIPS_FRAMES` frames spread over the video: it is a mean)."""

    def __init__(self, run: _Run, weights: str | Path | None):
        from .lpips import load_lpips

        self.run = run
        with run.timer("load"):
            self.net = load_lpips(weights, device=run.device, verbose=run.verbose)
        self.name = self.net.name
        if self.name != "lpips":
            run.notice(
                "LPIPS backbone weights not given: reporting `lpips_effnet` (not comparable with LPIPS)",
                show=False,
            )
        self.values, self.ref = run.column(self.name), []
        self.batch: list[tuple[np.ndarray, np.ndarray]] = []  # (pred, gt)
        self.ref_batch: list[tuple[np.ndarray, np.ndarray]] = []  # (blurred gt, gt)
        self.every = max(
            1, math.ceil((run.n_expected or REFERENCE_LPIPS_FRAMES * 4) / REFERENCE_LPIPS_FRAMES)
        )
        self.uses_blur = run.reference

    def frame(self, i, p, g, blur):
        self.batch.append((p, g))
        if len(self.batch) >= self.run.batch_size:
            self._score()
        if blur is not None and i % self.every == 0:
            self.ref_batch.append((blur, g))
            if len(self.ref_batch) >= self.run.batch_size:
                self._score_reference()

    def _score(self) -> None:
        if self.batch:
            with self.run.timer(self.name):
                self.values.extend(_batched(self.net, self.batch, self.run.device))
            self.batch.clear()

    def _score_reference(self) -> None:
        if self.ref_batch:
            with self.run.timer(f"{self.name}_reference"):
                self.ref.extend(_batched(self.net, self.ref_batch, self.run.device))
            self.ref_batch.clear()

    def flush(self):
        self._score()
        self._score_reference()

    def results(self):
        from .lpips import READING as LPIPS_READING

        return [
            _entry(
                self.name,
                _mean(self.values),
                False,
                self.net.backbone,
                comparable_with_papers=self.name == "lpips",
                reading=LPIPS_READING[self.name],
                reference=self.run.reference_of(0.0, _mean(self.ref), len(self.ref)),
            )
        ]


class _FID(_Accumulator):
    """FID (or ``fid_effnet``): feature statistics of pred, gt and the blurred gt, gathered in batches."""

    def __init__(self, run: _Run, weights: str | Path | None):
        from .fid import FeatureStats, load_fid_extractor

        self.run = run
        with run.timer("load"):
            self.net = load_fid_extractor(weights, device=run.device, verbose=run.verbose)
        self.name = self.net.name
        if self.name != "fid":
            run.notice(
                "Inception-v3 weights not given: reporting `fid_effnet` (not comparable with FID)", show=False
            )
        self.pred, self.gt = FeatureStats(self.net.dim), FeatureStats(self.net.dim)
        self.blurred = FeatureStats(self.net.dim) if run.reference else None
        self.batch: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []  # (pred, gt, blurred gt)
        self.uses_blur = run.reference

    def frame(self, i, p, g, blur):
        self.batch.append((p, g, blur))
        if len(self.batch) >= self.run.batch_size:
            self.flush()

    def flush(self):
        if not self.batch:
            return
        import torch

        dev = self.run.device
        with torch.no_grad():
            tp, tg = _to_tensor([t[0] for t in self.batch], dev), _to_tensor([t[1] for t in self.batch], dev)
            with self.run.timer(self.name):
                self.pred.update(self.net(tp))
                self.gt.update(self.net(tg))
            if self.blurred is not None:
                with self.run.timer(f"{self.name}_reference"):
                    self.blurred.update(self.net(_to_tensor([t[2] for t in self.batch], dev)))
        self.batch.clear()

    def results(self):
        from .fid import READING as FID_READING

        n = self.run.n
        with self.run.timer(self.name):
            if n >= 2:
                value = self.pred.distance(self.gt)
            else:
                value = math.nan
                self.run.notice("FID needs at least 2 frames; reported as nan")
        blurred = None
        if self.blurred is not None and n >= 2:
            with self.run.timer(f"{self.name}_reference"):
                blurred = self.blurred.distance(self.gt)
        return [
            _entry(
                self.name,
                value,
                False,
                self.net.backbone,
                n_frames=n,
                feature_dim=self.net.dim,
                reading=FID_READING[self.name],
                reference=self.run.reference_of(0.0, blurred),
                comparable_with_papers=self.name == "fid",
                note=(
                    "pred frames vs gt frames of this video; N < feature dim makes the covariances rank-deficient "
                    "and FID biased upwards - compare only at equal N"
                )
                if n < self.net.dim
                else None,
            )
        ]


class _TCM(_Accumulator):
    """Temporal consistency of pred against gt, and of the blurred gt (the reference)."""

    def __init__(self, run: _Run):
        from .tcm import TCMAccumulator

        self.run, self.values = run, run.column("tcm")
        self.acc = TCMAccumulator(n_also=1 if run.reference else 0)
        self.uses_blur = run.reference

    def frame(self, i, p, g, blur):
        with self.run.timer("tcm"):
            self.values.append(self.acc.update(p, g, also=[blur] if blur is not None else []))

    def results(self):
        from .tcm import DEFINITION, FLOW_ESTIMATOR, GROUND_TRUTH_VALUE
        from .tcm import READING as TCM_READING

        also = self.acc.also_results()
        return [
            _entry(
                "tcm",
                self.acc.result(),
                None,
                "pixels + OpenCV DIS flow",
                definition=DEFINITION,
                flow=FLOW_ESTIMATOR,
                reference_value=GROUND_TRUTH_VALUE,
                reading=TCM_READING,
                reference=self.run.reference_of(GROUND_TRUTH_VALUE, also[0] if also else None),
                note="the ground truth itself scores exp(-1) = 0.368; see reenactor.metrics.tcm",
            )
        ]


class _Pose(_Accumulator):
    """Pose accuracy: keypoints re-extracted from the generated frames against ``pose_ref``."""

    def __init__(self, run: _Run, pose_ref: str | Path | dict, extractor: Any, size: tuple[int, int]):
        from .pose import PoseAccumulator, load_pose_reference

        self.run = run
        with run.timer("load"):
            if isinstance(pose_ref, dict):
                self.ref = {k: np.asarray(v, np.float32) for k, v in pose_ref.items()}
            else:
                self.ref, notes = load_pose_reference(pose_ref, size)
                for m in notes:
                    run.notice(m)
            self.acc = PoseAccumulator(extractor)
        self.summary: dict | None = None  # the report's ``pose``

    def frame(self, i, p, g, blur):
        with self.run.timer("pose"):
            self.acc.update(p)

    def close(self):
        self.acc.close()

    def results(self):
        with self.run.timer("pose"):
            r = self.acc.result(self.ref)
        self.run.per_frame["pose_error_px"] = r["per_frame"]["pose_error"].tolist()
        self.run.per_frame["pose_pck"] = r["per_frame"]["pose_pck"].tolist()
        self.summary = {k: r[k] for k in ("body", "parts", "alpha", "body_height_median")}
        backbone = "MediaPipe Holistic (reenactor.pose.holistic), tracking mode"
        return [
            _entry(
                "pose_error_px",
                r["body"]["mean_px_error"],
                False,
                backbone,
                parts={k: v["mean_px_error"] for k, v in r["parts"].items()},
                unit="px",
                reading=READING["pose_error_px"],
            ),
            _entry(
                "pose_pck",
                r["body"]["pck"],
                True,
                backbone,
                parts={k: v["pck"] for k, v in r["parts"].items()},
                alpha=r["alpha"],
                threshold="0.05 x body height (reference keypoints' vertical extent)",
                detected=r["body"]["detected"],
                reading=READING["pose_pck"],
            ),
        ]


class _Identity(_Accumulator):
    """Face identity: dlib descriptor distance of each generated face to the target's."""

    def __init__(self, run: _Run, identity_ref: str | Path):
        from .identity import IdentityAccumulator

        self.run = run
        with run.timer("load"):
            self.acc = IdentityAccumulator(identity_ref)
        self.values = run.column("identity_distance")

    def frame(self, i, p, g, blur):
        with self.run.timer("identity"):
            self.values.append(self.acc.update(p))

    def results(self):
        from ..face.identity import FaceDescriber

        r = self.acc.result()
        describer = self.acc.describer
        return [
            _entry(
                "identity_distance",
                r["mean_distance"],
                False,
                describer.description if isinstance(describer, FaceDescriber) else "face describer",
                face_detected=r["face_detected"],
                same_person_share=r["same_person_share"],
                threshold=r["threshold"],
                reference_path=str(self.acc.reference_path),
                reference_frames=r["reference_frames"],
                reading=READING["identity_distance"],
            )
        ]


class _WorstFrames:
    """The ``k`` frames with the lowest score (SSIM, else PSNR), at least ``gap`` frames apart so that one bad
    stretch does not fill the panel with near-copies: the worst frame of each stretch of ``gap`` frames is kept,
    then the worst of those."""

    def __init__(self, k: int, n_expected: int | None, scores: list[float] | None):
        self.k, self.scores = k, scores
        self.gap = max(1, (n_expected or 0) // (2 * k)) if k > 0 else 1
        self.kept: dict[int, tuple[float, int, np.ndarray, np.ndarray]] = {}  # stretch -> (-score, i, thumbs)
        self.heap: list[tuple[float, int, np.ndarray, np.ndarray]] = []  # gap 1: max-heap on -score

    def frame(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        if self.scores is None or self.k <= 0:
            return
        bad = -self.scores[-1]
        if self.gap > 1:
            cur = self.kept.get(i // self.gap)
            if cur is None or bad > cur[0]:
                self.kept[i // self.gap] = (bad, i, _thumb(p), _thumb(g))
        elif len(self.heap) < self.k:
            heapq.heappush(self.heap, (bad, i, _thumb(p), _thumb(g)))
        elif bad > self.heap[0][0]:
            heapq.heapreplace(self.heap, (bad, i, _thumb(p), _thumb(g)))

    def picks(self) -> list[tuple[float, int, np.ndarray, np.ndarray]]:
        out: list[tuple[float, int, np.ndarray, np.ndarray]] = []
        for item in sorted(self.heap if self.gap <= 1 else self.kept.values(), key=lambda t: (-t[0], t[1])):
            if len(out) < self.k and all(abs(item[1] - c[1]) >= self.gap for c in out):
                out.append(item)
        return out


def _masks(clip: Any, masks: np.ndarray | None, h: int, w: int, n_expected: int | None):
    """The person masks (T, H, W) from ``masks`` or the clip, checked against the videos; ``(None, None)`` if none."""
    mask_arr, mask_src = _mask_source(clip, masks)
    if mask_arr is None:
        return None, None
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
    return mask_arr, mask_src


def _frame_pairs(
    pred_it, gt_it, h: int, w: int, pinfo: dict, ginfo: dict
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(pred, gt) frame pairs; raises when a frame's size differs or one video ends before the other."""
    i = 0
    while True:
        p, g = next(pred_it, None), next(gt_it, None)
        if p is None or g is None:
            break
        if p.shape != g.shape or p.shape[:2] != (h, w):
            raise InputError(
                f"frame {i}: sizes differ (pred {p.shape}, gt {g.shape})",
                pinfo["path"],
                "both videos must keep one frame size",
            )
        yield p, g
        i += 1
    if (p is None) != (g is None):
        ended, longer = ("pred", "gt") if p is None else ("gt", "pred")
        raise InputError(
            f"frame counts differ: the {ended} video ended after {i} frames while the {longer} video goes on",
            pinfo["path"] or ginfo["path"],
            "evaluate videos of the same length (trim the longer one)",
        )


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
    lpips_weights:     torchvision AlexNet/VGG16 state dict -> ``lpips``; else ``lpips_effnet`` (logged).
    inception_weights: torchvision/pytorch-fid Inception-v3 state dict -> ``fid``; else ``fid_effnet``.
    metrics:           subset of {"ssim", "psnr", "lpips", "fid", "tcm"} (default all, :data:`DEFAULT_METRICS`;
                       :data:`FAST_METRICS` leaves the networks out; the mask, pose and identity metrics run
                       whenever their inputs are given).
    reference:         also score the ground truth blurred (Gaussian sigma :data:`REFERENCE_BLUR_SIGMA`) against
                       itself with ssim, psnr, tcm, lpips and fid, as the scale each metric is read against.
    verbose:           log (``logging``, INFO) the fall-backs, notices and the cost.
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
    mask_arr, mask_src = _masks(clip, masks, h, w, n_expected)

    # one accumulator per metric, in the report's order
    run = _Run(reference, ssim_gaussian, device, batch_size, n_expected, verbose)
    accs: list[_Accumulator] = [_SSIM(run)] if "ssim" in want else []
    accs += [_PSNR(run)] if "psnr" in want else []
    accs += [_Masked(run, mask_arr, mask_src, want)] if mask_arr is not None else []
    accs += [_LPIPS(run, lpips_weights)] if "lpips" in want else []
    accs += [_FID(run, inception_weights)] if "fid" in want else []
    accs += [_TCM(run)] if "tcm" in want else []
    pose = _Pose(run, pose_ref, pose_extractor, (h, w)) if pose_ref is not None else None
    accs += [pose] if pose is not None else []
    accs += [_Identity(run, identity_ref)] if identity_ref is not None else []
    rank_key = "ssim" if "ssim" in want else ("psnr" if "psnr" in want else None)
    worst = _WorstFrames(worst_k, n_expected, run.per_frame.get(rank_key))
    blurred = any(a.uses_blur for a in accs)  # the reference copy: the ground truth blurred

    bar = tqdm(total=n_expected, desc="evaluate", unit="frame", disable=not progress, leave=False)
    try:
        for i, (p, g) in enumerate(_frame_pairs(pred_it, gt_it, h, w, pinfo, ginfo)):
            run.per_frame["frame"].append(i)
            blur = cv2.GaussianBlur(g, (0, 0), REFERENCE_BLUR_SIGMA) if blurred else None
            for a in accs:
                a.frame(i, p, g, blur)
            worst.frame(i, p, g)
            run.n = i + 1
            bar.update(1)
        for a in accs:
            a.flush()
    finally:
        bar.close()
        for a in accs:
            a.close()
    n = run.n
    if n == 0:
        raise InputError("no frames to evaluate", pinfo["path"])

    out_metrics = {m["name"]: m for a in accs for m in a.results()}
    picks = worst.picks()
    per_frame = run.per_frame
    worst_frames = [{k: v[idx] for k, v in per_frame.items() if len(v) == n} for _, idx, _, _ in picks]
    total = time.perf_counter() - t_start
    cost = _cost(run.timing, total, n, want, verbose)
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
        "pose": None if pose is None else pose.summary,
        "per_frame": per_frame,
        "worst_frames": worst_frames,
        "worst_by": rank_key,
        "worst_min_gap": worst.gap,
        "notices": run.notices,
        "timing": {
            "total_s": total,
            "frames_per_s": n / total if total > 0 else math.nan,
            "per_metric_s": run.timing,
        },
        "cost": cost,
        "_thumbnails": {idx: (tp, tg) for _, idx, tp, tg in picks},
    }


def _cost(timing: dict[str, float], total: float, n: int, want: set[str], verbose: bool) -> dict[str, Any]:
    """What each metric cost in this run (seconds, share of the total, with its reference), and how fast the
    :data:`FAST_METRICS` set would have been (decoding and the rest + SSIM + PSNR + TCM and their references);
    logged when ``verbose``."""
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
        logger.info(
            f"[evaluate] cost: {n} frames in {total:.1f} s ({n / total:.2f} frames/s); {parts} of the time (with "
            f"their blurred-copy references); --fast ({', '.join(FAST_METRICS)}: no networks) would run at about "
            f"{out['fast_frames_per_s_estimate']:.0f} frames/s"
        )
    return out
