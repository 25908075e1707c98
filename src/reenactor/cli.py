"""The ``reenactor`` command line. Thin: parses, calls the library, prints.

Each sub-command lives in ``reenactor/commands/<name>.py`` with ``add_parser(subparsers)`` (which sets
``func``) and imports its heavy dependencies inside the function it runs, so ``reenactor --help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__
from .errors import ReenactorError

# Order is the order shown in --help.
COMMANDS: list[str] = [
    "samples",
    "transfer",
    "benchmark",
    "coverage",
    "extract",
    "train",
    "render",
    "demo",
    "evaluate",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reenactor",
        description="Pose-guided human video synthesis: make a target person perform a driving video's motion.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `reenactor COMMAND --help` for each command's options.",
    )
    parser.add_argument("--version", action="version", version=f"reenactor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"reenactor.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except ReenactorError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted; re-run the same command to resume where it stopped", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
