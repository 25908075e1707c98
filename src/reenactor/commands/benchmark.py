"""``reenactor benchmark``: evaluation protocols of the papers (``self-reenactment``: Aberman et al. 2019, Table 1)."""

from __future__ import annotations

import argparse

#: files each protocol writes at the top of its output folder: an earlier run's are replaced only with --force
#: learned rows of `benchmark psgan` (reenactor.evaluation.psgan.VARIANTS, named here without importing torch)
PSGAN_VARIANTS = ("psgan", "psgan w/o GRU", "psgan-L1", "psgan alpha=0")
#: training sequences per action of `benchmark psgan` (synthetic.actions.PER_ACTION, written here without
#: importing it; a test checks they agree)
PSGAN_PER_ACTION = 128
RESULTS = ("results.json", "table.md", "frames.png", "side_by_side.mp4", "contrast.md", "contrast.json")


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ._args import (
        PRECISION_TRAINING_NOTE,
        add_device,
        add_force,
        add_normalization,
        add_output,
        add_precision,
        add_progress,
        frame_size,
        int_range,
        nonneg_int,
        positive_float,
        positive_int,
    )

    p = sub.add_parser(
        "benchmark",
        help="evaluation protocols (self-reenactment, single-image, remot-ablation, expression, psgan, scgan)",
        description="Evaluation protocols of the papers.",
    )
    bsub = p.add_subparsers(dest="protocol", metavar="PROTOCOL", required=True)
    s = bsub.add_parser(
        "self-reenactment",
        help="train each method on a clip's first frames, render its last frames, compare",
        description="The self-reenactment test of Aberman et al. 2019 (performance cloning, section 5.2, Table 1): every method trains on the first "
        "--train-frames frames of one clip under the same wall-clock budget, then renders the last "
        "--test-frames frames from their own poses; reports MSE on RGB 0-255 (as the paper), SSIM and "
        "PSNR against the real frames (reenactor.metrics); writes table.md, results.json and "
        "side_by_side.mp4 (real | pose | one column per method).",
    )
    s.add_argument(
        "--clip",
        default="carphone",
        help="a sample name (carphone), a video file or a clip folder from `reenactor extract` (default: carphone)",
    )
    add_output(
        s,
        default="runs/self_reenactment",
        metavar="DIR",
        help="output folder; its clip and split are reused by a re-run (default: runs/self_reenactment)",
    )
    s.add_argument(
        "--methods",
        nargs="+",
        default=["nearest_neighbor", "pix2pix", "cloning"],
        help="methods to compare (default: nearest_neighbor pix2pix cloning; add upper_body for Liu et al. "
        "2019's FAUP-driven upper body, run with configs/upper_body/small.yaml's sizes)",
    )
    s.add_argument(
        "--budget",
        type=positive_float,
        default=180.0,
        metavar="SECONDS",
        help="wall-clock training seconds per learned method, data set-up included, more than 0 "
        "(default: 180)",
    )
    s.add_argument(
        "--train-frames",
        type=int_range(2),
        default=80,
        metavar="N",
        help="training frames from the start, at least 2 (default: 80)",
    )
    s.add_argument(
        "--test-frames",
        type=positive_int,
        default=40,
        metavar="N",
        help="test frames from the end, at least 1 (default: 40)",
    )
    s.add_argument(
        "--size",
        type=frame_size,
        default=128,
        metavar="PX",
        help="square frame size, at least 16 (default: 128)",
    )
    s.add_argument(
        "--joints",
        default="upper_body",
        choices=["body", "upper_body"],
        help="pose-volume joints of pix2pix/cloning (default: upper_body, for head-and-shoulders footage)",
    )
    s.add_argument(
        "--face",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="add the 5 face-landmark channels to the pose volumes of pix2pix/cloning (default: off, "
        "the paper's body joints only)",
    )
    s.add_argument(
        "--lr",
        type=positive_float,
        default=None,
        help="Adam learning rate of pix2pix/cloning (default: their shipped default.yaml's, 1e-3, what "
        "`reenactor train` uses; the paper's 2e-4 is for 150 epochs on a GPU)",
    )
    s.add_argument(
        "--test-first",
        action="store_true",
        help="the split the other way round: train on the last --train-frames frames, test on the first "
        "--test-frames",
    )
    s.add_argument(
        "--unpaired",
        default="driving",
        help="poses for cloning's unpaired branch: driving (the held-out part's poses and optical flow, "
        "as performance cloning trains on its driving video), none, or a clip folder (default: driving)",
    )
    s.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="METHOD:KEY=VALUE",
        help="config override for one method, e.g. cloning:model.loss.paired_only=0.5 (repeatable)",
    )
    s.add_argument(
        "--expression",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="face columns: re-extract every generated face and compare its action units and head pose "
        "with the real frame's (reenactor.metrics.expression; default: on)",
    )
    add_precision(
        s,
        "training autocast of the learned methods (bf16: ~1.7x more steps per budget on CPUs with "
        "AVX512-BF16/AMX); their inference runs in it where the method declares it, else in fp32",
        note=PRECISION_TRAINING_NOTE,
    )
    s.add_argument(
        "--threads",
        type=positive_int,
        metavar="N",
        help="torch CPU threads, at least 1 (default: torch's choice)",
    )
    s.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    s.add_argument(
        "--repeats",
        type=positive_int,
        default=1,
        metavar="N",
        help="train each learned method this many times (seeds SEED, SEED+1, ...) and report the mean "
        "and standard deviation: at a few CPU minutes a single run varies by +-15 %% (default: 1)",
    )
    add_device(s)
    add_force(s, help="replace the results of an earlier run in the output folder")
    add_progress(s)
    s.set_defaults(func=run_self_reenactment)
    e = bsub.add_parser(
        "expression",
        help="cross-identity: does the target's generated face show the driver's expression?",
        description="Transfer a driving video or photo onto a trained model's target person (side_by_side.mp4), then "
        "re-extract the generated faces and compare their action units and head pose (FAUP, "
        "reenactor.face.faup) with the driver's, beside a reference that holds the target's typical face "
        "constant; writes table.md and results.json (reenactor.evaluation.expression).",
    )
    e.add_argument("--model", required=True, help="exported model file (RUN_DIR/model.safetensors)")
    e.add_argument(
        "--driving",
        required=True,
        nargs="+",
        help="driving video, photo, clip folder or sample name (sample:carphone); two or more (e.g. "
        "sample:astronaut sample:hopper) also write contrast.md: where the drivers' expressions "
        "differ, do the generated faces differ the same way?",
    )
    e.add_argument(
        "--target",
        required=True,
        metavar="CLIP_DIR",
        help="the target person's clip folder (the model's training clip): its faces give the target's "
        "neutral reference and typical face",
    )
    add_output(e, default="runs/expression", metavar="DIR", help="output folder (default: runs/expression)")
    e.add_argument(
        "--max-frames", type=positive_int, metavar="N", help="stop after this many driving frames, at least 1"
    )
    e.add_argument(
        "--body",
        default="driver",
        choices=["driver", "target"],
        help="driver: the driver's body poses normalized onto the target (default); target: the target's "
        "own training poses, looped, so only the face is driven (for drivers whose body lies outside "
        "every training pose, e.g. a photo)",
    )
    e.add_argument(
        "--hold",
        type=positive_int,
        metavar="N",
        help="a photo as the driver: repeat it for N frames and measure them all (default: with --body "
        "target one pass over the target's training poses, at most 120; else 1)",
    )
    e.add_argument(
        "--no-expression-warp",
        action="store_true",
        help="upper_body: measure the networks' frames alone, without the face warp by the driver's "
        "expression that follows them (the model's warp_expression)",
    )
    add_precision(e, "generator precision")
    add_device(e)
    add_force(e, help="replace the results of an earlier run in the output folder")
    add_progress(e)
    e.set_defaults(func=run_expression)
    si = bsub.add_parser(
        "single-image",
        help="one frame as the target photo, the next frames as the driver, the real frames as truth",
        description="The single-image self-reenactment protocol (reenactor.evaluation.single_image): frame "
        "--reference-frame of a clip is the target photo, frames --first-driving.. drive it through each "
        "method (and `hold`, the photo repeated), and the real frames are the ground truth. Reports MSE, "
        "SSIM, PSNR, masked SSIM/PSNR, pose accuracy of the output (re-extracted), the dlib identity "
        "distance to the reference face (mean, share < 0.6), the segmentation scores (binary and mean "
        "per-part IoU of the layouts estimated on output and real frame) and a method's own mask IoU "
        "(single_shot's m; it also runs without its face refinement, row 'single_shot -FR'); writes "
        "table.md, results.json, side_by_side.mp4 and train/ (the frames before --reference-frame as a clip "
        "store to train a learned method on: reenactor train --method single_shot --clips OUT/train).",
    )
    si.add_argument(
        "--clip",
        default="carphone",
        help="a sample name, a video file or a clip folder extracted at --size (default: carphone)",
    )
    add_output(
        si,
        default="runs/single_image",
        metavar="DIR",
        help="output folder; its clip is reused by a re-run (default: runs/single_image)",
    )
    si.add_argument(
        "--methods",
        nargs="+",
        default=["hold", "pose_warp"],
        help="hold and reference methods to compare (default: hold pose_warp)",
    )
    si.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="LABEL=FILE",
        help="a trained model and the row it gets, e.g. single_shot=runs/ss/model.safetensors or "
        "'remot no GAM=runs/x/model.safetensors' (the method is read from the file; a label not in --methods "
        "is added after them; repeatable)",
    )
    si.add_argument(
        "--reference-frame",
        type=nonneg_int,
        default=80,
        metavar="N",
        help="the frame used as the target photo, 0 or more (default: 80)",
    )
    si.add_argument(
        "--first-driving",
        type=nonneg_int,
        default=81,
        metavar="N",
        help="first driving frame, 0 or more; all later frames drive (default: 81)",
    )
    si.add_argument(
        "--size",
        type=frame_size,
        default=128,
        metavar="PX",
        help="square frame size, at least 16 (default: 128)",
    )
    add_normalization(
        si,
        help="driving -> reference normalization (default: auto, what `reenactor transfer` runs; "
        "edn is for per-person models and is refused here with a message)",
    )
    si.add_argument("--no-pose", action="store_true", help="skip the pose-accuracy columns (re-extraction)")
    si.add_argument("--no-identity", action="store_true", help="skip the face-identity columns (dlib)")
    si.add_argument(
        "--no-segmentation",
        action="store_true",
        help="skip the segmentation columns (layouts estimated on output and real frames)",
    )
    add_device(si)
    add_force(si, help="replace the results of an earlier run in the output folder")
    add_progress(si)
    si.set_defaults(func=run_single_image)
    ps = bsub.add_parser(
        "psgan",
        help="psgan's pose sequences on held-out procedural actions (heatmap L2, classifier, amplitude)",
        description="PSGAN's Table 1 protocol on procedural actions (reenactor.evaluation.psgan): "
        "procedural training, held-out and classifier sets animated from disjoint real rest poses (the "
        "clip's frames, the astronaut and Hopper photos); psgan (the shipped default config), psgan "
        "without the GRU, psgan-L1 (eq. 3 alone, no GAN: the paper's PSGAN-L1), psgan with plain, unweighted L1 in eq. 3 "
        "(alpha 0), the first pose held still and a class-mean motion "
        "reference, each given the real first pose and the action; reports the average heatmap L2, the "
        "keypoint error, the share a skeleton action classifier (trained on the classifier set) labels "
        "correctly and the motion amplitude over the real one per action. Writes table.md, results.json, "
        "the data under OUT/data and the runs under OUT/runs (reused by a re-run: a killed run continues).",
    )
    ps.add_argument(
        "--clip",
        default="carphone",
        help="sample name, video or clip folder whose frames give the rest poses (default: carphone)",
    )
    add_output(
        ps,
        default="runs/psgan_benchmark",
        metavar="DIR",
        help="output folder; its data and trained runs are reused by a re-run (default: runs/psgan_benchmark)",
    )
    ps.add_argument(
        "--steps",
        type=positive_int,
        default=1000,
        metavar="N",
        help="training steps of each learned row, at least 1 (default: 1000, ~4 min each on 2 CPU cores)",
    )
    ps.add_argument(
        "--repeats",
        type=positive_int,
        default=1,
        metavar="N",
        help="trainings per learned row (seeds SEED, SEED+1, ...): the rows give mean and sd (default: 1)",
    )
    ps.add_argument("--seed", type=int, default=0, help="random seed of data and training (default: 0)")
    ps.add_argument(
        "--per-action",
        type=positive_int,
        default=PSGAN_PER_ACTION,
        metavar="N",
        help=f"procedural training sequences per action (default: {PSGAN_PER_ACTION})",
    )
    ps.add_argument(
        "--variants",
        nargs="+",
        default=list(PSGAN_VARIANTS),
        choices=list(PSGAN_VARIANTS),
        help="learned rows to train (default: all four)",
    )
    ps.add_argument(
        "--expressions",
        action="store_true",
        help="the expression variant: procedural CK+ expressions (happy, surprise, sad, angry, disgust, "
        "fear) of the 68 face points, trained from configs/psgan/face.yaml (use another -o than the body run)",
    )
    ps.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for every learned row, e.g. model.hidden=64 (repeatable)",
    )
    add_device(ps)
    add_force(ps, help="replace the results of an earlier run in the output folder")
    add_progress(ps)
    ps.set_defaults(func=run_psgan)
    sc = bsub.add_parser(
        "scgan",
        help="SCGAN's training alternatives (static, SCGAN-gen, SCGAN, SCGAN-gt) on a clip's held-out frames",
        description="SCGAN's Table 5 analogue (reenactor.evaluation.scgan): a clip's first --train-frames "
        "frames train SCGAN-gen (G1 alone on generated poses), SCGAN (the shipped default: G1 + G2, shared "
        "pose layer, D_which) and SCGAN-gt (G1 alone on real poses) for the same --steps; the first test "
        "frame is the image, the next ones are rendered from generated (the training stand-in: jittered, "
        "some joints dropped, one fixed draw) or real poses and compared by SSIM, MSE and PSNR; `static` "
        "repeats the image. Writes table.md, results.json, frames.png and the runs under OUT/runs (reused "
        "by a re-run).",
    )
    sc.add_argument(
        "--clip",
        default="carphone",
        help="a sample name, a video file or a clip folder (default: carphone)",
    )
    add_output(
        sc,
        default="runs/scgan_benchmark",
        metavar="DIR",
        help="output folder; its clip, split and runs are reused by a re-run (default: runs/scgan_benchmark)",
    )
    sc.add_argument(
        "--steps",
        type=positive_int,
        default=1000,
        metavar="N",
        help="training steps of each learned row, at least 1 (default: 1000, the step count of the table in "
        "docs/psgan.md)",
    )
    sc.add_argument(
        "--train-frames",
        type=int_range(2),
        default=80,
        metavar="N",
        help="training frames from the start, at least 2 (default: 80)",
    )
    sc.add_argument(
        "--test-frames",
        type=int_range(2),
        default=40,
        metavar="N",
        help="test frames from the end (the first is the image), at least 2 (default: 40)",
    )
    sc.add_argument(
        "--seed", type=int, default=0, help="random seed of training and the generated poses (default: 0)"
    )
    sc.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for every learned row, e.g. trainer.batch_size=4 (repeatable)",
    )
    add_device(sc)
    add_force(sc, help="replace the results of an earlier run in the output folder")
    add_progress(sc)
    sc.set_defaults(func=run_scgan)
    ra = bsub.add_parser(
        "remot-ablation",
        help="remot and its ablations (w/o GAM, w/o TAM, w/o WCN) beside hold, pose_warp and single_shot",
        description="REMOT's Tables 3-4 on the single-image protocol, in one command "
        "(reenactor.evaluation.remot_ablation): trains remot, remot with model.gam=false and remot with "
        "model.composition.tam=false (and single_shot) with `reenactor train`'s shipped defaults for --steps "
        "each on the clip's frames before --reference-frame, then runs `reenactor benchmark single-image` "
        "on them beside hold and pose_warp; 'remot w/o WCN' is the full model rendered without its WCN. "
        "Writes ablation.md (the table, each run's steps and seconds, remot against hold / pose_warp on "
        "masked SSIM, and whether remot >= w/o TAM >= w/o WCN holds on masked SSIM and PSNR), "
        "ablation.json and the protocol's table.md, results.json, side_by_side.mp4. Runs are resumable: "
        "run the same command again after a kill.",
    )
    ra.add_argument(
        "--clip",
        default="carphone",
        help="a sample name, a video file or a clip folder extracted at --size (default: carphone)",
    )
    add_output(
        ra,
        default="runs/remot_ablation",
        metavar="DIR",
        help="output folder; its clip and finished runs are reused by a re-run (default: runs/remot_ablation)",
    )
    ra.add_argument(
        "--steps",
        type=positive_int,
        default=1000,
        metavar="N",
        help="training steps of every trained row, at least 1 (default: 1000; ~1.5 s each for remot at 64 px "
        "on a 2-core CPU)",
    )
    ra.add_argument(
        "--size",
        type=frame_size,
        default=64,
        metavar="PX",
        help="square frame size of the runs and the protocol, at least 16 (default: 64, remot's CPU default)",
    )
    ra.add_argument("--seed", type=int, default=0, help="random seed of every training run (default: 0)")
    ra.add_argument(
        "--photo",
        default="sample:astronaut",
        metavar="PHOTO",
        help="a photo of a person no model saw, driven by the test frames through remot and single_shot "
        "(photo_side_by_side.mp4, photo_frames.png; no ground truth); 'none' skips it (default: "
        "sample:astronaut)",
    )
    ra.add_argument(
        "--no-single-shot", action="store_true", help="leave out the single_shot row (one run fewer)"
    )
    ra.add_argument(
        "--single-shot-steps",
        type=positive_int,
        default=None,
        metavar="N",
        help="training steps of the single_shot row (default: --steps)",
    )
    ra.add_argument(
        "--reference-frame",
        type=nonneg_int,
        default=80,
        metavar="N",
        help="the frame used as the target photo; the frames before it train (default: 80)",
    )
    ra.add_argument(
        "--first-driving",
        type=nonneg_int,
        default=81,
        metavar="N",
        help="first driving frame; all later frames drive (default: 81)",
    )
    ra.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for every remot run, e.g. trainer.batch_size=2 (repeatable)",
    )
    add_device(ra)
    add_force(
        ra, help="replace the results of an earlier run in the output folder (finished runs are reused)"
    )
    add_progress(ra)
    ra.set_defaults(func=run_remot_ablation)


def run_psgan(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..devices import resolve_device
    from ..evaluation.psgan import PSGANBenchmarkOptions, run
    from ._output import check_output_dir

    check_output_dir(args.output, args.force, results=RESULTS)
    run(
        PSGANBenchmarkOptions(
            clip=args.clip,
            out_dir=Path(args.output),
            steps=args.steps,
            repeats=args.repeats,
            seed=args.seed,
            per_action=args.per_action,
            variants=tuple(args.variants),
            expressions=args.expressions,
            overrides=list(args.overrides),
            device=resolve_device(args.device),
            progress=not args.no_progress,
        )
    )
    return 0


def run_scgan(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..devices import resolve_device
    from ..evaluation.scgan import SCGANBenchmarkOptions, run
    from ._output import check_output_dir

    check_output_dir(args.output, args.force, results=RESULTS)
    run(
        SCGANBenchmarkOptions(
            clip=args.clip,
            out_dir=Path(args.output),
            train_frames=args.train_frames,
            test_frames=args.test_frames,
            steps=args.steps,
            seed=args.seed,
            overrides=list(args.overrides),
            device=resolve_device(args.device),
            progress=not args.no_progress,
        )
    )
    return 0


def run_remot_ablation(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..devices import resolve_device
    from ..evaluation.remot_ablation import RemotAblationOptions, run
    from ._output import check_output_dir

    check_output_dir(args.output, args.force, results=(*RESULTS, "ablation.md", "ablation.json"))
    run(
        RemotAblationOptions(
            clip=args.clip,
            out_dir=Path(args.output),
            size=args.size,
            steps=args.steps,
            seed=args.seed,
            single_shot=not args.no_single_shot,
            single_shot_steps=args.single_shot_steps,
            photo=None if args.photo.lower() == "none" else args.photo,
            overrides=list(args.overrides),
            reference_frame=args.reference_frame,
            first_driving=args.first_driving,
            device=resolve_device(args.device),
            progress=not args.no_progress,
        )
    )
    return 0


def run_single_image(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..devices import resolve_device
    from ..errors import InputError
    from ..evaluation.single_image import SingleImageOptions, run
    from ._output import check_output_dir

    check_output_dir(args.output, args.force, results=RESULTS)
    if args.normalization == "edn":
        raise InputError(
            "edn normalization needs the target's range of positions over a video; the single-image "
            "protocol's target is one photo",
            fix="use --normalization auto (edn_upper), first_frame or global_alignment",
        )
    device = resolve_device(args.device)
    models = {}
    for text in args.model:
        if "=" not in text:
            raise InputError(f"--model {text!r} must look like LABEL=FILE")
        m, f = text.split("=", 1)
        models[m.strip()] = f
    methods = [*args.methods, *(m for m in models if m not in args.methods)]
    run(
        SingleImageOptions(
            clip=args.clip,
            out_dir=Path(args.output),
            reference_frame=args.reference_frame,
            first_driving=args.first_driving,
            size=args.size,
            methods=tuple(methods),
            models=models,
            normalization=args.normalization,
            device=device,
            progress=not args.no_progress,
            pose=not args.no_pose,
            identity=not args.no_identity,
            segmentation=not args.no_segmentation,
        )
    )
    return 0


def run_expression(args: argparse.Namespace) -> int:
    from ..devices import resolve_device
    from ..evaluation.expression import run_expression_benchmark, run_expression_contrast
    from ..samples import resolve_input
    from ._output import check_output_dir

    check_output_dir(args.output, args.force, results=RESULTS)
    kw = dict(
        device=resolve_device(args.device),
        precision=args.precision,
        max_frames=args.max_frames,
        progress=not args.no_progress,
        body=args.body,
        hold=args.hold,
        expression_warp=not args.no_expression_warp,
    )
    drivings = [resolve_input(d) for d in args.driving]
    if len(drivings) == 1:
        run_expression_benchmark(args.model, drivings[0], args.target, args.output, **kw)
    else:
        run_expression_contrast(args.model, drivings, args.target, args.output, **kw)
    return 0


def run_self_reenactment(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..devices import resolve_device
    from ..errors import InputError
    from ..evaluation.self_reenactment import SelfReenactmentOptions, run
    from ._output import check_output_dir

    check_output_dir(args.output, args.force, results=RESULTS)
    device = resolve_device(args.device)
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
        overrides[m][:0] = [f"trainer.precision={args.precision}"] + (
            [f"trainer.lr={args.lr}"] if args.lr else []
        )
    # upper_body (Liu et al.): its small CPU variant, read from the shipped configs/upper_body/small.yaml, one
    # window per step
    overrides.setdefault("upper_body", [])[:0] = [
        f"trainer.precision={args.precision}",
        "trainer.batch_size=1",
        "trainer.lr=1e-3",
    ]
    run(
        SelfReenactmentOptions(
            clip=args.clip,
            out_dir=Path(args.output),
            train_frames=args.train_frames,
            test_frames=args.test_frames,
            size=args.size,
            budget_s=args.budget,
            methods=tuple(args.methods),
            unpaired=args.unpaired,
            seed=args.seed,
            repeats=args.repeats,
            device=device,
            overrides=overrides,
            progress=not args.no_progress,
            expression=args.expression,
            configs={"upper_body": "upper_body/small"},
            test_first=args.test_first,
        )
    )
    return 0
