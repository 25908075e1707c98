"""Output-path checks shared by the commands: made before any work, one message naming the path and the fix.

Every command that writes checks its ``-o`` path first: a file where a folder is wanted (or the reverse), a
folder that cannot be made (an existing file on its way, a read-only folder), a file format reenactor does
not write, and an earlier output that only ``--force`` replaces. Each is one :class:`InputError` (``error:
PATH: message`` + ``fix:``, exit 2) and nothing is created.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import InputError


def check_parent(path: str | Path, what: str = "output") -> None:
    """The folder ``path`` goes into must exist or be makeable: its nearest existing ancestor is a folder this
    process can write into."""
    p = Path(path)
    anc = p.absolute().parent
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise InputError(
            f"the {what}'s folder cannot be made: {anc} is a file, not a folder", p, "choose another -o path"
        )
    if not os.access(anc, os.W_OK | os.X_OK):
        raise InputError(
            f"the {what} cannot be written: the folder {anc} is not writable",
            p,
            "choose another -o path, in a folder you can write to",
        )


def check_output_file(
    path: str | Path, suffixes: tuple[str, ...], force: bool = False, what: str = "output"
) -> Path:
    """``path`` must be a file name ending in one of ``suffixes`` whose folder exists (or can be made) and that
    does not exist yet unless ``force``."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{what} is a folder", p, f"pass a file name ending in {' or '.join(suffixes)}")
    if not str(p).lower().endswith(tuple(s.lower() for s in suffixes)):
        raise InputError(
            f"reenactor writes {' or '.join(suffixes)} here, not {p.suffix or 'a file without suffix'}",
            p,
            f"name the {what} e.g. {p.stem or 'out'}{suffixes[0]}",
        )
    check_parent(p, what)
    if p.exists() and not force:
        raise InputError(f"{what} exists", p, "pass --force to replace it, or choose another -o")
    return p


#: suffixes of files reenactor reads or writes: a new output *folder* named like this is a slip for a file name
FILE_SUFFIXES = frozenset(
    {
        ".mp4",
        ".avi",
        ".mov",
        ".mkv",
        ".webm",
        ".m4v",
        ".gif",
        ".png",
        ".jpg",
        ".jpeg",
        ".bmp",
        ".webp",
        ".json",
        ".csv",
        ".html",
        ".npz",
        ".npy",
        ".txt",
        ".yaml",
        ".yml",
        ".safetensors",
        ".pt",
        ".pth",
    }
)


def check_output_dir(
    path: str | Path,
    force: bool = False,
    what: str = "output folder",
    own: Callable[[Path], bool] | None = None,
    results: Iterable[str] | None = None,
    nonempty_ok: bool = False,
) -> Path:
    """``path`` must be a folder (new, or existing) whose parent exists or can be made; never a file, with or
    without ``force``; a new one not named like a file (``out.mp4``). An existing folder:

    * ``own(path)`` true (the command's own earlier work it continues or reuses: a clip store, a run folder):
      accepted as it is; what happens then is the command's business;
    * with ``results`` (file names the command writes): refused when any of them is there, unless ``force``;
    * else, unless ``nonempty_ok``: refused when it holds anything, unless ``force`` (which writes into it,
      replacing only files of the same names).
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(
            f"{what} is a file, not a folder",
            p,
            "choose another -o folder (reenactor never replaces a file with a folder)",
        )
    if not p.exists() and p.suffix.lower() in FILE_SUFFIXES:
        raise InputError(
            f"the {what} would be named like a {p.suffix} file: this command writes a folder",
            p,
            f"name a folder, e.g. -o {p.with_suffix('')}",
        )
    check_parent(p, what)
    if not p.is_dir() or (own is not None and own(p)):
        return p
    if results is not None:
        there = [n for n in results if (p / n).exists()]
        if there and not force:
            raise InputError(
                f"{what} already holds the results of an earlier run ({', '.join(there)})",
                p,
                "pass --force to replace them, or choose another -o folder",
            )
    elif not nonempty_ok and not force and any(p.iterdir()):
        raise InputError(
            f"{what} exists and is not empty",
            p,
            "pass --force to write into it (files of the same names are replaced), or choose a new or "
            "empty -o folder",
        )
    if not os.access(p, os.W_OK | os.X_OK):
        raise InputError(f"{what} is not writable", p, "choose another -o folder, one you can write to")
    return p


__all__ = ["FILE_SUFFIXES", "check_parent", "check_output_file", "check_output_dir"]
