"""``reenactor layout CLIP_DIR``: the body-part layout, the dense-pose substitute and the background plates of a
clip, each a resumable stage of the clip store (what the parsing-conditioned methods read).

=============  ==================================  ================================================================
stage          array(s)                            made by
=============  ==================================  ================================================================
``layout``     ``layout`` (T, S, S) uint8          estimated (:mod:`reenactor.parsing.layout`), or imported with
                                                   ``--from DIR`` (:mod:`reenactor.parsing.importer`)
``densepose``  ``iuv`` (T, S, S, 3) uint8          :mod:`reenactor.parsing.densepose` (keypoint capsules)
``background`` ``background`` (T, S, S, 3) uint8,  :func:`reenactor.data.background.add_background_stage`
               ``plate`` (S, S, 3) uint8
=============  ==================================  ================================================================

With none of ``--parsing``, ``--densepose``, ``--plates`` all three stages run; with any of them only those.
``--from`` changes how the layout is made, not which stages run. A stage already done is skipped (an imported
layout is kept by a later plain run); ``--force`` recomputes the stages that run.
"""

from __future__ import annotations

import argparse
import time

from ..errors import InputError

EPILOG = """\
examples:
  reenactor layout clips/me                          # layout (estimated), dense pose, plates
  reenactor layout clips/me --from schp_out/ --label-set lip
                                                     # layout imported from a parser's PNGs, then the rest
  reenactor layout clips/me --plates                 # only the background plates
  reenactor render clips/me --layout -o layout.mp4   # look at it

--from DIR: one PNG per frame (sorted by name, numbers compared as numbers), of the clip's source frames or of
its stored frames; palette-mode/grey PNGs are read as label indices, RGB PNGs by palette colour. SCHP writes the
same palette for all of its models: name its set with --label-set (lip, atr, cihp).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ._args import add_force, add_progress

    p = sub.add_parser(
        "layout",
        help="body-part layout (estimated, or imported from a parser's PNGs), dense-pose substitute and "
        "background plates of a clip",
        description="Adds three resumable stages to a clip folder: `layout` (22 body-part labels per pixel: "
        "estimated from the mask, keypoints, face mesh and hands, or imported from a human parser's "
        "PNGs with --from), `densepose` (a keypoint-drawn substitute for DensePose's I/U/V) and "
        "`background` (every frame with the person removed, and the clip's background plate). With "
        "none of --parsing/--densepose/--plates all three run; with any of them only those. Stages "
        "already done are skipped.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("clip", metavar="CLIP_DIR", help="a clip folder made by `reenactor extract`")
    p.add_argument(
        "--from",
        dest="from_dir",
        metavar="DIR",
        help="import the layout from this folder of parsing PNGs (one per frame) instead of estimating it",
    )
    p.add_argument(
        "--label-set",
        default="auto",
        choices=("auto", "layout", "cihp", "lip", "atr"),
        help="with --from: the parser's label set (default: auto, from the colours or the PNGs' palette; "
        "SCHP's palette PNGs need it named)",
    )
    p.add_argument(
        "--parsed-on",
        default="auto",
        choices=("auto", "source", "stored"),
        help="with --from: whether the PNGs are of the source video's frames or of the clip's stored frames "
        "(default: auto, from their size)",
    )
    p.add_argument("--parsing", action="store_true", help="run the layout stage (estimated, or --from)")
    p.add_argument("--densepose", action="store_true", help="run the dense-pose substitute stage (iuv)")
    p.add_argument("--plates", action="store_true", help="run the background plate stage (background, plate)")
    add_force(p, help="recompute the stages that run (replaces an imported layout too)")
    add_progress(p, help="no progress bars")
    p.set_defaults(func=run)


def _layout(clip, args) -> str:
    if args.from_dir is not None:
        from ..parsing.importer import import_layouts

        before = clip.stage("layout") or {}
        import_layouts(
            clip,
            args.from_dir,
            label_set=args.label_set,
            force=args.force,
            parsed_on=args.parsed_on,
            progress=not args.no_progress,
        )
        st = clip.stage("layout")
        kept = bool(before) and st is before  # a skipped import leaves the manifest record as it was
        out = st.get("outside_mask_fraction")
        return (
            f"layout: {'already imported' if kept else 'imported'} from {st['folder']} ({st['files']} PNGs, "
            f"{st['label_set']} labels read by {st['read_by']}, {st['parsed_on']} frames)"
            + (f"; {out:.1%} of its labelled pixels lie outside the person mask" if out is not None else "")
        )
    st = clip.stage("layout") or {}
    if clip.stage_done("layout") and clip.has("layout") and not args.force:
        return f"layout: done ({st.get('source', 'estimated')}; kept, --force re-estimates it)"
    try:
        from ..parsing.layout import add_layout_stage
    except ImportError:
        raise InputError(
            "this reenactor has no layout estimator",
            clip.root,
            "import a parser's PNGs with `reenactor layout CLIP_DIR --from DIR`",
        ) from None
    t0 = time.perf_counter()
    add_layout_stage(clip, force=args.force, progress=not args.no_progress)
    return f"layout: estimated ({time.perf_counter() - t0:.1f} s)"


def _densepose(clip, args) -> str:
    from ..parsing.densepose import add_densepose_stage

    done = clip.stage_done("densepose") and not args.force
    add_densepose_stage(clip, force=args.force, progress=not args.no_progress)
    st = clip.stage("densepose")
    return (
        f"densepose: {'done' if done else 'computed'} (substitute from keypoints; parts in "
        f"{st['frames_with_parts']} frames, {st['frames_front']} facing the camera"
        + (
            f", {st['mask_covered_mean']:.0%} of the person mask covered"
            if st.get("mask_covered_mean")
            else ""
        )
        + ")"
    )


def _plates(clip, args) -> str:
    from ..data.background import add_background_stage

    done = clip.stage_done("background") and not args.force
    add_background_stage(clip, force=args.force, progress=not args.no_progress)
    st = clip.stage("background")
    return (
        f"background: {'done' if done else 'computed'} ({st['seen_fraction']:.0%} of the plate seen behind the "
        f"person, the rest inpainted; {st['frames_from_plate']} frames filled from it, "
        f"{st['frames_inpainted']} inpainted on their own)"
    )


def run(args: argparse.Namespace) -> int:
    from ..data.clipstore import ClipStore

    picked = [s for s in ("parsing", "densepose", "plates") if getattr(args, s)]
    if args.from_dir is not None and picked and not args.parsing:
        raise InputError(
            "--from makes the layout, but only " + " and ".join(f"--{s}" for s in picked) + " were asked for",
            args.from_dir,
            "add --parsing, or drop the stage flags to run all three",
        )
    if args.from_dir is None and (args.label_set != "auto" or args.parsed_on != "auto"):
        raise InputError(
            "--label-set and --parsed-on describe imported PNGs",
            fix="pass --from DIR with them, or drop them",
        )
    clip = ClipStore.open(args.clip)
    stages = picked or ["parsing", "densepose", "plates"]
    work = {"parsing": _layout, "densepose": _densepose, "plates": _plates}
    for s in stages:
        print(work[s](clip, args))
    return 0
