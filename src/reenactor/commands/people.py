"""``reenactor people VIDEO -o DIR``: the people of a video, tracked over time, each with a contact sheet, so a
user can pick one by number (``--person N`` of ``extract`` and ``transfer``). Also the shared ``--person``
option."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Find the people of a video (MediaPipe's person detector, offline, about three times a second) and follow
each one over time. Lists the tracks (id, frames present, first and last frame, mean size and position) and
writes into DIR a contact sheet per track (track_N.png: crops of that person spread over the video),
overview.png (the frame where most of them are visible, each box labelled with its id) and tracks.json. Pick
one with `reenactor extract VIDEO --person N` (or `reenactor transfer --driving VIDEO --person N`).

A track that never moves and whose content never changes (a poster, a coat on the grass taken for a person) is
listed as static and never chosen by auto, largest, centre, left or right; its id still works.

examples:
  reenactor people street.mp4 -o people/
  reenactor extract street.mp4 --person 3 -o clips/walker"""

PERSON_HELP = (
    "whom to follow when the video shows several people: auto (default) runs on the whole frame as before "
    "when there is one person, and follows the largest, most present one when there are several (saying "
    "so); largest: the tallest on average; centre: nearest the frame's centre on average; left / right: "
    "leftmost / rightmost on average (these compare the people present at least a quarter as long as the "
    "longest-present one); N: track N as listed by `reenactor people VIDEO -o DIR`. Other than with one "
    "person under auto, the pose runs on a crop around that person in every frame, and a pose found on "
    "someone else is dropped"
)


def person_arg(text: str) -> str:
    """argparse ``type`` of ``--person``: auto, largest, centre (center), left, right, or a track id N >= 1."""
    from ..pose.people import parse_person

    try:
        return parse_person(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_person(p: argparse.ArgumentParser, what: str = "") -> None:
    """``--person auto|largest|centre|left|right|N`` (``what`` is appended to the help)."""
    p.add_argument(
        "--person",
        type=person_arg,
        default="auto",
        metavar="WHO",
        help=PERSON_HELP + (f"; {what}" if what else "") + " (default: auto)",
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ._args import add_force, add_output, add_progress, int_range

    p = sub.add_parser(
        "people",
        help="list the people of a video (tracks with contact sheets) to pick one with --person N",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("video", metavar="VIDEO", help="video file (mp4, mov, avi, ...), image, or sample:NAME")
    add_output(
        p,
        required=True,
        metavar="DIR",
        help="folder to write tracks.json, overview.png and track_N.png into (made if needed)",
    )
    p.add_argument(
        "--per-track",
        type=int_range(1, 20),
        default=6,
        metavar="K",
        help="crops per contact sheet, 1 to 20 (default: 6)",
    )
    add_force(p, help="replace the results of an earlier run in DIR")
    add_progress(p, help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import NoPersonError
    from ..io.atomic import write_json
    from ..pose.people import choose_track, contact_sheets, find_people
    from ..samples import resolve_input
    from ._output import check_output_dir

    out = check_output_dir(args.output, args.force, what="people folder", results=("tracks.json",))
    src = resolve_input(args.video)
    people = find_people(src, progress=not args.no_progress)
    if not people.tracks:
        raise NoPersonError(
            f"no person found in any of its {people.n_frames} frame(s) by the people detector",
            src,
            "it needs a visible head; use footage where the people show their head and body",
        )
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("track_*.png"):  # from an earlier run (--force): ids may differ
        old.unlink()
    sheets = contact_sheets(src, people, out, per_track=args.per_track)
    auto, reason = choose_track(people, "auto", src)
    rows = []
    for t in people.tracks:
        s = people.summary(t)
        s["contact_sheet"] = sheets[t.id].name if t.id in sheets else None
        rows.append(s)
    write_json(
        out / "tracks.json",
        {
            "video": str(src),
            "n_frames": people.n_frames,
            "fps": people.fps,
            "size": [people.height, people.width],
            "keyframe_every": people.stride,
            "seconds": round(people.seconds, 2),
            "auto": auto.id if auto is not None else None,
            "auto_reason": reason,
            "tracks": rows,
            "detections": people.to_json()["tracks"],
        },
    )
    print(f"{src.name}: {people.n_frames} frames, {len(people.tracks)} track(s) ({people.seconds:.1f} s)")
    print(
        f"{'track':>5}  {'frames':>6}  {'first-last':<11}  {'coverage':>8}  {'mean size':>9}  {'mean centre':>12}"
    )
    for s in rows:
        size = f"{s['mean_width']:.0f}x{s['mean_height']:.0f}"
        cx, cy = s["mean_centre"]
        note = "  static: probably not a person" if s["static"] else ""
        span = f"{s['first_frame']}-{s['last_frame']}"
        print(
            f"{s['id']:>5}  {s['frames_present']:>6}  {span:<11}  "
            f"{s['coverage']:>8.0%}  {size:>9}  {f'({cx:.0f}, {cy:.0f})':>12}{note}"
        )
    print(f"auto: {reason}")
    print(
        f"wrote {out / 'tracks.json'}, {out / 'overview.png'} and {len(sheets)} contact sheet(s) track_N.png"
    )
    print(f"follow one: reenactor extract {args.video} --person N -o CLIP_DIR")
    return 0
