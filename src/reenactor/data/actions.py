"""Action data: labelled pose sequences for pose-sequence methods (``Method.kind == "pose-sequence"``).

``reenactor train --method psgan --clips ACTIONS_DIR`` reads, for every entry of ``data.clips``, a folder
with **one sub-folder per action name**, holding that action's samples as

* pose-sequence files (``*.poses.npz``, :mod:`reenactor.pose.posefile`), and/or
* clip stores (made by ``reenactor extract``; for your own videos, e.g. UCF101 / Weizmann style folders of
  videos per action: ``reenactor extract VIDEOS/wave -o ACTIONS/wave`` per action).

The label set is the sorted union of the action-folder names. An ``ACTIONS.json`` with ``"procedural":
true`` at the top marks procedural data (:mod:`reenactor.synthetic.actions`); it is reported as such.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..pose.posefile import KEYPOINTS, SUFFIX, load_poses
from .clipstore import ClipStore


@dataclass
class ActionSample:
    """One labelled sequence: ``keypoints`` {"body": (T, 25, 3), "face": (T, 68, 3) optional} in pixels of
    ``size`` (H, W); ``path`` the file or clip it came from."""

    action: str
    keypoints: dict[str, np.ndarray]
    size: tuple[int, int]
    fps: float
    path: Path


@dataclass
class ActionData:
    """Every sample and the label set (sorted action names); ``procedural``: the roots marked procedural."""

    actions: list[str]
    samples: list[ActionSample]
    procedural: list[str] = field(default_factory=list)
    #: camera zoom the data was framed with (``ACTIONS.json`` ``zoom``; 1 = as filmed): a generator zooms its
    #: input pose the same way so that it sees what it was trained on
    zoom: float = 1.0

    def describe(self) -> str:
        counts = {a: sum(s.action == a for s in self.samples) for a in self.actions}
        tag = f" (procedural data: {', '.join(self.procedural)})" if self.procedural else ""
        return (
            f"{len(self.samples)} sequences of {len(self.actions)} actions "
            + ", ".join(f"{a}: {n}" for a, n in counts.items())
            + tag
        )


def _samples_in(folder: Path, action: str) -> list[ActionSample]:
    out = []
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.name.endswith(SUFFIX):
            seq = load_poses(p)
            kp = {k: np.asarray(v, np.float32) for k, v in seq.keypoints().items() if k in ("body", "face")}
            out.append(ActionSample(action, kp, seq.size, seq.fps, p))
        elif p.is_dir() and ClipStore.is_clip(p):
            store = ClipStore.open(p)
            kp = {k: np.asarray(store.load(k), np.float32) for k in ("body", "face") if store.has(k)}
            out.append(ActionSample(action, kp, tuple(store.size), float(store.fps), p))
    return out


def open_actions(entries: list[str | Path], log: Callable[[str], None] = print) -> ActionData:
    """Read action data from folders of action folders (see the module docstring); one :class:`InputError`
    naming the folder for a missing folder, an empty action folder or no actions at all."""
    per: dict[str, list[ActionSample]] = {}
    procedural: list[str] = []
    zooms: list[float] = []
    for e in entries:
        root = Path(e)
        if not root.is_dir():
            raise InputError(
                "action data folder not found",
                root,
                "pass a folder with one sub-folder per action name holding .poses.npz files or clip stores",
            )
        marker = root / "ACTIONS.json"
        if marker.exists():
            try:
                info = json.loads(marker.read_text())
            except (OSError, json.JSONDecodeError):
                info = {}
            if info.get("procedural"):
                procedural.append(str(root))
            zooms.append(float(info.get("zoom", 1.0)))
        else:
            zooms.append(1.0)
        for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if ClipStore.is_clip(sub):
                raise InputError(
                    f"{sub.name} is a clip store, not an action folder",
                    root,
                    "put clips in a folder per action name: ACTIONS_DIR/ACTION/CLIP",
                )
            found = _samples_in(sub, sub.name)
            if not found:
                log(f"note: {sub}: no .poses.npz files or clip stores; action {sub.name!r} skipped")
                continue
            per.setdefault(sub.name, []).extend(found)
    if not per:
        raise InputError(
            "no action data found",
            ", ".join(map(str, entries)),
            "pass folder(s) with one sub-folder per action name (e.g. wave/, clap/) holding .poses.npz "
            "files or clip stores; `reenactor.synthetic.actions.write_action_data` writes procedural ones",
        )
    actions = sorted(per)
    if len(set(zooms)) > 1:
        log(
            f"note: the action folders were framed with different zooms ({sorted(set(zooms))}); using {zooms[0]:g}"
        )
    return ActionData(actions, [s for a in actions for s in per[a]], procedural, zooms[0])


__all__ = ["ActionSample", "ActionData", "open_actions", "KEYPOINTS"]
