"""What a piece of training code would make the host wait for on a GPU, recorded on the CPU: the operators that
read a device value back (``.item()``, ``int(t)``) or whose result's shape depends on the data (``nonzero``,
boolean-mask indexing, ``masked_select``, ``unique``), each with the reenactor lines that called it."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from reenactor.pose import render_torch

READS = {
    "aten.nonzero.default",
    "aten._local_scalar_dense.default",
    "aten.masked_select.default",
    "aten._unique2.default",
    "aten.unique_dim.default",
    "aten.unique_consecutive.default",
}


class _Recorder(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func)
        masked = name.startswith("aten.index.Tensor") and any(
            isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in args[1] if i is not None
        )
        if name in READS or masked:
            where = [f"{f.filename.split('/src/')[-1]}:{f.lineno}" for f in traceback.extract_stack()]
            self.reads.append(f"{name} at {' <- '.join([w for w in where if 'reenactor/' in w][::-1][:3])}")
        return func(*args, **(kwargs or {}))


def device_reads(fn: Callable[[], object], monkeypatch) -> list[str]:
    """The host waits ``fn()`` would cause on a GPU, run on the CPU with the stick-figure renderer in its GPU
    mode (static pixel-list lengths)."""
    monkeypatch.setattr(render_torch, "exact_on", lambda device: False)
    rec = _Recorder()
    with rec:
        fn()
    return rec.reads


def step_reads(
    method: Any, items: dict, monkeypatch, prepare: Callable[[dict], dict] | None = None
) -> list[str]:
    """:func:`device_reads` of one training step of ``method`` on collated ``items``: its ``prepare_batch`` (or
    ``prepare``), the generator step and its backward, the discriminator step and its backward."""

    def step() -> None:
        b = (prepare or method.prepare_batch)(items)
        out = method.generator_step(b, 0)
        sum(out.losses.values()).backward()
        sum(method.discriminator_step(b, 0, out.cache).values()).backward()

    return device_reads(step, monkeypatch)
