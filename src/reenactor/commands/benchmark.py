"""``reenactor benchmark``: evaluation protocols of the papers (``self-reenactment``: paper 004, Table 1)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("benchmark", help="evaluation protocols (self-reenactment, single-image, expression)",
                       description="Evaluation protocols of the papers.")
    bsub = p.add_subparsers(dest="protocol", metavar="PROTOCOL", required=True)
    s = bsub.add_parser(
        "self-reenactment", help="train each method on a clip's first frames, render its last frames, compare",
        description="Paper 004's self-reenactment test (section 5.2, Table 1): every method trains on the first "
                    "--train-frames frames of one clip under the same wall-clock budget, then renders the last "
                    "--test-frames frames from their own poses; reports MSE on RGB 0-255 (as the paper), SSIM and "
                    "PSNR against the real frames (reenactor.metrics); writes table.md, results.json and "
                    "side_by_side.mp4 (real | pose | one column per method).")
    s.add_argument("--clip", default="carphone",
                   help="a sample name (carphone), a video file or a clip folder from `reenactor extract` (default: carphone)")
    s.add_argument("-o", "--output", default="runs/self_reenactment", help="output folder (default: runs/self_reenactment)")
    s.add_argument("--methods", nargs="+", default=["nearest_neighbor", "pix2pix", "cloning"],
                   help="methods to compare (default: nearest_neighbor pix2pix cloning; add upper_body for paper "
                        "000's FAUP-driven upper body, run with configs/upper_body/small.yaml's sizes)")
    s.add_argument("--budget", type=float, default=180.0,
                   help="wall-clock training seconds per learned method, data set-up included (default: 180)")
    s.add_argument("--train-frames", type=int, default=80, help="training frames from the start (default: 80)")
    s.add_argument("--test-frames", type=int, default=40, help="test frames from the end (default: 40)")
    s.add_argument("--size", type=int, default=128, help="square frame size (default: 128)")
    s.add_argument("--joints", default="upper_body", choices=["body", "upper_body"],
                   help="pose-volume joints of pix2pix/cloning (default: upper_body, for head-and-shoulders footage)")
    s.add_argument("--face", action=argparse.BooleanOptionalAction, default=False,
                   help="add the 5 face-landmark channels to the pose volumes of pix2pix/cloning (default: off, "
                        "the paper's body joints only)")
    s.add_argument("--lr", type=float, default=1e-3,
                   help="Adam learning rate of pix2pix/cloning (default: 1e-3; the paper's 2e-4 is for 150 epochs "
                        "on a GPU, far more steps than a few CPU minutes buy)")
    s.add_argument("--unpaired", default="driving",
                   help="poses for cloning's unpaired branch: driving (the held-out part's poses and optical flow, "
                        "as performance cloning trains on its driving video), none, or a clip folder (default: driving)")
    s.add_argument("--set", dest="overrides", action="append", default=[], metavar="METHOD:KEY=VALUE",
                   help="config override for one method, e.g. cloning:model.loss.paired_only_steps=100 (repeatable)")
    s.add_argument("--expression", action=argparse.BooleanOptionalAction, default=True,
                   help="face columns: re-extract every generated face and compare its action units and head pose "
                        "with the real frame's (reenactor.metrics.expression; default: on)")
    s.add_argument("--precision", default="fp32", choices=["fp32", "bf16"],
                   help="training autocast of the learned methods (bf16: ~1.7x more steps per budget on CPUs "
                        "with AVX512-BF16/AMX; default: fp32)")
    s.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    s.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    s.add_argument("--repeats", type=int, default=1,
                   help="train each learned method this many times (seeds SEED, SEED+1, ...) and report the mean "
                        "and standard deviation: at a few CPU minutes a single run varies by +-15 %% (default: 1)")
    s.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    s.add_argument("--no-progress", action="store_true", help="no progress bars")
    s.set_defaults(func=run_self_reenactment)
    e = bsub.add_parser(
        "expression", help="cross-identity: does the target's generated face show the driver's expression?",
        description="Transfer a driving video or photo onto a trained model's target person (side_by_side.mp4), then "
                    "re-extract the generated faces and compare their action units and head pose (FAUP, "
                    "reenactor.face.faup) with the driver's, beside a reference that holds the target's typical face "
                    "constant; writes table.md and results.json (reenactor.benchmarking.expression).")
    e.add_argument("--model", required=True, help="exported model file (RUN_DIR/model.safetensors)")
    e.add_argument("--driving", required=True, nargs="+",
                   help="driving video, photo, clip folder or sample name (sample:carphone); two or more (e.g. "
                        "sample:astronaut sample:hopper) also write contrast.md: where the drivers' expressions "
                        "differ, do the generated faces differ the same way?")
    e.add_argument("--target", required=True, metavar="CLIP_DIR",
                   help="the target person's clip folder (the model's training clip): its faces give the target's "
                        "neutral reference and typical face")
    e.add_argument("-o", "--output", default="runs/expression", help="output folder (default: runs/expression)")
    e.add_argument("--max-frames", type=int, help="stop after this many driving frames")
    e.add_argument("--body", default="driver", choices=["driver", "target"],
                   help="driver: the driver's body poses normalized onto the target (default); target: the target's "
                        "own training poses, looped, so only the face is driven (for drivers whose body lies outside "
                        "every training pose, e.g. a photo)")
    e.add_argument("--hold", type=int, metavar="N",
                   help="a photo as the driver: repeat it for N frames and measure them all (default: with --body "
                        "target one pass over the target's training poses, at most 120; else 1)")
    e.add_argument("--no-expression-warp", action="store_true",
                   help="upper_body: measure the networks' frames alone, without the face warp by the driver's "
                        "expression that follows them (the model's warp_expression)")
    e.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="generator precision (default: fp32)")
    e.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    e.add_argument("--no-progress", action="store_true", help="no progress bars")
    e.set_defaults(func=run_expression)
    si = bsub.add_parser(
        "single-image", help="one frame as the target photo, the next frames as the driver, the real frames as truth",
        description="The single-image self-reenactment protocol (reenactor.benchmarking.single_image): frame "
                    "--reference-frame of a clip is the target photo, frames --first-driving.. drive it through each "
                    "method (and `hold`, the photo repeated), and the real frames are the ground truth. Reports MSE, "
                    "SSIM, PSNR, masked SSIM/PSNR, pose accuracy of the output (re-extracted) and the dlib identity "
                    "distance to the reference face; writes table.md, results.json and side_by_side.mp4.")
    si.add_argument("--clip", default="carphone",
                    help="a sample name, a video file or a clip folder extracted at --size (default: carphone)")
    si.add_argument("-o", "--output", default="runs/single_image", help="output folder (default: runs/single_image)")
    si.add_argument("--methods", nargs="+", default=["hold", "pose_warp"],
                    help="hold and reference methods to compare (default: hold pose_warp)")
    si.add_argument("--model", action="append", default=[], metavar="METHOD=FILE",
                    help="a trained model for a learned reference method, e.g. single_shot=runs/ss/model.safetensors")
    si.add_argument("--reference-frame", type=int, default=80, help="the frame used as the target photo (default: 80)")
    si.add_argument("--first-driving", type=int, default=81, help="first driving frame; all later frames drive (default: 81)")
    si.add_argument("--size", type=int, default=128, help="square frame size (default: 128)")
    si.add_argument("--normalization", default="auto", choices=["auto", "edn_upper", "first_frame", "global_alignment", "none"],
                    help="driving -> reference normalization (default: auto, what `reenactor transfer` runs)")
    si.add_argument("--no-pose", action="store_true", help="skip the pose-accuracy columns (re-extraction)")
    si.add_argument("--no-identity", action="store_true", help="skip the face-identity columns (dlib)")
    si.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    si.add_argument("--no-progress", action="store_true", help="no progress bars")
    si.set_defaults(func=run_single_image)


def run_single_image(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..benchmarking.single_image import SingleImageOptions, run
    from ..errors import InputError

    models = {}
    for text in args.model:
        if "=" not in text:
            raise InputError(f"--model {text!r} must look like METHOD=FILE")
        m, f = text.split("=", 1)
        models[m] = f
    run(SingleImageOptions(clip=args.clip, out_dir=Path(args.output), reference_frame=args.reference_frame,
                           first_driving=args.first_driving, size=args.size, methods=tuple(args.methods),
                           models=models, normalization=args.normalization, device=args.device,
                           progress=not args.no_progress, pose=not args.no_pose, identity=not args.no_identity))
    return 0


def run_expression(args: argparse.Namespace) -> int:
    from ..benchmarking.expression import run_expression_benchmark, run_expression_contrast
    from ..samples import resolve_input

    kw = dict(device=args.device, precision=args.precision, max_frames=args.max_frames,
              progress=not args.no_progress, body=args.body, hold=args.hold,
              expression_warp=not args.no_expression_warp)
    drivings = [resolve_input(d) for d in args.driving]
    if len(drivings) == 1:
        run_expression_benchmark(args.model, drivings[0], args.target, args.output, **kw)
    else:
        run_expression_contrast(args.model, drivings, args.target, args.output, **kw)
    return 0


def run_self_reenactment(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..benchmarking.self_reenactment import SelfReenactmentOptions, run
    from ..errors import InputError

    overrides: dict[str, list[str]] = {}
    for m in ("pix2pix", "cloning"):
        overrides[m] = [f"model.volume.joints={args.joints}", f"model.volume.face={str(args.face).lower()}"]
    for text in args.overrides:
        if ":" not in text:
            raise InputError(f"--set {text!r} must look like METHOD:KEY=VALUE, e.g. cloning:trainer.lr=1e-3")
        m, kv = text.split(":", 1)
        overrides.setdefault(m, []).append(kv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    for m in ("pix2pix", "cloning"):
        overrides[m][:0] = [f"trainer.precision={args.precision}", f"trainer.lr={args.lr}"]
    # upper_body (Liu et al.): its small CPU variant, read from the shipped configs/upper_body/small.yaml, one
    # window per step
    overrides.setdefault("upper_body", [])[:0] = [
        f"trainer.precision={args.precision}", "trainer.batch_size=1", "trainer.lr=1e-3"]
    if args.budget <= 0:
        raise InputError("--budget must be positive (seconds)")
    if args.repeats < 1:
        raise InputError("--repeats must be at least 1")
    run(SelfReenactmentOptions(clip=args.clip, out_dir=Path(args.output), train_frames=args.train_frames,
                               test_frames=args.test_frames, size=args.size, budget_s=args.budget,
                               methods=tuple(args.methods), unpaired=args.unpaired, seed=args.seed, repeats=args.repeats,
                               device=args.device, overrides=overrides, progress=not args.no_progress,
                               expression=args.expression, configs={"upper_body": "upper_body/small"}))
    return 0
