"""``reenactor evaluate``: every metric of the papers on a generated video against the real one, and a report."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Compare a generated video with its ground truth, frame by frame, streaming (the videos are never held in
memory), and write REPORT_DIR/{metrics.json, per_frame.csv, per_frame.png, worst_frames.png, index.html}.

Metrics: SSIM and PSNR per frame; mask-SSIM / mask-PSNR with --clip (its person masks); LPIPS with
--lpips-weights (else the variant lpips_effnet); FID with --inception-weights (else fid_effnet); TCM (temporal
consistency, flow from OpenCV DIS on the ground truth); pose accuracy with --pose-ref; face identity with
--identity-ref. A variant is always reported under its own name, never as LPIPS/FID."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ._args import add_device, add_force, add_output, add_progress, nonneg_int, positive_int

    p = sub.add_parser(
        "evaluate",
        help="SSIM, PSNR, LPIPS, FID, TCM, pose and identity metrics with a report",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--pred", required=True, metavar="OUT.mp4", help="the generated video (or `sample:NAME`)")
    p.add_argument(
        "--gt",
        required=True,
        metavar="REAL.mp4",
        help="the ground-truth video, same frame count and size as --pred (or `sample:NAME`)",
    )
    p.add_argument(
        "--clip",
        metavar="CLIP_DIR",
        help="clip folder whose `mask` array (person masks, same frames and size) gives mask-SSIM and "
        "mask-PSNR (background zeroed in both videos)",
    )
    p.add_argument(
        "--pose-ref",
        metavar="CLIP_OR_NPZ",
        help="reference keypoints: the normalized driving keypoints, as a clip folder or an .npz with a "
        "`body` (T, 25, 3) array (optional face/hand_left/hand_right, size=(H, W)); keypoints are "
        "re-extracted from --pred with MediaPipe Holistic and compared (error in px, PCK@0.05)",
    )
    p.add_argument(
        "--identity-ref",
        metavar="IMAGE_OR_CLIP",
        help="image, video or clip folder of the target person: dlib face-descriptor distance per frame",
    )
    p.add_argument(
        "--lpips-weights",
        metavar="FILE",
        help="torchvision AlexNet (alexnet-owt-7be5be79.pth) or VGG16 (vgg16-397923af.pth) ImageNet "
        "state dict, .pth or .safetensors; without it `lpips_effnet` is reported instead",
    )
    p.add_argument(
        "--inception-weights",
        metavar="FILE",
        help="Inception-v3 state dict (pytorch-fid pt_inception-2015-12-05-6726825d.pth or torchvision "
        "inception_v3_google); without it `fid_effnet` is reported instead",
    )
    p.add_argument(
        "--metrics",
        default="ssim,psnr,lpips,fid,tcm",
        help="comma-separated subset of ssim,psnr,lpips,fid,tcm (default: all); the mask, pose and "
        "identity metrics run whenever their inputs are given",
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help="the metrics without a neural network only, the same as --metrics ssim,psnr,tcm: about 5x "
        "faster on a CPU, where the default set's LPIPS and FID networks take 85-95 %% of the time "
        "(the report's cost section says what each metric cost in the run)",
    )
    p.add_argument(
        "--gaussian-ssim",
        action="store_true",
        help="SSIM with Wang et al.'s 11x11 Gaussian window (default: scikit-image's 7x7 uniform window)",
    )
    add_device(p, what="torch device for the LPIPS/FID networks")
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=8,
        metavar="N",
        help="frames per network batch, at least 1 (default: 8)",
    )
    p.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        metavar="N",
        help="torch CPU threads, at least 1 (default: torch's choice, one per core); 1 is often faster on "
        "a machine busy with other work",
    )
    p.add_argument(
        "--worst",
        type=nonneg_int,
        default=6,
        metavar="N",
        help="how many worst frames to show, 0 for none (default: 6)",
    )
    add_output(
        p,
        required=True,
        metavar="REPORT_DIR",
        hidden_aliases=("--out",),
        help="folder for the report (new or empty; an existing report is replaced only with --force)",
    )
    add_force(p, help="write the report into a REPORT_DIR that is not empty (its report files are replaced)")
    add_progress(p, help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..devices import resolve_device
    from ..metrics.evaluate import evaluate_videos
    from ..metrics.report import format_value, write_report
    from ..samples import resolve_input
    from ._output import check_output_dir

    check_output_dir(args.output, args.force, what="report folder")
    from ..metrics.evaluate import FAST_METRICS

    metrics = list(FAST_METRICS) if args.fast else [m.strip() for m in args.metrics.split(",") if m.strip()]
    device = resolve_device(args.device)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    report = evaluate_videos(
        resolve_input(args.pred),
        resolve_input(args.gt),
        clip=args.clip,
        pose_ref=args.pose_ref,
        identity_ref=args.identity_ref,
        lpips_weights=args.lpips_weights,
        inception_weights=args.inception_weights,
        metrics=metrics,
        device=device,
        batch_size=args.batch_size,
        ssim_gaussian=args.gaussian_ssim,
        worst_k=args.worst,
        progress=not args.no_progress,
    )
    files = write_report(report, args.output)
    width = max(len(k) for k in report["metrics"]) if report["metrics"] else 8
    for name, m in report["metrics"].items():
        from ..metrics.report import direction

        print(
            f"{name:<{width}}  {format_value(m['value']):>10}  {direction(m)}"
            f"{'  [' + m['backbone'] + ']' if m.get('backbone') else ''}"
        )
    t = report["timing"]
    print(f"{report['inputs']['n_frames']} frames in {t['total_s']:.1f} s ({t['frames_per_s']:.2f} frames/s)")
    print(f"report: {files['html']}")
    return 0
