"""``reenactor extract INPUT -o CLIP_DIR``: video or image -> clip store (frames, keypoints, masks); a folder of
videos / images -> one clip store per file."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Run MediaPipe Holistic (offline) over a video or image and store, per frame: the frame cropped and resized
to SIZE x SIZE, the BODY_25 body, 68-point face and 2 x 21 hand keypoints with confidences, the person mask,
the face box, and MediaPipe's raw arrays, in CLIP_DIR (manifest.json + .npy arrays).

Resumable: an interrupted run continues where it stopped when re-run with the same command (work happens
in CLIP_DIR.partial/ and is renamed to CLIP_DIR at the end); a finished clip is not redone. INPUT may be
sample:NAME for bundled footage (see `reenactor samples`).

A folder as INPUT: every video and photo directly inside it (by suffix; other files are skipped with a note)
becomes a clip store OUT/<file name without suffix>/ (files sharing a name: OUT/<name>_<suffix>/), one after
the other, with one summary line per file; a bad file (unreadable, corrupt, no person) is reported and
skipped, and the exit code is 2 when any file failed (the last line lists them). Re-run the same command to
finish an interrupted batch: finished clips are skipped, a partial one resumes. The clip stores of OUT are
training data for many-people methods as they are: `reenactor train --method METHOD --clips OUT`.

Several people in the video: --person picks whom to follow (auto: the largest, most present one); `reenactor
people VIDEO -o DIR` lists them with pictures, to pick one by number.

examples:
  reenactor extract sample:carphone -o clips/carphone
  reenactor extract street.mp4 --person left -o clips/walker
  reenactor extract my_videos/ -o clips/          # clips/alice, clips/bob, ... one per video or photo"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..pose.smoothing import METHODS as SMOOTHING_METHODS
    from ._args import (
        add_force,
        add_min_confidence,
        add_output,
        add_progress,
        float_range,
        frame_size,
        int_range,
        nonneg_int,
        positive_int,
    )

    p = sub.add_parser(
        "extract",
        help="video/image -> clip store of frames, keypoints and masks",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "input",
        help="video file (mp4, mov, avi, ...), image (png, jpg), sample:NAME, or a folder of "
        "videos / images (one clip store each)",
    )
    add_output(
        p,
        required=True,
        metavar="CLIP_DIR",
        help="clip folder to create (an unfinished one resumes, a finished one of the same input and options "
        "is left as it is); for a folder INPUT, the folder receiving one clip folder per file",
    )
    p.add_argument(
        "--size",
        type=frame_size,
        default=256,
        metavar="PX",
        help="side in pixels of the stored square frames, at least 16; keypoints are stored in these "
        "pixels (default: 256)",
    )
    p.add_argument(
        "--crop",
        choices=("person", "full"),
        default="person",
        help="person: a square around the person's box over the whole clip (plus --margin), kept "
        "inside the frame where it fits; full: the whole frame letterboxed to a square "
        "(default: person)",
    )
    p.add_argument(
        "--margin",
        type=float_range(0.0, 2.0),
        default=0.15,
        metavar="F",
        help="person crop: margin on each side, as a fraction of the person box, 0 to 2 (default: 0.15)",
    )
    p.add_argument(
        "--max-gap",
        type=nonneg_int,
        default=5,
        metavar="N",
        help="runs of at most N frames without a detected person (face, hand) are linearly "
        "interpolated from the frames around them; longer runs stay flagged in `person` "
        "(default: 5; 0 turns interpolation off)",
    )
    p.add_argument(
        "--smoothing",
        choices=SMOOTHING_METHODS,
        default="none",
        help="temporal keypoint smoothing: one_euro (causal, adaptive) or savgol (Savitzky-Golay, "
        "centred); the unsmoothed values are kept as *_unsmoothed arrays (default: none)",
    )
    p.add_argument(
        "--mode",
        choices=("auto", "tracking", "static"),
        default="auto",
        help="MediaPipe mode: tracking (each frame seeded by the last; for video) or static "
        "(every frame detected afresh; for images or unrelated frames); auto picks tracking "
        "for videos and static for images (default: auto)",
    )
    p.add_argument(
        "--chunk",
        type=positive_int,
        default=64,
        metavar="N",
        help="frames per resumable chunk, at least 1; each starts from a fresh tracker, so results do not "
        "depend on interruptions (default: 64)",
    )
    add_min_confidence(p, default=0.5, help="MediaPipe minimum detection and tracking confidence")
    from .people import add_person

    add_person(
        p, what="the manifest's `person` records the choice and the frames where that person was not found"
    )
    p.add_argument(
        "--workers",
        type=int_range(0),
        default=0,
        metavar="N",
        help="MediaPipe graphs running chunks side by side, in threads; changes the speed, never the "
        "arrays (default: 0 = one per CPU core, at most 4)",
    )
    add_force(
        p,
        help="replace CLIP_DIR if it already holds a clip from another input or other options (for a folder "
        "INPUT: every clip of OUT that differs); a file or a folder that is not a clip store is never "
        "replaced",
    )
    add_progress(p, help="no progress bar")
    p.set_defaults(func=run, resumable=True)


def run(args: argparse.Namespace) -> int:
    from ..samples import resolve_input
    from ._output import check_output_dir

    # a file, or a folder that cannot be made, is refused before any work; an existing folder is extraction's
    # business (a finished clip of the same input is a no-op, an unfinished one resumes, another is refused)
    out = check_output_dir(args.output, args.force, what="clip folder", nonempty_ok=True)
    src = resolve_input(args.input)
    if src.is_dir():
        return _run_folder(args, src)
    check_output_dir(out.parent / f"{out.name}.partial", what="clip folder's work folder", nonempty_ok=True)
    from dataclasses import asdict

    from ..extract import extract

    store = extract(
        src,
        args.output,
        **asdict(_options(args)),
        force=args.force,
        progress=not args.no_progress,
        workers=args.workers,
    )
    print(f"clip store: {store.root} ({store.n_frames} frames, {store.size[0]}x{store.size[1]})")
    return 0


def _options(args: argparse.Namespace):
    """The extraction options the flags give (reenactor.extract.ExtractOptions)."""
    from ..extract import ExtractOptions

    return ExtractOptions(
        size=args.size,
        crop=args.crop,
        margin=args.margin,
        max_gap=args.max_gap,
        smoothing=args.smoothing,
        mode=args.mode,
        chunk=args.chunk,
        min_confidence=args.min_confidence,
        person=args.person,
    )


def _run_folder(args: argparse.Namespace, folder: Path) -> int:
    from ..extract import extract_folder

    opts = _options(args)
    res = extract_folder(
        folder,
        args.output,
        opts,
        force=args.force,
        workers=args.workers,
        progress=not args.no_progress,
        log=lambda m: print(m, flush=True),
    )
    n = len(res.done) + len(res.failed)
    if res.failed:
        print(
            f"extract: {len(res.done)} of {n} files extracted into {args.output}; {len(res.failed)} failed: "
            + ", ".join(p.name for p, _ in res.failed),
            flush=True,
        )
        return 2
    print(f"extract: {n} of {n} files extracted into {args.output}", flush=True)
    return 0
