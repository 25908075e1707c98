"""What the benchmarks share: a method's training dataset built as ``reenactor train`` builds it, for every kind
of method, from one data path (a clip store, or a folder of action folders for pose-sequence methods).

Imported by child processes that run older code too (``PYTHONPATH=OLD/src``), so it uses only entry points
older reenactor versions have (``Method.build_dataset``, ``open_clips``, ``open_actions``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def build_dataset(method: Any, data: str | Path, run: Any) -> Any:
    """``method``'s dataset on ``data``: per-person methods train on the clip (cloning with its own clip as the
    unpaired branch), reference methods on frame pairs of it (the clip stages they declare must exist:
    :func:`make_stages`), pose-sequence methods on the action folders; ``run`` is the run config (pairing)."""
    from reenactor.methods.base import PER_PERSON, POSE_SEQUENCE

    cls = type(method)
    if cls.kind == PER_PERSON:
        from reenactor.data.clipstore import ClipStore

        store = ClipStore.open(data)
        return method.build_dataset([store], [store] if cls.name == "cloning" else None)
    if cls.kind == POSE_SEQUENCE:
        from reenactor.data.actions import open_actions

        return method.build_dataset(open_actions([data], log=lambda *_: None))
    from reenactor.data.clips import open_clips
    from reenactor.data.pairs import PairOptions

    opts = PairOptions(run.data.pair_max_distance, run.data.pair_across_clips)
    return method.build_dataset(open_clips([data], log=lambda *_: None), pairs=opts)


def make_stages(clip: str | Path, methods: list[str]) -> None:
    """The clip stages ``methods`` declare, made on ``clip`` once (so that no timed run makes them)."""
    from reenactor.data.clipstore import ClipStore
    from reenactor.methods import get_method
    from reenactor.train.stages import ensure_clip_stages

    stages = sorted({s for m in methods for s in get_method(m).clip_stages})
    if stages:
        ensure_clip_stages([ClipStore.open(clip)], stages, log=lambda *_: None)


def action_data(work: Path, clip: str | Path, per_action: int = 32) -> Path:
    """Procedural action data drawn from ``clip``'s rest poses (``per_action`` sequences per action), written once
    under ``work``."""
    from reenactor.data.clipstore import ClipStore
    from reenactor.synthetic.actions import rest_poses_from_clip, write_action_data

    root = work / "actions"
    if not root.exists():
        write_action_data(root, rest_poses_from_clip(ClipStore.open(clip)), per_action=per_action)
    return root
