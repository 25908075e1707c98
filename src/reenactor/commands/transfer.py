"""``reenactor transfer``: drive a trained model with a video (or clip store) and write the result video."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "transfer", help="make the trained target perform a driving video's motion (writes an mp4)",
        description="Streaming motion transfer: decode the driving video, extract its poses (MediaPipe Holistic, "
                    "tracking mode; a clip store's cached poses are used as they are), normalize them onto the "
                    "target (the fitted normalizer is saved next to the output as OUT.normalizer.json), print "
                    "how well the training poses cover them, render every frame with the model and encode. "
                    "Memory stays flat with the video's length.")
    p.add_argument("--model", required=True, help="exported model file (RUN_DIR/model.safetensors from `reenactor train`)")
    p.add_argument("--driving", required=True,
                   help="driving video or image, a clip folder from `reenactor extract`, or a sample name (sample:bikes)")
    p.add_argument("-o", "--output", required=True, help="output video path (.mp4)")
    p.add_argument("--method", help="expect a model of this method (an error names the model's own method otherwise)")
    p.add_argument("--side-by-side", action="store_true",
                   help="write driving | pose | result side by side (pose: the generator's input as drawn, e.g. "
                   "upper_body's generated face landmarks over its stick figure)")
    p.add_argument("--normalization", default="auto", choices=["auto", "edn", "edn_upper", "first_frame", "none"],
                   help="how driving poses are moved onto the target: auto picks edn when feet are visible, "
                        "else edn_upper (default: auto)")
    p.add_argument("--normalizer", metavar="JSON",
                   help="reuse a saved normalizer (the .normalizer.json a previous transfer wrote) instead of fitting one")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0 (default: cpu)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"],
                   help="generator precision: bf16 autocast is faster on CPUs with AVX512-BF16/AMX (default: fp32)")
    p.add_argument("--batch-size", type=int, default=8,
                   help="frames generated per forward pass when the method allows it (default: 8)")
    p.add_argument("--max-frames", type=int, help="stop after this many driving frames")
    p.add_argument("--body", default="driver", choices=["driver", "target"],
                   help="driver: the driving body poses, normalized onto the target (default); target: the target's "
                        "own training poses stored in the model, in order and looped, so the driver gives only what "
                        "the method reads beyond keypoints (upper_body: the face's expression and head pose)")
    p.add_argument("--hold", type=int, metavar="N",
                   help="a photo as the driver: repeat it for N frames (default: with --body target one pass over the "
                        "target's training poses, at most 120 frames; else 1). Ignored for a video")
    p.add_argument("--no-expression-warp", action="store_true",
                   help="upper_body: write the networks' frames as they are, without warping the face by the driver's "
                        "expression afterwards (the model's warp_expression; not in the paper, on by default)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..transfer import transfer

    if args.batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    res = transfer(args.model, args.driving, args.output, side_by_side_view=args.side_by_side,
                   normalization=args.normalization, normalizer=args.normalizer, device=args.device,
                   precision=args.precision, batch_size=args.batch_size, max_frames=args.max_frames,
                   progress=not args.no_progress, expect_method=args.method, body=args.body,
                   hold=args.hold, expression_warp=not args.no_expression_warp)
    print(f"wrote {res.out_path} ({res.n_frames} frames at {res.fps:g} fps; rendering ran at "
          f"{res.render_fps:.1f} frames/s)")
    if res.normalizer_path:
        print(f"normalizer ({res.normalizer}) saved to {res.normalizer_path}")
    return 0
