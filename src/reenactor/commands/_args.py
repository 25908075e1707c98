"""The CLI's shared vocabulary: argparse types that check a value when it is parsed, and one helper per option
every command spells the same way.

A bad value is refused by argparse itself, before any work, with exit code 2 and one line naming the flag and
the allowed range, e.g. ``reenactor train: error: argument --size: must be an integer >= 16, got 0``.

The shared options (every command that has the thing uses these names):

============================  ====================================================================================
``-o/--output``               what the command writes (evaluate's old ``--out`` is a hidden alias)
``--no-progress``             no progress bars (``-q/--quiet`` are aliases)
``--device``                  default ``auto``: cuda when available, else cpu (:func:`reenactor.devices.resolve_device`)
``--precision``               ``fp32``, ``bf16``, ``fp16``; a method that does not declare one refuses it
``--min-confidence``          a keypoint / detection confidence threshold in [0, 1] (old ``--thresh`` hidden)
``--normalization``           ``auto``, ``edn``, ``edn_upper``, ``first_frame``, ``global_alignment``, ``none``
``--force``                   replace an existing output (without it, nothing is ever overwritten)
============================  ====================================================================================
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable

PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")
NORMALIZATIONS: tuple[str, ...] = ("auto", "edn", "edn_upper", "first_frame", "global_alignment", "none")
PRECISION_NOTE = "methods that do not declare a precision refuse it with a message; fp16 is for GPUs"
_DEVICE = re.compile(r"^(auto|cpu|mps|(cuda|xpu)(:\d+)?)$")


# ------------------------------------------------------------------------------------------ checked types
def _bounds(lo: float | None, hi: float | None, lo_open: bool = False) -> str:
    if lo is not None and hi is not None:
        return f"in [{lo:g}, {hi:g}]" if not lo_open else f"in ({lo:g}, {hi:g}]"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"<= {hi:g}"
    return "a number"


def int_range(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``[lo, hi]`` (either end open when None)."""
    want = (
        f"must be an integer {_bounds(lo, hi)}"
        if (lo is not None or hi is not None)
        else "must be an integer"
    )

    def parse(text: str) -> int:
        try:
            v = int(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{want}, got {text!r}") from None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"{want}, got {v}")
        return v

    parse.__name__ = "int"
    return parse


def float_range(
    lo: float | None = None, hi: float | None = None, lo_open: bool = False
) -> Callable[[str], float]:
    """An argparse ``type``: a finite number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""
    want = f"must be a number {_bounds(lo, hi, lo_open)}"

    def parse(text: str) -> float:
        try:
            v = float(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{want}, got {text!r}") from None
        if (
            not math.isfinite(v)
            or (lo is not None and (v <= lo if lo_open else v < lo))
            or (hi is not None and v > hi)
        ):
            raise argparse.ArgumentTypeError(f"{want}, got {text}")
        return v

    parse.__name__ = "float"
    return parse


#: frame sizes in pixels (the smallest the extraction and the networks handle)
frame_size = int_range(16)
#: counts of at least one (steps, frames, repeats, batch sizes, threads)
positive_int = int_range(1)
#: counts that may be zero (0 usually meaning "off" or "automatic", as each help says)
nonneg_int = int_range(0)
#: seconds of wall clock, learning rates: strictly positive
positive_float = float_range(0.0, lo_open=True)
#: confidences and probabilities
unit_float = float_range(0.0, 1.0)


class _Default(str):
    """A default value that remembers it was not given (``given(args.device)`` is False for it)."""


def default(value: str) -> str:
    """``value`` marked as the default: :func:`given` tells it apart from the same text typed by the user."""
    return _Default(value)


def given(value: object) -> bool:
    """Whether an option's value came from the command line rather than its :func:`default`."""
    return value is not None and not isinstance(value, _Default)


def device_spec(text: str) -> str:
    """An argparse ``type`` for ``--device``: auto, cpu, cuda, cuda:N (also mps, xpu[:N]). Returns the text as
    given (the same object, so a :func:`default` stays recognisable); :func:`reenactor.devices.resolve_device`
    turns ``auto`` into a device when the command runs."""
    if not _DEVICE.match(str(text).strip()):
        raise argparse.ArgumentTypeError(f"must be auto, cpu, cuda or cuda:N, got {text!r}")
    return text


def resolved_device(text: str) -> str:
    """Like :func:`device_spec`, resolving ``auto`` when parsed (for a command whose run step passes the value
    to the library as it is)."""
    from ..devices import resolve_device
    from ..errors import ReenactorError

    try:
        return resolve_device(device_spec(text))
    except ReenactorError as e:  # e.g. cuda on a machine without it: argparse's one line, exit 2
        raise argparse.ArgumentTypeError(str(e).replace("\n  fix: ", "; ")) from None


# ------------------------------------------------------------------------------------------ shared options
def add_output(
    p: argparse.ArgumentParser,
    help: str,
    metavar: str | None = None,
    required: bool = False,
    default: str | None = None,
    hidden_aliases: tuple[str, ...] = (),
) -> None:
    """``-o/--output``; ``hidden_aliases`` (old spellings such as ``--out``) still work but are not shown. A
    required output with hidden aliases is checked after parsing (:func:`check_required`), with argparse's own
    message."""
    p.add_argument(
        "-o",
        "--output",
        metavar=metavar,
        required=required and not hidden_aliases,
        default=default,
        help=help,
    )
    if hidden_aliases:
        p.add_argument(
            *hidden_aliases, dest="output", metavar=metavar, default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
        if required:

            def check(args: argparse.Namespace) -> None:
                if getattr(args, "output", None) is None:
                    p.error("the following arguments are required: -o/--output")

            p.set_defaults(check_args=check)


def check_required(args: argparse.Namespace) -> None:
    """Run the post-parse checks a command's parser registered (``check_args``); argparse-style exit 2."""
    check = getattr(args, "check_args", None)
    if check is not None:
        check(args)


def add_progress(p: argparse.ArgumentParser, help: str = "no progress bars") -> None:
    """``--no-progress`` (``-q`` and ``--quiet`` are the same option); sets ``args.no_progress``."""
    p.add_argument("--no-progress", "-q", "--quiet", dest="no_progress", action="store_true", help=help)


def add_device(
    p: argparse.ArgumentParser, what: str = "torch device", resolve_when_parsed: bool = False, note: str = ""
) -> None:
    """``--device`` with default ``auto`` (cuda when available, else cpu); ``note`` ends the help."""
    p.add_argument(
        "--device",
        default=default("auto"),
        metavar="DEVICE",
        type=resolved_device if resolve_when_parsed else device_spec,
        help=f"{what}: auto (cuda when available, else cpu), cpu, cuda or cuda:N (default: auto{note})",
    )


PRECISION_TRAINING_NOTE = "training autocast applies to every method; fp16 is for GPUs (slow on a CPU)"


def add_precision(
    p: argparse.ArgumentParser,
    what: str,
    default: str | None = "fp32",
    default_text: str | None = None,
    note: str = PRECISION_NOTE,
) -> None:
    """``--precision`` with the shared choices (``default_text`` describes a ``None`` default). ``note``: at
    inference, :data:`PRECISION_NOTE`; for training, :data:`PRECISION_TRAINING_NOTE`."""
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=default,
        help=f"{what}; {note} (default: {default_text or default})",
    )


def add_min_confidence(
    p: argparse.ArgumentParser, help: str, default: float, hidden_aliases: tuple[str, ...] = ()
) -> None:
    """``--min-confidence`` in [0, 1]; ``hidden_aliases`` (``--thresh``, ...) still work but are not shown."""
    p.add_argument(
        "--min-confidence",
        dest="min_confidence",
        type=unit_float,
        default=default,
        metavar="C",
        help=f"{help} (0 to 1; default: {default:g})",
    )
    if hidden_aliases:
        p.add_argument(
            *hidden_aliases,
            dest="min_confidence",
            type=unit_float,
            default=argparse.SUPPRESS,
            help=argparse.SUPPRESS,
        )


def add_normalization(p: argparse.ArgumentParser, help: str, default: str = "auto") -> None:
    """``--normalization`` with the shared choices."""
    p.add_argument("--normalization", choices=NORMALIZATIONS, default=default, help=help)


def add_force(p: argparse.ArgumentParser, help: str = "replace an existing output") -> None:
    p.add_argument("--force", action="store_true", help=help)


__all__ = [
    "PRECISIONS",
    "NORMALIZATIONS",
    "PRECISION_NOTE",
    "PRECISION_TRAINING_NOTE",
    "int_range",
    "float_range",
    "frame_size",
    "positive_int",
    "nonneg_int",
    "positive_float",
    "unit_float",
    "default",
    "given",
    "device_spec",
    "resolved_device",
    "add_output",
    "check_required",
    "add_progress",
    "add_device",
    "add_precision",
    "add_min_confidence",
    "add_normalization",
    "add_force",
]
