"""Benchmark: frames/s of ``reenactor evaluate``'s metric set on carphone-sized video (176x144, 120 frames).

The bundled carphone clip is the ground truth; the "generated" video is a noisy copy (Gaussian noise,
sigma 6) written to mp4, so both are decoded from disk as in real use. Person masks and reference keypoints
come from one MediaPipe pass over the ground truth (set-up, not timed). Configurations, measured in the same
run on the same videos:

* pixels      SSIM, PSNR, mask-SSIM, mask-PSNR
* +tcm        ... + TCM (DIS flow on the ground truth)
* offline     ... + lpips_effnet + fid_effnet (the default without weight files)
* full        ... + pose accuracy (MediaPipe re-extraction) + face identity (dlib)
* papers-nets SSIM, PSNR, LPIPS (AlexNet) and FID (Inception-v3) with *randomly initialised* weight files of
              the real architectures: the cost of the published metrics, not their values (skip with
              --no-papers-nets)

    .venv/bin/python benchmarks/evaluate.py [--frames 120] [--device cpu] [--threads N] [--no-papers-nets]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from reenactor.io.video import iter_frames, write_video
from reenactor.metrics import evaluate_videos
from reenactor.samples import sample_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=120, help="frames of carphone to use (default 120, all)")
    ap.add_argument("--device", default="cpu", help="torch device for the networks (default cpu)")
    ap.add_argument(
        "--no-papers-nets", action="store_true", help="skip the AlexNet-LPIPS / Inception-FID row"
    )
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    gt_frames = list(iter_frames(sample_path("carphone"), stop=args.frames))
    n = len(gt_frames)
    h, w = gt_frames[0].shape[:2]
    tmp = Path(tempfile.mkdtemp(prefix="bench_eval_"))
    rng = np.random.default_rng(0)
    gt_path, pred_path = tmp / "gt.mp4", tmp / "pred.mp4"
    write_video(gt_path, gt_frames, fps=30)
    write_video(
        pred_path,
        (np.clip(f + rng.normal(0, 6, f.shape), 0, 255).astype(np.uint8) for f in gt_frames),
        fps=30,
    )

    # set-up (untimed): masks and reference keypoints of the ground truth as decoded from the mp4
    from reenactor.pose.holistic import HolisticExtractor

    decoded = list(iter_frames(gt_path))
    with HolisticExtractor(static_image_mode=False) as ex:
        recs = [ex.process(f) for f in decoded]
    masks = np.stack([r["mask"] for r in recs])
    kp = {k: np.stack([r[k] for r in recs]) for k in ("body", "face", "hand_left", "hand_right")}
    face_ref = tmp / "face.png"
    from reenactor.io.video import write_image

    write_image(face_ref, decoded[0])

    common = dict(masks=masks, device=args.device, progress=False, verbose=False)
    configs = [
        ("pixels", dict(metrics=["ssim", "psnr"])),
        ("+tcm", dict(metrics=["ssim", "psnr", "tcm"])),
        ("offline", dict(metrics=["ssim", "psnr", "tcm", "lpips", "fid"])),
        ("full", dict(metrics=["ssim", "psnr", "tcm", "lpips", "fid"], pose_ref=kp, identity_ref=face_ref)),
    ]
    if not args.no_papers_nets:
        from reenactor.metrics.fid import InceptionV3Pool
        from reenactor.metrics.lpips import AlexNetFeatures

        torch.manual_seed(0)
        torch.save(AlexNetFeatures().state_dict(), tmp / "alexnet_random.pth")
        torch.save(InceptionV3Pool(fid=True).state_dict(), tmp / "inception_random.pth")
        configs.append(
            (
                "papers-nets",
                dict(
                    metrics=["ssim", "psnr", "lpips", "fid"],
                    lpips_weights=tmp / "alexnet_random.pth",
                    inception_weights=tmp / "inception_random.pth",
                ),
            )
        )
    # warm-up: load the shared models once so that no row pays for loading
    evaluate_videos(
        pred_path, gt_path, metrics=["lpips", "fid"], progress=False, verbose=False, device=args.device
    )

    print(
        f"carphone {w}x{h}, {n} frames, noisy copy (sigma 6) vs original; device {args.device}, "
        f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs"
    )
    print(f"{'config':<12} {'seconds':>8} {'frames/s':>9} {'x pixels':>9}   per-metric seconds / values")
    rows = {}
    for name, kw in configs:
        t0 = time.perf_counter()
        r = evaluate_videos(pred_path, gt_path, **common, **kw)
        dt = time.perf_counter() - t0
        rows[name] = (dt, r)
        per = ", ".join(f"{k} {v:.2f}" for k, v in r["timing"]["per_metric_s"].items() if k != "load")
        ratio = dt / rows["pixels"][0]
        print(f"{name:<12} {dt:8.2f} {n / dt:9.2f} {ratio:9.1f}   {per}")
    full = rows["full"][1]
    print(
        "values (full):",
        ", ".join(f"{k} {v:.4g}" if v is not None else f"{k} n/a" for k, v in full["summary"].items()),
    )
    dt = rows["full"][0]
    print(
        f"headline: full metric set (ssim, psnr, mask-ssim/psnr, tcm, lpips_effnet, fid_effnet, pose, identity) "
        f"at {n / dt:.2f} frames/s on {w}x{h} carphone ({args.device}, {torch.get_num_threads()} torch threads)"
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the library logs its progress
    main()
