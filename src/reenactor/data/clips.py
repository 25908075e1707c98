"""Many-clip training data: which clip stores a run trains on, and whose person each one shows.

Reference methods (``Method.kind == "reference"``) are general models trained on many people's clips
(``data.clips`` / ``reenactor train --clips``). Each entry of that list is one of:

* a **clip store** folder (made by ``reenactor extract``);
* a **folder of clip stores**: each sub-folder that is a clip store (not recursive; unfinished
  ``NAME.partial`` extractions are skipped with a note) - what ``reenactor extract VIDEOS_DIR -o CLIPS_DIR``
  writes;
* a **text file** (``.txt`` / ``.list``) with one ``PATH [IDENTITY]`` per line: ``PATH`` is a clip store
  or a folder of clip stores, relative paths are relative to the text file, blank lines and ``#`` comments
  are ignored, a path with spaces is quoted (``"my clips/ann" ann``). An ``IDENTITY`` on a folder line
  applies to every clip in it.

Each clip has an **identity**, the person it shows: by default the clip folder's name, so two clips of one
person need a text file that names their common identity. Methods pair frames only within an identity
(:class:`reenactor.data.pairs.FramePairs`). A clip named twice (by two entries) is kept once, with a note;
named twice with two different identities it is an error.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .clipstore import ClipStore

#: suffixes of the text files that list clips
LIST_SUFFIXES = (".txt", ".list")

_EXTRACT_HINT = "make clip stores with `reenactor extract VIDEO_OR_FOLDER -o CLIPS_DIR`"


@dataclass
class TrainingClip:
    """One clip of a many-clip run: the open store, the identity (person) it shows and the path it was
    named by (as given, relative paths of a text file joined to the file's folder)."""

    store: ClipStore
    identity: str
    path: Path


def _clips_in_folder(folder: Path, log: Callable[[str], None]) -> list[Path]:
    """The clip stores directly inside ``folder``, sorted by name (unfinished extractions skipped)."""
    found, partial = [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if sub.name.endswith(".partial") or ".old-" in sub.name:
            partial.append(sub.name)
        elif ClipStore.is_clip(sub):
            found.append(sub)
    if partial:
        log(
            f"note: {folder}: skipping {len(partial)} unfinished extraction(s) ({', '.join(partial[:3])}"
            f"{', ...' if len(partial) > 3 else ''}); re-run `reenactor extract` to finish them"
        )
    return found


def _read_list(path: Path) -> list[tuple[Path, str | None, int]]:
    """``(path, identity or None, line number)`` per entry line of a clip list file."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(
            f"cannot read the clip list ({e.__class__.__name__})",
            path,
            "pass a UTF-8 text file with one `CLIP_PATH [IDENTITY]` per line",
        ) from None
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as e:  # an unclosed quote
            raise InputError(
                f"line {n} cannot be parsed ({e})",
                path,
                "write `CLIP_PATH [IDENTITY]`, quoting a path that has spaces",
            ) from None
        if not words:
            continue
        if len(words) > 2:
            raise InputError(
                f"line {n} has {len(words)} words, expected `CLIP_PATH [IDENTITY]`",
                path,
                'quote a path that has spaces: "my clips/ann" ann',
            )
        p = Path(words[0]).expanduser()
        out.append((p if p.is_absolute() else path.parent / p, words[1] if len(words) == 2 else None, n))
    return out


def _expand(
    path: Path, identity: str | None, log: Callable[[str], None], listed: tuple[Path, int] | None = None
) -> list[tuple[Path, str]]:
    """One entry (clip, folder of clips or clip list) -> ``(clip path, identity)`` pairs. ``listed``: the
    clip list file and line that named ``path`` (None for a top-level entry)."""
    if not path.exists():
        if listed is not None:
            raise InputError(
                f"line {listed[1]} names a clip that does not exist: {path}",
                listed[0],
                f"correct or remove that line, or {_EXTRACT_HINT}",
            )
        raise InputError(
            "not found",
            path,
            "pass a clip store, a folder of clip stores or a .txt list of them; " + _EXTRACT_HINT,
        )
    if path.is_file():
        if listed is not None:
            raise InputError(
                f"line {listed[1]} names a file, not a clip store or a folder of them: {path}",
                listed[0],
                "a clip list names clip stores or folders of them, not other files",
            )
        if path.suffix.lower() not in LIST_SUFFIXES:
            raise InputError(
                "is a file that is not a clip list",
                path,
                f"pass clip stores, folders of them, or a {'/'.join(LIST_SUFFIXES)} file of "
                f"`CLIP_PATH [IDENTITY]` lines; for videos, {_EXTRACT_HINT}",
            )
        out = []
        for p, ident, line in _read_list(path):
            out += _expand(p, ident, log, listed=(path, line))
        if not out:
            raise InputError("the clip list names no clips", path, "add one `CLIP_PATH [IDENTITY]` per line")
        return out
    if ClipStore.is_clip(path):
        return [(path, identity or path.name)]
    clips = _clips_in_folder(path, log)
    if not clips:
        where = f" (line {listed[1]} of {listed[0]})" if listed is not None else ""
        raise InputError(
            f"folder holds no clip stores (no sub-folder with a manifest.json){where}",
            path,
            f"pass clip stores or a folder of them; {_EXTRACT_HINT}",
        )
    return [(c, identity or c.name) for c in clips]


def resolve_clips(entries: list[str | Path], log: Callable[[str], None] = print) -> list[tuple[Path, str]]:
    """``data.clips`` entries (clip stores, folders of clip stores, clip list files; see the module
    docstring) -> ``[(clip path, identity), ...]`` in the order named, each clip once.

    Raises :class:`InputError` (naming the path and the fix) for a missing path, a folder with no clip
    stores, a list naming a missing clip, or one clip named with two identities. Duplicates (the same clip
    folder named twice, also through a symlink) are dropped with a note through ``log``."""
    seen: dict[Path, tuple[str, Path]] = {}
    out: list[tuple[Path, str]] = []
    dropped = 0
    for entry in entries:
        path = Path(entry).expanduser()
        for clip, ident in _expand(path, None, log):
            key = clip.resolve()
            if key in seen:
                if seen[key][0] != ident:
                    raise InputError(
                        f"clip named twice with two identities ({seen[key][0]!r} and {ident!r})",
                        clip,
                        "give each clip one identity in the clip lists",
                    )
                dropped += 1
                continue
            seen[key] = (ident, clip)
            out.append((clip, ident))
    if dropped:
        log(f"note: {dropped} clip(s) were named more than once; each is used once")
    return out


def open_clips(entries: list[str | Path], log: Callable[[str], None] = print) -> list[TrainingClip]:
    """:func:`resolve_clips` and open every store (``ClipStore.open``'s errors for a broken one)."""
    return [TrainingClip(ClipStore.open(p), ident, p) for p, ident in resolve_clips(entries, log)]


def describe(clips: list[TrainingClip]) -> str:
    """One line for the log, e.g. ``12 clips of 5 identities, 3400 frames``."""
    ids = {c.identity for c in clips}
    frames = sum(c.store.n_frames for c in clips)
    return (
        f"{len(clips)} clip{'s' * (len(clips) != 1)} of {len(ids)} identit{'ies' if len(ids) != 1 else 'y'}, "
        f"{frames} frames"
    )


__all__ = ["LIST_SUFFIXES", "TrainingClip", "describe", "open_clips", "resolve_clips"]
