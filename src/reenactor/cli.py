"""The ``reenactor`` command line. Thin: parses, calls the library, prints.

The library reports through :mod:`logging` (a logger per module, under ``reenactor``); while a command runs, the
CLI shows INFO and above on stdout as plain lines (:func:`report_on_terminal`).

Each sub-command lives in ``reenactor/commands/<name>.py`` with ``add_parser(subparsers)`` (which sets
``func``) and imports its heavy dependencies inside the function it runs, so ``reenactor --help`` is fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import logging
import os
import sys
from collections.abc import Iterator

from . import __version__
from .commands._args import check_required
from .errors import ReenactorError

# Order is the order shown in --help.
COMMANDS: list[str] = [
    "samples",
    "extract",
    "layout",
    "people",
    "render",
    "coverage",
    "train",
    "transfer",
    "poses",
    "evaluate",
    "benchmark",
    "demo",
    "app",
    "info",
]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser. With ``command`` (the one being run), only that command's parser is built in detail:
    a command whose options come from the methods' declarations (``transfer``) imports the methods (~1.7 s)
    only when it is the one being run or asked for help."""
    parser = argparse.ArgumentParser(
        prog="reenactor",
        description="Pose-guided human video synthesis: make a target person perform a driving video's motion.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `reenactor COMMAND --help` for each command's options.",
    )
    parser.add_argument("--version", action="version", version=f"reenactor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        mod = importlib.import_module(f"reenactor.commands.{name}")
        if "detailed" in inspect.signature(mod.add_parser).parameters:
            mod.add_parser(sub, detailed=command is None or command == name)
        else:
            mod.add_parser(sub)
    return parser


class _Stdout(logging.StreamHandler):
    """Plain ``%(message)s`` lines on whatever ``sys.stdout`` is when a record comes (a redirect, a test's capture)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)
        self.setFormatter(logging.Formatter("%(message)s"))

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass


@contextlib.contextmanager
def report_on_terminal(level: int = logging.INFO) -> Iterator[None]:
    """Show the ``reenactor`` loggers' records of ``level`` and above on stdout (where the library printed them
    before it logged), and only there; the loggers are restored afterwards."""
    logger = logging.getLogger("reenactor")
    handler = _Stdout()
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def take_ctrl_c() -> None:
    """Make SIGINT raise KeyboardInterrupt in this process whatever it inherited. A command started in the
    background by a non-interactive shell (``cmd &`` in a script, CI) inherits SIGINT *ignored*, and Python then
    installs no handler: Ctrl-C, ``kill -INT`` and the web app's cancel would be lost, where extract and train
    must stop cleanly and keep their finished work. Only from the main thread (a library caller's thread is left
    alone)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    given = sys.argv[1:] if argv is None else argv
    take_ctrl_c()
    command = next((a for a in given if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else "")
    args = parser.parse_args(argv)
    check_required(args)
    try:
        with report_on_terminal():
            rc = args.func(args)
    except ReenactorError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except (FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError) as e:
        # the commands check their output paths up front; this is the net under a path that changed meanwhile
        where = e.filename or ""
        print(
            f"error: {where}{': ' if where else ''}{e.strerror or e}\n  fix: check that path (a file where a "
            "folder is wanted, or the reverse, or no permission); for an output, choose another -o path",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        if getattr(args, "resumable", False):  # extract and train keep their finished work
            import shlex

            again = "reenactor " + " ".join(shlex.quote(a) for a in given)
            print(
                f"interrupted; re-run the same command to continue where it stopped:\n  {again}",
                file=sys.stderr,
            )
        else:
            print(
                "interrupted; its output was not written (nothing half-written is left); re-run the command to "
                "start again",
                file=sys.stderr,
            )
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
