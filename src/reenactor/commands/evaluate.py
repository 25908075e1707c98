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
    p = sub.add_parser("evaluate", help="SSIM, PSNR, LPIPS, FID, TCM, pose and identity metrics with a report",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pred", required=True, metavar="OUT.mp4",
                   help="the generated video (or `sample:NAME`)")
    p.add_argument("--gt", required=True, metavar="REAL.mp4",
                   help="the ground-truth video, same frame count and size as --pred (or `sample:NAME`)")
    p.add_argument("--clip", metavar="CLIP_DIR",
                   help="clip folder whose `mask` array (person masks, same frames and size) gives mask-SSIM and "
                        "mask-PSNR (background zeroed in both videos)")
    p.add_argument("--pose-ref", metavar="CLIP_OR_NPZ",
                   help="reference keypoints: the normalized driving keypoints, as a clip folder or an .npz with a "
                        "`body` (T, 25, 3) array (optional face/hand_left/hand_right, size=(H, W)); keypoints are "
                        "re-extracted from --pred with MediaPipe Holistic and compared (error in px, PCK@0.05)")
    p.add_argument("--identity-ref", metavar="IMAGE_OR_CLIP",
                   help="image, video or clip folder of the target person: dlib face-descriptor distance per frame")
    p.add_argument("--lpips-weights", metavar="FILE",
                   help="torchvision AlexNet (alexnet-owt-7be5be79.pth) or VGG16 (vgg16-397923af.pth) ImageNet "
                        "state dict, .pth or .safetensors; without it `lpips_effnet` is reported instead")
    p.add_argument("--inception-weights", metavar="FILE",
                   help="Inception-v3 state dict (pytorch-fid pt_inception-2015-12-05-6726825d.pth or torchvision "
                        "inception_v3_google); without it `fid_effnet` is reported instead")
    p.add_argument("--metrics", default="ssim,psnr,lpips,fid,tcm",
                   help="comma-separated subset of ssim,psnr,lpips,fid,tcm (default: all); the mask, pose and "
                        "identity metrics run whenever their inputs are given")
    p.add_argument("--gaussian-ssim", action="store_true",
                   help="SSIM with Wang et al.'s 11x11 Gaussian window (default: scikit-image's 7x7 uniform window)")
    p.add_argument("--device", default="cpu", help="torch device for LPIPS/FID networks (default: cpu)")
    p.add_argument("--batch-size", type=int, default=8, help="frames per network batch (default: 8)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice, one per core); 1 is often faster on a "
                        "machine busy with other work")
    p.add_argument("--worst", type=int, default=6, help="how many worst frames to show (default: 6)")
    p.add_argument("-o", "--out", required=True, metavar="REPORT_DIR", help="folder for the report")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..metrics.evaluate import evaluate_videos
    from ..metrics.report import format_value, write_report
    from ..samples import resolve_input

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if args.batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    if args.threads is not None:
        if args.threads < 1:
            raise InputError("--threads must be at least 1")
        import torch

        torch.set_num_threads(args.threads)
    report = evaluate_videos(
        resolve_input(args.pred), resolve_input(args.gt), clip=args.clip, pose_ref=args.pose_ref,
        identity_ref=args.identity_ref, lpips_weights=args.lpips_weights, inception_weights=args.inception_weights,
        metrics=metrics, device=args.device, batch_size=args.batch_size, ssim_gaussian=args.gaussian_ssim,
        worst_k=args.worst, progress=not args.quiet,
    )
    files = write_report(report, args.out)
    width = max(len(k) for k in report["metrics"]) if report["metrics"] else 8
    for name, m in report["metrics"].items():
        print(f"{name:<{width}}  {format_value(m['value']):>10}  {'higher' if m['higher_is_better'] else 'lower'} is better"
              f"{'  [' + m['backbone'] + ']' if m.get('backbone') else ''}")
    t = report["timing"]
    print(f"{report['inputs']['n_frames']} frames in {t['total_s']:.1f} s ({t['frames_per_s']:.2f} frames/s)")
    print(f"report: {files['html']}")
    return 0
