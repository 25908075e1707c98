"""Output-path checks shared by the commands: made before any work, one message naming the path and the fix."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError


def check_output_file(path: str | Path, suffixes: tuple[str, ...], force: bool = False, what: str = "output") -> Path:
    """``path`` must be a file name ending in one of ``suffixes`` whose folder exists (or can be made) and that
    does not exist yet unless ``force``."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{what} is a folder", p, f"pass a file name ending in {' or '.join(suffixes)}")
    if not str(p).lower().endswith(tuple(s.lower() for s in suffixes)):
        raise InputError(f"reenactor writes {' or '.join(suffixes)} here, not {p.suffix or 'a file without suffix'}",
                         p, f"name the {what} e.g. {p.stem or 'out'}{suffixes[0]}")
    if p.parent.exists() and not p.parent.is_dir():
        raise InputError(f"the {what}'s folder is a file", p.parent, "choose another -o path")
    if p.exists() and not force:
        raise InputError(f"{what} exists", p, "pass --force to replace it, or choose another -o")
    return p
