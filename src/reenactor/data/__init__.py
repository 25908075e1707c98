"""The on-disk clip store (manifest + arrays) and the datasets over it."""

from .clipstore import ClipStore

__all__ = ["ClipStore"]
