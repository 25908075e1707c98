"""``reenactor extract INPUT -o CLIP_DIR``: video or image -> clip store (frames, keypoints, masks)."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Run MediaPipe Holistic (offline) over a video or image and store, per frame: the frame cropped and resized
to SIZE x SIZE, the BODY_25 body, 68-point face and 2 x 21 hand keypoints with confidences, the person mask,
the face box, and MediaPipe's raw arrays, in CLIP_DIR (manifest.json + .npy arrays).

Resumable: an interrupted run continues where it stopped when re-run with the same command (work happens
in CLIP_DIR.partial/ and is renamed to CLIP_DIR at the end); a finished clip is not redone. INPUT may be
sample:NAME for bundled footage (see `reenactor samples`)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("extract", help="video/image -> clip store of frames, keypoints and masks",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="video file (mp4, mov, avi, ...), image (png, jpg), or sample:NAME")
    p.add_argument("-o", "--output", required=True, metavar="CLIP_DIR", help="clip folder to create")
    p.add_argument("--size", type=int, default=256,
                   help="side in pixels of the stored square frames; keypoints are stored in these pixels "
                        "(default: 256)")
    p.add_argument("--crop", choices=("person", "full"), default="person",
                   help="person: a square around the person's box over the whole clip (plus --margin), kept "
                        "inside the frame where it fits; full: the whole frame letterboxed to a square "
                        "(default: person)")
    p.add_argument("--margin", type=float, default=0.15,
                   help="person crop: margin on each side, as a fraction of the person box (default: 0.15)")
    p.add_argument("--max-gap", type=int, default=5, metavar="N",
                   help="runs of at most N frames without a detected person (face, hand) are linearly "
                        "interpolated from the frames around them; longer runs stay flagged in `person` "
                        "(default: 5; 0 turns interpolation off)")
    p.add_argument("--smoothing", choices=("none", "one_euro", "savgol"), default="none",
                   help="temporal keypoint smoothing: one_euro (causal, adaptive) or savgol (Savitzky-Golay, "
                        "centred); the unsmoothed values are kept as *_unsmoothed arrays (default: none)")
    p.add_argument("--mode", choices=("auto", "tracking", "static"), default="auto",
                   help="MediaPipe mode: tracking (each frame seeded by the last; for video) or static "
                        "(every frame detected afresh; for images or unrelated frames); auto picks tracking "
                        "for videos and static for images (default: auto)")
    p.add_argument("--chunk", type=int, default=64, metavar="N",
                   help="frames per resumable chunk; each starts from a fresh tracker, so results do not "
                        "depend on interruptions (default: 64)")
    p.add_argument("--min-confidence", type=float, default=0.5,
                   help="MediaPipe minimum detection and tracking confidence (default: 0.5)")
    p.add_argument("--workers", type=int, default=0, metavar="N",
                   help="MediaPipe graphs running chunks side by side, in threads; changes the speed, never the "
                        "arrays (default: 0 = one per CPU core, at most 4)")
    p.add_argument("--force", action="store_true",
                   help="replace CLIP_DIR if it already holds a clip from another input or other options")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..extract import extract
    from ..samples import resolve_input

    store = extract(resolve_input(args.input), args.output, size=args.size, crop=args.crop, margin=args.margin,
                    max_gap=args.max_gap, smoothing=args.smoothing, mode=args.mode, chunk=args.chunk,
                    min_confidence=args.min_confidence, force=args.force, progress=not args.quiet,
                    workers=args.workers)
    print(f"clip store: {store.root} ({store.n_frames} frames, {store.size[0]}x{store.size[1]})")
    return 0
