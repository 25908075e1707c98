"""User-facing errors: one clear message naming the file and the fix; the CLI prints it and exits non-zero."""

from __future__ import annotations

from pathlib import Path


class ReenactorError(Exception):
    """An error the user can cause and fix. ``str(err)`` is the whole message shown to the user."""

    exit_code = 2

    def __init__(self, message: str, path: str | Path | None = None, fix: str | None = None):
        self.path = None if path is None else Path(path)
        self.fix = fix
        text = message if path is None else f"{path}: {message}"
        if fix:
            text += f"\n  fix: {fix}"
        super().__init__(text)


class InputError(ReenactorError):
    """A missing, empty, corrupt or unusable input file."""


class NoPersonError(InputError):
    """No person was found in any frame of the input."""


class CheckpointError(ReenactorError):
    """A checkpoint that is missing, corrupt, or from another method."""


class ConfigError(ReenactorError):
    """A config file or override that does not match the config schema."""
